// A real Kubernetes control plane for tests: etcd and kube-apiserver (built by
// scripts/toolchain.sh) on loopback with free ports and a temp dir, an admin token, a
// service-account issuer and signing key (so TokenRequest works), an audit log, and Istio's
// CRDs. There is no controller-manager, so the harness does the parts of its job that tests
// rely on: it publishes `kube-root-ca.crt` (and, standing in for istiod, `istio-ca-root-cert`)
// in namespaces it creates, and it completes deletions (namespace and garbage-collector
// finalizers), so `pulumi destroy` finishes as it would on a real cluster.
//
// Certificates come from the openssl CLI (Debian's, already a test-bed package): Node's crypto
// makes keys but cannot issue X.509 certificates, and openssl is the reference tool for that.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { closeSync, createWriteStream, openSync, readFileSync, rmSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { request as httpsRequest } from "node:https";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { parseAllDocuments, stringify } from "yaml";
import { pidAlive } from "./hosts/process";
import { startIstiod, withIstiod, type Istiod, type IstiodOptions } from "./istiod";
import type { ApiResponse, KubeObject } from "./kubeApi";
import { requireExecutable, toolchainEnv } from "./toolchain";

const execFileAsync = promisify(execFile);
const repoRoot = resolve(__dirname, "../..");

/** Istio CRDs installed into every test cluster (override with MESH_VM_ISTIO_CRDS). */
export const istioCrdsPath = (): string =>
  process.env.MESH_VM_ISTIO_CRDS ?? resolve(repoRoot, "../shared/fixtures/istio/crds-1.30.3.yaml");

export type { ApiResponse, KubeObject } from "./kubeApi";

export interface StartClusterOptions {
  /** Directory for the cluster's files (created; default: a fresh temp dir). */
  dir?: string;
  /**
   * The cluster outlives this process (the local sandbox): etcd and kube-apiserver run in their own
   * session with logs in files, and no exit hook of this process stops them once started. `record()`
   * says how to find them again: attachCluster(record) from any process, whose stop() ends them.
   */
  detached?: boolean;
  /**
   * Also run a real istiod (pilot-discovery from scripts/istio.sh) against the cluster, its secure gRPC
   * port on a test network's gateway address (create a test host on that network first). istiod then owns
   * the mesh root: `meshRootCaPem` is its root and createNamespace() waits for it to publish
   * istio-ca-root-cert instead of publishing a stand-in. With `detached`, istiod is detached too
   * (`cluster.istiod.record()`). See ./istiod.ts.
   */
  istiod?: IstiodOptions | true;
}

/** Where a (detached) cluster runs: serialisable, for attachCluster() in another process. */
export interface ClusterRecord {
  dir: string;
  server: string;
  kubeconfigPath: string;
  auditLogPath: string;
  /** etcd, kube-apiserver. */
  pids: number[];
  ports: number[];
}

