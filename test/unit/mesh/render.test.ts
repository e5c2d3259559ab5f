// Pure renderers, on cases the seeds do not cover.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { renderMeshVmObjects, resolveMeshVmArgs, spiffeId } from "../../../components";
import { cartVmArgs as base } from "../fixtures/cart";

describe("renderers", () => {
  it("defaults: name from the component, /etc/istio-proxy, class label, egress 127.0.0.2 ./*, HTTP, 127.0.0.1 endpoints", () => {
    const o = renderMeshVmObjects(resolveMeshVmArgs("cart-vm", base));
    assert.deepStrictEqual(o.workloadEntry, {
      apiVersion: "networking.istio.io/v1",
      kind: "WorkloadEntry",
      metadata: {
        name: "cart-vm",
        namespace: "shop",
        // MeshVm's default directory differs from tctl's /tmp/istio-proxy, so it is written for tctl too.
        annotations: { "sidecar-bootstrap.istio.io/proxy-config-dir": "/etc/istio-proxy" },
      },
      spec: {
        address: "2001:db8::10",
        labels: { app: "cart", version: "v1", class: "vm" },
        ports: { http: 18080 },
        serviceAccount: "cart",
      },
    });
    assert.deepStrictEqual(o.sidecar, {
      apiVersion: "networking.istio.io/v1",
      kind: "Sidecar",
      metadata: { name: "shop-cart-no-iptables", namespace: "shop" },
      spec: {
        egress: [{ bind: "127.0.0.2", hosts: ["./*"] }],
        ingress: [
          { defaultEndpoint: "127.0.0.1:8080", port: { name: "http", number: 8080, protocol: "HTTP" } },
          {
            defaultEndpoint: "unix:///run/cart.sock",
            port: { name: "grpc", number: 9090, protocol: "GRPC" },
          },
        ],
        workloadSelector: { labels: { app: "cart", class: "vm" } },
      },
    });
    assert.deepStrictEqual(o.serviceEntry?.spec.hosts, ["cart-vm.shop.svc.cluster.local"]);
    assert.deepStrictEqual(o.serviceEntry?.spec.ports, [
      { name: "http", number: 8080, protocol: "HTTP" },
      { name: "grpc", number: 9090, protocol: "GRPC" },
    ]);
  });

  it("WorkloadGroup template, locality, weight, network, custom trust domain, ServiceAccount", () => {
    const s = resolveMeshVmArgs("cart-vm", {
      ...base,
      network: "vpc-1",
      locality: "eu-west1/eu-west1-b",
      weight: 5,
      trustDomain: "example.org",
      vmClassLabel: "",
      createServiceAccount: true,
      workloadGroup: { enabled: true, name: "cart" },
      egress: [],
      sidecar: { selectorLabelKeys: ["app"], outboundTrafficPolicyMode: "REGISTRY_ONLY" },
    });
    const o = renderMeshVmObjects(s);
    assert.deepStrictEqual(o.workloadGroup, {
      apiVersion: "networking.istio.io/v1",
      kind: "WorkloadGroup",
      metadata: { name: "cart", namespace: "shop" },
      spec: {
        metadata: { labels: { app: "cart", version: "v1" } },
        template: {
          serviceAccount: "cart",
          ports: { http: 18080 },
          network: "vpc-1",
          locality: "eu-west1/eu-west1-b",
          weight: 5,
        },
      },
    });
    assert.equal(o.workloadEntry.spec.locality, "eu-west1/eu-west1-b");
    assert.equal(o.workloadEntry.spec.weight, 5);
    assert.equal(o.sidecar?.spec.egress, undefined);
    assert.deepStrictEqual(o.sidecar?.spec.outboundTrafficPolicy, { mode: "REGISTRY_ONLY" });
    assert.deepStrictEqual(o.serviceAccount, {
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: { name: "cart", namespace: "shop" },
    });
    assert.equal(
      spiffeId(s.trustDomain, s.namespace, s.serviceAccount),
      "spiffe://example.org/ns/shop/sa/cart",
    );
  });
});
