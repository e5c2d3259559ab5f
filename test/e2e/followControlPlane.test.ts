// The proxy follows the control plane, through the `pulumi` CLI and the root program on one test host:
// `mesh-vm:followControlPlane` reads istiod's injector values (ConfigMap istio-system/istio-sidecar-injector, as an
// istioctl install publishes them) once, and the VM, which pins no image, runs the control plane's hub, image and
// tag with its log level. An "istiod upgrade" (the ConfigMap's tag changed) upgrades the container at the next
// `up`, with no new token; a further `up` opens no SSH session. A VM tag pinned more than one minor version behind
// the control plane's warns at preview and is what runs (the stand-in image is tagged as each version).
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startCluster, type TestCluster } from "../../scripts/testbed/cluster";
import { cliProject, repoRoot, type CliEvent, type CliProject } from "../../scripts/testbed/cli";
import { createHosts, destroyHosts, type TestHost } from "../../scripts/testbed/hosts";
import { knownSecrets, secretFindings } from "../../scripts/testbed/secrets";

const NS = "bookinfo";
const SA = "bookinfo-ratings";
const ISTIO_NS = "istio-system";
const CONFIG_DIR = "/etc/istio-proxy";
// The stand-in proxy image every test host has, named as an install's values name the proxy.
const HUB = "localhost";
const IMAGE = "mesh-vm-standin-proxy";

const changedSteps = (events: CliEvent[]) =>
  events
    .filter((e) => e.resourcePreEvent)
    .map((e) => `${e.resourcePreEvent!.metadata.op} ${e.resourcePreEvent!.metadata.urn.split("::").pop()}`)
    .filter((s) => !s.startsWith("same ") && !s.startsWith("read "));

/** istiod's injector ConfigMap as an istioctl install writes it (only the keys the proxy follows matter here). */
function injectorConfigMap(tag: string, logLevel: string) {
  return {
    metadata: { name: "istio-sidecar-injector", namespace: ISTIO_NS },
    data: {
      values: JSON.stringify({
        global: { hub: HUB, tag, jwtPolicy: "third-party-jwt", proxy: { image: IMAGE, logLevel } },
      }),
      config: "policy: enabled\n",
    },
  };
}