export interface TestCluster {
  /** The cluster's files (PKI, etcd data, logs, kubeconfig). */
  dir: string;
  /** kubeconfig contents (admin token, cluster CA). */
  kubeconfig: string;
  kubeconfigPath: string;
  /** https://127.0.0.1:PORT */
  server: string;
  /** PEM of the CA that signed the apiserver's serving certificate (what kube-root-ca.crt holds). */
  clusterCaPem: string;
  /** PEM of the test mesh root CA published as istio-ca-root-cert (istiod's root when istiod runs). */
  meshRootCaPem: string;
  /** The istiod started with the `istiod` option. */
  istiod?: Istiod;
  /** JSON-lines audit log of the apiserver. */
  auditLogPath: string;
  /** PIDs of the processes the cluster runs (etcd, kube-apiserver). */
  pids: number[];
  /** Ports the cluster listens on. */
  ports: number[];
  /** Admin request against the apiserver; body is JSON-encoded. Never throws on HTTP errors. */
  request(method: string, path: string, body?: unknown, contentType?: string): Promise<ApiResponse>;
  /** Creates a namespace and publishes kube-root-ca.crt and istio-ca-root-cert in it. */
  createNamespace(name: string): Promise<void>;
  /** Creates a ServiceAccount (nothing creates them here: there is no controller-manager). */
  createServiceAccount(namespace: string, name: string): Promise<void>;
  /** Audit events (parsed) logged so far. */
  auditEvents(): Promise<KubeObject[]>;
  /** TokenRequests (`create serviceaccounts/token`) the API server served so far, from the audit log. */
  tokenRequests(): Promise<number>;
  /** How to find this cluster's processes again (see attachCluster). */
  record(): ClusterRecord;
  /**
   * Stops only what runs in this process (the deletion controllers); etcd and kube-apiserver keep
   * running. For detached clusters, before this process exits.
   */
  detach(): Promise<void>;
  /** Stops the cluster (etcd, kube-apiserver) and removes its files. */
  stop(): Promise<void>;
  /**
   * Stops kube-apiserver by PID (SIGKILL: an outage, not a shutdown), leaving etcd and the data alone. Only for a
   * cluster started by this process (not detached, not attached).
   */
  stopApiServer(): Promise<void>;
  /** Starts kube-apiserver again with the same flags, port and certificates, and waits for /readyz. */
  startApiServer(): Promise<void>;
}

interface Proc {
  name: string;
  child: ChildProcess;
  exited: Promise<void>;
}

const live = new Set<{ procs: Proc[]; dir: string }>();
let exitHooksInstalled = false;

// Last-resort cleanup when a test process ends without stop(): kill by PID, remove temp dirs.
function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  const cleanup = (): void => {
    for (const c of live) {
      for (const p of c.procs) {
        if (p.child.pid && p.child.exitCode === null && p.child.signalCode === null) {
          try {
            process.kill(p.child.pid, "SIGKILL");
          } catch {
            // already gone
          }
        }
      }
      rmSync(c.dir, { recursive: true, force: true });
    }
    live.clear();
  };
  process.on("exit", cleanup);
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.once(sig, () => {
      cleanup();
      process.exit(sig === "SIGINT" ? 130 : 143);
    });
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolvePort(port));
    });
  });
}

async function openssl(args: string[], cwd: string): Promise<void> {
  await execFileAsync("openssl", args, { cwd });
}

