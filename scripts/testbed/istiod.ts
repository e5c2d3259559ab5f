// A real Istio control plane and agent for tests, built by scripts/istio.sh (pilot-discovery and
// pilot-agent from istio.io/istio on the Go module proxy; no Envoy):
// - startIstiod(): istiod against a test cluster (kube-apiserver on loopback). It makes its own
//   self-signed mesh root (Secret istio-ca-secret), publishes istio-ca-root-cert into every
//   namespace, validates VM tokens by TokenReview (audience istio-ca) and signs their CSRs on its
//   secure gRPC port, which listens on a test network's gateway address (the machine's end of the
//   bridge the test hosts are on) so agents on those hosts reach it, and nothing else does.
//   With `detached` (the local sandbox) istiod outlives this process: record() says where it runs,
//   istiodRunning()/stopDetachedIstiod() find and stop it by PID from any process.
// - agentImage()/installAgentImage(): a proxy image for the test hosts with the real pilot-agent
//   as entrypoint, as in Istio's proxyv2 image, but DISABLE_ENVOY=true (the agent does the CSR,
//   writes its certificates and serves its status port :15020 without Envoy).
import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import {
  accessSync,
  closeSync,
  constants,
  createWriteStream,
  existsSync,
  openSync,
  readFileSync,
  readlinkSync,
  rmSync,
} from "node:fs";
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { networkInterfaces, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { stringify } from "yaml";
import type { ApiResponse } from "./kubeApi";
import { pidAlive } from "./hosts/process";
import { readRecord } from "./hosts/registry";
import { poll } from "./poll";
import { NETWORKS, type NetworkName, type TestHost } from "./hosts/types";
import { toolchainEnv } from "./toolchain";

const execFileAsync = promisify(execFile);
const repoRoot = resolve(__dirname, "../..");
const ISTIO_SCRIPT = join(repoRoot, "scripts", "istio.sh");
const BUILD_HINT =
  "run the set-up first: scripts/test.sh setup (it builds them with scripts/istio.sh, ~6-15 min the first time, cached by version)";

export interface IstioBinaries {
  pilotDiscovery: string;
  pilotAgent: string;
}

let binaries: IstioBinaries | undefined;
/** The cached pilot-discovery and pilot-agent (`scripts/istio.sh env`); throws saying how to build them. */
export function istioBinaries(): IstioBinaries {
  if (binaries) return binaries;
  const out = execFileSync(
    "bash",
    [
      "-c",
      `eval "$("$0" env)" && printf '%s\\n%s\\n' "$MESH_VM_PILOT_DISCOVERY" "$MESH_VM_PILOT_AGENT"`,
      ISTIO_SCRIPT,
    ],
    { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] },
  );
  const [pilotDiscovery = "", pilotAgent = ""] = out.trim().split("\n");
  for (const [what, path] of [
    ["pilot-discovery", pilotDiscovery],
    ["pilot-agent", pilotAgent],
  ] as const) {
    try {
      accessSync(path, constants.X_OK);
    } catch {
      throw new Error(`${what} not found at ${path || "(no path)"}; ${BUILD_HINT}`);
    }
  }
  binaries = { pilotDiscovery, pilotAgent };
  return binaries;
}

/** Parts of the istiod test bed (istiod, the agent, the providers) the toolchain has not built, with how to build them. */
export function istiodTestBedMissing(): string[] {
  const missing: string[] = [];
  try {
    istioBinaries();
  } catch (error) {
    missing.push((error as Error).message);
  }
  const home = toolchainEnv().PULUMI_HOME;
  for (const name of ["command", "tls", "kubernetes"] as const) {
    const sdk = JSON.parse(readFileSync(require.resolve(`@pulumi/${name}/package.json`), "utf8")) as {
      version: string;
      pulumi?: { version?: string };
    };
    const version = sdk.pulumi?.version || sdk.version;
    if (!existsSync(join(home, "plugins", `resource-${name}-v${version}`, `pulumi-resource-${name}`)))
      missing.push(
        `the ${name} provider plugin v${version} is missing; run the set-up first: scripts/test.sh setup`,
      );
  }
  return missing;
}

/** The machine's address on a test network: the bridge the test hosts of that network are attached to. */
export function networkGateway(network: NetworkName = "vm"): string {
  return `${NETWORKS[network].prefix}.1`;
}

