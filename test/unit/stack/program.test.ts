// The root program under Pulumi mocks, reading the stack configuration as the engine passes it: a broken config
// throws before anything is registered; a valid one registers one provider (kubeconfig secret, stable cluster
// identifier), MeshExpansion and one MeshVm per VM on that provider, and outputs each VM's summary.
import { registrations, settle, valueOf } from "../helpers/pulumiMocks";
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { StackConfigError } from "../../../components/stack/config";
import { onboardFromConfig } from "../../../components/stack/program";

const KUBECONFIG = "apiVersion: v1\nkind: Config\nusers: [{name: u, user: {token: kube-admin-secret}}]\n";

const vm = (name: string, address: string) => ({
  name,
  namespace: "bookinfo",
  address,
  serviceAccount: "bookinfo-ratings",
  labels: { app: "ratings", version: "v3" },
  ports: [{ name: "http", number: 9080, targetPort: 8080 }],
});

function setConfig(values: Record<string, unknown>, secret: string[]): void {
  pulumi.runtime.setAllConfig(
    Object.fromEntries(
      Object.entries(values).map(([k, v]) => [`mesh-vm:${k}`, typeof v === "string" ? v : JSON.stringify(v)]),
    ),
    secret.map((k) => `mesh-vm:${k}`),
  );
}

describe("onboardFromConfig", () => {
  it("a broken stack config throws, naming the key and Pulumi.unit.yaml, with nothing registered", async () => {
    setConfig({ kubeconfig: KUBECONFIG, vms: [{ ...vm("bad", "198.51.100.10"), adress: "x" }] }, [
      "kubeconfig",
    ]);
    assert.throws(
      () => onboardFromConfig(),
      (e: unknown) =>
        e instanceof StackConfigError &&
        e.message.startsWith("invalid stack configuration in Pulumi.unit.yaml") &&
        e.message.includes('mesh-vm:vms[0].adress: unknown key "adress" (did you mean "address"?)'),
    );
    await settle();
    assert.deepEqual(registrations, []);
  });

  it("registers the provider, MeshExpansion and the MeshVms, and summarises each VM", async () => {
    setConfig(
      {
        kubeconfig: KUBECONFIG,
        clusterIdentifier: "prod-east",
        kubeContext: "admin@prod-east",
        meshExpansion: { gatewayAddress: "203.0.113.1" },
        vms: [vm("ratings-a", "198.51.100.10"), vm("ratings-b", "198.51.100.11")],
      },
      ["kubeconfig"],
    );
    const out = onboardFromConfig();
    const summary = await valueOf(out.vms);
    await settle();

    const provider = registrations.filter((r) => r.type === "pulumi:providers:kubernetes");
    assert.equal(provider.length, 1);
    assert.equal(provider[0]!.inputs["clusterIdentifier"], "prod-east");
    assert.equal(provider[0]!.inputs["context"], "admin@prod-east");
    assert.ok(
      registrations.some((r) => r.type === "mesh-vm:index:MeshExpansion" && r.name === "mesh-expansion"),
    );
    assert.deepEqual(
      registrations.filter((r) => r.type === "mesh-vm:index:MeshVm").map((r) => r.name),
      ["ratings-a", "ratings-b"],
    );
    assert.deepEqual(
      // One per VM; the two register concurrently, so in no fixed order.
      registrations
        .filter((r) => r.type.endsWith(":WorkloadEntry"))
        .map((r) => r.name)
        .sort(),
      ["ratings-a-workloadentry", "ratings-b-workloadentry"],
    );

    assert.deepEqual(summary["ratings-a"], {
      spiffeId: "spiffe://cluster.local/ns/bookinfo/sa/bookinfo-ratings",
      workloadEntry: "ratings-a",
      namespace: "bookinfo",
      inboundPorts: [8080],
      proxy: null,
      hostsBlock: null,
      tokenExpiry: null,
    });
    assert.deepEqual(await valueOf(out.firewallPorts), [15012, 15443]);
    assert.equal(await valueOf(out.istiodHost!), "istiod.istio-system.svc");
  });
});
