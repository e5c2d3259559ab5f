// Child of fleet.test.ts: the fleet example's VmFleet under the host mocks (three VMs with `host`), printing
// every registration as `RESULT <json>`. A child process because the example imports `mesh-vm`, which resolves
// to the repository's components only through examples/tsconfig.json (TSX_TSCONFIG_PATH).
import { registrations } from "../helpers/pulumiMocks";
import { join } from "node:path";
import { KUBECONFIG } from "../fixtures/kubeconfig";

// Loaded at run time: the root type check cannot resolve the example's `mesh-vm` import (examples/tsconfig.json
// type-checks the example itself).
interface FleetLike {
  vms: { proxy: unknown }[];
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { VmFleet } = require(join(__dirname, "../../../examples/fleet/vmFleet")) as {
  VmFleet: new (name: string, args: unknown) => FleetLike;
};

const fleet = new VmFleet("ratings-vms", {
  namespace: "bookinfo",
  serviceAccount: "bookinfo-ratings",
  createServiceAccount: true,
  labels: { app: "ratings", version: "v3" },
  ports: [{ name: "http", number: 9080 }],
  instances: [1, 2, 3].map((i) => ({
    name: `ratings-vm-${i}`,
    address: `198.51.100.1${i}`,
    hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKey",
  })),
  host: {
    prepare: { admin: { user: "root", privateKey: "ADMIN-KEY" } },
    kubeconfig: KUBECONFIG,
    proxyImageTag: "1.30.3",
  },
});

async function main(): Promise<void> {
  for (const vm of fleet.vms) await (vm.proxy as unknown as { promise(): Promise<unknown> }).promise();
  for (let i = 0; i < 100; i++) await new Promise((r) => setImmediate(r));
  const out = registrations.map((r) => ({ type: r.type, name: r.name, inputs: r.inputs }));
  console.log(`RESULT ${JSON.stringify(out)}`);
}

void main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
