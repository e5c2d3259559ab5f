// Test VM hosts: each host is a network namespace with its own addresses, a bookworm root filesystem
// (a private overlay over the cached tree from scripts/testbed/rootfs.sh), and its own mount, PID,
// UTS and IPC namespaces, in which a real sshd runs and podman answers to `docker`. Killing the
// host's init takes every process started inside it (sshd, sessions, conmon, containers) and every
// mount made inside it along; destroy() then unmounts the overlay, deletes the namespace and veths.
//
// Inspection helpers (stat, readFile, containers, etcHosts, ...) enter the host directly with
// nsenter, so they never show up as SSH sessions in the host's sshd log; exec() goes over SSH with
// the pinned host key, like the code under test does.
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { chmod, chown, mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { keygen, NetnsHost, runInHost, START_SSHD } from "./hosts/netnsHost";
import { pidAlive, run } from "./hosts/process";
import { hostTree, systemdHostTree } from "./hosts/rootfs";
import { SystemdHost } from "./hosts/systemdHost";
import {
  ADMIN_UID,
  ADMIN_USER,
  claimAddress,
  createdHere,
  destroyStaleHosts,
  hookExit,
  live,
  NETWORK_LOCK,
  readRecord,
  saveRecord,
  STATE_DIR,
  teardown,
  type HostRecord,
} from "./hosts/registry";
import {
  NETWORKS,
  type CreateHostsOptions,
  type HostSpec,
  type NetworkName,
  type TestHost,
} from "./hosts/types";

export { destroyStaleHosts, hostTraces, leftovers, type HostTraces, type Leftovers } from "./hosts/registry";
export { buildHostTree, hostTree, resetHostTree, systemdHostTree } from "./hosts/rootfs";
export { SystemdHost } from "./hosts/systemdHost";
export * from "./hosts/types";

async function createHost(spec: HostSpec, tree: string, keeper?: string): Promise<NetnsHost> {
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
    ...(keeper ? { keeper } : {}),
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
    if (spec.init === "systemd") {
      // Its own machine id: systemd treats an empty one as a first boot, every boot.
      await writeFile(join(root, "etc/machine-id"), `${randomBytes(16).toString("hex")}\n`, { mode: 0o444 });
    } else {
      await writeFile(join(root, "usr/local/sbin/mesh-vm-start-sshd"), START_SSHD);
      await chmod(join(root, "usr/local/sbin/mesh-vm-start-sshd"), 0o755);
    }
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
        const inPrefix = `${prefix.replaceAll(".", "\\.")}\\.`;
        return [
          // Never shadow a network the machine itself is on (its gateway would become a local address).
          `if ip -o -4 addr show | awk '$2 != "${bridge}" {print $4}' | grep -q '^${inPrefix}'; then echo "test network ${prefix}.0/24 is already a network of this machine (ip -4 addr); refusing to add ${bridge}" >&2; exit 3; fi`,
          `if ! ip link show ${bridge} >/dev/null 2>&1; then ip link add ${bridge} type bridge; ip addr add ${prefix}.1/24 dev ${bridge}; ip link set ${bridge} up; fi`,
          `ip link add ${veth} type veth peer name eth${i} netns ${record.netns}`,
          `ip link set ${veth} master ${bridge} up`,
          `ip -n ${record.netns} addr add ${record.addresses[i]}/24 dev eth${i}`,
          `ip -n ${record.netns} link set eth${i} up`,
        ];
      }),
    ].join("\n");
    await run("flock", [NETWORK_LOCK, "sh", "-c", script]);

    const host =
      spec.init === "systemd"
        ? new SystemdHost(record, addresses, hostKey, adminPrivateKey)
        : new NetnsHost(record, addresses, hostKey, adminPrivateKey);
    await host.boot();
    // Booted: from now on only destroyDetachedHosts() (or a stale-host sweep) ends a detached host.
    if (keeper) live.delete(id);
    return host;
  } catch (error) {
    await teardown(record);
    live.delete(id);
    throw error;
  }
}

/**
 * Creates hosts (in parallel) from the root filesystem the set-up phase built (scripts/test.sh setup);
 * a host takes well under a second. Call destroy() on each (e.g. in `after`); anything
 * left is torn down when the process exits, or by the next run if the process was killed.
 */
export async function createHosts(specs: HostSpec[], options: CreateHostsOptions = {}): Promise<TestHost[]> {
  const names = new Set(specs.map((s) => s.name));
  if (names.size !== specs.length) throw new Error("host names must be unique");
  mkdirSync(STATE_DIR, { recursive: true });
  destroyStaleHosts();
  hookExit();
  const [tree, systemdTree] = await Promise.all([
    specs.some((s) => s.init !== "systemd") ? hostTree() : "",
    specs.some((s) => s.init === "systemd") ? systemdHostTree() : "",
  ]);
  const keeper = options.detached?.keeper;
  const results = await Promise.allSettled(
    specs.map((s) => createHost(s, s.init === "systemd" ? systemdTree : tree, keeper)),
  );
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

/**
 * Tears down detached hosts by id, from any process: removes their containers (so podman drops their
 * cgroups), then stops each host's init and removes its mounts, namespace, veths and dir. Hosts
 * already gone (torn down, or the machine rebooted) are skipped. Idempotent.
 */
export async function destroyDetachedHosts(ids: string[]): Promise<void> {
  mkdirSync(STATE_DIR, { recursive: true });
  await Promise.all(
    ids.map(async (id) => {
      const record = readRecord(id);
      if (!record) return;
      if (record.initPid && pidAlive(record.initPid)) {
        await runInHost(record.initPid, "podman rm --all --force --time 1 >/dev/null 2>&1", {
          check: false,
        }).catch(() => undefined);
      }
      await teardown(record);
      live.delete(id);
    }),
  );
}

/** Creates hosts with systemd as init (HostSpec.init "systemd"); see createHosts. */
export async function createSystemdHosts(
  specs: Omit<HostSpec, "init">[],
  options: CreateHostsOptions = {},
): Promise<SystemdHost[]> {
  return (await createHosts(
    specs.map((s) => ({ ...s, init: "systemd" as const })),
    options,
  )) as SystemdHost[];
}
