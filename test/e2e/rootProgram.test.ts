// The root program (Pulumi.yaml + components/stack/) with the real engine against a real kube-apiserver, driven
// by a stack file as a user writes it: a mesh-only config (VMs without `host`, MeshExpansion flavor istio) is
// previewed without touching the cluster, `up` creates the WorkloadEntry/Sidecar/ServiceEntry (and the istiod
// Gateway/VirtualService) and outputs each VM's summary, the kubeconfig stays encrypted in state, a second `up`
// changes nothing; broken stack configs (missing address, bad port, unknown key) fail `preview` and `up` with
// the key path and the stack file named, and nothing reaches the cluster or the state.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parse } from "yaml";
import { onboardFromConfig } from "../../components/stack/program";
import { startCluster, type TestCluster } from "../../scripts/testbed/cluster";
import { errors, steps } from "../../scripts/testbed/pulumi";
import { rootProjectStack, type RootProjectStack } from "../../scripts/testbed/rootProject";

const NS = "bookinfo";

/** The stack file's `mesh-vm:` config: two VMs of the seeds' bookinfo (one per network), mesh side only. */
const meshOnlyConfig = {
  clusterIdentifier: "mesh-vm-test-cluster",
  meshExpansion: { gatewayAddress: "198.51.100.1" },
  vms: [
    {
      name: "ratings-vm",
      namespace: NS,
      address: "198.51.100.10",
      serviceAccount: "bookinfo-ratings",
      createServiceAccount: true,
      labels: { app: "ratings", version: "v3" },
      ports: [{ name: "http", number: 9080 }],
    },
    {
      name: "details-vm",
      namespace: NS,
      address: "203.0.113.10",
      network: "vm-network",
      serviceAccount: "bookinfo-details",
      createServiceAccount: true,
      labels: { app: "details", version: "v1" },
      ports: [{ name: "http", number: 9080, targetPort: 8080 }],
      proxyInstanceIp: "10.128.0.2",
    },
  ],
};

const objectsOf = (vm: string, app: string) => [
  { plural: "workloadentries", name: vm },
  { plural: "sidecars", name: `${NS}-${app}-no-iptables` },
  { plural: "serviceentries", name: vm },
];

function path(plural: string, name: string, ns = NS): string {
  return `/apis/networking.istio.io/v1/namespaces/${ns}/${plural}/${name}`;
}

