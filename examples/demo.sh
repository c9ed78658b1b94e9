#!/usr/bin/env bash
# The project's demo: replays 20 real VMs (Bitbrains GWA-T-12, 30 days) on a
# host with 2x memory overcommit under seven policies side by side, prints the
# comparison table and writes the plots; then a host whose working sets
# outgrow it (crunch.conf), where free memory goes through every state (high,
# soft, hard, low) and back; then the OSDI 2002 Fig. 6 and Fig. 7 scenarios.
# On a fresh Debian 12 machine, run as root: it installs what it needs first.
#   bash examples/demo.sh [OUTDIR]      (default: build-demo/demo)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=build-demo
out=${1:-$build/demo}

pkgs="meson ninja-build gcc libc6-dev pkg-config libcmocka-dev gnuplot-nox"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		echo "== installing:$missing"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		# shellcheck disable=SC2086
		apt-get install -y -qq --no-install-recommends $missing >/dev/null
	elif ! command -v meson >/dev/null || ! command -v ninja >/dev/null || ! command -v gnuplot >/dev/null; then
		echo "demo.sh: please install:$missing (or run as root on Debian 12)" >&2
		exit 1
	fi
fi

echo "== building in $build"
[ -d "$build" ] || meson setup "$build" -Dbench=true >/dev/null
ninja -C "$build" >/dev/null
sim=$build/bench/sim/reclaim-sim
mkdir -p "$out"

echo "== 20 Bitbrains VMs, 30 days, 2x overcommit, seven policies"
"$sim" -x 2 -o "$out/bitbrains-2x" bench/sim/scenarios/bitbrains.conf
bash bench/sim/plot.sh "$out/bitbrains-2x" >/dev/null

echo
echo "== crunch: working sets outgrow the host (100 min); every state, and back"
"$sim" -o "$out/crunch" bench/sim/scenarios/crunch.conf
bash bench/sim/plot.sh "$out/crunch" >/dev/null
echo "reclaim's state (library, with hysteresis), as it changed:"
awk -F, 'BEGIN { split("high soft hard low", name, " ") }
	 NR > 1 && (NR == 2 || $3 != last) { line = line sprintf(" %d:%02d %s", $1 / 60, $1 % 60, name[$3 + 1]); last = $3 }
	 END { print line }' "$out/crunch/reclaim-host.csv" | fold -s -w 78 | sed 's/^/  /'

echo
echo "== OSDI 2002 Fig. 6 (active-memory sampling) and Fig. 7 (idle memory tax)"
"$sim" -o "$out/fig6" bench/sim/scenarios/fig6.conf >/dev/null
bash bench/sim/plot.sh "$out/fig6" fig6 >/dev/null
"$sim" -o "$out/fig7" bench/sim/scenarios/fig7.conf >/dev/null
bash bench/sim/plot.sh "$out/fig7" fig7 >/dev/null
awk -F, 'NR > 1 && $1 >= 1200 && $1 < 1860 { b1 += $2; b2 += $9; nb++ }
	 NR > 1 && $1 >= 2700 { a1 += $2; a2 += $9; na++ }
	 END { printf "Fig. 7: tau = 0: %.0f / %.0f MB (paper 179 / 179); tau = 0.75: %.0f / %.0f MB (paper ~101 / 244)\n",
	       b1 / nb, b2 / nb, a1 / na, a2 / na }' "$out/fig7/reclaim-vms.csv"

echo
echo "== plots and CSV timelines in $out:"
find "$out" -name '*.png' | sort | sed 's/^/   /'
