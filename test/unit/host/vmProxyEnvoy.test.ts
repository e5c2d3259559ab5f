// VmProxy with runtime "envoy" under Pulumi mocks: a workload certificate (key, CSR, issue) instead of a bootstrap
// token, the same two SSH steps, the six files of the plan on the proxy step's secret stdin with the key and
// the certificate never in a script, and the files as they land on the VM pass Envoy's API rules (the test
// bed's validator, with a real key and certificate standing in for the mocked ones).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { GENERATED_KEY, WORKLOAD_CERT, isSecretValue, registrations } from "../helpers/pulumiMocks";
import { VmProxy, VmProxyArgs as Args } from "../../../components/host/vmProxy";
import { validateEnvoyFiles } from "../../../scripts/testbed/envoyValidator";
import { selfSignedWorkload } from "../runtime/envoyFixtures";

const kubeconfig = `apiVersion: v1
kind: Config
current-context: test
contexts: [{ name: test, context: { cluster: c, user: u } }]
clusters: [{ name: c, cluster: { server: "https://127.0.0.1:6443" } }]
users: [{ name: u, user: { token: ADMIN-TOKEN } }]
`;

const args: Args = {
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
  },
  ssh: { host: "203.0.113.10", hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKey" },
  prepare: { admin: { privateKey: "ADMIN-PRIVATE-KEY-SECRET" } },
  workload: { name: "dev-laptop", namespace: "vms", serviceAccount: "dev-laptop", address: "203.0.113.10" },
  kubeconfig,
};

function valueOf<T>(o: pulumi.Output<T>): Promise<T> {
  return (o as unknown as { promise(): Promise<T> }).promise();
}

describe("VmProxy runtime envoy", () => {
  it("issues a workload certificate instead of minting a token, and runs the plan in the two SSH steps", async () => {
    const start = registrations.length;
    const vm = new VmProxy("e1", args);
    await valueOf(vm.containerId);
    for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
    const mine = registrations.slice(start).filter((r) => r.name.startsWith("e1-"));
    assert.deepEqual(mine.map((r) => `${r.type} ${r.name}`).sort(), [
      "command:local:Command e1-registration-gate",
      "command:local:Command e1-workload-certificate",
      "command:remote:Command e1-host",
      "command:remote:Command e1-proxy",
      "kubernetes:core/v1:ConfigMap e1-istio-ca-root-cert",
      "kubernetes:core/v1:ConfigMap e1-kube-root-ca",
      "pulumi-nodejs:dynamic:Resource e1-drift",
      "tls:index/certRequest:CertRequest e1-workload-csr",
      "tls:index/privateKey:PrivateKey e1-ssh-key",
      "tls:index/privateKey:PrivateKey e1-workload-key",
    ]);
    const byName = (n: string) => mine.find((r) => r.name === n)!;
    // The request (kubeconfig, CSR) is on a secret stdin, never in its command.
    assert.ok(isSecretValue(byName("e1-workload-certificate").raw.stdin));
    assert.doesNotMatch(String(byName("e1-workload-certificate").inputs.create), /ADMIN-TOKEN/);
    assert.deepEqual(byName("e1-workload-csr").inputs.uris, ["spiffe://cluster.local/ns/vms/sa/dev-laptop"]);
    assert.equal(await valueOf(vm.certificateExpiry), "2026-12-08T05:00:00.000Z");
    assert.equal(await valueOf(vm.tokenExpiry), "");
    assert.equal(await valueOf(vm.proxyImage), "docker.io/envoyproxy/envoy:v1.37.0");

    const proxy = byName("e1-proxy");
    const script = String(proxy.inputs.create);
    assert.match(script, /# mesh-vm envoy proxy, config digest [0-9a-f]{64}\n/);
    assert.match(script, /^# \/etc\/envoy\/envoy\.yaml sha256=[0-9a-f]{64}$/m);
    assert.match(script, /^# \/etc\/envoy\/certs\/cert-chain\.pem secret$/m);
    assert.match(script, /^# \/etc\/envoy\/certs\/key\.pem secret$/m);
    assert.doesNotMatch(script, /PRIVATE KEY|MOCK-WORKLOAD-CERT/);
    assert.match(script, /docker run -d --name mesh-envoy/);
    assert.ok(isSecretValue(proxy.raw.stdin));
    const contents = String(proxy.inputs.stdin)
      .trim()
      .split("\n")
      .map((l) => Buffer.from(l.split(" ")[1]!, "base64").toString("utf8"));
    const paths = [...script.matchAll(/^put \S*?(\/etc\/envoy\/[^' \\]+)/gm)].map((m) => m[1]!);
    assert.deepEqual(paths, [
      "/etc/envoy/envoy.yaml",
      "/etc/envoy/certs/workload-certificate.yaml",
      "/etc/envoy/certs/root-ca.yaml",
      "/etc/envoy/certs/cert-chain.pem",
      "/etc/envoy/certs/key.pem",
      "/etc/envoy/certs/root-cert.pem",
    ]);
    assert.equal(contents[3], WORKLOAD_CERT);
    assert.equal(contents[4], GENERATED_KEY);
    assert.equal(contents[5], "MESH ROOT PEM");
    // As on the VM, with a real certificate, key and root in the mocks' places: Envoy's API rules accept it.
    const real = selfSignedWorkload();
    const files = paths.map((path, i) => ({
      path,
      content: i === 3 || i === 5 ? real.cert : i === 4 ? real.key : contents[i]!,
    }));
    assert.deepEqual(validateEnvoyFiles(files, "/etc/envoy/envoy.yaml").problems, []);
  });

  it("refuses the envoy block with another runtime, and a bad block, at preview", () => {
    assert.throws(
      () => new VmProxy("e2", { ...args, runtime: "container" }),
      /VmProxyArgs\.envoy: is set but VmProxyArgs\.runtime is "container"; set VmProxyArgs\.runtime to "envoy", or remove VmProxyArgs\.envoy/,
    );
    assert.throws(
      () =>
        new VmProxy("e3", {
          ...args,
          envoy: { ...args.envoy!, upstreams: [{ ...args.envoy!.upstreams[0]!, host: "reviews" }] },
        }),
      /VmProxyArgs\.envoy\.upstreams\[0\]\.host: "reviews" is not/,
    );
  });
});
