#!/usr/bin/env bash
# Builds the jplan node image: a Debian bookworm rootfs made with debootstrap,
# imported into the local Docker engine. No registry is involved, so this
# works on machines that can reach only a Debian mirror.
#
# The image tag carries a hash of this file (the recipe), so a rebuild is
# skipped when an image built from the same recipe already exists. Change
# anything below and the next run builds a fresh image.
#
# Usage: build-image.sh [--print-tag] [--force]
# Environment:
#   JPLAN_IMAGE          image repository name (default jplan-node)
#   JPLAN_DEBIAN_MIRROR  Debian mirror (default: the one apt is configured with)
#   JPLAN_CACHE_DIR      where downloaded .debs are kept between builds
#                        (default /var/cache/jplan/debootstrap)
#
# The Go package github.com/jplan/jplan/cluster embeds this file and runs it;
# keep it self-contained (no sibling files) for that reason.
set -euo pipefail

IMAGE=${JPLAN_IMAGE:-jplan-node}
SUITE=bookworm
# Packages on every node. Jepsen-style tests need the network and process
# tools (iptables, iproute2, procps, psmisc, kmod), the databases the examples
# use, and python3 for example clients. tini reaps orphans: databases that
# double-fork get reparented to PID 1, which must wait() for them.
PACKAGES=(
	openssh-server sudo tini
	iptables iproute2 procps psmisc kmod iputils-ping netcat-openbsd curl
	ca-certificates ntpsec-ntpdate faketime fuse3
	etcd-server etcd-client redis-server postgresql zookeeperd
	python3 less
)

self=$(readlink -f "${BASH_SOURCE[0]:-$0}")
recipe=$(sha256sum "$self" | cut -c1-12)
tag="$IMAGE:r$recipe"

force=0
for arg in "$@"; do
	case $arg in
	--print-tag) echo "$tag"; exit 0 ;;
	--force) force=1 ;;
	*) echo "build-image.sh: unknown argument $arg" >&2; exit 2 ;;
	esac
done

log() { printf '[build-image %s] %s\n' "$(date +%T)" "$*" >&2; }

if ! command -v docker >/dev/null; then
	echo "build-image.sh: docker CLI not found" >&2
	exit 1
fi
if [[ $force == 0 ]] && docker image inspect "$tag" >/dev/null 2>&1; then
	docker tag "$tag" "$IMAGE:latest"
	log "image $tag exists (recipe unchanged); nothing to do"
	echo "$tag"
	exit 0
fi

# debootstrap and chroot need root. Re-run ourselves under sudo rather than
# sprinkling sudo over every line.
if [[ $(id -u) != 0 ]]; then
	exec sudo -E bash "$self" "$@"
fi

# Concurrent builds (two test packages, two terminals) would both run
# debootstrap; let the second wait and then find the image built.
exec 9>/var/lock/jplan-build-image.lock
flock 9
if [[ $force == 0 ]] && docker image inspect "$tag" >/dev/null 2>&1; then
	docker tag "$tag" "$IMAGE:latest"
	echo "$tag"
	exit 0
fi

start=$(date +%s)

