// examples/ratings-vm as a user runs it with the `pulumi` CLI: a copy of the example whose `mesh-vm` dependency is
// this repository (`"mesh-vm": "file:../.."` links it after `npm install && npm run build` at the root), a stack
// configured with `pulumi config set` (secrets on stdin), against the test bed: preview, up (the seeds'
// WorkloadEntry in the cluster, the proxy running on the test host), a second up that changes nothing, destroy.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { repoRoot, type CliEvent, type CliProject } from "../../scripts/testbed/cli";
import { startCliVm, type CliVm } from "../../scripts/testbed/cliVm";
import type { TestCluster } from "../../scripts/testbed/cluster";
import { buildPackage, exampleNodeModules } from "../../scripts/testbed/exampleModules";
import type { TestHost } from "../../scripts/testbed/hosts";

const NS = "bookinfo";
const PROXY_IMAGE = "localhost/mesh-vm-standin-proxy:test";

const changed = (events: CliEvent[]) =>
  events
    .filter((e) => e.resourcePreEvent && !["same", "read"].includes(e.resourcePreEvent.metadata.op))
    .map((e) => `${e.resourcePreEvent!.metadata.op} ${e.resourcePreEvent!.metadata.urn.split("::").pop()}`);

describe("examples/ratings-vm with the pulumi CLI against the test bed", { timeout: 20 * 60_000 }, () => {
  let vm: CliVm | undefined;
  let cluster: TestCluster;
  let host: TestHost;
  let cli: CliProject;
  let modulesDir: string;
  const wePath = `/apis/networking.istio.io/v1/namespaces/${NS}/workloadentries/ratings-vm`;

  before(async () => {
    // The package as the example consumes it: built (package.json `main` is bin/components/index.js).
    buildPackage();
    modulesDir = mkdtempSync(join(tmpdir(), "mesh-vm-example-modules-"));
    vm = await startCliVm({
      namespace: NS,
      serviceAccount: "bookinfo-ratings",
      hostName: "ratings-example",
      project: {
        from: join(repoRoot, "examples", "ratings-vm"),
        files: ["Pulumi.yaml", "index.ts", "package.json", "tsconfig.json"],
        nodeModules: exampleNodeModules(modulesDir),
      },
      config: (h) => ({
        address: h.address,
        proxyInstanceIp: h.address,
        network: "",
        hostKey: h.hostKey,
        adminUser: h.adminUser,
        proxyImage: PROXY_IMAGE,
      }),
    });
    ({ cluster, host, cli } = vm);
  });

  after(async () => {
    await vm?.stop();
    if (modulesDir) rmSync(modulesDir, { recursive: true, force: true });
  });

  it("pulumi preview plans the seeds' objects and the host steps, and creates nothing", async () => {
    const r = await cli.withEvents(["preview", "--diff", "--show-full-output"]);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    const planned = changed(r.events);
    for (const s of [
      "create ratings-vm",
      "create ratings-vm-workloadentry",
      "create ratings-vm-sidecar",
      "create ratings-vm-serviceentry",
      "create ratings-vm-proxy-proxy",
    ]) {
      assert.ok(planned.includes(s), `planned "${s}": ${planned.join(", ")}`);
    }
    assert.match(r.stdout, /POD_NAME=ratings-vm/);
    assert.equal((await cluster.request("GET", wePath)).status, 404);
  });

  it("pulumi up creates the seeds' WorkloadEntry and runs the proxy", async () => {
    const r = await cli.withEvents(["up", "--yes", "--skip-preview"]);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    const we = await cluster.request("GET", wePath);
    assert.equal(we.status, 200);
    assert.equal(we.body.spec.address, host.address);
    assert.deepEqual(we.body.spec.labels, { app: "ratings", class: "vm", version: "v3" });
    assert.equal(
      we.body.metadata.annotations["sidecar-bootstrap.istio.io/proxy-image-hub"],
      "docker.io/tetrate",
    );
    const outputs = JSON.parse((await cli.ok(["stack", "output", "--json"])).stdout) as Record<
      string,
      unknown
    >;
    assert.equal(outputs.spiffeId, "spiffe://cluster.local/ns/bookinfo/sa/bookinfo-ratings");
    assert.equal(outputs.workloadEntry, "ratings-vm");
    assert.deepEqual(outputs.proxy, { containerState: "running", image: PROXY_IMAGE });
    const c = (await host.containers()).find((x) => x.name === "istio-proxy");
    assert.equal(c?.state, "running");
  });

  it("a second pulumi up changes nothing and opens no SSH session", async () => {
    const logins = await host.sshLogins();
    const r = await cli.withEvents(["up", "--yes", "--skip-preview"]);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.deepEqual(changed(r.events), []);
    assert.equal(await host.sshLogins(), logins);
  });

  it("pulumi destroy removes the objects and the proxy", async () => {
    const r = await cli.withEvents(["destroy", "--yes", "--skip-preview"]);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.equal((await cluster.request("GET", wePath)).status, 404);
    assert.equal(
      (await host.containers()).find((x) => x.name === "istio-proxy"),
      undefined,
    );
  });
});
