// The envoy runtime delivered at first boot (no SSH), through the real engine, the real istiod and a real API
// server with Istio's CRDs: a MeshVm `boot` with runtime "envoy" and an upstream with `authorize`.
// - "dev-vm": its user data boots a test host with Debian's real cloud-init (a `local.Command` stands in for a
//   cloud's instance resource, as in bootDelivery.test.ts): the six files land with their owner and modes, the
//   certificate is istiod's for the VM's SPIFFE id, the files pass Envoy's API rules, the Envoy container (the
//   test bed's stand-in image: it checks the files and serves /ready; it is not Envoy) runs; zero SSH sessions.
// - "dev-laptop": its offline bundle comes out of the stack output `bundles` (secret), as a developer would
//   fetch it; carried to a second host, its bin/start-envoy.sh starts the same Envoy.
// The AuthorizationPolicy MeshVm declares is in the API server; preview issues nothing; a second up changes nothing.
import * as command from "@pulumi/command";
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { parse } from "yaml";
import { MeshVm } from "../../components";
import type { BootBundleFile } from "../../components";
import { leafOf } from "../../scripts/testbed/certs";
import { startCluster, type TestCluster } from "../../scripts/testbed/cluster";
import { ENVOY_DIR, ENVOY_FILES, validateEnvoyFiles } from "../../scripts/testbed/envoyValidator";
import { createHosts, type TestHost } from "../../scripts/testbed/hosts";
import { ISTIO_NAMESPACE, istioBinaries, type Istiod } from "../../scripts/testbed/istiod";
import {
  changedSteps,
  createTestStack,
  errors,
  kubernetesProvider,
  type TestStack,
} from "../../scripts/testbed/pulumi";
import { PROXY_IMAGE } from "../../scripts/testbed/meshVmStack";
import { tearDown } from "../../scripts/testbed/teardown";

