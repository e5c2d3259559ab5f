// MeshExpansion with Pulumi mocks: the TSB ControlPlane patch (as the seeds' kubectl patch) and istiod exposed
// through the east-west gateway (as upstream's expose-istiod.yaml).
import "./helpers/pulumiMocks";
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MeshExpansion } from "../../components";
import { readTsbOnboardingSeed } from "./fixtures/seeds";
import { registered, settle, valueOf } from "./helpers/pulumiMocks";

describe("MeshExpansion flavor tsb", () => {
  const me = new MeshExpansion("tsb", { flavor: "tsb", gatewayAddress: "203.0.113.10" });

  it("patches ControlPlane controlplane in istio-system with exactly the seed's patch, stable field manager", async () => {
    await valueOf(me.objects);
    await settle();
    const [patch] = registered("tsb-controlplane");
    assert.ok(patch);
    assert.equal(patch.type, "kubernetes:install.tetrate.io/v1alpha1:ControlPlanePatch");
    const m = /--patch '(\{.*\})'/.exec(readTsbOnboardingSeed());
    assert.ok(m, "the seed's kubectl patch");
    const seedPatch = JSON.parse(m[1]!) as Record<string, unknown>;
    assert.deepStrictEqual(patch.inputs, {
      apiVersion: "install.tetrate.io/v1alpha1",
      kind: "ControlPlane",
      metadata: {
        name: "controlplane",
        namespace: "istio-system",
        annotations: { "pulumi.com/patchFieldManager": "mesh-vm" },
      },
      ...seedPatch,
    });
    assert.equal(registered("tsb-gateway").length + registered("tsb-virtualservice").length, 0);
  });

  it("outputs the gateway address and the TSB firewall ports", async () => {
    assert.equal(await valueOf(me.gatewayAddress), "203.0.113.10");
    assert.deepStrictEqual(await valueOf(me.firewallPorts), [15012, 15443, 9411, 11800]);
    assert.equal(await valueOf(me.istiodHost), "istiod.istio-system.svc");
  });
});

describe("MeshExpansion flavor istio", () => {
  const me = new MeshExpansion("istio", { flavor: "istio" });
  const custom = new MeshExpansion("istio-rev", {
    flavor: "istio",
    gatewaySelector: { app: "vm-gateway" },
    revision: "1-30",
    apiVersion: "v1beta1",
  });

  it("creates Gateway istiod-gateway with TLS passthrough on 15012 and 15017", async () => {
    await valueOf(me.objects);
    await settle();
    const [gw] = registered("istio-gateway");
    assert.ok(gw);
    assert.equal(gw.type, "kubernetes:networking.istio.io/v1:Gateway");
    const server = (name: string, number: number) => ({
      port: { name, number, protocol: "TLS" },
      tls: { mode: "PASSTHROUGH" },
      hosts: ["*"],
    });
    assert.deepStrictEqual(gw.inputs, {
      apiVersion: "networking.istio.io/v1",
      kind: "Gateway",
      metadata: { name: "istiod-gateway", namespace: "istio-system" },
      spec: {
        selector: { istio: "eastwestgateway" },
        servers: [server("tls-istiod", 15012), server("tls-istiodwebhook", 15017)],
      },
    });
  });

  it("creates VirtualService istiod-vs routing 15012->istiod:15012 and 15017->istiod:443", async () => {
    await settle();
    const [vs] = registered("istio-virtualservice");
    assert.ok(vs);
    const route = (port: number, target: number) => ({
      match: [{ port, sniHosts: ["*"] }],
      route: [{ destination: { host: "istiod.istio-system.svc.cluster.local", port: { number: target } } }],
    });
    assert.deepStrictEqual(vs.inputs, {
      apiVersion: "networking.istio.io/v1",
      kind: "VirtualService",
      metadata: { name: "istiod-vs", namespace: "istio-system" },
      spec: { hosts: ["*"], gateways: ["istiod-gateway"], tls: [route(15012, 15012), route(15017, 443)] },
    });
    assert.equal(registered("istio-controlplane").length, 0);
  });

  it("takes a custom selector, revision and apiVersion", async () => {
    await valueOf(custom.objects);
    await settle();
    const [gw] = registered("istio-rev-gateway");
    const [vs] = registered("istio-rev-virtualservice");
    assert.ok(gw && vs);
    assert.equal(gw.type, "kubernetes:networking.istio.io/v1beta1:Gateway");
    assert.deepStrictEqual((gw.inputs as { spec: { selector: unknown } }).spec.selector, {
      app: "vm-gateway",
    });
    const vsSpec = (vs.inputs as { spec: { tls: { route: { destination: { host: string } }[] }[] } }).spec;
    assert.equal(vsSpec.tls[0]!.route[0]!.destination.host, "istiod-1-30.istio-system.svc.cluster.local");
    assert.equal(await valueOf(custom.istiodHost), "istiod-1-30.istio-system.svc");
  });

  it("outputs the Istio firewall ports and no address unless given", async () => {
    assert.deepStrictEqual(await valueOf(me.firewallPorts), [15012, 15443]);
    assert.equal(await valueOf(me.gatewayAddress), undefined);
  });

  it("rejects bad inputs before creating anything", () => {
    assert.throws(
      () => new MeshExpansion("bad", { flavor: "consul" }),
      /MeshExpansionArgs\.flavor: flavor "consul" is not supported; use one of tsb, istio/,
    );
    assert.throws(
      () => new MeshExpansion("bad2", { flavor: "istio", gatewaySelector: {} }),
      /MeshExpansionArgs\.gatewaySelector: an empty selector would match every gateway/,
    );
    assert.equal(registered("bad").length, 0);
  });
});
