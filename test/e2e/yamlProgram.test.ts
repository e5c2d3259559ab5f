// Multi-language consumption: a Pulumi YAML program (runtime: yaml, the YAML language host) uses MeshVm from this
// repository as a package (`packages: {mesh-vm: <repo>}`, which needs PulumiPlugin.yaml): the CLI derives the
// component schema from the TypeScript source, runs the component through the Node.js language host, and the
// objects land in the cluster. Proves the types of every exported component are ones Pulumi can map.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startCluster, type TestCluster } from "../../scripts/testbed/cluster";
import { cliProject, repoRoot, type CliProject } from "../../scripts/testbed/cli";
import { createHosts, destroyHosts, type TestHost } from "../../scripts/testbed/hosts";

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

// The drift check from YAML: the engine starts the check's dynamic provider in the YAML program's directory
// (pulumi/pulumi#5455), so it is off by default there and on with `host.driftCheck: true` once `@pulumi/pulumi` and
// `ssh2` resolve from it: here NODE_PATH names the package's node_modules in the environment of `pulumi`.
// The package runs compiled (bin/, `npm run build`), as installed from npm.
function writeYamlHostProject(dir: string, host: TestHost, driftCheck: boolean): void {
  writeFileSync(
    join(dir, "Pulumi.yaml"),
    `name: ratings-yaml-host
runtime: yaml
packages:
  mesh-vm: ${repoRoot}
config:
  kubeconfig:
    type: string
    secret: true
  adminKey:
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
      address: ${host.address}
      serviceAccount: bookinfo-ratings
      labels:
        app: ratings
        version: v3
      ports:
        - name: http
          number: 9080
      host:
        kubeconfig: \${kubeconfig}
        hostKey: ${host.hostKey}
        proxyImage: localhost/mesh-vm-standin-proxy:test
        egressHostnames: [reviews.bookinfo.svc]
${driftCheck ? "        driftCheck: true\n" : ""}        prepare:
          admin:
            user: ${host.adminUser}
            privateKey: \${adminKey}
    options:
      providers:
        - \${cluster}
`,
  );
}

describe(
  "a Pulumi YAML program with a host: drift seen by refresh, repaired by up",
  { timeout: 15 * 60_000 },
  () => {
    let cluster: TestCluster;
    let host: TestHost | undefined;
    let cli: CliProject;
    let src: string;
    const withNodePath = { env: { NODE_PATH: join(repoRoot, "node_modules") } };

    before(async () => {
      cluster = await startCluster();
      await cluster.createNamespace(NS);
      await cluster.createServiceAccount(NS, "bookinfo-ratings");
      [host] = await createHosts([{ name: "yaml-drift" }]);
      assert.ok(existsSync(join(repoRoot, "bin/components/index.js")), "the package is built: npm run build");
      src = mkdtempSync(join(tmpdir(), "mesh-vm-yaml-host-src-"));
      writeYamlHostProject(src, host!, false);
      cli = await cliProject({
        from: src,
        files: ["Pulumi.yaml"],
        stack: "dev",
      });
      await cli.setSecret("kubeconfig", cluster.kubeconfig);
      await cli.setSecret("adminKey", host!.adminPrivateKey);
    });

    after(async () => {
      if (cli) {
        await cli.pulumi(["destroy", "--yes", "--skip-preview"], withNodePath).catch(() => undefined);
        cli.dispose();
      }
      if (src) rmSync(src, { recursive: true, force: true });
      if (host) await destroyHosts([host]);
      if (cluster) await cluster.stop();
    });

    it("off by default (no NODE_PATH needed); with driftCheck: true the removed container is named by refresh and restored by up", async () => {
      const h = host!;
      const state = async () => (await h.containers()).find((c) => c.name === "istio-proxy")?.state;
      // By default there is no drift check in a YAML program: up works without NODE_PATH, refresh contacts no host.
      const first = await cli.pulumi(["up", "--yes", "--skip-preview"]);
      assert.equal(first.code, 0, `${first.stdout}\n${first.stderr}`);
      assert.equal(await state(), "running");
      assert.doesNotMatch((await cli.ok(["stack", "export"])).stdout, /-proxy-drift/);
      let logins = await h.sshLogins();
      const plain = await cli.pulumi(["refresh", "--yes", "--skip-preview"]);
      assert.equal(plain.code, 0, `${plain.stdout}\n${plain.stderr}`);
      assert.equal((await h.sshLogins()) - logins, 0, "no drift check: refresh opens no SSH session");

      // Turned on: the check is added without contacting the host (the steps' scripts are unchanged).
      writeYamlHostProject(cli.dir, h, true);
      logins = await h.sshLogins();
      const up = await cli.pulumi(["up", "--yes", "--skip-preview"], withNodePath);
      assert.equal(up.code, 0, `${up.stdout}\n${up.stderr}`);
      assert.equal((await h.sshLogins()) - logins, 0, "adding the check opens no SSH session");
      await h.run("docker rm --force istio-proxy >/dev/null");

      logins = await h.sshLogins();
      const refresh = await cli.pulumi(["refresh", "--yes", "--skip-preview", "--diff"], withNodePath);
      assert.equal(refresh.code, 0, `${refresh.stdout}\n${refresh.stderr}`);
      assert.equal((await h.sshLogins()) - logins, 1, "one SSH session: the drift check");
      assert.match(refresh.stdout, /\+ \[0\]: "ratings: proxy container istio-proxy missing"/);

      logins = await h.sshLogins();
      const repair = await cli.pulumi(["up", "--yes", "--skip-preview"], withNodePath);
      assert.equal(repair.code, 0, `${repair.stdout}\n${repair.stderr}`);
      assert.equal((await h.sshLogins()) - logins, 1, "one SSH session: the proxy step");
      assert.equal(await state(), "running", "the container is back");
      logins = await h.sshLogins();
      const noop = await cli.pulumi(["up", "--yes", "--skip-preview"], withNodePath);
      assert.equal(noop.code, 0, `${noop.stdout}\n${noop.stderr}`);
      assert.equal((await h.sshLogins()) - logins, 0, "a no-op up opens no SSH session");
    });
  },
);
