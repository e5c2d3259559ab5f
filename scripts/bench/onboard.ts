// The whole onboarding at fleet scale, side by side with a tctl-style baseline. For each N: a real kube-apiserver,
// N test hosts and one stack of N MeshVms with `host` (prepare, token, files, stand-in proxy container, readiness,
// hosts block), run through the real engine: preview, up, a no-op up, a port change on one VM, destroy. Then, on
// the same hosts and cluster, what `tctl x sidecar-bootstrap --start-istio-proxy` does for each VM, one VM after
// the other (TokenRequest, mkdir + one scp per file over one SSH connection, docker rm + docker run), twice.
//   scripts/bench.sh onboard [N ...] [--parallel P] [--no-baseline] [--repeats R] [--skip-checkpoints]
//                                                                          (default N: 1 5 20; R: 3)
// Each N runs R times on fresh hosts and a fresh stack; a cell shows the median wall time and, with R > 1, the
// spread (min–max); counts (SSH logins, remote commands, TokenRequests) must be the same in every repeat.
// --skip-checkpoints sets PULUMI_SKIP_CHECKPOINTS=true for the engine (state written once at the end: faster,
// but a crash mid-run loses the record of what was done; measured, never a default).
// Counted per phase: sshd's accepted logins on the hosts, remote commands (engine steps of type
// command:remote:Command that were not `same`; for the baseline, the remote commands and scp copies it ran),
// TokenRequests in the API server's audit log, and the peak RSS of the engine (the `pulumi` process tree: CLI,
// provider plugins, the token minter) and of this Node.js process (which runs the inline program).
import * as command from "@pulumi/command";
import * as tls from "@pulumi/tls";
import type { EngineEvent } from "@pulumi/pulumi/automation";
import { execFile, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { MeshVm, readMeshRoots } from "../../components";
import { renderSidecarEnv } from "../../components/host/sidecarEnv";
import { startCluster, type TestCluster } from "../testbed/cluster";
import { createHosts, destroyHosts, type TestHost } from "../testbed/hosts";
import { sshOptions } from "../testbed/hosts/netnsHost";
import { createTestStack, errors, kubernetesProvider, type TestStack } from "../testbed/pulumi";

const execFileAsync = promisify(execFile);
const NS = "bench";
const SA = "bench-workload";
const IMAGE = "localhost/mesh-vm-standin-proxy:test";
/** tctl's default proxy-config-dir. */
const BASELINE_DIR = "/tmp/istio-proxy";

interface Phase {
  wallS: number;
  sshLogins: number;
  remoteCommands: number;
  tokenRequests: number;
  /** Peak RSS (MB) of the pulumi process tree; undefined for the baseline. */
  engineMb?: number;
  /** Peak RSS (MB) of this process. */
  programMb?: number;
  /** Load average (1 min) at the end of the phase. */
  load: number;
  /** Share of the machine's CPU time that was busy during the phase (all processes, %). */
  cpuBusyPct: number;
  /** CPU seconds of this process (the inline program and the bench) during the phase. */
  programCpuS: number;
  /** CPU seconds of the pulumi process tree (sampled: processes shorter than a sample are missed). */
  engineCpuS?: number;
}

interface Row {
  vms: number;
  meshVm: Record<"preview" | "up" | "noop" | "port" | "destroy", Phase>;
  /** Bytes of the stack's state after the first `up` (`pulumi stack export`, as JSON). */
  stateBytes: number;
  baseline?: Record<"first" | "rerun", Phase>;
}

// --- measurement --------------------------------------------------------------------------------------------

/** RSS (bytes) of a process, 0 when it is gone. */
function rssOf(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/statm`, "utf8").split(" ")[1]) * 4096;
  } catch {
    return 0;
  }
}

/** Every `pulumi` child of this process and its descendants (plugins, the token minter). */
function engineTree(): number[] {
  const children = new Map<number, number[]>();
  const comm = new Map<number, string>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const close = stat.lastIndexOf(")");
      const ppid = Number(stat.slice(close + 2).split(" ")[1]);
      comm.set(Number(entry), stat.slice(stat.indexOf("(") + 1, close));
      const list = children.get(ppid) ?? [];
      list.push(Number(entry));
      children.set(ppid, list);
    } catch {
      // the process ended
    }
  }
  const roots = (children.get(process.pid) ?? []).filter((p) => comm.get(p) === "pulumi");
  const tree: number[] = [];
  const queue = [...roots];
  while (queue.length) {
    const pid = queue.pop()!;
    tree.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return tree;
}

/** utime + stime of a process in clock ticks (0 when it is gone). */
function cpuTicksOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(f[11]) + Number(f[12]);
  } catch {
    return 0;
  }
}

/** [busy, total] jiffies of the whole machine (/proc/stat). */
function machineCpu(): [number, number] {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return [total - f[3]! - f[4]!, total];
}

interface Usage {
  engineMb: number;
  programMb: number;
  cpuBusyPct: number;
  programCpuS: number;
  engineCpuS: number;
}

/** Samples memory and CPU every 200 ms until stopped. */
function startSampler(): () => Usage {
  let engine = 0;
  let program = 0;
  const engineTicks = new Map<number, number>();
  const [busy0, total0] = machineCpu();
  const cpu0 = process.cpuUsage();
  const sample = () => {
    const tree = engineTree();
    engine = Math.max(
      engine,
      tree.reduce((sum, pid) => sum + rssOf(pid), 0),
    );
    for (const pid of tree) engineTicks.set(pid, Math.max(engineTicks.get(pid) ?? 0, cpuTicksOf(pid)));
    program = Math.max(program, process.memoryUsage().rss);
  };
  sample();
  const timer = setInterval(sample, 200);
  return () => {
    clearInterval(timer);
    sample();
    const [busy1, total1] = machineCpu();
    const cpu = process.cpuUsage(cpu0);
    const ticks = [...engineTicks.values()].reduce((a, b) => a + b, 0);
    return {
      engineMb: engine / 2 ** 20,
      programMb: program / 2 ** 20,
      cpuBusyPct: (100 * (busy1 - busy0)) / Math.max(1, total1 - total0),
      programCpuS: (cpu.user + cpu.system) / 1e6,
      // CPU of the tree's processes since they started; the engine starts with each operation. 100 ticks/s.
      engineCpuS: ticks / 100,
    };
  };
}

class Counters {
  constructor(
    private readonly cluster: TestCluster,
    private readonly hosts: TestHost[],
  ) {}
  async snapshot(): Promise<{ logins: number; tokens: number }> {
    const logins = (await Promise.all(this.hosts.map((h) => h.sshLogins()))).reduce((a, b) => a + b, 0);
    const tokens = (await this.cluster.auditEvents()).filter(
      (e) =>
        e.objectRef?.resource === "serviceaccounts" &&
        e.objectRef?.subresource === "token" &&
        e.objectRef?.namespace === NS &&
        e.verb === "create" &&
        e.stage === "ResponseComplete",
    ).length;
    return { logins, tokens };
  }
  /** Runs one phase and measures it; `run` returns the number of remote commands it ran. */
  async phase(run: () => Promise<number>, engine = true): Promise<Phase> {
    const before = await this.snapshot();
    const stopSampler = startSampler();
    const start = process.hrtime.bigint();
    const remoteCommands = await run();
    const wallS = Number(process.hrtime.bigint() - start) / 1e9;
    const { engineMb, programMb, cpuBusyPct, programCpuS, engineCpuS } = stopSampler();
    const after = await this.snapshot();
    return {
      wallS,
      sshLogins: after.logins - before.logins,
      remoteCommands,
      tokenRequests: after.tokens - before.tokens,
      ...(engine ? { engineMb, programMb, engineCpuS } : {}),
      programCpuS,
      cpuBusyPct,
      load: loadavg()[0]!,
    };
  }
}

/** Engine steps of type command:remote:Command that were not `same` (in a preview: planned, not run). */
function remoteSteps(events: EngineEvent[]): number {
  return events.filter((e) => {
    const m = e.resourcePreEvent?.metadata;
    return m && m.type === "command:remote:Command" && m.op !== "same";
  }).length;
}

// --- mesh-vm ------------------------------------------------------------------------------------------------

interface Knobs {
  /** The port of VM 0 (the one-port change). */
  port0: number;
}

function fleetProgram(cluster: TestCluster, hosts: TestHost[], knobs: Knobs) {
  return async (): Promise<void> => {
    const k8sProvider = kubernetesProvider("cluster", cluster.kubeconfig);
    const providers = {
      kubernetes: k8sProvider,
      command: new command.Provider("command", {}),
      tls: new tls.Provider("tls", {}),
    };
    // A fleet reads the CA roots once and hands them to every VM (as the stack program does per namespace).
    const roots = readMeshRoots("mesh-roots", { namespace: NS }, { provider: k8sProvider });
    for (const [i, host] of hosts.entries()) {
      new MeshVm(
        host.name,
        {
          namespace: NS,
          address: host.address,
          serviceAccount: SA,
          labels: { app: host.name, class: "vm", version: "v1" },
          ports: [{ name: "http", number: i === 0 ? knobs.port0 : 9080 }],
          sshPort: host.sshPort,
          host: {
            hostKey: host.hostKey,
            prepare: { admin: { user: host.adminUser, privateKey: host.adminPrivateKey } },
            kubeconfig: cluster.kubeconfig,
            proxyImage: IMAGE,
            egressHostnames: ["reviews.bench.svc"],
            ...roots,
          },
        },
        { providers },
      );
    }
  };
}

async function engineRun(
  stack: TestStack,
  op: "preview" | "up" | "destroy",
  parallel: number | undefined,
): Promise<number> {
  const events: EngineEvent[] = [];
  const opts = { onEvent: (e: EngineEvent) => events.push(e), color: "never" as const, parallel };
  let result: { summary?: { result?: string } } | undefined;
  try {
    if (op === "preview") await stack.stack.preview(opts);
    else if (op === "up") result = await stack.stack.up(opts);
    else result = await stack.stack.destroy(opts);
  } catch (error) {
    throw new Error(`${op} failed: ${errors(events).join("\n") || String(error)}`);
  }
  if (result?.summary?.result && result.summary.result !== "succeeded") {
    throw new Error(`${op}: ${result.summary.result}: ${errors(events).join("\n")}`);
  }
  return op === "preview" ? 0 : remoteSteps(events);
}

/** Where the state's bytes go: each resource type's share, largest first. */
function stateByType(resources: { type: string }[]): string {
  const bytes = new Map<string, number>();
  for (const r of resources)
    bytes.set(r.type, (bytes.get(r.type) ?? 0) + Buffer.byteLength(JSON.stringify(r)));
  return [...bytes]
    .sort((a, b) => b[1] - a[1])
    .map(([type, b]) => `${type} ${(b / 1024).toFixed(1)} KB`)
    .join(", ");
}

async function measureMeshVm(
  cluster: TestCluster,
  hosts: TestHost[],
  counters: Counters,
  opts: Options,
): Promise<Pick<Row, "meshVm" | "stateBytes">> {
  const parallel = opts.parallel;
  const knobs: Knobs = { port0: 9080 };
  const stack = await createTestStack({
    projectName: "mesh-vm-bench-onboard",
    stackName: `onboard-${hosts.length}`,
    program: fleetProgram(cluster, hosts, knobs),
  });
  if (opts.skipCheckpoints) stack.stack.workspace.envVars.PULUMI_SKIP_CHECKPOINTS = "true";
  let upDone = false;
  try {
    const preview = await counters.phase(() => engineRun(stack, "preview", parallel));
    const up = await counters.phase(() => engineRun(stack, "up", parallel));
    upDone = true;
    // What the state costs per VM (issue #28 item 2): the deployment as the CLI exports it, secrets encrypted.
    const deployment = (await stack.stack.exportStack()).deployment as {
      resources?: { type: string }[];
    };
    const stateBytes = Buffer.byteLength(JSON.stringify(deployment));
    console.error(
      `[bench] N=${hosts.length}: state bytes by resource type: ${stateByType(deployment.resources ?? [])}`,
    );
    const noop = await counters.phase(() => engineRun(stack, "up", parallel));
    knobs.port0 = 9081;
    const port = await counters.phase(() => engineRun(stack, "up", parallel));
    const destroy = await counters.phase(() => engineRun(stack, "destroy", parallel));
    upDone = false;
    return { meshVm: { preview, up, noop, port, destroy }, stateBytes };
  } finally {
    if (upDone) await stack.stack.destroy({ color: "never" }).catch(() => undefined);
    await stack.dispose();
  }
}

// --- baseline: what tctl x sidecar-bootstrap --start-istio-proxy does, one VM after the other ----------------

interface BaselineContext {
  cluster: TestCluster;
  workDir: string;
}

function sshBase(host: TestHost, controlPath: string): string[] {
  return [
    ...sshOptions(host.adminPrivateKeyPath, host.knownHostsPath),
    "-o",
    `ControlPath=${controlPath}`,
    "-P",
  ];
}

/** Starts an SSH control master; waits for the foreground ssh only (the master keeps no pipe of ours open). */
function startMaster(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("ssh", args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`ssh master: ${code}: ${stderr}`)),
    );
  });
}

/** One VM, as tctl does it: a TokenRequest, then over one SSH connection mkdir, one copy per file, docker rm, run. */
async function baselineVm(ctx: BaselineContext, host: TestHost): Promise<number> {
  const { cluster } = ctx;
  const token = await cluster.request("POST", `/api/v1/namespaces/${NS}/serviceaccounts/${SA}/token`, {
    apiVersion: "authentication.k8s.io/v1",
    kind: "TokenRequest",
    spec: { audiences: ["istio-ca"], expirationSeconds: 86400 },
  });
  if (token.status !== 201) throw new Error(`TokenRequest: ${token.status} ${JSON.stringify(token.body)}`);
  const istioRoot = await cluster.request("GET", `/api/v1/namespaces/${NS}/configmaps/istio-ca-root-cert`);
  const k8sRoot = await cluster.request("GET", `/api/v1/namespaces/${NS}/configmaps/kube-root-ca.crt`);
  const dir = await mkdtemp(join(ctx.workDir, `${host.name}-`));
  const files: [string, string, number][] = [
    [
      "sidecar.env",
      renderSidecarEnv(
        {
          name: host.name,
          namespace: NS,
          serviceAccount: SA,
          address: host.address,
          labels: { app: host.name, class: "vm", version: "v1" },
        },
        {},
      ),
      0o644,
    ],
    ["istio-ca.pem", istioRoot.body.data["root-cert.pem"] as string, 0o644],
    ["k8s-ca.pem", k8sRoot.body.data["ca.crt"] as string, 0o644],
    ["istio-token", token.body.status.token as string, 0o640],
  ];
  for (const [name, content, mode] of files) {
    await writeFile(join(dir, name), content, { mode });
    await chmod(join(dir, name), mode);
  }
  const control = join(dir, "ctl");
  const base = sshBase(host, control);
  const target = `${host.adminUser}@${host.address}`;
  const port = String(host.sshPort);
  const ssh = (remote: string) => execFileAsync("ssh", [...base.slice(0, -1), "-p", port, target, remote]);
  let commands = 0;
  // One connection (one login), as tctl's Go SSH client dials once per VM and opens a session per command.
  await startMaster([...base.slice(0, -1), "-p", port, "-M", "-N", "-f", "-o", "ControlPersist=60", target]);
  try {
    await ssh(`mkdir -p ${BASELINE_DIR}`);
    commands++;
    for (const [name] of files) {
      // The SCP sink protocol, as tctl's copy (-O: not SFTP); -p keeps the mode.
      await execFileAsync("scp", [
        ...base,
        port,
        "-O",
        "-p",
        join(dir, name),
        `${target}:${BASELINE_DIR}/${name}`,
      ]);
      commands++;
    }
    await ssh("docker rm --force istio-proxy >/dev/null 2>&1 || true");
    commands++;
    await ssh(
      [
        "docker run -d --name istio-proxy --restart unless-stopped --network host",
        `-v ${BASELINE_DIR}/istio-ca.pem:/var/run/secrets/istio/root-cert.pem`,
        `-v ${BASELINE_DIR}/istio-token:/var/run/secrets/tokens/istio-token`,
        `-v ${BASELINE_DIR}/k8s-ca.pem:/var/run/secrets/kubernetes.io/serviceaccount/ca.crt`,
        `--env-file ${BASELINE_DIR}/sidecar.env ${IMAGE}`,
        `proxy sidecar --serviceCluster ${host.name}.${NS} --concurrency 0 --proxyLogLevel info`,
        "--proxyComponentLogLevel misc:info --trust-domain cluster.local",
      ].join(" "),
    );
    commands++;
  } finally {
    await execFileAsync("ssh", [...base.slice(0, -1), "-p", port, "-O", "exit", target]).catch(
      () => undefined,
    );
    await rm(dir, { recursive: true, force: true });
  }
  return commands;
}

async function measureBaseline(
  cluster: TestCluster,
  hosts: TestHost[],
  counters: Counters,
): Promise<NonNullable<Row["baseline"]>> {
  const workDir = await mkdtemp(join(tmpdir(), "mesh-vm-bench-baseline-"));
  const ctx = { cluster, workDir };
  const sequential = async () => {
    let commands = 0;
    for (const host of hosts) commands += await baselineVm(ctx, host);
    return commands;
  };
  try {
    const first = await counters.phase(sequential, false);
    const rerun = await counters.phase(sequential, false);
    // Every container started (the stand-in gets ready within a second; tctl itself does not wait).
    for (const host of hosts) {
      const c = (await host.containers()).find((x) => x.name === "istio-proxy");
      if (c?.state !== "running") throw new Error(`baseline: no running proxy on ${host.name}`);
    }
    return { first, rerun };
  } finally {
    await Promise.all(
      hosts.map((h) =>
        h.run(`docker rm -f istio-proxy >/dev/null 2>&1; rm -rf ${BASELINE_DIR}`, { check: false }),
      ),
    );
    await rm(workDir, { recursive: true, force: true });
  }
}

// --- one N --------------------------------------------------------------------------------------------------

async function measure(cluster: TestCluster, n: number, opts: Options): Promise<Row> {
  const t0 = Date.now();
  const hosts = await createHosts(
    Array.from({ length: n }, (_, i) => ({ name: `bench-${n}-${i}`, networks: ["vm"] })),
  );
  try {
    // Untimed set-up, the same for both: podman's first-use initialisation on each fresh host (a VM with Docker
    // has it long done); `docker rm --force` killing at once as Docker's does (podman stops first, and waits its
    // 10 s stop timeout for the stand-in proxy, which runs as PID 1 and so ignores SIGTERM); and tctl's
    // prerequisite that its SSH user may run docker.
    await Promise.all(
      hosts.map((h) =>
        h.run(
          [
            "sed -i 's/^\\[engine\\]$/[engine]\\nstop_timeout = 0/' /etc/containers/containers.conf",
            `usermod -aG docker ${h.adminUser}`,
            `docker run --rm --entrypoint /bin/true ${IMAGE}`,
          ].join(" && "),
        ),
      ),
    );
    console.error(`[bench] N=${n}: ${n} hosts ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const counters = new Counters(cluster, hosts);
    const { meshVm, stateBytes } = await measureMeshVm(cluster, hosts, counters, opts);
    console.error(`[bench] N=${n}: mesh-vm ${JSON.stringify(meshVm)} state ${stateBytes} B`);
    const baseline = opts.baseline ? await measureBaseline(cluster, hosts, counters) : undefined;
    if (baseline) console.error(`[bench] N=${n}: baseline ${JSON.stringify(baseline)}`);
    return { vms: n, meshVm, stateBytes, ...(baseline ? { baseline } : {}) };
  } finally {
    await destroyHosts(hosts);
  }
}

