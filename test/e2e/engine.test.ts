// The real Pulumi engine against a real kube-apiserver: preview is a dry run, up creates,
// a second up changes nothing, the apiserver's own CEL validation rejects an invalid
// WorkloadEntry, destroy removes everything, TokenRequest works, and nothing is left running.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { after, before, describe, it } from "node:test";
import { startCluster, type TestCluster } from "../../scripts/testbed/cluster";
import {
  createTestStack,
  errors,
  kubernetesProvider,
  steps,
  type TestStack,
} from "../../scripts/testbed/pulumi";

const NS = "engine-e2e";
const SA = "vm-app";
const WE = "vm-1";
const ADDRESS = "198.51.100.10";

const workloadEntryPath = `/apis/networking.istio.io/v1/namespaces/${NS}/workloadentries`;

function decodeJwtPayload(jwt: string): Record<string, unknown> {
  const part = jwt.split(".")[1] ?? "";
  return JSON.parse(Buffer.from(part, "base64url").toString("utf8")) as Record<string, unknown>;
}

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((res) => {
    const srv = createServer();
    srv.once("error", () => res(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => res(true)));
  });
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("real engine against a real kube-apiserver", { timeout: 15 * 60_000 }, () => {
  let cluster: TestCluster;
  let stack: TestStack;
  let invalid: TestStack | undefined;
  let stopped = false;

  const program = async (): Promise<Record<string, unknown>> => {
    const provider = kubernetesProvider("test-cluster", cluster.kubeconfig);
    const ns = new k8s.core.v1.Namespace("ns", { metadata: { name: NS } }, { provider });
    const sa = new k8s.core.v1.ServiceAccount(
      "sa",
      { metadata: { name: SA, namespace: ns.metadata.name } },
      { provider },
    );
    const we = new k8s.apiextensions.CustomResource(
      "workload-entry",
      {
        apiVersion: "networking.istio.io/v1",
        kind: "WorkloadEntry",
        metadata: { name: WE, namespace: ns.metadata.name, labels: { app: SA } },
        spec: { address: ADDRESS, labels: { app: SA }, serviceAccount: sa.metadata.name },
      },
      { provider },
    );
    // Read it back from the cluster (a `get` that also exposes spec as an output).
    const readBack = new k8s.apiextensions.CustomResource(
      "workload-entry-read",
      { apiVersion: "networking.istio.io/v1", kind: "WorkloadEntry", metadata: undefined, spec: undefined },
      { provider, id: we.id },
    );
    const readSpec = (readBack as unknown as { spec: pulumi.Output<{ address?: string } | undefined> }).spec;
    return {
      readBackAddress: readSpec.apply((spec) => spec?.address),
      readBackUid: readBack.metadata.uid,
      namespace: ns.metadata.name,
    };
  };

  before(async () => {
    cluster = await startCluster();
    stack = await createTestStack({ program, projectName: "mesh-vm-engine-e2e" });
  });

  after(async () => {
    // Safety net when a test failed half-way. No second destroy (it could wait for the same
    // thing again): the objects go away with the cluster; the stacks' temp backends with dispose.
    if (invalid) await invalid.dispose();
    if (stack) await stack.dispose();
    if (cluster && !stopped) await cluster.stop();
  });

  it("preview plans the objects and creates nothing; up creates them and reads the WorkloadEntry back", async () => {
    const preview = await stack.preview();
    assert.equal(preview.result.changeSummary.create, 5, JSON.stringify(preview.result.changeSummary));
    const planned = steps(preview.events);
    for (const s of [
      "create pulumi:providers:kubernetes test-cluster",
      "create kubernetes:core/v1:Namespace ns",
      "create kubernetes:core/v1:ServiceAccount sa",
      "create kubernetes:networking.istio.io/v1:WorkloadEntry workload-entry",
    ]) {
      assert.ok(planned.includes(s), `preview should plan "${s}", planned: ${planned.join(", ")}`);
    }
    // A dry run: the namespace does not exist after preview.
    assert.equal((await cluster.request("GET", `/api/v1/namespaces/${NS}`)).status, 404);

    const up = await stack.up();
    assert.equal(up.result.summary.result, "succeeded");
    assert.equal(
      up.result.summary.resourceChanges?.create,
      5,
      JSON.stringify(up.result.summary.resourceChanges),
    );

    assert.equal((await cluster.request("GET", `/api/v1/namespaces/${NS}`)).status, 200);
    assert.equal(
      (await cluster.request("GET", `/api/v1/namespaces/${NS}/serviceaccounts/${SA}`)).status,
      200,
    );
    const we = await cluster.request("GET", `${workloadEntryPath}/${WE}`);
    assert.equal(we.status, 200);
    assert.equal(we.body.spec.address, ADDRESS);
    assert.equal(we.body.spec.serviceAccount, SA);

    assert.equal(up.result.outputs.readBackAddress?.value, ADDRESS);
    assert.equal(up.result.outputs.readBackUid?.value, we.body.metadata.uid);
  });

  it("a second up reports no changes", async () => {
    const up = await stack.up();
    const changes = up.result.summary.resourceChanges ?? {};
    // Reading the WorkloadEntry back is a read on every run, not a change.
    const changed = Object.entries(changes).filter(
      ([op, n]) => op !== "same" && op !== "read" && (n ?? 0) > 0,
    );
    assert.deepEqual(changed, [], JSON.stringify(changes));
    assert.ok((changes.same ?? 0) >= 5, JSON.stringify(changes));
  });

  it("the apiserver's CEL validation rejects a WorkloadEntry with neither address nor network", async () => {
    invalid = await createTestStack({
      projectName: "mesh-vm-engine-e2e-invalid",
      program: async () => {
        const provider = kubernetesProvider("test-cluster", cluster.kubeconfig);
        new k8s.apiextensions.CustomResource(
          "no-address",
          {
            apiVersion: "networking.istio.io/v1",
            kind: "WorkloadEntry",
            metadata: { name: "no-address", namespace: NS },
            spec: { labels: { app: SA }, serviceAccount: SA },
          },
          { provider },
        );
      },
    });
    const events: string[] = [];
    await assert.rejects(
      invalid.stack.up({ color: "never", onEvent: (e) => events.push(JSON.stringify(e)) }),
      (err: Error) => {
        assert.match(err.message, /Address is required/);
        return true;
      },
    );
    assert.ok(
      events.some((e) => e.includes("Address is required")),
      "the engine events carry the apiserver's validation message",
    );
    assert.equal((await cluster.request("GET", `${workloadEntryPath}/no-address`)).status, 404);
    const cleanup = await invalid.destroy();
    assert.equal(cleanup.result.summary.result, "succeeded");
    assert.deepEqual(errors(cleanup.events), []);
  });

  it("a TokenRequest for the ServiceAccount with audience istio-ca succeeds", async () => {
    const r = await cluster.request("POST", `/api/v1/namespaces/${NS}/serviceaccounts/${SA}/token`, {
      apiVersion: "authentication.k8s.io/v1",
      kind: "TokenRequest",
      spec: { audiences: ["istio-ca"], expirationSeconds: 3600 },
    });
    assert.equal(r.status, 201, String(r.body.message));
    const token = r.body.status.token as string;
    const claims = decodeJwtPayload(token);
    assert.deepEqual(claims.aud, ["istio-ca"]);
    assert.equal(claims.sub, `system:serviceaccount:${NS}:${SA}`);
    // The apiserver itself accepts the token for that audience.
    const review = await cluster.request("POST", "/apis/authentication.k8s.io/v1/tokenreviews", {
      apiVersion: "authentication.k8s.io/v1",
      kind: "TokenReview",
      spec: { token, audiences: ["istio-ca"] },
    });
    assert.equal(review.body.status.authenticated, true);
    assert.equal(review.body.status.user.username, `system:serviceaccount:${NS}:${SA}`);
    // And the audit log records the mint (tests of preview rely on this).
    const minted = (await cluster.auditEvents()).filter(
      (e) =>
        e.objectRef?.resource === "serviceaccounts" &&
        e.objectRef?.subresource === "token" &&
        e.verb === "create",
    );
    assert.equal(minted.length, 1);
    assert.equal(minted[0]?.objectRef.name, SA);
  });

  it("destroy removes everything", async () => {
    const destroy = await stack.destroy();
    assert.equal(destroy.result.summary.result, "succeeded");
    assert.equal(
      destroy.result.summary.resourceChanges?.delete,
      5,
      JSON.stringify(destroy.result.summary.resourceChanges),
    );
    assert.equal((await cluster.request("GET", `${workloadEntryPath}/${WE}`)).status, 404);
    assert.equal(
      (await cluster.request("GET", `/api/v1/namespaces/${NS}/serviceaccounts/${SA}`)).status,
      404,
    );
    assert.equal((await cluster.request("GET", `/api/v1/namespaces/${NS}`)).status, 404);
    const state = await stack.exportState();
    const left = (state.deployment.resources ?? []) as { type: string }[];
    assert.deepEqual(
      left.filter((r) => r.type !== "pulumi:pulumi:Stack"),
      [],
    );
  });

  it("stopping the cluster leaves no process, port or temp dir behind", async () => {
    const { pids, ports } = cluster;
    const dir = cluster.kubeconfigPath.replace(/\/kubeconfig$/, "");
    await cluster.stop();
    stopped = true;
    for (const pid of pids) assert.equal(pidAlive(pid), false, `pid ${pid} still running`);
    for (const port of ports) assert.equal(await portIsFree(port), true, `port ${port} still in use`);
    assert.equal(existsSync(dir), false);
  });
});
