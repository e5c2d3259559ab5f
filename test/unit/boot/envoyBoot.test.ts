// Boot-time delivery of the envoy runtime: the plan VmProxy runs over SSH, rendered as cloud-init user data and
// as an offline bundle (a developer's laptop: config, certificates, a start command). The user data is valid for
// Debian's real `cloud-init schema`; the files it writes, and the bundle's files installed where its start script
// puts them, pass Envoy's API rules (the test bed's validator, with a real key and certificate); the key is 0600
// and only in the secret outputs. VmBoot under mocks issues a certificate instead of minting a token, never
// renews it by time (it is user data), and polls nothing by default (Envoy's admin is on the VM's loopback).
import { isSecretValue, registrations, valueOf, WORKLOAD_CERT } from "../helpers/pulumiMocks";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { VmBoot } from "../../../components/boot/vmBoot";
import {
  BootPlanInputs,
  buildBootPlan,
  renderBundle,
  renderCloudConfig,
} from "../../../components/boot/render";
import { validateEnvoyFiles } from "../../../scripts/testbed/envoyValidator";
import { cloudInitSchema } from "../helpers/cloudInit";
import { reviews, selfSignedWorkload } from "../runtime/envoyFixtures";

const workload = {
  name: "dev-laptop",
  namespace: "vms",
  serviceAccount: "dev-laptop",
  address: "203.0.113.10",
};
const envoy = {
  gatewayAddress: "192.0.2.10",
  upstreams: [
    reviews,
    { ...reviews, host: "ratings.bookinfo.svc.cluster.local", localPort: 9081, protocol: "HTTP2" },
  ],
  inbound: { port: 15006, targetPort: 8080 },
};
const issued = selfSignedWorkload();
const root = selfSignedWorkload("spiffe://cluster.local/ns/istio-system/sa/root");

const inputs: BootPlanInputs = {
  runtime: "envoy",
  envoy,
  workload,
  token: "",
  meshRootCert: root.cert,
  kubernetesRootCert: root.cert,
  workloadCertificate: { certChain: issued.cert, key: issued.key },
};

interface CloudConfig {
  users: (string | { name: string; groups: string[] })[];
  write_files: { path: string; owner: string; permissions: string; content: string }[];
  runcmd: string[][];
}

describe("boot-time delivery of the envoy runtime (renderers)", () => {
  const plan = buildBootPlan(inputs);
  const userData = renderCloudConfig(plan);
  const doc = parse(userData) as CloudConfig;

  it("renders valid cloud-config: the proxy account, the six files, one runcmd", () => {
    const r = cloudInitSchema(userData);
    assert.ok(r.ok, `cloud-init schema rejected the user data:\n${r.output}`);
    assert.deepEqual(doc.users[1], {
      name: "istio-proxy",
      primary_group: "istio-proxy",
      groups: ["docker"],
      shell: "/bin/sh",
      lock_passwd: true,
    });
    assert.deepEqual(
      doc.write_files.map((f) => [f.path, f.owner, f.permissions]),
      [
        ["/etc/envoy/envoy.yaml", "istio-proxy:istio-proxy", "0640"],
        ["/etc/envoy/certs/workload-certificate.yaml", "istio-proxy:istio-proxy", "0640"],
        ["/etc/envoy/certs/root-ca.yaml", "istio-proxy:istio-proxy", "0640"],
        ["/etc/envoy/certs/cert-chain.pem", "istio-proxy:istio-proxy", "0640"],
        ["/etc/envoy/certs/key.pem", "istio-proxy:istio-proxy", "0600"],
        ["/etc/envoy/certs/root-cert.pem", "istio-proxy:istio-proxy", "0640"],
      ],
    );
    assert.equal(doc.runcmd.length, 1);
    assert.equal(doc.runcmd[0]![3], "mesh-vm-start-envoy");
    const start = doc.runcmd[0]![2]!;
    assert.match(start, /docker run -d --name mesh-envoy/);
    assert.match(start, /starting the Envoy container mesh-envoy/);
    assert.doesNotMatch(start, /PRIVATE KEY/);
  });

  it("the files the user data writes pass Envoy's API rules", () => {
    const files = doc.write_files.map((f) => ({ path: f.path, content: f.content }));
    const v = validateEnvoyFiles(files, "/etc/envoy/envoy.yaml");
    assert.ok(v.ok, v.problems.join("\n"));
    assert.equal(v.summary?.clusters.length, 3, "two upstream clusters and the inbound listener's local app");
    assert.equal(v.summary?.listeners.length, 3, "two upstream listeners and the inbound one");
  });

  it("the bundle holds the same files and bin/start-envoy.sh, which installs each where the config names it", () => {
    const bundle = renderBundle(plan);
    assert.deepEqual(
      bundle.map((f) => [f.path, f.mode]),
      [
        ["etc/envoy.yaml", "0640"],
        ["etc/workload-certificate.yaml", "0640"],
        ["etc/root-ca.yaml", "0640"],
        ["etc/cert-chain.pem", "0640"],
        ["etc/key.pem", "0600"],
        ["etc/root-cert.pem", "0640"],
        ["bin/start-envoy.sh", "0755"],
      ],
    );
    assert.deepEqual(
      bundle.filter((f) => f.secret).map((f) => f.path),
      ["etc/cert-chain.pem", "etc/key.pem"],
    );
    const start = bundle.find((f) => f.path === "bin/start-envoy.sh")!.content;
    assert.equal(spawnSync("sh", ["-n", "-c", start]).status, 0, "the start script parses");
    // Each bundle file goes to the VM path of the plan's file of the same name: lay them out there and validate.
    const installed = plan.files.map((f) => {
      const name = f.path.slice(f.path.lastIndexOf("/") + 1);
      assert.match(start, new RegExp(`"\\$bundle/etc/${name.replace(".", "\\.")}"`));
      return { path: f.path, content: bundle.find((b) => b.path === `etc/${name}`)!.content };
    });
    const v = validateEnvoyFiles(installed, "/etc/envoy/envoy.yaml");
    assert.ok(v.ok, v.problems.join("\n"));
  });

  it("the validator refuses a broken variant of the user data (the check is real)", () => {
    const files = doc.write_files.map((f) => ({
      path: f.path,
      content: f.path.endsWith("key.pem") ? selfSignedWorkload().key : f.content,
    }));
    const v = validateEnvoyFiles(files, "/etc/envoy/envoy.yaml");
    assert.equal(v.ok, false);
  });
});

