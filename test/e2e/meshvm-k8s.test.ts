// MeshVm's mesh half with the real engine against a real kube-apiserver (Istio CRDs installed): the seeds'
// ratings example is accepted and reads back equal, a second up changes nothing, switching
// networking.istio.io/v1beta1 -> v1 updates in place (same objects, same UIDs), invalid inputs fail the
// preview with MeshVm's message before anything is created, and destroy removes everything. MeshExpansion:
// the TSB ControlPlane patch owns exactly spec.meshExpansion (stable field manager), and the istio flavor's
// Gateway/VirtualService are accepted by the apiserver.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parse } from "yaml";
import { MeshExpansion, MeshVm } from "../../components";
import { startCluster, type KubeObject, type TestCluster } from "../../scripts/testbed/cluster";
import {
  createTestStack,
  errors,
  kubernetesProvider,
  steps,
  type TestStack,
} from "../../scripts/testbed/pulumi";
import { ratingsVmArgs, seedSidecarYaml, seedWorkloadEntryYaml } from "../unit/fixtures/ratings";

const NS = "bookinfo";
const kinds = [
  { kind: "WorkloadEntry", plural: "workloadentries", name: "ratings-vm" },
  { kind: "Sidecar", plural: "sidecars", name: "bookinfo-ratings-no-iptables" },
  { kind: "ServiceEntry", plural: "serviceentries", name: "ratings-vm" },
];

function path(version: string, plural: string, name: string): string {
  return `/apis/networking.istio.io/${version}/namespaces/${NS}/${plural}/${name}`;
}

/** The parts of a live object a user wrote (server-populated metadata dropped). */
function userFields(o: KubeObject): KubeObject {
  const metadata: KubeObject = { name: o.metadata.name, namespace: o.metadata.namespace };
  if (o.metadata.annotations) metadata.annotations = o.metadata.annotations;
  if (o.metadata.labels) metadata.labels = o.metadata.labels;
  return { apiVersion: o.apiVersion, kind: o.kind, metadata, spec: o.spec };
}

/** Engine changes other than "same" (and reads). */
function changed(changes: Record<string, number | undefined> | undefined): [string, number | undefined][] {
  return Object.entries(changes ?? {}).filter(([op, n]) => op !== "same" && op !== "read" && (n ?? 0) > 0);
}

