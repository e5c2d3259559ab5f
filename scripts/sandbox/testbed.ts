// The sandbox's test bed, started detached so it outlives `scripts/sandbox.sh up`: a real etcd +
// kube-apiserver with Istio's CRDs (scripts/testbed/cluster.ts) and two VM hosts in network namespaces
// (scripts/testbed/hosts.ts), laid out like the seeds' ratings example: `ratings-vm` on the pods'
// network (198.51.100.0/24) and `ratings-vm-2` segregated (public address on 203.0.113.0/24, SSH over
// 198.18.0.0/24, the proxy bound to its 198.51.100.0/24 address). Everything is found again from
// state.json and stopped by PID. With `up --istiod`, a detached istiod too (its xDS/CA port on the vm network's
// gateway, which both hosts are on); `ratings-vm` then boots systemd as init and gets Istio's istio-sidecar deb
// (the package runtime's host), `ratings-vm-2` the real Istio agent's image.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { chmod, copyFile, mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parse } from "yaml";
import {
  attachCluster,
  clusterRunning,
  startCluster,
  stopDetachedCluster,
  type TestCluster,
} from "../testbed/cluster";
import {
  createHosts,
  destroyDetachedHosts,
  hostTraces,
  type HostSpec,
  type TestHost,
} from "../testbed/hosts";
import {
  installAgentImage,
  istiodRunning,
  networkGateway,
  stopDetachedIstiod,
  stopIstiodProcess,
} from "../testbed/istiod";
import { STATE_DIR } from "../testbed/hosts/registry";
import { pidAlive } from "../testbed/hosts/process";
import { placeSidecarPackage, sidecarPackagePath, sidecarPackageVersion } from "../testbed/sidecarPackage";
import { NAMESPACE, SERVICE_ACCOUNT } from "./stackConfig";
import { writeState, type SandboxHost, type SandboxPaths, type SandboxState } from "./state";

/** The host `up --istiod` onboards with the package runtime: systemd as init, Istio's istio-sidecar package. */
export const PACKAGE_HOST = "ratings-vm";

/**
 * The seeds' ratings VM on the pods' network, and a segregated second one that SSH reaches over a third network.
 * With istiod the first boots systemd (the package runtime's host); the second stays a Docker-runtime host.
 */
export function hostSpecs(withIstiod = false): HostSpec[] {
  return [
    { name: "ratings-vm", networks: ["vm"], ...(withIstiod ? { init: "systemd" as const } : {}) },
    { name: "ratings-vm-2", networks: ["vm", "second", "third"] },
  ];
}

const log = (line: string): void => console.error(`[sandbox] ${line}`);

/** Where the package host holds the istio-sidecar deb (the user's file on the VM). */
export const PACKAGE_DIR = "/var/tmp";

/** The test network whose gateway istiod listens on: both sandbox hosts are on it. */
export const ISTIOD_NETWORK = "vm";

/**
 * Starts the hosts and the cluster (with `state.withIstiod`, istiod too, and the agent image on both hosts),
 * recording each in state.json as soon as it runs. Hosts first: istiod listens on their network's gateway.
 */
