// One test VM host: its boot (init in new mount/PID/UTS/IPC namespaces inside the network
// namespace, chrooted into the host's overlay root), SSH and direct access, and fault injection.
import { spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { containerIds, toContainerInfo, type PodmanInspect } from "./containers";
import { pidAlive, run, shellQuote, sleep } from "./process";
import { ADMIN_USER, createdHere, SSH_PORT, saveRecord, teardown, live, type HostRecord } from "./registry";
import type {
  ContainerInfo,
  ExecOptions,
  ExecResult,
  FileStat,
  NetworkName,
  RebootResult,
  TestHost,
} from "./types";

// Runs as PID 1 of the host's new PID namespace, still with the machine's root: mounts the host's
// pseudo file systems (private to its mount namespace), then becomes the host's init inside the
// chroot. catatonit reaps orphans (sshd children, conmon) like a real init.
const INIT_SCRIPT = `
set -eu
root="$1"
hostname "$2"
mount -t proc proc "$root/proc"
mount -t sysfs sysfs "$root/sys"
mount --rbind /sys/fs/cgroup "$root/sys/fs/cgroup"
mount --rbind /dev "$root/dev"
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs "$root/run"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$root/tmp"
exec chroot "$root" /bin/sh -c '
  mkdir -p -m 0755 /run/sshd
  /usr/local/sbin/mesh-vm-start-sshd
  exec /usr/bin/catatonit -P
'
`;

// Inside the host: sshd in the foreground of its own session, logging to a file the tests read.
export const START_SSHD = `#!/bin/sh
# mesh-vm test host: start sshd (no systemd here); log kept in /var/log/sshd.log.
mkdir -p -m 0755 /run/sshd
setsid /usr/sbin/sshd -D -e </dev/null >>/var/log/sshd.log 2>&1 &
`;

export async function keygen(path: string, comment: string): Promise<string> {
  await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path]);
  return (await readFile(`${path}.pub`, "utf8")).trim();
}

export class NetnsHost implements TestHost {
  readonly sshPort = SSH_PORT;
  readonly adminUser = ADMIN_USER;
  hostKey: string;
  readonly adminPrivateKey: string;
  readonly adminPrivateKeyPath: string;
  readonly knownHostsPath: string;
  readonly addresses: Partial<Record<NetworkName, string>>;
  protected initPid = 0;
  private destroyed = false;

  constructor(
    protected readonly record: HostRecord,
    addresses: Partial<Record<NetworkName, string>>,
    hostKey: string,
    adminPrivateKey: string,
  ) {
    this.addresses = addresses;
    this.hostKey = hostKey;
    this.adminPrivateKey = adminPrivateKey;
    this.adminPrivateKeyPath = join(record.dir, "admin_ed25519");
    this.knownHostsPath = join(record.dir, "known_hosts");
  }

  get id(): string {
    return this.record.id;
  }
  get name(): string {
    return this.record.name;
  }
  get address(): string {
    return this.record.addresses[0]!;
  }
  get netns(): string {
    return this.record.netns;
  }

