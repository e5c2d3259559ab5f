// MeshVm with runtime "envoy" and `authorize` on its upstreams: one ALLOW AuthorizationPolicy per such upstream,
// in the destination's namespace, admitting the VM's principal to the selected workloads; shown in `objects`
// and `manifests`; a bad selector fails before anything is registered, naming the field and the fix.
import { registered, registrations, settle, valueOf } from "./helpers/pulumiMocks";
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MeshVm, MeshVmValidationError } from "../../components";
import type { MeshVmArgs, MeshVmHostArgs } from "../../components";
import { upstreamAuthorizationPolicies } from "../../components/meshVmAuthorization";
import { KUBECONFIG } from "./fixtures/kubeconfig";
import { selfSignedWorkload } from "./runtime/envoyFixtures";

const reviews = {
  host: "reviews.bookinfo.svc.cluster.local",
  port: 9080,
  serviceAccount: "bookinfo-reviews",
  localPort: 9080,
};
const ratings = {
  host: "ratings.bookinfo.svc.cluster.local",
  port: 9080,
  serviceAccount: "bookinfo-ratings",
  localPort: 9081,
};

function hostWith(upstreams: unknown[]): MeshVmHostArgs {
  return {
    hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKey",
    prepare: { admin: { user: "root", privateKey: "ADMIN-PRIVATE-KEY-SECRET" } },
    kubeconfig: KUBECONFIG,
    runtime: "envoy",
    envoy: { gatewayAddress: "192.0.2.10", upstreams: upstreams as never },
  };
}

const vmArgs = (upstreams: unknown[]): MeshVmArgs => ({
  namespace: "vms",
  address: "203.0.113.10",
  serviceAccount: "dev-laptop",
  labels: { app: "dev-laptop" },
  sidecar: { enabled: false },
  serviceEntry: { enabled: false },
  host: hostWith(upstreams),
});

describe("MeshVm runtime envoy: AuthorizationPolicy per upstream", () => {
  const upstreams = [
    { ...reviews, authorize: { selector: { app: "reviews" } } },
    ratings,
    {
      ...reviews,
      port: 9443,
      localPort: 9082,
      namespace: "bookinfo",
      authorize: { selector: { app: "reviews", version: "v2" }, name: "allow-laptop" },
    },
  ];
  const vm = new MeshVm("dev-laptop", vmArgs(upstreams));

  it("declares one ALLOW policy per upstream with authorize, in the destination's namespace", async () => {
    assert.deepEqual(await valueOf(vm.authorizationPolicyNames), [
      "dev-laptop-to-reviews-9080",
      "allow-laptop",
    ]);
    const mine = registrations.filter((r) => r.name.startsWith("dev-laptop-authorizationpolicy-"));
    assert.deepEqual(
      mine.map((r) => r.name),
      [
        "dev-laptop-authorizationpolicy-reviews.bookinfo.svc.cluster.local-9080",
        "dev-laptop-authorizationpolicy-reviews.bookinfo.svc.cluster.local-9443",
      ],
    );
    const first = mine[0]!.inputs;
    assert.equal(first["apiVersion"], "security.istio.io/v1");
    assert.equal(first["kind"], "AuthorizationPolicy");
    assert.deepEqual(first["metadata"], { name: "dev-laptop-to-reviews-9080", namespace: "bookinfo" });
    assert.deepEqual(first["spec"], {
      selector: { matchLabels: { app: "reviews" } },
      action: "ALLOW",
      rules: [{ from: [{ source: { principals: ["cluster.local/ns/vms/sa/dev-laptop"] } }] }],
    });
    assert.deepEqual((mine[1]!.inputs["spec"] as { selector: unknown }).selector, {
      matchLabels: { app: "reviews", version: "v2" },
    });
  });

  it("shows the policies in objects and manifests", async () => {
    const objects = await valueOf(vm.objects);
    assert.equal(objects.authorizationPolicies?.length, 2);
    const manifests = await valueOf(vm.manifests);
    assert.match(manifests, /kind: AuthorizationPolicy\n[\s\S]*name: dev-laptop-to-reviews-9080/);
    assert.match(manifests, /- cluster.local\/ns\/vms\/sa\/dev-laptop/);
  });

  it("declares none without authorize", async () => {
    const plain = new MeshVm("no-authz", vmArgs([reviews]));
    assert.deepEqual(await valueOf(plain.authorizationPolicyNames), []);
    assert.equal((await valueOf(plain.objects)).authorizationPolicies, undefined);
  });

  it("follows the VM's trust domain and service account", () => {
    const [p] = upstreamAuthorizationPolicies(
      { name: "w", namespace: "edge", serviceAccount: "laptop-sa", trustDomain: "corp.example" },
      [{ ...reviews, subset: "v1", authorize: { selector: { app: "reviews" } } }],
    );
    assert.equal(p!.metadata.name, "w-to-reviews-9080-v1");
    assert.deepEqual(p!.spec.rules[0]!.from[0]!.source.principals, ["corp.example/ns/edge/sa/laptop-sa"]);
  });

  const cases = [
    [
      "an empty selector",
      { selector: {} },
      /host\.envoy\.upstreams\[0\]\.authorize\.selector: .* is not a non-empty map of labels; give the destination's pod labels/,
    ],
    [
      "a wildcard",
      { selector: { app: "rev*" } },
      /host\.envoy\.upstreams\[0\]\.authorize\.selector\["app"\]: label value "rev\*" has a wildcard/,
    ],
    [
      "a bad name",
      { selector: { app: "reviews" }, name: "Allow_Laptop" },
      /host\.envoy\.upstreams\[0\]\.authorize\.name: "Allow_Laptop" is not a DNS-1123 subdomain/,
    ],
    [
      "an unknown key",
      { selector: { app: "reviews" }, principals: ["x"] },
      /host\.envoy\.upstreams\[0\]\.authorize\.principals: unknown key "principals"; remove it/,
    ],
  ] as const;
  for (const [i, [what, authorize, message]] of cases.entries()) {
    it(`refuses ${what} at preview, before anything is registered`, () => {
      const before = registrations.length;
      assert.throws(
        () => new MeshVm(`bad-${i}`, vmArgs([{ ...reviews, authorize }])),
        (e: unknown) => e instanceof MeshVmValidationError && message.test(e.message),
      );
      assert.equal(registrations.length, before);
    });
  }
});

