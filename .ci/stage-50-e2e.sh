#!/usr/bin/env bash
# End-to-end: qemu-agent (examples/qemu-agent) manages live QEMU guests and
# tests/e2e checks what really happened to them (meson suite 'e2e'). Needs
# root and the packages in .ci/packages.txt (qemu-system-x86, cpio, gdb,
# libjansson-dev); downloads a Debian cloud kernel and busybox-static with
# apt-get download, cached in build-ci-e2e-guest/. Each test adds a host swap
# file if the machine has none and removes it; lru-swap adds a zram swap
# device of its own (the kernel's zram) and a memory cgroup for one QEMU, and
# removes them. About 5 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=build-ci-e2e
start=$(date +%s)

if [ "$(id -u)" != 0 ]; then
	echo "stage-50: the e2e tests need root (host swap file, process_madvise on QEMU)" >&2
	exit 1
fi
for tool in qemu-system-x86_64 cpio apt-get gdb; do
	command -v "$tool" >/dev/null || { echo "stage-50: $tool is missing" >&2; exit 1; }
done

rm -rf "$build"
meson setup "$build" --werror -Dtests=enabled -Dbench=false -De2e=true >/dev/null
# Only what the e2e suite runs: the gcc and clang builds built the rest.
ninja -C "$build" examples/qemu-agent/qemu-agent tests/e2e/memhog >/dev/null

# The guest image: kernel + initramfs, rebuilt only when its inputs change.
export E2E_GUEST_DIR="$root/build-ci-e2e-guest"
sh tests/e2e/build-guest.sh "$E2E_GUEST_DIR" "$build/tests/e2e/memhog" tests/e2e/guest-init
echo "stage-50: build and guest image in $(($(date +%s) - start)) s"

# Missing prerequisites fail here instead of skipping.
status=0
E2E_REQUIRE=1 meson test -C "$build" --no-rebuild --suite e2e --print-errorlogs \
	--logbase e2e-testlog ||
	status=$?
[ -z "${CI_TESTLOGS:-}" ] || echo "$root/$build/meson-logs/e2e-testlog.json" >> "$CI_TESTLOGS"
echo "stage-50: e2e done in $(($(date +%s) - start)) s"
exit "$status"
