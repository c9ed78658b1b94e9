#!/usr/bin/env bash
# Live libvirt tests: reclaim-libvirt-agent (examples/libvirt-agent) manages
# TCG guests under a libvirtd each test starts itself, and tests/libvirt
# checks what libvirt, /proc and the guest consoles report (meson suite
# 'libvirt-live'). Also checks that `meson install` installs the agent, its
# man page and its systemd unit. Needs root and the packages in
# .ci/packages.txt (libvirt-daemon-system, python3-libvirt, libvirt-dev,
# libxml2-dev, qemu-system-x86, cpio); reuses stage-50's guest image in
# build-ci-e2e-guest/ (built here when missing). Each test adds a host swap
# file if the machine has none and removes it. About 3 to 4 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=build-ci-libvirt
start=$(date +%s)

if [ "$(id -u)" != 0 ]; then
	echo "stage-55: the live libvirt tests need root (libvirtd, host swap file, process_madvise)" >&2
	exit 1
fi
for tool in libvirtd qemu-system-x86_64 unshare cpio apt-get /usr/bin/python3; do
	command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] ||
		{ echo "stage-55: $tool is missing" >&2; exit 1; }
done

rm -rf "$build"
meson setup "$build" --werror -Dtests=enabled -Dlibvirt_agent=enabled -Dlibvirt_live=true >/dev/null
ninja -C "$build" examples/libvirt-agent/reclaim-libvirt-agent tests/libvirt/memhog >/dev/null

# What an operator installs: the agent, its man page and its unit.
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
meson setup "$prefix/build" --prefix="$prefix/usr" -Dlibvirt_agent=enabled >/dev/null
meson install -C "$prefix/build" >/dev/null
for f in sbin/reclaim-libvirt-agent share/man/man8/reclaim-libvirt-agent.8 \
	lib/systemd/system/reclaim-libvirt-agent.service; do
	[ -e "$prefix/usr/$f" ] || { echo "stage-55: meson install did not install $f" >&2; exit 1; }
done
env -u LD_LIBRARY_PATH "$prefix/usr/sbin/reclaim-libvirt-agent" --version
grep -q "^ExecStart=$prefix/usr/sbin/reclaim-libvirt-agent " \
	"$prefix/usr/lib/systemd/system/reclaim-libvirt-agent.service" ||
	{ echo "stage-55: the unit does not start the installed agent" >&2; exit 1; }
echo "stage-55: meson install: agent, man page and unit"

# The guest image: stage-50's, rebuilt only when its inputs change.
export E2E_GUEST_DIR="$root/build-ci-e2e-guest"
sh tests/e2e/build-guest.sh "$E2E_GUEST_DIR" "$build/tests/libvirt/memhog" tests/e2e/guest-init
echo "stage-55: build and guest image in $(($(date +%s) - start)) s"

# Missing prerequisites fail here instead of skipping.
status=0
E2E_REQUIRE=1 meson test -C "$build" --no-rebuild --suite libvirt-live --print-errorlogs \
	--logbase libvirt-testlog ||
	status=$?
[ -z "${CI_TESTLOGS:-}" ] || echo "$root/$build/meson-logs/libvirt-testlog.json" >> "$CI_TESTLOGS"
echo "stage-55: live libvirt tests done in $(($(date +%s) - start)) s"
exit "$status"