// --- table --------------------------------------------------------------------------------------------------

/** The median of each number across repeats, with its spread. */
interface Stat {
  median: number;
  min: number;
  max: number;
}
function stat(values: number[]): Stat {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]! };
}
const fmt = (x: Stat, digits = 1): string =>
  x.min === x.max
    ? x.median.toFixed(digits)
    : `${x.median.toFixed(digits)} (${x.min.toFixed(digits)}–${x.max.toFixed(digits)})`;

/** One phase over repeats: wall-time statistics, and the counts, which must agree across repeats. */
function phaseCell(phases: (Phase | undefined)[]): string {
  const ps = phases.filter((p): p is Phase => p !== undefined);
  if (ps.length === 0) return "–";
  const counts = new Set(ps.map((p) => `${p.sshLogins}/${p.remoteCommands}/${p.tokenRequests}`));
  return `${fmt(stat(ps.map((p) => p.wallS)))} s ${[...counts].join(" or ")}`;
}

type MeshPhase = keyof Row["meshVm"];
type BasePhase = keyof NonNullable<Row["baseline"]>;

function table(runs: Row[][]): string {
  // runs[i] = the repeats of one N
  const meshWall = (r: Row[], p: MeshPhase) => stat(r.map((x) => x.meshVm[p].wallS));
  const one = runs.find((r) => r[0]!.vms === 1);
  const up1 = one ? meshWall(one, "up").median : undefined;
  const base1 = one?.[0]!.baseline ? stat(one.map((x) => x.baseline!.first.wallS)).median : undefined;
  const lines = [
    "| N | tool | preview | up / first run | no-op up / re-run | one-port change | destroy | up(N)/up(1) | no-op s/VM | peak RSS engine / program MB | state KB/VM | load |",
    "|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
  ];
  for (const r of runs) {
    const n = r[0]!.vms;
    const m = (p: MeshPhase) => phaseCell(r.map((x) => x.meshVm[p]));
    const all = r.flatMap((x) => Object.values(x.meshVm));
    const engine = Math.max(...all.map((p) => p.engineMb ?? 0));
    const program = Math.max(...all.map((p) => p.programMb ?? 0));
    const load = stat(all.map((p) => p.load));
    const up = meshWall(r, "up");
    lines.push(
      `| ${n} | mesh-vm | ${m("preview")} | ${m("up")} | ${m("noop")} | ${m("port")} | ${m("destroy")} | ` +
        `${up1 ? (up.median / up1).toFixed(2) : "–"} | ${(meshWall(r, "noop").median / n).toFixed(2)} | ` +
        `${engine.toFixed(0)} / ${program.toFixed(0)} | ${(stat(r.map((x) => x.stateBytes)).median / 1024 / n).toFixed(1)} | ${fmt(load)} |`,
    );
    if (r[0]!.baseline) {
      const b = (p: BasePhase) => phaseCell(r.map((x) => x.baseline?.[p]));
      const first = stat(r.map((x) => x.baseline!.first.wallS));
      const rerun = stat(r.map((x) => x.baseline!.rerun.wallS));
      const bload = stat(r.flatMap((x) => [x.baseline!.first.load, x.baseline!.rerun.load]));
      lines.push(
        `| ${n} | baseline (tctl-style) | – | ${b("first")} | ${b("rerun")} | – | – | ` +
          `${base1 ? (first.median / base1).toFixed(2) : "–"} | ${(rerun.median / n).toFixed(2)} | – | – | ${fmt(bload)} |`,
      );
    }
  }
  lines.push(
    "",
    "| N | tool | phase | wall s | machine CPU busy % | program CPU s | engine CPU s |",
    "|--:|---|---|--:|--:|--:|--:|",
  );
  const cpu = (n: number, tool: string, phase: string, ps: Phase[]) =>
    `| ${n} | ${tool} | ${phase} | ${fmt(stat(ps.map((p) => p.wallS)))} | ${fmt(stat(ps.map((p) => p.cpuBusyPct)), 0)} | ` +
    `${fmt(stat(ps.map((p) => p.programCpuS)))} | ${
      ps[0]!.engineCpuS === undefined ? "–" : fmt(stat(ps.map((p) => p.engineCpuS ?? 0)))
    } |`;
  for (const r of runs) {
    const n = r[0]!.vms;
    lines.push(
      cpu(
        n,
        "mesh-vm",
        "up",
        r.map((x) => x.meshVm.up),
      ),
      cpu(
        n,
        "mesh-vm",
        "no-op up",
        r.map((x) => x.meshVm.noop),
      ),
    );
    if (r[0]!.baseline)
      lines.push(
        cpu(
          n,
          "baseline",
          "first run",
          r.map((x) => x.baseline!.first),
        ),
        cpu(
          n,
          "baseline",
          "re-run",
          r.map((x) => x.baseline!.rerun),
        ),
      );
  }
  return lines.join("\n");
}

