#!/usr/bin/env bash
# Valgrind memcheck of every unit test, on the gcc build .ci/run
# made (or a fresh one). Leaks and invalid accesses fail the test (exit 3).
# test_property runs 5000 scenarios here instead of 100000: memcheck is ~30x
# slower and the full count already ran natively and under ASan.
# About 3 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
b=build-ci-gcc
if [ ! -d "$b" ]; then
	b=build-ci-valgrind
	[ -d "$b" ] || meson setup "$b" -Dtests=enabled -Dbench=true >/dev/null
fi
ninja -C "$b" >/dev/null
status=0
RECLAIM_PROPERTY_SCENARIOS=5000 RECLAIM_PROPERTY_MONOTONIC=1000 \
	meson test -C "$b" --no-rebuild --setup=valgrind --suite unit --print-errorlogs \
	--logbase valgrind-testlog || status=$?
# (meson appends the setup's name to the log base)
[ -z "${CI_TESTLOGS:-}" ] || echo "$root/$b/meson-logs/valgrind-testlog-valgrind.json" >> "$CI_TESTLOGS"
exit "$status"
