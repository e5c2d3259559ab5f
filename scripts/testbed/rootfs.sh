#!/usr/bin/env bash
# Builds (once) the root filesystem that every test VM host starts from, and prints its path.
#
#   scripts/testbed/rootfs.sh [build]   ensure both cache entries, print the prepared tree's path
#   scripts/testbed/rootfs.sh path      print the prepared tree's path if it is built; else exit 3 naming the
#                                       set-up command (tests call this: they never build)
#   scripts/testbed/rootfs.sh env       print the environment the builds run with (a unit test checks it)
#
# Two cache entries under $MESH_VM_CACHE/rootfs (default ${XDG_CACHE_HOME:-$HOME/.cache}/mesh-vm):
#   bookworm-<key>.tar  debootstrap of Debian bookworm with the packages below (the slow step, minutes);
#                       the key hashes suite, variant, package list and this script's base section.
#   host-<key>/         that tarball unpacked and prepared for hosts (admin user, sshd drop-in, podman
#                       configuration, the stand-in proxy image imported); key = tarball key + the
#                       preparation script + the stand-in fixture. Hosts mount it read-only as the lower
#                       layer of an overlay, so creating a host copies nothing.
# Needs root and: debootstrap, tar, coreutils, util-linux (unshare), sha256sum.
#
# It runs in a clean, explicit environment: debootstrap, dpkg's maintainer scripts and apt run chrooted, where
# the caller's TMPDIR, HOME, locale or proxy variables name things that do not exist (a suite's TMPDIR made
# every post-install `mktemp` fail). Only the variables below cross; a proxy for the Debian mirror is given
# explicitly with MESH_VM_APT_PROXY.
set -euo pipefail
if [[ "${MESH_VM_ROOTFS_ENV:-}" != clean ]]; then
  exec env -i MESH_VM_ROOTFS_ENV=clean \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C \
    MESH_VM_CACHE="${MESH_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mesh-vm}" \
    ${MESH_VM_DEBIAN_MIRROR:+MESH_VM_DEBIAN_MIRROR="$MESH_VM_DEBIAN_MIRROR"} \
    ${MESH_VM_APT_PROXY:+MESH_VM_APT_PROXY="$MESH_VM_APT_PROXY"} \
    bash "$0" "$@"
fi
mode="${1:-build}"
case "$mode" in build | path) ;; env)
  env
  exit 0
  ;;
*)
  echo "usage: scripts/testbed/rootfs.sh [build|path|env]" >&2
  exit 2
  ;;
esac

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cache="$MESH_VM_CACHE"
dir="$cache/rootfs"
mirror="${MESH_VM_DEBIAN_MIRROR:-http://deb.debian.org/debian}"

suite=bookworm
variant=minbase
# What a seeds-like VM needs: sshd + sftp, sudo, a docker CLI (podman-docker) on runc, and tools the
# provisioning scripts and tests use; cloud-init, which boots a host from MeshVm's `userData` (boot-time
# delivery, test/e2e/bootDelivery.test.ts) as a cloud image does.
packages=(
  openssh-server openssh-sftp-server sudo passwd
  podman podman-docker runc conmon catatonit golang-github-containers-common
  iproute2 iputils-ping procps curl ca-certificates busybox-static
  cloud-init
)
log() { printf '[rootfs] %s\n' "$*" >&2; }

base_key="$(printf '%s\n' "v2" "$suite" "$variant" "${packages[*]}" | sha256sum | cut -c1-12)"
tarball="$dir/$suite-$base_key.tar"
prep_key="$(
  {
    echo "$base_key"
    cat "$here/prepare-host.sh"
    find "$repo/test/fixtures/standin-proxy" -type f | LC_ALL=C sort | xargs cat
  } | sha256sum | cut -c1-12
)"
tree="$dir/host-$prep_key"

if [[ "$mode" == path ]]; then
  if [[ -f "$tree/.mesh-vm-ready" ]]; then
    echo "$tree"
    exit 0
  fi
  echo "the test hosts' root filesystem is not built ($tree): run the set-up first: scripts/test.sh setup (or scripts/testbed/rootfs.sh)" >&2
  exit 3
fi

mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9

if [[ ! -f "$tarball" ]]; then
  log "building $tarball (debootstrap $suite, $variant; takes a few minutes)"
  work="$(mktemp -d "$dir/.build-XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  start=$SECONDS
  # debootstrap only the minimal base: it configures packages in a fixed order that podman's
  # dependencies do not survive; apt inside the new root resolves that order itself.
  # Retried: a mirror that drops a connection mid-download is the usual failure here.
  for attempt in 1 2 3; do
    rm -rf "$work/root"
    ${MESH_VM_APT_PROXY:+env http_proxy="$MESH_VM_APT_PROXY"} \
      debootstrap --variant="$variant" "$suite" "$work/root" "$mirror" >"$work/build.log" 2>&1 && break
    if [[ $attempt == 3 ]]; then
      tail -30 "$work/build.log" >&2
      exit 1
    fi
    log "debootstrap failed (attempt $attempt), retrying"
    sleep 5
  done
  unshare --mount --pid --fork --propagation private bash -euo pipefail -c '
    root="$1"
    shift
    mount -t proc proc "$root/proc"
    mount --rbind /dev "$root/dev"
    mount --rbind /sys "$root/sys"
    cp /etc/resolv.conf "$root/etc/resolv.conf"
    # Nothing may start services inside the build root.
    printf "#!/bin/sh\nexit 101\n" >"$root/usr/sbin/policy-rc.d"
    chmod 0755 "$root/usr/sbin/policy-rc.d"
    apt=(apt-get -o Acquire::Retries=5 -o Acquire::http::Proxy="${MESH_VM_APT_PROXY:-false}")
    chroot "$root" "${apt[@]}" update -q
    DEBIAN_FRONTEND=noninteractive chroot "$root" "${apt[@]}" install -y -q --no-install-recommends "$@"
    chroot "$root" apt-get clean
    rm -f "$root/usr/sbin/policy-rc.d"
    : >"$root/etc/resolv.conf"
  ' build "$work/root" "${packages[@]}" >>"$work/build.log" 2>&1 || {
    tail -30 "$work/build.log" >&2
    exit 1
  }
  # Keys and caches made at install time must not be shared by every host.
  rm -f "$work/root"/etc/ssh/ssh_host_* "$work/root"/var/cache/apt/archives/*.deb
  rm -rf "$work/root"/var/lib/apt/lists/*
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
  bash "$here/prepare-host.sh" "$tree.partial" "$repo/test/fixtures/standin-proxy"
  touch "$tree.partial/.mesh-vm-ready"
  mv "$tree.partial" "$tree"
  # Older prepared trees are only kept while something may still mount them: drop the rest.
  for old in "$dir"/host-*; do
    [[ "$old" == "$tree" ]] && continue
    grep -qF "lowerdir=$old" /proc/mounts || rm -rf "$old"
  done
  log "prepared in $((SECONDS - start))s"
fi
echo "$tree"
