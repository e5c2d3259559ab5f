// One definition per input: the proxy settings MeshVm's deliveries take are listed once
// (host/proxySettings.ts, meshVmDeliverySettingKeys); the stack configuration's schema must carry each of them
// for `host` and `boot` with the same shape, and MeshVm hands each of them to VmProxy and VmBoot unchanged.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { meshVmDeliverySettingKeys } from "../../../components/host/proxySettings";
import { proxySettingsFromMeshVm } from "../../../components/meshVmHost";
import type { ResolvedMeshVm } from "../../../components/mesh/settings";
import { stackSchema } from "../../../components/stack/schema";

// The stack's own keys (mesh-vm:kubeconfig, mesh-vm:kubeContext) stand for these two.
const fromStackKeys = new Set(["kubeconfig", "kubeContext"]);

function shapeOf(delivery: "host" | "boot") {
  const vms = stackSchema.shape.vms.unwrap();
  return vms.element.shape[delivery].unwrap().shape as Record<string, unknown>;
}

describe("one definition per input", () => {
  it("the stack schema carries every delivery proxy setting under host and boot, with one shape", () => {
    const host = shapeOf("host");
    const boot = shapeOf("boot");
    for (const key of meshVmDeliverySettingKeys) {
      if (fromStackKeys.has(key)) continue;
      assert.ok(key in host, `vms[].host.${key}`);
      assert.ok(key in boot, `vms[].boot.${key}`);
      assert.equal(
        JSON.stringify(z(host[key])),
        JSON.stringify(z(boot[key])),
        `vms[].host.${key} and vms[].boot.${key} have one shape`,
      );
    }
  });

  it("MeshVm hands every delivery proxy setting to the delivery unchanged", () => {
    const delivery = Object.fromEntries(meshVmDeliverySettingKeys.map((k) => [k, `value-of-${k}`]));
    const resolved = {
      bootstrap: {},
      explicitBootstrap: {},
      egress: [],
      workloadGroup: { enabled: false, name: "ratings-vm", autoRegister: false },
    } as unknown as ResolvedMeshVm;
    const out = proxySettingsFromMeshVm(
      pulumi.output(resolved),
      pulumi.output({
        metadata: { name: "ratings-vm", namespace: "bookinfo" },
        spec: { address: "203.0.113.10", serviceAccount: "sa" },
      } as never),
      delivery as never,
    ) as unknown as Record<string, unknown>;
    for (const key of meshVmDeliverySettingKeys.filter((k) => k !== "mesh")) {
      assert.equal(out[key], `value-of-${key}`, key);
    }
  });
});

/** A zod schema's JSON form (its definition), comparable across two fields. */
function z(schema: unknown): unknown {
  const s = schema as { toJSONSchema(params: object): unknown };
  return s.toJSONSchema({ unrepresentable: "any", io: "input" });
}
