#!/usr/bin/env bash
# Prepares an unpacked bookworm-with-systemd tree (argument 1) as the shared, read-only base of test VM
# hosts that boot systemd as their init (test/harness/hosts/systemdHost.ts). Per-host parts (host key,
# admin key, hostname, machine id) are added by the harness on each host's own overlay layer.
set -euo pipefail
root="$1"

in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }

cat >"$root/etc/ssh/sshd_config.d/mesh-vm-testbed.conf" <<'CONF'
# mesh-vm test host: keys only, verbose log to count sessions. PAM stays on as on Ubuntu/Debian VMs.
PasswordAuthentication no
KbdInteractiveAuthentication no
HostKey /etc/ssh/ssh_host_ed25519_key
PidFile /run/sshd.pid
LogLevel VERBOSE
CONF
# sshd's log also in a file (as on the Docker-runtime hosts), so the harness counts sessions the same way on
# both kinds of host; the journal keeps its copy of everything else.
install -d "$root/etc/systemd/system/ssh.service.d"
cat >"$root/etc/systemd/system/ssh.service.d/mesh-vm-testbed.conf" <<'CONF'
[Service]
ExecStart=
ExecStart=/usr/sbin/sshd -D -E /var/log/sshd.log $SSHD_OPTS
CONF
in_root systemctl enable ssh.service >/dev/null 2>&1

# Like a cloud image's default user: locked password, key login, passwordless sudo.
in_root useradd --create-home --shell /bin/bash --user-group admin
install -d -m 0700 -o 1000 -g 1000 "$root/home/admin/.ssh"
echo 'admin ALL=(ALL:ALL) NOPASSWD: ALL' >"$root/etc/sudoers.d/admin"
chmod 0440 "$root/etc/sudoers.d/admin"
in_root id admin >/dev/null

# Units that have nothing to do in a test host, each for a reason:
# - console-getty: /dev/console is /dev/null here (no terminal to log in on);
# - apt's timers: no mirror is reachable from a test host;
# - getty@tty1: no virtual terminals.
for unit in console-getty.service getty@tty1.service apt-daily.timer apt-daily-upgrade.timer; do
  ln -sf /dev/null "$root/etc/systemd/system/$unit"
done
# The journal on disk, as on a VM: a reboot keeps the earlier boots' lines (journalctl --list-boots).
install -d "$root/var/log/journal"
# Every host gets its own machine id (harness); an empty file here would make each boot a first boot.
: >"$root/etc/machine-id"

# cloud-init as on a cloud image: its generator (ds-identify) enables cloud-init.target for a boot only when a
# datasource is there, so a host without a seed boots as before. Two sources to search, since ds-identify takes
# a single one (or one and None) as found without looking: NoCloud, the seed the harness writes
# (SystemdHost.firstBootCommand), and ConfigDrive, which the test bed never provides. The network, hostname and
# SSH host key stay the harness's (as on the Docker-runtime hosts, prepare-host.sh).
cat >"$root/etc/cloud/cloud.cfg.d/90-mesh-vm-testbed.cfg" <<'CONF'
# mesh-vm test host: the network, hostname and SSH host key are the test bed's, not cloud-init's.
datasource_list: [ NoCloud, ConfigDrive ]
network: {config: disabled}
preserve_hostname: true
ssh_deletekeys: false
ssh_genkeytypes: [ed25519]
resize_rootfs: false
growpart: {mode: "off"}
locale: C.UTF-8
CONF
