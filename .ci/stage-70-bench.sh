#!/usr/bin/env bash
# Speed bench smoke run (bench/README.md, section "Speed"): the bench runs to
# the end on every input shape and candidate, its hosts really are in the
# states they claim, decide and apply allocate nothing (reclaim-speed exits
# non-zero otherwise), and the callgrind mode still counts instructions and
# cache lines.
# Timings are printed, never asserted. About 20 s of CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
exe=${SPEED_BUILD:-build-ci-gcc}/bench/speed/reclaim-speed
"$exe" --quick
if command -v valgrind >/dev/null; then
	sh bench/speed/callgrind.sh "$exe" 1000
	sh bench/speed/cachesim.sh "$exe" 10000
fi
