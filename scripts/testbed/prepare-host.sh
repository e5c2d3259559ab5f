#!/usr/bin/env bash
# Prepares an unpacked bookworm tree (argument 1) as the shared, read-only base of test VM hosts:
# admin user with passwordless sudo, sshd settings, podman behind `docker`, and the stand-in proxy
# image (fixture dir, argument 2) imported into podman's storage. Per-host parts (host key, admin
# key, hostname, address) are added by test/harness/hosts.ts on each host's own overlay layer.
set -euo pipefail
root="$1"
fixture="$2"

# Settings verified in ../shared/reference/testbed-notes.md: crun fails on setrlimit and hybrid
# cgroups here, so runc + cgroupfs; no systemd in the hosts.
install -d "$root/etc/containers"
cat >"$root/etc/containers/containers.conf" <<'CONF'
[containers]
default_ulimits = []
[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"
events_logger = "file"
CONF
# Host roots are overlay mounts: overlay-on-overlay is refused, vfs works anywhere.
cat >"$root/etc/containers/storage.conf" <<'CONF'
[storage]
driver = "vfs"
runroot = "/run/containers/storage"
graphroot = "/var/lib/containers/storage"
CONF
# No registry is reachable: never try one for a short name.
cat >"$root/etc/containers/registries.conf" <<'CONF'
unqualified-search-registries = []
CONF
touch "$root/etc/containers/nodocker"

cat >"$root/etc/ssh/sshd_config.d/mesh-vm-testbed.conf" <<'CONF'
# mesh-vm test host: keys only, verbose log to count sessions. PAM stays on as on Ubuntu/Debian
# VMs, so accounts with a locked password ('!', as useradd makes them) can log in with a key.
PasswordAuthentication no
KbdInteractiveAuthentication no
HostKey /etc/ssh/ssh_host_ed25519_key
PidFile /run/sshd.pid
LogLevel VERBOSE
CONF

# Like a cloud image's default user: locked password, key login, passwordless sudo.
chroot "$root" useradd --create-home --shell /bin/bash --user-group admin
install -d -m 0700 -o 1000 -g 1000 "$root/home/admin/.ssh"
echo 'admin ALL=(ALL:ALL) NOPASSWD: ALL' >"$root/etc/sudoers.d/admin"
chmod 0440 "$root/etc/sudoers.d/admin"
chroot "$root" id admin >/dev/null

# Docker's access model over rootful podman: root and members of the `docker` group reach the one
# (root) container engine, as through Docker's socket; anyone else is refused like Docker refuses.
# (Plain podman would run a separate rootless engine for them instead.)
chroot "$root" groupadd --system docker
cat >"$root/usr/local/bin/docker" <<'SH'
#!/bin/sh
# mesh-vm test host: `docker` as on a Docker host (root or the docker group), backed by podman.
if [ "$(id -u)" = 0 ]; then exec /usr/bin/docker "$@"; fi
if id -nG | tr ' ' '\n' | grep -qx docker; then exec sudo -n /usr/bin/docker "$@"; fi
echo "permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock" >&2
exit 1
SH
chmod 0755 "$root/usr/local/bin/docker"
echo '%docker ALL=(root) NOPASSWD: /usr/bin/docker' >"$root/etc/sudoers.d/docker"
chmod 0440 "$root/etc/sudoers.d/docker"

# cloud-init as on a cloud image, minus what belongs to the test bed: the host's addresses, hostname and
# pinned SSH host key stay as the harness made them, and the user data comes from the NoCloud seed that
# mesh-vm-first-boot writes (a cloud's metadata service stands behind the same datasource interface).
cat >"$root/etc/cloud/cloud.cfg.d/90-mesh-vm-testbed.cfg" <<'CONF'
# mesh-vm test host: the network, hostname and SSH host key are the test bed's, not cloud-init's.
datasource_list: [ NoCloud, None ]
network: {config: disabled}
preserve_hostname: true
ssh_deletekeys: false
ssh_genkeytypes: [ed25519]
resize_rootfs: false
growpart: {mode: "off"}
locale: C.UTF-8
CONF
# The first boot of a cloud VM, as far as cloud-init goes (no systemd in the hosts): the instance's user
# data on stdin becomes the NoCloud seed, then cloud-init's four boot stages run in systemd's order
# (cloud-init-local, cloud-init, cloud-config, cloud-final). Prints nothing from the user data.
cat >"$root/usr/local/sbin/mesh-vm-first-boot" <<'SH'
#!/bin/sh
# mesh-vm test host: first boot from user data (stdin); argument 1: instance id (default: a new one).
set -eu
seed=/var/lib/cloud/seed/nocloud
umask 077
install -d -m 0700 "$seed"
cat >"$seed/user-data"
printf 'instance-id: %s\nlocal-hostname: %s\n' "${1:-i-$(date +%s%N)}" "$(hostname)" >"$seed/meta-data"
: >"$seed/vendor-data"
log=/var/log/mesh-vm-first-boot.log
for stage in "init --local" "init" "modules --mode=config" "modules --mode=final"; do
  # shellcheck disable=SC2086
  if ! cloud-init $stage >>"$log" 2>&1; then
    echo "mesh-vm-first-boot: 'cloud-init $stage' failed; the end of /var/log/cloud-init-output.log:" >&2
    tail -n 40 /var/log/cloud-init-output.log >&2 || true
    exit 1
  fi
done
echo "mesh-vm-first-boot: cloud-init finished: $(cloud-init status 2>/dev/null | tr '\n' ' ')"
SH
chmod 0755 "$root/usr/local/sbin/mesh-vm-first-boot"

# The stand-in proxy image: busybox-static + the fixture script, imported (no registry).
img="$root/tmp/standin-image"
rm -rf "$img"
install -d "$img/bin" "$img/tmp" "$img/var/run/secrets/istio" "$img/var/run/secrets/tokens"
chmod 1777 "$img/tmp"
cp "$root/bin/busybox" "$img/bin/busybox"
chroot "$img" /bin/busybox --install -s /bin
install -m 0755 "$fixture/standin-proxy.sh" "$img/standin-proxy"
(
  cd "$img"
  tar --numeric-owner -cf "$root/tmp/standin-image.tar" .
)
rm -rf "$img"
# podman needs /proc, /dev and a /run of its own: a private mount + pid namespace drops them on exit.
unshare --mount --pid --fork --propagation private bash -euo pipefail -c '
  root="$1"
  # podman applies layers in a chroot that remounts / private: / must be a mount point.
  mount --bind "$root" "$root"
  mount -t proc proc "$root/proc"
  mount --rbind /dev "$root/dev"
  mount --rbind /sys "$root/sys"
  mount -t tmpfs tmpfs "$root/run"
  chroot "$root" podman import --quiet \
    --change "ENTRYPOINT [\"/standin-proxy\"]" \
    --change "LABEL org.opencontainers.image.title=mesh-vm-standin-proxy" \
    /tmp/standin-image.tar localhost/mesh-vm-standin-proxy:test >/dev/null
  chroot "$root" podman images --format "{{.Repository}}:{{.Tag}}" | grep -qx localhost/mesh-vm-standin-proxy:test
' prepare "$root"
rm -f "$root/tmp/standin-image.tar"