function localAddress(address: string): boolean {
  return Object.values(networkInterfaces()).some((list) => (list ?? []).some((i) => i.address === address));
}

async function freePort(host: string): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.on("error", reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolvePort(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// --- istiod ---------------------------------------------------------------------------------------

export interface IstiodOptions {
  /**
   * Address istiod's secure gRPC port (xDS and CA, 15012 in a cluster) listens on: the gateway of a test
   * network (default networkGateway("vm")), which exists while a test host is on that network.
   */
  address?: string;
  /** Mesh trust domain (default cluster.local). */
  trustDomain?: string;
  /**
   * istiod outlives this process (the local sandbox): its own session, its output straight to its log file,
   * no exit hook of this process stops it once ready. record() says how to find it again.
   */
  detached?: boolean;
}

/** Where a (detached) istiod runs: serialisable, for istiodRunning()/stopDetachedIstiod() in another process. */
export interface IstiodRecord {
  pid: number;
  /** istiod's dir (its empty working dir `work/` and `istiod.log`). */
  dir: string;
  address: string;
  port: number;
  discoveryAddress: string;
  httpPort: number;
  /** Every port istiod listens on (`port` on `address`, the others on loopback). */
  ports: number[];
}

export interface Istiod {
  pid: number;
  /** Where agents reach istiod (IP on a test network). */
  address: string;
  /** istiod's secure gRPC port (xDS + CA) on `address`. */
  port: number;
  /** `istiod.istio-system.svc:<port>`: the name istiod's certificate holds; map it to `address` (--add-host). */
  discoveryAddress: string;
  /** istiod's self-signed mesh root (what it publishes as istio-ca-root-cert). */
  rootCertPem: string;
  /** Plain HTTP debug/readiness port on loopback. */
  httpPort: number;
  /** Whether it was started `detached`. */
  detached: boolean;
  record(): IstiodRecord;
  /** GET on istiod's debug HTTP port, parsed as JSON when it is JSON. */
  debug(path: string): Promise<{ status: number; body: unknown; text: string }>;
  /** istiod's log so far. */
  log(): Promise<string>;
  stop(): Promise<void>;
}

export const ISTIO_NAMESPACE = "istio-system";

const running = new Set<ChildProcess>();
let exitHook = false;
function hookExit(): void {
  if (exitHook) return;
  exitHook = true;
  process.on("exit", () => {
    for (const c of running) {
      if (c.pid && c.exitCode === null && c.signalCode === null) {
        try {
          process.kill(c.pid, "SIGKILL");
        } catch {
          // gone
        }
      }
    }
  });
}

async function ok(p: Promise<ApiResponse>, what: string): Promise<ApiResponse> {
  const r = await p;
  if ((r.status < 200 || r.status >= 300) && r.status !== 409)
    throw new Error(`${what}: HTTP ${r.status}: ${String(r.body.message ?? JSON.stringify(r.body))}`);
  return r;
}

/**
 * Starts istiod against `cluster` (its admin kubeconfig), in a fresh empty working directory inside the
 * cluster's dir. Resolves once istiod is ready and has published its root into istio-system.
 */
/**
 * What istiod needs of the test cluster (./cluster.ts's TestCluster, which starts istiod with its `istiod` option:
 * named here, not imported, so that the two modules do not import each other).
 */
export interface IstiodCluster {
  dir: string;
  kubeconfigPath: string;
  clusterCaPem: string;
  request(method: string, path: string, body?: unknown): Promise<ApiResponse>;
  detach(): Promise<void>;
  stop(): Promise<void>;
}

export async function startIstiod(cluster: IstiodCluster, options: IstiodOptions = {}): Promise<Istiod> {
  const { pilotDiscovery } = istioBinaries();
  const address = options.address ?? networkGateway("vm");
  if (!localAddress(address))
    throw new Error(
      `istiod: ${address} is not an address of this machine; create a test host on its network first (the bridge comes with the first host)`,
    );
  const trustDomain = options.trustDomain ?? "cluster.local";
  const [httpPort, grpcPort, monitoringPort, httpsPort] = [
    await freePort("127.0.0.1"),
    await freePort("127.0.0.1"),
    await freePort("127.0.0.1"),
    await freePort("127.0.0.1"),
  ];
  const port = await freePort(address);
  const discoveryAddress = `istiod.${ISTIO_NAMESPACE}.svc:${port}`;

  await ok(
    cluster.request("POST", "/api/v1/namespaces", { metadata: { name: ISTIO_NAMESPACE } }),
    `create namespace ${ISTIO_NAMESPACE}`,
  );
  await ok(
    cluster.request("POST", `/api/v1/namespaces/${ISTIO_NAMESPACE}/configmaps`, {
      metadata: { name: "istio" },
      data: { mesh: stringify({ trustDomain, defaultConfig: { discoveryAddress } }) },
    }),
    "create configmap istio-system/istio",
  );

  const dir = await mkdtemp(join(cluster.dir, "istiod-"));
  const cwd = join(dir, "work");
  await mkdir(cwd);
  const logPath = join(dir, "istiod.log");
  const child = spawnIstiod(
    pilotDiscovery,
    [
      "discovery",
      `--kubeconfig=${cluster.kubeconfigPath}`,
      `--httpAddr=127.0.0.1:${httpPort}`,
      `--grpcAddr=127.0.0.1:${grpcPort}`,
      `--secureGRPCAddr=${address}:${port}`,
      `--monitoringAddr=127.0.0.1:${monitoringPort}`,
      `--httpsAddr=127.0.0.1:${httpsPort}`,
      `--domain=${trustDomain}`,
    ],
    cwd,
    logPath,
    options.detached ?? false,
  );
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const readLog = () => readFile(logPath, "utf8").catch(() => "");

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    }
    running.delete(child);
  };
  const debug = (path: string) => istiodDebug(httpPort, path);
  const record = (): IstiodRecord => ({
    pid: child.pid ?? 0,
    dir,
    address,
    port,
    discoveryAddress,
    httpPort,
    ports: [port, httpPort, grpcPort, monitoringPort, httpsPort],
  });

  try {
    const deadline = Date.now() + 90_000;
    let rootCertPem = "";
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(`istiod exited (${child.exitCode ?? child.signalCode})`);
      try {
        const ready = await fetch(`http://127.0.0.1:${httpPort}/ready`, {
          signal: AbortSignal.timeout(2_000),
        });
        if (ready.ok) {
          const cm = await cluster.request(
            "GET",
            `/api/v1/namespaces/${ISTIO_NAMESPACE}/configmaps/istio-ca-root-cert`,
          );
          rootCertPem = cm.status === 200 ? String(cm.body.data?.["root-cert.pem"] ?? "") : "";
          if (rootCertPem.includes("BEGIN CERTIFICATE")) break;
        }
      } catch {
        // not up yet
      }
      if (Date.now() > deadline) throw new Error("timed out (90 s) waiting for istiod to be ready");
      await sleep(250);
    }
    return {
      pid: child.pid ?? 0,
      address,
      port,
      discoveryAddress,
      rootCertPem,
      httpPort,
      detached: options.detached ?? false,
      record,
      debug,
      log: readLog,
      stop,
    };
  } catch (error) {
    await stop();
    const tail = (await readLog()).split("\n").slice(-40).join("\n");
    throw new Error(`${(error as Error).message}\n--- istiod.log (tail)\n${tail}`, { cause: error });
  }
}

