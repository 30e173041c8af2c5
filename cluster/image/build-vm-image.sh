#!/usr/bin/env bash
# Builds the jplan VM node image: the Docker node image's root filesystem
# (same packages, same sshd set-up) plus a Debian kernel, an initramfs that
# can mount a virtio disk, chrony (a real NTP daemon for clock faults to
# stop and restore) and dmsetup (for device-mapper faults), written as a
# raw ext4 disk that QEMU boots with -kernel/-initrd.
#
# Why a VM at all: containers share the host's kernel, so what the host
# kernel lacks (sch_netem, device-mapper) they lack, and setting a
# container's clock sets the host's. A VM has its own kernel and clock.
#
# Usage: build-vm-image.sh DOCKER_IMAGE OUT_DIR
# Writes OUT_DIR/{disk.img,vmlinuz,initrd.img,ok}; "ok" last, so a
# directory without it is an interrupted build. The caller (package
# cluster) names OUT_DIR after the hashes of both recipes.
# Environment: JPLAN_CACHE_DIR as for build-image.sh.
set -euo pipefail

[[ $# == 2 ]] || { echo "usage: build-vm-image.sh DOCKER_IMAGE OUT_DIR" >&2; exit 2; }
image=$1
out=$2

self=$(readlink -f "${BASH_SOURCE[0]:-$0}")
if [[ $(id -u) != 0 ]]; then
	exec sudo -E bash "$self" "$@"
fi
log() { printf '[build-vm-image %s] %s\n' "$(date +%T)" "$*" >&2; }
start=$(date +%s)

mkdir -p "$(dirname "$out")"
exec 9>"$(dirname "$out")/.build.lock"
flock 9
if [[ -e $out/ok ]]; then
	log "$out exists; nothing to do"
	exit 0
fi

missing=()
command -v mkfs.ext4 >/dev/null || missing+=(e2fsprogs)
command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
command -v qemu-img >/dev/null || missing+=(qemu-utils)
if ((${#missing[@]})); then
	log "installing ${missing[*]}"
	apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1 ||
		{ apt-get update >/dev/null && apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; }
fi

cache=${JPLAN_CACHE_DIR:-/var/cache/jplan/debootstrap}
mkdir -p "$cache/apt"
work=$(mktemp -d /var/tmp/jplan-vmroot.XXXXXX)
root=$work/root
container=""
cleanup() {
	for m in var/cache/apt/archives dev/pts dev sys proc; do
		mountpoint -q "$root/$m" 2>/dev/null && umount -l "$root/$m" || true
	done
	[[ -n $container ]] && docker rm -f "$container" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

log "exporting $image"
container=$(docker create "$image")
mkdir -p "$root"
docker export "$container" | tar -x -C "$root" --numeric-owner
docker rm -f "$container" >/dev/null
container=""
# Docker bind-mounts these over the image; in the export they are empty
# placeholders.
rm -f "$root/.dockerenv"
# apt in the chroot resolves the mirror as the host does.
cp -L /etc/resolv.conf "$root/etc/resolv.conf"

mount -t proc proc "$root/proc"
mount -t sysfs sys "$root/sys"
mount --bind /dev "$root/dev"
mount --bind "$cache/apt" "$root/var/cache/apt/archives"
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LC_ALL=C "$@"; }

# The initramfs must find the root disk on virtio without udev guessing.
mkdir -p "$root/etc/initramfs-tools"
printf 'virtio_pci\nvirtio_blk\nvirtio_net\next4\n' >>"$root/etc/initramfs-tools/modules"

log "installing kernel, chrony, dmsetup"
in_root apt-get update -qq
in_root apt-get install -y -qq --no-install-recommends -o Dpkg::Use-Pty=0 \
	linux-image-amd64 initramfs-tools chrony dmsetup e2fsprogs >"$work.apt.log" 2>&1 || {
	tail -40 "$work.apt.log" >&2
	exit 1
}
rm -f "$work.apt.log"
# chrony with no reachable server: it runs (so clock faults have an NTP
# daemon to stop and restart) and never steps the clock on its own.
cat >"$root/etc/chrony/chrony.conf" <<'CONF'
# jplan VM node: no servers (the nodes reach nothing outside); chronyd runs
# so that clock faults have a real NTP daemon to stop and restore.
driftfile /var/lib/chrony/chrony.drift
CONF

cat >"$root/usr/local/sbin/jplan-vm-init" <<'INIT'
#!/bin/sh
# PID 1 of a jplan VM node, before tini takes over: mounts the API
# filesystems, configures the network from the kernel command line
# (jplan.ip=ADDR/LEN jplan.hostname=NAME jplan.key=BASE64-AUTHORIZED-KEY),
# makes fresh host keys and prints them on the console, where the host
# reads them for known_hosts (a channel an attacker on the network cannot
# touch), then runs the same node init as the containers.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# The initramfs has already moved /proc, /sys and /dev over.
mountpoint -q /proc || mount -t proc proc /proc
mountpoint -q /sys || mount -t sysfs sys /sys
mountpoint -q /dev || mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs shm /dev/shm
mount -t tmpfs run /run
mount -t tmpfs tmp /tmp
mount -o remount,rw /
for m in virtio_net sch_netem sch_tbf dm_mod dm_flakey loop fuse nf_tables ip_tables iptable_filter xt_statistic; do
	modprobe "$m" 2>/dev/null
done
mount -t fusectl fusectl /sys/fs/fuse/connections 2>/dev/null
ip=; host=; key=
for arg in $(cat /proc/cmdline); do
	case $arg in
	jplan.ip=*) ip=${arg#jplan.ip=} ;;
	jplan.hostname=*) host=${arg#jplan.hostname=} ;;
	jplan.key=*) key=${arg#jplan.key=} ;;
	esac
done
[ -n "$host" ] && hostname "$host" && echo "$host" >/etc/hostname
# The one NIC (eth0 with net.ifnames=0 on the kernel command line; take
# whatever it is called anyway).
nic=$(ls /sys/class/net | grep -v '^lo$' | head -n 1)
ip link set lo up
ip link set "$nic" up
[ -n "$ip" ] && ip addr add "$ip" dev "$nic"
rm -f /etc/ssh/ssh_host_*
ssh-keygen -A >/dev/null 2>&1
for f in /etc/ssh/ssh_host_*_key.pub; do
	echo "JPLAN-HOSTKEY $(cat "$f")" >/dev/console
done
service chrony start >/dev/null 2>&1
echo "JPLAN-READY" >/dev/console
export JPLAN_AUTHORIZED_KEY
JPLAN_AUTHORIZED_KEY=$(echo "$key" | base64 -d)
exec /usr/bin/tini -g -- /usr/local/sbin/jplan-node-init
INIT
chmod 755 "$root/usr/local/sbin/jplan-vm-init"
printf '/dev/vda / ext4 defaults 0 1\n' >"$root/etc/fstab"

mkdir -p "$work/out"
cp "$root"/boot/vmlinuz-* "$work/out/vmlinuz"
cp "$root"/boot/initrd.img-* "$work/out/initrd.img"
in_root apt-get clean
rm -rf "$root"/var/lib/apt/lists/* "$root"/boot/initrd.img-*
# Nodes resolve names through /etc/hosts only (jplan writes it).
: >"$root/etc/resolv.conf"
umount -l "$root/var/cache/apt/archives" "$root/dev" "$root/sys" "$root/proc"

# Room to grow: databases write data, faults make loop files.
used=$(du -sm "$root" | cut -f1)
size=$((used + 1536))
log "mkfs.ext4 ${size}M"
mkfs.ext4 -q -F -L jplanroot -d "$root" "$work/out/disk.img" "${size}M"

rm -rf "$out"
mv "$work/out" "$out"
touch "$out/ok"
# Images of older recipes are 3 GB each; remove those no running VM boots.
for old in "$(dirname "$out")"/r*; do
	[[ -d $old && $old != "$out" ]] || continue
	if ! grep -qsF -- "$old/" /proc/[0-9]*/cmdline; then
		rm -rf "$old" && log "removed old VM image $old"
	fi
done
log "built $out in $(($(date +%s) - start))s"
