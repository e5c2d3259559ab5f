// The local sandbox (run through scripts/sandbox.sh, which installs what it needs first):
//   up [--istiod]
//           start the test bed detached (API server with Istio CRDs, two VM hosts), write the `sandbox`
//           stack config (the seeds' ratings example on both VMs, each with its host), then run the
//           repository's root program with the real `pulumi` CLI (`pulumi preview`, `pulumi up`), and
//           print what was created (both proxies ready, both WorkloadEntries registered), where to look
//           and how to tear down. On a running sandbox, `up`
//           reuses the test bed and converges the stack again (a second `up` changes nothing); on a
//           broken one (a process gone), it tears that down first and starts afresh.
//           --istiod: a real istiod (detached, stopped by PID at `down`) and the real Istio agent on both hosts
//           instead of the stand-in proxy: ratings-vm boots systemd and runs Istio's istio-sidecar package
//           (`runtime: package`), ratings-vm-2 the agent's image (container runtime); `up` also reports
//           istiod's listing of each VM, each agent's certificate and ratings-vm's istio.service. A running
//           sandbox keeps its mode: `up` in the other mode refuses (see ./mode.ts).
//   down    `pulumi destroy` (while the cluster runs; bounded), then stop hosts and cluster by PID and
//           remove the sandbox dir. Safe to run twice and after a failed `up`.
//   status  what runs, the mesh objects, and whether each proxy is ready.
import { existsSync } from "node:fs";
import { mkdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import type { TestCluster } from "../testbed/cluster";
import { leftovers } from "../testbed/hosts";
import { SPIFFE_ID, istiodListing } from "./meshTruth";
import { modeConflict, modeName, parseInvocation, type Invocation } from "./mode";
import { meshObjects, printGuide, proxyReady, shown, unitLine } from "./report";
import { prepareProject, pulumiRunning, pulumiStreamed, writeStackConfig, type PulumiRun } from "./stack";
import { NAMESPACE, readinessUrl, sandboxStackConfig, sandboxVms } from "./stackConfig";
import { readState, repoRoot, SandboxPaths, writeState, type SandboxState } from "./state";
import { istiodRunning } from "../testbed/istiod";
import {
  attachRunningCluster,
  clusterProcesses,
  hostRunning,
  hostTraces,
  istiodProcesses,
  sandboxHostIds,
  startTestbed,
  stopTestbed,
  testbedRunning,
} from "./testbed";

const log = (line: string): void => console.error(`[sandbox] ${line}`);
const DESTROY_TIMEOUT_MS = 5 * 60_000;

/** A failed CLI run as one line. */
function failed(what: string, run: PulumiRun): string {
  if (run.timedOut) return `${what} timed out (interrupted)`;
  return `${what} failed (exit ${run.code ?? "by signal"}; its errors are above)`;
}

async function up(paths: SandboxPaths, { istiod }: Invocation): Promise<number> {
  const started = Date.now();
  let state = readState(paths);
  let cluster: TestCluster | undefined;
  let reused = false;
  if (state && testbedRunning(state)) {
    const conflict = modeConflict(state, istiod);
    if (conflict) {
      log(conflict);
      return 2;
    }
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
    state = { createdAt: new Date().toISOString(), withIstiod: istiod, hosts: [] };
    writeState(paths, state);
    log(`starting a sandbox ${modeName(istiod)}`);
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

  try {
    const adminKeys: Record<string, string> = {};
    for (const h of state.hosts) adminKeys[h.name] = await readFile(paths.adminKey(h.name), "utf8");
    const config = sandboxStackConfig({
      vms: sandboxVms(state.hosts),
      kubeconfig: cluster!.kubeconfig,
      adminKeys,
      ...(state.withIstiod && state.istiod && state.agentImage
        ? {
            istiod: {
              address: state.istiod.address,
              discoveryAddress: state.istiod.discoveryAddress,
              agentImage: state.agentImage,
            },
          }
        : {}),
    });
    await prepareProject(paths);
    await writeStackConfig(paths, config);
    log(
      `stack "sandbox": ${shown(paths.projectDir)}/Pulumi.yaml runs the root program ${shown(join(repoRoot, "index.ts"))}; config in ${shown(paths.stackFile)}`,
    );

    const preview = await pulumiStreamed(paths, ["preview"]);
    if (preview.code !== 0) throw new Error(failed("pulumi preview", preview));
    // The preview above is the dry run: the update itself needs no second one.
    const update = await pulumiStreamed(paths, ["up", "--yes", "--skip-preview"]);
    if (update.code !== 0) throw new Error(failed("pulumi up", update));

    const onboarded = await printGuide({
      paths,
      state,
      cluster: cluster!,
      seconds: (Date.now() - started) / 1000,
      reused,
    });
    if (!onboarded) {
      log(
        `pulumi up succeeded but not every proxy is ready or WorkloadEntry registered${state.withIstiod ? " (or listed by istiod, or certified)" : ""} (see above).`,
      );
      log("The test bed keeps running so you can look; `scripts/sandbox.sh down` removes everything.");
      return 1;
    }
    return 0;
  } catch (error) {
    log((error as Error).message);
    log("the stack did not converge; the test bed keeps running so you can look (see above).");
    log("Fix and run `scripts/sandbox.sh up` again, or `scripts/sandbox.sh down` to remove everything.");
    return 1;
  } finally {
    await cluster?.detach();
  }
}

async function destroyStack(paths: SandboxPaths, cluster: TestCluster): Promise<void> {
  if (!existsSync(paths.stackFile) || !existsSync(paths.backendDir)) return;
  try {
    // The same project dir and stack (re-written: the repository may have moved since `up`).
    await prepareProject(paths);
  } catch (error) {
    log(`cannot open the stack, skipping pulumi destroy: ${(error as Error).message}`);
    return;
  }
  try {
    const run = await pulumiStreamed(paths, ["destroy", "--yes", "--skip-preview"], DESTROY_TIMEOUT_MS);
    // The cluster and hosts go anyway: nothing the stack made outlives them.
    if (run.code !== 0) log(`${failed("pulumi destroy", run)}: removing the test bed anyway`);
  } catch (error) {
    log(`pulumi destroy could not run (removing the test bed anyway): ${(error as Error).message}`);
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
    clusterProcesses(paths.clusterDir).length === 0 &&
    istiodProcesses(paths.clusterDir).length === 0
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
    ...istiodProcesses(paths.clusterDir).map((pid) => `istiod process ${pid}`),
  ];
  if (stray.length > 0) {
    log(`left behind: ${stray.join("; ")}`);
    return 1;
  }
  log(
    `sandbox removed: no ${state?.withIstiod ? "istiod, " : ""}cluster process, host, namespace, mount, container or ${shown(paths.dir)}/ left`,
  );
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
  if (state.withIstiod) {
    const i = state.istiod;
    const alive = !!i && istiodRunning(i);
    console.log(
      `  istiod: ${alive ? "running" : "NOT running"}${i ? ` (PID ${i.pid}; xDS/CA ${i.address}:${i.port}; debug http://127.0.0.1:${i.httpPort})` : ""}`,
    );
  }
  for (const h of state.hosts) {
    const running = hostRunning(h.id);
    const runtime = h.sidecarPackage
      ? `; systemd, package runtime (istio-sidecar ${h.sidecarPackage.version})`
      : "";
    console.log(
      `  host ${h.name}: ${running ? "running" : "NOT running"} (${Object.values(h.addresses).join(", ")}; netns ${h.netns}${runtime})`,
    );
  }
  // Where each proxy answers (ratings-vm's address, ratings-vm-2's proxy instance IP), as a user checks it.
  if (state.hosts.length === 2) {
    const what = state.withIstiod ? "agent" : "proxy";
    for (const vm of sandboxVms(state.hosts)) {
      const url = readinessUrl(vm, !!state.withIstiod);
      const ready = hostRunning(vm.host.id) && (await proxyReady(url));
      console.log(`  ${what} on ${vm.name}: ${ready ? "READY" : "NOT READY"} (${url})`);
      if (vm.host.sidecarPackage && hostRunning(vm.host.id))
        await unitLine(vm, (s = "") => (console.log(s), 0));
      if (state.withIstiod && state.istiod && istiodRunning(state.istiod)) {
        const listing = await istiodListing(state.istiod, vm).catch(() => ({ serviceAccount: undefined }));
        console.log(
          `  istiod ${listing.serviceAccount === SPIFFE_ID ? `lists ${vm.name} (${vm.address}, ${SPIFFE_ID})` : `does NOT list ${vm.name}`}`,
        );
      }
    }
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
  let invocation: Invocation;
  try {
    invocation = parseInvocation(process.argv.slice(2), process.env);
  } catch (error) {
    console.error(`[sandbox] ${(error as Error).message}`);
    process.exit(2);
  }
  const paths = new SandboxPaths();
  const commands = {
    up: (p: SandboxPaths) => up(p, invocation),
    down,
    status,
  };
  const command = commands[invocation.command];
  // Ctrl-C reaches a running pulumi too (same process group): it cancels its operation; wait for it rather
  // than exit under it.
  process.on("SIGINT", () => {
    if (pulumiRunning()) log("interrupted: waiting for pulumi to cancel (Ctrl-C again stops it at once)");
    else process.exit(130);
  });
  const code = await command(paths);
  // Detached processes are unref'd; exit now rather than wait for stray handles.
  process.exit(code);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

export type { SandboxState };