/**
 * Spawns pilot-discovery with its output in `logPath`. Attached: a child of this process, killed by its exit
 * hook. Detached: its own session, the log file as its stdout/stderr, unref'd (nothing ties it to this process).
 */
function spawnIstiod(
  bin: string,
  args: string[],
  cwd: string,
  logPath: string,
  detached: boolean,
): ChildProcess {
  const env = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    POD_NAMESPACE: ISTIO_NAMESPACE,
    POD_NAME: "istiod-mesh-vm-test",
    CLUSTER_ID: "Kubernetes",
    INJECT_ENABLED: "false",
    VALIDATION_WEBHOOK_CONFIG_NAME: "",
    INJECTION_WEBHOOK_CONFIG_NAME: "",
  };
  if (detached) {
    const fd = openSync(logPath, "a");
    const child = spawn(bin, args, { cwd, env, stdio: ["ignore", fd, fd], detached: true });
    closeSync(fd);
    child.unref();
    return child;
  }
  hookExit();
  const log = createWriteStream(logPath);
  const child = spawn(bin, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
  running.add(child);
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  child.once("exit", () => log.end());
  return child;
}

/** GET on istiod's debug HTTP port (loopback), parsed as JSON when it is JSON. */
export async function istiodDebug(
  httpPort: number,
  path: string,
): Promise<{ status: number; body: unknown; text: string }> {
  const r = await fetch(`http://127.0.0.1:${httpPort}${path}`, { signal: AbortSignal.timeout(10_000) });
  const text = await r.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: r.status, body, text };
}