describe("MeshVm runtime envoy with a certificate handed in", () => {
  it("refuses one for another identity than the VM's at preview, naming the field", () => {
    // A self-signed leaf for another ServiceAccount: the pair itself is fine, the identity is not MeshVm's.
    const other = selfSignedWorkload("spiffe://cluster.local/ns/vms/sa/someone-else");
    const args = vmArgs([reviews]);
    args.host!.envoy!.certificate = { provided: { certChain: other.cert, privateKey: other.key } };
    assert.throws(
      () => new MeshVm("provided-other", args),
      (e: unknown) =>
        e instanceof MeshVmValidationError &&
        /MeshVmArgs\.host\.envoy\.certificate\.provided\.certChain: its first certificate is for spiffe:\/\/cluster\.local\/ns\/vms\/sa\/someone-else, not the VM's spiffe:\/\/cluster\.local\/ns\/vms\/sa\/dev-laptop/.test(
          e.message,
        ),
    );
  });
});

describe("MeshVm runtime envoy: no WorkloadEntry sync (seed 003)", () => {
  const kindsOf = async (prefix: string) => {
    await settle();
    return (
      registered(prefix)
        // (ConfigMaps: the mesh and cluster roots the VmProxy reads, not declared objects.)
        .filter((r) => r.type.startsWith("kubernetes:") && r.type !== "kubernetes:core/v1:ConfigMap")
        .map((r) => String(r.inputs["kind"] ?? r.type))
        .sort()
    );
  };

  it("declares only the ServiceAccount (its identity) and the policies: no WorkloadEntry, Sidecar or ServiceEntry", async () => {
    const vm = new MeshVm("envoy-only", {
      namespace: "vms",
      address: "203.0.113.10",
      serviceAccount: "envoy-only",
      createServiceAccount: true,
      labels: { app: "envoy-only" },
      ports: [{ name: "http", number: 8080 }],
      host: hostWith([{ ...reviews, authorize: { selector: { app: "reviews" } } }]),
    });
    assert.equal(await valueOf(vm.workloadEntryName), undefined);
    assert.equal(await valueOf(vm.sidecarName), undefined);
    assert.equal(await valueOf(vm.serviceEntryName), undefined);
    assert.equal(await valueOf(vm.namespace), "vms");
    assert.equal(await valueOf(vm.spiffeId), "spiffe://cluster.local/ns/vms/sa/envoy-only");
    assert.deepEqual(await kindsOf("envoy-only-"), ["AuthorizationPolicy", "ServiceAccount"]);
    const objects = await valueOf(vm.objects);
    assert.deepEqual(Object.keys(objects).sort(), ["authorizationPolicies", "serviceAccount"]);
    assert.doesNotMatch(await valueOf(vm.manifests), /WorkloadEntry|Sidecar|ServiceEntry/);
    // The proxy still gets the VM's identity and address.
    const proxy = registered("envoy-only-proxy").find((r) => r.type === "mesh-vm:index:VmProxy");
    assert.ok(proxy, "the VmProxy child is declared");
  });

  it("with an inbound listener, a ServiceEntry whose endpoint is the VM's Envoy, Istio mTLS, the VM's identity", async () => {
    const host = hostWith([reviews]);
    host.envoy!.inbound = { port: 15006, targetPort: 8080 };
    const vm = new MeshVm("envoy-inbound", {
      namespace: "vms",
      address: "203.0.113.11",
      serviceAccount: "envoy-inbound",
      labels: { app: "envoy-inbound" },
      ports: [{ name: "http", number: 8080, protocol: "HTTP" }],
      host,
    });
    assert.equal(await valueOf(vm.workloadEntryName), undefined);
    assert.equal(await valueOf(vm.serviceEntryName), "envoy-inbound");
    assert.deepEqual(await kindsOf("envoy-inbound-"), ["ServiceEntry"]);
    const se = registered("envoy-inbound-serviceentry")[0]!;
    assert.deepEqual(se.inputs["spec"], {
      hosts: ["envoy-inbound.vms.svc.cluster.local"],
      location: "MESH_INTERNAL",
      ports: [{ name: "http", number: 8080, protocol: "HTTP" }],
      resolution: "STATIC",
      endpoints: [
        {
          address: "203.0.113.11",
          ports: { http: 15006 },
          labels: { app: "envoy-inbound", class: "vm", "security.istio.io/tlsMode": "istio" },
          serviceAccount: "envoy-inbound",
        },
      ],
    });
  });

  const refusals = [
    [
      "sidecar.enabled",
      { sidecar: { enabled: true } },
      /MeshVmArgs\.sidecar\.enabled: the envoy runtime \(MeshVmArgs\.host\.runtime\) takes no configuration from istiod: there is no Sidecar to render; remove MeshVmArgs\.sidecar/,
    ],
    [
      "workloadGroup.enabled",
      { workloadGroup: { enabled: true } },
      /MeshVmArgs\.workloadGroup\.enabled: .* there is no WorkloadGroup to render/,
    ],
    [
      "serviceEntry.enabled without inbound",
      { serviceEntry: { enabled: true } },
      /MeshVmArgs\.serviceEntry\.enabled: the VM has no inbound listener \(MeshVmArgs\.host\.envoy\.inbound\) for a ServiceEntry to point the mesh at; set MeshVmArgs\.host\.envoy\.inbound, or remove MeshVmArgs\.serviceEntry/,
    ],
  ] as const;
  for (const [i, [what, extra, message]] of refusals.entries()) {
    it(`refuses ${what} for an envoy VM at preview, before anything is registered`, () => {
      const before = registrations.length;
      assert.throws(
        () =>
          new MeshVm(`envoy-bad-${i}`, {
            namespace: "vms",
            address: "203.0.113.12",
            serviceAccount: "dev-laptop",
            labels: { app: "dev-laptop" },
            ...extra,
            host: hostWith([reviews]),
          }),
        (e: unknown) => e instanceof MeshVmValidationError && message.test(e.message),
      );
      assert.equal(registrations.length, before);
    });
  }

  it("an inbound listener without ports is refused: the ServiceEntry needs the service's port", () => {
    const host = hostWith([reviews]);
    host.envoy!.inbound = { port: 15006, targetPort: 8080 };
    assert.throws(
      () =>
        new MeshVm("envoy-noports", {
          namespace: "vms",
          address: "203.0.113.13",
          serviceAccount: "x",
          labels: { app: "x" },
          host,
        }),
      (e: unknown) =>
        e instanceof MeshVmValidationError &&
        /MeshVmArgs\.ports: a ServiceEntry needs at least one port/.test(e.message),
    );
  });
});
