#!/bin/sh
# Builds the full Debian guest: a Debian 12 (bookworm) system made by debootstrap from the Debian
# archive, in a qcow2 image, with Debian's own kernel and initramfs beside it (softvm boots them
# directly: no BIOS or boot loader in the image).
#
# Output (git-ignored guest/ folder, or the directory given as $1):
#   debian.qcow2         whole-disk ext4 (no partition table): the guest's /dev/vda, mounted as /
#   debian-vmlinuz       the image's /boot/vmlinuz-* (linux-image-amd64)
#   debian-initrd.img    the image's /boot/initrd.img-* (initramfs-tools, with virtio and ext4)
#   debian-ssh-key[.pub] an ed25519 key made here; the public half is root's authorized key
#   debian-FORMAT        format stamp (idempotence)
# The system: minbase plus the kernel, systemd as init, udev, dbus, openssh-server,
# systemd-networkd with DHCP on every en*/eth* NIC and systemd-resolved, a few everyday tools;
# hostname softvm-debian; root's password is "softvm" (a test image, never exposed: the ssh
# server accepts keys only for root). systemd starts a getty on the serial console by itself
# when the kernel's command line says console=ttyS0. Boot it with:
#   softvm run --kernel guest/debian-vmlinuz --initrd guest/debian-initrd.img \
#     --append "root=/dev/vda rw console=ttyS0" --drive file=guest/debian.qcow2 \
#     --net user,hostfwd=tcp:127.0.0.1:2222-:22 --memory 1G
#
# Runs as root (debootstrap and chroot need it). Needs the Debian archive (DEBIAN_MIRROR, default
# http://deb.debian.org/debian); downloaded packages are kept in guest/.debian-cache so a rebuild
# needs little network. Idempotent: does nothing when the output is there in the current format.
# Usage: scripts/debian-image.sh [outdir]
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$top/guest}
mkdir -p "$out"
out=$(cd "$out" && pwd)
format=3 # 2: MODULES=list initramfs with fsck, /etc/default/locale; 3: wireless-regdb
suite=bookworm
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
size=4G # the ext4 file system; the qcow2 holds only what is used

if [ -f "$out/debian.qcow2" ] && [ -f "$out/debian-vmlinuz" ] && [ -f "$out/debian-initrd.img" ] &&
	[ -f "$out/debian-ssh-key" ] && [ "$(cat "$out/debian-FORMAT" 2>/dev/null)" = $format ]; then
	exit 0
fi
say() { echo "debian-image: $*" >&2; }
die() { say "$*"; exit 1; }
[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap and chroot need it)"
start=$(date +%s)

sh "$top/scripts/install-deps.sh" --debian

# Without the archive nothing can be built: say so plainly rather than let debootstrap fail later.
if ! wget -q -T 20 -t 2 -O /dev/null "$mirror/dists/$suite/Release"; then
	die "cannot reach the Debian archive ($mirror/dists/$suite/Release): this script downloads Debian's packages and needs network access to it (set DEBIAN_MIRROR for another mirror)"
fi

work=$(mktemp -d "$out/.debian-work.XXXXXX")
root=$work/root
cleanup() {
	# Never remove a tree that still has a file system mounted in it.
	for m in "$root/sys" "$root/proc" "$root/dev/pts" "$root/dev"; do
		mountpoint -q "$m" 2>/dev/null && umount -l "$m"
	done
	if grep -q " $work/" /proc/mounts; then
		say "something is still mounted under $work; not removing it"
	else
		rm -rf --one-file-system "$work"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

cache=$out/.debian-cache
mkdir -p "$cache"

# Written before debootstrap, so the initramfs that installing the kernel makes is the final one
# (dpkg keeps an existing conffile: debootstrap runs it with --force-confold).
# fstab: the whole disk is the ext4 file system (no partition table).
mkdir -p "$root/etc/initramfs-tools/conf.d"
cat > "$root/etc/fstab" <<'EOF'
# <file system> <mount point> <type> <options> <dump> <pass>
/dev/vda	/	ext4	rw,errors=remount-ro	0	1
EOF
# initramfs: the modules that reach the root file system on a virtio disk, with their dependencies
# (MODULES=list; Debian's default MODULES=most takes every storage driver, a 36 MB initramfs that
# takes long to unpack and probe under emulation); fsck.ext4 for the root (FSTYPE: the fsck hook
# would otherwise probe the build host's own root device); gzip (minbase has no zstd).
cat > "$root/etc/initramfs-tools/modules" <<'EOF'
# The initramfs loads these (scripts/debian-image.sh): the virtio disk and the root's ext4.
virtio_pci
virtio_blk
ext4
crc32c_generic
EOF
cat > "$root/etc/initramfs-tools/conf.d/softvm" <<'EOF'
MODULES=list
FSTYPE=ext4
COMPRESS=gzip
EOF

pkgs=linux-image-amd64,initramfs-tools,systemd-sysv,systemd-resolved,udev,dbus,libpam-systemd
pkgs=$pkgs,openssh-server,kmod,e2fsprogs,netbase,ca-certificates
# systemd-networkd asks for nl80211, which loads cfg80211, which wants its regulatory.db.
pkgs=$pkgs,wireless-regdb
pkgs=$pkgs,iproute2,iputils-ping,procps,psmisc,less,vim-tiny,curl
say "debootstrap $suite (minbase + $pkgs) from $mirror"
if ! debootstrap --variant=minbase --components=main --cache-dir="$cache" --include="$pkgs" \
	"$suite" "$root" "$mirror" > "$work/debootstrap.log" 2>&1; then
	tail -30 "$work/debootstrap.log" >&2
	[ -f "$root/debootstrap/debootstrap.log" ] && tail -30 "$root/debootstrap/debootstrap.log" >&2
	die "debootstrap failed (log above)"
fi

in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }
mount -t proc proc "$root/proc"
mount -t sysfs sysfs "$root/sys"

