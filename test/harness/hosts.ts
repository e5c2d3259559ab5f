// Test VM hosts: each host is a network namespace with its own addresses, a bookworm root filesystem
// (a private overlay over the cached tree from scripts/testbed/rootfs.sh), and its own mount, PID,
// UTS and IPC namespaces, in which a real sshd runs and podman answers to `docker`. Killing the
// host's init takes every process started inside it (sshd, sessions, conmon, containers) and every
// mount made inside it along; destroy() then unmounts the overlay, deletes the namespace and veths.
//
// Inspection helpers (stat, readFile, containers, etcHosts, ...) enter the host directly with
// nsenter, so they never show up as SSH sessions in the host's sshd log; exec() goes over SSH with
// the pinned host key, like the code under test does.
import { execFile, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const repoRoot = resolve(__dirname, "../..");

/** Documentation ranges only: never routed anywhere else, so test traffic cannot leave the machine. */
export const NETWORKS = {
  /** The "VM network" of the seeds. */
  vm: { prefix: "198.51.100", bridge: "mvmbr-vm" },
  /** A second network (e.g. a proxy instance address apart from the SSH address). */
  second: { prefix: "203.0.113", bridge: "mvmbr-second" },
  third: { prefix: "192.0.2", bridge: "mvmbr-third" },
} as const;
export type NetworkName = keyof typeof NETWORKS;

export interface HostSpec {
  /** Host name (also the hostname inside the host); unique within one createHosts call. */
  name: string;
  /** Networks to attach, first one is the primary address (default ["vm"]). */
  networks?: NetworkName[];
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** Data written to the command's standard input. */
  input?: string;
  /** Reject when the command exits non-zero (default true). */
  check?: boolean;
  /** Pin this key instead of the host's own (authorized_keys format), e.g. to prove a wrong pin fails. */
  hostKey?: string;
  timeoutMs?: number;
}

export interface FileStat {
  type: "file" | "directory" | "symlink" | "other";
  owner: string;
  group: string;
  uid: number;
  gid: number;
  /** Permission bits, e.g. 0o640. */
  mode: number;
  size: number;
}

export interface ContainerMount {
  source: string;
  destination: string;
  readOnly: boolean;
}

export interface ContainerInfo {
  id: string;
  name: string;
  image: string;
  /** "running", "exited", "created", ... */
  state: string;
  exitCode: number;
  /** Docker restart policy name: "no", "always", "unless-stopped", "on-failure". */
  restartPolicy: string;
  networkMode: string;
  mounts: ContainerMount[];
  env: Record<string, string>;
  args: string[];
  /** Main process id as seen from the host (0 when not running). */
  pid: number;
}

export interface RebootResult {
  /** Containers the boot started again. */
  restarted: string[];
  /**
   * Containers the boot tried and failed to start, with podman's error: e.g. a bind-mount source
   * under /tmp is gone after the reboot. Docker's daemon logs these too and boots on.
   */
  failed: { name: string; error: string }[];
}

export interface TestHost {
  readonly name: string;
  /** Primary address (first network). */
  readonly address: string;
  readonly addresses: Partial<Record<NetworkName, string>>;
  readonly sshPort: number;
  /** The host's public host key in authorized_keys format (`ssh-ed25519 AAAA...`): the key to pin. */
  readonly hostKey: string;
  readonly adminUser: string;
  /** OpenSSH-format private key of adminUser (unencrypted). Keep it out of logs. */
  readonly adminPrivateKey: string;
  readonly adminPrivateKeyPath: string;
  /** known_hosts file pinning this host's key for its addresses. */
  readonly knownHostsPath: string;
  readonly netns: string;
  /** Command over SSH as adminUser, host key pinned (StrictHostKeyChecking=yes). */
  exec(command: string, options?: ExecOptions): Promise<ExecResult>;
  /** Command as root inside the host, without SSH (not visible in the sshd log). */
  run(command: string, options?: { input?: string; check?: boolean }): Promise<ExecResult>;
  stat(path: string): Promise<FileStat | undefined>;
  readFile(path: string): Promise<string>;
  exists(path: string): Promise<boolean>;
  /** Users in the host's /etc/passwd. */
  users(): Promise<string[]>;
  containers(): Promise<ContainerInfo[]>;
  containerLogs(name: string): Promise<string>;
  etcHosts(): Promise<string>;
  /** The host's sshd log (LogLevel VERBOSE). */
  sshdLog(): Promise<string>;
  /** Number of SSH logins accepted so far ("Accepted publickey" lines in the sshd log). */
  sshLogins(): Promise<number>;
  stopSshd(): Promise<void>;
  startSshd(): Promise<void>;
  /**
   * The container's main process dies (SIGKILL from outside, as a crash or the OOM killer would):
   * its restart policy applies, so `unless-stopped` brings it back. Unlike `docker kill`, which
   * podman counts as stopped by the user (no restart).
   */
  killContainer(name: string): Promise<void>;
  /** `docker stop` as a user would: no restart, not even at the next boot for `unless-stopped`. */
  stopContainer(name: string): Promise<void>;
  /**
   * Simulated reboot: every process in the host dies at once (containers too, not "stopped by the
   * user"), /run and /tmp start empty, sshd starts again, then containers are started the way Docker
   * does at boot: restart policy `always`, and `unless-stopped` unless a user had stopped it. Podman
   * has no daemon to do that (Debian runs podman-restart.service for `always` only), so this does.
   */
  reboot(): Promise<RebootResult>;
  destroy(): Promise<void>;
}

const STATE_DIR = "/run/mesh-vm-testbed";
const ADMIN_USER = "admin";
const ADMIN_UID = 1000;
const SSH_PORT = 22;

interface HostRecord {
  id: string;
  name: string;
  owner: number;
  dir: string;
  root: string;
  netns: string;
  veths: string[];
  bridges: string[];
  addresses: string[];
  launcherPid?: number;
  /** PID 1 of the host's PID namespace, as seen from the machine. */
  initPid?: number;
}

// ---------- process helpers ----------

function run(
  file: string,
  args: string[],
  options: { input?: string; check?: boolean; timeoutMs?: number } = {},
): Promise<ExecResult> {
  return new Promise((resolvePromise, reject) => {
    const child = execFile(
      file,
      args,
      { maxBuffer: 64 * 1024 * 1024, timeout: options.timeoutMs ?? 120_000, encoding: "utf8" },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        const result = { code, stdout, stderr };
        if (code !== 0 && options.check !== false) {
          reject(new Error(`${file} ${args[0] ?? ""}... exited ${code}: ${stderr.trim().slice(0, 2000)}`));
        } else {
          resolvePromise(result);
        }
      },
    );
    // A command may exit without reading its input.
    child.stdin?.on("error", () => undefined);
    child.stdin?.end(options.input ?? "");
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Whether a process still runs (a zombie waiting to be reaped does not). */
function pidAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

// ---------- cached root filesystem ----------

let treePromise: Promise<string> | undefined;

/** Builds (first time: debootstrap, minutes) or reuses the prepared host tree; returns its path. */
export function hostTree(): Promise<string> {
  treePromise ??= run("bash", [join(repoRoot, "scripts/testbed/rootfs.sh")], { timeoutMs: 30 * 60_000 }).then(
    (r) => r.stdout.trim().split("\n").pop() ?? "",
    (error: unknown) => {
      treePromise = undefined;
      throw error;
    },
  );
  return treePromise;
}

/** Forgets the tree found so far (after the cache changed under this process). */
export function resetHostTree(): void {
  treePromise = undefined;
}

// ---------- registry of live hosts (for cleanup after crashes) ----------

function recordPath(id: string): string {
  return join(STATE_DIR, "hosts", `${id}.json`);
}

function saveRecord(record: HostRecord): void {
  mkdirSync(join(STATE_DIR, "hosts"), { recursive: true });
  writeFileSync(recordPath(record.id), JSON.stringify(record));
}

/** Claims an address (atomically, across processes) on a network; returns it. */
function claimAddress(network: NetworkName, owner: string): string {
  const dir = join(STATE_DIR, "addresses");
  mkdirSync(dir, { recursive: true });
  for (let i = 10; i < 250; i++) {
    const address = `${NETWORKS[network].prefix}.${i}`;
    try {
      writeFileSync(join(dir, address), owner, { flag: "wx" });
      return address;
    } catch {
      // taken
    }
  }
  throw new Error(`no free test address left on ${network}`);
}

function releaseAddresses(addresses: string[]): void {
  for (const a of addresses) rmSync(join(STATE_DIR, "addresses", a), { force: true });
}

const NETWORK_LOCK = join(STATE_DIR, "network.lock");

/**
 * The teardown of one host as a shell script, so the same steps run synchronously from process
 * 'exit' handlers and concurrently from destroy(). Idempotent.
 */
function teardownScript(record: HostRecord): string {
  // Containers that died with the host (no `podman rm`) leave their cgroups (cgroupfs manager);
  // their ids are the host's container storage entries. rmdir only removes empty ones.
  const ids = containerIds(record.dir);
  if (record.owner === process.pid) for (const id of ids) createdHere.containers.add(id);
  const pids = [record.launcherPid, record.initPid].filter((p): p is number => !!p).join(" ");
  return [
    // A process counts until it is gone or a zombie.
    `alive() { for p in ${pids}; do [ -r /proc/$p/stat ] && [ "$(sed 's/.*) //' /proc/$p/stat | cut -c1)" != Z ] && return 0; done; return 1; }`,
    // unshare --kill-child: the host's init dies with it, and the kernel kills the rest of its PID
    // namespace; once init is gone, so is every process and every mount made inside the host.
    record.launcherPid ? `kill -KILL ${record.launcherPid} 2>/dev/null` : "true",
    "i=0; while [ $i -lt 200 ] && alive; do sleep 0.05; i=$((i+1)); done",
    `umount ${record.root} 2>/dev/null || umount -l ${record.root} 2>/dev/null`,
    `exec 9>${NETWORK_LOCK}`,
    "flock 9",
    ...ids.map(
      (id) =>
        `for d in /sys/fs/cgroup/*/libpod_parent/libpod-${id}; do [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null; done`,
    ),
    ...record.veths.map((v) => `ip link del ${v} 2>/dev/null`),
    `ip netns del ${record.netns} 2>/dev/null`,
    // podman's shared cgroup parents (cgroupfs manager) go when empty; rmdir refuses busy ones.
    "rmdir /sys/fs/cgroup/*/libpod_parent/conmon /sys/fs/cgroup/*/libpod_parent 2>/dev/null",
    // A bridge goes when its last host does.
    ...record.bridges.map(
      (b) =>
        `if ip link show ${b} >/dev/null 2>&1 && [ -z "$(ip -o link show master ${b})" ]; then ip link del ${b}; fi`,
    ),
    "true",
  ].join("\n");
}

function forget(record: HostRecord): void {
  releaseAddresses(record.addresses);
  rmSync(record.dir, { recursive: true, force: true });
  rmSync(recordPath(record.id), { force: true });
}

function teardownSync(record: HostRecord): void {
  mkdirSync(STATE_DIR, { recursive: true });
  try {
    execFileSync("sh", ["-c", teardownScript(record)], { stdio: "ignore" });
  } catch {
    // best effort; reported by the leftovers check
  }
  forget(record);
}

async function teardown(record: HostRecord): Promise<void> {
  mkdirSync(STATE_DIR, { recursive: true });
  await run("sh", ["-c", teardownScript(record)], { check: false });
  forget(record);
}

/** Tears down hosts whose creating process is gone (a crashed or killed test run). */
export function destroyStaleHosts(): number {
  const dir = join(STATE_DIR, "hosts");
  if (!existsSync(dir)) return 0;
  let count = 0;
  for (const file of readdirSync(dir)) {
    let record: HostRecord;
    try {
      record = JSON.parse(readFileSync(join(dir, file), "utf8")) as HostRecord;
    } catch {
      unlinkSync(join(dir, file));
      continue;
    }
    if (pidAlive(record.owner)) continue;
    teardownSync(record);
    count++;
  }
  return count;
}

const live = new Map<string, HostRecord>();
/** Everything this process created, for leftovers("process"). */
const createdHere = { dirs: new Set<string>(), netns: new Set<string>(), containers: new Set<string>() };
let exitHooked = false;

function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.on("exit", () => {
    for (const record of live.values()) teardownSync(record);
    live.clear();
  });
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      for (const record of live.values()) teardownSync(record);
      live.clear();
      process.exit(128 + (signal === "SIGINT" ? 2 : signal === "SIGTERM" ? 15 : 1));
    });
  }
}

