#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Runs examples/reclaimctl/orchestrator.py against the built tool.

usage: check_orchestrator.py ORCHESTRATOR TOOL

The toy host's demand outgrows its memory and then falls back. Over the pipe
the tool must answer every tick without an error, the host must come under
pressure (a state worse than high) and, once demand falls, the loop of
decisions the orchestrator carries out must have brought free memory back
above the high threshold (6 % of usable memory with the default config).
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
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
