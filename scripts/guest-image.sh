#!/bin/sh
# Builds the default guest from Debian's own packages: the stock amd64 kernel (linux-image-amd64)
# and an initramfs holding Debian's busybox-static with a small /init. Nothing is patched or
# rebuilt. Output (git-ignored): guest/vmlinuz, guest/initrd.img, guest/KERNEL_VERSION.
# Idempotent: does nothing when the files are there. Usage: scripts/guest-image.sh [outdir]
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$top/guest}
if [ -f "$out/vmlinuz" ] && [ -f "$out/initrd.img" ]; then
	exit 0
fi
sh "$top/scripts/install-deps.sh" --guest
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

# A fresh machine (a container image, say) may have empty package lists: fetch them once, only
# when apt does not know the packages yet.
if ! apt-cache show linux-image-amd64 busybox-static >/dev/null 2>&1; then
	SUDO=""
	[ "$(id -u)" -ne 0 ] && SUDO=sudo
	echo "guest-image: updating the package lists (apt-get update)" >&2
	$SUDO apt-get update -qq >/dev/null
fi

# The metapackage names the current kernel package; download that and busybox-static.
kpkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
[ -n "$kpkg" ] || { echo "guest-image: cannot resolve linux-image-amd64 (run apt-get update)" >&2; exit 1; }
# As root, apt would drop to its _apt user, which cannot write to our private directory.
sandbox=""
[ "$(id -u)" -eq 0 ] && sandbox="-o APT::Sandbox::User=root"
apt-get download -qq $sandbox "$kpkg" busybox-static >/dev/null
dpkg-deb -x "$(ls ${kpkg}_*.deb)" kernel
dpkg-deb -x "$(ls busybox-static_*.deb)" bb

# initramfs: busybox with its applet links, a few mount points and /init.
root=$work/root
mkdir -p "$root/bin" "$root/sbin" "$root/usr/bin" "$root/usr/sbin" "$root/proc" "$root/sys" \
	"$root/dev" "$root/tmp" "$root/root" "$root/etc"
cp bb/bin/busybox "$root/bin/busybox"
for applet in $("$root/bin/busybox" --list-full); do
	[ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
done
cat > "$root/init" <<'INIT'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo "softvm guest: busybox $(busybox | head -1 | cut -d' ' -f2) on Linux $(uname -r)"
echo "Type 'poweroff -f' to power off."
exec setsid cttyhack sh
INIT
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -9) > "$out/initrd.img.tmp"

kver=${kpkg#linux-image-}
cp "kernel/boot/vmlinuz-$kver" "$out/vmlinuz.tmp"
mv "$out/initrd.img.tmp" "$out/initrd.img"
mv "$out/vmlinuz.tmp" "$out/vmlinuz"
echo "$kver" > "$out/KERNEL_VERSION"
echo "guest-image: $out/vmlinuz ($kver) and $out/initrd.img" >&2
