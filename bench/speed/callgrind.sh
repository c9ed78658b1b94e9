#!/bin/sh
# Instruction counts of exactly one call under callgrind: the bound and
# one-pass loops, decide on the mix (busy and idle host) and reordered, apply,
# and decide on the worst candidates, at N = 1k and 100k VMs by default.
# Deterministic: compare them across changes (bench/README.md, "Speed").
#
# The worst candidates: every candidate is counted at 1k and 10k VMs (the
# second table), and the two with the most instructions per VM at 10k are
# counted at each N; one whose count per VM grew by more than 1.5x from 1k
# to 10k (it grows with N) is left out above 10k, where it would take
# minutes under callgrind. WORST=a,b names them instead (and skips the scan).
#
# usage: callgrind.sh path/to/reclaim-speed [N...]
set -eu
exe=${1:?usage: callgrind.sh path/to/reclaim-speed [N...]}
shift
[ $# -gt 0 ] || set -- 1000 100000
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# count OP N [--worst NAME]: instructions of one OP on N VMs
count() {
	f="$out/cg.$$.$1.$2.${4:-}"
	valgrind --tool=callgrind --toggle-collect='callgrind_measured*' \
		--callgrind-out-file="$f" "$exe" --callgrind "$@" >"$f.log" 2>&1 || {
		cat "$f.log" >&2
		exit 1
	}
	ir=$(awk '/^totals:/ { print $2 }' "$f")
	[ -n "$ir" ] && [ "$ir" -gt 0 ] || {
		echo "callgrind.sh: no instructions counted for $* " >&2
		exit 1
	}
	rm -f "$f" "$f.log"
	echo "$ir"
}

if [ -n "${WORST:-}" ]; then
	worst=$(echo "$WORST" | tr ',' ' ')
	grows=
else
	printf '| candidate | per VM at 1000 | per VM at 10000 | 10k / 1k |\n|---|---:|---:|---:|\n' \
		>"$out/scan"
	: >"$out/rank"
	for c in $("$exe" --list-candidates); do
		a=$(count decide-worst 1000 --worst "$c")
		b=$(count decide-worst 10000 --worst "$c")
		awk -v c="$c" -v a="$a" -v b="$b" 'BEGIN {
			printf "| %s | %.1f | %.1f | %.2f |\n", c, a / 1000, b / 10000, (b / 10000) / (a / 1000)
		}' >>"$out/scan"
		awk -v c="$c" -v a="$a" -v b="$b" 'BEGIN {
			grows = b / 10000 > 1.5 * (a / 1000)
			printf "%s %.3f %d\n", c, b / 10000, grows
		}' >>"$out/rank"
	done
	worst=$(sort -k2,2 -g -r "$out/rank" | head -n 2 | awk '{ print $1 }')
	grows=$(awk '$3 == 1 { print $1 }' "$out/rank")
fi

printf '| op | N | instructions | per VM |\n|---|---:|---:|---:|\n'
for n in "$@"; do
	for op in bound one-pass decide decide-idle decide-reorder apply; do
		ir=$(count "$op" "$n")
		awk -v op="$op" -v n="$n" -v ir="$ir" \
			'BEGIN { printf "| %s | %d | %d | %.1f |\n", op, n, ir, ir / n }'
	done
	for c in $worst; do
		if [ "$n" -gt 10000 ] && echo "$grows" | grep -qx "$c"; then
			printf '| decide-worst %s | %d | skipped: grows with N | |\n' "$c" "$n"
			continue
		fi
		ir=$(count decide-worst "$n" --worst "$c")
		awk -v c="$c" -v n="$n" -v ir="$ir" \
			'BEGIN { printf "| decide-worst %s | %d | %d | %.1f |\n", c, n, ir, ir / n }'
	done
done
if [ -f "$out/scan" ]; then
	printf '\nEvery candidate, decide:\n\n'
	cat "$out/scan"
fi
