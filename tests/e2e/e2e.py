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


class ZramSwap:
    """A zram swap device of our own for the duration of a test, used before
    any other swap (highest priority). Pages pushed to a swap file stay in
    RAM as swap cache until memory runs short and come back with minor
    faults, so on an idle host random page-out would cost nothing; a
    synchronous device frees them at once, as a host short of memory
    would, and a page swapped back in is a major fault."""

    CTL = "/sys/class/zram-control"

    def __init__(self, size=1024 * MiB):
        self.size = size
        self.id = None

    def __enter__(self):
        if os.geteuid() != 0:
            raise Skip("a zram swap device needs root")
        if not os.path.isdir(self.CTL):
            subprocess.run(["modprobe", "zram", "num_devices=0"], stderr=subprocess.DEVNULL)
        if not os.path.isdir(self.CTL):
            raise Skip("no zram in this kernel (CONFIG_ZRAM)")
        with open(os.path.join(self.CTL, "hot_add")) as f:
            self.id = int(f.read())
        self.dev = "/dev/zram%d" % self.id
        with open("/sys/block/zram%d/disksize" % self.id, "w") as f:
            f.write(str(self.size))
        deadline = time.monotonic() + 5
        while not os.path.exists(self.dev) and time.monotonic() < deadline:
            time.sleep(0.05)
        subprocess.run(["mkswap", self.dev], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["swapon", "-p", "32767", self.dev], check=True)
        log("host: enabled %s zram swap %s" % (mib(self.size), self.dev))
        return self

    def __exit__(self, *exc):
        if self.id is None:
            return
        subprocess.run(["swapoff", self.dev])
        with open(os.path.join(self.CTL, "hot_remove"), "w") as f:
            f.write(str(self.id))
        log("host: removed zram swap")


def cgroup_mounts():
    """(mount point, root) of the v1 hierarchy with the memory controller and
    of cgroup2, None for those missing."""
    v1 = v2 = None
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, post = line.split(" - ", 1)
            root, point = pre.split()[3:5]
            fstype, _, opts = post.split()[:3]
            if fstype == "cgroup" and "memory" in opts.split(",") and v1 is None:
                v1 = (point, root)
            elif fstype == "cgroup2" and v2 is None:
                v2 = (point, root)
    return v1, v2


def own_cgroup_dir(pid="self"):
    """The memory cgroup directory of a process (v1 memory hierarchy, else
    cgroup2)."""
    v1, v2 = cgroup_mounts()
    paths = {}
    with open("/proc/%s/cgroup" % pid) as f:
        for line in f:
            hid, ctrls, path = line.rstrip("\n").split(":", 2)
            if "memory" in ctrls.split(","):
                paths[1] = path
            elif hid == "0" and ctrls == "":
                paths[2] = path
    for version, mnt in ((1, v1), (2, v2)):
        if mnt and version in paths:
            point, root = mnt
            rel = paths[version][len(root):] if root != "/" else paths[version]
            return version, point + rel.rstrip("/")
    return None, None


class MemCgroup:
    """A memory cgroup for one QEMU process, as libvirt (or systemd-run
    --scope) gives each VM: on cgroup v1 a child of ours, on cgroup v2 a
    child of the root (the one cgroup that may hold processes and hand the
    memory controller down)."""

    @classmethod
    def at(cls, path):
        """One that exists or will (to remove it at the end)."""
        cg = cls.__new__(cls)
        cg.path = path
        return cg

    def __init__(self, name):
        version, mine = own_cgroup_dir()
        v1, v2 = cgroup_mounts()
        if version == 1:
            self.path = os.path.join(mine, name)
        elif v2 and "memory" in open(os.path.join(v2[0], "cgroup.subtree_control")).read().split():
            self.path = os.path.join(v2[0], name)
        else:
            raise Skip("no memory cgroup controller to give QEMU a cgroup of its own")
        self.version = version if version == 1 else 2
        if os.path.isdir(self.path):
            os.rmdir(self.path)
        os.mkdir(self.path)

    def read(self, name):
        with open(os.path.join(self.path, name)) as f:
            return f.read()

    def keyed(self, name):
        return {k: int(v) for k, v in (l.split() for l in self.read(name).splitlines())}

    def write(self, name, value):
        with open(os.path.join(self.path, name), "w") as f:
            f.write(str(value))

    def remove(self):
        deadline = time.monotonic() + 10
        while os.path.isdir(self.path):
            try:
                os.rmdir(self.path)
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)


def majflt(pid):
    """Major page faults of a process so far (/proc/PID/stat field 12)."""
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(")", 1)[1].split()[9])


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
        self.events = []  # names of the events read so far, in order
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
                self.events.append(reply["event"])
                continue
            if "error" in reply:
                raise RuntimeError("%s: %s" % (name, reply["error"].get("desc")))
            return reply.get("return")

    def close(self):
        # (the file made of the socket holds its descriptor open too)
        self.file.close()
        self.sock.close()


