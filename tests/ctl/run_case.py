#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Golden test: pipe a recorded input through reclaimctl and compare.

usage: run_case.py TOOL CASES_DIR NAME INPUT STATUS [--] ARGS...

Runs `TOOL ARGS...` in CASES_DIR with INPUT (a file there, or "-" for none)
on stdin, and compares stdout with NAME.out, stderr with NAME.err (empty when
that file is absent) and the exit status with STATUS.

RECLAIMCTL_UPDATE=1 rewrites the expected files instead; review the diff
(git diff tests/ctl/cases) before committing it.
"""

import difflib
import os
import subprocess
import sys


def show_diff(label, expected, got):
    exp = expected.decode("utf-8", "replace").splitlines(keepends=True)
    act = got.decode("utf-8", "replace").splitlines(keepends=True)
    diff = list(difflib.unified_diff(exp, act, "expected " + label, "got " + label, n=1))
    sys.stdout.writelines(line if len(line) < 400 else line[:400] + "...\n"
                          for line in diff[:80])
    if len(diff) > 80:
        print(f"... {len(diff) - 80} more diff lines")


def main():
    args = sys.argv[1:]
    if len(args) < 5:
        print(__doc__, file=sys.stderr)
        return 2
    tool, cases, name, input_name, status = args[:5]
    tool = os.path.abspath(tool)
    argv = args[5:]
    if argv and argv[0] == "--":
        argv = argv[1:]
    stdin = subprocess.DEVNULL
    if input_name != "-":
        stdin = open(os.path.join(cases, input_name), "rb")
    env = dict(os.environ, LC_ALL="C")
    proc = subprocess.run([tool] + argv, stdin=stdin, capture_output=True, cwd=cases,
                          env=env, timeout=120)
    out_path = os.path.join(cases, name + ".out")
    err_path = os.path.join(cases, name + ".err")

    if os.environ.get("RECLAIMCTL_UPDATE") == "1":
        with open(out_path, "wb") as f:
            f.write(proc.stdout)
        if proc.stderr:
            with open(err_path, "wb") as f:
                f.write(proc.stderr)
        elif os.path.exists(err_path):
            os.remove(err_path)
        print(f"updated {name} (exit status {proc.returncode})")
        return 0 if proc.returncode == int(status) else 1

    failed = False
    if proc.returncode != int(status):
        print(f"exit status {proc.returncode}, expected {status}")
        failed = True
    with open(out_path, "rb") as f:
        expected_out = f.read()
    expected_err = b""
    if os.path.exists(err_path):
        with open(err_path, "rb") as f:
            expected_err = f.read()
    if proc.stdout != expected_out:
        show_diff("stdout", expected_out, proc.stdout)
        failed = True
    if proc.stderr != expected_err:
        show_diff("stderr", expected_err, proc.stderr)
        failed = True
    if failed:
        print(f"\n{name}: output differs. If the change is intended, regenerate with\n"
              f"  RECLAIMCTL_UPDATE=1 meson test -C <build> --suite ctl-golden\n"
              f"and review `git diff tests/ctl/cases` before committing.")
        return 1
    print(f"{name}: {len(proc.stdout.splitlines())} lines as expected")
    return 0


if __name__ == "__main__":
    sys.exit(main())