/** Whether `pid` is a live pilot-discovery working in `dir` (not a later process that reused the PID). */
function istiodProcess(pid: number, dir: string): boolean {
  if (!pid || !pidAlive(pid)) return false;
  try {
    const program = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0]?.split("/").pop();
    return program === "pilot-discovery" && readlinkSync(`/proc/${pid}/cwd`) === join(dir, "work");
  } catch {
    return false;
  }
}

/** Whether a (detached) istiod still runs. */
export function istiodRunning(record: IstiodRecord): boolean {
  return istiodProcess(record.pid, record.dir);
}

/** Stops a pilot-discovery by PID: SIGTERM, SIGKILL after 10 s; resolves once it is gone. */
export async function stopIstiodProcess(pid: number): Promise<void> {
  if (!pidAlive(pid)) return;
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    return;
  }
  const deadline = Date.now() + 10_000;
  while (pidAlive(pid)) {
    if (Date.now() > deadline) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone meanwhile
      }
      break;
    }
    await sleep(100);
  }
  while (pidAlive(pid)) await sleep(50);
}

/** Stops a detached istiod by PID (when it still runs) and removes its dir. Idempotent. */
export async function stopDetachedIstiod(record: IstiodRecord): Promise<void> {
  if (istiodRunning(record)) await stopIstiodProcess(record.pid);
  await rm(record.dir, { recursive: true, force: true });
}

/** Endpoints istiod holds (its /debug/endpointShardz), flattened over services, namespaces and shards. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type IstiodEndpoint = Record<string, any>;
export function endpointsOf(shardz: unknown): IstiodEndpoint[] {
  const out: IstiodEndpoint[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === "object") {
      const o = v as IstiodEndpoint;
      if (typeof o.ServiceAccount === "string" || typeof o.serviceAccount === "string") out.push(o);
      else Object.values(o).forEach(walk);
    }
  };
  walk(shardz);
  return out;
}

/** An endpoint's addresses, whatever the Istio version calls the field. */
export function addressesOf(e: IstiodEndpoint): string[] {
  const a = e.Addresses ?? e.addresses ?? e.Address ?? e.address ?? [];
  return Array.isArray(a) ? a.map(String) : [String(a)];
}

/** Waits until istiod lists an endpoint at `address` (a VM it registered) and returns it. */
export function listedEndpoint(istiod: Istiod, address: string, timeoutMs = 30_000): Promise<IstiodEndpoint> {
  return poll(`istiod to list ${address} in /debug/endpointShardz`, timeoutMs, async () => {
    const r = await istiod.debug("/debug/endpointShardz");
    return endpointsOf(r.body).find((e) => addressesOf(e).includes(address));
  });
}

/** Waits until istiod lists no endpoint at `address` any more (the VM deregistered). */
export async function endpointDropped(istiod: Istiod, address: string, timeoutMs = 30_000): Promise<void> {
  await poll(`istiod to drop ${address} from /debug/endpointShardz`, timeoutMs, async () => {
    const r = await istiod.debug("/debug/endpointShardz");
    return endpointsOf(r.body).some((e) => addressesOf(e).includes(address)) ? undefined : true;
  });
}

/**
 * The cluster with istiod in charge of the mesh root: `meshRootCaPem` is istiod's root, and
 * createNamespace() publishes kube-root-ca.crt only, then waits for istiod's istio-ca-root-cert (the
 * harness's stand-in root would race istiod's). stop() stops istiod, then the cluster.
 */