class Guest:
    def __init__(self, h, name, mem_mib=GUEST_MIB, swap_mib=0, balloon_driver=True,
                 cgroup=None):
        self.h = h
        self.name = name
        self.cgroup = cgroup  # a memory cgroup directory QEMU starts in
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
        enter = None
        if self.cgroup:
            procs = os.path.join(self.cgroup, "cgroup.procs")

            def enter():
                with open(procs, "w") as f:
                    f.write(str(os.getpid()))
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=open(os.path.join(self.dir, "qemu.out"), "w"),
                                     stderr=subprocess.STDOUT, preexec_fn=enter)
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
                 duration=15, tick="500ms", ticks=None, extra=()):
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
                     "--config", conf, "--explain",
                     "--trace", self.trace_path, "--seed", "8",
                     # one active-memory sample period before deciding
                     "--warmup", "2s",
                     # cgroup v1 lru keeps its restore journal here, not in /run
                     "--state-dir", os.path.join(h.work, "state")]
        self.argv += ["--ticks", str(ticks)] if ticks else ["--duration", "%gs" % duration]
        self.argv += list(extra)
        for g in guests:
            spec = "name=%s,qmp=%s,guest-swap=%dM" % (g.name, g.agent_qmp, g.swap_mib)
            if vm_extra and g.name in vm_extra:
                spec += "," + vm_extra[g.name]
            self.argv += ["--vm", spec]
        self.budget = budget

    def start(self, wrap=()):
        log("agent %s: %s" % (self.tag, " ".join(self.argv)))
        self.proc = subprocess.Popen(list(wrap) + self.argv, stdout=open(self.out_path, "w"),
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
        self.cgroups = []
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
        for cg in self.cgroups:
            with contextlib.suppress(OSError):
                cg.remove()


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


def agent_blocking(h, g, tag, tick="3s"):
    """An agent started on a host in the low state, once it has stopped the
    guest (or after 30 s); and its budget. Its ticks are far enough apart
    that the guest stays stopped a while: the host-swap that comes with the
    block can bring the host out of the low state by the next tick, and
    while it pages out, QEMU may answer no query until it is done."""
    budget = budget_for(g.usage()[0], LOW / 2)
    agent = Agent(h, tag, [g], budget, duration=60, tick=tick).start()
    deadline = time.monotonic() + 30
    while (time.monotonic() < deadline and agent.proc.poll() is None and
           g.qmp.cmd("query-status")["status"] != "paused"):
        time.sleep(0.05)
    return agent, budget


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
    events = len(g.qmp.events)
    while agent.proc.poll() is None:
        seen.add(g.qmp.cmd("query-status")["status"])
        time.sleep(0.05)
    # QEMU tells every QMP client when it stops: a pause shorter than the
    # poll (the page-out can hold QEMU's replies that long) still counts.
    if "STOP" in g.qmp.events[events:]:
        seen.add("paused")
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

    # An agent killed while the guest is stopped leaves it stopped; the
    # next one to start resumes it (the first left a record of it).
    killed, budget = agent_blocking(h, g, "low-killed")
    killed.proc.kill()
    killed.proc.wait()
    time.sleep(0.5)
    c(g.qmp.cmd("query-status")["status"] == "paused",
      "an agent killed while the guest was blocked left it stopped")
    after = Agent(h, "after-kill", [g], budget * 4, ticks=1).run()
    log("after the kill:\n" + after.output[:600])
    c("stopped by an earlier agent: resumed" in after.output,
      "the next agent resumed the guest the killed one left stopped")
    c(g.qmp.cmd("query-status")["status"] == "running", "and the guest runs")
    c(g.alive(pid) and not g.oom(), "the workload survived that too")

    # A guest someone else paused (an operator here; QEMU's -S and
    # migrations alike) is blocked as it is, and never resumed by the agent.
    g.qmp.cmd("stop")
    budget = budget_for(g.usage()[0], LOW / 2)
    theirs = Agent(h, "low-theirs", [g], budget, duration=4).start().wait()
    vt = theirs.vm_ticks("vm")
    c(vt and vt[0][1]["block"] == 1, "the policy blocks the guest the operator paused")
    c("QEMU says it is paused already: left as it is" in theirs.output,
      "the agent leaves the operator's pause as it is")
    c(g.qmp.cmd("query-status")["status"] == "paused",
      "the guest is still paused after the agent exits")

    # A record for this socket whose QEMU is another process (the one it
    # names is gone, and this one listens on the path now) is not acted on.
    state = os.path.join(h.work, "state")
    fnv = 14695981039346656037
    for ch in g.agent_qmp.encode():
        fnv = ((fnv ^ ch) * 1099511628211) % (1 << 64)
    with open(os.path.join(state, "paused-%016x" % fnv), "w") as f:
        f.write("%s\n1 1\n" % g.agent_qmp)
    other = Agent(h, "low-other-qemu", [g], budget * 4, ticks=1).run()
    c("another listens there now, not ours" in other.output,
      "a record of another QEMU is dropped: %s" % other.output[:300])
    c(g.qmp.cmd("query-status")["status"] == "paused", "and the guest stays paused")
    g.qmp.cmd("cont")
    c(g.alive(pid) and not g.oom(), "the workload survived the operator's pause")


def record_path(h, qmp_path):
    """Where the agent records that it stopped the guest behind @qmp_path."""
    fnv = 14695981039346656037
    for ch in qmp_path.encode():
        fnv = ((fnv ^ ch) * 1099511628211) % (1 << 64)
    return os.path.join(h.work, "state", "paused-%016x" % fnv)


def qemu_start_time(pid):
    """/proc/PID/stat's start time, as the agent's records hold it."""
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(")", 1)[1].split()[19])