describe("envoy runtime at first boot, with the real istiod", { timeout: 30 * 60_000 }, () => {
  let cluster: TestCluster | undefined;
  let istiod: Istiod;
  let vmHost: TestHost | undefined;
  let laptopHost: TestHost | undefined;
  let stack: TestStack | undefined;

  before(async () => {
    istioBinaries(); // fails naming scripts/istio.sh when istiod is not built
    [vmHost, laptopHost] = await createHosts([{ name: "envoy-boot" }, { name: "envoy-laptop" }]);
    cluster = await startCluster({ istiod: { address: "127.0.0.1" } });
    istiod = cluster.istiod!;
    await cluster.createNamespace("vms");
    await cluster.createNamespace("bookinfo");
    await cluster.createServiceAccount("vms", "dev-vm");
    await cluster.createServiceAccount("vms", "dev-laptop");
    const envoy = (localPort: number) => ({
      gatewayAddress: "192.0.2.10",
      upstreams: [
        {
          host: "reviews.bookinfo.svc.cluster.local",
          port: 9080,
          serviceAccount: "bookinfo-reviews",
          localPort,
          authorize: { selector: { app: "reviews" } },
        },
      ],
      image: PROXY_IMAGE,
      readinessTimeoutSeconds: 60,
      certificate: { caAddress: `127.0.0.1:${istiod.port}`, caServerName: `istiod.${ISTIO_NAMESPACE}.svc` },
    });
    stack = await createTestStack({
      projectName: "mesh-vm-envoy-boot-e2e",
      program: async () => {
        const provider = kubernetesProvider("cluster", cluster!.kubeconfig);
        const commandProvider = new command.Provider("command", {});
        const providers = { kubernetes: provider, command: commandProvider };
        const vmOf = (name: string, address: string) =>
          new MeshVm(
            name,
            {
              namespace: "vms",
              address,
              serviceAccount: name,
              labels: { app: name },
              sidecar: { enabled: false },
              serviceEntry: { enabled: false },
              boot: {
                kubeconfig: cluster!.kubeconfig,
                runtime: "envoy",
                envoy: envoy(9080),
                deregistrationDelaySeconds: 1,
              },
            },
            { providers },
          );
        const vm = vmOf("dev-vm", vmHost!.address);
        const laptop = vmOf("dev-laptop", laptopHost!.address);
        const instance = new command.local.Command(
          "dev-vm-instance",
          {
            create: vmHost!.firstBootCommand("i-dev-vm"),
            stdin: vm.userData.apply((u) => u!),
            addPreviousOutputInEnv: false,
          },
          { provider: commandProvider },
        );
        return {
          userData: vm.userData,
          certificateExpiry: vm.bootCertificateExpiry,
          policies: vm.authorizationPolicyNames,
          instance: instance.stdout,
          bundles: laptop.bootBundle.apply((b) => ({ "dev-laptop": b! })),
        };
      },
    });
  });

  after(() => tearDown({ stacks: [stack], hosts: [vmHost, laptopHost], cluster }));

  async function assertEnvoyFiles(h: TestHost): Promise<void> {
    const files: { path: string; content: string }[] = [];
    for (const f of ENVOY_FILES) {
      const path = `${ENVOY_DIR}/${f}`;
      const st = await h.stat(path);
      assert.ok(st, `${h.name}: ${path} exists`);
      assert.equal(st.mode, f === "certs/key.pem" ? 0o600 : 0o640, `${path} mode`);
      assert.equal(st.owner, "istio-proxy", `${path} owner`);
      files.push({ path, content: await h.readFile(path) });
    }
    const leaf = leafOf(files[3]!.content);
    assert.match(
      leaf.subjectAltName ?? "",
      new RegExp(
        `URI:spiffe://cluster\\.local/ns/vms/sa/${h.name === vmHost!.name ? "dev-vm" : "dev-laptop"}`,
      ),
    );
    assert.ok(leaf.verify(leafOf(istiod.rootCertPem).publicKey), "signed by istiod's root");
    assert.deepEqual(
      validateEnvoyFiles(files, `${ENVOY_DIR}/envoy.yaml`).problems,
      [],
      "the files pass Envoy's API rules",
    );
    assert.ok(
      (await h.containers()).some((c) => c.name === "mesh-envoy" && c.state === "running"),
      "Envoy runs",
    );
  }

  it("preview issues nothing; up boots the VM from its user data with cloud-init, no SSH; the policy is in the cluster", async () => {
    const minted = await cluster!.tokenRequests();
    await stack!.preview();
    assert.equal(await cluster!.tokenRequests(), minted, "preview issued nothing");

    const up = await stack!.up();
    assert.equal(up.result.summary.result, "succeeded", errors(up.events).join("\n"));
    assert.equal(await cluster!.tokenRequests(), minted + 2, "one certificate (one token) per VM");
    assert.equal(up.result.outputs["userData"]?.secret, true);
    const cc = parse(up.result.outputs["userData"]!.value as string) as { write_files: { path: string }[] };
    assert.deepEqual(
      cc.write_files.map((f) => f.path),
      ENVOY_FILES.map((f) => `${ENVOY_DIR}/${f}`),
    );
    assert.ok(Date.parse(up.result.outputs["certificateExpiry"]!.value as string) > Date.now());
    await assertEnvoyFiles(vmHost!);
    assert.match(
      await vmHost!.readFile("/var/log/cloud-init-output.log"),
      /mesh-vm: the proxy of vms\/dev-vm is ready/,
    );
    assert.equal(await vmHost!.sshLogins(), 0, "no SSH session");

    assert.deepEqual(up.result.outputs["policies"]?.value, ["dev-vm-to-reviews-9080"]);
    const ap = await cluster!.request(
      "GET",
      "/apis/security.istio.io/v1/namespaces/bookinfo/authorizationpolicies/dev-vm-to-reviews-9080",
    );
    assert.equal(ap.status, 200);
    assert.deepEqual(ap.body.spec, {
      selector: { matchLabels: { app: "reviews" } },
      action: "ALLOW",
      rules: [{ from: [{ source: { principals: ["cluster.local/ns/vms/sa/dev-vm"] } }] }],
    });
  });

  it("the laptop's bundle, from the secret stack output, starts the same Envoy with bin/start-envoy.sh", async () => {
    const out = await stack!.outputs();
    assert.equal(out["bundles"]?.secret, true, "the bundle is a secret stack output");
    const files = (out["bundles"]!.value as Record<string, BootBundleFile[]>)["dev-laptop"]!;
    assert.deepEqual(
      files.map((f) => f.path),
      [...ENVOY_FILES.map((f) => `etc/${f.slice(f.lastIndexOf("/") + 1)}`), "bin/start-envoy.sh"],
    );
    const remote = "/root/dev-laptop";
    for (const f of files) {
      await laptopHost!.run(
        `mkdir -p ${remote}/$(dirname ${f.path}) && cat > ${remote}/${f.path} && chmod ${f.mode} ${remote}/${f.path}`,
        { input: f.content },
      );
    }
    const run = await laptopHost!.run(`${remote}/bin/start-envoy.sh`, { check: false });
    assert.equal(run.code, 0, `start script failed:\n${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, /the proxy of vms\/dev-laptop is ready/);
    const key = files.find((f) => f.path === "etc/key.pem")!.content;
    assert.ok(!run.stdout.includes(key.split("\n")[1]!) && !run.stderr.includes(key.split("\n")[1]!));
    await assertEnvoyFiles(laptopHost!);
    assert.equal(await laptopHost!.sshLogins(), 0, "no SSH session");
  });

  it("a second up changes nothing; destroy removes the policy", async () => {
    const again = await stack!.up();
    assert.deepEqual(changedSteps(again.events), []);
    const down = await stack!.destroy();
    assert.equal(down.result.summary.result, "succeeded");
    const ap = await cluster!.request(
      "GET",
      "/apis/security.istio.io/v1/namespaces/bookinfo/authorizationpolicies/dev-vm-to-reviews-9080",
    );
    assert.equal(ap.status, 404);
  });
});
