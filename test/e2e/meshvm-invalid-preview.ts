// Child program of meshvm-k8s.test.ts: a `pulumi preview` (real engine, inline program) of a MeshVm with an
// invalid port. Run in its own process because the in-process inline runtime also surfaces the program's
// error as an unhandled rejection, which a test runner would pin on an unrelated test. Prints one line
// `RESULT <json>` with whether the preview failed and the engine's diagnostics.
import { readFileSync } from "node:fs";
import { MeshVm } from "../../components";
import { createTestStack, kubernetesProvider } from "../../scripts/testbed/pulumi";
import { ratingsVmArgs } from "../unit/fixtures/ratings";

process.on("unhandledRejection", (e) => {
  // Only the expected validation error may escape this way; anything else fails the child.
  if ((e as Error)?.name !== "MeshVmValidationError") {
    console.error(e);
    process.exit(1);
  }
});

async function main(): Promise<void> {
  const kubeconfig = readFileSync(process.env["MESH_VM_TEST_KUBECONFIG"] ?? "", "utf8");
  const stack = await createTestStack({
    projectName: "mesh-vm-meshvm-e2e-invalid",
    program: async () => {
      const provider = kubernetesProvider("test-cluster", kubeconfig);
      new MeshVm(
        "bad",
        { ...ratingsVmArgs, name: "bad-vm", ports: [{ name: "http", number: 70000 }] },
        { providers: [provider] },
      );
    },
  });
  const diagnostics: string[] = [];
  let rejected = false;
  try {
    await stack.stack.preview({
      color: "never",
      onEvent: (e) => {
        if (e.diagnosticEvent) diagnostics.push(e.diagnosticEvent.message);
      },
    });
  } catch {
    rejected = true;
  } finally {
    await stack.dispose();
  }
  console.log(`RESULT ${JSON.stringify({ rejected, diagnostics })}`);
}

void main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