describe("MeshVm mesh objects on a real apiserver", { timeout: 15 * 60_000 }, () => {
  let cluster: TestCluster;
  let stack: TestStack;
  let apiVersion = "networking.istio.io/v1beta1";
  let destroyed = false;
  const uids = new Map<string, string>();

  const program = async (): Promise<Record<string, unknown>> => {
    const provider = kubernetesProvider("test-cluster", cluster.kubeconfig);
    const vm = new MeshVm(
      "ratings",
      { ...ratingsVmArgs, apiVersion, createServiceAccount: true },
      { providers: [provider] },
    );
    return { workloadEntryName: vm.workloadEntryName, spiffeId: vm.spiffeId, manifests: vm.manifests };
  };

  before(async () => {
    cluster = await startCluster();
    await cluster.createNamespace(NS);
    stack = await createTestStack({ program, projectName: "mesh-vm-meshvm-e2e" });
  });

  after(async () => {
    if (stack) {
      if (!destroyed && cluster) await stack.destroy().catch(() => undefined);
      await stack.dispose();
    }
    if (cluster) await cluster.stop();
  });

  it("preview plans the ratings objects without creating them", async () => {
    const preview = await stack.preview();
    assert.deepEqual(errors(preview.events), []);
    const planned = steps(preview.events);
    for (const s of [
      "create mesh-vm:index:MeshVm ratings",
      "create kubernetes:core/v1:ServiceAccount ratings-serviceaccount",
      "create kubernetes:networking.istio.io/v1beta1:WorkloadEntry ratings-workloadentry",
      "create kubernetes:networking.istio.io/v1beta1:Sidecar ratings-sidecar",
      "create kubernetes:networking.istio.io/v1beta1:ServiceEntry ratings-serviceentry",
    ]) {
      assert.ok(planned.includes(s), `preview should plan "${s}"; planned: ${planned.join(", ")}`);
    }
    assert.equal(
      (await cluster.request("GET", path("v1beta1", "workloadentries", "ratings-vm"))).status,
      404,
    );
  });

  it("up creates objects the apiserver accepts, and they read back equal to the seed's", async () => {
    const up = await stack.up();
    assert.equal(up.result.summary.result, "succeeded");
    assert.deepEqual(errors(up.events), []);

    const we = await cluster.request("GET", path("v1beta1", "workloadentries", "ratings-vm"));
    assert.equal(we.status, 200);
    assert.deepStrictEqual(userFields(we.body), parse(seedWorkloadEntryYaml));
    const sc = await cluster.request("GET", path("v1beta1", "sidecars", "bookinfo-ratings-no-iptables"));
    assert.equal(sc.status, 200);
    assert.deepStrictEqual(userFields(sc.body), parse(seedSidecarYaml));
    const se = await cluster.request("GET", path("v1beta1", "serviceentries", "ratings-vm"));
    assert.equal(se.status, 200);
    assert.deepStrictEqual(se.body.spec, {
      hosts: ["ratings-vm.bookinfo.svc.cluster.local"],
      location: "MESH_INTERNAL",
      ports: [{ name: "http", number: 9080, protocol: "HTTP" }],
      resolution: "STATIC",
      workloadSelector: { labels: { app: "ratings", class: "vm", version: "v3" } },
    });
    const sa = await cluster.request("GET", `/api/v1/namespaces/${NS}/serviceaccounts/bookinfo-ratings`);
    assert.equal(sa.status, 200);

    for (const k of kinds) {
      const r = await cluster.request("GET", path("v1beta1", k.plural, k.name));
      uids.set(k.kind, r.body.metadata.uid as string);
    }
    assert.equal(
      up.result.outputs["spiffeId"]?.value,
      "spiffe://cluster.local/ns/bookinfo/sa/bookinfo-ratings",
    );
    assert.equal(up.result.outputs["workloadEntryName"]?.value, "ratings-vm");
  });

  it("a second up changes nothing", async () => {
    const up = await stack.up();
    assert.deepEqual(
      changed(up.result.summary.resourceChanges),
      [],
      JSON.stringify(up.result.summary.resourceChanges),
    );
  });

  it("switching networking.istio.io/v1beta1 -> v1 updates in place and replaces nothing", async () => {
    apiVersion = "networking.istio.io/v1";
    const preview = await stack.preview();
    const planned = steps(preview.events);
    assert.ok(
      !planned.some((s) => /^(replace|create-replacement|delete-replaced|create|delete) /.test(s)),
      `no create/delete/replace planned: ${planned.join(", ")}`,
    );
    const up = await stack.up();
    assert.equal(up.result.summary.result, "succeeded");
    const changes: Record<string, number | undefined> = { ...up.result.summary.resourceChanges };
    for (const op of ["replace", "create", "delete", "create-replacement", "delete-replaced"]) {
      assert.equal(changes[op] ?? 0, 0, `${op}: ${JSON.stringify(changes)}`);
    }
    for (const k of kinds) {
      const r = await cluster.request("GET", path("v1", k.plural, k.name));
      assert.equal(r.status, 200);
      assert.equal(r.body.metadata.uid, uids.get(k.kind), `${k.kind} is the same object (same UID)`);
      assert.equal(r.body.apiVersion, "networking.istio.io/v1");
    }
    const again = await stack.up();
    assert.deepEqual(changed(again.result.summary.resourceChanges), [], "and a further up changes nothing");
  });

  it("invalid inputs fail the preview with MeshVm's message, creating nothing", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", join(__dirname, "meshvm-invalid-preview.ts")], {
      encoding: "utf8",
      timeout: 5 * 60_000,
      env: { ...process.env, MESH_VM_TEST_KUBECONFIG: cluster.kubeconfigPath },
    });
    assert.equal(r.status, 0, r.stderr);
    const line = r.stdout.split("\n").find((l) => l.startsWith("RESULT "));
    assert.ok(line, r.stdout);
    const result = JSON.parse(line.slice("RESULT ".length)) as { rejected: boolean; diagnostics: string[] };
    assert.equal(result.rejected, true, "the preview fails");
    assert.ok(
      result.diagnostics.some((d) =>
        d.includes(
          'MeshVmArgs.ports["http"].number: port 70000 is out of range 1-65535; use a port between 1 and 65535',
        ),
      ),
      `the engine reports MeshVm's validation message: ${JSON.stringify(result.diagnostics)}`,
    );
  });

  it("nothing of the invalid MeshVm reached the cluster", async () => {
    assert.equal((await cluster.request("GET", path("v1", "workloadentries", "bad-vm"))).status, 404);
  });

  it("destroy removes every object", async () => {
    const d = await stack.destroy();
    assert.equal(d.result.summary.result, "succeeded");
    destroyed = true;
    for (const k of kinds) {
      assert.equal((await cluster.request("GET", path("v1", k.plural, k.name))).status, 404, k.kind);
    }
    assert.equal(
      (await cluster.request("GET", `/api/v1/namespaces/${NS}/serviceaccounts/bookinfo-ratings`)).status,
      404,
    );
  });
});

const controlPlaneCrd = {
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: "controlplanes.install.tetrate.io" },
  spec: {
    group: "install.tetrate.io",
    names: {
      kind: "ControlPlane",
      plural: "controlplanes",
      singular: "controlplane",
      listKind: "ControlPlaneList",
    },
    scope: "Namespaced",
    versions: [
      {
        name: "v1alpha1",
        served: true,
        storage: true,
        schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } },
      },
    ],
  },
};

