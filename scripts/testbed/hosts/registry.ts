// Every live test host is recorded under /run/mesh-vm-testbed (addresses claimed atomically,
// records with the owning process), so a host is torn down by destroy(), by the exit hook, or by
// the next run when its process was killed; leftovers() checks that nothing stayed.
import { execFileSync } from "node:child_process";
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
import { join } from "node:path";
import { containerIds } from "./containers";
import { pidAlive, run } from "./process";
import { NETWORKS, type NetworkName } from "./types";

export const STATE_DIR = "/run/mesh-vm-testbed";
export const ADMIN_USER = "admin";
export const ADMIN_UID = 1000;
export const SSH_PORT = 22;

export interface HostRecord {
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
  /** The host's own cgroups in the machine's trees (hosts with systemd as init), removed at teardown. */
  cgroups?: string[];
  /**
   * Detached hosts (the local sandbox) outlive the process that made them: nothing tears them down
   * while this file exists; destroyDetachedHosts() does, or the next run once the file is gone.
   */
  keeper?: string;
}

/** The record of a live host, or undefined once it is gone (torn down, or the machine rebooted). */
export function readRecord(id: string): HostRecord | undefined {
  try {
    return JSON.parse(readFileSync(recordPath(id), "utf8")) as HostRecord;
  } catch {
    return undefined;
  }
}

/** Whether a detached host is still wanted (its keeper file exists). */
function kept(record: HostRecord): boolean {
  return !!record.keeper && existsSync(record.keeper);
}

/** Records of every live host on the machine. */
function allRecords(): HostRecord[] {
  const dir = join(STATE_DIR, "hosts");
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((file) => {
    const record = readRecord(file.replace(/\.json$/, ""));
    return record ? [record] : [];
  });
}

function recordPath(id: string): string {
  return join(STATE_DIR, "hosts", `${id}.json`);
}

export function saveRecord(record: HostRecord): void {
  mkdirSync(join(STATE_DIR, "hosts"), { recursive: true });
  writeFileSync(recordPath(record.id), JSON.stringify(record));
}

/** Claims an address (atomically, across processes) on a network; returns it. */
export function claimAddress(network: NetworkName, owner: string): string {
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

export const NETWORK_LOCK = join(STATE_DIR, "network.lock");

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
    // namespace; once init is gone, so is every process and every mount made inside the host. The
    // launcher leads its own process group (a systemd host's launcher is a boot loop around unshare).
    record.launcherPid ? `kill -KILL -${record.launcherPid} ${record.launcherPid} 2>/dev/null` : "true",
    "i=0; while [ $i -lt 200 ] && alive; do sleep 0.05; i=$((i+1)); done",
    // A host's own cgroups go once the last of its processes has left them.
    ...(record.cgroups ?? []).map(
      (c) =>
        `i=0; while [ -d ${c} ] && [ $i -lt 100 ]; do find ${c} -depth -type d -exec rmdir {} + 2>/dev/null; [ -d ${c} ] && sleep 0.05; i=$((i+1)); done`,
    ),
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

export function teardownSync(record: HostRecord): void {
  mkdirSync(STATE_DIR, { recursive: true });
  try {
    execFileSync("sh", ["-c", teardownScript(record)], { stdio: "ignore" });
  } catch {
    // best effort; reported by the leftovers check
  }
  forget(record);
}

export async function teardown(record: HostRecord): Promise<void> {
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
    if (pidAlive(record.owner) || kept(record)) continue;
    teardownSync(record);
    count++;
  }
  return count;
}

export const live = new Map<string, HostRecord>();
/** Everything this process created, for leftovers("process"). */
export const createdHere = {
  dirs: new Set<string>(),
  netns: new Set<string>(),
  containers: new Set<string>(),
};
let exitHooked = false;

export function hookExit(): void {
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

/** What identifies some hosts' traces on the machine (see leftovers()). */
export interface HostTraces {
  /** The hosts' dirs (overlay roots live inside). */
  dirs: string[];
  netns: string[];
  /** Container ids (their cgroups outlive the host if nothing removes them). */
  containers: string[];
}

/** The traces of live hosts, e.g. to check later that they are gone. */
export function hostTraces(ids: string[]): HostTraces {
  const records = ids.flatMap((id) => readRecord(id) ?? []);
  return {
    dirs: records.map((r) => r.dir),
    netns: records.map((r) => r.netns),
    containers: records.flatMap((r) => containerIds(r.dir)),
  };
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
 * running beside other test runs stay exact; "machine" counts every test host on the machine except
 * detached hosts still kept (a running sandbox); HostTraces counts exactly those hosts.
 */
export async function leftovers(scope: "process" | "machine" | HostTraces = "process"): Promise<Leftovers> {
  const keptHosts =
    scope === "machine"
      ? hostTraces(
          allRecords()
            .filter(kept)
            .map((r) => r.id),
        )
      : undefined;
  const traces: HostTraces =
    scope === "process"
      ? {
          dirs: [...createdHere.dirs],
          netns: [...createdHere.netns],
          containers: [...createdHere.containers],
        }
      : scope === "machine"
        ? { dirs: [], netns: [], containers: [] }
        : scope;
  const mine = (text: string): boolean =>
    scope === "machine"
      ? !keptHosts!.dirs.some((d) => text.includes(d))
      : traces.dirs.some((d) => text.includes(d));
  const netns = (await run("ip", ["netns", "list"])).stdout
    .split("\n")
    .map((l) => l.split(" ")[0]!)
    .filter(
      (n) =>
        n.startsWith("mvm-") &&
        (scope === "machine" ? !keptHosts!.netns.includes(n) : traces.netns.includes(n)),
    );
  const mounts = readFileSync("/proc/self/mounts", "utf8")
    .split("\n")
    .filter((l) => l.includes("mesh-vm-host-") && mine(l));
  const processes = (await run("ps", ["-eo", "pid=,args="])).stdout
    .split("\n")
    .filter((l) =>
      /sshd|conmon|catatonit|standin-proxy|httpd -f -p 15021|systemd|dbus-daemon|pilot-agent/.test(l),
    )
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
    .filter((c) => {
      if (!c) return false;
      const id = c.slice(c.lastIndexOf("libpod-") + 7);
      return scope === "machine" ? !keptHosts!.containers.includes(id) : traces.containers.includes(id);
    });
  // The own cgroups of hosts with systemd as init (mesh-vm-host-<id>, the id of netns mvm-<id>).
  const hostCgroups = (
    await run("sh", ["-c", "ls -d /sys/fs/cgroup/*/mesh-vm-host-* 2>/dev/null"], { check: false })
  ).stdout
    .split("\n")
    .filter((c) => {
      if (!c) return false;
      const netns = `mvm-${c.slice(c.lastIndexOf("mesh-vm-host-") + 13)}`;
      return scope === "machine" ? !keptHosts!.netns.includes(netns) : traces.netns.includes(netns);
    });
  cgroups.push(...hostCgroups);
  return { netns, mounts, processes, cgroups };
}