/** A self-signed CA (key + cert) written to dir/NAME.{key,crt}. */
async function makeCa(dir: string, name: string, subject: string): Promise<void> {
  await openssl(
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.crt`,
      "-days",
      "2",
      "-subj",
      subject,
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ],
    dir,
  );
}

/** The apiserver's serving certificate for 127.0.0.1/localhost, signed by the cluster CA. */
async function makeServingCert(dir: string): Promise<void> {
  await openssl(
    [
      "req",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      "apiserver.key",
      "-out",
      "apiserver.csr",
      "-subj",
      "/CN=kube-apiserver",
    ],
    dir,
  );
  await writeFile(
    join(dir, "apiserver.ext"),
    "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n",
  );
  await openssl(
    [
      "x509",
      "-req",
      "-in",
      "apiserver.csr",
      "-CA",
      "cluster-ca.crt",
      "-CAkey",
      "cluster-ca.key",
      "-CAcreateserial",
      "-out",
      "apiserver.crt",
      "-days",
      "2",
      "-extfile",
      "apiserver.ext",
    ],
    dir,
  );
}

// Audit policy: every TokenRequest (serviceaccounts/token) at Metadata, so tests can prove a
// preview minted none; reads are dropped to keep the log small; other writes at Metadata.
const auditPolicy = {
  apiVersion: "audit.k8s.io/v1",
  kind: "Policy",
  omitStages: ["RequestReceived"],
  rules: [
    { level: "Metadata", resources: [{ group: "", resources: ["serviceaccounts/token"] }] },
    { level: "None", verbs: ["get", "list", "watch"] },
    { level: "Metadata" },
  ],
};

function startProcess(name: string, bin: string, args: string[], logPath: string, detached: boolean): Proc {
  let child: ChildProcess;
  if (detached) {
    // Own session, output straight to the log file: nothing ties the process to this one.
    const fd = openSync(logPath, "a");
    child = spawn(bin, args, { stdio: ["ignore", fd, fd], env: { PATH: process.env.PATH ?? "" }, detached });
    closeSync(fd);
    child.unref();
  } else {
    // Appending: a restarted apiserver (startApiServer) keeps the log of the one before.
    const log = createWriteStream(logPath, { flags: "a" });
    child = spawn(bin, args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { PATH: process.env.PATH ?? "" },
    });
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
  }
  const exited = new Promise<void>((res) => child.once("exit", () => res()));
  return { name, child, exited };
}

async function stopProcess(p: Proc): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill("SIGTERM");
  const timer = setTimeout(() => p.child.kill("SIGKILL"), 10_000);
  await p.exited;
  clearTimeout(timer);
}

async function waitFor(
  what: string,
  timeoutMs: number,
  check: () => Promise<boolean>,
  procs: Proc[],
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const p of procs) {
      if (p.child.exitCode !== null)
        throw new Error(`${p.name} exited with code ${p.child.exitCode} (${what})`);
    }
    try {
      if (await check()) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The cluster's CAs, the API server's serving certificate, the service-account key pair and the admin token. */
async function writeClusterPki(pki: string): Promise<{ token: string }> {
  await mkdir(pki, { mode: 0o700 });
  await makeCa(pki, "cluster-ca", "/CN=mesh-vm-test-cluster-ca");
  await makeServingCert(pki);
  await makeCa(pki, "mesh-root-ca", "/O=cluster.local/CN=mesh-vm-test-mesh-root-ca");
  const sa = generateKeyPairSync("ec", { namedCurve: "P-256" });
  await writeFile(join(pki, "sa.key"), sa.privateKey.export({ type: "pkcs8", format: "pem" }), {
    mode: 0o600,
  });
  await writeFile(join(pki, "sa.pub"), sa.publicKey.export({ type: "spki", format: "pem" }));
  const token = randomBytes(24).toString("hex");
  await writeFile(join(pki, "tokens.csv"), `${token},mesh-vm-admin,mesh-vm-admin,"system:masters"\n`, {
    mode: 0o600,
  });
  return { token };
}

function etcdArgs(dir: string, etcdUrl: string, peerUrl: string): string[] {
  return [
    "--name=default",
    `--data-dir=${join(dir, "etcd")}`,
    `--listen-client-urls=${etcdUrl}`,
    `--advertise-client-urls=${etcdUrl}`,
    `--listen-peer-urls=${peerUrl}`,
    `--initial-advertise-peer-urls=${peerUrl}`,
    `--initial-cluster=default=${peerUrl}`,
    "--unsafe-no-fsync=true",
    "--log-level=warn",
  ];
}

function apiserverArgs(dir: string, pki: string, etcdUrl: string, apiPort: number): string[] {
  return [
    `--etcd-servers=${etcdUrl}`,
    "--bind-address=127.0.0.1",
    "--advertise-address=127.0.0.1",
    `--secure-port=${apiPort}`,
    `--cert-dir=${join(dir, "apiserver-certs")}`,
    `--tls-cert-file=${join(pki, "apiserver.crt")}`,
    `--tls-private-key-file=${join(pki, "apiserver.key")}`,
    `--client-ca-file=${join(pki, "cluster-ca.crt")}`,
    `--token-auth-file=${join(pki, "tokens.csv")}`,
    "--authorization-mode=RBAC",
    "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
    `--service-account-key-file=${join(pki, "sa.pub")}`,
    `--service-account-signing-key-file=${join(pki, "sa.key")}`,
    "--service-cluster-ip-range=10.0.0.0/24",
    // No controller-manager creates ServiceAccounts, so pods would be rejected.
    "--disable-admission-plugins=ServiceAccount",
    "--allow-privileged=true",
    `--audit-policy-file=${join(dir, "audit-policy.yaml")}`,
    `--audit-log-path=${join(dir, "audit.log")}`,
    "--audit-log-format=json",
    "--audit-log-mode=blocking",
    "--v=1",
  ];
}

/** The admin's kubeconfig for `server`. */
function adminKubeconfig(server: string, clusterCaPem: string, token: string): string {
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      {
        name: "mesh-vm-test",
        cluster: { server, "certificate-authority-data": Buffer.from(clusterCaPem).toString("base64") },
      },
    ],
    users: [{ name: "mesh-vm-admin", user: { token } }],
    contexts: [{ name: "mesh-vm-test", context: { cluster: "mesh-vm-test", user: "mesh-vm-admin" } }],
    "current-context": "mesh-vm-test",
  });
}

/** Stops and restarts this process's kube-apiserver child (an API server outage), keeping `rec.pids` current. */
function controlApiServer(
  procs: Proc[],
  rec: ClusterRecord,
  launch: () => Proc,
  request: Requester,
): ApiServerControl {
  const ready = () =>
    waitFor(
      "kube-apiserver /readyz",
      90_000,
      async () => (await request("GET", "/readyz")).status === 200,
      procs,
    );
  return {
    async stop() {
      const p = procs.find((x) => x.name === "kube-apiserver")!;
      if (p.child.exitCode !== null || p.child.signalCode !== null) return;
      p.child.kill("SIGKILL");
      await p.exited;
    },
    async start() {
      const i = procs.findIndex((x) => x.name === "kube-apiserver");
      const old = procs[i]!;
      if (old.child.exitCode === null && old.child.signalCode === null)
        throw new Error("startApiServer: kube-apiserver is running");
      procs[i] = launch();
      rec.pids[i] = procs[i]!.child.pid ?? 0;
      await ready();
    },
  };
}

/** A cluster that failed to start: its processes stopped, its dir removed, the error with both logs' tails. */
async function startFailed(procs: Proc[], dir: string, err: unknown): Promise<Error> {
  for (const p of [...procs].reverse()) await stopProcess(p);
  const logs = await Promise.all(
    ["etcd.log", "kube-apiserver.log"].map(async (f) => {
      const t = await readFile(join(dir, f), "utf8").catch(() => "");
      return t ? `--- ${f} (tail)\n${t.split("\n").slice(-30).join("\n")}` : "";
    }),
  );
  await rm(dir, { recursive: true, force: true });
  return new Error(`${(err as Error).message}\n${logs.join("\n")}`, { cause: err });
}

/** istiod started against `cluster`; the cluster is stopped when it cannot start. */
async function withStartedIstiod(
  cluster: TestCluster,
  options: IstiodOptions | true,
  detached: boolean,
): Promise<TestCluster> {
  try {
    // A detached cluster's istiod outlives this process with it.
    const istiod = await startIstiod(cluster, { ...(options === true ? {} : options), detached });
    return withIstiod(cluster, istiod);
  } catch (error) {
    await cluster.stop();
    throw error;
  }
}

export async function startCluster(options: StartClusterOptions = {}): Promise<TestCluster> {
  installExitHooks();
  const detached = options.detached ?? false;
  const env = toolchainEnv();
  const etcdBin = requireExecutable(env.MESH_VM_ETCD, "etcd");
  const apiserverBin = requireExecutable(env.MESH_VM_KUBE_APISERVER, "kube-apiserver");
  let dir: string;
  if (options.dir) {
    dir = resolve(options.dir);
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } else {
    dir = await mkdtemp(join(tmpdir(), "mesh-vm-cluster-"));
  }
  const procs: Proc[] = [];
  const entry = { procs, dir };
  live.add(entry);
  try {
    const pki = join(dir, "pki");
    const { token } = await writeClusterPki(pki);
    await writeFile(join(dir, "audit-policy.yaml"), stringify(auditPolicy));

    const [etcdClient, etcdPeer, apiPort] = [await freePort(), await freePort(), await freePort()];
    const etcdUrl = `http://127.0.0.1:${etcdClient}`;
    const peerUrl = `http://127.0.0.1:${etcdPeer}`;
    procs.push(
      startProcess("etcd", etcdBin, etcdArgs(dir, etcdUrl, peerUrl), join(dir, "etcd.log"), detached),
    );

    const server = `https://127.0.0.1:${apiPort}`;
    const clusterCaPem = await readFile(join(pki, "cluster-ca.crt"), "utf8");
    const meshRootCaPem = await readFile(join(pki, "mesh-root-ca.crt"), "utf8");

    const request = requester(server, clusterCaPem, token);

    await waitFor(
      "etcd",
      30_000,
      async () => {
        const r = await fetch(`${etcdUrl}/health`);
        return r.ok;
      },
      procs,
    );

    const args = apiserverArgs(dir, pki, etcdUrl, apiPort);
    const launchApiserver = (): Proc =>
      startProcess("kube-apiserver", apiserverBin, args, join(dir, "kube-apiserver.log"), detached);
    procs.push(launchApiserver());
    await waitFor(
      "kube-apiserver /readyz",
      90_000,
      async () => (await request("GET", "/readyz")).status === 200,
      procs,
    );

    await installCrds(request, procs);

    const kubeconfig = adminKubeconfig(server, clusterCaPem, token);
    const kubeconfigPath = join(dir, "kubeconfig");
    await writeFile(kubeconfigPath, kubeconfig, { mode: 0o600 });

    const rec: ClusterRecord = {
      dir,
      server,
      kubeconfigPath,
      auditLogPath: join(dir, "audit.log"),
      pids: procs.map((p) => p.child.pid ?? 0),
      ports: [etcdClient, etcdPeer, apiPort],
    };
    const apiServer = detached ? undefined : controlApiServer(procs, rec, launchApiserver, request);
    const cluster = connect(
      rec,
      { kubeconfig, clusterCaPem, meshRootCaPem, request, apiServer },
      async () => {
        // apiserver first, so it does not log etcd connection errors while shutting down.
        for (const p of [...procs].reverse()) await stopProcess(p);
        await rm(dir, { recursive: true, force: true });
        live.delete(entry);
      },
    );
    // A detached cluster is on its own once it runs: no exit hook of this process stops it.
    if (detached) live.delete(entry);
    return options.istiod ? await withStartedIstiod(cluster, options.istiod, detached) : cluster;
  } catch (err) {
    const error = await startFailed(procs, dir, err);
    live.delete(entry);
    throw error;
  }
}

