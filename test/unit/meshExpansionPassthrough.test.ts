// MeshExpansion's AUTO_PASSTHROUGH Gateway (Istio's cross-network-gateway) for VMs running a plain Envoy, and the
// AuthorizationPolicy that admits a VM's principal. The API server with Istio's CRDs checks the same objects in
// test/e2e/envoyMeshObjects.test.ts.
import "./helpers/pulumiMocks";
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MeshExpansion } from "../../components";
import { principalOf, renderVmAuthorizationPolicy } from "../../components/mesh/authorizationPolicy";
import { schemaIssues } from "../../components/validation/schema";
import { registered, settle, valueOf } from "./helpers/pulumiMocks";

describe("MeshExpansion passthroughGateway", () => {
  const me = new MeshExpansion("pt", {
    flavor: "istio",
    gatewayAddress: "192.0.2.10",
    passthroughGateway: {},
  });
  const custom = new MeshExpansion("pt-custom", {
    flavor: "istio",
    passthroughGateway: { name: "vm-passthrough", port: 16443, hosts: ["*.local", "*.internal"] },
  });
  const off = new MeshExpansion("pt-off", { flavor: "istio", passthroughGateway: { enabled: false } });

  it("creates Istio's cross-network-gateway: AUTO_PASSTHROUGH on 15443 for *.local on the east-west gateway", async () => {
    await valueOf(me.objects);
    await settle();
    const [gw] = registered("pt-passthrough-gateway");
    assert.ok(gw);
    assert.equal(gw.type, "kubernetes:networking.istio.io/v1:Gateway");
    assert.deepStrictEqual(gw.inputs, {
      apiVersion: "networking.istio.io/v1",
      kind: "Gateway",
      metadata: { name: "cross-network-gateway", namespace: "istio-system" },
      spec: {
        selector: { istio: "eastwestgateway" },
        servers: [
          {
            port: { name: "tls", number: 15443, protocol: "TLS" },
            tls: { mode: "AUTO_PASSTHROUGH" },
            hosts: ["*.local"],
          },
        ],
      },
    });
    assert.equal((await valueOf(me.objects)).length, 3);
  });

  it("outputs the address and port VMs dial", async () => {
    assert.equal(await valueOf(me.gatewayAddress), "192.0.2.10");
    assert.equal(await valueOf(me.passthroughPort), 15443);
    assert.equal(await valueOf(custom.passthroughPort), 16443);
    assert.equal(await valueOf(off.passthroughPort), undefined);
  });

  it("takes a name, port and hosts, and is off by default", async () => {
    await valueOf(custom.objects);
    await valueOf(off.objects);
    await settle();
    const [gw] = registered("pt-custom-passthrough-gateway");
    assert.ok(gw);
    const spec = gw.inputs as {
      metadata: { name: string };
      spec: { servers: { port: { number: number }; hosts: string[] }[] };
    };
    assert.equal(spec.metadata.name, "vm-passthrough");
    assert.equal(spec.spec.servers[0]!.port.number, 16443);
    assert.deepEqual(spec.spec.servers[0]!.hosts, ["*.local", "*.internal"]);
    assert.equal(registered("pt-off-passthrough-gateway").length, 0);
  });

  it("refuses bad settings at preview, naming the field and the fix", () => {
    assert.throws(
      () => new MeshExpansion("pt-bad", { flavor: "istio", passthroughGateway: { port: 70000 } }),
      /MeshExpansionArgs\.passthroughGateway\.port: port 70000 is not a whole number from 1 to 65535; use the gateway's passthrough port/,
    );
    assert.throws(
      () => new MeshExpansion("pt-bad2", { flavor: "istio", passthroughGateway: { hosts: ["bad host"] } }),
      /MeshExpansionArgs\.passthroughGateway\.hosts\[0\]: .* is not a DNS name/,
    );
    assert.throws(
      () => new MeshExpansion("pt-bad3", { flavor: "tsb", passthroughGateway: {} }),
      /MeshExpansionArgs\.passthroughGateway: is for flavor istio; TSB configures its gateways itself; remove passthroughGateway, or use flavor istio/,
    );
    assert.equal(
      registered("pt-bad").length + registered("pt-bad2").length + registered("pt-bad3").length,
      0,
    );
  });
});

describe("AuthorizationPolicy admitting a VM's principal", () => {
  const policy = renderVmAuthorizationPolicy({
    name: "allow-dev-laptop",
    namespace: "bookinfo",
    selector: { app: "reviews" },
    principal: principalOf("spiffe://cluster.local/ns/vms/sa/dev-laptop"),
  });

  it("allows the VM's principal to the selected workload only", () => {
    assert.deepStrictEqual(policy, {
      apiVersion: "security.istio.io/v1",
      kind: "AuthorizationPolicy",
      metadata: { name: "allow-dev-laptop", namespace: "bookinfo" },
      spec: {
        selector: { matchLabels: { app: "reviews" } },
        action: "ALLOW",
        rules: [{ from: [{ source: { principals: ["cluster.local/ns/vms/sa/dev-laptop"] } }] }],
      },
    });
  });

  it("fits Istio's schema", async () => {
    assert.deepEqual(await schemaIssues("test", [policy]), []);
  });
});
