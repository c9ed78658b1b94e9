#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Runs examples/reclaimctl/orchestrator.py against the built tool.

usage: check_orchestrator.py ORCHESTRATOR TOOL

The toy host's demand outgrows its memory and then falls back. Over the pipe
the tool must answer every tick without an error, the host must come under
pressure (a state worse than high) and, once demand falls, the loop of
decisions the orchestrator carries out must have brought free memory back
above the high threshold (6 % of usable memory with the default config).
With no ticks it still prints its summary; when the tool stops at once (a
config it refuses) it says so and exits 1, without a traceback.
"""

import json
import os
import subprocess
import sys


def main():
    orchestrator, tool = sys.argv[1:3]
    tool = os.path.abspath(tool)
    proc = subprocess.run([sys.executable, orchestrator, "--reclaimctl", tool, "--quiet",
                           "--ticks", "48"], capture_output=True, text=True, timeout=60)
    sys.stderr.write(proc.stderr)
    lines = proc.stdout.splitlines()
    if not lines:
        print("no output")
        return 1
    result = json.loads(lines[-1])
    print(json.dumps(result))
    problems = []
    if proc.returncode != 0:
        problems.append(f"orchestrator exit status {proc.returncode}")
    if result["errors"] or result["reclaimctl_status"]:
        problems.append("reclaimctl answered with errors")
    if set(result["states"]) <= {"high"}:
        problems.append("the host never came under pressure")
    if sum(result["states"].values()) != result["ticks"]:
        problems.append("not every tick was answered")
    if result["final_free_bytes"] < 0.06 * result["usable_bytes"]:
        problems.append("free memory did not recover above the high threshold")
    none = subprocess.run([sys.executable, orchestrator, "--reclaimctl", tool, "--ticks", "0"],
                          capture_output=True, text=True, timeout=60)
    if none.returncode != 0 or not none.stdout or \
            json.loads(none.stdout.splitlines()[-1])["ticks"] != 0:
        problems.append(f"--ticks 0: exit {none.returncode}, {none.stderr.strip()}")
    bad = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"orchestrator-bad-{os.getpid()}.json")
    with open(bad, "w") as f:
        f.write('{"idle_tax":"x"}\n')
    try:
        early = subprocess.run([sys.executable, orchestrator, "--reclaimctl", tool, "--quiet",
                                "--config", bad], capture_output=True, text=True, timeout=60)
    finally:
        os.unlink(bad)
    if early.returncode != 1 or "Traceback" in early.stderr or \
            "reclaimctl exited with status 2" not in early.stderr:
        problems.append(f"a refused config: exit {early.returncode}, {early.stderr.strip()}")
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
