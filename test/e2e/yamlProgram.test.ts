// Multi-language consumption: a Pulumi YAML program (runtime: yaml, the YAML language host) uses MeshVm from this
// repository as a package (`packages: {mesh-vm: <repo>}`, which needs PulumiPlugin.yaml): the CLI derives the
// component schema from the TypeScript source, runs the component through the Node.js language host, and the
// objects land in the cluster. Proves the types of every exported component are ones Pulumi can map.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startCluster, type TestCluster } from "../harness/cluster";
import { cliProject, repoRoot, type CliProject } from "../harness/cli";

const NS = "bookinfo";

function yamlProject(): string {
  const dir = mkdtempSync(join(tmpdir(), "mesh-vm-yaml-src-"));
  writeFileSync(
    join(dir, "Pulumi.yaml"),
    `name: ratings-yaml
runtime: yaml
packages:
  mesh-vm: ${repoRoot}
config:
  kubeconfig:
    type: string
    secret: true
resources:
  cluster:
    type: pulumi:providers:kubernetes
    properties:
      kubeconfig: \${kubeconfig}
  ratings:
    type: mesh-vm:index:MeshVm
    properties:
      namespace: ${NS}
      address: 198.51.100.10
      serviceAccount: bookinfo-ratings
      labels:
        app: ratings
        version: v3
      ports:
        - name: http
          number: 9080
    options:
      providers:
        - \${cluster}
outputs:
  spiffeId: \${ratings.spiffeId}
  workloadEntry: \${ratings.workloadEntryName}
`,
  );
  return dir;
}

describe("a Pulumi YAML program using MeshVm", { timeout: 10 * 60_000 }, () => {
  let cluster: TestCluster;
  let cli: CliProject;
  let src: string;
  const wePath = `/apis/networking.istio.io/v1/namespaces/${NS}/workloadentries/ratings`;

  before(async () => {
    cluster = await startCluster();
    await cluster.createNamespace(NS);
    src = yamlProject();
    cli = await cliProject({ from: src, files: ["Pulumi.yaml"], stack: "dev" });
    await cli.setSecret("kubeconfig", cluster.kubeconfig);
  });

  after(async () => {
    if (cli) {
      await cli.pulumi(["destroy", "--yes", "--skip-preview"]).catch(() => undefined);
      cli.dispose();
    }
    if (src) rmSync(src, { recursive: true, force: true });
    if (cluster) await cluster.stop();
  });

  it("pulumi up creates the VM's mesh objects; the outputs come back typed; destroy removes them", async () => {
    const up = await cli.pulumi(["up", "--yes"]);
    assert.equal(up.code, 0, `${up.stdout}\n${up.stderr}`);
    const we = await cluster.request("GET", wePath);
    assert.equal(we.status, 200);
    assert.equal(we.body.spec.address, "198.51.100.10");
    const outputs = JSON.parse((await cli.ok(["stack", "output", "--json"])).stdout) as Record<
      string,
      string
    >;
    assert.deepEqual(outputs, {
      spiffeId: "spiffe://cluster.local/ns/bookinfo/sa/bookinfo-ratings",
      workloadEntry: "ratings",
    });
    const down = await cli.pulumi(["destroy", "--yes", "--skip-preview"]);
    assert.equal(down.code, 0, `${down.stdout}\n${down.stderr}`);
    assert.equal((await cluster.request("GET", wePath)).status, 404);
  });
});