export async function startTestbed(paths: SandboxPaths, state: SandboxState): Promise<TestCluster> {
  const hosts = await startHosts(paths, state);
  const t = Date.now();
  // Both hosts are on the vm network (ratings-vm-2's private side, where its proxy binds): its gateway, the
  // machine's end of their bridge, is where both reach istiod, and nothing outside the machine can.
  const istiod = state.withIstiod ? { address: networkGateway(ISTIOD_NETWORK) } : undefined;
  log(`starting etcd + kube-apiserver with Istio's CRDs${istiod ? " and istiod" : ""} (detached)`);
  const cluster = await startCluster({
    dir: paths.clusterDir,
    detached: true,
    ...(istiod ? { istiod } : {}),
  });
  state.cluster = cluster.record();
  state.istiod = cluster.istiod?.record();
  writeState(paths, state);
  await writeFile(paths.kubeconfig, cluster.kubeconfig, { mode: 0o600 });
  const kubeconfig = parse(cluster.kubeconfig) as { users: { user: { token: string } }[] };
  await writeFile(paths.apiAuthHeader, `Authorization: Bearer ${kubeconfig.users[0]!.user.token}\n`, {
    mode: 0o600,
  });
  log(
    `cluster${istiod ? " and istiod" : ""} up at ${cluster.server} (${((Date.now() - t) / 1000).toFixed(1)} s)`,
  );
  if (state.istiod)
    log(
      `istiod up (PID ${state.istiod.pid}): xDS/CA on ${state.istiod.address}:${state.istiod.port} as ${state.istiod.discoveryAddress}, its own mesh root`,
    );

  // With istiod, createNamespace waits for istiod's istio-ca-root-cert (no stand-in root).
  await cluster.createNamespace(NAMESPACE);
  await cluster.createServiceAccount(NAMESPACE, SERVICE_ACCOUNT);
  log(
    `namespace ${NAMESPACE} (with istio-ca-root-cert${state.istiod ? " from istiod" : ""}, kube-root-ca.crt) and ServiceAccount ${SERVICE_ACCOUNT}`,
  );
  if (state.withIstiod) {
    const at = Date.now();
    for (const h of hosts) {
      if (h.name === PACKAGE_HOST) await placePackage(paths, state, h);
      else state.agentImage = await installAgentImage(h);
    }
    writeState(paths, state);
    const pkg = state.hosts.find((h) => h.sidecarPackage)?.sidecarPackage;
    log(
      `agent image ${state.agentImage} imported into ratings-vm-2's podman; istio-sidecar ${pkg?.version} placed on ${PACKAGE_HOST} at ${pkg?.file} (${((Date.now() - at) / 1000).toFixed(1)} s)`,
    );
  }
  return cluster;
}

/**
 * Puts the istio-sidecar deb the set-up built on the package host, as a user's file already on the VM
 * (`host.sidecarPackage.file`), and records it.
 */
async function placePackage(paths: SandboxPaths, state: SandboxState, host: TestHost): Promise<void> {
  const deb = await sidecarPackagePath();
  const file = await placeSidecarPackage(host, deb, PACKAGE_DIR);
  const recorded = state.hosts.find((h) => h.id === host.id)!;
  recorded.sidecarPackage = { file, version: sidecarPackageVersion(deb) };
  writeState(paths, state);
}

/** Starts both VM hosts and records them, their admin keys and a known_hosts pinning every address. */
async function startHosts(paths: SandboxPaths, state: SandboxState): Promise<TestHost[]> {
  log(
    state.withIstiod
      ? `starting two VM hosts (network namespaces, detached): ${PACKAGE_HOST} with systemd as init, ratings-vm-2 with sshd and podman as docker`
      : "starting two VM hosts (network namespaces with sshd and podman as docker, detached)",
  );
  const t = Date.now();
  // The sandbox dir keeps the hosts: while it exists no other run's stale-host sweep touches them.
  const hosts = await createHosts(hostSpecs(state.withIstiod), { detached: { keeper: paths.dir } });
  state.hosts = hosts.map((h): SandboxHost => ({
    id: h.id,
    name: h.name,
    netns: h.netns,
    addresses: h.addresses as Record<string, string>,
    hostKey: h.hostKey,
    adminUser: h.adminUser,
    sshPort: h.sshPort,
  }));
  writeState(paths, state);
  // The keys and a known_hosts pinning every address of both hosts, for the user's ssh commands.
  const knownHosts: string[] = [];
  for (const h of hosts) {
    await mkdir(paths.hostDir(h.name), { recursive: true, mode: 0o700 });
    await copyFile(h.adminPrivateKeyPath, paths.adminKey(h.name));
    await chmod(paths.adminKey(h.name), 0o600);
    for (const a of Object.values(h.addresses)) knownHosts.push(`${a} ${h.hostKey}`);
  }
  await writeFile(paths.knownHosts, `${knownHosts.join("\n")}\n`, { mode: 0o600 });
  log(
    `hosts up (${((Date.now() - t) / 1000).toFixed(1)} s): ${hosts
      .map((h) => `${h.name} ${Object.values(h.addresses).join(", ")}`)
      .join("; ")}`,
  );
  return hosts;
}

/** Whether every part of the recorded test bed still runs. */
export function testbedRunning(state: SandboxState): boolean {
  return (
    !!state.cluster &&
    clusterRunning(state.cluster) &&
    state.cluster.pids.every((pid) => pidAlive(pid)) &&
    state.hosts.length === 2 &&
    state.hosts.every((h) => hostRunning(h.id)) &&
    (!state.withIstiod || (!!state.istiod && istiodRunning(state.istiod)))
  );
}