  /** Starts the host's init (boot). */
  async boot(): Promise<void> {
    // The init's errors go to a file, not a pipe: a detached host outlives this process, and writes
    // to a pipe nobody reads any more would kill its init (SIGPIPE).
    const initLog = join(this.record.dir, "init.log");
    const logFd = openSync(initLog, "a");
    const child = spawn(
      "nsenter",
      [
        `--net=/run/netns/${this.record.netns}`,
        "--",
        "unshare",
        "--mount",
        "--uts",
        "--ipc",
        "--pid",
        "--fork",
        "--kill-child=SIGKILL",
        "--propagation",
        "private",
        "--",
        "sh",
        "-c",
        INIT_SCRIPT,
        "init",
        this.record.root,
        this.record.name,
      ],
      // Own session (setsid): no terminal signal of this process's session reaches the host.
      { detached: true, stdio: ["ignore", "ignore", logFd] },
    );
    closeSync(logFd);
    const stderr = (): string => {
      try {
        return readFileSync(initLog, "utf8").trim();
      } catch {
        return "";
      }
    };
    child.unref();
    if (!child.pid) throw new Error(`cannot start host ${this.name}`);
    this.record.launcherPid = child.pid;
    saveRecord(this.record);
    // PID 1 of the host is unshare's only child; sshd writes its pid file once it listens.
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`host ${this.name} init exited: ${stderr()}`);
      }
      if (!this.initPid) {
        try {
          const children = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, "utf8").trim();
          if (children) this.initPid = Number(children.split(/\s+/)[0]);
        } catch {
          // not there yet
        }
      }
      if (this.initPid && existsSync(`/proc/${this.initPid}/root/run/sshd.pid`)) {
        this.record.initPid = this.initPid;
        saveRecord(this.record);
        return;
      }
      if (Date.now() > deadline) throw new Error(`host ${this.name}: sshd did not start: ${stderr()}`);
      await sleep(20);
    }
  }

  run(command: string, options: { input?: string; check?: boolean } = {}): Promise<ExecResult> {
    if (!this.initPid) return Promise.reject(new Error(`host ${this.name} is not running`));
    return runInHost(this.initPid, command, options);
  }

  firstBootCommand(instanceId: string): string {
    if (!this.initPid) throw new Error(`host ${this.name} is not running`);
    return [...nsenterArgv(this.initPid), "/usr/local/sbin/mesh-vm-first-boot", instanceId]
      .map(shellQuote)
      .join(" ");
  }

  async exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    let knownHosts = this.knownHostsPath;
    let temp: string | undefined;
    if (options.hostKey !== undefined) {
      temp = await mkdtemp(join(tmpdir(), "mesh-vm-pin-"));
      knownHosts = join(temp, "known_hosts");
      await writeFile(knownHosts, `${this.address} ${options.hostKey}\n`);
    }
    try {
      return await run(
        "ssh",
        [
          ...sshOptions(this.adminPrivateKeyPath, knownHosts),
          "-p",
          String(this.sshPort),
          `${this.adminUser}@${this.address}`,
          "--",
          command,
        ],
        { input: options.input, check: options.check, timeoutMs: options.timeoutMs ?? 120_000 },
      );
    } finally {
      if (temp) await rm(temp, { recursive: true, force: true });
    }
  }

  async stat(path: string): Promise<FileStat | undefined> {
    const r = await this.run(`stat -c '%F|%U|%G|%u|%g|%a|%s' -- ${shellQuote(path)}`, { check: false });
    if (r.code !== 0) return undefined;
    const [kind = "", owner = "", group = "", uid, gid, mode = "0", size] = r.stdout.trim().split("|");
    const type = kind.includes("regular")
      ? "file"
      : kind === "directory"
        ? "directory"
        : kind === "symbolic link"
          ? "symlink"
          : "other";
    return {
      type,
      owner,
      group,
      uid: Number(uid),
      gid: Number(gid),
      mode: parseInt(mode, 8),
      size: Number(size),
    };
  }

  async readFile(path: string): Promise<string> {
    return (await this.run(`cat -- ${shellQuote(path)}`)).stdout;
  }

  async exists(path: string): Promise<boolean> {
    return (await this.run(`test -e ${shellQuote(path)}`, { check: false })).code === 0;
  }

  async users(): Promise<string[]> {
    return (await this.readFile("/etc/passwd"))
      .split("\n")
      .filter(Boolean)
      .map((l) => l.split(":")[0]!);
  }

  async containers(): Promise<ContainerInfo[]> {
    const ids = (await this.run("podman ps -a -q --no-trunc")).stdout.trim().split(/\s+/).filter(Boolean);
    if (ids.length === 0) return [];
    const raw = JSON.parse(
      (await this.run(`podman container inspect ${ids.join(" ")}`)).stdout,
    ) as PodmanInspect[];
    return raw.map(toContainerInfo);
  }

  async containerLogs(name: string): Promise<string> {
    const r = await this.run(`podman logs ${shellQuote(name)} 2>&1`);
    return r.stdout;
  }

  etcHosts(): Promise<string> {
    return this.readFile("/etc/hosts");
  }

  async sshdLog(): Promise<string> {
    return (await this.readFile("/var/log/sshd.log")).replace(/\r\n/g, "\n");
  }

  async sshLogins(): Promise<number> {
    return (await this.sshdLog()).split("\n").filter((l) => l.includes("Accepted publickey")).length;
  }

  async stopSshd(): Promise<void> {
    // Like `systemctl stop ssh`: the listener goes, open sessions stay.
    await this.run("kill $(cat /run/sshd.pid) && while [ -e /run/sshd.pid ]; do sleep 0.05; done");
  }

  async startSshd(): Promise<void> {
    await this.run("/usr/local/sbin/mesh-vm-start-sshd; while [ ! -e /run/sshd.pid ]; do sleep 0.05; done");
  }

  async killSshd(): Promise<void> {
    // By pid, inside the host's own PID namespace: only this host's daemon and sessions.
    await this.run("for p in $(pgrep -x sshd); do kill -KILL $p; done; rm -f /run/sshd.pid");
  }

  async rekey(): Promise<string> {
    const key = "/etc/ssh/ssh_host_ed25519_key";
    await this.run(
      `rm -f ${key} ${key}.pub && ssh-keygen -q -t ed25519 -N '' -C root@${shellQuote(this.name)} -f ${key}`,
    );
    await this.stopSshd();
    await this.startSshd();
    this.hostKey = (await this.readFile(`${key}.pub`)).trim().split(" ").slice(0, 2).join(" ");
    await writeFile(this.knownHostsPath, this.record.addresses.map((a) => `${a} ${this.hostKey}\n`).join(""));
    return this.hostKey;
  }

  async setLinks(state: "up" | "down"): Promise<void> {
    for (const veth of this.record.veths) await run("ip", ["link", "set", veth, state]);
  }

  async killContainer(name: string): Promise<void> {
    const [container] = (await this.containers()).filter((c) => c.name === name);
    if (!container || container.state !== "running" || !container.pid) {
      throw new Error(`container ${name} is not running on ${this.name}`);
    }
    await this.run(`kill -KILL ${container.pid}`);
  }

  async stopContainer(name: string): Promise<void> {
    await this.run(`podman stop --time 2 ${shellQuote(name)} >/dev/null 2>&1`);
  }

  async reboot(): Promise<RebootResult> {
    const toStart = (await this.containers())
      // Podman 4.3 does not expose "stopped by user": an unless-stopped container that is not running
      // was stopped (podman itself restarts those that exit on their own), so only running ones count.
      .filter(
        (c) =>
          c.restartPolicy === "always" || (c.restartPolicy === "unless-stopped" && c.state === "running"),
      )
      .map((c) => c.name);
    await this.halt();
    await this.boot();
    const result: RebootResult = { restarted: [], failed: [] };
    for (const name of toStart) {
      const r = await this.run(`podman start ${shellQuote(name)} >/dev/null`, { check: false });
      if (r.code === 0) result.restarted.push(name);
      else result.failed.push({ name, error: r.stderr.trim() });
    }
    return result;
  }

  /** Every process of the host dies at once (power off); its /run, /tmp and pseudo mounts go too. */
  protected async halt(): Promise<void> {
    const pid = this.record.launcherPid;
    if (pid && pidAlive(pid)) {
      process.kill(pid, "SIGKILL");
      for (let i = 0; i < 200 && (pidAlive(pid) || (this.initPid && pidAlive(this.initPid))); i++)
        await sleep(25);
    }
    this.initPid = 0;
    this.record.launcherPid = undefined;
    this.record.initPid = undefined;
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    const ids = containerIds(this.record.dir);
    for (const id of ids) createdHere.containers.add(id);
    if (this.initPid && ids.length > 0) {
      // Let podman remove its containers (and their cgroups) before the power goes.
      await this.run("podman rm --all --force --time 1 >/dev/null 2>&1", { check: false }).catch(
        () => undefined,
      );
    }
    await this.halt();
    await teardown(this.record);
    live.delete(this.record.id);
  }
}

