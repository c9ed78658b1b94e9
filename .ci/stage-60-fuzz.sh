#!/usr/bin/env bash
# Fuzzing: builds the libFuzzer targets with clang
# (-fsanitize=fuzzer,address,undefined, library instrumented), fuzzes each from
# the committed corpus for a bounded time, both at once on the 2 cores, and
# prints the executions done. A crash, sanitizer report or oracle violation
# fails the stage and prints the input (base64) to replay with
#   build/tests/fuzz/<target>-replay FILE
# The CI run is deterministic: a fixed seed and a fixed number of runs per
# target (FUZZ_RUNS_DECIDE, FUZZ_RUNS_CONFIG), so that a submission's result
# can be reproduced exactly; FUZZ_SECONDS (default 150) only caps the time.
# Longer campaigns: FUZZ_SEED=random FUZZ_RUNS_DECIDE=-1 FUZZ_SECONDS=3600.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-150}
seed=${FUZZ_SEED:-20261127}
runs_fuzz_decide=${FUZZ_RUNS_DECIDE:-40000}
runs_fuzz_config=${FUZZ_RUNS_CONFIG:-4000000}
b=build-ci-fuzz
rm -rf "$b"
CC=clang meson setup "$b" -Dtests=enabled -Dbench=false -Dfuzzing=true >/dev/null
ninja -C "$b" tests/fuzz/fuzz_decide tests/fuzz/fuzz_config >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

targets="fuzz_decide fuzz_config"
for t in $targets; do
	mkdir -p "$tmp/$t.new"
	runs_var=runs_$t
	seed_arg=()
	[ "$seed" = random ] || seed_arg=(-seed="$seed")
	"$b/tests/fuzz/$t" "${seed_arg[@]}" -runs="${!runs_var}" -max_total_time="$secs" \
		-timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$tmp/$t-" \
		"$tmp/$t.new" "tests/fuzz/corpus/$t" > "$tmp/$t.log" 2>&1 &
	echo $! > "$tmp/$t.pid"
done
status=0
total=0
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
echo "fuzz: $total executions in total, $([ $status = 0 ] && echo 0 || echo some) findings"
exit "$status"
