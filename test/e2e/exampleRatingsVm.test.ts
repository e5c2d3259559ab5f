// examples/ratings-vm, run by the test suite against the test bed (kube-apiserver with Istio CRDs and a VM
// host): preview, up (the seeds' WorkloadEntry in the cluster, the proxy running on the host), a second up
// that changes nothing, and destroy.
import assert from "node:assert/strict";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { after, before, describe, it } from "node:test";
import { startCluster, type TestCluster } from "../harness/cluster";
import { createHosts, type TestHost } from "../harness/hosts";

const repoRoot = resolve(__dirname, "../..");
const NS = "bookinfo";
const PROXY_IMAGE = "localhost/mesh-vm-standin-proxy:test";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Result = { ok: boolean; error?: string; [key: string]: any };

/** The example's stack in a child process, one command at a time. */
class ExampleStack {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly results: AsyncIterator<string>;
  private stderr = "";

  constructor(example: string) {
    this.child = spawn(process.execPath, ["--import", "tsx", join(__dirname, "exampleStack.ts"), example], {
      cwd: repoRoot,
      env: { ...process.env, TSX_TSCONFIG_PATH: join(repoRoot, "examples", "tsconfig.json") },
    });
    this.child.stderr.on("data", (d: Buffer) => (this.stderr += d.toString()));
    this.results = createInterface({ input: this.child.stdout })[Symbol.asyncIterator]();
  }

  async send(cmd: Record<string, unknown>): Promise<Result> {
    this.child.stdin.write(`${JSON.stringify(cmd)}\n`);
    for (;;) {
      const next = await this.results.next();
      if (next.done) throw new Error(`the example process ended: ${this.stderr}`);
      if (next.value.startsWith("RESULT ")) return JSON.parse(next.value.slice("RESULT ".length)) as Result;
    }
  }

  async exit(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const done = new Promise((r) => this.child.on("close", r));
    this.child.stdin.end(`${JSON.stringify({ op: "exit" })}\n`);
    const timer = setTimeout(() => this.child.kill("SIGTERM"), 60_000);
    await done;
    clearTimeout(timer);
  }
}

function changed(changes: Record<string, number> | undefined): [string, number][] {
  return Object.entries(changes ?? {}).filter(([op, n]) => op !== "same" && n > 0);
}

describe("examples/ratings-vm against the test bed (with the host)", { timeout: 20 * 60_000 }, () => {
  let cluster: TestCluster;
  let host: TestHost | undefined;
  let example: ExampleStack;
  let address = "";
  const wePath = `/apis/networking.istio.io/v1/namespaces/${NS}/workloadentries/ratings-vm`;

  before(async () => {
    cluster = await startCluster();
    await cluster.createNamespace(NS);
    await cluster.createServiceAccount(NS, "bookinfo-ratings");
    [host] = await createHosts([{ name: "ratings-example", networks: ["vm"] }]);
    address = host!.address;
    const plain: Record<string, unknown> = {
      address,
      proxyInstanceIp: address,
      network: "",
      hostKey: host!.hostKey,
      adminUser: host!.adminUser,
      proxyImage: PROXY_IMAGE,
    };
    const secrets = [
      { path: "kubeconfig", value: cluster.kubeconfig },
      { path: "adminPrivateKey", value: host!.adminPrivateKey },
    ];
    example = new ExampleStack("ratings-vm");
    const r = await example.send({ op: "config", plain, secrets });
    assert.ok(r.ok, r.error);
  });

  after(async () => {
    if (example) {
      await example.send({ op: "destroy" }).catch(() => undefined);
      await example.exit();
    }
    if (host) await host.destroy();
    if (cluster) await cluster.stop();
  });

  it("preview plans the seeds' objects and creates nothing", async () => {
    const r = await example.send({ op: "preview" });
    assert.ok(r.ok, r.error);
    assert.deepEqual(r.errors, []);
    for (const s of [
      "create mesh-vm:index:MeshVm ratings-vm",
      "create kubernetes:networking.istio.io/v1:WorkloadEntry ratings-vm-workloadentry",
      "create kubernetes:networking.istio.io/v1:Sidecar ratings-vm-sidecar",
      "create kubernetes:networking.istio.io/v1:ServiceEntry ratings-vm-serviceentry",
    ]) {
      assert.ok((r.steps as string[]).includes(s), `planned "${s}": ${(r.steps as string[]).join(", ")}`);
    }
    assert.equal((await cluster.request("GET", wePath)).status, 404);
  });

  it("up creates the seeds' WorkloadEntry and runs the proxy on the host", async () => {
    const r = await example.send({ op: "up" });
    assert.ok(r.ok, r.error);
    assert.deepEqual(r.errors, []);
    const we = await cluster.request("GET", wePath);
    assert.equal(we.status, 200);
    assert.equal(we.body.spec.address, address);
    assert.deepEqual(we.body.spec.labels, { app: "ratings", class: "vm", version: "v3" });
    assert.equal(
      we.body.metadata.annotations["sidecar-bootstrap.istio.io/proxy-image-hub"],
      "docker.io/tetrate",
    );
    assert.equal(r.outputs.spiffeId, "spiffe://cluster.local/ns/bookinfo/sa/bookinfo-ratings");
    assert.equal(r.outputs.workloadEntry, "ratings-vm");
    assert.deepEqual(r.outputs.proxy, { containerState: "running", image: PROXY_IMAGE });
    const c = (await host!.containers()).find((x) => x.name === "istio-proxy");
    assert.equal(c?.state, "running");
  });

  it("a second up changes nothing", async () => {
    const r = await example.send({ op: "up" });
    assert.ok(r.ok, r.error);
    assert.deepEqual(changed(r.changes), []);
  });

  it("destroy removes the objects and the proxy", async () => {
    const r = await example.send({ op: "destroy" });
    assert.ok(r.ok, r.error);
    assert.equal((await cluster.request("GET", wePath)).status, 404);
    assert.equal(
      (await host!.containers()).find((x) => x.name === "istio-proxy"),
      undefined,
    );
  });
});
