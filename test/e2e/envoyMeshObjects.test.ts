// The mesh side of the envoy runtime on a real API server with Istio's CRDs (their OpenAPI schemas and CEL
// rules): MeshExpansion's AUTO_PASSTHROUGH Gateway through the engine, and the AuthorizationPolicy admitting a
// VM's principal, each read back as rendered; a second up changes nothing. The CEL check is real: the same
// API server refuses a policy whose selector holds a wildcard. The ServiceEntry MeshVm declares for an envoy VM
// with an inbound listener (the VM as its endpoint, no WorkloadEntry) is accepted as rendered.
import * as k8s from "@pulumi/kubernetes";
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { MeshExpansion } from "../../components";
import type { renderVmAuthorizationPolicy } from "../../components/mesh/authorizationPolicy";
import { upstreamAuthorizationPolicies } from "../../components/meshVmAuthorization";
import {
  passthroughGatewayDefaults,
  renderPassthroughGateway,
} from "../../components/mesh/passthroughGateway";
import { renderEnvoyServiceEntry } from "../../components/mesh/envoyVmObjects";
import { resolveMeshVmArgs } from "../../components/meshVmResolve";
import { startCluster, type KubeObject, type TestCluster } from "../../scripts/testbed/cluster";
import {
  changedSteps,
  createTestStack,
  kubernetesProvider,
  type TestStack,
} from "../../scripts/testbed/pulumi";
import { tearDown } from "../../scripts/testbed/teardown";

// The policy MeshVm declares for an upstream with `authorize` (the same renderer, components/meshVmAuthorization.ts).
const [policy] = upstreamAuthorizationPolicies(
  { name: "dev-laptop", namespace: "vms", serviceAccount: "dev-laptop", trustDomain: "cluster.local" },
  [
    {
      host: "reviews.bookinfo.svc.cluster.local",
      port: 9080,
      serviceAccount: "bookinfo-reviews",
      localPort: 9080,
      authorize: { selector: { app: "reviews" } },
    },
  ],
) as [ReturnType<typeof renderVmAuthorizationPolicy>];

function userFields(o: KubeObject): KubeObject {
  return {
    apiVersion: o.apiVersion,
    kind: o.kind,
    metadata: { name: o.metadata.name, namespace: o.metadata.namespace },
    spec: o.spec,
  };
}

describe("envoy runtime: mesh objects on a real API server", { timeout: 10 * 60_000 }, () => {
  let cluster: TestCluster | undefined;
  let stack: TestStack | undefined;

  before(async () => {
    cluster = await startCluster();
    await cluster.createNamespace("istio-system");
    await cluster.createNamespace("bookinfo");
    await cluster.createNamespace("vms");
  });
  after(() => tearDown({ stacks: [stack], cluster }));

  it("creates the passthrough Gateway and the AuthorizationPolicy as rendered; a second up changes nothing", async () => {
    stack = await createTestStack({
      projectName: "mesh-vm-envoy-mesh-e2e",
      program: async () => {
        const provider = kubernetesProvider("test-cluster", cluster!.kubeconfig);
        const me = new MeshExpansion(
          "expansion",
          { flavor: "istio", gatewayAddress: "192.0.2.10", passthroughGateway: {} },
          { providers: [provider] },
        );
        new k8s.apiextensions.CustomResource("allow-dev-laptop", policy, { provider });
        return {
          objects: me.objects,
          passthroughPort: me.passthroughPort,
          gatewayAddress: me.gatewayAddress,
        };
      },
    });
    const up = await stack.up();
    assert.equal(up.result.summary.result, "succeeded");
    assert.equal(up.result.outputs["passthroughPort"]?.value, 15443);
    assert.equal(up.result.outputs["gatewayAddress"]?.value, "192.0.2.10");
    const rendered = (up.result.outputs["objects"]?.value as KubeObject[]).find(
      (o) => o.metadata.name === "cross-network-gateway",
    );
    assert.ok(rendered);
    const gw = await cluster!.request(
      "GET",
      "/apis/networking.istio.io/v1/namespaces/istio-system/gateways/cross-network-gateway",
    );
    assert.equal(gw.status, 200);
    assert.deepStrictEqual(userFields(gw.body), rendered);
    assert.equal(gw.body.spec.servers[0].tls.mode, "AUTO_PASSTHROUGH");
    const ap = await cluster!.request(
      "GET",
      "/apis/security.istio.io/v1/namespaces/bookinfo/authorizationpolicies/dev-laptop-to-reviews-9080",
    );
    assert.equal(ap.status, 200);
    assert.deepStrictEqual(userFields(ap.body), policy);

    const again = await stack.up();
    assert.deepEqual(changedSteps(again.events), []);
  });

  it("the API server accepts the rendered passthrough Gateway and AuthorizationPolicy as they are", async () => {
    const gateway = renderPassthroughGateway({
      apiVersion: "networking.istio.io/v1",
      namespace: "bookinfo",
      name: "direct-passthrough",
      selector: { istio: "eastwestgateway" },
      port: passthroughGatewayDefaults.port,
      hosts: [...passthroughGatewayDefaults.hosts],
    });
    const direct = { ...policy, metadata: { ...policy.metadata, name: "direct-allow" } };
    for (const [path, obj] of [
      ["/apis/networking.istio.io/v1/namespaces/bookinfo/gateways", gateway],
      ["/apis/security.istio.io/v1/namespaces/bookinfo/authorizationpolicies", direct],
    ] as const) {
      const r = await cluster!.request("POST", path, obj);
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assert.deepStrictEqual(userFields(r.body), obj);
    }
  });

  it("the API server's CEL rules are in force: a wildcard in the policy's selector is refused", async () => {
    const bad = {
      ...policy,
      metadata: { ...policy.metadata, name: "bad" },
      spec: { ...policy.spec, selector: { matchLabels: { app: "rev*" } } },
    };
    const r = await cluster!.request(
      "POST",
      "/apis/security.istio.io/v1/namespaces/bookinfo/authorizationpolicies",
      bad,
    );
    assert.equal(r.status, 422, JSON.stringify(r.body));
    assert.match(String(r.body.message), /wildcard not allowed in label value match/);
  });

  it("the API server accepts the ServiceEntry of an envoy VM's inbound listener as rendered (endpoints, no selector)", async () => {
    const se = renderEnvoyServiceEntry(
      resolveMeshVmArgs("dev-vm", {
        namespace: "vms",
        address: "198.51.100.20",
        serviceAccount: "dev-vm",
        labels: { app: "dev-vm" },
        ports: [{ name: "http", number: 8080, protocol: "HTTP" }],
      }),
      15006,
    );
    const r = await cluster!.request(
      "POST",
      "/apis/networking.istio.io/v1/namespaces/vms/serviceentries",
      se,
    );
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.deepStrictEqual(userFields(r.body), se);
    assert.deepEqual(r.body.spec.endpoints[0].ports, { http: 15006 });
    assert.equal(r.body.spec.workloadSelector, undefined);
  });
});
