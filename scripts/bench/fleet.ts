// How the mesh side scales with the number of VMs in one stack: preview, up, a no-op up and destroy of N
// MeshVms (mesh objects only) with the real engine against the real kube-apiserver, and prints a table.
//   eval "$(scripts/toolchain.sh env)"; node --import tsx scripts/bench/fleet.ts [N ...]   (default 1 10 50)
// Each VM has its own WorkloadEntry, Sidecar and ServiceEntry (3 objects + the component). The host half is
// left out: its cost is SSH round trips to each VM, measured by the hosts benchmark and the e2e tests.
import { MeshVm } from "../../components";
import { startCluster, type TestCluster } from "../testbed/cluster";
import { createTestStack, kubernetesProvider } from "../testbed/pulumi";

interface Row {
  vms: number;
  resources: number;
  previewS: number;
  upS: number;
  noopUpS: number;
  destroyS: number;
}

async function timed<T>(run: () => Promise<T>): Promise<[T, number]> {
  const start = process.hrtime.bigint();
  const result = await run();
  return [result, Number(process.hrtime.bigint() - start) / 1e9];
}

async function measure(cluster: TestCluster, count: number): Promise<Row> {
  const ns = `fleet-${count}`;
  await cluster.createNamespace(ns);
  const stack = await createTestStack({
    projectName: "mesh-vm-bench",
    stackName: `fleet-${count}`,
    program: async () => {
      const provider = kubernetesProvider("cluster", cluster.kubeconfig);
      for (let i = 0; i < count; i++) {
        new MeshVm(
          `vm-${i}`,
          {
            namespace: ns,
            address: `198.51.100.${(i % 250) + 1}`,
            serviceAccount: "ratings",
            labels: { app: `app-${i}`, version: "v1" },
            ports: [{ name: "http", number: 9080 }],
          },
          { providers: { kubernetes: provider } },
        );
      }
    },
  });
  try {
    const [, previewS] = await timed(() => stack.preview());
    const [up, upS] = await timed(() => stack.up());
    const [noop, noopUpS] = await timed(() => stack.up());
    const changed = Object.entries(noop.result.summary.resourceChanges ?? {}).filter(
      ([op, n]) => op !== "same" && (n ?? 0) > 0,
    );
    if (changed.length > 0) throw new Error(`second up changed something: ${JSON.stringify(changed)}`);
    const [, destroyS] = await timed(() => stack.destroy());
    const resources = up.result.summary.resourceChanges?.create ?? 0;
    return { vms: count, resources, previewS, upS, noopUpS, destroyS };
  } finally {
    await stack.dispose();
  }
}

async function main(): Promise<void> {
  const counts = process.argv.slice(2).map(Number);
  const sizes = counts.length > 0 ? counts : [1, 10, 50];
  const cluster = await startCluster();
  const rows: Row[] = [];
  try {
    for (const n of sizes) rows.push(await measure(cluster, n));
  } finally {
    await cluster.stop();
  }
  const f = (s: number) => s.toFixed(1).padStart(9);
  console.log("| VMs | resources | preview s | up s      | no-op up s | destroy s | up s/VM |");
  console.log("|----:|----------:|----------:|----------:|-----------:|----------:|--------:|");
  for (const r of rows) {
    console.log(
      `| ${String(r.vms).padStart(3)} | ${String(r.resources).padStart(9)} | ${f(r.previewS)} | ${f(r.upS)} | ` +
        `${f(r.noopUpS).padStart(10)} | ${f(r.destroyS)} | ${(r.upS / r.vms).toFixed(2).padStart(7)} |`,
    );
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
