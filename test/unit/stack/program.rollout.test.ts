// The root program with `mesh-vm:rollout` under Pulumi mocks: every resource of a wave reaches the engine only after
// every resource of the wave before it did (the mocks answer at once, so the order of registrations is the order
// the SDK released them in). The waves are a stack output.
import { registrations, valueOf } from "../helpers/pulumiMocks";
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { onboardFromConfig } from "../../../components/stack/program";
import { KUBECONFIG } from "../fixtures/kubeconfig";

const vm = (i: number) => ({
  name: `vm-${i}`,
  namespace: "bookinfo",
  address: `198.51.100.${10 + i}`,
  serviceAccount: "bookinfo-ratings",
  labels: { app: "ratings", version: "v3" },
  ports: [{ name: "http", number: 9080 }],
  ...(i > 0 ? { sidecar: { enabled: false } } : {}),
});

function setConfig(values: Record<string, unknown>): void {
  pulumi.runtime.setAllConfig(
    Object.fromEntries(
      Object.entries(values).map(([k, v]) => [`mesh-vm:${k}`, typeof v === "string" ? v : JSON.stringify(v)]),
    ),
    ["mesh-vm:kubeconfig"],
  );
}

/** Positions of each VM's custom resources among the registrations of this run. */
async function positions(
  rollout: unknown,
): Promise<{ out: ReturnType<typeof onboardFromConfig>; at: number[][] }> {
  const start = registrations.length;
  setConfig({ kubeconfig: KUBECONFIG, vms: [0, 1, 2, 3, 4].map(vm), ...(rollout ? { rollout } : {}) });
  const out = onboardFromConfig();
  await valueOf(out.vms);
  const mine = registrations.slice(start).filter((r) => r.custom);
  const at = [0, 1, 2, 3, 4].map((i) => mine.flatMap((r, n) => (r.name.startsWith(`vm-${i}-`) ? [n] : [])));
  for (const [i, a] of at.entries()) assert.ok(a.length >= 2, `vm-${i}: its mesh objects registered`);
  return { out, at };
}

describe("onboardFromConfig with mesh-vm:rollout", () => {
  it("registers wave k+1 only after every resource of wave k, and outputs the waves", async () => {
    const { out, at } = await positions({ maxUnavailable: 2 });
    const waves = [[0, 1], [2, 3], [4]];
    for (let k = 0; k + 1 < waves.length; k++) {
      const lastOfWave = Math.max(...waves[k]!.flatMap((i) => at[i]!));
      const firstOfNext = Math.min(...waves[k + 1]!.flatMap((i) => at[i]!));
      assert.ok(lastOfWave < firstOfNext, `wave ${k + 2} after wave ${k + 1}: ${JSON.stringify(at)}`);
    }
    assert.deepEqual(await valueOf(out.rollout!), {
      maxUnavailable: 2,
      waves: [["vm-0", "vm-1"], ["vm-2", "vm-3"], ["vm-4"]],
    });
  });

  it("without a rollout, every VM is declared and there is no rollout output", async () => {
    // Whether the VMs' registrations interleave then depends on promise scheduling, so it is not asserted.
    const { out } = await positions(undefined);
    assert.equal(out.rollout, undefined);
  });
});
