#!/bin/sh
# Memory traffic of exactly one call, counted in cache lines: what the
# bound loop and decide bring in from beyond a simulated L2 of 2 MiB
# (16-way, 64-byte lines; L1d 48 KiB, 12-way), under callgrind's cache
# simulation. Deterministic, unlike time on a shared machine: at 100k VMs
# and more, where the arrays outgrow every cache but the last, it says how
# many lines a VM each pass structure costs (bench/README.md, "Speed").
# Callgrind simulates no hardware prefetcher and no write-back, so these
# are the lines missed and the lines written into, not bus bytes.
#
# The ratio is left out where the bound misses under half a line a VM
# (everything fits in the L2).
#
# usage: cachesim.sh path/to/reclaim-speed [N...]   (default 100000; ~20 s)
set -eu
exe=${1:?usage: cachesim.sh path/to/reclaim-speed [N...]}
shift
[ $# -gt 0 ] || set -- 100000
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# lines OP N: "read-misses write-misses" of one OP on N VMs
lines() {
	f="$out/cg.$1.$2"
	valgrind --tool=callgrind --cache-sim=yes --D1=49152,12,64 --LL=2097152,16,64 \
		--toggle-collect='callgrind_measured*' --callgrind-out-file="$f" \
		"$exe" --callgrind "$1" "$2" >"$f.log" 2>&1 || {
		cat "$f.log" >&2
		exit 1
	}
	# (callgrind leaves out a line's trailing zero counts)
	c=$(awk '/^events:/ { for (i = 2; i <= NF; i++) col[$i] = i }
		 /^totals:/ && ("DLmr" in col) { print $col["DLmr"] + 0, $col["DLmw"] + 0 }' "$f")
	[ -n "$c" ] || {
		echo "cachesim.sh: no cache events counted for $*" >&2
		exit 1
	}
	echo "$c"
}

printf '| op | N | lines read a VM | lines written a VM | total a VM | / bound |\n'
printf '|---|---:|---:|---:|---:|---:|\n'
for n in "$@"; do
	bound=
	for op in bound decide decide-idle decide-reorder; do
		c=$(lines "$op" "$n")
		r=${c% *}
		w=${c#* }
		awk -v op="$op" -v n="$n" -v r="$r" -v w="$w" -v b="${bound:-0}" 'BEGIN {
			t = (r + w) / n
			printf "| %s | %d | %.2f | %.2f | %.2f | %s |\n", op, n, r / n, w / n, t,
			       (b >= 0.5 ? sprintf("%.1fx", t / b) : "")
		}'
		[ -n "$bound" ] || bound=$(awk -v n="$n" -v r="$r" -v w="$w" 'BEGIN { print (r + w) / n }')
	done
done
