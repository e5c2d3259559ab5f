// How the program side scales: a `preview` of N MeshVms with `host` (default 1,000) under Pulumi's mocks, so
// every renderer, validation and Output chain runs, and no engine, provider or host does. Prints the wall time
// from the first MeshVm to the last registration, the resources registered, and this process's peak RSS
// (VmHWM, the Node.js process as a whole: what `pulumi preview` would see of the program).
//   scripts/bench.sh mock [N] [--per-vm-roots]   (goals at N = 1,000: < 30 s, < 1 GB)
// The CA roots are read once for the fleet (readMeshRoots) as the stack program does; --per-vm-roots lets each
// MeshVm read its own pair, as a MeshVm given no roots does.
// The mocks answer like the providers in a preview (scripts/testbed/mockProviders.ts: CA ConfigMaps, the
// generated key) and keep nothing but a count.
import * as pulumi from "@pulumi/pulumi";
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { MeshVm, readMeshRoots } from "../../components";
import { providerOutputs } from "../testbed/mockProviders";

let registered = 0;

void pulumi.runtime.setMocks(
  {
    newResource(args) {
      registered++;
      return {
        id: `${args.name}-id`,
        state: { ...args.inputs, ...providerOutputs(args, { preview: true }) },
      };
    },
    call(args) {
      return args.inputs;
    },
  },
  "mesh-vm-bench",
  "mock-scale",
  true, // preview: the mint, remote steps and the container report are unknown, as in a real preview
);

function vmHwmMb(): number {
  const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync("/proc/self/status", "utf8"));
  return Number(m?.[1] ?? 0) / 1024;
}

const KUBECONFIG =
  "current-context: c\ncontexts: [{name: c, context: {cluster: k, user: u}}]\n" +
  "clusters: [{name: k, cluster: {server: 'https://127.0.0.1:6443'}}]\nusers: [{name: u, user: {token: kube-admin-secret}}]\n";

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const n = Number(args.find((a) => !a.startsWith("--")) ?? 1000);
  const startMb = process.memoryUsage().rss / 2 ** 20;
  const start = process.hrtime.bigint();
  const outputs: pulumi.Output<unknown>[] = [];
  const roots = args.includes("--per-vm-roots") ? {} : readMeshRoots("mesh-roots", { namespace: "bench" });
  for (let i = 0; i < n; i++) {
    const name = `vm-${i}`;
    const vm = new MeshVm(name, {
      namespace: "bench",
      address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
      serviceAccount: "bench-workload",
      labels: { app: name, class: "vm", version: "v1" },
      ports: [{ name: "http", number: 9080 }],
      host: {
        hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKey",
        prepare: { admin: { user: "admin", privateKey: "ADMIN-PRIVATE-KEY" } },
        kubeconfig: KUBECONFIG,
        proxyImageTag: "1.30.3",
        egressHostnames: ["reviews.bench.svc"],
        ...roots,
      },
    });
    outputs.push(vm.manifests, vm.proxy, vm.workloadEntryName);
  }
  const constructedS = Number(process.hrtime.bigint() - start) / 1e9;
  await (pulumi.all(outputs) as unknown as { promise(): Promise<unknown> }).promise();
  // Drains every registration still queued (the mocks' monitor answers them).
  await pulumi.runtime.disconnect();
  const wallS = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(
    `mock preview of ${n} MeshVms with host (CA roots ${"meshRootCert" in roots ? "read once" : "read per VM"}): ${registered} resources registered, ` +
      `${wallS.toFixed(1)} s wall (constructors ${constructedS.toFixed(1)} s), peak RSS ${vmHwmMb().toFixed(0)} MB ` +
      `(${startMb.toFixed(0)} MB before the first MeshVm), load ${loadavg()[0]!.toFixed(1)}`,
  );
  console.log(`| VMs | resources | wall s | s/VM | peak RSS MB |`);
  console.log(`|----:|----------:|-------:|-----:|------------:|`);
  console.log(
    `| ${n} | ${registered} | ${wallS.toFixed(1)} | ${(wallS / n).toFixed(3)} | ${vmHwmMb().toFixed(0)} |`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