/** A command as root inside a running host (its init's namespaces and root), without SSH. */
export function runInHost(
  initPid: number,
  command: string,
  options: { input?: string; check?: boolean } = {},
): Promise<ExecResult> {
  const [nsenter, ...args] = nsenterArgv(initPid);
  return run(nsenter!, [...args, "/bin/sh", "-c", command], options);
}

/** `nsenter` into a host's namespaces and root as root, with a clean environment; the command follows. */
function nsenterArgv(initPid: number): string[] {
  return [
    "nsenter",
    "-t",
    String(initPid),
    "-m",
    "-u",
    "-i",
    "-n",
    "-p",
    "-r",
    "-w",
    "--",
    "/usr/bin/env",
    "-i",
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME=/root",
    "LANG=C.UTF-8",
  ];
}

/** ssh(1) options for a test host: its admin key only, its host key pinned, no config, no prompt. */
export function sshOptions(identity: string, knownHosts: string): string[] {
  return [
    "-F",
    "/dev/null",
    "-i",
    identity,
    "-o",
    "IdentitiesOnly=yes",
    "-o",
    "BatchMode=yes",
    "-o",
    "StrictHostKeyChecking=yes",
    "-o",
    `UserKnownHostsFile=${knownHosts}`,
    "-o",
    "GlobalKnownHostsFile=/dev/null",
    "-o",
    "ConnectTimeout=10",
    "-o",
    "LogLevel=ERROR",
  ];
}
