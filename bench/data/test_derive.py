#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""derive.py on month files as the dataset has them: VMs switched off
(provisioned 0), rows cut short, blank lines, CRLF, VMs that start late or
stop early, another month and another choice of VMs; and the simulator
replaying what it wrote.

Usage: test_derive.py DERIVE_PY RECLAIM_SIM
"""
import os
import subprocess
import sys
import tempfile
import unittest

DERIVE = SIM = None
HEADER = ("Timestamp [ms];\tCPU cores;\tCPU capacity provisioned [MHZ];\tCPU usage [MHZ];\t"
          "CPU usage [%];\tMemory capacity provisioned [KB];\tMemory usage [KB];\t"
          "Disk read throughput [KB/s];\tDisk write throughput [KB/s];\t"
          "Network received throughput [KB/s];\tNetwork transmitted throughput [KB/s]\n")
T0 = 1377986576


def row(ts, prov, used):
    return "%s;\t4;\t10399.99;\t1617.2;\t15.55;\t%s;\t%s;\t0.0;\t11.1;\t2104.8;\t3413.5\n" % (
        ts, prov, used)


def write_month(d, files):
    os.makedirs(d, exist_ok=True)
    for vm, text in files.items():
        with open(os.path.join(d, "%d.csv" % vm), "w", newline="") as f:
            f.write(text)


def steady(n, prov="4194304.0", used="1048576.0", start=T0, every=300):
    return HEADER + "".join(row(start + i * every, prov, used) for i in range(n))


def derive(src, dst, *opts):
    return subprocess.run([sys.executable, DERIVE, *opts, src, dst],
                          capture_output=True, text=True)


def table(path):
    with open(path) as f:
        return [line.rstrip("\n").split("\t") for line in f if not line.startswith("#")]


class Derive(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.src = os.path.join(self.tmp.name, "2013-9")
        self.dst = os.path.join(self.tmp.name, "out")

    def tearDown(self):
        self.tmp.cleanup()

    def run_ok(self, *opts):
        r = derive(self.src, self.dst, *opts)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r

    def test_switched_off_vm_keeps_its_size(self):
        # Provisioned 0 at the start and in the middle: the first known size
        # stands before it, the last one while it is 0; usage is kept.
        text = (HEADER + row(T0, "0.0", "0.0") + row(T0 + 300, "2097152.0", "524288.0")
                + row(T0 + 600, "0.0", "0.0") + row(T0 + 900, "4194304.0", "1048576.0"))
        write_month(self.src, {1: text})
        r = self.run_ok("--vms", "1")
        self.assertIn("VM 1: 2 samples without a provisioned size", r.stderr)
        self.assertEqual(table(os.path.join(self.dst, "used.tsv")),
                         [["t_s", "1"], ["0", "0"], ["300", "524288"], ["600", "0"],
                          ["900", "1048576"]])
        self.assertEqual(table(os.path.join(self.dst, "provisioned.tsv")),
                         [["t_s", "vm", "kib"], ["0", "1", "2097152"], ["900", "1", "4194304"]])

    def test_bad_rows_are_skipped_and_counted(self):
        lines = steady(4).splitlines(keepends=True)
        text = (lines[0] + lines[1].replace("\n", "\r\n") + "\n" + "1377986876;\t4;\t1.0\n"
                + lines[2].replace("1048576.0", "nan") + lines[3] + lines[4] + "\n\n")
        write_month(self.src, {7: text})
        r = self.run_ok("--vms", "7")
        self.assertIn("7.csv: 2 rows skipped", r.stderr)
        self.assertEqual(len(table(os.path.join(self.dst, "used.tsv"))), 1 + 4)

    def test_label_and_vms_follow_the_arguments(self):
        write_month(self.src, {3: steady(2, used="3.0"), 5: steady(2, used="5.0")})
        self.run_ok("--vms", "5,3")
        with open(os.path.join(self.dst, "used.tsv")) as f:
            first = f.readline()
        self.assertIn("Bitbrains Rnd 2013-9,", first)
        self.assertIn("seconds after %d " % T0, first)
        self.assertEqual(table(os.path.join(self.dst, "used.tsv"))[:2],
                         [["t_s", "5", "3"], ["0", "5", "3"]])
        self.run_ok("--vms", "3", "--label", "fastStorage 2013-9")
        with open(os.path.join(self.dst, "provisioned.tsv")) as f:
            self.assertIn("Bitbrains fastStorage 2013-9,", f.readline())

    def test_missing_or_empty_files_stop_with_a_message(self):
        write_month(self.src, {1: steady(2), 2: "", 3: HEADER})
        for vms, what in (("1,4", "4.csv: No such file"), ("1,2", "2.csv: no samples"),
                          ("1,3", "3.csv: no samples")):
            r = derive(self.src, self.dst, "--vms", vms)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn(what, r.stderr)
            self.assertNotIn("Traceback", r.stderr)
        write_month(self.src, {6: steady(3, prov="0.0")})
        r = derive(self.src, self.dst, "--vms", "6")
        self.assertIn("VM 6: no sample has a provisioned size", r.stderr)
        r = derive(self.src, self.dst, "--vms", "1,x")
        self.assertEqual(r.returncode, 2)
        self.assertNotIn("Traceback", r.stderr)

    def test_late_start_early_end_and_gaps_are_reported(self):
        late = steady(30, start=T0 + 3 * 3600)
        early = steady(10)
        gappy = (HEADER + row(T0, "4194304.0", "1.0")
                 + row(T0 + 4 * 3600, "4194304.0", "2.0")
                 + row(T0 + 4 * 3600 + 5400, "4194304.0", "3.0"))
        write_month(self.src, {1: late, 2: early, 3: gappy})
        r = self.run_ok("--vms", "1,2,3")
        self.assertIn("VM 1: no samples for the first 3.0 h", r.stderr)
        self.assertIn("VM 2: no samples for the last", r.stderr)
        self.assertIn("VM 3: a gap of 4.0 h", r.stderr)

    def test_simulator_replays_the_output(self):
        text = (HEADER + row(T0, "0.0", "0.0") + "".join(
            row(T0 + i * 300, "4194304.0", "%d.0" % (i * 65536)) for i in range(1, 24)))
        write_month(self.src, {1: text, 2: steady(24, prov="8388608.0"), 3: steady(12)})
        self.run_ok("--vms", "1,2,3")
        conf = os.path.join(self.tmp.name, "t.conf")
        with open(conf, "w") as f:
            f.write("[run]\nduration = 2h\n[host]\novercommit = 1.5\n"
                    "[trace]\ndir = out\nvms = all\n")
        r = subprocess.run([SIM, "-p", "reclaim", "-j", "1", conf], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("3 VMs, 16.00 GiB configured", r.stdout)
        self.assertNotIn("warning", r.stderr)  # 24 rows: the whole run


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    DERIVE, SIM = sys.argv[1], os.path.abspath(sys.argv[2])
    unittest.main(argv=sys.argv[:1], verbosity=2)
