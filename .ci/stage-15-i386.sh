#!/usr/bin/env bash
# The library and every default test built for 32-bit x86 and run: size_t
# and pointers of 32 bits, and doubles computed by the x87 in a wider format
# (FLT_EVAL_METHOD 2), which no 64-bit leg sees. An embedder may build the
# library for a 32-bit target, and sizes there must not wrap (the policy's
# capacity bound is checked where size_t is 32 bits only here). The tests run natively where
# the kernel runs 32-bit programs, else under qemu-user (qemu-i386);
# CI_I386_EMULATE=1 asks for qemu-user even where they run natively.
# Under a minute natively on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
b=build-ci-i386
x=build-ci-i386-cross # the probe and the cross file

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	export DEBIAN_FRONTEND=noninteractive
	if ! dpkg --print-foreign-architectures | grep -qx i386; then
		dpkg --add-architecture i386
		apt-get update -qq
	fi
	apt-get install -y -qq --no-install-recommends gcc-multilib g++-multilib \
		libcmocka-dev:i386 >/dev/null
fi

rm -rf "$b" "$x"
mkdir -p "$x"
printf 'int main(void) { return sizeof(void *) == 4 ? 0 : 1; }\n' > "$x/probe.c"
gcc -m32 "$x/probe.c" -o "$x/probe"
wrapper="needs_exe_wrapper = false"
binaries=
timeouts=1
suites=()
if [ "${CI_I386_EMULATE:-0}" = 1 ] || ! "$x/probe" 2>/dev/null; then
	if ! command -v qemu-i386 >/dev/null && [ "$(id -u)" = 0 ]; then
		apt-get install -y -qq --no-install-recommends qemu-user >/dev/null
	fi
	"$(command -v qemu-i386)" "$x/probe"
	# (meson would take an x86-64 machine for one that runs x86 itself)
	wrapper="needs_exe_wrapper = true"
	binaries="exe_wrapper = 'qemu-i386'"
	timeouts=10
	# The agents' helpers page memory out and read residency, which
	# qemu-user does not pass on: their suite needs a real kernel.
	suites=(--no-suite examples)
	echo "i386: this kernel does not run 32-bit programs (or CI_I386_EMULATE=1):" \
		"qemu-i386 runs them, all but the examples suite"
fi
# Meson 1.0 names pkg-config "pkgconfig" in a cross file.
cat > "$x/i386.ini" <<EOF
[binaries]
c = ['gcc', '-m32']
cpp = ['g++', '-m32']
pkgconfig = 'pkg-config'
strip = 'strip'
$binaries

[properties]
pkg_config_libdir = ['/usr/lib/i386-linux-gnu/pkgconfig', '/usr/share/pkgconfig']
$wrapper

[host_machine]
system = 'linux'
cpu_family = 'x86'
cpu = 'i686'
endian = 'little'
EOF

meson setup "$b" --cross-file "$x/i386.ini" --werror -Dtests=enabled -Dtools=disabled \
	-Dlibvirt_agent=disabled >/dev/null
ninja -C "$b"
meson test -C "$b" --print-errorlogs --timeout-multiplier "$timeouts" "${suites[@]}"
[ -z "${CI_TESTLOGS:-}" ] || echo "$PWD/$b/meson-logs/testlog.json" >> "$CI_TESTLOGS"