describe("root program on a real apiserver", { timeout: 15 * 60_000 }, () => {
  let cluster: TestCluster;
  let root: RootProjectStack;
  let destroyed = false;

  before(async () => {
    cluster = await startCluster();
    await cluster.createNamespace(NS);
    await cluster.createNamespace("istio-system");
    root = await rootProjectStack("e2e", async () => ({ ...onboardFromConfig() }));
    await root.writeConfig(meshOnlyConfig, [{ path: "kubeconfig", value: cluster.kubeconfig }]);
  });

  after(async () => {
    if (root) {
      if (!destroyed && cluster) await root.test.destroy().catch(() => undefined);
      await root.dispose();
    }
    if (cluster) await cluster.stop();
  });

  it("the stack file holds the kubeconfig encrypted", () => {
    const file = parse(readFileSync(root.stackFile, "utf8")) as {
      config: Record<string, unknown>;
    };
    assert.deepEqual(Object.keys(file.config["mesh-vm:kubeconfig"] as object), ["secure"]);
  });

  it("preview plans the provider, MeshExpansion and both VMs' objects, creating nothing", async () => {
    const preview = await root.test.preview();
    assert.deepEqual(errors(preview.events), []);
    const planned = steps(preview.events);
    for (const s of [
      "create pulumi:providers:kubernetes kubernetes",
      "create mesh-vm:index:MeshExpansion mesh-expansion",
      "create mesh-vm:index:MeshVm ratings-vm",
      "create kubernetes:networking.istio.io/v1:WorkloadEntry ratings-vm-workloadentry",
      "create kubernetes:networking.istio.io/v1:Sidecar ratings-vm-sidecar",
      "create kubernetes:networking.istio.io/v1:ServiceEntry ratings-vm-serviceentry",
      "create mesh-vm:index:MeshVm details-vm",
      "create kubernetes:networking.istio.io/v1:WorkloadEntry details-vm-workloadentry",
    ]) {
      assert.ok(planned.includes(s), `preview should plan "${s}"; planned: ${planned.join(", ")}`);
    }
    assert.equal((await cluster.request("GET", path("workloadentries", "ratings-vm"))).status, 404);
  });

  it("up creates the objects in the cluster and outputs each VM's summary", async () => {
    const up = await root.test.up();
    assert.equal(up.result.summary.result, "succeeded");
    assert.deepEqual(errors(up.events), []);

    for (const [vm, app] of [
      ["ratings-vm", "ratings"],
      ["details-vm", "details"],
    ] as const) {
      for (const o of objectsOf(vm, app)) {
        const r = await cluster.request("GET", path(o.plural, o.name));
        assert.equal(r.status, 200, `${o.plural}/${o.name}`);
      }
    }
    const we = await cluster.request("GET", path("workloadentries", "details-vm"));
    assert.deepEqual(we.body.spec, {
      address: "203.0.113.10",
      network: "vm-network",
      serviceAccount: "bookinfo-details",
      labels: { app: "details", version: "v1", class: "vm" },
      ports: { http: 8080 },
    });
    assert.equal(we.body.metadata.annotations["sidecar-bootstrap.istio.io/proxy-instance-ip"], "10.128.0.2");
    const se = await cluster.request("GET", path("serviceentries", "ratings-vm"));
    assert.deepEqual(se.body.spec.workloadSelector, {
      labels: { app: "ratings", class: "vm", version: "v3" },
    });
    for (const sa of ["bookinfo-ratings", "bookinfo-details"]) {
      assert.equal(
        (await cluster.request("GET", `/api/v1/namespaces/${NS}/serviceaccounts/${sa}`)).status,
        200,
      );
    }
    assert.equal(
      (await cluster.request("GET", path("gateways", "istiod-gateway", "istio-system"))).status,
      200,
    );
    assert.equal(
      (await cluster.request("GET", path("virtualservices", "istiod-vs", "istio-system"))).status,
      200,
    );

    assert.deepEqual(up.result.outputs["vms"]?.value, {
      "ratings-vm": {
        spiffeId: "spiffe://cluster.local/ns/bookinfo/sa/bookinfo-ratings",
        workloadEntry: "ratings-vm",
        namespace: NS,
        inboundPorts: [9080],
        proxy: null,
        hostsBlock: null,
        tokenExpiry: null,
      },
      "details-vm": {
        spiffeId: "spiffe://cluster.local/ns/bookinfo/sa/bookinfo-details",
        workloadEntry: "details-vm",
        namespace: NS,
        inboundPorts: [8080],
        proxy: null,
        hostsBlock: null,
        tokenExpiry: null,
      },
    });
    assert.equal(up.result.outputs["vms"]?.secret, false);
    assert.deepEqual(up.result.outputs["firewallPorts"]?.value, [15012, 15443]);
    assert.equal(up.result.outputs["istiodHost"]?.value, "istiod.istio-system.svc");
  });

  it("the state keeps the kubeconfig's credentials encrypted", async () => {
    const token = (parse(cluster.kubeconfig) as { users: { user: { token?: string } }[] }).users[0]?.user
      .token;
    assert.ok(token, "the test kubeconfig carries a bearer token");
    const state = await root.test.exportState();
    const leaks = ((state.deployment as { resources?: { urn: string }[] }).resources ?? [])
      .filter((r) => JSON.stringify(r).includes(token))
      .map((r) => r.urn);
    assert.deepEqual(leaks, [], "no resource holds the token in plain text");
    assert.ok(!JSON.stringify(state).includes(token), "the token is nowhere in the state in plain text");
  });

  it("a second up changes nothing", async () => {
    const up = await root.test.up();
    const changed = Object.entries(up.result.summary.resourceChanges ?? {}).filter(
      ([op, n]) => op !== "same" && (n ?? 0) > 0,
    );
    assert.deepEqual(changed, []);
  });

  it("broken stack configs fail preview and up naming the key and the stack file; nothing is created", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", join(__dirname, "rootProgram-invalid.ts")], {
      encoding: "utf8",
      timeout: 8 * 60_000,
      env: { ...process.env, MESH_VM_TEST_KUBECONFIG: cluster.kubeconfigPath },
    });
    assert.equal(r.status, 0, r.stderr);
    const line = r.stdout.split("\n").find((l) => l.startsWith("RESULT "));
    assert.ok(line, r.stdout);
    const results = JSON.parse(line.slice("RESULT ".length)) as {
      name: string;
      expect: string;
      preview: { rejected: boolean; diagnostics: string[] };
      up: { rejected: boolean; diagnostics: string[] };
      stateResources: string[];
    }[];
    assert.deepEqual(
      results.map((c) => c.name),
      ["missing address", "bad port", "unknown key"],
    );
    for (const c of results) {
      for (const op of ["preview", "up"] as const) {
        assert.equal(c[op].rejected, true, `${c.name}: ${op} fails`);
        const text = c[op].diagnostics.join("\n");
        assert.ok(text.includes("invalid stack configuration in Pulumi.broken.yaml"), `${c.name}: ${text}`);
        assert.ok(text.includes(c.expect), `${c.name}: ${op} names "${c.expect}": ${text}`);
        assert.ok(!text.includes("BEGIN"), `${c.name}: no kubeconfig or key material in the message`);
      }
      assert.deepEqual(c.stateResources, [], `${c.name}: nothing in the state`);
    }
  });

  it("nothing of the broken configs reached the cluster", async () => {
    const list = await cluster.request(
      "GET",
      `/apis/networking.istio.io/v1/namespaces/${NS}/workloadentries`,
    );
    assert.deepEqual(
      (list.body.items as { metadata: { name: string } }[]).map((o) => o.metadata.name).sort(),
      ["details-vm", "ratings-vm"],
    );
    const sidecars = await cluster.request("GET", `/apis/networking.istio.io/v1/namespaces/${NS}/sidecars`);
    assert.equal(sidecars.body.items.length, 2);
    assert.equal(
      (await cluster.request("GET", `/api/v1/namespaces/${NS}/serviceaccounts/bookinfo-broken`)).status,
      404,
    );
  });

  it("destroy removes every object", async () => {
    const d = await root.test.destroy();
    assert.equal(d.result.summary.result, "succeeded");
    destroyed = true;
    for (const [vm, app] of [
      ["ratings-vm", "ratings"],
      ["details-vm", "details"],
    ] as const) {
      for (const o of objectsOf(vm, app)) {
        assert.equal((await cluster.request("GET", path(o.plural, o.name))).status, 404, o.name);
      }
    }
    assert.equal(
      (await cluster.request("GET", path("gateways", "istiod-gateway", "istio-system"))).status,
      404,
    );
  });
});
