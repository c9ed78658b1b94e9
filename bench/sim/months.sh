#!/usr/bin/env bash
# Replays hosts the policy was not tuned on: other months and other VMs of
# the Bitbrains Rnd trace than the committed subset (bench/data/bitbrains),
# each set of 20 VMs on bitbrains.conf's host at several overcommits, and
# prints a Markdown table of one policy's guest OOM episodes, host swap and
# guest swap-outs.
#   bash bench/sim/months.sh RND_DIR [BUILDDIR]
# RND_DIR holds the trace's month directories (2013-7, 2013-8, 2013-9) of
# per-VM files <id>.csv, as in the GWA's rnd.zip (bench/data/README.md says
# where to get it). XS sets the overcommits (default "1.5 2 2.5 3"), POLICY
# the policy (default reclaim), SIM_OPTS extra reclaim-sim options (other
# hosts: SIM_OPTS="--host-swap 0" for a host without swap, "--guest-swap 0"
# for guests without), JOBS the runs in parallel. About 6 minutes of CPU for
# the default.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
[ $# -ge 1 ] || { echo "usage: bash bench/sim/months.sh RND_DIR [BUILDDIR]" >&2; exit 2; }
rnd=$1
build=${2:-build}
sim=$(cd "$build" && pwd)/bench/sim/reclaim-sim
[ -x "$sim" ] || { echo "months.sh: no $sim (meson setup $build -Dbench=true && ninja -C $build)" >&2; exit 1; }
xs=${XS:-1.5 2 2.5 3}
policy=${POLICY:-reclaim}
jobs=${JOBS:-$(getconf _NPROCESSORS_ONLN)}

# name, month, VM ids. "same": the committed subset's VMs in another month;
# the others 20 VMs drawn at random from the month's 500, once, written
# down here so that every run replays the same sets.
sets="
aug-same 2013-8 35,77,97,109,133,134,184,281,284,291,309,344,363,383,420,441,461,470,471,473
jul-same 2013-7 35,77,97,109,133,134,184,281,284,291,309,344,363,383,420,441,461,470,471,473
sep-same 2013-9 35,77,97,109,133,134,184,281,284,291,309,344,363,383,420,441,461,470,471,473
jul-a 2013-7 18,64,71,127,129,152,159,218,248,279,298,305,318,337,373,387,391,393,490,498
jul-b 2013-7 13,31,44,78,82,114,162,178,249,260,311,338,343,345,356,380,435,437,483,488
jul-c 2013-7 11,51,107,144,152,154,177,199,219,247,262,267,299,321,327,349,355,392,464,479
aug-a 2013-8 42,44,67,93,101,104,110,142,154,163,194,198,339,365,367,373,418,438,451,497
aug-b 2013-8 29,101,131,132,143,235,270,289,290,294,319,349,379,400,409,419,425,438,496,500
aug-c 2013-8 76,91,96,138,155,176,182,192,205,220,221,224,257,290,379,411,441,455,467,496
sep-a 2013-9 30,41,52,117,118,121,141,144,153,231,236,255,258,260,266,281,289,405,470,490
sep-b 2013-9 12,40,47,85,87,89,94,115,147,164,188,215,286,295,329,337,346,365,476,495
sep-c 2013-9 1,32,33,69,94,102,105,119,123,153,255,329,373,383,392,413,428,435,451,459
"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
while read -r name month ids; do
	[ -n "$name" ] || continue
	[ -d "$rnd/$month" ] || { echo "months.sh: no $rnd/$month" >&2; exit 1; }
	python3 "$root/bench/data/derive.py" --vms "$ids" "$rnd/$month" "$tmp/$name" 2>/dev/null
	sed -e "s|^dir = .*|dir = $tmp/$name|" -e "s|^name = .*|name = $name|" \
		"$root/bench/sim/scenarios/bitbrains.conf" > "$tmp/$name.conf"
done <<< "$sets"

# One run per set and overcommit: "episodes host-swap guest-swap-outs".
# (The single-quoted script is expanded by the sh that xargs starts.)
export sim policy tmp SIM_OPTS
names=$(awk 'NF {print $1}' <<< "$sets")
# shellcheck disable=SC2016
for name in $names; do
	for x in $xs; do
		echo "$name $x"
	done
done | xargs -P "$jobs" -n 2 sh -c '
	# shellcheck disable=SC2086
	"$sim" -p "$policy" -j 1 -x "$1" ${SIM_OPTS:-} "$tmp/$0.conf" > "$tmp/run.$0.$1" ||
		{ echo "months.sh: reclaim-sim failed on $0 at $1x" >&2; exit 255; }
	awk "
		/^guest OOM episodes/ {o = \$4}
		/^host-swapped by policy/ {h = \$5}
		/^guest swap-outs/ {g = \$4}
		END {print o, h, g}" "$tmp/run.$0.$1" > "$tmp/out.$0.$1"'

commit=$(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)
echo "\`bash bench/sim/months.sh\` at $commit, policy $policy${SIM_OPTS:+ ($SIM_OPTS)}:"
echo "guest OOM episodes / host-swapped GiB / guest swap-outs GiB."
echo
printf '| set | month |'
for x in $xs; do printf ' %sx |' "$x"; done
printf '\n|---|---|'
for x in $xs; do printf -- '---|'; done
echo
while read -r name month ids; do
	[ -n "$name" ] || continue
	printf '| %s | %s |' "$name" "$month"
	for x in $xs; do
		read -r o h g < "$tmp/out.$name.$x"
		printf ' %s / %s / %s |' "$o" "$h" "$g"
	done
	echo
done <<< "$sets"
printf '| all | |'
for x in $xs; do
	cat "$tmp"/out.*."$x" | awk '{o += $1; h += $2; g += $3}
		END {printf " %d / %.1f / %.1f |", o, h, g}'
done
echo