def write_record(h, qmp_path, pid):
    """The record an agent writes when it stops the guest behind
    @qmp_path: the path, then the pid and start time of QEMU @pid."""
    with open(record_path(h, qmp_path), "w") as f:
        f.write("%s\n%d %d\n" % (qmp_path, pid, qemu_start_time(pid)))


def state_dir(h):
    """The agents' state directory (--state-dir), made as the agent wants
    it: 0700."""
    state = os.path.join(h.work, "state")
    os.makedirs(state, mode=0o700, exist_ok=True)
    os.chmod(state, 0o700)
    return state


def busy_monitor(path):
    """A connection that holds the QMP monitor at @path: QEMU serves one
    client at a time, and the next waits until this one closes."""
    busy = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    busy.connect(path)
    busy.settimeout(10)
    busy.recv(4096)  # the greeting: the monitor is ours
    return busy


def test_foreign_pause(h):
    """Pauses that are not the agent's stay: a record taken over while the
    monitor was busy that names another QEMU; a guest someone else resumed
    and paused again while the agent held it stopped. A record of a guest
    no --vm names, whose monitor is busy at start, is tried every tick."""
    c = h.check
    g = Guest(h, "vm")
    h.boot(g)
    os.makedirs(os.path.join(h.work, "state"), mode=0o700, exist_ok=True)

    # 1. A record for the agent's socket naming a QEMU long gone, the
    # guest paused by its operator, and the monitor busy while the agent
    # starts: the record cannot be checked then, and is taken over; the
    # QEMU the agent attaches to is another, so the pause is not its own.
    with open(record_path(h, g.agent_qmp), "w") as f:
        f.write("%s\n1 1\n" % g.agent_qmp)
    g.qmp.cmd("stop")
    busy = busy_monitor(g.agent_qmp)
    agent = Agent(h, "taken-over", [g], 64 << 30, duration=6).start()
    deadline = time.monotonic() + 20
    while ("still stopped" not in open(agent.out_path).read() and
           time.monotonic() < deadline and agent.proc.poll() is None):
        time.sleep(0.1)
    busy.close()
    agent.wait()
    log("taken over:\n" + agent.output[:700])
    c("stopped by an earlier agent, still stopped" in agent.output,
      "the record could not be checked while the monitor was busy")
    c("its QEMU is gone; another listens there now, not ours" in agent.output,
      "attached, the agent found another QEMU than the record's")
    c(g.qmp.cmd("query-status")["status"] == "paused",
      "the operator's pause stays (%s)" % g.qmp.cmd("query-status")["status"])
    c(not os.path.exists(record_path(h, g.agent_qmp)), "and the record is gone")
    g.qmp.cmd("cont")

    # 2. Stopped by the agent; then resumed and paused again by someone
    # else (a snapshot, say) before the agent exits: that pause is theirs.
    pid = g.memhog(200)
    time.sleep(1)
    agent, _ = agent_blocking(h, g, "theirs-since")
    c(g.qmp.cmd("query-status")["status"] == "paused", "the agent stopped the guest")
    g.qmp.cmd("cont")
    g.qmp.cmd("stop")
    agent.proc.terminate()
    agent.wait()
    log("theirs since:\n" + agent.output[-500:])
    c("resumed by someone else since we stopped it" in agent.output,
      "the agent saw someone else resume the guest it had stopped")
    c(g.qmp.cmd("query-status")["status"] == "paused",
      "their pause stays after the agent exits")
    g.qmp.cmd("cont")

    # 3. A record of a guest that no --vm names (here: the test's own
    # monitor, which it holds, so the agent cannot get through at start),
    # stopped by an earlier agent: resumed on a later tick, once the
    # monitor is free.
    g.qmp.cmd("stop")
    ctl = os.path.join(g.dir, "ctl.sock")
    write_record(h, ctl, g.proc.pid)
    agent = Agent(h, "leftover", [g], 64 << 30, duration=15).start()
    deadline = time.monotonic() + 20
    while ("trying again every tick" not in open(agent.out_path).read() and
           time.monotonic() < deadline and agent.proc.poll() is None):
        time.sleep(0.1)
    g.qmp.close()
    deadline = time.monotonic() + 20
    while (os.path.exists(record_path(h, ctl)) and time.monotonic() < deadline and
           agent.proc.poll() is None):
        time.sleep(0.2)
    agent.proc.terminate()
    agent.wait()
    g.qmp = QMP(ctl)
    log("leftover:\n" + agent.output[:700])
    c("trying again every tick" in agent.output, "the monitor was busy at start")
    c(g.qmp.cmd("query-status")["status"] == "running",
      "the guest an earlier agent stopped was resumed on a later tick")
    c(not os.path.exists(record_path(h, ctl)), "and its record is gone")
    c(g.alive(pid) and not g.oom(), "the workload survived")


def agent_qmp_fd(agent):
    """The agent's one unix socket: its QMP connection to the one guest."""
    fds = "/proc/%d/fd" % agent.proc.pid
    socks = [int(fd) for fd in os.listdir(fds)
             if os.readlink(os.path.join(fds, fd)).startswith("socket:")]
    return socks[0] if len(socks) == 1 else None


