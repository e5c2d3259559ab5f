// One stack against K shard stacks for the same N VMs (issue #28: "200 VMs as 1 × 200 against 4 × 50 shards"):
// the root program (mesh-vm:vms, mesh side only: WorkloadEntry, Sidecar, ServiceEntry per VM) run through
// runShardedFleet with the real `pulumi` CLI, engine and kube-apiserver, file backend, one work directory per stack.
// Prints up, no-op up and destroy wall times and the engine's resource count per layout, with the machine's load.
//   scripts/bench.sh shards [N] [K] [C]   (default 200 VMs, 4 shards, 2 at once)
// The host half is left out (its cost is SSH round trips per VM: the onboard benchmark); what differs between the
// layouts is the engine, language host and provider work, spread over processes.
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { runShardedFleet, shardOf, type FleetOperation, type FleetStack } from "../../components";
import { startCluster, type TestCluster } from "../testbed/cluster";
import { repoRoot } from "../testbed/cli";
import { toolchainEnv } from "../testbed/toolchain";

const NS = "bench-shards";

interface Row {
  layout: string;
  concurrency: number;
  resources: number;
  upS: number;
  noopS: number;
  destroyS: number;
}

/** The inventory's VMs (mesh side only) split into `k` stacks by shardOf, as examples/shards does. */
function stacks(cluster: TestCluster, n: number, k: number, prefix: string): FleetStack[] {
  const vms = Array.from({ length: n }, (_, i) => ({
    name: `vm-${i}`,
    namespace: NS,
    address: `10.${20 + Math.floor(i / 250)}.0.${(i % 250) + 1}`,
    serviceAccount: "ratings",
    labels: { app: `app-${i}`, version: "v1" },
    ports: [{ name: "http", number: 9080 }],
  }));
  return Array.from({ length: k }, (_, s) => ({
    stackName: `${prefix}-${s}`,
    config: {
      "mesh-vm:kubeconfig": { value: cluster.kubeconfig, secret: true },
      "mesh-vm:clusterIdentifier": { value: "bench-shards" },
      "mesh-vm:vms": { value: JSON.stringify(vms.filter((vm) => shardOf(vm.name, k) === s)) },
    },
  }));
}

async function run(
  shards: FleetStack[],
  operation: FleetOperation,
  concurrency: number,
  workRoot: string,
): Promise<{ seconds: number; resources: number }> {
  const env = toolchainEnv();
  const start = process.hrtime.bigint();
  const results = await runShardedFleet({
    projectDir: repoRoot,
    shards,
    operation,
    concurrency,
    workRoot,
    secretsProvider: "passphrase",
    envVars: { ...env, PULUMI_BACKEND_URL: `file://${workRoot}`, PULUMI_CONFIG_PASSPHRASE: "bench" },
  });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const failed = results.find((r) => r.status !== "succeeded");
  if (failed) throw new Error(`${operation} of ${failed.stackName}: ${failed.status}: ${failed.error ?? ""}`);
  const resources = results.reduce(
    (sum, r) => sum + (r.changes["create"] ?? 0) + (r.changes["same"] ?? 0),
    0,
  );
  return { seconds, resources };
}

async function measure(cluster: TestCluster, n: number, k: number, concurrency: number): Promise<Row> {
  const workRoot = mkdtempSync(join(tmpdir(), "mesh-vm-bench-shards-"));
  const shards = stacks(cluster, n, k, k === 1 ? "all" : `shard${k}`);
  try {
    const up = await run(shards, "up", concurrency, workRoot);
    const noop = await run(shards, "up", concurrency, workRoot);
    const destroy = await run(shards, "destroy", concurrency, workRoot);
    const layout = k === 1 ? `1 × ${n}` : `${k} × ~${Math.round(n / k)}`;
    return {
      layout,
      concurrency,
      resources: up.resources,
      upS: up.seconds,
      noopS: noop.seconds,
      destroyS: destroy.seconds,
    };
  } finally {
    rmSync(workRoot, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const [n = 200, k = 4, c = 2] = process.argv.slice(2).map(Number);
  const cluster = await startCluster();
  const rows: Row[] = [];
  try {
    await cluster.createNamespace(NS);
    rows.push(await measure(cluster, n, 1, 1));
    rows.push(await measure(cluster, n, k, c));
  } finally {
    await cluster.stop();
  }
  const f = (s: number) => s.toFixed(1).padStart(8);
  console.log(
    `load average at the end: ${loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")}`,
  );
  console.log("| layout     | at once | resources | up s     | no-op s  | destroy s | up s/VM |");
  console.log("|------------|--------:|----------:|---------:|---------:|----------:|--------:|");
  for (const r of rows) {
    console.log(
      `| ${r.layout.padEnd(10)} | ${String(r.concurrency).padStart(7)} | ${String(r.resources).padStart(9)} | ` +
        `${f(r.upS)} | ${f(r.noopS)} | ${f(r.destroyS).padStart(9)} | ${(r.upS / n).toFixed(3).padStart(7)} |`,
    );
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
