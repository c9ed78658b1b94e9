#!/usr/bin/env bash
# Prints bench/README.md's policy comparison as Markdown: the 30-day
# Bitbrains replay at 1.25x, 1.5x, 2x and 2.5x overcommit and the holdout
# host, every policy. One command to regenerate the tables after a change.
#   bash bench/sim/table.sh [BUILDDIR]       (default: build; JOBS=N threads)
# About 7 minutes of CPU (5 of wall time on 2 cores). Extra reclaim-sim
# options go in SIM_OPTS (e.g. SIM_OPTS="-S cold").
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
sim=$build/bench/sim/reclaim-sim
[ -x "$sim" ] || { echo "table.sh: no $sim (meson setup $build && ninja -C $build)" >&2; exit 1; }
jobs=${JOBS:-$(getconf _NPROCESSORS_ONLN)}
scenarios=$root/bench/sim/scenarios
commit=$(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)

run() { # title, command line after reclaim-sim
	local title=$1
	shift
	echo "#### $title"
	echo
	# shellcheck disable=SC2086
	"$sim" -m -j "$jobs" ${SIM_OPTS:-} "$@" > "$tmp"
	echo "\`reclaim-sim ${SIM_OPTS:+$SIM_OPTS }$*\`"
	echo "($(head -1 "$tmp" | sed 's/^scenario //'))"
	echo
	sed -e '1d' -e '/^wall time/d' "$tmp"
	echo
}

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
echo "Tables printed by \`bash bench/sim/table.sh\` at $commit."
echo
for x in 1.25 1.5 2 2.5; do
	run "Bitbrains, ${x}x" -x "$x" bench/sim/scenarios/bitbrains.conf
done
run "Holdout host (synthetic, 1.6x)" bench/sim/scenarios/holdout.conf
