#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Derives bench/data/bitbrains/ from the GWA-T-12 Bitbrains Rnd 2013-8 files.

Usage: python3 bench/data/derive.py path/to/rnd/2013-8 bench/data/bitbrains

Keeps two of the eleven columns (memory provisioned and memory usage, KiB)
and puts every VM on one regular 300 s grid starting at the first sample:
the value at grid time t is the VM's last sample taken at or before t + 150 s
(samples drift by up to 12 s; gaps hold the last value). Values are rounded
to whole KiB. Writes:
  used.tsv         t_s, then one column of memory usage [KiB] per VM
  provisioned.tsv  t_s vm kib, a row at t = 0 for every VM and one per change
"""
import os
import sys

STEP = 300
VMS = [35, 77, 97, 109, 133, 134, 184, 281, 284, 291, 309, 344, 363, 383,
       420, 441, 461, 470, 471, 473]


def read_vm(path):
    rows = []
    with open(path, encoding="ascii") as f:
        next(f)
        for line in f:
            cols = [c.strip() for c in line.split(";")]
            rows.append((int(cols[0]), float(cols[5]), float(cols[6])))
    rows.sort()
    return rows


def on_grid(rows, start, count):
    out = []
    i = 0
    last = rows[0]
    for g in range(count):
        t = start + g * STEP
        while i < len(rows) and rows[i][0] <= t + STEP // 2:
            last = rows[i]
            i += 1
        out.append((round(last[1]), round(last[2])))
    return out


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    src, dst = sys.argv[1], sys.argv[2]
    data = {vm: read_vm(os.path.join(src, "%d.csv" % vm)) for vm in VMS}
    start = min(r[0][0] for r in data.values())
    end = max(r[-1][0] for r in data.values())
    count = (end - start) // STEP + 1
    grid = {vm: on_grid(rows, start, count) for vm, rows in data.items()}
    os.makedirs(dst, exist_ok=True)
    with open(os.path.join(dst, "used.tsv"), "w", encoding="ascii") as f:
        f.write("# GWA-T-12 Bitbrains Rnd 2013-8, memory usage [KiB] on a 300 s grid;"
                " t_s = seconds after %d (Unix time); derived by bench/data/derive.py\n"
                % start)
        f.write("t_s\t" + "\t".join(str(vm) for vm in VMS) + "\n")
        for g in range(count):
            f.write("%d\t" % (g * STEP) + "\t".join(str(grid[vm][g][1]) for vm in VMS) + "\n")
    with open(os.path.join(dst, "provisioned.tsv"), "w", encoding="ascii") as f:
        f.write("# GWA-T-12 Bitbrains Rnd 2013-8, memory provisioned [KiB] at t = 0 and"
                " whenever it changes; derived by bench/data/derive.py\n")
        f.write("t_s\tvm\tkib\n")
        events = []
        for vm in VMS:
            prev = None
            for g in range(count):
                kib = grid[vm][g][0]
                if kib != prev:
                    events.append((g * STEP, VMS.index(vm), vm, kib))
                    prev = kib
        for t, _, vm, kib in sorted(events):
            f.write("%d\t%d\t%d\n" % (t, vm, kib))


if __name__ == "__main__":
    main()