echo softvm-debian > "$root/etc/hostname"
cat > "$root/etc/hosts" <<'EOF'
127.0.0.1	localhost
127.0.1.1	softvm-debian
::1		localhost ip6-localhost ip6-loopback
ff02::1		ip6-allnodes
ff02::2		ip6-allrouters
EOF
# No locales package: the C.UTF-8 locale is built into libc (pam_env reads this file).
echo LANG=C.UTF-8 > "$root/etc/default/locale"

# Network: DHCP on every Ethernet NIC (virtio-net is enp0sN or eth0), names through resolved.
cat > "$root/etc/systemd/network/80-dhcp.network" <<'EOF'
[Match]
Name=en* eth*

[Network]
DHCP=yes
EOF
in_root systemctl enable systemd-networkd.service systemd-resolved.service >/dev/null 2>&1
ln -sf /run/systemd/resolve/stub-resolv.conf "$root/etc/resolv.conf"

# A fixed machine id: with none, systemd would treat every boot as the first one
# (systemd-firstboot would ask questions on the console).
[ -s "$root/etc/machine-id" ] || in_root systemd-machine-id-setup >/dev/null
# dbus reads its own copy.
[ -e "$root/var/lib/dbus/machine-id" ] || ln -sf /etc/machine-id "$root/var/lib/dbus/machine-id"

echo root:softvm | in_root chpasswd
rm -f "$out/debian-ssh-key" "$out/debian-ssh-key.pub"
ssh-keygen -q -t ed25519 -N '' -C "softvm-debian-test" -f "$out/debian-ssh-key"
mkdir -p "$root/root/.ssh"
cp "$out/debian-ssh-key.pub" "$root/root/.ssh/authorized_keys"
chmod 700 "$root/root/.ssh"
chmod 600 "$root/root/.ssh/authorized_keys"

kver=$(ls "$root/lib/modules" | sort -V | tail -1)
[ -n "$kver" ] || die "no kernel modules in the image (linux-image-amd64 not installed?)"
[ -f "$root/boot/initrd.img-$kver" ] || die "no initramfs for $kver in the image"
grep -q '^MODULES=list' "$root/etc/initramfs-tools/conf.d/softvm" && grep -q '^virtio_blk' "$root/etc/initramfs-tools/modules" ||
	die "the initramfs configuration was replaced during the installation"
in_root lsinitramfs "/boot/initrd.img-$kver" > "$work/initrd.list"
for f in virtio_pci.ko virtio_blk.ko ext4.ko fsck.ext4; do
	grep -q "/$f\$" "$work/initrd.list" || die "the initramfs lacks $f"
done

in_root apt-get clean
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/log/*.log "$root/debootstrap"
umount "$root/sys" "$root/proc"

cp "$root/boot/vmlinuz-$kver" "$work/vmlinuz"
cp "$root/boot/initrd.img-$kver" "$work/initrd.img"
chmod 644 "$work/vmlinuz" "$work/initrd.img"

say "ext4 image ($size) from the tree ($(du -sh --one-file-system "$root" | cut -f1))"
truncate -s "$size" "$work/disk.raw"
mkfs.ext4 -q -F -L debian-root -d "$root" "$work/disk.raw"
if [ -x "$top/softvm" ]; then
	"$top/softvm" img convert -f raw -O qcow2 "$work/disk.raw" "$work/disk.qcow2"
	"$top/softvm" img check "$work/disk.qcow2" >/dev/null || die "softvm img check: the new image is not clean"
else
	say "no ./softvm (run make first for softvm img); converting with qemu-img"
	qemu-img convert -f raw -O qcow2 "$work/disk.raw" "$work/disk.qcow2"
fi

mv "$work/disk.qcow2" "$out/debian.qcow2"
mv "$work/vmlinuz" "$out/debian-vmlinuz"
mv "$work/initrd.img" "$out/debian-initrd.img"
echo "$kver" > "$out/debian-KERNEL_VERSION"
echo $format > "$out/debian-FORMAT"
say "$out/debian.qcow2 ($(du -h "$out/debian.qcow2" | cut -f1)), debian-vmlinuz ($kver), debian-initrd.img in $(( $(date +%s) - start )) s"