// ---------- host creation ----------

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
const START_SSHD = `#!/bin/sh
# mesh-vm test host: start sshd (no systemd here); log kept in /var/log/sshd.log.
mkdir -p -m 0755 /run/sshd
setsid /usr/sbin/sshd -D -e </dev/null >>/var/log/sshd.log 2>&1 &
`;

async function keygen(path: string, comment: string): Promise<string> {
  await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path]);
  return (await readFile(`${path}.pub`, "utf8")).trim();
}

class NetnsHost implements TestHost {
  readonly sshPort = SSH_PORT;
  readonly adminUser = ADMIN_USER;
  readonly hostKey: string;
  readonly adminPrivateKey: string;
  readonly adminPrivateKeyPath: string;
  readonly knownHostsPath: string;
  readonly addresses: Partial<Record<NetworkName, string>>;
  private initPid = 0;
  private destroyed = false;

  constructor(
    private readonly record: HostRecord,
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
      { detached: true, stdio: ["ignore", "ignore", "pipe"] },
    );
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.unref();
    (child.stderr as unknown as { unref?: () => void }).unref?.();
    if (!child.pid) throw new Error(`cannot start host ${this.name}`);
    this.record.launcherPid = child.pid;
    saveRecord(this.record);
    // PID 1 of the host is unshare's only child; sshd writes its pid file once it listens.
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`host ${this.name} init exited: ${stderr.trim()}`);
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
      if (Date.now() > deadline) throw new Error(`host ${this.name}: sshd did not start: ${stderr.trim()}`);
      await sleep(20);
    }
  }

  run(command: string, options: { input?: string; check?: boolean } = {}): Promise<ExecResult> {
    if (!this.initPid) return Promise.reject(new Error(`host ${this.name} is not running`));
    return run(
      "nsenter",
      [
        "-t",
        String(this.initPid),
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
        "/bin/sh",
        "-c",
        command,
      ],
      options,
    );
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
  private async halt(): Promise<void> {
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

/** Ids of the host's containers: podman keeps them on the host's own (upper) layer. */
function containerIds(dir: string): string[] {
  try {
    return readdirSync(join(dir, "upper/var/lib/containers/storage/vfs-containers")).filter((id) =>
      /^[0-9a-f]{64}$/.test(id),
    );
  } catch {
    return [];
  }
}

function sshOptions(identity: string, knownHosts: string): string[] {
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

interface PodmanInspect {
  Id: string;
  Name: string;
  ImageName?: string;
  Image: string;
  Args?: string[];
  State: { Status: string; ExitCode: number; Pid?: number };
  HostConfig: { RestartPolicy?: { Name?: string }; NetworkMode?: string };
  Mounts?: { Source: string; Destination: string; RW: boolean }[];
  Config: { Env?: string[] };
}

function toContainerInfo(c: PodmanInspect): ContainerInfo {
  const env: Record<string, string> = {};
  for (const e of c.Config.Env ?? []) {
    const i = e.indexOf("=");
    env[i < 0 ? e : e.slice(0, i)] = i < 0 ? "" : e.slice(i + 1);
  }
  return {
    id: c.Id,
    name: c.Name,
    image: c.ImageName ?? c.Image,
    state: c.State.Status,
    exitCode: c.State.ExitCode,
    restartPolicy: c.HostConfig.RestartPolicy?.Name || "no",
    networkMode: c.HostConfig.NetworkMode ?? "",
    mounts: (c.Mounts ?? []).map((m) => ({ source: m.Source, destination: m.Destination, readOnly: !m.RW })),
    env,
    args: c.Args ?? [],
    pid: c.State.Pid ?? 0,
  };
}

async function createHost(spec: HostSpec, tree: string): Promise<NetnsHost> {
  const id = randomBytes(3).toString("hex");
  const networks = spec.networks?.length ? spec.networks : (["vm"] as NetworkName[]);
  const dir = await mkdtemp(join(tmpdir(), `mesh-vm-host-${spec.name}-`));
  const record: HostRecord = {
    id,
    name: spec.name,
    owner: process.pid,
    dir,
    root: join(dir, "root"),
    netns: `mvm-${id}`,
    veths: networks.map((_, i) => `mvh${id}${i}`),
    bridges: networks.map((n) => NETWORKS[n].bridge),
    addresses: [],
  };
  saveRecord(record);
  live.set(id, record);
  createdHere.dirs.add(dir);
  createdHere.netns.add(record.netns);
  try {
    const addresses: Partial<Record<NetworkName, string>> = {};
    for (const n of networks) {
      const a = claimAddress(n, id);
      record.addresses.push(a);
      addresses[n] = a;
    }
    saveRecord(record);

    // The host's disk: a private writable layer over the shared, read-only prepared tree.
    await Promise.all(["upper", "work", "root"].map((d) => mkdir(join(dir, d))));
    await run("mount", [
      "-t",
      "overlay",
      "overlay",
      "-o",
      `lowerdir=${tree},upperdir=${join(dir, "upper")},workdir=${join(dir, "work")}`,
      record.root,
    ]);

    // Per-host identity: fresh host key, admin key pair, hostname, /etc/hosts.
    const root = record.root;
    const hostKeyPath = join(root, "etc/ssh/ssh_host_ed25519_key");
    const [hostKeyLine, adminPublic] = await Promise.all([
      keygen(hostKeyPath, `root@${spec.name}`),
      keygen(join(dir, "admin_ed25519"), `${ADMIN_USER}@mesh-vm-test`),
    ]);
    const hostKey = hostKeyLine.split(" ").slice(0, 2).join(" ");
    const authorizedKeys = join(root, "home", ADMIN_USER, ".ssh/authorized_keys");
    await writeFile(authorizedKeys, `${adminPublic}\n`, { mode: 0o600 });
    await chown(authorizedKeys, ADMIN_UID, ADMIN_UID);
    await writeFile(join(root, "etc/hostname"), `${spec.name}\n`);
    await writeFile(
      join(root, "etc/hosts"),
      [
        "127.0.0.1 localhost",
        `127.0.1.1 ${spec.name}`,
        "",
        "::1 localhost ip6-localhost ip6-loopback",
        "ff02::1 ip6-allnodes",
        "ff02::2 ip6-allrouters",
        "",
      ].join("\n"),
    );
    await writeFile(join(root, "usr/local/sbin/mesh-vm-start-sshd"), START_SSHD);
    await chmod(join(root, "usr/local/sbin/mesh-vm-start-sshd"), 0o755);
    await writeFile(join(dir, "known_hosts"), record.addresses.map((a) => `${a} ${hostKey}\n`).join(""));
    const adminPrivateKey = await readFile(join(dir, "admin_ed25519"), "utf8");

    // Network: one veth per network into that network's bridge on the machine; inside, only the
    // connected subnets (no default route).
    const script = [
      "set -e",
      `ip netns add ${record.netns}`,
      `ip -n ${record.netns} link set lo up`,
      ...networks.flatMap((n, i) => {
        const { bridge, prefix } = NETWORKS[n];
        const veth = record.veths[i]!;
        return [
          `if ! ip link show ${bridge} >/dev/null 2>&1; then ip link add ${bridge} type bridge; ip addr add ${prefix}.1/24 dev ${bridge}; ip link set ${bridge} up; fi`,
          `ip link add ${veth} type veth peer name eth${i} netns ${record.netns}`,
          `ip link set ${veth} master ${bridge} up`,
          `ip -n ${record.netns} addr add ${record.addresses[i]}/24 dev eth${i}`,
          `ip -n ${record.netns} link set eth${i} up`,
        ];
      }),
    ].join("\n");
    await run("flock", [NETWORK_LOCK, "sh", "-c", script]);

    const host = new NetnsHost(record, addresses, hostKey, adminPrivateKey);
    await host.boot();
    return host;
  } catch (error) {
    await teardown(record);
    live.delete(id);
    throw error;
  }
}

/**
 * Creates hosts (in parallel). The first call in a fresh cache builds the root filesystem (minutes);
 * after that a host takes well under a second. Call destroy() on each (e.g. in `after`); anything
 * left is torn down when the process exits, or by the next run if the process was killed.
 */
export async function createHosts(specs: HostSpec[]): Promise<TestHost[]> {
  const names = new Set(specs.map((s) => s.name));
  if (names.size !== specs.length) throw new Error("host names must be unique");
  mkdirSync(STATE_DIR, { recursive: true });
  destroyStaleHosts();
  hookExit();
  const tree = await hostTree();
  const results = await Promise.allSettled(specs.map((s) => createHost(s, tree)));
  const hosts = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) {
    await Promise.all(hosts.map((h) => h.destroy()));
    throw failed.reason;
  }
  return hosts;
}

/** Destroys hosts, collecting (not stopping at) failures. */
export async function destroyHosts(hosts: TestHost[]): Promise<void> {
  const results = await Promise.allSettled(hosts.map((h) => h.destroy()));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
}

export interface Leftovers {
  netns: string[];
  mounts: string[];
  processes: string[];
  cgroups: string[];
}

/**
 * What test hosts left behind: network namespaces, host mounts, processes running in a host root,
 * container cgroups. Scope "process" (default) counts only hosts this process created, so tests
 * running beside other test runs stay exact; "machine" counts every test host on the machine.
 */
export async function leftovers(scope: "process" | "machine" = "process"): Promise<Leftovers> {
  const mine = (text: string): boolean =>
    scope === "machine" ? true : [...createdHere.dirs].some((d) => text.includes(d));
  const netns = (await run("ip", ["netns", "list"])).stdout
    .split("\n")
    .map((l) => l.split(" ")[0]!)
    .filter((n) => n.startsWith("mvm-") && (scope === "machine" || createdHere.netns.has(n)));
  const mounts = readFileSync("/proc/self/mounts", "utf8")
    .split("\n")
    .filter((l) => l.includes("mesh-vm-host-") && mine(l));
  const processes = (await run("ps", ["-eo", "pid=,args="])).stdout
    .split("\n")
    .filter((l) => /sshd|conmon|catatonit|standin-proxy|httpd -f -p 15021/.test(l))
    .filter((l) => {
      // Only processes of test hosts: their root is a host overlay.
      try {
        const root = readlinkSync(`/proc/${l.trim().split(/\s+/)[0]}/root`);
        return root.includes("mesh-vm-host-") && mine(root);
      } catch {
        return false;
      }
    });
  // Container cgroups podman made (cgroupfs manager) and did not remove.
  const cgroups = (
    await run("sh", ["-c", "ls -d /sys/fs/cgroup/*/libpod_parent/libpod-* 2>/dev/null"], { check: false })
  ).stdout
    .split("\n")
    .filter(
      (c) => c && (scope === "machine" || createdHere.containers.has(c.slice(c.lastIndexOf("libpod-") + 7))),
    );
  return { netns, mounts, processes, cgroups };
}