# A clean machine may lack debootstrap (or, on Ubuntu, Debian's keyring).
missing=()
command -v debootstrap >/dev/null || missing+=(debootstrap)
[[ -e /usr/share/keyrings/debian-archive-keyring.gpg ]] || missing+=(debian-archive-keyring)
if ((${#missing[@]})); then
	log "installing ${missing[*]}"
	apt-get install -y "${missing[@]}" >/dev/null 2>&1 ||
		{ apt-get update >/dev/null && apt-get install -y "${missing[@]}" >/dev/null; }
fi

# Use the mirror the host's apt already trusts: on machines whose only way
# out is that mirror, deb.debian.org may be unreachable.
mirror=${JPLAN_DEBIAN_MIRROR:-}
if [[ -z $mirror ]]; then
	for f in /etc/apt/sources.list.d/*.sources; do
		[[ -e $f ]] || continue
		# deb822 stanzas: take URIs of the first stanza that has the plain suite.
		mirror=$(awk -v s="$SUITE" '
			/^URIs:/ {u=$2}
			/^Suites:/ {for (i=2;i<=NF;i++) if ($i==s) {print u; exit}}
			/^$/ {u=""}' "$f")
		[[ -n $mirror ]] && break
	done
fi
if [[ -z $mirror && -e /etc/apt/sources.list ]]; then
	mirror=$(awk -v s="$SUITE" '$1=="deb" && $3==s {print $2; exit}' /etc/apt/sources.list)
fi
mirror=${mirror:-http://deb.debian.org/debian}
log "mirror $mirror"

cache=${JPLAN_CACHE_DIR:-/var/cache/jplan/debootstrap}
mkdir -p "$cache" "$cache/apt"
work=$(mktemp -d /var/tmp/jplan-rootfs.XXXXXX)
root=$work/root
cleanup() {
	for m in var/cache/apt/archives dev/shm dev/pts proc; do
		mountpoint -q "$root/$m" 2>/dev/null && umount -l "$root/$m" || true
	done
	rm -rf "$work"
}
trap cleanup EXIT

log "debootstrap $SUITE (minbase)"
debootstrap --variant=minbase --cache-dir="$cache" "$SUITE" "$root" "$mirror" >"$work.debootstrap.log" 2>&1 || {
	tail -30 "$work.debootstrap.log" >&2
	exit 1
}
rm -f "$work.debootstrap.log"

# Packages' maintainer scripts must not start daemons inside the chroot.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"

mount -t proc proc "$root/proc"
mkdir -p "$root/dev/pts" "$root/dev/shm"
mount -t devpts devpts "$root/dev/pts" -o newinstance,ptmxmode=0666 || true
mount -t tmpfs shm "$root/dev/shm"    # initdb probes POSIX shared memory
mount --bind "$cache/apt" "$root/var/cache/apt/archives"

in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LC_ALL=C "$@"; }

log "apt-get install ${#PACKAGES[@]} packages"
in_root apt-get update -qq
in_root apt-get install -y -qq --no-install-recommends -o Dpkg::Use-Pty=0 "${PACKAGES[@]}" >"$work.apt.log" 2>&1 || {
	tail -40 "$work.apt.log" >&2
	exit 1
}
rm -f "$work.apt.log"

log "configuring"
# sshd: root logs in by key; the unprivileged user "jplan" (password "jplan")
# exists so tests can exercise password auth and sudo with a password.
# MaxSessions is raised because jplan multiplexes many sessions over one
# connection per node.
cat >"$root/etc/ssh/sshd_config.d/jplan.conf" <<'CONF'
PermitRootLogin prohibit-password
PasswordAuthentication yes
KbdInteractiveAuthentication yes
UsePAM yes
UseDNS no
MaxSessions 64
MaxStartups 64:30:128
AcceptEnv LANG LC_*
CONF
in_root useradd -m -s /bin/bash -G sudo jplan
echo 'jplan:jplan' | in_root chpasswd
# Host keys at build time so the image runs sshd as-is; the init script can
# regenerate per-container keys (JPLAN_REGEN_HOST_KEYS=1).
in_root ssh-keygen -A >/dev/null

cat >"$root/usr/local/sbin/jplan-node-init" <<'INIT'
#!/bin/sh
# PID 1's child in a jplan node container (tini is PID 1).
set -e
if [ -n "$JPLAN_REGEN_HOST_KEYS" ] && [ ! -e /etc/ssh/.jplan-host-keys ]; then
	rm -f /etc/ssh/ssh_host_*
	ssh-keygen -A >/dev/null
	touch /etc/ssh/.jplan-host-keys
fi
if [ -n "$JPLAN_AUTHORIZED_KEY" ]; then
	for home in /root /home/jplan; do
		mkdir -p "$home/.ssh"
		printf '%s\n' "$JPLAN_AUTHORIZED_KEY" >"$home/.ssh/authorized_keys"
		chmod 700 "$home/.ssh"
		chmod 600 "$home/.ssh/authorized_keys"
		chown -R "$(stat -c %u:%g "$home")" "$home/.ssh"
	done
fi
# Debian's iptables defaults to the nf_tables backend; fall back to legacy
# xtables on kernels without nf_tables so partitions still work.
if ! iptables -w -n -L INPUT >/dev/null 2>&1; then
	update-alternatives --set iptables /usr/sbin/iptables-legacy >/dev/null 2>&1 || true
	update-alternatives --set ip6tables /usr/sbin/ip6tables-legacy >/dev/null 2>&1 || true
fi
mkdir -p /run/sshd
# Keep sshd up even if a test kills the listener: without this loop the
# container would exit with it.
while :; do
	/usr/sbin/sshd -D -e || true
	sleep 1
done
INIT
chmod 755 "$root/usr/local/sbin/jplan-node-init"

in_root apt-get clean
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/log/*.log "$root/etc/machine-id"
umount -l "$root/var/cache/apt/archives"
umount -l "$root/dev/shm"
mountpoint -q "$root/dev/pts" && umount -l "$root/dev/pts"
umount -l "$root/proc"

log "docker import $tag"
tar --numeric-owner --xattrs -C "$root" -c . | docker import \
	--change 'CMD ["/usr/bin/tini", "-g", "--", "/usr/local/sbin/jplan-node-init"]' \
	--change "LABEL org.jplan.recipe=$recipe" \
	--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
	- "$tag" >/dev/null
docker tag "$tag" "$IMAGE:latest"
# Images of older recipes are dead weight (hundreds of MB each); remove
# those no container uses (docker rmi refuses the others).
for old in $(docker image ls --format '{{.Repository}}:{{.Tag}}' "$IMAGE" | grep -v -e ":latest$" -e "^$tag$"); do
	docker rmi "$old" >/dev/null 2>&1 && log "removed old image $old" || true
done
log "built $tag in $(($(date +%s) - start))s"
echo "$tag"
