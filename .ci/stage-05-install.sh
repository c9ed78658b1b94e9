#!/usr/bin/env bash
# An installed prefix works for outsiders: an out-of-tree C program built
# only with `pkg-config --cflags --libs reclaim` runs one decision, and a
# parent Meson project consumes reclaim as a subproject.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Default options: installing builds the library and the tools, no test and
# no bench, and the tools run from the prefix without LD_LIBRARY_PATH.
meson setup "$tmp/build" --prefix="$tmp/prefix" --libdir=lib >/dev/null
meson install -C "$tmp/build" >/dev/null
if find "$tmp/build" -name 'test_*' -type f -perm -u+x | grep -q . ||
	[ -e "$tmp/build/bench/sim/reclaim-sim" ]; then
	echo "stage-05: meson install built tests or benches" >&2
	exit 1
fi
for tool in "$tmp"/prefix/bin/*; do
	[ -e "$tool" ] || continue
	env -u LD_LIBRARY_PATH "$tool" --help >/dev/null 2>&1 ||
		{ echo "stage-05: $tool does not run from the prefix" >&2; exit 1; }
	echo "installed tool runs without LD_LIBRARY_PATH: $(basename "$tool")"
done
export PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig"
pkg-config --modversion reclaim
mkdir "$tmp/outside"
cp examples/fake_hypervisor.c "$tmp/outside/main.c"
# shellcheck disable=SC2046
cc -std=c11 -Wall -Wextra -Werror -o "$tmp/outside/prog" "$tmp/outside/main.c" \
	$(pkg-config --cflags --libs reclaim)
LD_LIBRARY_PATH="$tmp/prefix/lib" "$tmp/outside/prog" | tee "$tmp/out.txt" | head -5
grep -q 'state' "$tmp/out.txt"
echo "out-of-tree pkg-config build: ok"

mkdir -p "$tmp/parent/subprojects"
ln -s "$src" "$tmp/parent/subprojects/reclaim"
cp examples/fake_hypervisor.c "$tmp/parent/main.c"
cat > "$tmp/parent/meson.build" <<'MESON'
project('parent', 'c', default_options: ['c_std=c11'])
dep = dependency('reclaim', fallback: ['reclaim', 'reclaim_dep'],
  default_options: ['tests=disabled', 'bench=false', 'tools=disabled', 'default_library=static'])
executable('parent', 'main.c', dependencies: dep)
MESON
meson setup "$tmp/parent/build" "$tmp/parent" --wrap-mode=forcefallback >/dev/null
ninja -C "$tmp/parent/build" >/dev/null
"$tmp/parent/build/parent" | grep -q state
echo "subproject build: ok"