def test_low_block_reconnect(h):
    """A blocked guest whose QMP connection breaks while its monitor is busy
    is resumed through a new connection once the monitor answers again, and
    the agent does not leave while it is stopped."""
    c = h.check
    g = Guest(h, "vm")
    h.boot(g)
    pid = g.memhog(300)
    time.sleep(1)
    agent, _ = agent_blocking(h, g, "low-reconnect")
    c(g.qmp.cmd("query-status")["status"] == "paused", "the agent blocked the guest")
    fd = agent_qmp_fd(agent)
    c(fd is not None, "the agent has one QMP connection")
    # Queued first on the monitor, this connection is the one QEMU greets
    # when the agent's goes: the monitor is busy for the agent until it
    # closes. The agent's connection is then cut from its own side.
    busy = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    busy.connect(g.agent_qmp)
    subprocess.run(["gdb", "-p", str(agent.proc.pid), "-batch", "-nx",
                    "-ex", "call (int)shutdown(%d, 2)" % fd], capture_output=True, timeout=60)
    busy.settimeout(10)
    greeting = busy.recv(4096)
    time.sleep(8)
    c(g.qmp.cmd("query-status")["status"] == "paused",
      "the guest stays paused while the monitor is busy")
    c(agent.proc.poll() is None, "the agent stays while a guest it stopped is stopped")
    busy.close()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and agent.proc.poll() is None:
        time.sleep(0.1)
    if agent.proc.poll() is None:
        agent.proc.terminate()
    agent.wait()
    log("--explain excerpt:\n" + agent.output[-1500:])
    c(b"QMP" in greeting, "QEMU greeted the connection that kept its monitor busy")
    c("stopped by us and not resumed yet" in agent.output,
      "the agent could not resume the guest at once, and said so")
    out = agent.output
    c("vm: resumed" in out and "no guests left" in out and
      out.index("vm: resumed") < out.index("no guests left"),
      "it resumed the guest through a new connection, then left")
    c(agent.rc == 0, "agent exited cleanly (%d)" % agent.rc)
    c(g.qmp.cmd("query-status")["status"] == "running", "the guest runs")
    c(g.alive(pid) and not g.oom(), "the workload survived")


def test_hung_monitor(h):
    """A QEMU whose monitor stops answering (the process stopped here) is
    dropped after three commands without an answer, instead of holding
    every tick for a timeout per command until the agent's end."""
    c = h.check
    g = Guest(h, "vm")
    h.boot(g)
    agent = Agent(h, "hung", [g], 64 << 30, duration=60).start()
    time.sleep(4)
    os.kill(g.proc.pid, signal.SIGSTOP)
    t0 = time.monotonic()
    try:
        agent.wait(timeout=90)
    finally:
        os.kill(g.proc.pid, signal.SIGCONT)
    took = time.monotonic() - t0
    log("agent output:\n" + agent.output[-800:])
    c("vm: gone (QMP stopped answering)" in agent.output,
      "the agent dropped the guest whose monitor stopped answering")
    c(took < 40, "and left well before its 60 s (%.1f s after the stop)" % took)
    c(agent.rc == 0, "agent exited cleanly (%d)" % agent.rc)
    c(g.qmp.cmd("query-status")["status"] == "running", "the guest runs on")

    # Asked to leave while it waits on that monitor, the agent does not
    # wait out the command's timeout (5 s, three times over).
    agent, took = leave_while_stopped(h, g, "hung-leave", stop_first=False)
    c(took < 2.5, "SIGTERM cut the wait on the stopped QEMU short: left %.1f s after it" % took)
    c(agent.rc == 0, "agent exited cleanly (%d)" % agent.rc)
    c(g.qmp.cmd("query-status")["status"] == "running", "the guest runs on")

    # The same while it attaches: the stopped QEMU's socket accepts, and
    # its greeting never comes.
    agent, took = leave_while_stopped(h, g, "hung-attach", stop_first=True)
    c(took < 2.5 and agent.rc == 0,
      "SIGTERM while attaching to it: left %.1f s after it, exit %d" % (took, agent.rc))
    c("canceled" not in agent.output, "saying no error for the attach it cut short")


def leave_while_stopped(h, g, tag, stop_first):
    """Stops g's QEMU before an agent for it starts (it is attaching then),
    or 4 s after (it is ticking), asks the agent to leave 1.5 s after both,
    and resumes the QEMU; returns the agent, waited for, and how long it
    took to leave."""
    agent = None if stop_first else Agent(h, tag, [g], 64 << 30, duration=60).start()
    if agent is not None:
        time.sleep(4)
    os.kill(g.proc.pid, signal.SIGSTOP)
    try:
        if agent is None:
            agent = Agent(h, tag, [g], 64 << 30, duration=60).start()
        time.sleep(1.5)  # a tick comes every 0.5 s: it is waiting by now
        t0 = time.monotonic()
        agent.proc.terminate()
        agent.wait(timeout=60)
        took = time.monotonic() - t0
    finally:
        os.kill(g.proc.pid, signal.SIGCONT)
    log("agent output:\n" + agent.output[-800:])
    return agent, took


