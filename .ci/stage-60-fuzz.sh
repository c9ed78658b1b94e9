#!/usr/bin/env bash
# Fuzzing: builds the libFuzzer targets with clang
# (-fsanitize=fuzzer,address,undefined, library instrumented), fuzzes each from
# the committed corpus for a bounded time, two at once on the 2 cores (the
# library's two, then reclaimctl's line and config front ends), and prints
# the executions done. A crash, sanitizer report or oracle violation fails
# the stage and prints the input (base64) to replay with
#   build/tests/fuzz/<target>-replay FILE
#   build/tests/ctl/<target>_replay FILE
# The CI run is deterministic: a fixed seed and a fixed number of runs per
# target (FUZZ_RUNS_DECIDE, FUZZ_RUNS_CONFIG, FUZZ_RUNS_CTL_LINE,
# FUZZ_RUNS_CTL_CONFIG), so that a submission's result can be reproduced
# exactly; FUZZ_SECONDS (default 150) only caps each target's time.
# Longer campaigns: FUZZ_SEED=random FUZZ_RUNS_DECIDE=-1 FUZZ_SECONDS=3600.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-150}
seed=${FUZZ_SEED:-20261127}
runs_fuzz_decide=${FUZZ_RUNS_DECIDE:-40000}
runs_fuzz_config=${FUZZ_RUNS_CONFIG:-4000000}
runs_fuzz_ctl_line=${FUZZ_RUNS_CTL_LINE:-20000}
runs_fuzz_ctl_config=${FUZZ_RUNS_CTL_CONFIG:-2000000}
b=build-ci-fuzz
rm -rf "$b"
CC=clang meson setup "$b" -Dtests=enabled -Dbench=false -Dfuzzing=true >/dev/null
# The library's targets, and reclaimctl's (its line and config front ends).
declare -A dir=([fuzz_decide]=tests/fuzz [fuzz_config]=tests/fuzz
	[fuzz_ctl_line]=tests/ctl [fuzz_ctl_config]=tests/ctl)
declare -A corpus=([fuzz_decide]=tests/fuzz/corpus/fuzz_decide
	[fuzz_config]=tests/fuzz/corpus/fuzz_config
	[fuzz_ctl_line]=tests/ctl/corpus/line [fuzz_ctl_config]=tests/ctl/corpus/config)
ninja -C "$b" tests/fuzz/fuzz_decide tests/fuzz/fuzz_config tests/ctl/fuzz_ctl_line \
	tests/ctl/fuzz_ctl_config >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

status=0
total=0
# Two waves of two targets, one target a core.
for targets in "fuzz_decide fuzz_config" "fuzz_ctl_line fuzz_ctl_config"; do
	for t in $targets; do
		mkdir -p "$tmp/$t.new"
		runs_var=runs_$t
		seed_arg=()
		[ "$seed" = random ] || seed_arg=(-seed="$seed")
		"$b/${dir[$t]}/$t" "${seed_arg[@]}" -runs="${!runs_var}" -max_total_time="$secs" \
			-timeout=10 -rss_limit_mb=2048 \
			-print_final_stats=1 -artifact_prefix="$tmp/$t-" \
			"$tmp/$t.new" "${corpus[$t]}" > "$tmp/$t.log" 2>&1 &
		echo $! > "$tmp/$t.pid"
	done
	for t in $targets; do
		rc=0
		wait "$(cat "$tmp/$t.pid")" || rc=$?
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$tmp/$t.log" | tail -n 1)
		runs=${runs:-0}
		total=$((total + runs))
		echo "fuzz: $t: $runs executions (seed $seed, at most ${secs} s), exit $rc"
		if [ "$rc" -ne 0 ]; then
			status=1
			grep -E 'oracle violation|ERROR|runtime error|SUMMARY' "$tmp/$t.log" | head -n 20 >&2 || true
			for a in "$tmp/$t"-*; do
				[ -e "$a" ] && echo "fuzz: $t input $(basename "$a"): $(base64 -w0 "$a")" >&2
			done
		fi
	done
done
echo "fuzz: $total executions in total, $([ $status = 0 ] && echo 0 || echo some) findings"
exit "$status"
