#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Derives bench/data/bitbrains/ from GWA-T-12 Bitbrains Rnd per-VM files.

Usage: python3 bench/data/derive.py [--vms ID,ID,...] [--label TEXT] SRC DST
  SRC  a month of the Rnd trace, e.g. path/to/rnd/2013-8 (files <id>.csv)
  DST  where used.tsv and provisioned.tsv go, e.g. bench/data/bitbrains

Keeps two of the eleven columns (memory provisioned and memory usage, KiB)
and puts every VM on one regular 300 s grid starting at the first sample:
the value at grid time t is the VM's last sample taken at or before t + 150 s
(samples drift by up to 12 s; gaps hold the last value). Values are rounded
to whole KiB. A sample whose provisioned memory is 0 (the VM was off or not
measured) keeps its usage and holds the VM's last provisioned size. Rows that
are blank, short or not numbers are skipped. Each of these is reported on
stderr, with every VM that starts late, ends early or has a gap of more than
two hours. Writes:
  used.tsv         t_s, then one column of memory usage [KiB] per VM
  provisioned.tsv  t_s vm kib, a row at t = 0 for every VM and one per change
"""
import argparse
import math
import os
import sys

STEP = 300
GAP_WARN = 2 * 3600
# The 20 VMs of the committed subset (bench/data/README.md says why these).
VMS = [35, 77, 97, 109, 133, 134, 184, 281, 284, 291, 309, 344, 363, 383,
       420, 441, 461, 470, 471, 473]


def warn(msg):
    print("derive.py: " + msg, file=sys.stderr)


def number(text):
    """A finite float, or None."""
    try:
        v = float(text)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def read_vm(path):
    """(timestamp s, provisioned KiB or None, usage KiB) per usable row, in time order."""
    rows, skipped = [], 0
    try:
        f = open(path, encoding="ascii", errors="replace")
    except OSError as e:
        sys.exit("derive.py: %s: %s" % (path, e.strerror))
    with f:
        for n, line in enumerate(f):
            cols = [c.strip() for c in line.split(";")]
            if n == 0 and cols[0].startswith("Timestamp"):
                continue
            if not line.strip():
                continue
            ts = number(cols[0]) if len(cols) >= 7 else None
            prov = number(cols[5]) if ts is not None else None
            used = number(cols[6]) if ts is not None else None
            if ts is None or used is None or used < 0:
                skipped += 1
                continue
            rows.append((int(ts), prov if prov is not None and prov > 0 else None, used))
    if skipped:
        warn("%s: %d rows skipped (blank, short or not numbers)" % (path, skipped))
    if not rows:
        sys.exit("derive.py: %s: no samples" % path)
    rows.sort(key=lambda r: r[0])  # stable: of samples at one time, the last in the file
    return rows


def on_grid(rows, start, count):
    """(provisioned, usage) in whole KiB at each grid point."""
    known = [r[1] for r in rows if r[1] is not None]
    if not known:
        return None
    out = []
    i = 0
    last = rows[0]
    prov = known[0]  # before the first provisioned size: that size
    for g in range(count):
        t = start + g * STEP
        while i < len(rows) and rows[i][0] <= t + STEP // 2:
            last = rows[i]
            if last[1] is not None:
                prov = last[1]
            i += 1
        out.append((round(prov), round(last[2])))
    return out


def report_cover(vm, rows, start, end):
    """Warns where the grid holds a value the VM never reported."""
    times = [r[0] for r in rows]
    if times[0] - start > GAP_WARN:
        warn("VM %d: no samples for the first %.1f h (its first value is held back to t = 0)"
             % (vm, (times[0] - start) / 3600))
    if end - times[-1] > GAP_WARN:
        warn("VM %d: no samples for the last %.1f h (its last value is held)"
             % (vm, (end - times[-1]) / 3600))
    gap = max((b - a for a, b in zip(times, times[1:])), default=0)
    if gap > GAP_WARN:
        warn("VM %d: a gap of %.1f h between samples (the last value is held)" % (vm, gap / 3600))
    zero = sum(1 for r in rows if r[1] is None)
    if zero:
        warn("VM %d: %d samples without a provisioned size (the last one is held)" % (vm, zero))


def vm_list(text):
    try:
        vms = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError("a list of VM ids, e.g. 35,77,97")
    if not vms or len(set(vms)) != len(vms) or min(vms) < 0:
        raise argparse.ArgumentTypeError("distinct VM ids, e.g. 35,77,97")
    return vms


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vms", type=vm_list, default=VMS,
                    help="VM ids (files <id>.csv), in column order (default: the committed 20)")
    ap.add_argument("--label", help='what the headers call the data (default: "Rnd" and the '
                    "name of SRC, e.g. Rnd 2013-8)")
    ap.add_argument("src")
    ap.add_argument("dst")
    args = ap.parse_args()
    label = args.label or "Rnd " + os.path.basename(os.path.normpath(args.src))
    data = {vm: read_vm(os.path.join(args.src, "%d.csv" % vm)) for vm in args.vms}
    start = min(r[0][0] for r in data.values())
    end = max(r[-1][0] for r in data.values())
    count = (end - start) // STEP + 1
    grid = {}
    for vm, rows in data.items():
        grid[vm] = on_grid(rows, start, count)
        if grid[vm] is None:
            sys.exit("derive.py: VM %d: no sample has a provisioned size" % vm)
        report_cover(vm, rows, start, end)
    os.makedirs(args.dst, exist_ok=True)
    with open(os.path.join(args.dst, "used.tsv"), "w", encoding="ascii") as f:
        f.write("# GWA-T-12 Bitbrains %s, memory usage [KiB] on a 300 s grid;"
                " t_s = seconds after %d (Unix time); derived by bench/data/derive.py\n"
                % (label, start))
        f.write("t_s\t" + "\t".join(str(vm) for vm in args.vms) + "\n")
        for g in range(count):
            f.write("%d\t" % (g * STEP) + "\t".join(str(grid[vm][g][1]) for vm in args.vms)
                    + "\n")
    with open(os.path.join(args.dst, "provisioned.tsv"), "w", encoding="ascii") as f:
        f.write("# GWA-T-12 Bitbrains %s, memory provisioned [KiB] at t = 0 and"
                " whenever it changes; derived by bench/data/derive.py\n" % label)
        f.write("t_s\tvm\tkib\n")
        events = []
        for col, vm in enumerate(args.vms):
            prev = None
            for g in range(count):
                kib = grid[vm][g][0]
                if kib != prev:
                    events.append((g * STEP, col, vm, kib))
                    prev = kib
        for t, _, vm, kib in sorted(events):
            f.write("%d\t%d\t%d\n" % (t, vm, kib))


if __name__ == "__main__":
    main()
