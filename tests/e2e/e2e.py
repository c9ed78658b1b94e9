#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""End-to-end tests: qemu-agent managing live QEMU guests.

    e2e.py --agent PATH --memhog PATH --src DIR --work DIR TEST

Each TEST boots one or two small TCG guests (KVM when real hardware
virtualization is there), starts a workload in them, gives qemu-agent a host
memory budget that puts the "host" in a chosen state, and checks what really
happened: QEMU's resident guest RAM, host swap, balloon sizes as QEMU reports
them, and the guest consoles. Exit status 0 pass, 1 fail, 77 skip (missing
prerequisites; with E2E_REQUIRE=1 those fail instead).
"""

import argparse
import contextlib
import fcntl
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

MiB = 1 << 20
GUEST_MIB = 512



class Skip(Exception):
    pass


def mib(n):
    return "%.1f MiB" % (n / MiB)


def log(msg):
    print(msg, flush=True)


class Checks:
    def __init__(self):
        self.failed = 0

    def __call__(self, ok, what):
        log(("ok   " if ok else "FAIL ") + what)
        if not ok:
            self.failed += 1
        return ok


# ---- host ----

def host_swap_used():
    info = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, v = line.split(":", 1)
            info[k] = int(v.split()[0]) * 1024
    return info["SwapTotal"] - info["SwapFree"], info["SwapTotal"]


class HostSwap:
    """A swap file for the duration of a test when the host has no swap."""

    def __init__(self, path, size=1024 * MiB):
        self.path = path
        self.size = size
        self.created = False

    def __enter__(self):
        if host_swap_used()[1] > 0:
            return self
        if os.geteuid() != 0:
            raise Skip("host has no swap and we are not root to add some")
        if os.path.exists(self.path):
            subprocess.run(["swapoff", self.path], stderr=subprocess.DEVNULL)
            os.unlink(self.path)
        fd = os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600)
        try:
            os.posix_fallocate(fd, 0, self.size)
        finally:
            os.close(fd)
        subprocess.run(["mkswap", self.path], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["swapon", self.path], check=True)
        self.created = True
        log("host: enabled %s swap file %s" % (mib(self.size), self.path))
        return self

    def __exit__(self, *exc):
        if self.created:
            subprocess.run(["swapoff", self.path])
            os.unlink(self.path)
            log("host: removed swap file")


def choose_accel():
    forced = os.environ.get("E2E_ACCEL")
    if forced:
        return forced
    # /dev/kvm may open yet be a software nested backend (kvm_pvm) that is
    # far slower than TCG and crashes guests: only trust hardware KVM.
    hw = os.path.isdir("/sys/module/kvm_intel") or os.path.isdir("/sys/module/kvm_amd")
    return "kvm" if hw and os.access("/dev/kvm", os.R_OK | os.W_OK) else "tcg"


# ---- guests ----

class QMP:
    def __init__(self, path, timeout=10):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.file = self.sock.makefile("rw")
        json.loads(self.file.readline())
        self.cmd("qmp_capabilities")

    def cmd(self, name, **args):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.file.write(json.dumps(msg) + "\n")
        self.file.flush()
        while True:
            line = self.file.readline()
            if not line:
                raise ConnectionError("QMP closed")
            reply = json.loads(line)
            if "event" in reply:
                continue
            if "error" in reply:
                raise RuntimeError("%s: %s" % (name, reply["error"].get("desc")))
            return reply.get("return")

    def close(self):
        self.sock.close()


class Guest:
    def __init__(self, h, name, mem_mib=GUEST_MIB, swap_mib=0, balloon_driver=True):
        self.h = h
        self.name = name
        self.mem = mem_mib * MiB
        self.swap_mib = swap_mib
        self.balloon_driver = balloon_driver
        self.dir = os.path.join(h.work, name)
        self.proc = None
        self.qmp = None
        self.cmd_sock = None
        self.agent_qmp = os.path.join(self.dir, "agent.sock")

    def start(self):
        os.makedirs(self.dir, exist_ok=True)
        for f in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, f))
        self.console_path = os.path.join(self.dir, "console.log")
        # no_timer_check: a slow TCG guest may fail the IO-APIC timer check
        # and hang at boot ("8254 timer not connected to IO-APIC").
        append = "console=ttyS0 panic=-1 quiet no_timer_check"
        if not self.balloon_driver:
            append += " e2e.balloon=0"
        argv = [
            "qemu-system-x86_64", "-name", self.name,
            "-machine", "q35,memory-backend=mem", "-accel", self.h.accel, "-smp", "1",
            "-m", "%dM" % (self.mem // MiB),
            "-object", "memory-backend-memfd,id=mem,size=%dM,share=on" % (self.mem // MiB),
            "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
            "-kernel", os.path.join(self.h.guest_dir, "vmlinuz"),
            "-initrd", os.path.join(self.h.guest_dir, "initramfs.cpio.gz"),
            "-serial", "file:" + self.console_path,
            "-chardev", "socket,id=cmd,path=%s/cmd.sock,server=on,wait=off" % self.dir,
            "-serial", "chardev:cmd",
            "-device", "virtio-balloon-pci,id=balloon0",
            "-qmp", "unix:%s,server=on,wait=off" % self.agent_qmp,
            "-qmp", "unix:%s/ctl.sock,server=on,wait=off" % self.dir,
        ]
        if self.h.accel == "kvm":
            argv += ["-cpu", "host"]
        if self.swap_mib:
            disk = os.path.join(self.dir, "swap.img")
            with open(disk, "wb") as f:
                f.truncate(self.swap_mib * MiB)
            argv += ["-drive", "file=%s,if=virtio,format=raw" % disk]
            append += " e2e.swap=1"
        argv += ["-append", append]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=open(os.path.join(self.dir, "qemu.out"), "w"),
                                     stderr=subprocess.STDOUT)
        self.h.guests.append(self)

    def wait_ready(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("%s: QEMU exited (%d) before GUEST-READY" %
                                   (self.name, self.proc.returncode))
            m = re.search(r"GUEST-READY .*", self.console())
            if m:
                self.qmp = QMP(os.path.join(self.dir, "ctl.sock"))
                self.cmd_sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.cmd_sock.settimeout(60)
                self.cmd_sock.connect(os.path.join(self.dir, "cmd.sock"))
                self.run("true")
                log("%s: %s (pid %d)" % (self.name, m.group(0), self.proc.pid))
                return
            time.sleep(0.1)
        raise RuntimeError("%s: no GUEST-READY in %ds" % (self.name, timeout))

    def console(self):
        try:
            with open(self.console_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def run(self, line, timeout=60):
        """Runs a shell line in the guest; returns (rc, output)."""
        self.cmd_sock.settimeout(timeout)
        self.cmd_sock.sendall((line + "\n").encode())
        buf = b""
        while True:
            m = re.search(rb"CMD-DONE (\d+)\r?\n", buf)
            if m:
                return int(m.group(1)), buf[:m.start()].decode(errors="replace")
            chunk = self.cmd_sock.recv(4096)
            if not chunk:
                raise ConnectionError("%s: command channel closed" % self.name)
            buf += chunk

    def memhog(self, mib_, args=""):
        """Starts memhog in the background; returns its guest pid once it
        holds its memory."""
        before = len(re.findall(r"MEMHOG-READY", self.console()))
        # The command loop is shielded from the OOM killer; the workload
        # must not inherit that.
        self.run("(echo 0 > /proc/self/oom_score_adj; exec memhog %s %d) "
                 "> /dev/console 2>&1 &" % (args, mib_))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = re.findall(r"MEMHOG-READY pid=(\d+)", self.console())
            if len(found) > before:
                return int(found[-1])
            time.sleep(0.1)
        raise RuntimeError("%s: memhog did not start" % self.name)

    def alive(self, guest_pid):
        # Not "kill -0": a killed child of the command loop stays a zombie
        # until the loop's shell reaps it.
        return self.run("awk '/^State:/ { exit ($2 == \"Z\") }' /proc/%d/status" %
                        guest_pid)[0] == 0

    def usage(self):
        """(rss, swap) bytes of the guest RAM mapping, read by us from smaps."""
        with open("/proc/%d/smaps" % self.proc.pid) as f:
            lines = f.read().split("\n")
        rss = swap = None
        inside = False
        for line in lines:
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                inside = "/memfd:" in line
                continue
            if inside and line.startswith("Rss:"):
                rss = int(line.split()[1]) * 1024
            elif inside and line.startswith("Swap:"):
                swap = int(line.split()[1]) * 1024
        return rss, swap

    def balloon(self):
        return self.mem - self.qmp.cmd("query-balloon")["actual"]

    def oom(self):
        return "Out of memory" in self.console()

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            self.qmp.cmd("quit")
            self.proc.wait(timeout=10)
        except Exception:
            self.kill()


class Agent:
    def __init__(self, h, tag, guests, budget, config_extra="", vm_extra=None,
                 duration=15, tick="500ms"):
        self.h = h
        self.tag = tag
        self.out_path = os.path.join(h.work, "agent-%s.out" % tag)
        self.trace_path = os.path.join(h.work, "agent-%s.trace" % tag)
        conf = os.path.join(h.work, "policy-%s.conf" % tag)
        with open(os.path.join(h.src, "policy.conf")) as f:
            text = f.read()
        with open(conf, "w") as f:
            f.write(text + "\n# test overrides\n" + config_extra + "\n")
        self.argv = [h.agent, "--budget", str(int(budget)), "--tick", tick,
                     "--duration", "%gs" % duration, "--config", conf, "--explain",
                     "--trace", self.trace_path, "--seed", "8",
                     # one active-memory sample period before deciding
                     "--warmup", "2s"]
        for g in guests:
            spec = "name=%s,qmp=%s,guest-swap=%dM" % (g.name, g.agent_qmp, g.swap_mib)
            if vm_extra and g.name in vm_extra:
                spec += "," + vm_extra[g.name]
            self.argv += ["--vm", spec]
        self.budget = budget

    def start(self):
        log("agent %s: %s" % (self.tag, " ".join(self.argv)))
        self.proc = subprocess.Popen(self.argv, stdout=open(self.out_path, "w"),
                                     stderr=subprocess.STDOUT)
        self.h.agents.append(self)
        return self

    def wait(self, timeout=120):
        self.rc = self.proc.wait(timeout=timeout)
        with open(self.out_path) as f:
            self.output = f.read()
        self.ticks = []
        with open(self.trace_path) as f:
            for line in f:
                self.ticks.append(json.loads(line))
        log("agent %s: exit %d, %d ticks" % (self.tag, self.rc, len(self.ticks)))
        return self

    def run(self):
        return self.start().wait()

    def vm_ticks(self, name):
        return [(t, v) for t in self.ticks for v in t["vms"] if v["name"] == name]

    def excerpt(self, lines=12):
        out = [line for line in self.output.split("\n") if line.startswith("t=")]
        return "\n".join(out[:lines])


class Harness:
    def __init__(self, args):
        self.agent = os.path.abspath(args.agent)
        self.memhog = os.path.abspath(args.memhog)
        self.src = os.path.abspath(args.src)
        self.work = os.path.abspath(os.path.join(args.work, args.test))
        self.guest_dir = os.path.abspath(
            os.environ.get("E2E_GUEST_DIR") or os.path.join(args.work, "guest"))
        self.accel = choose_accel()
        self.guests = []
        self.agents = []
        self.check = Checks()
        os.makedirs(self.work, exist_ok=True)
        for f in os.listdir(self.work):
            p = os.path.join(self.work, f)
            if os.path.isfile(p):
                os.unlink(p)

    def prerequisites(self):
        for tool in ("qemu-system-x86_64", "apt-get", "dpkg-deb", "cpio"):
            if not any(os.access(os.path.join(d, tool), os.X_OK)
                       for d in os.environ.get("PATH", "").split(":")):
                raise Skip("%s not installed" % tool)
        os.makedirs(self.guest_dir, exist_ok=True)
        # Tests may run in parallel: one of them builds, the others wait.
        with open(os.path.join(self.guest_dir, ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            subprocess.run(["sh", os.path.join(self.src, "build-guest.sh"), self.guest_dir,
                            self.memhog, os.path.join(self.src, "guest-init")], check=True)
        log("host: accel %s, guest image %s" % (self.accel, self.guest_dir))

    def boot(self, *guests):
        for g in guests:
            g.start()
        for g in guests:
            g.wait_ready()

    def cleanup(self):
        for a in self.agents:
            if a.proc.poll() is None:
                a.proc.kill()
                a.proc.wait()
        for g in self.guests:
            g.stop()


def budget_for(consumed, free_fraction):
    """The budget at which `consumed` leaves `free_fraction` of it free."""
    return int(consumed / (1.0 - free_fraction))


def policy_thresholds():
    """threshold_high/soft/hard/low of policy.conf: fractions of the budget."""
    found = {}
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "policy.conf")) as f:
        for line in f:
            m = re.match(r"\s*threshold_(high|soft|hard|low)\s*=\s*([0-9.]+)", line)
            if m:
                found[m.group(1)] = float(m.group(2))
    return found["high"], found["soft"], found["hard"], found["low"]


HIGH, SOFT, HARD, LOW = policy_thresholds()
IN_SOFT = (SOFT + HARD) / 2
IN_HARD = (HARD + LOW) / 2


def swap_checks(h, g, agent, rss0, swap0, host_swap0):
    """Host swap really happened and matched what the policy decided."""
    c = h.check
    rss1, swap1 = g.usage()
    host_swap1 = host_swap_used()[0]
    decided = sum(v["swap"] for _, v in agent.vm_ticks(g.name))
    paged = sum(v["paged_out"] for _, v in agent.vm_ticks(g.name))
    log("%s: rss %s -> %s, guest RAM in host swap %s -> %s, host swap used %s -> %s; "
        "decided swap %s, paged out %s" % (
            g.name, mib(rss0), mib(rss1), mib(swap0), mib(swap1),
            mib(host_swap0), mib(host_swap1), mib(decided), mib(paged)))
    c(decided >= 16 * MiB, "%s: the policy decided to host-swap (%s)" % (g.name, mib(decided)))
    grown = swap1 - swap0
    c(abs(grown - decided) <= 0.15 * decided + 4 * MiB,
      "%s: its RAM in host swap rose by %s, about the decided %s" %
      (g.name, mib(grown), mib(decided)))
    c(abs((host_swap1 - host_swap0) - decided) <= 0.25 * decided + 16 * MiB,
      "host swap usage rose by %s, about the decided %s" %
      (mib(host_swap1 - host_swap0), mib(decided)))
    c(rss0 - rss1 >= 0.8 * decided - 4 * MiB,
      "%s: resident guest RAM fell by %s" % (g.name, mib(rss0 - rss1)))


# ---- the tests ----

def test_idle_tax(h):
    """Soft state, equal shares: the idle guest gives more."""
    c = h.check
    idle, busy = Guest(h, "idle"), Guest(h, "busy")
    h.boot(idle, busy)
    # The idle guest touched 160 MiB once and freed it: resident on the host,
    # unused by the guest (the paper's Fig. 7 VM1). The busy one keeps
    # touching 300 MiB. The idle guest is cheaper until it is down to about a
    # quarter of the busy one's cost, then both give.
    idle.run("memhog -s 0.5 160 > /dev/console 2>&1", timeout=120)
    busy.memhog(300, "-t")
    time.sleep(2)
    rss0 = {g.name: g.usage()[0] for g in (idle, busy)}
    consumed = sum(rss0.values())
    budget = budget_for(consumed, HARD + 0.02)
    log("before: idle rss %s, busy rss %s, budget %s" %
        (mib(rss0["idle"]), mib(rss0["busy"]), mib(budget)))
    agent = Agent(h, "idle-tax", [idle, busy], budget, duration=18).run()
    log("--explain excerpt:\n" + agent.excerpt(9))

    rss1 = {g.name: g.usage()[0] for g in (idle, busy)}
    free1 = budget - sum(rss1.values())
    log("after: idle rss %s, busy rss %s, free %s (high threshold %s)" %
        (mib(rss1["idle"]), mib(rss1["busy"]), mib(free1), mib(HIGH * budget)))
    c(agent.rc == 0, "agent exited cleanly")
    c(agent.ticks and agent.ticks[0]["state"] == "soft",
      "the budget put the host in the soft state (%s)" %
      (agent.ticks[0]["state"] if agent.ticks else "no ticks"))
    # What each guest is asked to give at the first decision: its
    # consumption less its target (the water level with the idle tax).
    first = {v["name"]: v for v in agent.ticks[0]["vms"]}
    give = {name: max(0, first[name]["consumed"] - first[name]["target"])
            for name in ("idle", "busy")}
    log("first decision: idle gives %s, busy gives %s" %
        (mib(give["idle"]), mib(give["busy"])))
    c(give["busy"] >= 8 * MiB, "the busy guest gives its share too")
    c(give["idle"] > 2 * give["busy"] + 16 * MiB,
      "idle tax: the idle guest gives more than twice the busy one's share")
    peak = {}
    for name in ("idle", "busy"):
        vt = agent.vm_ticks(name)
        peak[name] = (max(v["balloon_target"] for _, v in vt), max(v["balloon"] for _, v in vt))
        log("%s: largest balloon target %s, largest balloon reached %s" %
            (name, mib(peak[name][0]), mib(peak[name][1])))
        c(peak[name][1] >= peak[name][0] - MiB,
          "%s: its balloon reached its largest target" % name)
    act = {name: max(v["active"] for _, v in agent.vm_ticks(name)[-4:]) for name in rss0}
    c(act["busy"] > 4 * act["idle"],
      "active memory: busy %s, idle %s" % (mib(act["busy"]), mib(act["idle"])))
    # The policy aims exactly at the high threshold, less what a guest's
    # own balloon cap holds back: a guest's report limits how its share is
    # taken, never makes the other give more (the hard state host-swaps
    # it). A balloon inflating into guest pages that were never resident
    # frees nothing on the host, so the busy guest's share may stay held.
    # Allow the guests' own kernels a little noise.
    held = 0
    for v in agent.ticks[-1]["vms"]:
        if v["balloon_limit"] == "guest" and v["balloon"] >= v["balloon_cap"] - MiB:
            held += max(0, v["consumed"] - v["target"])
    need = agent.ticks[0]["need"]
    c(held <= need / 2, "the guest caps held back %s, less than half the need" % mib(held))
    c(sum(rss1.values()) <= consumed - 0.8 * (need - held),
      "the QEMU processes' resident memory fell by the need of %s less that (%s -> %s)" %
      (mib(need), mib(consumed), mib(sum(rss1.values()))))
    c(rss0["idle"] - rss1["idle"] >= 0.8 * give["idle"],
      "the idle guest gave its share (%s of %s)" %
      (mib(rss0["idle"] - rss1["idle"]), mib(give["idle"])))
    c(free1 >= HIGH * budget - 2 * MiB - held,
      "the host is back at the high threshold, but for what the guest caps hold back")
    c(agent.ticks[-1]["state"] == "high", "the policy says high at the end")
    c(not idle.oom() and not busy.oom(), "no guest OOM")


def test_hard_swap(h):
    """Hard state, balloon capped: host swap makes up the rest."""
    c = h.check
    g = Guest(h, "vm")
    h.boot(g)
    pid = g.memhog(300)
    time.sleep(1)
    rss0, swap0 = g.usage()
    host_swap0 = host_swap_used()[0]
    budget = budget_for(rss0, IN_HARD)
    agent = Agent(h, "hard", [g], budget, vm_extra={"vm": "balloon-cap=16M"},
                  duration=10).run()
    log("--explain excerpt:\n" + agent.excerpt(6))
    c(agent.rc == 0, "agent exited cleanly")
    c(agent.ticks and agent.ticks[0]["state"] == "hard", "the host starts in the hard state")
    c(max(v["balloon"] for _, v in agent.vm_ticks("vm")) <= 16 * MiB + 4096,
      "the balloon stayed within its 16 MiB cap")
    swap_checks(h, g, agent, rss0, swap0, host_swap0)
    rss1 = g.usage()[0]
    c(budget - rss1 >= HARD * budget, "free memory is back above the hard threshold")
    c(g.alive(pid) and not g.oom(), "the workload survived, no guest OOM")


def test_low_block(h):
    """Low state: the whole excess is host-swapped at once and the VM is
    blocked (QMP stop) until it is back under its target."""
    c = h.check
    g = Guest(h, "vm")
    h.boot(g)
    pid = g.memhog(300)
    time.sleep(1)
    rss0, swap0 = g.usage()
    host_swap0 = host_swap_used()[0]
    budget = budget_for(rss0, LOW / 2)
    agent = Agent(h, "low", [g], budget, duration=8).start()
    seen = set()
    while agent.proc.poll() is None:
        seen.add(g.qmp.cmd("query-status")["status"])
        time.sleep(0.05)
    agent.wait()
    log("--explain excerpt:\n" + agent.excerpt(6))
    vt = agent.vm_ticks("vm")
    c(agent.rc == 0, "agent exited cleanly")
    c(vt and vt[0][0]["state"] == "low", "the host starts in the low state")
    c(vt and vt[0][1]["block"] == 1 and vt[0][1]["swap"] >= vt[0][1]["excess"],
      "first decision: block, and host-swap the whole excess (%s)" %
      (mib(vt[0][1]["swap"]) if vt else "-"))
    c("paused" in seen, "QEMU reported the guest paused while blocked")
    c(any(v["block"] == 0 for _, v in vt[1:]), "a later decision unblocked it")
    c(g.qmp.cmd("query-status")["status"] == "running", "the guest runs again")
    swap_checks(h, g, agent, rss0, swap0, host_swap0)
    c(g.alive(pid) and not g.oom(), "the workload survived, no guest OOM")


def start_cap_guest(h):
    """A guest without swap with most of its memory in use, by a program
    that also keeps allocating a little (8 MiB every 100 ms)."""
    g = Guest(h, "vm")
    h.boot(g)
    pid = g.memhog(340, "-c 8")
    time.sleep(1)
    return g, pid


def test_guest_cap(h):
    """Defaults: the balloon never pushes a swapless guest into OOM."""
    c = h.check
    g, pid = start_cap_guest(h)
    rss0 = g.usage()[0]
    budget = budget_for(rss0, IN_SOFT)
    soft = Agent(h, "soft", [g], budget, duration=10).run()
    c(soft.ticks and soft.ticks[0]["state"] == "soft", "phase 1: soft state")
    vt = soft.vm_ticks("vm")
    c(all(v["balloon_limit"] == "guest" for _, v in vt),
      "phase 1: the guest's free memory capped the balloon")
    c(all("balloon_capped" in v["reasons"] for _, v in vt[1:]) and
      all("shortfall" in t["summary_flags"] for t in soft.ticks[1:]),
      "phase 1: the plan says it falls short (balloon capped, shortfall)")
    c(all(v["balloon_target"] <= v["balloon_cap"] for _, v in vt),
      "phase 1: every balloon target was within that tick's cap")
    c(max(v["balloon"] for _, v in vt) <= max(v["balloon_cap"] for _, v in vt) + MiB,
      "phase 1: the balloon stayed within the cap (at most %s)" %
      mib(max(v["balloon_cap"] for _, v in vt)))
    c(not g.oom() and g.alive(pid), "phase 1: no guest OOM, workload alive")

    rss1, swap1 = g.usage()
    host_swap1 = host_swap_used()[0]
    budget = budget_for(rss1, IN_HARD)
    hard = Agent(h, "hard", [g], budget, duration=10).run()
    log("--explain excerpt:\n" + hard.excerpt(6))
    c(hard.ticks and hard.ticks[0]["state"] == "hard", "phase 2: hard state")
    swap_checks(h, g, hard, rss1, swap1, host_swap1)
    c(not g.oom() and g.alive(pid), "phase 2: no guest OOM, workload alive")
    c(soft.rc == 0 and hard.rc == 0, "agent exited cleanly")


def test_guest_swap(h):
    """The same workload in a guest with 256 MiB of swap: the cap counts the
    guest's free swap, so its balloon goes deeper than free memory alone
    allows and the guest pages out to its own disk, still without OOM."""
    c = h.check
    g = Guest(h, "vm", swap_mib=256)
    h.boot(g)
    pid = g.memhog(340, "-c 8")
    time.sleep(1)
    rss0 = g.usage()[0]
    budget = budget_for(rss0, HARD + 0.02)
    agent = Agent(h, "swap", [g], budget, duration=10).run()
    log("--explain excerpt:\n" + agent.excerpt(4))
    vt = agent.vm_ticks("vm")
    c(agent.rc == 0, "agent exited cleanly")
    c(vt and vt[0][0]["state"] == "soft", "soft state")
    first = vt[0][1] if vt else {"guest_free": 0, "guest_swap_free": 0}
    c(first["guest_swap_free"] >= 200 * MiB,
      "the policy saw the guest's free swap (%s)" % mib(first["guest_swap_free"]))
    without_swap = first["guest_free"] - 64 * MiB  # the cap a swapless guest gets
    peak = max(v["balloon"] for _, v in vt) if vt else 0
    c(peak > without_swap + 16 * MiB,
      "the balloon reached %s, beyond free memory minus margin (%s)" %
      (mib(peak), mib(without_swap)))
    rc, out = g.run("awk '/^pswpout/ {print $2}' /proc/vmstat")
    c(rc == 0 and int(out.split()[0]) > 0, "the guest swapped to its own disk (%s pages)" %
      out.strip())
    c(not g.oom() and g.alive(pid), "no guest OOM, workload alive")


def oom_run(h, tag, config):
    c = h.check
    g, pid = start_cap_guest(h)
    rss0 = g.usage()[0]
    budget = budget_for(rss0, IN_SOFT)
    agent = Agent(h, tag, [g], budget, config_extra=config, duration=15).start()
    deadline = time.monotonic() + 25
    while time.monotonic() < deadline and not g.oom() and agent.proc.poll() is None:
        time.sleep(0.2)
    oom = g.oom()
    agent.proc.send_signal(signal.SIGTERM)
    agent.wait()
    vt = agent.vm_ticks("vm")
    c(vt and vt[0][0]["state"] == "soft", "soft state")
    big = max(v["balloon_target"] for _, v in vt) if vt else 0
    log("largest balloon target %s; guest console:\n%s" % (
        mib(big), "\n".join(l for l in g.console().split("\n") if "Out of memory" in l)))
    c(oom, "the guest's OOM killer ran (\"Out of memory\" on its console)")
    deadline = time.monotonic() + 10
    while g.alive(pid) and time.monotonic() < deadline:
        time.sleep(0.5)  # a killed task may take a moment to exit
    c(not g.alive(pid), "it killed the workload")


def test_no_cap_oom(h):
    """The same guest with only the guest cap turned off: OOM."""
    oom_run(h, "no-cap", "no_guest_cap = yes")


def test_paper_oom(h):
    """The same guest under the paper's literal profile: OOM."""
    oom_run(h, "paper", "profile = paper")


