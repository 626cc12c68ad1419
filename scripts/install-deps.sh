#!/bin/sh
# Installs the Debian packages softvm's build and tests need. Idempotent and quiet when all is there.
# Called by make before building; safe to run by hand.
set -e
PKGS="build-essential pkg-config libzydis-dev libzycore-dev liblzma-dev libslirp-dev"
# zlib: qcow2 compressed clusters. qemu-utils: qemu-img, the peer of the disk image tests.
# clang: libFuzzer for the qcow2 fuzz target that make check runs.
PKGS="$PKGS zlib1g-dev qemu-utils clang"
# Extra packages for tests and benchmarks (qemu is only a benchmark peer / debugging aid).
case "$1" in
  --guest) PKGS="$PKGS cpio gzip" ;;
  --bench) PKGS="$PKGS cpio gzip qemu-system-x86" ;;
  # scripts/debian-image.sh (the full Debian guest) and its test's ssh client.
  --debian) PKGS="$PKGS debootstrap debian-archive-keyring e2fsprogs wget openssh-client" ;;
esac
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "install-deps: installing$missing" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
