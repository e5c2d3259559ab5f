// `mesh-vm:followControlPlane`: the root program reads istiod's injector values once for the fleet, and every VM
// that pins no proxy image runs the control plane's (hub, image, tag, log level); a VM's own tag still wins.
import { registrations, valueOf } from "../helpers/pulumiMocks";
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { onboardFromConfig } from "../../../components/stack/program";
import { KUBECONFIG } from "../fixtures/kubeconfig";
import { configuredVm } from "../helpers/stackVms";

function vm(name: string, address: string, host: Record<string, unknown> = {}) {
  return configuredVm(name, { address }, host);
}

/** Everything the proxy step of `name` is given (its script, arguments and files), as text. */
function proxyStep(name: string): string {
  const step = registrations.find(
    (r) => r.type === "command:remote:Command" && r.name === `${name}-proxy-proxy`,
  );
  assert.ok(step, name);
  return JSON.stringify(step.inputs);
}

describe("onboardFromConfig: followControlPlane", () => {
  pulumi.runtime.setAllConfig(
    {
      "mesh-vm:kubeconfig": KUBECONFIG,
      "mesh-vm:followControlPlane": JSON.stringify({ revision: "1-24-2" }),
      "mesh-vm:vms": JSON.stringify([
        vm("a", "198.51.100.10"),
        vm("b", "198.51.100.11"),
        vm("c", "198.51.100.12", { proxyImageTag: "1.24.1" }),
      ]),
    },
    ["mesh-vm:kubeconfig", "mesh-vm:vms"],
  );
  const out = onboardFromConfig();

  it("reads the revision's injector ConfigMap once, whatever the number of VMs", async () => {
    await valueOf(out.vms);
    const reads = registrations
      .filter((r) => r.type === "kubernetes:core/v1:ConfigMap" && r.name.includes("injector"))
      .map((r) => r.name);
    assert.deepEqual(reads, ["control-plane-istio-sidecar-injector-1-24-2"]);
  });

  it("runs the control plane's image and log level on the VMs that pin none; a pinned tag wins", async () => {
    const vms = await valueOf(out.vms);
    assert.equal(vms["a"]!.proxy?.proxyImage, "registry.example/istio/proxyv2:1.24.2");
    assert.equal(vms["b"]!.proxy?.proxyImage, "registry.example/istio/proxyv2:1.24.2");
    assert.equal(vms["c"]!.proxy?.proxyImage, "registry.example/istio/proxyv2:1.24.1");
    assert.match(proxyStep("a"), /registry\.example\/istio\/proxyv2:1\.24\.2/);
    assert.match(proxyStep("a"), /--proxyLogLevel\W+warning/);
  });
});