// --- main ---------------------------------------------------------------------------------------------------

interface Options {
  sizes: number[];
  parallel?: number;
  baseline: boolean;
  repeats: number;
  skipCheckpoints: boolean;
}

function parseArgs(argv: string[]): Options {
  const opts: Options = { sizes: [], baseline: true, repeats: 3, skipCheckpoints: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--parallel") opts.parallel = Number(argv[++i]);
    else if (a === "--no-baseline") opts.baseline = false;
    else if (a === "--repeats") opts.repeats = Number(argv[++i]);
    else if (a === "--skip-checkpoints") opts.skipCheckpoints = true;
    else if (/^\d+$/.test(a)) opts.sizes.push(Number(a));
    else
      throw new Error(
        `usage: onboard.ts [N ...] [--parallel P] [--no-baseline] [--repeats R] [--skip-checkpoints]; got "${a}"`,
      );
  }
  if (!Number.isInteger(opts.repeats) || opts.repeats < 1)
    throw new Error("--repeats takes a whole number ≥ 1");
  if (opts.sizes.length === 0) opts.sizes = [1, 5, 20];
  return opts;
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const loadAtStart = loadavg()
    .map((l) => l.toFixed(1))
    .join(" ");
  const cluster = await startCluster();
  const runs: Row[][] = [];
  try {
    await cluster.createNamespace(NS);
    await cluster.createServiceAccount(NS, SA);
    for (const n of opts.sizes) {
      const repeats: Row[] = [];
      for (let i = 0; i < opts.repeats; i++) repeats.push(await measure(cluster, n, opts));
      runs.push(repeats);
    }
  } finally {
    await cluster.stop();
  }
  console.log(
    `mesh-vm onboarding benchmark: ${new Date().toISOString()}, ${
      opts.parallel ? `--parallel ${opts.parallel}` : "engine default parallelism"
    }${opts.skipCheckpoints ? ", PULUMI_SKIP_CHECKPOINTS=true" : ""}, ${opts.repeats} repeat(s), ${cpus().length} cores, load average at the start ${loadAtStart}, at the end ${loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")}, ${((Date.now() - started) / 1000).toFixed(0)} s in all`,
  );
  console.log(
    "cells: median wall seconds (min–max over the repeats), then SSH logins / remote commands / TokenRequests in that phase\n",
  );
  console.log(table(runs));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
