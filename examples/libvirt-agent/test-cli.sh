#!/bin/sh
# reclaim-libvirt-agent's command line, metrics, signals and state directory,
# against libvirt's test driver (no daemon, no guest):
#   test-cli.sh AGENT TESTDATA_DIR
set -u
agent=$1
node="test://$(cd "$2" && pwd)/node.xml"
tmp=$(mktemp -d)
pids=""
trap 'for p in $pids; do kill "$p" 2>/dev/null; done; rm -rf "$tmp"' EXIT
failed=0

fail() {
	echo "FAIL: $*"
	failed=1
}

# expect FILE TEXT: FILE has TEXT (fixed string).
expect() {
	grep -qF -- "$2" "$1" || fail "expected '$2' in $(basename "$1"): $(head -c 3000 "$1")"
}

# status_is STATUS EXPECTED WHAT
status_is() {
	[ "$1" = "$2" ] || fail "$3: exit status $1, not $2"
}

# A free local TCP port.
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# http_get PORT PATH: prints "STATUS" then the body.
http_get() {
	python3 - "$1" "$2" <<'PY'
import sys, urllib.request, urllib.error
try:
    with urllib.request.urlopen("http://127.0.0.1:%s%s" % (sys.argv[1], sys.argv[2]), timeout=5) as r:
        print(r.status); print(r.read().decode())
except urllib.error.HTTPError as e:
    print(e.code)
except Exception as e:
    print("ERROR", e)
PY
}

# listening_on PORT: prints the local addresses listening on PORT (hex, as
# /proc/net/tcp{,6} spell them).
listening_on() {
	hexport=$(printf '%04X' "$1")
	cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
		awk -v p=":$hexport" '$4 == "0A" && substr($2, length($2) - 4) == p { print $2 }'
}

# wait_for FILE TEXT: up to 10 s.
wait_for() {
	i=0
	while ! grep -qF -- "$2" "$1" 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
}

"$agent" --help > "$tmp/help" || fail "--help"
expect "$tmp/help" "--dry-run"
"$agent" --version > "$tmp/version" || fail "--version"
expect "$tmp/version" "reclaim-libvirt-agent"

for bad in "--tick 0" "--tick soon" "--active-method magic" "--swap-method pick" \
	"--budget 12Q" "--max-domains 0" "--stats-interval 0"; do
	# shellcheck disable=SC2086
	"$agent" $bad --uri test:///default > /dev/null 2> "$tmp/err"
	status_is $? 2 "$bad"
	expect "$tmp/err" "bad value for ${bad%% *}"
done
"$agent" --uri test:///default stray > /dev/null 2> "$tmp/err"
status_is $? 2 "a stray argument"
expect "$tmp/err" "unexpected argument 'stray'"
printf 'idle_tax = 2\n' > "$tmp/bad.conf"
"$agent" --config "$tmp/bad.conf" --print-config > /dev/null 2> "$tmp/err"
status_is $? 2 "a bad policy file"
expect "$tmp/err" "idle_tax"
"$agent" --print-config > "$tmp/defaults" || fail "--print-config"
expect "$tmp/defaults" "absent_grace_ns = 60000000000ns"

# A dry run of the test driver's host: what is managed and what is not, and
# the defaults every bad metadata value falls back to.
umask 077
"$agent" --uri "$node" --dry-run --ticks 3 --tick 100ms --budget 8G \
	--state-dir "$tmp/state" --metrics-file "$tmp/metrics.prom" > "$tmp/dry.out" 2>&1
status_is $? 0 "a dry run"
expect "$tmp/dry.out" "(DRY RUN: nothing will be changed)"
expect "$tmp/dry.out" "(read-only: dry run)"
expect "$tmp/dry.out" "web: managed"
expect "$tmp/dry.out" "shares 2000 (metadata), reservation 256.00 MiB (metadata), limit 1.50 GiB (metadata), balloon cap 512.00 MiB (metadata), guest swap 1.00 GiB (metadata)"
expect "$tmp/dry.out" "db: metadata shares='lots': expected a number or low, normal, high; using the default"
expect "$tmp/dry.out" "db: metadata: unknown attribute 'sharez' ignored"
expect "$tmp/dry.out" "shares 40960 (default), reservation 512.00 MiB (memtune), limit 2.00 GiB (memtune)"
expect "$tmp/dry.out" "noballoon: not managed: no balloon device"
expect "$tmp/dry.out" "left-alone: not managed: metadata says manage='no'"
expect "$tmp/dry.out" "dry-run: host high"
expect "$tmp/dry.out" "dry-run: db: high target"
# One line per decision change, not per tick; every tick with --verbose.
[ "$(grep -c 'dry-run: web: ' "$tmp/dry.out")" = 1 ] ||
	fail "three unchanged decisions logged $(grep -c 'dry-run: web: ' "$tmp/dry.out") times, not once"
"$agent" --uri "$node" --dry-run --ticks 3 --tick 100ms --budget 8G --verbose > "$tmp/verbose.out" 2>&1
[ "$(grep -c 'dry-run: web: ' "$tmp/verbose.out")" = 3 ] ||
	fail "--verbose logged $(grep -c 'dry-run: web: ' "$tmp/verbose.out") of 3 decisions"