def test_exit_resumes(h):
    """On exit the agent resumes every guest it stopped at once: one whose
    QEMU does not answer (the process stopped here) holds up no other. It
    keeps the record of that one, and the next agent resumes it."""
    c = h.check
    hung, other = Guest(h, "hung"), Guest(h, "other")
    h.boot(hung, other)
    pids = {g.name: g.memhog(250) for g in (hung, other)}
    time.sleep(1)
    budget = budget_for(hung.usage()[0] + other.usage()[0], LOW / 2)
    # Ticks far apart: the guests stay stopped between the first and the
    # second. The hung guest is listed first, so it would be resumed first.
    agent = Agent(h, "exit-both", [hung, other], budget, duration=120, tick="30s").start()
    deadline = time.monotonic() + 60
    both = False
    while time.monotonic() < deadline and agent.proc.poll() is None and not both:
        both = all(g.qmp.cmd("query-status")["status"] == "paused" for g in (hung, other))
        time.sleep(0.1)
    c(both, "the agent stopped both guests")
    os.kill(hung.proc.pid, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        agent.proc.terminate()
        while (time.monotonic() - t0 < 30 and
               other.qmp.cmd("query-status")["status"] != "running"):
            time.sleep(0.05)
        resumed = time.monotonic() - t0
        agent.wait(timeout=60)
        left = time.monotonic() - t0
    finally:
        os.kill(hung.proc.pid, signal.SIGCONT)
    log("agent output:\n" + agent.output[-1200:])
    c(resumed < 2.5, "the answering guest ran again %.1f s after SIGTERM" % resumed)
    c("other: on exit: resumed" in agent.output, "the agent says it resumed it")
    c(left < 20, "the agent left %.1f s after SIGTERM, a timeout or two for the hung one" % left)
    c(agent.rc == 3 and "hung: still stopped" in agent.output,
      "it exited 3, saying the hung guest is still stopped (%d)" % agent.rc)
    c(os.path.exists(record_path(h, hung.agent_qmp)), "and kept its record")
    c(hung.qmp.cmd("query-status")["status"] == "paused", "the hung guest is still paused")
    after = Agent(h, "exit-after", [hung, other], budget * 4, ticks=1).run()
    log("the next agent:\n" + after.output[:600])
    c("stopped by an earlier agent: resumed" in after.output,
      "the next agent resumed the guest left stopped")
    c(all(g.qmp.cmd("query-status")["status"] == "running" for g in (hung, other)),
      "both guests run")
    c(all(g.alive(pids[g.name]) and not g.oom() for g in (hung, other)),
      "both workloads survived, no guest OOM")


def test_resume_at_once(h):
    """The records of guests an earlier agent left stopped are resumed all
    at once, at start, at each tick and on exit: QEMUs that do not answer
    (sockets that accept and never greet, four here) cost one timeout
    together, not one each, and hold up neither the guest that answers nor
    the agent's ticks."""
    c = h.check
    g = Guest(h, "vm")
    h.boot(g)
    state_dir(h)
    hung, paths = [], []
    for i in range(4):
        path = os.path.join(h.work, "hung-%d.sock" % i)
        paths.append(path)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(path)
        sock.listen(8)
        hung.append(sock)
        with open(record_path(h, path), "w") as f:
            f.write("%s\n1 1\n" % path)
    # The guest, stopped as an earlier agent stops it, with its record.
    g.qmp.cmd("stop")
    write_record(h, g.agent_qmp, g.proc.pid)
    try:
        t0 = time.monotonic()
        agent = Agent(h, "at-once", [g], 64 << 30, duration=8).start()
        ran = attached = None
        while agent.proc.poll() is None and time.monotonic() - t0 < 60:
            now = time.monotonic() - t0
            if ran is None and g.qmp.cmd("query-status")["status"] == "running":
                ran = now
            with open(agent.out_path) as f:
                if attached is None and "vm: QEMU pid" in f.read():
                    attached = now
            time.sleep(0.05)
        agent.wait(timeout=60)
        took = time.monotonic() - t0
    finally:
        for sock in hung:
            sock.close()
    log("agent output:\n" + agent.output[-1500:])
    c(ran is not None and ran < 2.5, "the guest that answers ran again %s s after the start" %
      ("%.1f" % ran if ran is not None else "never"))
    # One at a time, the four would take 5 s each before the guest is
    # attached, and 1 s each at every tick and on exit.
    c(attached is not None and attached < 8, "the agent attached its guest %s s after the "
      "start" % ("%.1f" % attached if attached is not None else "never"))
    c(len(agent.ticks) >= 4, "%d decisions in its 8 s while the four were tried at each tick" %
      len(agent.ticks))
    c(agent.output.count("the next agent resumes it") == 4 and agent.rc == 3,
      "on exit, the four still stopped, kept for the next agent, exit 3 (%d)" % agent.rc)
    c(took < 20, "start to exit in %.1f s" % took)
    c(all(os.path.exists(record_path(h, path)) for path in paths) and
      not os.path.exists(record_path(h, g.agent_qmp)),
      "their records kept, the guest's gone")
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(record_path(h, path))


class BareQemu:
    """A QEMU without a machine (no CPU, no guest), starting in a fraction
    of a second, with 64 MiB of RAM where the agent looks for it: a guest
    without a balloon driver that can be stopped and resumed. Two monitors,
    as Guest has: the test's (self.qmp) and the agent's (agent_qmp)."""

    def __init__(self, h, name):
        self.name = name
        self.swap_mib = 0
        self.path = os.path.join(h.work, "%s.sock" % name)
        self.agent_qmp = os.path.join(h.work, "%s-agent.sock" % name)
        for p in (self.path, self.agent_qmp):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(p)
        self.proc = subprocess.Popen(
            ["qemu-system-x86_64", "-machine", "none,memory-backend=mem", "-m", "64M",
             "-object", "memory-backend-memfd,id=mem,size=64M,share=on",
             "-nodefaults", "-display", "none",
             "-qmp", "unix:%s,server=on,wait=off" % self.path,
             "-qmp", "unix:%s,server=on,wait=off" % self.agent_qmp],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while not os.path.exists(self.agent_qmp) and time.monotonic() < deadline:
            time.sleep(0.02)
        self.qmp = QMP(self.path)

    def status(self):
        return self.qmp.cmd("query-status")["status"]

    def stop(self):
        with contextlib.suppress(Exception):
            self.qmp.close()
        self.proc.kill()
        self.proc.wait()


def test_two_agents(h):
    """Two agents started at the same moment over one state directory,
    which holds the records an earlier agent left of the guests it stopped:
    each record is taken by exactly one of them, each guest runs again, and
    no record is left. (The agent that reads a record holds it locked, and
    a record already resumed and removed is not taken again: the name must
    still hold the file that was locked.) Eight stopped QEMUs and 56 records
    of QEMUs that are gone, in several rounds, so that the two agents' reads
    meet in different places."""
    c = h.check
    state = state_dir(h)
    for f in os.listdir(state):  # (an earlier run's)
        os.unlink(os.path.join(state, f))
    gate = os.path.join(h.work, "gate")
    # Each agent waits for the gate, so that both start at once.
    wrap = ("sh", "-c", 'while [ ! -e "$0" ]; do :; done; exec "$@"', gate)
    qemus, own = [], []
    try:
        for i in range(8):  # (one by one: the finally below stops those started)
            qemus.append(BareQemu(h, "q%d" % i))
        for x in "ab":  # each agent's guest
            own.append(BareQemu(h, "own-%s" % x))
        gone = [os.path.join(h.work, "gone-%d.sock" % i) for i in range(56)]
        rounds, doubles, missed, left, bad_exit, shared = 8, [], [], [], [], 0
        for r in range(rounds):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(gate)
            for q in qemus:
                q.qmp.cmd("stop")
                write_record(h, q.agent_qmp, q.proc.pid)
            for path in gone:
                with open(record_path(h, path), "w") as f:
                    f.write(path)  # (as an agent that did not note the pid wrote it)
            agents = [Agent(h, "two-%d-%s" % (r, g.name), [g], 64 << 30, ticks=1,
                            extra=("--warmup", "0")) for g in own]
            for a in agents:
                a.start(wrap)
            time.sleep(0.2)
            open(gate, "w").close()
            for a in agents:
                a.wait(timeout=60)
                if a.rc != 0:
                    bad_exit.append("%s: %d" % (a.tag, a.rc))
            counts = [0, 0]
            for path, why in ([(q.agent_qmp, "resumed") for q in qemus] +
                              [(p, "its QEMU is gone") for p in gone]):
                took = [k for k, a in enumerate(agents)
                        if "%s: stopped by an earlier agent" % path in a.output]
                for k in took:
                    counts[k] += 1
                if len(took) > 1:
                    doubles.append(os.path.basename(path))
                elif (len(took) == 0 or "%s: stopped by an earlier agent: %s" % (path, why)
                      not in agents[took[0]].output):
                    missed.append("round %d %s" % (r, os.path.basename(path)))
            missed += ["round %d %s: %s" % (r, q.name, q.status()) for q in qemus
                       if q.status() != "running"]
            shared += all(counts)
            left += [f for f in os.listdir(state) if f.startswith("paused-")]
            log("round %d: records taken %d by one agent, %d by the other" % (r, *counts))
        # (How often both agents take records depends on the machine's
        # load; the order that needs the second check in the agent is
        # made on purpose in stale_record().)
        c(not doubles, "no record taken by both agents, in %d rounds where both took some (%s)"
          % (shared, doubles[:4]))
        c(not missed, "each of the 64 records taken, each stopped guest running, in each of "
          "%d rounds (%s)" % (rounds, "; ".join(missed[:4])))
        c(not left, "no record left (%s)" % left[:4])
        c(not bad_exit, "both agents exit 0 (%s)" % bad_exit)
        stale_record(h, qemus[0], own)
    finally:
        for q in qemus + own:
            q.stop()


def stale_record(h, q, own):
    """The one order of events the rounds above cannot hit on purpose: an
    agent opens a record, and before it locks it, another agent resumes
    that guest and removes the record; then someone else pauses the guest.
    The first agent, its lock granted now, must see that the file is no
    longer the record by that name, and leave the guest paused. The first
    agent is held by gdb at its first flock() until that has happened."""
    c = h.check
    gate = os.path.join(h.work, "gate-stale")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(gate)
    q.qmp.cmd("stop")
    write_record(h, q.agent_qmp, q.proc.pid)
    record = record_path(h, q.agent_qmp)
    late = Agent(h, "stale-late", [own[0]], 64 << 30, ticks=1, extra=("--warmup", "0"))
    late.start(("gdb", "-batch", "-nx", "-ex", "set breakpoint pending on",
                "-ex", "break flock", "-ex", "run",
                "-ex", 'shell while [ ! -e "%s" ]; do sleep 0.05; done' % gate,
                "-ex", "delete", "-ex", "continue", "--args"))
    deadline = time.monotonic() + 60
    held = False
    while not held and time.monotonic() < deadline and late.proc.poll() is None:
        with open(late.out_path) as f:
            held = "Breakpoint 1, " in f.read()
        time.sleep(0.05)
    c(held, "gdb holds the late agent at its first flock()")
    first = Agent(h, "stale-first", [own[1]], 64 << 30, ticks=1,
                  extra=("--warmup", "0")).run()
    c("%s: stopped by an earlier agent: resumed" % q.agent_qmp in first.output and
      not os.path.exists(record), "the other agent resumed the guest and removed its record")
    q.qmp.cmd("stop")  # paused again, by someone else
    open(gate, "w").close()
    late.wait(timeout=60)
    log("the late agent:\n" + late.output[-1500:])
    c(q.agent_qmp not in late.output,
      "the late agent left the record it had opened alone")
    c(q.status() == "paused", "the guest someone else paused stays paused")


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


def test_lru_swap(h):
    """Host swap by the kernel's LRU against ESX's random page-out. Two
    guests without a balloon driver each keep touching a 64 MiB working set
    in 320 MiB they wrote once; each is host-swapped by the same amount
    once (its limit set that far below its resident RAM, on an idle host),
    one by random page-out, one by cold-first reclaim from the memory cgroup
    it has to itself. The random one must take at least 20 times as many
    major faults afterwards (the agent clears the accessed bits for its
    active-memory sample only after it has acted: cleared just before, they
    left the LRU unable to tell the working set from the rest, and it took
    from a fifteenth as many faults as random to nearly as many). Then, on
    cgroup v1: the limit and the OOM killer setting are back, a reclaim the
    kernel cannot do (the cgroup's swappiness at 0) fails without harm, and
    a QEMU in a shared cgroup gets random picking, or its own cgroup with
    --cgroup move."""
    c = h.check
    amount = 128 * MiB
    cg = MemCgroup("e2e-lru-%d" % os.getpid())
    h.cgroups.append(cg)
    rnd = Guest(h, "rnd", balloon_driver=False)
    lru = Guest(h, "lru", balloon_driver=False, cgroup=cg.path)
    h.boot(rnd, lru)
    for g in (rnd, lru):
        g.workload = g.memhog(320, "-w 64")
    time.sleep(2)
    limit0 = cg.read("memory.limit_in_bytes") if cg.version == 1 else None
    state = os.path.join(h.work, "state")

    faults = {}
    for g, method in ((rnd, "random"), (lru, "lru")):
        rss0, swap0 = g.usage()
        m0 = majflt(g.proc.pid)
        agent = Agent(h, method, [g], 8192 * MiB, vm_extra={g.name: "limit=%d" % (rss0 - amount)},
                      ticks=1, extra=["--swap-method", method]).run()
        rss1, swap1 = g.usage()
        time.sleep(5)
        faults[method] = majflt(g.proc.pid) - m0
        vt = agent.vm_ticks(g.name)
        last = vt[-1][1] if vt else {}
        log("%s: rss %s -> %s, in host swap %s -> %s; paged out %s (%s); "
            "%d major faults in the 5 s after" % (
                g.name, mib(rss0), mib(rss1), mib(swap0), mib(swap1),
                mib(last.get("paged_out", 0)), last.get("swap_note", ""), faults[method]))
        c(agent.rc == 0, "%s: agent exited cleanly" % method)
        c(last.get("swap_method") == method and
          re.search(r"%s: host swap by %s: " % (g.name, method), agent.output) is not None,
          "%s: the trace and the log say host swap by %s (%s)" %
          (method, method, last.get("swap_why")))
        c(abs(last.get("swap", 0) - amount) <= 8 * MiB,
          "%s: the policy decided to host-swap about %s (%s)" %
          (method, mib(amount), mib(last.get("swap", 0))))
        c(swap1 - swap0 >= 0.8 * amount and rss0 - rss1 >= 0.8 * amount,
          "%s: its RAM in host swap rose by %s, resident fell by %s" %
          (method, mib(swap1 - swap0), mib(rss0 - rss1)))
        c(g.alive(g.workload), "%s: the workload is alive" % method)
    log("major faults after the swap: random %d, lru %d" % (faults["random"], faults["lru"]))
    c(faults["random"] >= 1000, "random page-out hit the working set (%d major faults)" %
      faults["random"])
    c(faults["random"] >= 20 * faults["lru"],
      "cold first: at least 20x fewer major faults than random (%d vs %d)" %
      (faults["lru"], faults["random"]))

    if cg.version == 1:
        c(cg.read("memory.limit_in_bytes") == limit0,
          "v1: memory.limit_in_bytes is back at %s" % limit0.strip())
        oom = cg.keyed("memory.oom_control")
        c(oom["oom_kill_disable"] == 0 and oom["oom_kill"] == 0,
          "v1: oom_kill_disable back at 0, no OOM kill in the cgroup (%s)" % oom)
        journals = [f for f in os.listdir(state) if f.startswith("memcg-restore-")]
        c(os.path.isdir(state) and not journals, "v1: no journal left (%s)" % journals)
        # The kernel may not swap the cgroup's anonymous and shmem pages at
        # swappiness 0: the lowered limit cannot be met.
        swappiness = cg.read("memory.swappiness").strip()
        cg.write("memory.swappiness", 0)
        rss0 = lru.usage()[0]
        agent = Agent(h, "lru-ebusy", [lru], 8192 * MiB,
                      vm_extra={"lru": "limit=%d" % (rss0 - amount)}, ticks=3,
                      extra=["--swap-method", "lru"]).run()
        cg.write("memory.swappiness", swappiness)
        oom = cg.keyed("memory.oom_control")
        c("swappiness 0 (the cgroup's): anonymous memory will not be swapped" in agent.output,
          "v1: the agent logged the cgroup's swappiness")
        c("EBUSY: fell short" in agent.output, "v1: the kernel refused the lowered limit (EBUSY)")
        c(lru.proc.poll() is None and lru.alive(lru.workload),
          "v1: QEMU and the workload are alive")
        c(cg.read("memory.limit_in_bytes") == limit0 and oom["oom_kill_disable"] == 0 and
          oom["oom_kill"] == 0, "v1: limit and OOM setting restored, no OOM kill (%s)" % oom)

        # An agent killed between lowering and restoring leaves the limit
        # lowered, the OOM killer off and its journal: the next one to start
        # puts both back. (Lowered here to 64 MiB above the usage.)
        lowered = (int(cg.read("memory.usage_in_bytes")) + 64 * MiB) // 4096 * 4096
        cg.write("memory.oom_control", 1)
        cg.write("memory.limit_in_bytes", lowered)
        with open(os.path.join(state, "memcg-restore-killed"), "w") as f:
            f.write("dir %s\nlimit %s\nlowered %d\noom_kill_disable 0\n" %
                    (cg.path, limit0.strip(), lowered))
        agent = Agent(h, "after-kill", [lru], 8192 * MiB, ticks=1,
                      extra=["--swap-method", "lru"]).run()
        oom = cg.keyed("memory.oom_control")
        c("restored memory.limit_in_bytes %s and oom_kill_disable 0 left by an agent that "
          "stopped" % limit0.strip() in agent.output and
          cg.read("memory.limit_in_bytes") == limit0 and oom["oom_kill_disable"] == 0 and
          not os.path.exists(os.path.join(state, "memcg-restore-killed")),
          "v1: the next agent restored what a killed one left lowered")

    # QEMU in a cgroup with other processes (ours): never reclaimed from.
    agent = Agent(h, "shared", [rnd], 8192 * MiB, ticks=1).run()
    c(re.search(r"rnd: host swap by random: no cgroup LRU: QEMU pid %d is not alone in memory "
                r"cgroup \S+: pid \d+" % rnd.proc.pid, agent.output) is not None,
      "auto, QEMU in a shared cgroup: random, and the log says why")
    before = own_cgroup_dir(rnd.proc.pid)[1]
    moved = MemCgroup.at(os.path.join(before, "reclaim-rnd"))
    h.cgroups.insert(0, moved)
    agent = Agent(h, "move", [rnd], 8192 * MiB, ticks=1, extra=["--cgroup", "move"]).run()
    after = own_cgroup_dir(rnd.proc.pid)[1]
    m = re.search(r"rnd: host swap by (\w+): (.*)", agent.output)
    log("--cgroup move: QEMU's memory cgroup %s -> %s; %s" % (before, after,
                                                               m.group(0) if m else "no log line"))
    if cg.version == 2:
        # A v2 cgroup holding processes cannot hand the memory controller
        # to a child (no internal processes): QEMU stays, random it is.
        c(m is not None and m.group(1) == "random" and after == before,
          "--cgroup move on cgroup v2 from a shared cgroup: not moved, random")
        return
    c(after == moved.path, "--cgroup move: QEMU is in a new cgroup reclaim-rnd of its own")
    if m and m.group(1) == "random":
        usage = int(open(os.path.join(after, "memory.usage_in_bytes" if cg.version == 1
                                      else "memory.current")).read())
        c("holds" in m.group(2) and usage < rnd.usage()[0] / 2,
          "--cgroup move: the kernel left the guest's charges behind (%s in the new cgroup), "
          "so auto picks random and says why" % mib(usage))
    else:
        c(m is not None and "(QEMU moved into it)" in m.group(2),
          "--cgroup move: host swap by lru from the new cgroup")


TESTS = {
    "idle-tax": test_idle_tax,
    "hard-swap": test_hard_swap,
    "low-block": test_low_block,
    "low-block-reconnect": test_low_block_reconnect,
    "foreign-pause": test_foreign_pause,
    "hung-monitor": test_hung_monitor,
    "exit-resumes": test_exit_resumes,
    "resume-at-once": test_resume_at_once,
    "two-agents": test_two_agents,
    "guest-cap": test_guest_cap,
    "guest-swap": test_guest_swap,
    "no-cap-oom": test_no_cap_oom,
    "paper-oom": test_paper_oom,
    "limit": test_limit,
    "no-driver": test_no_driver,
    "no-driver-unresponsive": test_no_driver_unresponsive,
    "lru-swap": test_lru_swap,
}
NEEDS_HOST_SWAP = {"hard-swap", "low-block", "low-block-reconnect", "foreign-pause",
                   "exit-resumes", "guest-cap", "limit", "no-driver", "no-driver-unresponsive"}
NEEDS_ZRAM = {"lru-swap"}


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
            if args.test in NEEDS_ZRAM:
                stack.enter_context(ZramSwap())
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
