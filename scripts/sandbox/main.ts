// The local sandbox (run through scripts/sandbox.sh, which installs what it needs first):
//   up      start the test bed detached (API server with Istio CRDs, two VM hosts), write the `sandbox`
//           stack config (the seeds' ratings example on both VMs), `pulumi preview`, `pulumi up`, and
//           print what was created, where to look and how to tear down. On a running sandbox, `up`
//           reuses the test bed and converges the stack again (a second `up` changes nothing); on a
//           broken one (a process gone), it tears that down first and starts afresh.
//   down    `pulumi destroy` (while the cluster runs; bounded), then stop hosts and cluster by PID and
//           remove the sandbox dir. Safe to run twice and after a failed `up`.
//   status  what runs.
import type { Stack } from "@pulumi/pulumi/automation";
import { existsSync } from "node:fs";
import { mkdir, readFile, rm } from "node:fs/promises";
import type { TestCluster } from "../../test/harness/cluster";
import { leftovers } from "../../test/harness/hosts";
import { missingHostPlugins } from "./plugins";
import { sandboxProgram } from "./program";
import { hostHalfSkipped, meshObjects, printGuide, proxyReady, shown } from "./report";
import { sandboxStack, writeStackConfig } from "./stack";
import { NAMESPACE, sandboxStackConfig, sandboxVms } from "./stackConfig";
import { readState, SandboxPaths, writeState, type SandboxState } from "./state";
import {
  attachRunningCluster,
  clusterProcesses,
  hostRunning,
  hostTraces,
  sandboxHostIds,
  startTestbed,
  stopTestbed,
  testbedRunning,
} from "./testbed";

const log = (line: string): void => console.error(`[sandbox] ${line}`);
const DESTROY_TIMEOUT_MS = 5 * 60_000;

/** Streams the engine's output to the terminal. */
const engineOutput = {
  onOutput: (out: string): void => void process.stdout.write(out),
  color: process.stdout.isTTY ? ("always" as const) : ("never" as const),
};

async function up(paths: SandboxPaths): Promise<number> {
  const started = Date.now();
  const missing = missingHostPlugins();
  const onboardHosts = missing.length === 0;
  if (!onboardHosts) console.log(hostHalfSkipped(missing));

  let state = readState(paths);
  let cluster: TestCluster | undefined;
  let reused = false;
  if (state && testbedRunning(state)) {
    cluster = await attachRunningCluster(state);
    reused = !!cluster;
    if (reused) log(`reusing the running test bed in ${shown(paths.dir)}/ (converging the stack)`);
  }
  if (!reused) {
    if (state || existsSync(paths.dir)) {
      log(`a previous sandbox in ${shown(paths.dir)}/ is not (fully) running: tearing it down first`);
      await down(paths);
    }
    await mkdir(paths.dir, { recursive: true, mode: 0o700 });
    state = { createdAt: new Date().toISOString(), hosts: [] };
    writeState(paths, state);
    try {
      cluster = await startTestbed(paths, state);
    } catch (error) {
      log(`starting the test bed failed: ${(error as Error).message}`);
      log("removing what was started");
      await down(paths);
      return 1;
    }
  }
  state = state!;
  state.missingPlugins = missing;
  writeState(paths, state);

  try {
    const adminKeys: Record<string, string> = {};
    for (const h of state.hosts) adminKeys[h.name] = await readFile(paths.adminKey(h.name), "utf8");
    const config = sandboxStackConfig({
      vms: sandboxVms(state.hosts),
      kubeconfig: cluster!.kubeconfig,
      adminKeys,
      onboardHosts,
    });
    const stack = await sandboxStack(paths, sandboxProgram);
    await writeStackConfig(paths, config);
    log(`stack "sandbox": config in ${shown(paths.stackFile)}${onboardHosts ? "" : " (mesh side only)"}`);

    log("pulumi preview");
    await stack.preview({ ...engineOutput, diff: false });
    log("pulumi up");
    await stack.up(engineOutput);

    await printGuide({
      paths,
      state,
      cluster: cluster!,
      onboardHosts,
      missing,
      seconds: (Date.now() - started) / 1000,
      reused,
    });
    return 0;
  } catch (error) {
    console.error(engineError(error));
    log("the stack did not converge; the test bed keeps running so you can look (see above).");
    log("Fix and run `scripts/sandbox.sh up` again, or `scripts/sandbox.sh down` to remove everything.");
    return 1;
  } finally {
    await cluster?.detach();
  }
}

