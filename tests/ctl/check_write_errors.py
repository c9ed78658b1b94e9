"""What reclaimctl prints on its own (--help, --version, config --defaults)
must reach stdout: a full or closed stdout, or a pipe nobody reads, is a
write failure, exit 3 with a message, never a silent success or a death by
SIGPIPE. Answering lines, it stops at the first answer it cannot write,
whether or not more input comes (an orchestrator that keeps its end of the
pipe open must not find it waiting for more). A closed stdin is a read
failure, exit 3, threads or not.

usage: check_write_errors.py TOOL CASES_DIR
"""

import os
import subprocess
import sys


def run_into_broken_pipe(argv, data):
    r, w = os.pipe()
    os.close(r)
    try:
        return subprocess.run(argv, input=data, stdin=None if data else subprocess.DEVNULL,
                              stdout=w, stderr=subprocess.PIPE, timeout=30)
    finally:
        os.close(w)


def main():
    tool = sys.argv[1]
    failures = []
    for args in (["--help"], ["--version"], ["config", "--defaults"]):
        with open("/dev/full", "wb") as full:
            p = subprocess.run([tool] + args, stdin=subprocess.DEVNULL, stdout=full,
                               stderr=subprocess.PIPE, timeout=30)
        if p.returncode != 3 or b"write:" not in p.stderr:
            failures.append(f"{args} > /dev/full: exit {p.returncode}, stderr {p.stderr!r}")
        # stdout closed
        p = subprocess.run([tool] + args, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           timeout=30, pass_fds=(), close_fds=True,
                           preexec_fn=lambda: os.close(1))
        if p.returncode != 3:
            failures.append(f"{args} with stdout closed: exit {p.returncode}")
        # a pipe whose reader is gone (subprocess restores SIGPIPE's default)
        p = run_into_broken_pipe([tool] + args, None)
        if p.returncode != 3 or b"write:" not in p.stderr:
            failures.append(f"{args} into a broken pipe: exit {p.returncode}, stderr {p.stderr!r}")
        # and with a working stdout, success
        p = subprocess.run([tool] + args, stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=30)
        if p.returncode != 0 or not p.stdout:
            failures.append(f"{args}: exit {p.returncode}, {len(p.stdout)} bytes out")
    line = open(os.path.join(sys.argv[2], "toyhost.jsonl"), "rb").readline()
    for threads in ("0", "2"):
        p = subprocess.Popen([tool, "decide", "--threads", threads], stdin=subprocess.PIPE,
                             stderr=subprocess.PIPE, preexec_fn=lambda: os.close(1))
        p.stdin.write(line)
        p.stdin.flush()
        try:
            rc = p.wait(timeout=20)  # stdin stays open
        except subprocess.TimeoutExpired:
            p.kill()
            rc = "still running with its answer unwritable"
        p.stdin.close()
        err = p.stderr.read()
        if rc != 3 or b"write:" not in err:
            failures.append(f"decide --threads {threads}, stdout closed: {rc}, stderr {err!r}")
    for threads in ("0", "2"):
        p = run_into_broken_pipe([tool, "decide", "--threads", threads], line)
        if p.returncode != 3 or b"write:" not in p.stderr:
            failures.append(f"decide --threads {threads} into a broken pipe: exit {p.returncode}, "
                            f"stderr {p.stderr!r}")
        try:
            p = subprocess.run([tool, "decide", "--threads", threads], capture_output=True,
                               timeout=20, preexec_fn=lambda: os.close(0))
            rc, err = p.returncode, p.stderr
        except subprocess.TimeoutExpired:
            rc, err = "still running", b""
        if rc != 3 or b"read:" not in err:
            failures.append(f"decide --threads {threads}, stdin closed: {rc}, stderr {err!r}")
    for f in failures:
        print(f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
