// The envoy runtime delivered over SSH to a test host, through the real engine: preview issues nothing; up gets
// the workload certificate from the real istiod, writes the config, SDS and PEM files with their modes in two
// SSH sessions, starts the container and waits for /ready; the files as written pass Envoy's API rules; a second
// up changes nothing; destroy leaves the host clean. Then a certificate handed in (`certificate.provided`), signed
// with the mesh CA's own key as a plug-in CA holder would: up writes it without asking istiod, the key not in
// plain state; a second up changes nothing. The container image is the test bed's stand-in
// (test/fixtures/standin-proxy: it checks the files are readable and serves /ready; it is not Envoy).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { VmProxy } from "../../components/host/vmProxy";
import type { VmProxyArgs } from "../../components/host/vmProxyArgs";
import type { EnvoyCertificateArgs } from "../../components/runtime/envoyArgs";
import { leafOf } from "../../scripts/testbed/certs";
import { startCluster, type TestCluster } from "../../scripts/testbed/cluster";
import { ENVOY_DIR, ENVOY_FILES, validateEnvoyFiles } from "../../scripts/testbed/envoyValidator";
import { createHosts, type TestHost } from "../../scripts/testbed/hosts";
import { ISTIO_NAMESPACE, istioBinaries, type Istiod } from "../../scripts/testbed/istiod";
import { changedSteps, createTestStack, errors, type TestStack } from "../../scripts/testbed/pulumi";
import { PROXY_IMAGE } from "../../scripts/testbed/meshVmStack";
import { tearDown } from "../../scripts/testbed/teardown";

