// Driving the local sandbox as a user does, for its end-to-end tests (test/e2e/sandbox*.test.ts): the real
// `scripts/sandbox.sh` CLI, the commands it prints run through bash, the API server read with the kubeconfig
// it wrote, and what is left running of it (processes, ports); a sandbox dir per test file, and the checks every
// sandbox test makes of a no-op `up` and of `down`.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { request as httpsRequest } from "node:https";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parse } from "yaml";
import type { SandboxState } from "../../scripts/sandbox/state";
import { leftovers, type HostTraces } from "../../scripts/testbed/hosts";
import { pidAlive } from "../../scripts/testbed/hosts/process";

export const repoRoot = resolve(__dirname, "../..");

export interface Run {
  code: number;
  output: string;
}

/** `scripts/sandbox.sh COMMAND ARGS` on the sandbox in `dir`, its output (stdout and stderr) collected. */
export function sandbox(
  dir: string,
  command: "up" | "down" | "status",
  args: string[] = [],
  env: Record<string, string> = {},
): Promise<Run> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(join(repoRoot, "scripts/sandbox.sh"), [command, ...args], {
      env: { ...process.env, ...env, MESH_VM_SANDBOX_DIR: dir },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill("SIGTERM"), 8 * 60_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolveRun({ code: code ?? 1, output });
    });
  });
}

/** A command line as the user would paste it, from the repo root. */
export function shell(command: string): Promise<Run> {
  return new Promise((resolveRun, reject) => {
    const child = spawn("bash", ["-c", command], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolveRun({ code: code ?? 1, output }));
  });
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type KubeObject = Record<string, any>;

/** GET against the sandbox's API server with the kubeconfig `up` wrote (its CA, its token). */
export function kubeGet(kubeconfigPath: string, path: string): Promise<{ status: number; body: KubeObject }> {
  const kc = parse(readFileSync(kubeconfigPath, "utf8")) as KubeObject;
  const server = kc.clusters[0].cluster.server as string;
  const ca = Buffer.from(kc.clusters[0].cluster["certificate-authority-data"] as string, "base64");
  const token = kc.users[0].user.token as string;
  return new Promise((res, rej) => {
    const req = httpsRequest(
      `${server}${path}`,
      { ca, headers: { authorization: `Bearer ${token}`, accept: "application/json" } },
      (r) => {
        let text = "";
        r.on("data", (c: Buffer) => (text += c.toString()));
        r.on("end", () => res({ status: r.statusCode ?? 0, body: JSON.parse(text) as KubeObject }));
      },
    );
    req.on("error", rej);
    req.end();
  });
}

/** Whether something accepts connections on HOST:PORT (default loopback). */
export function portOpen(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((res) => {
    const s = connect({ host, port });
    s.setTimeout(5_000, () => {
      s.destroy();
      res(false);
    });
    s.once("connect", () => {
      s.destroy();
      res(true);
    });
    s.once("error", () => res(false));
  });
}

/** Live (non-zombie) processes whose command line names a path in `dir`. */
export function processesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || !pidAlive(Number(entry))) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, "utf8").replace(/\0/g, " ");
      if (cmd.includes(`${dir}/`) && Number(entry) !== process.pid) out.push(`${entry} ${cmd.slice(0, 120)}`);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/**
 * Live processes of the hosts whose dirs are `hostDirs`, whatever their name: every process whose root is a
 * host's overlay (a systemd host's PID 1 and every unit it started: journald, sshd, Istio's agent, ...) and
 * every process whose command line names a host's dir (a systemd host's launcher loop on the machine).
 */
export function hostProcesses(hostDirs: string[]): string[] {
  const out: string[] = [];
  const ofHost = (text: string): boolean => hostDirs.some((d) => text === d || text.startsWith(`${d}/`));
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || !pidAlive(Number(entry))) continue;
    try {
      const root = readlinkSync(`/proc/${entry}/root`);
      const argv = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      if (ofHost(root) || argv.some((a) => hostDirs.some((d) => a.includes(d))))
        out.push(`${entry} (root ${root}) ${argv.join(" ").slice(0, 120)}`);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** A sandbox dir in a fresh temporary base, one per test file. */
export interface TempSandbox {
  readonly base: string;
  readonly dir: string;
  /** Set once the test's own `down` ran: the clean-up then leaves the sandbox alone. */
  downDone: boolean;
}

export async function tempSandbox(prefix: string): Promise<TempSandbox> {
  const base = await mkdtemp(join(tmpdir(), prefix));
  return { base, dir: join(base, "sandbox"), downDone: false };
}

/** Whatever happened in the tests, nothing of the sandbox stays: `down` unless the test ran it, the base removed. */
export async function removeTempSandbox(s: TempSandbox | undefined): Promise<void> {
  if (!s) return;
  if (!s.downDone) await sandbox(s.dir, "down");
  await rm(s.base, { recursive: true, force: true });
}

/** What `up` recorded of the test bed it started (state.json in the sandbox dir). */
export function sandboxState(dir: string): SandboxState {
  return JSON.parse(readFileSync(join(dir, "state.json"), "utf8")) as SandboxState;
}

/** A second `up` reuses the running test bed, and neither its preview nor its update plans or makes a change. */
export function assertUpChangedNothing(output: string): void {
  assert.match(output, /reusing the running test bed/);
  assert.match(output, /Resources:\s+\d+ unchanged/);
  assert.doesNotMatch(output, /\d+ (to (create|update|delete|replace)|created|updated|deleted|replaced)/);
}

/**
 * After `down`: no host namespace, mount, process (of any name: a systemd host's init and units too) or cgroup
 * (`traces`, taken while the hosts ran), no cluster
 * process or port, no process under the sandbox dir, the dir removed; a second `down` has nothing to do.
 */
export async function assertSandboxGone(dir: string, state: SandboxState, traces: HostTraces): Promise<void> {
  assert.ok(state.cluster, "up recorded its cluster");
  assert.deepEqual(await leftovers(traces), { netns: [], mounts: [], processes: [], cgroups: [] });
  assert.ok(traces.dirs.length === state.hosts.length, "the traces name every host's dir");
  assert.deepEqual(hostProcesses(traces.dirs), [], "no process of any host, by its root or command line");
  for (const h of state.hosts)
    assert.equal(existsSync(`/run/netns/${h.netns}`), false, `netns ${h.netns} gone`);
  for (const pid of state.cluster.pids) assert.equal(pidAlive(pid), false, `cluster process ${pid} stopped`);
  for (const port of state.cluster.ports) assert.equal(await portOpen(port), false, `port ${port} closed`);
  assert.deepEqual(processesUnder(dir), []);
  assert.equal(existsSync(dir), false, "sandbox dir removed");
  const twice = await sandbox(dir, "down");
  assert.equal(twice.code, 0, twice.output);
  assert.match(twice.output, /nothing to do/);
}