def test_limit(h):
    """A VM over its limit on an idle host is reclaimed down to it, and
    carries on when the other guest disappears."""
    c = h.check
    over, other = Guest(h, "over"), Guest(h, "other")
    h.boot(over, other)
    over.run("memhog -s 0.5 300 > /dev/console 2>&1", timeout=120)
    time.sleep(1)
    rss0 = over.usage()[0]
    limit = 256 * MiB
    budget = 8192 * MiB
    agent = Agent(h, "limit", [over, other], budget, vm_extra={"over": "limit=256M"},
                  duration=16).start()
    time.sleep(2 + 3)  # the 2 s warm-up, then 3 s of decisions
    other.kill()
    agent.wait()
    rss1 = over.usage()[0]
    log("--explain excerpt:\n" + agent.excerpt(8))
    log("over: rss %s -> %s (limit %s)" % (mib(rss0), mib(rss1), mib(limit)))
    c(agent.rc == 0, "agent exited cleanly")
    c(rss0 > limit + 64 * MiB, "the VM started well over its limit")
    c(all(t["state"] == "high" for t in agent.ticks), "the host stayed in the high state")
    vt = agent.vm_ticks("over")
    c(any("limit" in v["reasons"] for _, v in vt), "reasons say limit")
    c(rss1 <= limit + 2 * MiB, "resident memory is down to the limit")
    m = re.search(r"t=([-0-9.]+) other: gone \(", agent.output)
    c(m is not None, "the agent saw 'other' go")
    gone = float(m.group(1)) if m else 0.0
    names = [[v["name"] for v in t["vms"]] for t in agent.ticks]
    # The message's time is rounded to 10 ms: half a tick tells them apart.
    before = [n for t, n in zip(agent.ticks, names) if t["t"] < gone - 0.25]
    after = [n for t, n in zip(agent.ticks, names) if t["t"] > gone - 0.25]
    c(before and all(n == ["over", "other"] for n in before),
      "before that, both guests were decided (%d ticks)" % len(before))
    c(len(after) >= 16 and all(n == ["over"] for n in after),
      "after it, the agent carried on with 'over' alone (%d ticks)" % len(after))