/** The engine's own error lines of a failed operation (the Automation API repeats its whole command line). */
function engineError(error: unknown): string {
  const text = String((error as Error).message ?? error);
  const lines = [...new Set(text.split("\n").filter((l) => /^error:/.test(l.trim())))];
  return lines.length > 0 ? lines.join("\n") : text;
}

async function destroyStack(paths: SandboxPaths, cluster: TestCluster): Promise<void> {
  if (!existsSync(paths.stackFile) || !existsSync(paths.backendDir)) return;
  let stack: Stack;
  try {
    stack = await sandboxStack(paths, sandboxProgram);
  } catch (error) {
    log(`cannot open the stack, skipping destroy: ${(error as Error).message}`);
    return;
  }
  log("pulumi destroy");
  try {
    await stack.destroy({ ...engineOutput, signal: AbortSignal.timeout(DESTROY_TIMEOUT_MS) });
  } catch (error) {
    // The cluster and hosts go anyway: nothing the stack made outlives them.
    log(`pulumi destroy failed (removing the test bed anyway): ${engineError(error)}`);
  } finally {
    await cluster.detach();
  }
}

async function down(paths: SandboxPaths): Promise<number> {
  const state = readState(paths);
  // Also after `rm -rf .sandbox`: its hosts and cluster processes are still found by their paths.
  if (
    !state &&
    !existsSync(paths.dir) &&
    sandboxHostIds(paths).length === 0 &&
    clusterProcesses(paths.clusterDir).length === 0
  ) {
    log(`no sandbox in ${shown(paths.dir)}/: nothing to do`);
    return 0;
  }
  const traces = hostTraces(sandboxHostIds(paths, state));
  const cluster = await attachRunningCluster(state);
  if (cluster) {
    await destroyStack(paths, cluster);
    await cluster.detach();
  } else if (state?.cluster) log("the cluster is not running: skipping pulumi destroy");
  await stopTestbed(paths, state);
  await rm(paths.dir, { recursive: true, force: true });

  const left = await leftovers(traces);
  const stray = [
    ...Object.values(left).flat(),
    ...clusterProcesses(paths.clusterDir).map((pid) => `process ${pid}`),
  ];
  if (stray.length > 0) {
    log(`left behind: ${stray.join("; ")}`);
    return 1;
  }
  log(`sandbox removed: no cluster process, host, namespace, mount, container or ${shown(paths.dir)}/ left`);
  return 0;
}

async function status(paths: SandboxPaths): Promise<number> {
  const state = readState(paths);
  if (!state) {
    console.log(`no sandbox in ${shown(paths.dir)}/ (start one with scripts/sandbox.sh up)`);
    return 0;
  }
  const c = state.cluster;
  const cluster = await attachRunningCluster(state);
  console.log(`sandbox in ${shown(paths.dir)}/, started ${state.createdAt}`);
  console.log(
    `  cluster: ${cluster ? "running" : "NOT running"}${c ? ` at ${c.server} (PIDs ${c.pids.join(", ")})` : ""}`,
  );
  if (cluster) {
    const objects = await meshObjects(cluster).catch(() => []);
    await cluster.detach();
    console.log(`  mesh objects in ${NAMESPACE}: ${objects.length ? objects.join(", ") : "none"}`);
  }
  const proxiesExpected = state.missingPlugins?.length === 0;
  for (const h of state.hosts) {
    const running = hostRunning(h.id);
    const proxy =
      running && proxiesExpected
        ? `; proxy ${(await proxyReady(h.addresses.vm!)) ? "ready" : "NOT ready"} at ${h.addresses.vm}:15021`
        : "";
    console.log(
      `  host ${h.name}: ${running ? "running" : "NOT running"} (${Object.values(h.addresses).join(", ")}; netns ${h.netns}${proxy})`,
    );
  }
  if (state.missingPlugins?.length) {
    console.log(`  host half skipped: provider plugin(s) missing: ${state.missingPlugins.join(", ")}`);
  }
  const whole = testbedRunning(state);
  console.log(
    whole
      ? "  all running; tear down with scripts/sandbox.sh down"
      : "  incomplete: run scripts/sandbox.sh down (or up to start afresh)",
  );
  return 0;
}

async function main(): Promise<void> {
  const what = process.argv[2] ?? "up";
  const paths = new SandboxPaths();
  const commands: Record<string, (p: SandboxPaths) => Promise<number>> = { up, down, status };
  const command = commands[what];
  if (!command) {
    console.error("usage: scripts/sandbox.sh [up|down|status]");
    process.exit(2);
  }
  const code = await command(paths);
  // Detached processes are unref'd; exit now rather than wait for stray handles.
  process.exit(code);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

export type { SandboxState };
