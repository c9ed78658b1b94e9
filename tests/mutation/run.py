#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Mutation testing of lib/: do the tests notice when the policy is wrong?

Each line of mutants.tsv names one small change to one file of lib/ (an
exact piece of text and what replaces it). For each, this script applies the
change to a scratch copy of the tree, builds it, runs the unit, fuzz-replay
and reclaimctl suites, and records whether they failed (the mutant is
killed) or passed (it survived: no test checks that behaviour). The
checkout itself is never modified; the scratch copy is restored after every
mutant.

A piece of text must occur exactly once in its file: lib/ changes, and a
mutant that no longer applies is an error to fix in the list, never one to
skip quietly. `--check` checks only that, in a second.

    python3 tests/mutation/run.py            # every mutant (about 35 min)
    python3 tests/mutation/run.py --only ID[,ID...]
    python3 tests/mutation/run.py --check    # the list still applies

Exit status: 0 when every mutant was killed, 1 when some survived, 2 when
the list does not apply, the scratch tree does not build or its tests fail
before any mutation.
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SUITES = ["unit", "fuzz", "ctl"]


class Mutant:
    def __init__(self, lineno, mid, path, original, replacement, behaviour):
        self.lineno = lineno
        self.id = mid
        self.path = path
        self.original = original
        self.replacement = replacement
        self.behaviour = behaviour


def unescape(field):
    """\\t, \\n and \\\\ in a field of the list stand for a tab, a newline
    and a backslash, so that a piece of text may span a line break."""
    out = []
    i = 0
    while i < len(field):
        c = field[i]
        if c == "\\" and i + 1 < len(field):
            nxt = field[i + 1]
            if nxt in "tn\\":
                out.append({"t": "\t", "n": "\n", "\\": "\\"}[nxt])
                i += 2
                continue
        out.append(c)
        i += 1
    return "".join(out)