def no_driver_run(h, tag, config):
    g = Guest(h, "vm", balloon_driver=False)
    h.boot(g)
    pid = g.memhog(300)
    time.sleep(1)
    rss0, swap0 = g.usage()
    host_swap0 = host_swap_used()[0]
    budget = budget_for(rss0, IN_HARD)
    agent = Agent(h, tag, [g], budget, config_extra=config, duration=12).run()
    log("--explain excerpt:\n" + agent.excerpt(8))
    c = h.check
    c(agent.rc == 0, "agent exited cleanly")
    c(agent.ticks and agent.ticks[0]["state"] == "hard", "the host starts in the hard state")
    c(g.balloon() == 0, "the balloon never moved (no driver in the guest)")
    c(g.alive(pid), "the workload is alive")
    return g, agent, rss0, swap0, host_swap0


def test_no_driver(h):
    """No balloon driver: no guest stats, so no ballooning; host swap."""
    c = h.check
    g, agent, rss0, swap0, host_swap0 = no_driver_run(h, "no-driver", "")
    vt = agent.vm_ticks("vm")
    c(all("stale" in v["reasons"] and not v["stats"] for _, v in vt),
      "every decision says stale (the guest never reported stats)")
    c(all(v["balloon_target"] == 0 for _, v in vt), "no balloon was asked for")
    swap_checks(h, g, agent, rss0, swap0, host_swap0)