interface ApiServerControl {
  stop(): Promise<void>;
  start(): Promise<void>;
}

interface Credentials {
  kubeconfig: string;
  clusterCaPem: string;
  meshRootCaPem: string;
  request: Requester;
  /** Only for a cluster whose processes are children of this one. */
  apiServer?: ApiServerControl;
}

/** A TestCluster over running processes; the deletion controllers run in this process until stop()/detach(). */
function connect(rec: ClusterRecord, creds: Credentials, stopProcesses: () => Promise<void>): TestCluster {
  const { request, clusterCaPem, meshRootCaPem } = creds;
  const apiServerControl = (): ApiServerControl => {
    if (!creds.apiServer)
      throw new Error(
        "kube-apiserver can be stopped and started only in the process that started the cluster",
      );
    return creds.apiServer;
  };
  const finalizer = startControllers(request);
  const stopControllers = async (): Promise<void> => {
    finalizer.stop();
    await finalizer.done;
  };
  const auditEvents = async (): Promise<KubeObject[]> => {
    // Unreadable is an error, not "no events": counts compared across a step would otherwise pass as 0 = 0.
    const text = await readFile(rec.auditLogPath, "utf8");
    return text
      .split("\n")
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as KubeObject);
  };
  return {
    dir: rec.dir,
    kubeconfig: creds.kubeconfig,
    kubeconfigPath: rec.kubeconfigPath,
    server: rec.server,
    clusterCaPem,
    meshRootCaPem,
    auditLogPath: rec.auditLogPath,
    pids: rec.pids,
    ports: rec.ports,
    request,
    async createNamespace(name: string): Promise<void> {
      await expectOk(
        request("POST", "/api/v1/namespaces", { metadata: { name } }),
        `create namespace ${name}`,
      );
      const configMaps = [
        { name: "kube-root-ca.crt", data: { "ca.crt": clusterCaPem } },
        { name: "istio-ca-root-cert", data: { "root-cert.pem": meshRootCaPem } },
      ];
      for (const cm of configMaps) {
        await expectOk(
          request("POST", `/api/v1/namespaces/${name}/configmaps`, {
            metadata: { name: cm.name },
            data: cm.data,
          }),
          `create configmap ${name}/${cm.name}`,
        );
      }
    },
    async createServiceAccount(namespace: string, name: string): Promise<void> {
      await expectOk(
        request("POST", `/api/v1/namespaces/${namespace}/serviceaccounts`, {
          apiVersion: "v1",
          kind: "ServiceAccount",
          metadata: { name, namespace },
        }),
        `create serviceaccount ${namespace}/${name}`,
      );
    },
    auditEvents,
    async tokenRequests(): Promise<number> {
      return (await auditEvents()).filter(
        (e) =>
          e.objectRef?.resource === "serviceaccounts" &&
          e.objectRef?.subresource === "token" &&
          e.verb === "create",
      ).length;
    },
    record: () => ({ ...rec, pids: [...rec.pids], ports: [...rec.ports] }),
    detach: stopControllers,
    stopApiServer: () => apiServerControl().stop(),
    startApiServer: () => apiServerControl().start(),
    async stop(): Promise<void> {
      await stopControllers();
      await stopProcesses();
    },
  };
}

