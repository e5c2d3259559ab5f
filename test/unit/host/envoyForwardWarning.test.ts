// A forwarding proxy whose source range admits every address (`0.0.0.0/0`, `::/0`) lets anyone who reaches the
// VM's interface call the mesh as the VM: both deliveries warn at preview, naming the field and the fix; a range
// of the VMs it serves gives no warning.
import { settle } from "../helpers/pulumiMocks";
import assert from "node:assert/strict";
import { describe, it, mock } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { VmBoot, VmProxy } from "../../../components";
import type { EnvoyRuntimeArgs } from "../../../components";
import { KUBECONFIG } from "../fixtures/kubeconfig";
import { reviews, vm } from "../runtime/envoyFixtures";

const WORKLOAD = { ...vm, address: "198.51.100.20" };

/** The warnings logged while `create` runs and its Outputs settle. */
async function warningsOf(create: () => unknown): Promise<string[]> {
  const spy = mock.method(pulumi.log, "warn", () => undefined);
  try {
    create();
    await settle();
    return spy.mock.calls.map((c) => String(c.arguments[0]));
  } finally {
    spy.mock.restore();
  }
}

const envoy = (sourceRanges: string[]): EnvoyRuntimeArgs => ({
  gatewayAddress: "192.0.2.10",
  upstreams: [reviews],
  forward: { address: "198.51.100.20", sourceRanges },
});

describe("the forwarding proxy's source ranges", () => {
  for (const [ranges, warned] of [
    [["0.0.0.0/0"], true],
    [["198.51.100.0/24"], false],
  ] as const) {
    it(`VmProxy with ${ranges.join(",")}: ${warned ? "warns" : "no warning"}`, async () => {
      const warnings = await warningsOf(
        () =>
          new VmProxy(`forward-proxy-${warned}`, {
            ssh: { host: "198.51.100.20", hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKey" },
            prepare: { admin: { privateKey: "ADMIN-KEY" } },
            workload: WORKLOAD,
            kubeconfig: KUBECONFIG,
            runtime: "envoy",
            envoy: envoy([...ranges]),
          }),
      );
      const mine = warnings.filter((w) => /forward\.sourceRanges/.test(w));
      assert.deepEqual(
        mine,
        warned
          ? [
              "envoy.forward.sourceRanges[0] is 0.0.0.0/0: any host that reaches 198.51.100.20 calls the mesh as this VM's identity; " +
                "name the subnet of the VMs the proxy serves instead, e.g. 10.0.1.0/24",
            ]
          : [],
      );
    });

    it(`VmBoot with ${ranges.join(",")}: ${warned ? "warns" : "no warning"}`, async () => {
      const warnings = await warningsOf(
        () =>
          new VmBoot(`forward-boot-${warned}`, {
            workload: WORKLOAD,
            kubeconfig: KUBECONFIG,
            runtime: "envoy",
            envoy: envoy([...ranges]),
          }),
      );
      assert.equal(
        warnings.filter((w) => /forward\.sourceRanges\[0\] is 0\.0\.0\.0\/0/.test(w)).length,
        warned ? 1 : 0,
      );
    });
  }
});
