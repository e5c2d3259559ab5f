// The components must stay consumable from other Pulumi languages: Pulumi's component analyzer (the one
// `pulumi package add` runs) must derive a schema from the TypeScript source without errors (no union types,
// an `args` interface, supported output types).
import assert from "node:assert/strict";
import * as path from "node:path";
import { describe, it } from "node:test";
import { Analyzer } from "@pulumi/pulumi/provider/experimental/analyzer";

const repo = path.resolve(__dirname, "../..");

describe("Pulumi component analyzer", () => {
  it("derives a schema for every component of the package, VmProxy and VmBoot included", () => {
    // `pulumi package add` (and a YAML program's `packages:`) analyzes every exported component: one type it cannot
    // map (a mapped type such as Inputs<T>, an anonymous output object) fails the whole package.
    const result = new Analyzer(
      repo,
      "mesh-vm",
      { name: "mesh-vm", main: "components/index.js" },
      new Set(["MeshVm", "MeshExpansion", "VmProxy", "VmBoot"]),
    ).analyze();
    assert.deepStrictEqual(Object.keys(result.components).sort(), [
      "MeshExpansion",
      "MeshVm",
      "VmBoot",
      "VmProxy",
    ]);
    const proxy = result.components["VmProxy"]!;
    assert.ok(proxy.inputs["workload"] && proxy.outputs["sshIdentity"]);
  });

  it("derives a schema for MeshVm and MeshExpansion", () => {
    // The analyzer maps package.json "main" to its .ts source; point it at the package entry.
    const result = new Analyzer(
      repo,
      "mesh-vm",
      { name: "mesh-vm", main: "components/index.js" },
      new Set(["MeshVm", "MeshExpansion"]),
    ).analyze();
    const vm = result.components["MeshVm"];
    const me = result.components["MeshExpansion"];
    assert.ok(vm && me);
    assert.deepStrictEqual(
      Object.keys(vm.inputs)
        .filter((k) => !(vm.inputs[k] as { optional?: boolean }).optional)
        .sort(),
      ["labels", "namespace", "serviceAccount"],
    );
    assert.ok(vm.inputs["host"], "MeshVm takes the host inputs");
    assert.equal(
      (vm.inputs["apiVersion"] as { plain?: boolean }).plain,
      true,
      "apiVersion shapes the type token",
    );
    for (const out of ["workloadEntryName", "spiffeId", "objects", "manifests", "settings", "proxy"]) {
      assert.ok(vm.outputs[out], `MeshVm output ${out}`);
    }
    assert.deepStrictEqual(
      Object.keys(me.inputs).filter((k) => !(me.inputs[k] as { optional?: boolean }).optional),
      ["flavor"],
    );
    for (const out of ["gatewayAddress", "istiodHost", "firewallPorts", "objects"]) {
      assert.ok(me.outputs[out], `MeshExpansion output ${out}`);
    }
  });
});
