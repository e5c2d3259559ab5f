// Child program of rootProgram.test.ts: `pulumi preview` and `pulumi up` of the root program (real engine,
// inline program, the root project's Pulumi.yaml) with three broken stack files in turn. Run in its own process
// because the in-process inline runtime also surfaces the program's error as an unhandled rejection, which a
// test runner would pin on an unrelated test. Prints one line `RESULT <json>`: per case, whether each operation
// failed, the engine's diagnostics and error text, and the resources in the state afterwards.
import { readFileSync } from "node:fs";
import { onboardFromConfig } from "../../components/stack/program";
import { rootProjectStack } from "../../scripts/testbed/rootProject";

process.on("unhandledRejection", (e) => {
  // Only the expected configuration error may escape this way; anything else fails the child.
  if ((e as Error)?.name !== "StackConfigError") {
    console.error(e);
    process.exit(1);
  }
});

const vm = {
  name: "broken-vm",
  namespace: "bookinfo",
  address: "198.51.100.20",
  serviceAccount: "bookinfo-broken",
  createServiceAccount: true,
  labels: { app: "broken", version: "v1" },
  ports: [{ name: "http", number: 9080 }],
};
const { address, ...withoutAddress } = vm;

const cases = [
  { name: "missing address", vm: withoutAddress, expect: "mesh-vm:vms[0].address: address is required" },
  {
    name: "bad port",
    vm: { ...vm, ports: [{ name: "http", number: 70000 }] },
    expect: "mesh-vm:vms[0].ports[0].number: port 70000 is out of range 1-65535",
  },
  {
    name: "unknown key",
    vm: { ...withoutAddress, adress: address },
    expect: 'mesh-vm:vms[0].adress: unknown key "adress" (did you mean "address"?)',
  },
];

async function main(): Promise<void> {
  const kubeconfig = readFileSync(process.env["MESH_VM_TEST_KUBECONFIG"] ?? "", "utf8");
  const root = await rootProjectStack("broken", async () => ({
    ...onboardFromConfig(),
  }));
  const results = [];
  try {
    for (const c of cases) {
      await root.writeConfig({ clusterIdentifier: "mesh-vm-test-cluster", vms: [c.vm] }, [
        { path: "kubeconfig", value: kubeconfig },
      ]);
      const run = async (op: "preview" | "up") => {
        const diagnostics: string[] = [];
        let rejected = false;
        const onEvent = (e: { diagnosticEvent?: { message: string } }) => {
          if (e.diagnosticEvent) diagnostics.push(e.diagnosticEvent.message);
        };
        try {
          await root.test.stack[op]({ color: "never", onEvent });
        } catch (e) {
          rejected = true;
          diagnostics.push(String((e as Error).message));
        }
        return { rejected, diagnostics };
      };
      const preview = await run("preview");
      const up = await run("up");
      const state = await root.test.exportState();
      const stateResources = (
        (state.deployment as { resources?: { type: string; urn: string }[] }).resources ?? []
      )
        .filter((r) => r.type !== "pulumi:pulumi:Stack")
        .map((r) => r.urn);
      results.push({ name: c.name, expect: c.expect, preview, up, stateResources });
    }
  } finally {
    await root.dispose();
  }
  console.log(`RESULT ${JSON.stringify(results)}`);
}

void main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
