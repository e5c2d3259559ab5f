// The envoy runtime delivered over SSH to a test host, through the real engine: preview issues nothing; up gets
// the workload certificate from the real istiod, writes the config, SDS and PEM files with their modes in two
// SSH sessions, starts the container and waits for /ready; the files as written pass Envoy's API rules; a second
// up changes nothing; destroy leaves the host clean. The container image is the test bed's stand-in
// (test/fixtures/standin-proxy: it checks the files are readable and serves /ready; it is not Envoy).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { VmProxy } from "../../components/host/vmProxy";
import { leafOf } from "../harness/certs";
import { startCluster, type TestCluster } from "../harness/cluster";
import { validateEnvoyFiles } from "../harness/envoyValidator";
import { createHosts, type TestHost } from "../harness/hosts";
import { ISTIO_NAMESPACE, istioBinaries, type Istiod } from "../harness/istiod";
import { changedSteps, createTestStack, type TestStack } from "../harness/pulumi";
import { tearDown } from "../harness/teardown";

const IMAGE = "localhost/mesh-vm-standin-proxy:test";
const DIR = "/etc/envoy";
const FILES = [
  "envoy.yaml",
  "certs/workload-certificate.yaml",
  "certs/root-ca.yaml",
  "certs/cert-chain.pem",
  "certs/key.pem",
  "certs/root-cert.pem",
];

describe("envoy runtime over SSH on a test host, with the real istiod", { timeout: 20 * 60_000 }, () => {
  let cluster: TestCluster | undefined;
  let istiod: Istiod;
  let host: TestHost | undefined;
  let stack: TestStack | undefined;

  before(async () => {
    istioBinaries(); // fails naming scripts/istio.sh when istiod is not built
    [host] = await createHosts([{ name: "envoy-vm", networks: ["vm"] }]);
    cluster = await startCluster({ istiod: { address: "127.0.0.1" } });
    istiod = cluster.istiod!;
    await cluster.createNamespace("vms");
    await cluster.createServiceAccount("vms", "dev-laptop");
    stack = await createTestStack({
      projectName: "mesh-vm-envoy-host-e2e",
      program: async () => {
        const vm = new VmProxy("dev-laptop", {
          runtime: "envoy",
          envoy: {
            gatewayAddress: "192.0.2.10",
            upstreams: [
              {
                host: "reviews.bookinfo.svc.cluster.local",
                port: 9080,
                serviceAccount: "bookinfo-reviews",
                localPort: 9080,
              },
            ],
            image: IMAGE,
            readinessTimeoutSeconds: 60,
            certificate: {
              caAddress: `127.0.0.1:${istiod.port}`,
              caServerName: `istiod.${ISTIO_NAMESPACE}.svc`,
            },
          },
          workload: {
            name: "dev-laptop",
            namespace: "vms",
            serviceAccount: "dev-laptop",
            address: host!.address,
          },
          ssh: { host: host!.address, port: host!.sshPort, hostKey: host!.hostKey },
          prepare: { admin: { user: host!.adminUser, privateKey: host!.adminPrivateKey } },
          kubeconfig: cluster!.kubeconfig,
          // Given, so no ConfigMap is read (the program needs no Kubernetes provider).
          meshRootCert: istiod.rootCertPem,
          kubernetesRootCert: cluster!.clusterCaPem,
        });
        return { state: vm.containerState, certificateExpiry: vm.certificateExpiry, image: vm.proxyImage };
      },
    });
  });

  after(() => tearDown({ stacks: [stack], hosts: [host], cluster }));

  it("preview issues nothing; up writes the files, starts the container ready; a second up changes nothing; destroy cleans up", async () => {
    const minted = await cluster!.tokenRequests();
    await stack!.preview();
    assert.equal(await cluster!.tokenRequests(), minted, "preview minted a token");

    const up = await stack!.up();
    assert.equal(up.result.summary.result, "succeeded");
    assert.equal(await cluster!.tokenRequests(), minted + 1);
    assert.equal(up.result.outputs["state"]?.value, "running");

    const files: { path: string; content: string }[] = [];
    for (const f of FILES) {
      const path = `${DIR}/${f}`;
      const st = await host!.stat(path);
      assert.ok(st, `${path} exists`);
      assert.equal(st.mode, f === "certs/key.pem" ? 0o600 : 0o640, `${path} mode`);
      assert.equal(st.owner, "istio-proxy", `${path} owner`);
      files.push({ path, content: await host!.readFile(path) });
    }
    assert.match(
      leafOf(files[3]!.content).subjectAltName ?? "",
      /URI:spiffe:\/\/cluster\.local\/ns\/vms\/sa\/dev-laptop/,
    );
    assert.deepEqual(
      validateEnvoyFiles(files, `${DIR}/envoy.yaml`).problems,
      [],
      "the files as written pass Envoy's API rules",
    );
    const containers = await host!.containers();
    assert.ok(
      containers.some((c) => c.name === "mesh-envoy"),
      "the Envoy container runs",
    );

    const again = await stack!.up();
    assert.deepEqual(changedSteps(again.events), []);

    const down = await stack!.destroy();
    assert.equal(down.result.summary.result, "succeeded");
    assert.equal(await host!.exists(DIR), false, `${DIR} is gone`);
    assert.ok(!(await host!.containers()).some((c) => c.name === "mesh-envoy"), "no container left");
  });
});