export function withIstiod<C extends IstiodCluster>(cluster: C, istiod: Istiod): C & { istiod: Istiod } {
  return {
    ...cluster,
    meshRootCaPem: istiod.rootCertPem,
    istiod,
    async createNamespace(name: string): Promise<void> {
      await ok(
        cluster.request("POST", "/api/v1/namespaces", { metadata: { name } }),
        `create namespace ${name}`,
      );
      await ok(
        cluster.request("POST", `/api/v1/namespaces/${name}/configmaps`, {
          metadata: { name: "kube-root-ca.crt" },
          data: { "ca.crt": cluster.clusterCaPem },
        }),
        `create configmap ${name}/kube-root-ca.crt`,
      );
      const deadline = Date.now() + 30_000;
      for (;;) {
        const cm = await cluster.request("GET", `/api/v1/namespaces/${name}/configmaps/istio-ca-root-cert`);
        if (cm.status === 200 && cm.body.data?.["root-cert.pem"] === istiod.rootCertPem) return;
        if (Date.now() > deadline)
          throw new Error(`istiod did not publish istio-ca-root-cert in namespace ${name} within 30 s`);
        await sleep(100);
      }
    },
    async detach(): Promise<void> {
      // A detached istiod runs on like the cluster's processes; an attached one would die with this process.
      if (!istiod.detached) throw new Error("a cluster with an attached istiod cannot be detached");
      await cluster.detach();
    },
    async stop(): Promise<void> {
      await istiod.stop();
      await cluster.stop();
    },
  };
}

// --- the agent image ----------------------------------------------------------------------------

/** Image reference of the agent image, tagged with the module version it was built from. */
export function agentImageRef(): string {
  const { pilotAgent } = istioBinaries();
  const version = readFileSync(join(pilotAgent, "../../module-version"), "utf8").trim();
  // Tag = the commit of the pseudo-version (v0.0.0-<time>-<commit>).
  return `localhost/mesh-vm-istio-agent:${version.split("-").pop()}`;
}

let tarball: Promise<string> | undefined;
/** A root filesystem tarball of the agent image (built once per process in a temp dir). */
function agentTarball(): Promise<string> {
  tarball ??= (async () => {
    const { pilotAgent } = istioBinaries();
    const dir = await mkdtemp(join(tmpdir(), "mesh-vm-agent-image-"));
    process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
    const root = join(dir, "root");
    // Istio's proxyv2 layout: the agent in /usr/local/bin, its writable config and data dirs.
    for (const d of [
      "usr/local/bin",
      "etc/istio/proxy",
      "etc/istio/config",
      "var/lib/istio/data",
      "var/run/secrets/istio",
      "var/run/secrets/tokens",
      "tmp",
    ])
      await mkdir(join(root, d), { recursive: true });
    await chmod(join(root, "tmp"), 0o1777);
    await copyFile(pilotAgent, join(root, "usr/local/bin/pilot-agent"));
    await chmod(join(root, "usr/local/bin/pilot-agent"), 0o755);
    await writeFile(
      join(root, "etc/passwd"),
      "root:x:0:0:root:/root:/sbin/nologin\nistio-proxy:x:1337:1337::/tmp:/sbin/nologin\n",
    );
    await writeFile(join(root, "etc/group"), "root:x:0:\nistio-proxy:x:1337:\n");
    const tar = join(dir, "agent.tar");
    await execFileAsync("tar", ["--numeric-owner", "--owner=0", "--group=0", "-C", root, "-cf", tar, "."]);
    await rm(root, { recursive: true, force: true });
    return tar;
  })();
  return tarball;
}

/**
 * Imports the agent image into a test host's podman (no registry is reachable) and returns its reference.
 * Entrypoint as in Istio's proxyv2 image (`/usr/local/bin/pilot-agent`), DISABLE_ENVOY=true.
 */
export async function installAgentImage(host: TestHost): Promise<string> {
  const ref = agentImageRef();
  const record = readRecord(host.id);
  if (!record) throw new Error(`no record of test host ${host.name}`);
  const tar = await agentTarball();
  // The host's root is an overlay mounted on this machine too: what is written here shows up inside.
  const inHost = `/var/tmp/mesh-vm-agent-${process.pid}.tar`;
  await copyFile(tar, join(record.root, inHost));
  try {
    await host.run(
      [
        "podman import --quiet",
        `--change 'ENTRYPOINT ["/usr/local/bin/pilot-agent"]'`,
        "--change 'WORKDIR /'",
        "--change 'ENV DISABLE_ENVOY=true'",
        "--change 'LABEL org.opencontainers.image.title=mesh-vm-istio-agent'",
        `${inHost} ${ref} >/dev/null`,
      ].join(" "),
    );
  } finally {
    await rm(join(record.root, inHost), { force: true });
  }
  return ref;
}