/** A host still runs when its harness record exists and its init is alive. */
export function hostRunning(id: string): boolean {
  const record = readHostRecord(id);
  return !!record?.initPid && pidAlive(record.initPid);
}

interface HostRecordLike {
  id: string;
  keeper?: string;
  initPid?: number;
}

function readHostRecord(id: string): HostRecordLike | undefined {
  try {
    return JSON.parse(readFileSync(join(STATE_DIR, "hosts", `${id}.json`), "utf8")) as HostRecordLike;
  } catch {
    return undefined;
  }
}

/** Ids of every live host this sandbox keeps: recorded ones, and any a killed `up` had not recorded yet. */
export function sandboxHostIds(paths: SandboxPaths, state?: SandboxState): string[] {
  const ids = new Set(state?.hosts.map((h) => h.id) ?? []);
  const dir = join(STATE_DIR, "hosts");
  if (existsSync(dir)) {
    for (const file of readdirSync(dir)) {
      const record = readHostRecord(file.replace(/\.json$/, ""));
      if (record?.keeper === paths.dir) ids.add(record.id);
    }
  }
  return [...ids];
}

/** The running cluster, for requests and its deletion controllers; undefined when it is gone. */
export async function attachRunningCluster(state?: SandboxState): Promise<TestCluster | undefined> {
  if (!state?.cluster || !state.cluster.pids.every((pid) => pidAlive(pid)) || !clusterRunning(state.cluster))
    return undefined;
  return attachCluster(state.cluster).catch(() => undefined);
}

/**
 * Stops istiod, the hosts and the cluster by PID and removes their files. Safe on a half-started or gone test
 * bed. istiod first: it watches the API server and would log its going away.
 */
export async function stopTestbed(paths: SandboxPaths, state?: SandboxState): Promise<void> {
  // Recorded, or found by the cluster path on its command line (a killed `up` may not have recorded it).
  const istiods = new Set(state?.istiod && istiodRunning(state.istiod) ? [state.istiod.pid] : []);
  for (const pid of istiodProcesses(paths.clusterDir)) istiods.add(pid);
  if (istiods.size > 0) {
    log(`stopping istiod (PID ${[...istiods].join(", ")})`);
    for (const pid of istiods) await stopIstiodProcess(pid);
  }
  if (state?.istiod) await stopDetachedIstiod(state.istiod);
  const ids = sandboxHostIds(paths, state);
  if (ids.length > 0) {
    log(`stopping ${ids.length} VM host(s)`);
    await destroyDetachedHosts(ids);
  }
  // Processes of this sandbox's cluster dir, recorded or not (a killed `up` may not have recorded them).
  const pids = new Set(state?.cluster?.pids ?? []);
  for (const pid of clusterProcesses(paths.clusterDir)) pids.add(pid);
  if (pids.size > 0 || existsSync(paths.clusterDir)) {
    log("stopping etcd and kube-apiserver");
    await stopDetachedCluster({
      dir: paths.clusterDir,
      server: state?.cluster?.server ?? "",
      kubeconfigPath: paths.kubeconfig,
      auditLogPath: "",
      // etcd first in the record: stopped last.
      pids: [...pids].sort((a, b) => etcdFirst(a) - etcdFirst(b)),
      ports: state?.cluster?.ports ?? [],
    });
  }
  await rm(paths.clusterDir, { recursive: true, force: true });
}

function etcdFirst(pid: number): number {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("--etcd-servers") ? 1 : 0;
  } catch {
    return 0;
  }
}

/** PIDs of live istiods (pilot-discovery) whose command line names a path in `dir` (its kubeconfig). */
export function istiodProcesses(dir: string): number[] {
  return clusterProcesses(dir, ["pilot-discovery"]);
}

/** PIDs of live etcd and kube-apiserver (or `programs`) processes whose command line names a path in `dir`. */
export function clusterProcesses(dir: string, programs = ["etcd", "kube-apiserver"]): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      const program = argv[0]?.split("/").pop();
      if (programs.includes(program ?? "") && argv.some((a) => a.includes(`${dir}/`)) && pidAlive(pid))
        pids.push(pid);
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

export { hostTraces };
