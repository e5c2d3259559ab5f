// The root program reads the two CA ConfigMaps once per namespace for all its VMs (not twice per VM), passes
// them to each VM, and a VM that gives both roots reads none; a given root that is not a PEM certificate is
// refused at preview naming the stack key.
import { registrations, valueOf } from "../helpers/pulumiMocks";
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { onboardFromConfig } from "../../../components/stack/program";
import { parseStackConfig, StackConfigError } from "../../../components/stack/config";
import { KUBECONFIG } from "../fixtures/kubeconfig";
import { configuredVm } from "../helpers/stackVms";

const PEM = "-----BEGIN CERTIFICATE-----\nMIIBgiven\n-----END CERTIFICATE-----\n";

function vm(name: string, namespace: string, address: string, host: Record<string, unknown> = {}) {
  return configuredVm(name, { namespace, address }, host);
}

describe("onboardFromConfig: the CA roots", () => {
  pulumi.runtime.setAllConfig(
    {
      "mesh-vm:kubeconfig": KUBECONFIG,
      "mesh-vm:vms": JSON.stringify([
        vm("a", "bookinfo", "198.51.100.10"),
        vm("b", "bookinfo", "198.51.100.11"),
        vm("c", "bookinfo", "198.51.100.12"),
        vm("d", "payments", "198.51.100.13"),
        vm("e", "payments", "198.51.100.14", { meshRootCert: PEM, kubernetesRootCert: PEM }),
      ]),
    },
    ["mesh-vm:kubeconfig", "mesh-vm:vms"],
  );
  const out = onboardFromConfig();

  it("reads each ConfigMap once per namespace, whatever the number of VMs", async () => {
    await valueOf(out.vms);
    const reads = registrations
      .filter((r) => r.type === "kubernetes:core/v1:ConfigMap")
      .map((r) => r.name)
      .sort();
    assert.deepEqual(reads, [
      "mesh-roots-bookinfo-istio-ca-root-cert",
      "mesh-roots-bookinfo-kube-root-ca",
      "mesh-roots-payments-istio-ca-root-cert",
      "mesh-roots-payments-kube-root-ca",
    ]);
  });

  it("hands every VM the roots (read or given) as files of its proxy step", async () => {
    await valueOf(out.vms);
    const proxySteps = registrations.filter(
      (r) => r.type === "command:remote:Command" && r.name.endsWith("-proxy-proxy"),
    );
    assert.equal(proxySteps.length, 5);
    // The bundle: one `<sha256> <base64>` line per file.
    const files = (name: string): string[] => {
      const step = proxySteps.find((r) => r.name === `${name}-proxy-proxy`);
      assert.ok(step, name);
      return String(step.inputs["stdin"])
        .split("\n")
        .filter((l) => /^[0-9a-f]{64} /.test(l))
        .map((l) => Buffer.from(l.split(" ")[1]!, "base64").toString());
    };
    for (const name of ["a", "b", "c", "d"]) assert.ok(files(name).includes("MESH ROOT PEM"), name);
    assert.ok(files("e").includes(PEM), "e: the given root");
    assert.ok(!files("e").includes("MESH ROOT PEM"), "e: not the read one");
  });
});

describe("stack configuration: given roots", () => {
  it("refuses a root that is not a PEM certificate, naming the key and the fix", () => {
    const values = {
      "mesh-vm:kubeconfig": KUBECONFIG,
      "mesh-vm:vms": JSON.stringify([vm("a", "bookinfo", "198.51.100.10", { meshRootCert: "/etc/ca.pem" })]),
    };
    try {
      parseStackConfig({
        stack: "dev",
        values,
        secretKeys: new Set(["mesh-vm:kubeconfig", "mesh-vm:vms"]),
        env: {},
      });
    } catch (e) {
      assert.ok(e instanceof StackConfigError, String(e));
      const hit = e.issues.find((i) => i.field === "mesh-vm:vms[0].host.meshRootCert");
      assert.ok(hit, e.message);
      assert.match(hit.problem, /is not a PEM certificate/);
      assert.match(hit.fix, /PEM text/);
      return;
    }
    assert.fail("accepted");
  });
});