describe("VmBoot with runtime envoy (mocks)", () => {
  const kubeconfig = `apiVersion: v1
kind: Config
current-context: test
contexts: [{ name: test, context: { cluster: c, user: u } }]
clusters: [{ name: c, cluster: { server: "https://127.0.0.1:6443" } }]
users: [{ name: u, user: { token: ADMIN-TOKEN } }]
`;

  it("issues a certificate (no token, no renewal by time), writes it into the secret user data, polls nothing", async () => {
    const start = registrations.length;
    const vb = new VmBoot("eb", { runtime: "envoy", envoy, workload, kubeconfig, bundleDir: "./bundle" });
    const userData = await valueOf(vb.userData);
    for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
    const mine = registrations.slice(start).filter((r) => r.name.startsWith("eb-"));
    assert.deepEqual(mine.map((r) => `${r.type} ${r.name}`).sort(), [
      "command:local:Command eb-bundle",
      "command:local:Command eb-registration-gate",
      "command:local:Command eb-workload-certificate",
      "kubernetes:core/v1:ConfigMap eb-istio-ca-root-cert",
      "kubernetes:core/v1:ConfigMap eb-kube-root-ca",
      "tls:index/certRequest:CertRequest eb-workload-csr",
      "tls:index/privateKey:PrivateKey eb-workload-key",
    ]);
    const byName = (n: string) => mine.find((r) => r.name === n)!;
    const triggers = byName("eb-workload-certificate").inputs.triggers as unknown[];
    assert.equal(triggers[5], "", "no renewal window among the triggers: new user data would be a new VM");
    assert.equal(byName("eb-registration-gate").inputs.create, "", "no ready check by default");
    assert.ok(isSecretValue(byName("eb-bundle").raw.stdin));
    assert.match(userData, /path: \/etc\/envoy\/certs\/cert-chain\.pem/);
    assert.ok(userData.includes(WORKLOAD_CERT.split("\n")[1]!));
    assert.equal(await valueOf(vb.tokenExpiry), "");
    assert.equal(await valueOf(vb.certificateExpiry), "2026-12-08T05:00:00.000Z");
    assert.equal(await valueOf(vb.proxyImage), "docker.io/envoyproxy/envoy:v1.37.0");
    const startScript = await valueOf(vb.startScript);
    assert.match(startScript, /starting the Envoy container mesh-envoy/);
    assert.doesNotMatch(startScript, /PRIVATE KEY|MOCK-WORKLOAD-CERT/);
    const bundle = await valueOf(vb.bundle);
    assert.ok(bundle.some((f) => f.path === "bin/start-envoy.sh"));
  });

  it("refuses runtime envoy without its settings block, naming the field", () => {
    assert.throws(
      () => new VmBoot("eb-none", { runtime: "envoy", workload, kubeconfig }),
      /VmBootArgs\.envoy: is required with VmBootArgs\.runtime "envoy"/,
    );
  });
});
