#!/usr/bin/env bash
# Policy simulator: the scenario assertions (meson suite 'sim') on the clang
# build (the gcc build already ran them with the full suite), then a short
# Bitbrains replay and the holdout host under every policy, twice each,
# which must give identical results, and the plots. About 2 minutes on 2
# cores.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=build-ci-clang
if [ ! -d "$build" ]; then
	build=build-ci-sim
	[ -d "$build" ] || meson setup "$build" --werror -Dtests=enabled -Dbench=true >/dev/null
	ninja -C "$build" >/dev/null
fi

meson test -C "$build" --suite sim --print-errorlogs --logbase sim-testlog
[ -z "${CI_TESTLOGS:-}" ] || echo "$root/$build/meson-logs/sim-testlog.json" >> "$CI_TESTLOGS"

sim=$build/bench/sim/reclaim-sim
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$sim" -x 1.5 -d 1d -j 2 -o "$tmp/a" bench/sim/scenarios/bitbrains.conf > "$tmp/a.txt"
"$sim" -x 1.5 -d 1d -j 1 -o "$tmp/b" bench/sim/scenarios/bitbrains.conf > "$tmp/b.txt"
cat "$tmp/a.txt"
for f in "$tmp"/a/*.csv; do
	cmp -s "$f" "$tmp/b/$(basename "$f")" || { echo "stage-40: $f differs between runs" >&2; exit 1; }
done
grep -v -e '^run time (CPU s)' -e '^wall time' "$tmp/a/summary.txt" > "$tmp/a.sum"
grep -v -e '^run time (CPU s)' -e '^wall time' "$tmp/b/summary.txt" > "$tmp/b.sum"
cmp -s "$tmp/a.sum" "$tmp/b.sum" || { echo "stage-40: summaries differ between runs" >&2; exit 1; }
grep -q '^guest OOM episodes  *0 ' "$tmp/a/summary.txt" ||
	{ echo "stage-40: reclaim had guest OOM episodes in the 1-day replay" >&2; exit 1; }
# The holdout host (generated working sets): every policy, same results
# with one thread or two.
"$sim" -j 2 -o "$tmp/h2" bench/sim/scenarios/holdout.conf > /dev/null
"$sim" -j 1 -o "$tmp/h1" bench/sim/scenarios/holdout.conf > /dev/null
grep -v '^run time (CPU s)' "$tmp/h2/summary.txt" > "$tmp/h2.sum"
grep -v '^run time (CPU s)' "$tmp/h1/summary.txt" > "$tmp/h1.sum"
cmp -s "$tmp/h1.sum" "$tmp/h2.sum" || { echo "stage-40: holdout summaries differ between runs" >&2; exit 1; }
cat "$tmp/h2/summary.txt"
bash bench/sim/plot.sh "$tmp/a" >/dev/null
for p in free vms-reclaim vms-paper vms-swap-only vms-mom vms-squeezed vms-kernel-only vms-psi; do
	[ -s "$tmp/a/$p.png" ] || { echo "stage-40: $p.png missing" >&2; exit 1; }
done
echo "stage-40: deterministic replay, plots written"