/** An admin client of the apiserver at `server` (token auth, TLS verified against `ca`). */
function requester(server: string, ca: string, token: string): Requester {
  return (method, path, body, contentType) =>
    new Promise((res, rej) => {
      const data = body === undefined ? undefined : JSON.stringify(body);
      const req = httpsRequest(
        `${server}${path}`,
        {
          method,
          ca,
          headers: {
            authorization: `Bearer ${token}`,
            accept: "application/json",
            ...(data ? { "content-type": contentType ?? "application/json" } : {}),
          },
        },
        (r) => {
          const chunks: Buffer[] = [];
          r.on("data", (c: Buffer) => chunks.push(c));
          r.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            let parsed: KubeObject;
            try {
              parsed = JSON.parse(text) as KubeObject;
            } catch {
              parsed = { text };
            }
            res({ status: r.statusCode ?? 0, body: parsed });
          });
        },
      );
      req.on("error", rej);
      req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${path} timed out`)));
      if (data) req.write(data);
      req.end();
    });
}

/** Whether `pid` is a live process of the cluster in `dir` (not a later process that reused the PID). */
function clusterProcess(pid: number, dir: string): boolean {
  if (!pidAlive(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(`${dir}/`);
  } catch {
    return false;
  }
}

/** Whether any process of a (detached) cluster still runs. */
export function clusterRunning(record: ClusterRecord): boolean {
  return record.pids.some((pid) => clusterProcess(pid, record.dir));
}

/** Stops a cluster's processes by PID (apiserver first; SIGTERM, then SIGKILL after 10 s). */
async function killClusterProcesses(record: ClusterRecord): Promise<void> {
  for (const pid of [...record.pids].reverse()) {
    if (!clusterProcess(pid, record.dir)) continue;
    process.kill(pid, "SIGTERM");
    const deadline = Date.now() + 10_000;
    while (pidAlive(pid)) {
      if (Date.now() > deadline) {
        process.kill(pid, "SIGKILL");
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    while (pidAlive(pid)) await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A detached cluster, from any process: the same TestCluster (requests, namespaces, deletion
 * controllers running in this process), whose stop() ends etcd and kube-apiserver by PID and removes
 * the cluster's files. Throws when the cluster no longer runs (see clusterRunning / stopDetachedCluster).
 */
export async function attachCluster(record: ClusterRecord): Promise<TestCluster> {
  if (!record.pids.every((pid) => clusterProcess(pid, record.dir)))
    throw new Error(`the cluster in ${record.dir} is not running`);
  const pki = join(record.dir, "pki");
  const [kubeconfig, clusterCaPem, meshRootCaPem, tokens] = await Promise.all(
    [
      record.kubeconfigPath,
      join(pki, "cluster-ca.crt"),
      join(pki, "mesh-root-ca.crt"),
      join(pki, "tokens.csv"),
    ].map((f) => readFile(f, "utf8")),
  );
  const token = tokens!.split(",")[0]!;
  const request = requester(record.server, clusterCaPem!, token);
  return connect(
    record,
    { kubeconfig: kubeconfig!, clusterCaPem: clusterCaPem!, meshRootCaPem: meshRootCaPem!, request },
    async () => {
      await killClusterProcesses(record);
      await rm(record.dir, { recursive: true, force: true });
    },
  );
}

/** Stops a detached cluster by PID whether or not it still answers, and removes its files. Idempotent. */
export async function stopDetachedCluster(record: ClusterRecord): Promise<void> {
  await killClusterProcesses(record);
  await rm(record.dir, { recursive: true, force: true });
}

async function expectOk(p: Promise<ApiResponse>, what: string): Promise<ApiResponse> {
  const r = await p;
  if (r.status < 200 || r.status >= 300) {
    throw new Error(`${what}: HTTP ${r.status}: ${String(r.body.message ?? JSON.stringify(r.body))}`);
  }
  return r;
}

type Requester = (method: string, path: string, body?: unknown, contentType?: string) => Promise<ApiResponse>;

async function installCrds(request: Requester, procs: Proc[]): Promise<void> {
  const docs = parseAllDocuments(await readFile(istioCrdsPath(), "utf8"))
    .map((d) => d.toJSON() as KubeObject | null)
    .filter((d): d is KubeObject => !!d && d.kind === "CustomResourceDefinition");
  if (docs.length === 0) throw new Error(`no CustomResourceDefinitions in ${istioCrdsPath()}`);
  const base = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
  for (const crd of docs) await expectOk(request("POST", base, crd), `create CRD ${crd.metadata.name}`);
  for (const crd of docs) {
    await waitFor(
      `CRD ${crd.metadata.name} Established`,
      60_000,
      async () => {
        const r = await request("GET", `${base}/${crd.metadata.name}`);
        const conds = (r.body.status?.conditions ?? []) as KubeObject[];
        return conds.some((c) => c.type === "Established" && c.status === "True");
      },
      procs,
    );
  }
}

interface ApiResource {
  /** e.g. /api/v1 or /apis/networking.istio.io/v1 */
  prefix: string;
  name: string;
  namespaced: boolean;
  verbs: string[];
}

// Every top-level resource the apiserver serves (CRDs included), preferred versions only.
async function discover(request: Requester): Promise<ApiResource[]> {
  const groupVersions: string[] = ["v1"];
  const groups = await request("GET", "/apis");
  for (const g of (groups.body.groups ?? []) as KubeObject[]) {
    groupVersions.push(g.preferredVersion.groupVersion as string);
  }
  const out: ApiResource[] = [];
  for (const gv of groupVersions) {
    const prefix = gv === "v1" ? "/api/v1" : `/apis/${gv}`;
    const list = await request("GET", prefix);
    for (const res of (list.body.resources ?? []) as KubeObject[]) {
      if (String(res.name).includes("/")) continue;
      out.push({
        prefix,
        name: res.name as string,
        namespaced: !!res.namespaced,
        verbs: (res.verbs ?? []) as string[],
      });
    }
  }
  return out;
}

// Stands in for the two kube-controller-manager controllers that deletions depend on (there is
// no controller-manager in this test cluster):
// - namespace controller: once a namespace is being deleted, delete everything in it and remove
//   the `kubernetes` finalizer (otherwise it stays Terminating forever);
// - garbage collector, for deletions only: an object deleted with propagationPolicy Foreground
//   (as pulumi-kubernetes deletes) carries the `foregroundDeletion` finalizer until its
//   dependents (ownerReferences) are gone; Orphan carries `orphan` until they are released.
// Cascading deletion of dependents after a background delete is NOT emulated.
function startControllers(request: Requester): { stop(): void; done: Promise<void> } {
  let stopped = false;
  let resources: ApiResource[] = [];
  let discoveredAt = 0;
  const tick = async (): Promise<void> => {
    if (Date.now() - discoveredAt > 5_000) {
      resources = await discover(request);
      discoveredAt = Date.now();
    }
    const ns = await request("GET", "/api/v1/namespaces");
    for (const n of (ns.body.items ?? []) as KubeObject[]) {
      if (stopped) return;
      if (!n.metadata.deletionTimestamp || !(n.spec?.finalizers ?? []).includes("kubernetes")) continue;
      for (const r of resources) {
        if (r.namespaced && r.verbs.includes("deletecollection")) {
          await request("DELETE", `${r.prefix}/namespaces/${n.metadata.name}/${r.name}`);
        }
      }
      await request("PUT", `/api/v1/namespaces/${n.metadata.name}/finalize`, {
        ...n,
        spec: { ...n.spec, finalizers: (n.spec.finalizers as string[]).filter((f) => f !== "kubernetes") },
      });
    }
    // Garbage-collector finalizers.
    const all: { r: ApiResource; o: KubeObject }[] = [];
    for (const r of resources) {
      if (stopped) return;
      if (!r.verbs.includes("list") || !r.verbs.includes("patch")) continue;
      const list = await request("GET", `${r.prefix}/${r.name}`);
      for (const o of (list.body.items ?? []) as KubeObject[]) all.push({ r, o });
    }
    for (const { r, o } of all) {
      const fins = (o.metadata.finalizers ?? []) as string[];
      if (!o.metadata.deletionTimestamp || !fins.some((f) => f === "foregroundDeletion" || f === "orphan"))
        continue;
      const dependents = all.filter(({ o: d }) =>
        ((d.metadata.ownerReferences ?? []) as KubeObject[]).some((ref) => ref.uid === o.metadata.uid),
      );
      if (fins.includes("foregroundDeletion") && dependents.length > 0) {
        for (const { r: dr, o: d } of dependents) {
          if (!d.metadata.deletionTimestamp) await request("DELETE", objectPath(dr, d));
        }
        continue;
      }
      // Orphan: dependents keep living without the owner reference (released below).
      for (const { r: dr, o: d } of dependents) {
        const refs = (d.metadata.ownerReferences as KubeObject[]).filter((ref) => ref.uid !== o.metadata.uid);
        await request(
          "PATCH",
          objectPath(dr, d),
          { metadata: { ownerReferences: refs, resourceVersion: d.metadata.resourceVersion } },
          "application/merge-patch+json",
        );
      }
      await request(
        "PATCH",
        objectPath(r, o),
        {
          metadata: {
            finalizers: fins.filter((f) => f !== "foregroundDeletion" && f !== "orphan"),
            resourceVersion: o.metadata.resourceVersion,
          },
        },
        "application/merge-patch+json",
      );
    }
  };
  const loop = async (): Promise<void> => {
    while (!stopped) {
      try {
        await tick();
      } catch {
        // apiserver going away during stop(); the loop ends on the flag
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  };
  const done = loop();
  return {
    stop: () => {
      stopped = true;
    },
    done,
  };
}

function objectPath(r: ApiResource, o: KubeObject): string {
  const ns = r.namespaced ? `/namespaces/${o.metadata.namespace}` : "";
  return `${r.prefix}${ns}/${r.name}/${o.metadata.name}`;
}