def test_no_driver_unresponsive(h):
    """No balloon driver, cap off so the balloon is asked: it is found
    unresponsive and host swap takes its share."""
    c = h.check
    g, agent, rss0, swap0, host_swap0 = no_driver_run(
        h, "unresponsive", "no_guest_cap = yes\nballoon_window_ns = 2s")
    vt = agent.vm_ticks("vm")
    c(vt and vt[0][1]["balloon_target"] > 0, "the policy first asked the balloon (%s)" %
      (mib(vt[0][1]["balloon_target"]) if vt else "-"))
    first = next((t["t"] for t, v in vt if "unresponsive" in v["reasons"]), None)
    c(first is not None and first >= 2.0,
      "it declared the balloon unresponsive after the 2 s window (t=%s)" % first)
    later = [v for t, v in vt if first is not None and t["t"] >= first]
    c(later and all(v["balloon_target"] == 0 for v in later),
      "from then on the balloon target is its actual size (0)")
    c(first is not None and
      sum(v["swap"] for v in later) >= 8 * MiB,
      "host swap took over the balloon's share (%s)" % mib(sum(v["swap"] for v in later)))
    swap_checks(h, g, agent, rss0, swap0, host_swap0)


TESTS = {
    "idle-tax": test_idle_tax,
    "hard-swap": test_hard_swap,
    "low-block": test_low_block,
    "guest-cap": test_guest_cap,
    "guest-swap": test_guest_swap,
    "no-cap-oom": test_no_cap_oom,
    "paper-oom": test_paper_oom,
    "limit": test_limit,
    "no-driver": test_no_driver,
    "no-driver-unresponsive": test_no_driver_unresponsive,
}
NEEDS_HOST_SWAP = {"hard-swap", "low-block", "guest-cap", "limit", "no-driver",
                   "no-driver-unresponsive"}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--agent", required=True)
    p.add_argument("--memhog", required=True)
    p.add_argument("--src", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("test", choices=sorted(TESTS))
    args = p.parse_args()

    h = Harness(args)
    start = time.monotonic()
    skipped = None
    try:
        with contextlib.ExitStack() as stack:
            h.prerequisites()
            if args.test in NEEDS_HOST_SWAP:
                stack.enter_context(HostSwap(os.path.join(h.work, "host.swap")))
            # Guests go before the swap file does: swapoff would otherwise
            # read their swapped RAM back in.
            stack.callback(h.cleanup)
            TESTS[args.test](h)
    except Skip as e:
        skipped = str(e)
    except Exception as e:
        log("FAIL %s: %s" % (type(e).__name__, e))
        h.check.failed += 1
    if skipped is not None:
        log("SKIP: %s" % skipped)
        return 1 if os.environ.get("E2E_REQUIRE") == "1" else 77
    log("%s: %s in %.1f s" % (args.test, "FAILED" if h.check.failed else "passed",
                              time.monotonic() - start))
    return 1 if h.check.failed else 0

if __name__ == "__main__":
    sys.exit(main())