describe("envoy runtime over SSH on a test host, with the real istiod", { timeout: 20 * 60_000 }, () => {
  let cluster: TestCluster | undefined;
  let istiod: Istiod;
  let host: TestHost | undefined;
  let stack: TestStack | undefined;
  let providedStack: TestStack | undefined;
  /** The certificate the second program hands in. */
  let provided = { cert: "", key: "" };

  /** A leaf for `serviceAccount` signed with the mesh CA's key (istiod's istio-ca-secret), as a plug-in CA's holder signs one. */
  async function signedByMeshCa(serviceAccount: string): Promise<{ cert: string; key: string }> {
    const secret = await cluster!.request(
      "GET",
      `/api/v1/namespaces/${ISTIO_NAMESPACE}/secrets/istio-ca-secret`,
    );
    assert.equal(secret.status, 200);
    const dir = mkdtempSync(join(tmpdir(), "plugin-ca-"));
    try {
      for (const f of ["ca-cert.pem", "ca-key.pem"])
        writeFileSync(join(dir, f), Buffer.from(String(secret.body.data[f]), "base64"), { mode: 0o600 });
      writeFileSync(
        join(dir, "ext"),
        `subjectAltName=URI:spiffe://cluster.local/ns/vms/sa/${serviceAccount}\n`,
      );
      const run = (args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
      run(
        ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"].concat([
          "-keyout",
          "key.pem",
          "-out",
          "csr.pem",
          "-subj",
          "/O=cluster.local",
        ]),
      );
      run(
        [
          "x509",
          "-req",
          "-in",
          "csr.pem",
          "-CA",
          "ca-cert.pem",
          "-CAkey",
          "ca-key.pem",
          "-CAcreateserial",
        ].concat(["-days", "1", "-extfile", "ext", "-out", "cert.pem"]),
      );
      return {
        cert: readFileSync(join(dir, "cert.pem"), "utf8"),
        key: readFileSync(join(dir, "key.pem"), "utf8"),
      };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  before(async () => {
    istioBinaries(); // fails naming scripts/istio.sh when istiod is not built
    [host] = await createHosts([{ name: "envoy-vm", networks: ["vm"] }]);
    cluster = await startCluster({ istiod: { address: "127.0.0.1" } });
    istiod = cluster.istiod!;
    await cluster.createNamespace("vms");
    await cluster.createServiceAccount("vms", "dev-laptop");
    // The one VM both stacks onboard; only where its certificate comes from differs.
    const dev = (certificate: EnvoyCertificateArgs): VmProxyArgs => ({
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
        image: PROXY_IMAGE,
        readinessTimeoutSeconds: 60,
        certificate,
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
    stack = await createTestStack({
      projectName: "mesh-vm-envoy-host-e2e",
      program: async () => {
        const vm = new VmProxy(
          "dev-laptop",
          dev({ caAddress: `127.0.0.1:${istiod.port}`, caServerName: `istiod.${ISTIO_NAMESPACE}.svc` }),
        );
        return { state: vm.containerState, certificateExpiry: vm.certificateExpiry, image: vm.proxyImage };
      },
    });
    providedStack = await createTestStack({
      projectName: "mesh-vm-envoy-provided-e2e",
      program: async () => {
        const vm = new VmProxy(
          "dev-laptop",
          dev({ provided: { certChain: provided.cert, privateKey: provided.key } }),
        );
        return { state: vm.containerState, certificateExpiry: vm.certificateExpiry };
      },
    });
  });

  after(() => tearDown({ stacks: [stack, providedStack], hosts: [host], cluster }));

  it("preview issues nothing; up writes the files, starts the container ready; a second up changes nothing; destroy cleans up", async () => {
    const minted = await cluster!.tokenRequests();
    await stack!.preview();
    assert.equal(await cluster!.tokenRequests(), minted, "preview minted a token");

    const up = await stack!.up();
    assert.equal(up.result.summary.result, "succeeded");
    assert.equal(await cluster!.tokenRequests(), minted + 1);
    assert.equal(up.result.outputs["state"]?.value, "running");

    const files: { path: string; content: string }[] = [];
    for (const f of ENVOY_FILES) {
      const path = `${ENVOY_DIR}/${f}`;
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
      validateEnvoyFiles(files, `${ENVOY_DIR}/envoy.yaml`).problems,
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
    assert.equal(await host!.exists(ENVOY_DIR), false, `${ENVOY_DIR} is gone`);
    assert.ok(!(await host!.containers()).some((c) => c.name === "mesh-envoy"), "no container left");
  });

  it("a certificate handed in (signed by the mesh CA's key, as by a plug-in CA): up writes it, istiod issues nothing", async () => {
    // (A certificate for another identity is refused at preview before anything registers: unit-tested in
    // test/unit/host/providedCertificate.test.ts; an in-process inline program would surface that error as an
    // unhandled rejection of this test file.)
    provided = await signedByMeshCa("dev-laptop");
    const minted = await cluster!.tokenRequests();
    const up = await providedStack!.up();
    assert.equal(up.result.summary.result, "succeeded", errors(up.events).join("\n"));
    assert.equal(await cluster!.tokenRequests(), minted, "no token minted: istiod issued nothing");
    assert.equal(up.result.outputs["state"]?.value, "running");
    assert.equal(await host!.readFile(`${ENVOY_DIR}/certs/cert-chain.pem`), provided.cert);
    assert.equal(await host!.readFile(`${ENVOY_DIR}/certs/key.pem`), provided.key);
    assert.equal((await host!.stat(`${ENVOY_DIR}/certs/key.pem`))?.mode, 0o600);
    const files = await Promise.all(
      ENVOY_FILES.map(async (f) => ({
        path: `${ENVOY_DIR}/${f}`,
        content: await host!.readFile(`${ENVOY_DIR}/${f}`),
      })),
    );
    assert.deepEqual(
      validateEnvoyFiles(files, `${ENVOY_DIR}/envoy.yaml`).problems,
      [],
      "the files pass Envoy's API rules",
    );
    const state = JSON.stringify(await providedStack!.exportState());
    assert.ok(!state.includes(provided.key.split("\n")[1]!), "the key is not in plain state");
    assert.deepEqual(changedSteps((await providedStack!.up()).events), []);
    assert.equal((await providedStack!.destroy()).result.summary.result, "succeeded");
    assert.equal(await host!.exists(ENVOY_DIR), false, `${ENVOY_DIR} is gone`);
  });
});
