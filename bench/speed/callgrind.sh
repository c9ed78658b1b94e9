#!/bin/sh
# Instruction counts of exactly one decide (busy and idle host) and one apply
# at N = 1k and 100k VMs, under callgrind. Deterministic: compare them across
# changes (bench/README.md, section "Speed").
# usage: callgrind.sh path/to/reclaim-speed [N...]
set -eu
exe=${1:?usage: callgrind.sh path/to/reclaim-speed [N...]}
shift
[ $# -gt 0 ] || set -- 1000 100000
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
printf '| op | N | instructions | per VM |\n|---|---:|---:|---:|\n'
for n in "$@"; do
	for op in one-pass decide decide-idle apply; do
		f="$out/$op.$n"
		valgrind --tool=callgrind --toggle-collect='callgrind_measured*' \
			--callgrind-out-file="$f" "$exe" --callgrind "$op" "$n" >"$f.log" 2>&1 || {
			cat "$f.log" >&2
			exit 1
		}
		ir=$(awk '/^totals:/ { print $2 }' "$f")
		[ -n "$ir" ] && [ "$ir" -gt 0 ] || {
			echo "callgrind.sh: no instructions counted for $op N=$n" >&2
			exit 1
		}
		awk -v op="$op" -v n="$n" -v ir="$ir" \
			'BEGIN { printf "| %s | %d | %d | %.1f |\n", op, n, ir, ir / n }'
	done
done
