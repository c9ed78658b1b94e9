#!/bin/sh
# Builds the end-to-end test guest: a Debian cloud kernel (downloaded with
# apt-get download, never installed) and a busybox-static initramfs holding
# guest-init, the memhog workload and the virtio modules the tests need.
#
#   build-guest.sh OUTDIR MEMHOG GUEST_INIT
#
# Writes OUTDIR/vmlinuz and OUTDIR/initramfs.cpio.gz. The downloaded .debs
# stay in OUTDIR/debs, and a stamp records what the image was built from, so
# a second run with the same inputs does nothing. Set KPKG to pin the kernel
# package (default: whatever linux-image-cloud-amd64 depends on).
set -eu

if [ $# -ne 3 ]; then
	echo "usage: $0 OUTDIR MEMHOG GUEST_INIT" >&2
	exit 2
fi
out=$1
memhog=$2
init=$3
modules="virtio_pci virtio_balloon virtio_blk"

mkdir -p "$out"
out=$(cd "$out" && pwd)

if [ -z "${KPKG:-}" ]; then
	KPKG=$(apt-cache depends linux-image-cloud-amd64 |
		sed -n 's/^ *Depends: \(linux-image-[0-9].*\)$/\1/p' | head -n 1)
	[ -n "$KPKG" ] || { echo "build-guest: cannot resolve linux-image-cloud-amd64" >&2; exit 1; }
fi

stamp="$KPKG $modules $(cat "$memhog" "$init" "$0" | sha256sum | cut -d' ' -f1)"
if [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$stamp" ] &&
	[ -f "$out/vmlinuz" ] && [ -f "$out/initramfs.cpio.gz" ]; then
	exit 0
fi

debs="$out/debs"
mkdir -p "$debs"
if ! ls "$debs"/"$KPKG"_*.deb >/dev/null 2>&1 || ! ls "$debs"/busybox-static_*.deb >/dev/null 2>&1; then
	# apt-get download writes into the current directory.
	(cd "$debs" && apt-get download -q "$KPKG" busybox-static 2>&1 |
		grep -v 'unsandboxed as root' || true)
fi
kdeb=$(ls "$debs"/"$KPKG"_*.deb | head -n 1)
bdeb=$(ls "$debs"/busybox-static_*.deb | head -n 1)

work="$out/work"
rm -rf "$work"
mkdir -p "$work/kernel" "$work/busybox"
dpkg-deb -x "$kdeb" "$work/kernel"
dpkg-deb -x "$bdeb" "$work/busybox"

vmlinuz=$(ls "$work"/kernel/boot/vmlinuz-* | head -n 1)
moddir=$(ls -d "$work"/kernel/lib/modules/* | head -n 1)

# Prints the path of module $1 (names may use '-' or '_').
find_module() {
	alt=$(echo "$1" | tr _ -)
	find "$moddir/kernel" \( -name "$1.ko" -o -name "$1.ko.xz" -o -name "$1.ko.zst" \
		-o -name "$alt.ko" -o -name "$alt.ko.xz" -o -name "$alt.ko.zst" \) | head -n 1
}

# The .deb has no modules.dep (depmod runs at install time), so read each
# module's dependencies from the depends= string of its .modinfo section.
mkdir -p "$work/mods"
module_file() {
	src=$(find_module "$1")
	[ -n "$src" ] || { echo "build-guest: module $1 not in $KPKG" >&2; exit 1; }
	dst="$work/mods/$1.ko"
	case "$src" in
	*.ko.xz) xz -dc "$src" > "$dst" ;;
	*.ko.zst) zstd -qdc "$src" > "$dst" ;;
	*) cp "$src" "$dst" ;;
	esac
	echo "$dst"
}

order=""
visit() {
	case " $order " in *" $1 "*) return 0 ;; esac
	f=$(module_file "$1")
	deps=$(tr '\0' '\n' < "$f" | sed -n 's/^depends=//p' | head -n 1 | tr , ' ')
	for d in $deps; do
		visit "$d"
	done
	order="$order $1"
}
for m in $modules; do
	visit "$m"
done

root="$work/root"
mkdir -p "$root/bin" "$root/lib/modules" "$root/dev"
cp "$work/busybox/bin/busybox" "$root/bin/busybox"
cp "$init" "$root/init"
chmod 755 "$root/init"
cp "$memhog" "$root/bin/memhog"
chmod 755 "$root/bin/memhog"
for m in $order; do
	cp "$work/mods/$m.ko" "$root/lib/modules/$m.ko"
	echo "$m" >> "$root/lib/modules/order"
done

cp "$vmlinuz" "$out/vmlinuz.new"
(cd "$root" && find . | cpio -o -H newc --quiet) | gzip -1 > "$out/initramfs.cpio.gz.new"
mv "$out/vmlinuz.new" "$out/vmlinuz"
mv "$out/initramfs.cpio.gz.new" "$out/initramfs.cpio.gz"
rm -rf "$work"
echo "$stamp" > "$out/stamp"
echo "build-guest: $KPKG, modules:$order"