def load(list_path):
    mutants, errors, seen = [], [], set()
    with open(list_path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            fields = line.split("\t")
            if len(fields) != 5:
                errors.append(f"{list_path}:{lineno}: want 5 tab-separated fields "
                              f"(id, file, original, replacement, behaviour), got {len(fields)}")
                continue
            mid, path, orig, repl, why = fields
            if mid in seen:
                errors.append(f"{list_path}:{lineno}: duplicate id {mid}")
            seen.add(mid)
            if not path.startswith("lib/"):
                errors.append(f"{list_path}:{lineno}: {mid}: {path} is not in lib/")
            orig, repl = unescape(orig), unescape(repl)
            if not orig or orig == repl:
                errors.append(f"{list_path}:{lineno}: {mid}: empty or unchanged text")
            if not why.strip():
                errors.append(f"{list_path}:{lineno}: {mid}: no behaviour named")
            mutants.append(Mutant(lineno, mid, path, orig, repl, why))
    return mutants, errors


def check_applies(mutants, root, list_path):
    errors = []
    for m in mutants:
        p = os.path.join(root, m.path)
        try:
            with open(p, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            errors.append(f"{list_path}:{m.lineno}: {m.id}: {e}")
            continue
        count = text.count(m.original)
        if count != 1:
            errors.append(f"{list_path}:{m.lineno}: {m.id}: the text occurs {count} times "
                          f"in {m.path}, not once: {m.original!r}")
    return errors


def copy_tree(root, dest):
    """The checkout as git sees it (tracked and new files, not ignored
    ones such as build directories), uncommitted edits included."""
    out = subprocess.run(["git", "-C", root, "ls-files", "-z", "--cached", "--others",
                          "--exclude-standard"], check=True, capture_output=True).stdout
    if os.path.exists(dest):
        shutil.rmtree(dest)
    for rel in out.decode().split("\0"):
        if not rel:
            continue
        src = os.path.join(root, rel)
        if not os.path.isfile(src):
            continue  # deleted in the working tree
        dst = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy2(src, dst)


def kill_strays(build):
    """Kills, by pid, the programs of the scratch build still running: meson
    starts each test in a session of its own, which stopping meson leaves
    behind, and a mutant that loops forever would go on using a core."""
    prefix = os.path.realpath(build) + os.sep
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            exe = os.readlink(f"/proc/{pid}/exe")
        except OSError:
            continue
        if exe.startswith(prefix):
            try:
                os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass


def run(cmd, timeout=None, env=None, log=None, build=None):
    """Runs @cmd in its own process group; on timeout stops the group (and
    the test programs of @build it left running). Returns (status,
    seconds); status None means it timed out."""
    start = time.monotonic()
    with open(log or os.devnull, "ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGTERM)  # meson stops its tests
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            rc = None
    if build:
        kill_strays(build)
    return rc, time.monotonic() - start


def failed_tests(build):
    """Names of the tests that did not pass in the last meson test run."""
    names = []
    try:
        with open(os.path.join(build, "meson-logs", "testlog.json"), encoding="utf-8") as f:
            for line in f:
                t = json.loads(line)
                if t.get("result") not in ("OK", "SKIP", "EXPECTEDFAIL"):
                    names.append(t.get("name", "?"))
    except (OSError, ValueError):
        pass
    return names


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--list", default=os.path.join(HERE, "mutants.tsv"))
    ap.add_argument("--work", default="/tmp/reclaim-mutation",
                    help="scratch directory: a copy of the tree and its build (replaced)")
    ap.add_argument("--only", help="comma-separated mutant ids")
    ap.add_argument("--check", action="store_true",
                    help="only check that every mutant applies exactly once")
    ap.add_argument("--timeout", type=float,
                    help="seconds the tests of one mutant may take (default: 4x the "
                         "unmutated run, at least 120)")
    args = ap.parse_args()

    mutants, errors = load(args.list)
    errors += check_applies(mutants, ROOT, args.list)
    if errors:
        print("mutation: the list does not apply:", file=sys.stderr)
        for e in errors:
            print("  " + e, file=sys.stderr)
        return 2
    if args.only:
        wanted = args.only.split(",")
        unknown = [w for w in wanted if w not in {m.id for m in mutants}]
        if unknown:
            print(f"mutation: unknown ids: {', '.join(unknown)}", file=sys.stderr)
            return 2
        mutants = [m for m in mutants if m.id in wanted]
    print(f"mutation: {len(mutants)} mutants apply, each exactly once")
    if args.check:
        return 0

    src = os.path.join(args.work, "src")
    build = os.path.join(args.work, "build")
    log = os.path.join(args.work, "log.txt")
    os.makedirs(args.work, exist_ok=True)
    if os.path.exists(build):
        shutil.rmtree(build)
    copy_tree(ROOT, src)
    open(log, "w").close()
    env = dict(os.environ, CC="gcc", MESON_TESTTHREADS="2")
    ninja = ["ninja", "-C", build, "-j2"]
    test = ["meson", "test", "-C", build, "--no-rebuild", "--print-errorlogs"]
    for s in SUITES:
        test += ["--suite", s]

    rc, _ = run(["meson", "setup", build, src, "-Dtests=enabled"], env=env, log=log)
    if rc != 0 or run(ninja, env=env, log=log)[0] != 0:
        print(f"mutation: the unmutated tree does not build (see {log})", file=sys.stderr)
        return 2
    rc, secs = run(test, env=env, log=log, build=build)
    if rc != 0:
        print(f"mutation: the unmutated tree fails its tests (see {log})", file=sys.stderr)
        return 2
    timeout = args.timeout or max(120.0, 4 * secs)
    print(f"mutation: unmutated tests pass in {secs:.0f} s; {timeout:.0f} s allowed per mutant")

    results = []
    for i, m in enumerate(mutants, 1):
        path = os.path.join(src, m.path)
        with open(path, encoding="utf-8") as f:
            pristine = f.read()
        with open(log, "a") as f:
            f.write(f"\n===== {m.id}: {m.path}: {m.original!r} -> {m.replacement!r}\n")
        try:
            with open(path, "w", encoding="utf-8") as f:
                f.write(pristine.replace(m.original, m.replacement, 1))
            rc, _ = run(ninja, env=env, log=log)
            if rc != 0:
                outcome, detail = "BUILD-ERROR", "does not compile"
            else:
                rc, secs = run(test, timeout=timeout, env=env, log=log, build=build)
                if rc is None:
                    outcome, detail = "killed", f"timeout after {secs:.0f} s"
                elif rc != 0:
                    outcome = "killed"
                    names = failed_tests(build)
                    detail = ", ".join(names[:4]) + (" ..." if len(names) > 4 else "")
                else:
                    outcome, detail = "SURVIVED", m.behaviour
        finally:
            with open(path, "w", encoding="utf-8") as f:
                f.write(pristine)
        results.append((m, outcome, detail))
        print(f"[{i:3}/{len(mutants)}] {outcome:11} {m.id:28} {detail}", flush=True)

    killed = sum(1 for _, o, _ in results if o == "killed")
    broken = [(m, d) for m, o, d in results if o == "BUILD-ERROR"]
    survivors = [m for m, o, _ in results if o == "SURVIVED"]
    print(f"\nmutation score: {killed} killed of {len(results)}")
    if survivors:
        print("survivors:")
        for m in survivors:
            print(f"  {m.id} ({m.path}): {m.behaviour}")
    if broken:
        print("mutants that do not compile (fix the list):")
        for m, _ in broken:
            print(f"  {m.id} ({m.path})")
        return 2
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