[ ! -e "$tmp/state" ] || fail "a dry run created the state directory"
# Readable by node_exporter whatever the umask, never writable by others.
[ "$(stat -c %a "$tmp/metrics.prom")" = 644 ] || fail "metrics file mode $(stat -c %a "$tmp/metrics.prom")"
expect "$tmp/metrics.prom" 'reclaim_agent_info{version="'
expect "$tmp/metrics.prom" 'dry_run="1"'
expect "$tmp/metrics.prom" 'reclaim_host_state{state="high"} 1'
expect "$tmp/metrics.prom" 'reclaim_vm_configured_bytes{domain="web",uuid="3e3fce45-4f53-4fa7-bb32-11f34168b82b"} 2147483648'
expect "$tmp/metrics.prom" 'reclaim_vm_active_method{domain="db",uuid="91d1b3c5-2a43-4c0e-8a4e-2f7a4e1d2c11",method="guest"'
expect "$tmp/metrics.prom" 'reclaim_vm_reason{domain="db",uuid="91d1b3c5-2a43-4c0e-8a4e-2f7a4e1d2c11",reason="stale"} 1'
expect "$tmp/metrics.prom" 'reclaim_agent_domains{managed="no"} 2'
grep -q 'domain="noballoon"' "$tmp/metrics.prom" && fail "an unmanaged domain in the metrics"
umask 022

# The HTTP endpoint: localhost only unless told, /metrics served, the rest 404.
port=$(free_port)
"$agent" --uri "$node" --dry-run --duration 4s --tick 200ms --metrics "$port" > "$tmp/http.out" 2>&1 &
pids="$pids $!"
wait_for "$tmp/http.out" "dry-run: host high"
addrs=$(listening_on "$port")
[ "$addrs" = "0100007F:$(printf '%04X' "$port")" ] || fail "--metrics $port listens on '$addrs', not 127.0.0.1 alone"
http_get "$port" /metrics > "$tmp/scrape"
[ "$(head -n 1 "$tmp/scrape")" = 200 ] || fail "GET /metrics: $(head -n 1 "$tmp/scrape")"
expect "$tmp/scrape" 'reclaim_vm_balloon_target_bytes{domain="web"'
[ "$(http_get "$port" /secret | head -n 1)" = 404 ] || fail "GET /secret is not 404"
wait
pids=""
"$agent" --uri "$node" --dry-run --ticks 1 --metrics 203.0.113.1:0 > "$tmp/out" 2>&1
status_is $? 1 "--metrics on an address not ours"
expect "$tmp/out" "--metrics 203.0.113.1:0"
"$agent" --uri "$node" --dry-run --ticks 1 --metrics localhost:80 > "$tmp/out" 2>&1
status_is $? 1 "--metrics with a host name"

# SIGHUP reloads the policy file; a bad one leaves the policy in force.
printf 'idle_tax = 0.5\n' > "$tmp/policy.conf"
"$agent" --uri "$node" --dry-run --duration 6s --tick 100ms --config "$tmp/policy.conf" \
	> "$tmp/hup.out" 2>&1 &
apid=$!
pids="$pids $apid"
wait_for "$tmp/hup.out" "dry-run: host high"
printf 'idle_tax = 0.25\n' > "$tmp/policy.conf"
kill -HUP "$apid"
wait_for "$tmp/hup.out" "policy reloaded"
printf 'idle_tax = 7\n' > "$tmp/policy.conf"
kill -HUP "$apid"
wait_for "$tmp/hup.out" "not reloaded"
wait "$apid"
status_is $? 0 "the agent after two SIGHUPs"
pids=""
expect "$tmp/hup.out" "SIGHUP: policy reloaded from $tmp/policy.conf, history kept"
expect "$tmp/hup.out" "SIGHUP: $tmp/policy.conf not reloaded; the policy in force stays"

# The state directory is the agent's alone.
mkdir -m 0777 "$tmp/open"
"$agent" --uri "$node" --ticks 1 --state-dir "$tmp/open" > "$tmp/out" 2>&1
status_is $? 1 "a world-writable state directory"
expect "$tmp/out" "must be a directory of ours that only we can write"
"$agent" --uri "$node" --ticks 1 --tick 100ms --state-dir "$tmp/new" > "$tmp/out" 2>&1
status_is $? 0 "a fresh state directory"
[ "$(stat -c %a "$tmp/new")" = 700 ] || fail "state directory mode $(stat -c %a "$tmp/new")"

# No libvirt to talk to: the agent keeps trying and stops when told.
"$agent" --uri "test://$tmp/missing.xml" --dry-run --duration 2500ms > "$tmp/out" 2>&1
status_is $? 0 "an unreachable libvirt"
expect "$tmp/out" "retrying every 2 s"

# A libvirtd that accepts and never answers (hung, or stopped): the agent
# is not held by it. It says so, keeps looking, and a SIGTERM stops it at
# once, not when libvirtd answers.
python3 - "$tmp/hung.sock" > "$tmp/hung.out" 2>&1 <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(16)  # and never accepts: connections wait in the backlog
time.sleep(60)
PY
pids="$!"
i=0
while [ ! -S "$tmp/hung.sock" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
"$agent" --uri "qemu+unix:///system?socket=$tmp/hung.sock" --dry-run --tick 100ms \
	--duration 60s > "$tmp/hung-agent.out" 2>&1 &
hung=$!
wait_for "$tmp/hung-agent.out" "libvirtd accepts but does not answer"
start=$(date +%s)
kill -TERM "$hung"
wait "$hung"
status_is $? 0 "a hung libvirtd and a SIGTERM"
[ $(($(date +%s) - start)) -le 5 ] || fail "the agent took $(($(date +%s) - start)) s to stop"
expect "$tmp/hung-agent.out" "signal 15: stopping"
kill $pids 2>/dev/null
pids=""

[ "$failed" = 0 ] && echo "reclaim-libvirt-agent command line: ok"
exit "$failed"
