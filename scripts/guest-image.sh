#!/bin/sh
# Builds the default guest from Debian's own packages: the stock amd64 kernel (linux-image-amd64)
# and an initramfs holding Debian's busybox-static with a small /init. Nothing is patched or
# rebuilt. Output (git-ignored): guest/vmlinuz, guest/initrd.img, guest/KERNEL_VERSION.
# The initramfs also holds the kernel's own modules for the virtio devices and ext4 (Debian builds
# them as modules), loaded by /init. Idempotent: does nothing when the files are there in the
# current format (guest/FORMAT). Usage: scripts/guest-image.sh [outdir]
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$top/guest}
format=3 # 2: virtio and ext4 modules in the initramfs; 3: udhcpc event script
if [ -f "$out/vmlinuz" ] && [ -f "$out/initrd.img" ] && [ "$(cat "$out/FORMAT" 2>/dev/null)" = $format ]; then
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

# Debian's modules for virtio (PCI transport, blk, net, console, rng) and ext4, with everything
# they depend on (each module's modinfo "depends=" field; the package ships no modules.dep, depmod
# makes it at install time), listed in load order for /init.
kver=${kpkg#linux-image-}
mdir=kernel/lib/modules/$kver
mods=""
modpath() {
	awk -v n="$(echo "$1" | tr - _)" '{ b = $0; sub(/.*\//, "", b); sub(/\.ko.*$/, "", b); gsub(/-/, "_", b)
		if (b == n) { print; exit } }' "$mdir/modules.order"
}
addmod() {
	local p d
	p=$(modpath "$1")
	[ -n "$p" ] || { echo "guest-image: module $1 is not in $kpkg" >&2; exit 1; }
	case " $mods " in *" $p "*) return 0 ;; esac
	for d in $(tr '\0' '\n' < "$mdir/$p" | sed -n 's/^depends=//p' | tr ',' ' '); do
		addmod "$d"
	done
	mods="$mods $p"
}
for m in virtio_pci virtio_blk virtio_net virtio_console virtio-rng ext4 crc32c_generic; do
	addmod "$m"
done
mkdir -p "$root/lib/modules/$kver"
for p in $mods; do
	cp "$mdir/$p" "$root/lib/modules/$kver/"
	echo "${p##*/}" >> "$root/lib/modules/$kver/load-order"
done

# busybox's udhcpc runs /etc/udhcpc/default.script with the lease in its environment; Debian ships
# that script in the udhcpc package, not in busybox-static. This one configures the address, the
# default route and /etc/resolv.conf (udhcpc -i eth0 then gives 10.0.2.15 under --net user).
mkdir -p "$root/etc/udhcpc"
cat > "$root/etc/udhcpc/default.script" <<'DHCP'
#!/bin/sh
case "$1" in
deconfig)
	ip addr flush dev "$interface"
	ip link set "$interface" up
	;;
bound|renew)
	ip addr flush dev "$interface"
	ip addr add "$ip/${mask:-24}" dev "$interface"
	[ -n "$router" ] && ip route replace default via "${router%% *}" dev "$interface"
	: >/etc/resolv.conf
	for d in $dns; do echo "nameserver $d" >>/etc/resolv.conf; done
	;;
esac
exit 0
DHCP
chmod +x "$root/etc/udhcpc/default.script"

cat > "$root/init" <<'INIT'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
for m in $(cat /lib/modules/$(uname -r)/load-order 2>/dev/null); do
	insmod /lib/modules/$(uname -r)/$m
done
echo "softvm guest: busybox $(busybox | head -1 | cut -d' ' -f2) on Linux $(uname -r)"
echo "Type 'poweroff -f' to power off."
exec setsid cttyhack sh
INIT
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -9) > "$out/initrd.img.tmp"

cp "kernel/boot/vmlinuz-$kver" "$out/vmlinuz.tmp"
mv "$out/initrd.img.tmp" "$out/initrd.img"
mv "$out/vmlinuz.tmp" "$out/vmlinuz"
echo "$kver" > "$out/KERNEL_VERSION"
echo $format > "$out/FORMAT"
echo "guest-image: $out/vmlinuz ($kver) and $out/initrd.img" >&2
