// A test VM host that boots systemd as its init: PID 1 of the host's own PID namespace, in its own mount,
// UTS, IPC and cgroup namespaces inside its network namespace, chrooted into its overlay root built from
// scripts/testbed/rootfs-systemd.sh. The steps and their pitfalls are those verified in
// ../shared/reference/testbed-notes.md ("Hosts with systemd as init").
//
// A launcher loop on the machine boots the host; an in-guest `reboot` ends the boot with status 129 and the
// loop boots the same root again (a real reboot: /run and /tmp start empty, enabled units come back, the
// journal on disk keeps the earlier boot). Killing the launcher's process group is a power cut: unshare
// --kill-child takes the host's init, and with it every process and mount of the host.
import { spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import { NetnsHost } from "./netnsHost";
import { pidAlive, shellQuote, sleep } from "./process";
import { saveRecord } from "./registry";
import type { ExecResult, RebootResult } from "./types";

/** The cgroup every systemd host lives in, in the machine's `name=systemd` and cgroup2 (`unified`) trees. */
export function hostCgroups(id: string): string[] {
  return ["systemd", "unified"].map((tree) => `/sys/fs/cgroup/${tree}/mesh-vm-host-${id}`);
}

// Runs on the machine, in its own session: moves itself into the host's cgroups (so the host's systemd
// creates its slices there, not in the machine's trees), then boots the host until it powers off.
// $1 netns, $2 root, $3 hostname, $4 host dir, $5.. the host's cgroup dirs.
const LAUNCHER_SCRIPT = `
set -u
ns="$1" root="$2" name="$3" dir="$4"
shift 4
for cg in "$@"; do mkdir -p "$cg" && echo $$ >"$cg/cgroup.procs"; done
while :; do
  cat /proc/sys/kernel/random/uuid >"$dir/boot_id"
  chmod 0444 "$dir/boot_id"
  rc=0
  nsenter --net="/run/netns/$ns" -- unshare --mount --uts --ipc --pid --cgroup --fork --kill-child=SIGKILL \\
    --propagation private -- sh -c "$BOOT_SCRIPT" boot "$root" "$name" "$dir" || rc=$?
  echo "boot ended: status $rc" >&2
  # 129: the host's init ended by reboot(2) (SIGHUP to a PID namespace's init). Anything else: powered off.
  [ "$rc" -eq 129 ] || exit "$rc"
done
`;

// PID 1 of the new PID namespace, still with the machine's root: the host's pseudo file systems, private
// to its mount namespace, then systemd as the host's init inside the chroot.
const BOOT_SCRIPT = `
set -eu
root="$1" name="$2" dir="$3"
hostname "$name"
# /proc with /proc/sys read-only except the network's (the host's own namespace): systemd and sysctl
# inside must not change the machine's kernel settings. boot_id: one per boot of this host.
mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
mount --bind "$root/proc/sys" "$root/proc/sys"
mount --bind "$root/proc/sys/net" "$root/proc/sys/net"
mount --bind "$dir/boot_id" "$root/proc/sys/kernel/random/boot_id"
mount -o remount,bind,ro "$root/proc/sys"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$root/sys"
# cgroups: name=systemd and cgroup2 of the host's own cgroup namespace, on a tmpfs remounted read-only
# (writable, systemd would mount the v1 controllers itself and make slices in the machine's own trees).
mount -t tmpfs -o mode=0755,nosuid,nodev,noexec tmpfs "$root/sys/fs/cgroup"
mkdir "$root/sys/fs/cgroup/systemd" "$root/sys/fs/cgroup/unified"
mount -t cgroup -o none,name=systemd,nosuid,nodev,noexec cgroup "$root/sys/fs/cgroup/systemd"
mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 "$root/sys/fs/cgroup/unified"
mount -o remount,ro,nosuid,nodev,noexec "$root/sys/fs/cgroup"
# /dev: the harmless devices only; the console a null device of its own (no terminal: systemd gives its console
# root:tty 0620, which on a bind of the machine's /dev/null broke every other user's /dev/null); ptys of its own.
mount -t tmpfs -o mode=0755,nosuid tmpfs "$root/dev"
for d in null zero full random urandom tty; do : >"$root/dev/$d"; mount --bind "/dev/$d" "$root/dev/$d"; done
mknod -m 0600 "$root/dev/console" c 1 3
mkdir "$root/dev/pts" "$root/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts "$root/dev/pts"
ln -s pts/ptmx "$root/dev/ptmx"
ln -s /proc/self/fd "$root/dev/fd"
ln -s /proc/self/fd/0 "$root/dev/stdin"
ln -s /proc/self/fd/1 "$root/dev/stdout"
ln -s /proc/self/fd/2 "$root/dev/stderr"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$root/dev/shm"
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs "$root/run"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$root/tmp"
# A VM's kernel is not the guest's to change: no modules, clock, raw I/O or audit control.
exec setpriv --bounding-set -sys_module,-sys_time,-sys_rawio,-audit_control,-audit_read,-mac_admin,-mac_override,-syslog,-wake_alarm,-block_suspend \\
  chroot "$root" /usr/bin/env -i container=unshare /lib/systemd/systemd
`;

export class SystemdHost extends NetnsHost {
  /** The boots this host went through (the first one included). */
  boots = 0;

  /** Boots the host: the launcher loop starts, resolves once sshd (a systemd unit) listens. */
  override async boot(): Promise<void> {
    const initLog = `${this.record.dir}/init.log`;
    const logFd = openSync(initLog, "a");
    const child = spawn(
      "sh",
      [
        "-c",
        LAUNCHER_SCRIPT,
        "launcher",
        this.record.netns,
        this.record.root,
        this.record.name,
        this.record.dir,
        ...hostCgroups(this.record.id),
      ],
      // Own session (setsid): its process group is what a power cut kills.
      { detached: true, stdio: ["ignore", "ignore", logFd], env: { PATH: process.env.PATH, BOOT_SCRIPT } },
    );
    closeSync(logFd);
    child.unref();
    if (!child.pid) throw new Error(`cannot start host ${this.name}`);
    this.record.launcherPid = child.pid;
    this.record.cgroups = hostCgroups(this.record.id);
    this.initPid = 0;
    await this.waitForBoot(0);
  }

  /** Waits until an init other than `previous` runs and its sshd listens; records it. */
  private async waitForBoot(previous: number, timeoutMs = 60_000): Promise<void> {
    const launcher = this.record.launcherPid!;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!pidAlive(launcher)) throw new Error(`host ${this.name} init exited: ${this.initLog()}`);
      const init = findInit(launcher);
      if (init && init !== previous && isSystemd(init) && existsSync(`/proc/${init}/root/run/sshd.pid`)) {
        this.initPid = init;
        this.record.initPid = init;
        this.boots++;
        saveRecord(this.record);
        return;
      }
      if (Date.now() > deadline) throw new Error(`host ${this.name}: sshd did not start: ${this.initLog()}`);
      await sleep(50);
    }
  }

  private initLog(): string {
    try {
      return readFileSync(`${this.record.dir}/init.log`, "utf8").trim().slice(-4000);
    } catch {
      return "";
    }
  }

  override run(command: string, options: { input?: string; check?: boolean } = {}): Promise<ExecResult> {
    // After an in-guest reboot the host has a new init: follow it.
    if (this.record.launcherPid && !(this.initPid && pidAlive(this.initPid))) {
      const init = findInit(this.record.launcherPid);
      if (init) this.initPid = init;
    }
    return super.run(command, options);
  }

  /** `systemctl ARGS` as root inside the host (no SSH). */
  systemctl(args: string, check = true): Promise<ExecResult> {
    return this.run(`systemctl --no-pager ${args}`, { check });
  }

  /** The unit's journal lines (all boots), or the whole journal. */
  async journal(unit?: string): Promise<string> {
    const r = await this.run(
      `journalctl --no-pager -q -o short-precise ${unit ? `-u ${shellQuote(unit)}` : ""}`,
      {
        check: false,
      },
    );
    return r.stdout;
  }

  /** The boot ids the journal knows (one per boot whose journal reached the disk). */
  async journalBoots(): Promise<string[]> {
    const r = await this.run("journalctl --no-pager -q --list-boots -o json", { check: false });
    try {
      return (JSON.parse(r.stdout) as { boot_id: string }[]).map((b) => b.boot_id);
    } catch {
      return r.stdout
        .split("\n")
        .map((l) => l.trim().split(/\s+/)[1] ?? "")
        .filter(Boolean);
    }
  }

  /** This boot's id as the host sees it (/proc/sys/kernel/random/boot_id, a new one every boot). */
  async bootId(): Promise<string> {
    return (await this.readFile("/proc/sys/kernel/random/boot_id")).trim();
  }

  override async stopSshd(): Promise<void> {
    await this.systemctl("stop ssh.service");
  }

  override async startSshd(): Promise<void> {
    await this.systemctl("start ssh.service");
    await this.run("while [ ! -e /run/sshd.pid ]; do sleep 0.05; done");
  }

  override async killSshd(): Promise<void> {
    // SIGKILL to every sshd of the host; systemd restarts the listener only if the unit says so
    // (Debian's ssh.service: Restart=on-failure), so it is stopped for good and started by startSshd().
    await this.run(
      "systemctl kill --signal=KILL ssh.service; systemctl stop ssh.service; rm -f /run/sshd.pid",
      {
        check: false,
      },
    );
  }

  /**
   * A clean in-guest reboot (`systemctl reboot`): units stop in order, the host boots the same root again;
   * resolves once the new boot's sshd listens. Units enabled for multi-user.target start again by themselves.
   */
  override async reboot(): Promise<RebootResult> {
    const previous = this.initPid;
    await this.run("systemctl reboot", { check: false });
    await this.waitForBoot(previous);
    return { restarted: [], failed: [] };
  }

  /** Power cut: every process of the host dies at once (SIGKILL to the launcher's process group). */
  protected override async halt(): Promise<void> {
    const pid = this.record.launcherPid;
    if (pid && pidAlive(pid)) {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        process.kill(pid, "SIGKILL");
      }
      for (let i = 0; i < 200 && (pidAlive(pid) || (this.initPid && pidAlive(this.initPid))); i++)
        await sleep(25);
    }
    this.initPid = 0;
    this.record.launcherPid = undefined;
    this.record.initPid = undefined;
  }

  /** Power cut, then boot again (what a hypervisor's reset does). */
  async powerCycle(): Promise<void> {
    await this.halt();
    await this.boot();
  }
}

/** The host's init under a launcher: the child of its unshare (the launcher's child of that name). */
function findInit(launcher: number): number | undefined {
  for (const child of childrenOf(launcher)) {
    let cmd = "";
    try {
      cmd = readFileSync(`/proc/${child}/cmdline`, "utf8").split("\0")[0] ?? "";
    } catch {
      continue;
    }
    if (!cmd.endsWith("unshare")) continue;
    const [init] = childrenOf(child);
    if (init && pidAlive(init)) return init;
  }
  return undefined;
}

function isSystemd(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "systemd";
  } catch {
    return false;
  }
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8")
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}
