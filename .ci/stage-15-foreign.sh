#!/usr/bin/env bash
# The library and its tests built for two other architectures and run:
# - 32-bit x86 (i686-linux-gnu-gcc): size_t and pointers of 32 bits, and doubles
#   computed by the x87 in a wider format (FLT_EVAL_METHOD 2). Sizes there
#   must not wrap: the policy's capacity bound is checked where size_t is 32
#   bits only here. Run natively where the kernel runs 32-bit programs, else
#   under qemu-i386.
# - 64-bit Arm (aarch64-linux-gnu-gcc), under qemu-aarch64: char without a
#   sign, another instruction set's code; VMMs run on Arm hosts too.
# No 64-bit x86 leg sees either. Under qemu-user the agents' helpers are left
# out (their page-out and residency calls are not passed on), and so are the
# threaded tests on Arm (qemu-aarch64 7.2 hangs even a two-thread condition
# variable here). CI_I386_EMULATE=1 runs the i386 leg under qemu-user too.
# About a minute on 2 cores once the packages are in.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	export DEBIAN_FRONTEND=noninteractive
	foreign=$(dpkg --print-foreign-architectures)
	for arch in i386 arm64; do
		grep -qx "$arch" <<<"$foreign" || dpkg --add-architecture "$arch"
	done
	[ "$foreign" = "$(dpkg --print-foreign-architectures)" ] || apt-get update -qq
	# (cross compilers, not gcc-multilib: Debian has the two conflict)
	apt-get install -y -qq --no-install-recommends gcc-i686-linux-gnu g++-i686-linux-gnu \
		gcc-aarch64-linux-gnu g++-aarch64-linux-gnu qemu-user \
		libcmocka-dev:i386 libcmocka-dev:arm64 >/dev/null
fi

# leg NAME CROSS-FILE-BODY [meson test arguments]: builds build-ci-NAME with
# the cross file and runs its tests.
leg() {
	local name=$1 body=$2 b=build-ci-$1
	shift 2
	rm -rf "$b" "$b-cross"
	mkdir -p "$b-cross"
	printf '%s\n' "$body" > "$b-cross/cross.ini"
	meson setup "$b" --cross-file "$b-cross/cross.ini" --werror -Dtests=enabled \
		-Dtools=disabled -Dlibvirt_agent=disabled >/dev/null
	ninja -C "$b"
	meson test -C "$b" --print-errorlogs "$@"
	[ -z "${CI_TESTLOGS:-}" ] || echo "$PWD/$b/meson-logs/testlog.json" >> "$CI_TESTLOGS"
}

# (Meson 1.0 names pkg-config "pkgconfig" in a cross file; and it would take
# an x86-64 machine for one that runs x86 programs itself.)
mkdir -p build-ci-i386-cross
printf 'int main(void) { return sizeof(void *) == 4 ? 0 : 1; }\n' > build-ci-i386-cross/probe.c
i686-linux-gnu-gcc build-ci-i386-cross/probe.c -o build-ci-i386-cross/probe
i386_run="needs_exe_wrapper = false"
i386_wrapper=
i386_args=()
if [ "${CI_I386_EMULATE:-0}" = 1 ] || ! build-ci-i386-cross/probe 2>/dev/null; then
	i386_run="needs_exe_wrapper = true"
	i386_wrapper="exe_wrapper = 'qemu-i386'"
	i386_args=(--timeout-multiplier 10 --no-suite examples)
	echo "i386: under qemu-i386 (this kernel runs no 32-bit programs, or CI_I386_EMULATE=1)"
fi
leg i386 "[binaries]
c = 'i686-linux-gnu-gcc'
cpp = 'i686-linux-gnu-g++'
pkgconfig = 'pkg-config'
strip = 'i686-linux-gnu-strip'
$i386_wrapper

[properties]
pkg_config_libdir = ['/usr/lib/i386-linux-gnu/pkgconfig', '/usr/share/pkgconfig']
$i386_run

[host_machine]
system = 'linux'
cpu_family = 'x86'
cpu = 'i686'
endian = 'little'" "${i386_args[@]}"

leg arm64 "[binaries]
c = 'aarch64-linux-gnu-gcc'
cpp = 'aarch64-linux-gnu-g++'
pkgconfig = 'pkg-config'
strip = 'aarch64-linux-gnu-strip'
exe_wrapper = ['qemu-aarch64', '-L', '/usr/aarch64-linux-gnu']

[properties]
pkg_config_libdir = ['/usr/lib/aarch64-linux-gnu/pkgconfig', '/usr/share/pkgconfig']

[host_machine]
system = 'linux'
cpu_family = 'aarch64'
cpu = 'armv8-a'
endian = 'little'" --timeout-multiplier 10 --no-suite examples --no-suite tsan
