#!/usr/bin/env bash
# Sanitizers: an ASan+UBSan build (gcc) running every test, with any
# report fatal; then a TSan build running test_tsan (4 threads, one policy
# each) and test_misuse (threads misusing one policy). About 4 minutes on 2
# cores.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
log() { [ -z "${CI_TESTLOGS:-}" ] || echo "$1" >> "$CI_TESTLOGS"; }

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1

b=build-ci-asan
rm -rf "$b"
CC=gcc meson setup "$b" -Dtests=enabled -Dbench=true -Db_sanitize=address,undefined \
	-Dc_args=-fno-sanitize-recover=all >/dev/null
ninja -C "$b" >/dev/null
status=0
meson test -C "$b" --print-errorlogs --logbase asan-testlog || status=$?
log "$root/$b/meson-logs/asan-testlog.json"

t=build-ci-tsan
rm -rf "$t"
CC=gcc meson setup "$t" -Dtests=enabled -Dbench=false -Db_sanitize=thread >/dev/null
ninja -C "$t" tests/test_tsan tests/test_misuse >/dev/null
meson test -C "$t" --no-rebuild --suite tsan --print-errorlogs --logbase tsan-testlog || status=$?
log "$root/$t/meson-logs/tsan-testlog.json"
exit "$status"