async function waitFor(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail(`timed out waiting for ${what}`);
}

describe("MeshExpansion on a real apiserver", { timeout: 15 * 60_000 }, () => {
  let cluster: TestCluster;
  const stacks: TestStack[] = [];
  const cpPath = "/apis/install.tetrate.io/v1alpha1/namespaces/istio-system/controlplanes/controlplane";

  before(async () => {
    cluster = await startCluster();
    await cluster.createNamespace("istio-system");
    // A stand-in for TSB's ControlPlane CRD and the object its operator would own.
    const crd = await cluster.request(
      "POST",
      "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
      controlPlaneCrd,
    );
    assert.equal(crd.status, 201, JSON.stringify(crd.body));
    await waitFor("the ControlPlane CRD", async () => {
      const r = await cluster.request(
        "GET",
        `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${controlPlaneCrd.metadata.name}`,
      );
      return (r.body.status?.conditions ?? []).some(
        (c: KubeObject) => c.type === "Established" && c.status === "True",
      );
    });
    await waitFor("the ControlPlane API", async () => {
      const r = await cluster.request(
        "POST",
        "/apis/install.tetrate.io/v1alpha1/namespaces/istio-system/controlplanes",
        {
          apiVersion: "install.tetrate.io/v1alpha1",
          kind: "ControlPlane",
          metadata: { name: "controlplane", namespace: "istio-system" },
          spec: { hub: "registry.example/tetrate", telemetryStore: { elastic: { host: "es.example" } } },
        },
      );
      return r.status === 201;
    });
  });

  after(async () => {
    for (const s of stacks) {
      if (cluster) await s.destroy().catch(() => undefined);
      await s.dispose();
    }
    if (cluster) await cluster.stop();
  });

  it("flavor tsb patches only spec.meshExpansion, with field manager mesh-vm; a second up changes nothing", async () => {
    const stack = await createTestStack({
      projectName: "mesh-vm-expansion-tsb-e2e",
      program: async () => {
        const provider = kubernetesProvider("test-cluster", cluster.kubeconfig);
        const me = new MeshExpansion("expansion", { flavor: "tsb" }, { providers: [provider] });
        return { firewallPorts: me.firewallPorts };
      },
    });
    stacks.push(stack);
    const up = await stack.up();
    assert.equal(up.result.summary.result, "succeeded");
    assert.deepEqual(up.result.outputs["firewallPorts"]?.value, [15012, 15443, 9411, 11800]);
    const cp = await cluster.request("GET", cpPath);
    assert.deepStrictEqual(cp.body.spec, {
      hub: "registry.example/tetrate",
      telemetryStore: { elastic: { host: "es.example" } },
      meshExpansion: {},
    });
    const managers = (cp.body.metadata.managedFields as KubeObject[]).filter((m) => m.manager === "mesh-vm");
    assert.equal(managers.length, 1, JSON.stringify(cp.body.metadata.managedFields));
    assert.equal(managers[0]!.operation, "Apply");
    assert.deepStrictEqual(managers[0]!.fieldsV1["f:spec"], {
      // "." marks the map itself; under spec the patch owns meshExpansion and nothing else.
      ".": {},
      "f:meshExpansion": {},
    });

    const again = await stack.up();
    assert.deepEqual(
      changed(again.result.summary.resourceChanges),
      [],
      JSON.stringify(again.result.summary.resourceChanges),
    );
  });

  it("flavor istio creates istiod-gateway and istiod-vs that read back as rendered", async () => {
    const stack = await createTestStack({
      projectName: "mesh-vm-expansion-istio-e2e",
      program: async () => {
        const provider = kubernetesProvider("test-cluster", cluster.kubeconfig);
        const me = new MeshExpansion("expansion", { flavor: "istio" }, { providers: [provider] });
        return { objects: me.objects };
      },
    });
    stacks.push(stack);
    const up = await stack.up();
    assert.equal(up.result.summary.result, "succeeded");
    const [gateway, virtualService] = up.result.outputs["objects"]?.value as KubeObject[];
    const gw = await cluster.request(
      "GET",
      "/apis/networking.istio.io/v1/namespaces/istio-system/gateways/istiod-gateway",
    );
    assert.equal(gw.status, 200);
    assert.deepStrictEqual(userFields(gw.body), gateway);
    const vs = await cluster.request(
      "GET",
      "/apis/networking.istio.io/v1/namespaces/istio-system/virtualservices/istiod-vs",
    );
    assert.equal(vs.status, 200);
    assert.deepStrictEqual(userFields(vs.body), virtualService);
    const again = await stack.up();
    assert.deepEqual(changed(again.result.summary.resourceChanges), []);
  });
});
