#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A toy orchestrator that drives `reclaimctl decide` over a pipe.

Python standard library only. It simulates one overcommitted host, sends a
snapshot every tick, reads the decisions back and carries them out on the
simulated VMs (balloons inflate at the guest's pace, host swap takes pages
away at once, blocked VMs stop growing), so the policy's memory across ticks
(hysteresis, balloon progress) is exercised in a closed loop.

    python3 examples/reclaimctl/orchestrator.py --reclaimctl build/examples/reclaimctl/reclaimctl

--record FILE keeps the snapshot lines it sent: tests/ctl replays such a
recording through the tool and compares the answers with expected ones.
"""

import argparse
import json
import subprocess
import sys

GIB = 1 << 30
MIB = 1 << 20
SECOND = 1_000_000_000


class ToyVM:
    """A guest whose demand follows a schedule and whose balloon driver
    inflates or deflates at a fixed rate (0: no driver)."""

    def __init__(self, vm_id, configured, shares, busy, balloon_rate, demand,
                 reservation=0, limit=None):
        self.id = vm_id
        self.configured = configured
        self.shares = shares
        self.busy = busy                  # fraction of demand that is active
        self.balloon_rate = balloon_rate  # bytes per second
        self.demand = demand              # function: tick -> bytes wanted
        self.reservation = reservation
        self.limit = limit
        self.balloon = 0
        self.balloon_target = 0
        self.swapped = 0
        self.blocked = False
        self.resident = 0                 # guest pages backed by host memory

    def step(self, tick, dt_s):
        """Advance dt_s (whole) seconds."""
        # The balloon driver moves toward its target at the guest's pace.
        step = self.balloon_rate * dt_s
        if self.balloon < self.balloon_target:
            self.balloon = min(self.balloon_target, self.balloon + step)
        elif self.balloon > self.balloon_target:
            self.balloon = max(self.balloon_target, self.balloon - step)
        # The guest touches what it wants, within what the balloon leaves it.
        room = self.configured - self.balloon
        want = min(self.demand(tick), room)
        if self.limit is not None:
            want = min(want, self.limit)
        if self.blocked:
            want = min(want, self.resident + self.swapped)
        # Swapped pages come back as they are touched: a tenth per tick.
        back = self.swapped // 10 if want > self.resident else 0
        self.swapped -= back
        self.resident = max(0, min(want, self.configured - self.balloon) - self.swapped)

    def stats(self, now_ns):
        vm = {
            "id": self.id,
            "flags": ["guest_stats"] + (["balloon"] if self.balloon_rate else []),
            "configured_bytes": self.configured,
            "consumed_bytes": self.resident,
            "reservation_bytes": self.reservation,
            "shares": self.shares,
            "active_bytes": int(self.resident * self.busy),
            "balloon_bytes": int(self.balloon),
            "guest_free_bytes": max(0, self.configured - int(self.balloon) - self.resident
                                    - self.swapped),
            "guest_swap_free_bytes": 1 * GIB,
            "swapped_bytes": self.swapped,
            "stats_time_ns": now_ns,
        }
        if self.limit is not None:
            vm["limit_bytes"] = self.limit
        return vm

    def apply(self, decision):
        if "balloon" in decision["actions"] and self.balloon_rate:
            self.balloon_target = decision["balloon_target_bytes"]
        take = decision["swap_bytes"] + decision["compress_bytes"]
        take = min(take, self.resident)
        self.resident -= take
        self.swapped += take
        if "block" in decision["actions"]:
            self.blocked = True
        if "unblock" in decision["actions"]:
            self.blocked = False


def ramp(start, peak, rise, fall):
    """Demand that climbs to peak from tick `rise` and drops back at `fall`."""
    def demand(tick):
        if tick < rise:
            return start
        if tick < fall:
            return min(peak, start + (peak - start) * (tick - rise + 1) // 8)
        return start
    return demand


def toy_host():
    vms = [
        ToyVM(1, 4 * GIB, 2000, 0.8, 256 * MIB, ramp(2 * GIB, 4 * GIB, 4, 36)),
        ToyVM(2, 4 * GIB, 1000, 0.1, 32 * MIB, ramp(3 * GIB, 3584 * MIB, 10, 99)),
        ToyVM(3, 4 * GIB, 1000, 0.5, 4 * MIB, ramp(1 * GIB, 4 * GIB, 8, 36)),
        ToyVM(4, 2 * GIB, 1000, 0.5, 0, ramp(1 * GIB, 2 * GIB, 6, 99)),
        ToyVM(5, 2 * GIB, 500, 0.3, 128 * MIB, ramp(1 * GIB, 2 * GIB, 0, 99),
              reservation=256 * MIB, limit=1536 * MIB),
    ]
    return {"total": 16 * GIB, "reserved": 1 * GIB}, vms


def fmt(n):
    return f"{n / GIB:.2f}G"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reclaimctl", default="reclaimctl", help="path of the tool")
    ap.add_argument("--config", help="passed to reclaimctl --config")
    ap.add_argument("--ticks", type=int, default=48)
    ap.add_argument("--record", help="write the snapshot lines sent here")
    ap.add_argument("--quiet", action="store_true", help="no per-tick lines")
    args = ap.parse_args()

    cmd = [args.reclaimctl, "decide"]
    if args.config:
        cmd += ["--config", args.config]
    tool = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, bufsize=1)
    record = open(args.record, "w") if args.record else None
    host, vms = toy_host()
    usable = host["total"] - host["reserved"]
    states = {}
    errors = 0
    min_free = free = usable
    stopped = None  # why reclaimctl stopped answering, if it did

    for tick in range(args.ticks):
        for vm in vms:
            vm.step(tick, 1)
        now = (tick + 1) * SECOND
        free = max(0, usable - sum(vm.resident for vm in vms))
        min_free = min(min_free, free)
        snapshot = {
            "host": {"total_bytes": host["total"], "reserved_bytes": host["reserved"],
                     "free_bytes": free, "now_ns": now},
            "vms": [vm.stats(now) for vm in vms],
        }
        line = json.dumps(snapshot, separators=(",", ":"))
        if record:
            record.write(line + "\n")
        try:
            tool.stdin.write(line + "\n")
            tool.stdin.flush()
        except BrokenPipeError:
            stopped = "it stopped reading"
            break
        reply = tool.stdout.readline()
        if not reply:
            stopped = "it stopped answering"
            break
        answer = json.loads(reply)
        if "error" in answer:
            errors += 1
            print(f"tick {tick}: error {answer['error']}", file=sys.stderr)
            continue
        state = answer["summary"]["state"]
        states[state] = states.get(state, 0) + 1
        for vm, decision in zip(vms, answer["decisions"]):
            vm.apply(decision)
        if not args.quiet:
            cols = " ".join(f"vm{vm.id}:{fmt(vm.resident)}/b{fmt(vm.balloon)}"
                            f"{'/s' + fmt(vm.swapped) if vm.swapped else ''}"
                            f"{'/BLOCKED' if vm.blocked else ''}" for vm in vms)
            print(f"t={tick + 1:3d}s {state:4s} free {fmt(free)}  {cols}")

    try:
        tool.stdin.close()
    except BrokenPipeError:
        pass
    status = tool.wait()
    if stopped:
        print(f"reclaimctl exited with status {status}: {stopped} at tick {tick}",
              file=sys.stderr)
    if record:
        record.close()
    print(json.dumps({"ticks": args.ticks, "states": states, "errors": errors,
                      "min_free_bytes": min_free, "usable_bytes": usable,
                      "final_free_bytes": free, "reclaimctl_status": status}))
    return 1 if errors or status else 0


if __name__ == "__main__":
    sys.exit(main())
