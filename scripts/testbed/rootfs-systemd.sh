#!/usr/bin/env bash
# Builds (once) the root filesystem of test VM hosts that boot systemd as their init, and prints its path.
# The Docker-runtime hosts keep their own tree (scripts/testbed/rootfs.sh); this one is for the runtimes run
# by systemd (the istio-sidecar package): a bookworm with systemd as /sbin/init, dbus, sshd as a unit, and
# what Istio's package depends on (iproute2, iptables, sudo, hostname), since a test host has no mirror.
#
#   scripts/testbed/rootfs-systemd.sh [build]  ensure both cache entries, print the prepared tree's path
#   scripts/testbed/rootfs-systemd.sh path     print the prepared tree's path if it is built, else fail (tests:
#                                            they never build it, the set-up phase does)
#
# Two cache entries under $MESH_VM_CACHE/rootfs (default ${XDG_CACHE_HOME:-$HOME/.cache}/mesh-vm):
#   systemd-bookworm-<key>.tar  debootstrap + apt of the packages below; key = suite, variant, packages, v
#   systemd-host-<key>/         that tarball prepared for hosts (prepare-systemd-host.sh); key = tarball key
#                               + the preparation script. Hosts mount it read-only as an overlay's lower layer.
# Every command in the build root runs with a clean environment (env -i): the machine's TMPDIR, HOME,
# locale or proxy variables must not reach dpkg's maintainer scripts (issue #22: a leaked TMPDIR broke them).
# Needs root and: debootstrap, tar, coreutils, util-linux (unshare), sha256sum.
set -euo pipefail
# One compound command: bash reads it whole, so editing this file mid-run is safe.
{

here="$(cd "$(dirname "$0")" && pwd)"
cache="${MESH_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mesh-vm}"
dir="$cache/rootfs"
mirror="${MESH_VM_DEBIAN_MIRROR:-http://deb.debian.org/debian}"

suite=bookworm
variant=minbase
# The set verified in ../shared/reference/testbed-notes.md ("Hosts with systemd as init"), plus the
# istio-sidecar package's dependencies (packaging.mk: iproute2, iptables, sudo, hostname), curl, with
# which a VM fetches a package from a URL, and cloud-init, run by its own units at boot as on a cloud image
# (boot-time delivery of the package runtime, test/e2e/packageBoot.test.ts).
packages=(
  systemd systemd-sysv dbus libpam-systemd
  openssh-server openssh-sftp-server sudo passwd
  iproute2 iptables hostname procps curl ca-certificates
  cloud-init
)
log() { printf '[rootfs-systemd] %s\n' "$*" >&2; }

base_key="$(printf '%s\n' "v1" "$suite" "$variant" "${packages[*]}" | sha256sum | cut -c1-12)"
tarball="$dir/systemd-$suite-$base_key.tar"
prep_key="$(
  {
    echo "$base_key"
    cat "$here/prepare-systemd-host.sh"
  } | sha256sum | cut -c1-12
)"
tree="$dir/systemd-host-$prep_key"

# A clean environment for everything that runs inside the build root.
chroot_env=(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive)

if [[ "${1:-}" == path ]]; then
  [[ -f "$tree/.mesh-vm-ready" ]] || {
    echo "the systemd hosts' root filesystem is not built ($tree); build it with: scripts/testbed/rootfs-systemd.sh (part of the set-up of scripts/test.sh e2e)" >&2
    exit 2
  }
  echo "$tree"
  exit 0
fi

mkdir -p "$dir"
exec 9>"$dir/.lock-systemd"
flock 9

if [[ ! -f "$tarball" ]]; then
  log "building $tarball (debootstrap $suite, $variant, with systemd; takes a few minutes)"
  work="$(mktemp -d "$dir/.build-systemd-XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  start=$SECONDS
  for attempt in 1 2 3; do
    rm -rf "$work/root"
    "${chroot_env[@]}" debootstrap --variant="$variant" "$suite" "$work/root" "$mirror" >"$work/build.log" 2>&1 &&
      break
    if [[ $attempt == 3 ]]; then
      tail -30 "$work/build.log" >&2
      exit 1
    fi
    log "debootstrap failed (attempt $attempt), retrying"
    sleep 5
  done
  unshare --mount --pid --fork --propagation private "${chroot_env[@]}" bash -euo pipefail -c '
    root="$1"
    shift
    mount -t proc proc "$root/proc"
    mount --rbind /dev "$root/dev"
    mount --rbind /sys "$root/sys"
    cp /etc/resolv.conf "$root/etc/resolv.conf"
    # Nothing may start services inside the build root.
    printf "#!/bin/sh\nexit 101\n" >"$root/usr/sbin/policy-rc.d"
    chmod 0755 "$root/usr/sbin/policy-rc.d"
    chroot "$root" apt-get -o Acquire::Retries=5 update -q
    chroot "$root" apt-get -o Acquire::Retries=5 install -y -q --no-install-recommends "$@"
    chroot "$root" apt-get clean
    rm -f "$root/usr/sbin/policy-rc.d"
    : >"$root/etc/resolv.conf"
  ' build "$work/root" "${packages[@]}" >>"$work/build.log" 2>&1 || {
    tail -30 "$work/build.log" >&2
    exit 1
  }
  # Keys, ids and caches made at install time must not be shared by every host.
  rm -f "$work/root"/etc/ssh/ssh_host_* "$work/root"/var/cache/apt/archives/*.deb "$work/root/var/lib/dbus/machine-id"
  rm -rf "$work/root"/var/lib/apt/lists/*
  : >"$work/root/etc/machine-id"
  tar --numeric-owner --xattrs -C "$work/root" -cf "$tarball.partial" .
  mv "$tarball.partial" "$tarball"
  rm -rf "$work"
  trap - EXIT
  log "built $tarball in $((SECONDS - start))s ($(du -h "$tarball" | cut -f1))"
fi

if [[ ! -f "$tree/.mesh-vm-ready" ]]; then
  log "preparing $tree from $(basename "$tarball")"
  start=$SECONDS
  rm -rf "$tree" "$tree.partial"
  mkdir -p "$tree.partial"
  tar --numeric-owner --xattrs -C "$tree.partial" -xf "$tarball"
  "${chroot_env[@]}" bash "$here/prepare-systemd-host.sh" "$tree.partial"
  touch "$tree.partial/.mesh-vm-ready"
  mv "$tree.partial" "$tree"
  # Older prepared trees are only kept while something may still mount them: drop the rest.
  for old in "$dir"/systemd-host-*; do
    [[ "$old" == "$tree" ]] && continue
    grep -qF "lowerdir=$old" /proc/mounts || rm -rf "$old"
  done
  log "prepared in $((SECONDS - start))s"
fi
echo "$tree"
}
exit
