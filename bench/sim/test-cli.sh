#!/bin/sh
# reclaim-sim's command-line overrides of a scenario's swap, on crunch.conf,
# whose working sets outgrow the host (so that both host and guest swap are
# used unless they are taken away, and without either the host runs out):
#   test-cli.sh SIM SCENARIO_DIR
set -u
sim=$1
scenario=$2/crunch.conf
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0

fail() {
	echo "FAIL: $*"
	failed=1
}

# row FILE LABEL: the reclaim column of the table's row LABEL.
row() {
	awk -v l="$2" 'index($0, l) == 1 { print $NF }' "$1"
}

run() {
	out=$tmp/$1
	shift
	"$sim" -p reclaim -j 1 "$@" "$scenario" > "$out" 2>&1 || fail "reclaim-sim $*: exit $?"
}

run default
run no-host-swap --host-swap 0
run no-guest-swap --guest-swap 0
run rhel --guest-swap rhel
run six --guest-swap 6G
run neither --host-swap 0 --guest-swap 0

host=$(row "$tmp/default" "host-swapped by policy (GiB)")
guest=$(row "$tmp/default" "guest swap-outs (GiB)")
case $host in "" | 0.00) fail "crunch host-swaps nothing by default ($host)" ;; esac
case $guest in "" | 0.00) fail "crunch swaps nothing in its guests by default ($guest)" ;; esac
[ "$(row "$tmp/no-host-swap" "host-swapped by policy (GiB)")" = "0.00" ] ||
	fail "--host-swap 0 still host-swaps"
[ "$(row "$tmp/no-guest-swap" "guest swap-outs (GiB)")" = "0.00" ] ||
	fail "--guest-swap 0 still swaps in guests"
# RHEL's recommendation for crunch's 6 GiB guests is 6 GiB of swap.
[ "$(row "$tmp/rhel" "guest swap-outs (GiB)")" = "$(row "$tmp/six" "guest swap-outs (GiB)")" ] ||
	fail "--guest-swap rhel does not give a 6 GiB guest 6 GiB of swap"

# With swap, the host never runs out; with none anywhere, crunch's working
# sets outgrow it, and the table says for how long.
[ "$(row "$tmp/default" "host hours out of memory")" = "0.00" ] ||
	fail "crunch's host runs out of memory with swap"
case $(row "$tmp/neither" "host hours out of memory") in
"" | 0.00) fail "crunch without swap: no time out of memory reported" ;;
esac

for bad in "--host-swap lots" "--guest-swap -1G" "--guest-swap"; do
	# shellcheck disable=SC2086
	"$sim" -p reclaim $bad "$scenario" > "$tmp/bad" 2>&1
	status=$?
	[ "$status" = 2 ] || fail "reclaim-sim $bad: exit $status, not 2"
done

[ "$failed" = 0 ] && echo "reclaim-sim swap overrides: ok"
exit "$failed"