describe(
  "the VM's proxy follows the control plane (mesh-vm:followControlPlane)",
  { timeout: 20 * 60_000 },
  () => {
    let cluster: TestCluster | undefined;
    let host: TestHost | undefined;
    let cli: CliProject | undefined;

    const proxy = async () => (await host!.containers()).find((c) => c.name === "istio-proxy");
    const putInjector = async (tag: string, logLevel: string) => {
      const path = `/api/v1/namespaces/${ISTIO_NS}/configmaps/istio-sidecar-injector`;
      const exists = (await cluster!.request("GET", path)).status === 200;
      const res = exists
        ? await cluster!.request("PUT", path, injectorConfigMap(tag, logLevel))
        : await cluster!.request(
            "POST",
            `/api/v1/namespaces/${ISTIO_NS}/configmaps`,
            injectorConfigMap(tag, logLevel),
          );
      assert.ok(res.status < 300, `write the injector ConfigMap: ${res.status} ${JSON.stringify(res.body)}`);
    };

    before(async () => {
      cluster = await startCluster();
      await cluster.createNamespace(NS);
      await cluster.createNamespace(ISTIO_NS);
      await cluster.createServiceAccount(NS, SA);
      [host] = await createHosts([{ name: "follow-cp", networks: ["vm"] }]);
      // The "upgraded" control plane's tag: the same stand-in under a second tag.
      await host!.run(`podman tag ${HUB}/${IMAGE}:test ${HUB}/${IMAGE}:v2 ${HUB}/${IMAGE}:1.22.0`);
      cli = await cliProject({
        files: ["Pulumi.yaml", "index.ts", "package.json", "tsconfig.json", "components"],
        nodeModules: join(repoRoot, "node_modules"),
        stack: "dev",
      });
      await cli.setPlain({
        clusterIdentifier: "mesh-vm-follow-test",
        followControlPlane: "true",
        "vms[0].name": "ratings-vm",
        "vms[0].namespace": NS,
        "vms[0].address": host!.address,
        "vms[0].serviceAccount": SA,
        "vms[0].labels.app": "ratings",
        "vms[0].ports[0].name": "http",
        "vms[0].ports[0].number": "9080",
        "vms[0].host.hostKey": host!.hostKey,
        "vms[0].host.prepare.admin.user": host!.adminUser,
        "vms[0].host.driftCheck": "false",
      });
      await cli.setSecret("kubeconfig", cluster.kubeconfig);
      await cli.setSecret("vms[0].host.prepare.admin.privateKey", host!.adminPrivateKey);
    });

    after(async () => {
      if (cli) await cli.pulumi(["destroy", "--yes", "--skip-preview"]).catch(() => undefined);
      cli?.dispose();
      if (host) await destroyHosts([host]);
      if (cluster) await cluster.stop();
    });

    it("without the injector ConfigMap, preview fails naming it and creates nothing", async () => {
      const preview = await cli!.pulumi(["preview"]);
      assert.notEqual(preview.code, 0);
      assert.match(preview.stdout + preview.stderr, /istio-system\/istio-sidecar-injector/);
      assert.equal(await proxy(), undefined);
    });

    it("up runs the control plane's image and log level on the VM", async () => {
      await putInjector("test", "warning");
      const up = await cli!.withEvents(["up", "--yes", "--skip-preview"]);
      assert.equal(up.code, 0, `${up.stdout}\n${up.stderr}`);
      const c = await proxy();
      assert.equal(c?.state, "running");
      assert.equal(c?.image, `${HUB}/${IMAGE}:test`);
      const args = c?.args ?? [];
      assert.equal(args[args.indexOf("--proxyLogLevel") + 1], "warning", args.join(" "));
    });

    it("an istiod upgrade (the injector's tag) upgrades the container at the next up, without a new token", async () => {
      const token = await host!.readFile(`${CONFIG_DIR}/istio-token`);
      await putInjector("v2", "warning");
      const preview = await cli!.pulumi(["preview", "--diff"]);
      assert.equal(preview.code, 0, `${preview.stdout}\n${preview.stderr}`);
      assert.match(
        preview.stdout,
        /command:remote:Command: \(update\)\s+\[id=ratings-vm-proxy-proxy/,
        "the proxy step",
      );
      assert.match(preview.stdout, /~ 1 to update/, "and nothing else");
      const up = await cli!.withEvents(["up", "--yes", "--skip-preview"]);
      assert.equal(up.code, 0, `${up.stdout}\n${up.stderr}`);
      assert.equal((await proxy())?.image, `${HUB}/${IMAGE}:v2`);
      assert.equal(await host!.readFile(`${CONFIG_DIR}/istio-token`), token, "the token is not re-minted");

      const logins = await host!.sshLogins();
      const noop = await cli!.withEvents(["up", "--yes", "--skip-preview"]);
      assert.equal(noop.code, 0, `${noop.stdout}\n${noop.stderr}`);
      assert.deepEqual(changedSteps(noop.events), [], "a further up changes nothing");
      assert.equal((await host!.sshLogins()) - logins, 0, "and opens no SSH session");
    });

    it("a tag pinned two minor versions behind the control plane's warns at preview; the pinned tag wins", async () => {
      await putInjector("1.24.2", "warning");
      await cli!.setPlain({ "vms[0].host.proxyImageTag": "1.22.0" });
      const preview = await cli!.pulumi(["preview", "--diff"]);
      assert.equal(preview.code, 0, `${preview.stdout}\n${preview.stderr}`);
      assert.match(
        preview.stdout + preview.stderr,
        /proxyImageTag: proxy 1\.22\.0 is 2 minor versions behind the control plane's 1\.24\.2/,
      );
      assert.match(preview.stdout, /command:remote:Command: \(update\)\s+\[id=ratings-vm-proxy-proxy/);
      const up = await cli!.withEvents(["up", "--yes", "--skip-preview"]);
      assert.equal(up.code, 0, `${up.stdout}\n${up.stderr}`);
      assert.equal(
        (await proxy())?.image,
        `${HUB}/${IMAGE}:1.22.0`,
        "the pinned tag runs, under the control plane's hub",
      );
      const secrets = knownSecrets({
        tokens: [await host!.readFile(`${CONFIG_DIR}/istio-token`)],
        hosts: [{ name: host!.name, adminPrivateKey: host!.adminPrivateKey }],
        kubeconfig: cluster!.kubeconfig,
      });
      assert.deepEqual(secretFindings("preview", preview.stdout + preview.stderr, secrets), []);
    });
  },
);
