#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""reclaimctl round trip: N snapshot lines of V VMs each through `decide`.

usage: roundtrip.py TOOL [--lines 10000] [--vms 100] [--lockstep 1000] [--threads N]

Generates the input first (not timed): a 100-VM host whose VMs' consumption
drifts at random so that free memory wanders through every state, with the
members an orchestrator would send (balloon and guest stats included; about
290 bytes per VM). Then times, wall clock:

  stream    `TOOL decide < input > output`: parse, decide, print every line
            (CPU time too: wall time depends on free cores, as parsing
            runs on one thread per CPU);
  lockstep  the orchestrator's way: write one line, wait for its answer
            (Python over a pipe, so Python's own cost is included).

and checks that every line was answered without an error. --threads N is
passed to the tool (its default otherwise); --threads 0 gives the CPU time
of one thread, which depends least on what else the machine runs.
"""

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time

GIB = 1 << 30
MIB = 1 << 20
VM = ('{{"id":{id},"flags":["balloon","guest_stats"],"configured_bytes":{conf},'
      '"consumed_bytes":{cons},"reservation_bytes":{resv},"shares":{shares},'
      '"active_bytes":{active},"balloon_bytes":{balloon},"guest_free_bytes":{gfree},'
      '"guest_swap_free_bytes":{gswap},"stats_time_ns":{now}}}')


def generate(path, lines, vms, seed=1):
    rng = random.Random(seed)
    configured = [rng.choice((2, 4, 8, 16)) * GIB for _ in range(vms)]
    shares = [rng.choice((500, 1000, 2000)) for _ in range(vms)]
    consumed = [c // 2 for c in configured]
    total = sum(configured) * 3 // 4
    reserved = 4 * GIB
    usable = total - reserved
    with open(path, "w") as f:
        for t in range(lines):
            now = (t + 1) * 1_000_000_000
            parts = []
            for i in range(vms):
                step = rng.randrange(-64, 65) * MIB
                consumed[i] = min(configured[i], max(256 * MIB, consumed[i] + step))
                parts.append(VM.format(
                    id=i + 1, conf=configured[i], cons=consumed[i], resv=256 * MIB,
                    shares=shares[i], active=consumed[i] // rng.choice((2, 4, 10)),
                    balloon=0, gfree=(configured[i] - consumed[i]) // 2, gswap=GIB, now=now))
            free = max(0, usable - sum(consumed))
            # Keep the host near its thresholds: rescale consumption when it
            # drifts far from them.
            if free > usable // 8 or free == 0:
                target = usable * rng.choice((90, 95, 97, 99, 101)) // 100
                scale = target / sum(consumed)
                consumed = [min(c, max(256 * MIB, int(x * scale)))
                            for c, x in zip(configured, consumed)]
            f.write('{"host":{"total_bytes":%d,"reserved_bytes":%d,"free_bytes":%d,'
                    '"now_ns":%d},"vms":[%s]}\n' % (total, reserved, free, now,
                                                     ",".join(parts)))


def stream(cmd, path, lines):
    out_path = path + ".out"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(path, "rb") as fin, open(out_path, "wb") as fout:
        start = time.perf_counter()
        proc = subprocess.run(cmd, stdin=fin, stdout=fout)
        elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    answers = 0
    states = {}
    with open(out_path, "rb") as f:
        for line in f:
            answer = json.loads(line)
            if "error" in answer:
                sys.exit(f"line {answer['line']}: {answer['error']}")
            state = answer["summary"]["state"]
            states[state] = states.get(state, 0) + 1
            answers += 1
    size_out = os.path.getsize(out_path)
    os.remove(out_path)
    if proc.returncode != 0 or answers != lines:
        sys.exit(f"exit status {proc.returncode}, {answers} answers for {lines} lines")
    return elapsed, cpu, size_out, states


def lockstep(cmd, path, lines):
    with open(path) as f:
        sample = [next(f) for _ in range(lines)]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, bufsize=1)
    start = time.perf_counter()
    for line in sample:
        proc.stdin.write(line)
        proc.stdin.flush()
        if "error" in json.loads(proc.stdout.readline()):
            sys.exit("lockstep: error answer")
    elapsed = time.perf_counter() - start
    proc.stdin.close()
    proc.wait()
    return elapsed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tool")
    ap.add_argument("--lines", type=int, default=10000)
    ap.add_argument("--vms", type=int, default=100)
    ap.add_argument("--lockstep", type=int, default=1000, help="lines, 0 to skip")
    ap.add_argument("--threads", type=int, help="reclaimctl --threads (default: its own)")
    args = ap.parse_args()
    cmd = [os.path.abspath(args.tool), "decide"]
    if args.threads is not None:
        cmd += ["--threads", str(args.threads)]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "snapshots.jsonl")
        start = time.perf_counter()
        generate(path, args.lines, args.vms)
        gen = time.perf_counter() - start
        size_in = os.path.getsize(path)
        elapsed, cpu, size_out, states = stream(cmd, path, args.lines)
        print(f"input: {args.lines} lines x {args.vms} VMs, {size_in / 1e6:.0f} MB "
              f"(generated in {gen:.1f} s); states {states}")
        print(f"stream:   {elapsed:.2f} s wall, {cpu:.2f} s CPU for {args.lines} lines "
              f"({args.lines / elapsed:.0f} lines/s, {args.lines * args.vms / elapsed / 1e6:.2f} "
              f"M VM decisions/s, {size_in / elapsed / 1e6:.0f} MB/s in, "
              f"{size_out / 1e6:.0f} MB out)")
        if args.lockstep:
            n = min(args.lockstep, args.lines)
            t = lockstep(cmd, path, n)
            print(f"lockstep: {t:.2f} s for {n} lines, {t / n * 1e3:.2f} ms per "
                  f"{args.vms}-VM snapshot round trip")


if __name__ == "__main__":
    main()
