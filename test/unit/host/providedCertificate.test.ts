// A workload certificate handed in by the user (runtime envoy, `envoy.certificate.provided`) instead of istiod's:
// a readable pair whose key is the leaf's, with a SPIFFE id and an unbroken chain passes; each mistake is refused
// naming the field, at preview for plain values, without quoting the key. Under a delivery the leaf must be for
// the VM's exact SPIFFE id and chain to the mesh root; no istiod resource is made, the pair reaches the VM on the
// proxy step's secret stdin, and the files pass Envoy's API rules (the test bed's validator).
import { isSecretValue, registrations, valueOf } from "../helpers/pulumiMocks";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  providedCertificateIdentityProblem,
  providedCertificateProblems,
} from "../../../components/host/providedCertificate";
import * as pulumi from "@pulumi/pulumi";
import { VmProxy, VmProxyArgs } from "../../../components/host/vmProxy";
import { createEnvoyWorkloadCertificate } from "../../../components/host/workloadCertificate";
import { envoyRuntimeIssues } from "../../../components/runtime/envoyValidation";
import { fieldNames } from "../../../components/rules/issues";
import { validateEnvoyFiles } from "../../../scripts/testbed/envoyValidator";
import { reviews } from "../runtime/envoyFixtures";

const ID = "spiffe://cluster.local/ns/vms/sa/dev-laptop";

/** A CA (a plug-in CA of the user's, or Vault's) and leaves it signs, made with openssl like the harness's certs. */
function pki() {
  const dir = mkdtempSync(join(tmpdir(), "provided-cert-"));
  const run = (args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  try {
    run([
      "req",
      "-x509",
      ...ec,
      "-keyout",
      "ca.key",
      "-out",
      "ca.crt",
      "-subj",
      "/O=mesh root",
      "-days",
      "2",
    ]);
    run([
      "req",
      "-x509",
      ...ec,
      "-keyout",
      "other.key",
      "-out",
      "other.crt",
      "-subj",
      "/O=other root",
      "-days",
      "2",
    ]);
    const leaf = (name: string, san: string | undefined) => {
      run(["req", "-new", ...ec, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/O=${name}`]);
      writeFileSync(
        join(dir, `${name}.ext`),
        san ? `subjectAltName=${san}\n` : "basicConstraints=CA:FALSE\n",
      );
      run(
        ["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial"].concat(
          ["-days", "1", "-extfile", `${name}.ext`, "-out", `${name}.crt`],
        ),
      );
      return {
        cert: readFileSync(join(dir, `${name}.crt`), "utf8"),
        key: readFileSync(join(dir, `${name}.key`), "utf8"),
      };
    };
    return {
      root: readFileSync(join(dir, "ca.crt"), "utf8"),
      otherRoot: readFileSync(join(dir, "other.crt"), "utf8"),
      vm: leaf("vm", `URI:${ID}`),
      otherSa: leaf("other-sa", "URI:spiffe://cluster.local/ns/vms/sa/someone"),
      otherDomain: leaf("other-td", "URI:spiffe://corp.example/ns/vms/sa/dev-laptop"),
      noSpiffe: leaf("no-spiffe", "DNS:dev-laptop.example"),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const p = pki();

describe("a provided workload certificate: the pair alone", () => {
  it("passes when readable, the key is the leaf's, a SPIFFE id, the chain unbroken", () => {
    assert.deepEqual(providedCertificateProblems(p.vm.cert, p.vm.key), []);
    assert.deepEqual(providedCertificateProblems(p.vm.cert + p.root, p.vm.key), []);
  });

  it("refuses each mistake naming the field, never quoting the key", () => {
    const [wrongKey] = providedCertificateProblems(p.vm.cert, p.otherSa.key);
    assert.equal(wrongKey?.at, "privateKey");
    assert.match(wrongKey!.problem, /is not the key of the chain's first certificate \(O=vm\)/);
    // Not key material: PEM armour around garbage (built here so no key-shaped block sits in the repository).
    const armour = ["-----BEGIN", "PRIVATE KEY-----"].join(" ");
    const [garbage] = providedCertificateProblems(p.vm.cert, `${armour}\nSECRETSTUFF\n`);
    assert.equal(garbage?.at, "privateKey");
    assert.doesNotMatch(JSON.stringify(garbage), /SECRETSTUFF/);
    assert.match(
      providedCertificateProblems(p.noSpiffe.cert, p.noSpiffe.key)[0]!.problem,
      /carries no SPIFFE id/,
    );
    assert.match(providedCertificateProblems("not pem", p.vm.key)[0]!.problem, /holds no PEM certificate/);
    assert.match(
      providedCertificateProblems(p.root + p.vm.cert, p.vm.key)
        .map((x) => x.problem)
        .join("\n"),
      /certificate 1 is not signed by certificate 2/,
    );
  });

  it("envoy.certificate.provided is checked at preview with the field names, and excludes istiod's settings", () => {
    const f = fieldNames("VmProxyArgs.envoy");
    const issues = envoyRuntimeIssues(
      {
        gatewayAddress: "192.0.2.10",
        upstreams: [reviews],
        certificate: { provided: { certChain: p.vm.cert, privateKey: p.otherSa.key }, lifetimeSeconds: 3600 },
      },
      (k) => (k === "" ? "VmProxyArgs.envoy" : f(k)),
    );
    assert.deepEqual(
      issues.map((i) => i.field),
      ["VmProxyArgs.envoy.certificate.lifetimeSeconds", "VmProxyArgs.envoy.certificate.provided.privateKey"],
    );
  });
});

describe("a provided workload certificate: against the VM's identity and the mesh root", () => {
  it("passes for the VM's SPIFFE id under the mesh root, refuses another identity, trust domain or root", () => {
    assert.equal(providedCertificateIdentityProblem(p.vm.cert, ID, p.root), undefined);
    assert.match(
      providedCertificateIdentityProblem(p.otherSa.cert, ID, p.root)!,
      /is for spiffe:\/\/cluster\.local\/ns\/vms\/sa\/someone, not the VM's/,
    );
    assert.match(
      providedCertificateIdentityProblem(p.otherDomain.cert, ID, p.root)!,
      /corp\.example.*not the VM's/,
    );
    assert.match(
      providedCertificateIdentityProblem(p.vm.cert, ID, p.otherRoot)!,
      /does not chain to the mesh root/,
    );
  });
});

describe("VmProxy runtime envoy with a provided certificate (mocks)", () => {
  const args = (cert: { cert: string; key: string }, root = p.root): VmProxyArgs => ({
    runtime: "envoy",
    envoy: {
      gatewayAddress: "192.0.2.10",
      upstreams: [reviews],
      certificate: { provided: { certChain: cert.cert, privateKey: cert.key } },
    },
    ssh: { host: "203.0.113.10", hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKey", privateKey: "K" },
    workload: { name: "dev-laptop", namespace: "vms", serviceAccount: "dev-laptop", address: "203.0.113.10" },
    kubeconfig: "apiVersion: v1\nkind: Config\n",
    meshRootCert: root,
    kubernetesRootCert: root,
  });

  it("makes no istiod resource; the pair reaches the VM on the secret stdin; the files pass the validator", async () => {
    const start = registrations.length;
    const vm = new VmProxy("pc", args(p.vm));
    assert.equal(
      await valueOf(vm.certificateExpiry),
      new Date(new X509Certificate(p.vm.cert).validTo).toISOString(),
    );
    await valueOf(vm.containerId);
    for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
    const mine = registrations.slice(start).filter((r) => r.name.startsWith("pc-"));
    assert.ok(!mine.some((r) => /workload-(key|csr|certificate)$/.test(r.name)), "no key, CSR or issue");
    const proxy = mine.find((r) => r.name === "pc-proxy")!;
    assert.ok(isSecretValue(proxy.raw.stdin));
    assert.doesNotMatch(String(proxy.inputs.create), /PRIVATE KEY/);
    const files = String(proxy.inputs.stdin)
      .split("\n")
      .filter((l) => /^[0-9a-f]{64} /.test(l))
      .map((l) => Buffer.from(l.split(" ")[1]!, "base64").toString("utf8"));
    assert.ok(files.includes(p.vm.cert) && files.includes(p.vm.key), "the provided pair is among the files");
    const planned = [
      "envoy.yaml",
      "certs/workload-certificate.yaml",
      "certs/root-ca.yaml",
      "certs/cert-chain.pem",
      "certs/key.pem",
      "certs/root-cert.pem",
    ];
    const v = validateEnvoyFiles(
      planned.map((f, i) => ({ path: `/etc/envoy/${f}`, content: files[i]! })),
      "/etc/envoy/envoy.yaml",
    );
    assert.ok(v.ok, v.problems.join("\n"));
  });

  it("refuses a key of another certificate before registering, naming the field", () => {
    assert.throws(
      () => new VmProxy("pc-bad", args({ cert: p.vm.cert, key: p.otherSa.key })),
      /VmProxyArgs\.envoy\.certificate\.provided\.privateKey: is not the key of the chain's first certificate/,
    );
  });

  it("refuses a certificate for another identity, trust domain or root before registering, naming the field", () => {
    for (const [cert, root, message] of [
      [
        p.otherSa,
        p.root,
        /its first certificate is for spiffe:\/\/cluster\.local\/ns\/vms\/sa\/someone, not the VM's spiffe:\/\/cluster\.local\/ns\/vms\/sa\/dev-laptop/,
      ],
      [p.otherDomain, p.root, /is for spiffe:\/\/corp\.example\/ns\/vms\/sa\/dev-laptop, not the VM's/],
      [p.vm, p.otherRoot, /does not chain to the mesh root/],
    ] as const) {
      const before = registrations.length;
      assert.throws(
        () => new VmProxy("pc-id", args(cert, root)),
        (e: Error) =>
          e.message.includes("VmProxyArgs.envoy.certificate.provided.certChain: ") && message.test(e.message),
      );
      assert.equal(registrations.length, before);
    }
  });

  it("through the delivery's material (what VmProxy and VmBoot use when the workload is an Output): passes through, nothing issued", async () => {
    // The material as VmProxy and VmBoot make it: a good certificate passes through, nothing is issued.
    const m = createEnvoyWorkloadCertificate(
      "pc-m",
      {},
      { envoy: args(p.vm).envoy!, kubeconfig: "" },
      {
        workload: pulumi.output({ namespace: "vms", serviceAccount: "dev-laptop" }),
        mesh: pulumi.output({}),
        meshRootCert: p.root,
      },
    );
    assert.equal(await valueOf(m.certChain), p.vm.cert);
    assert.equal(await valueOf(m.keyPem), p.vm.key);
    assert.deepEqual(m.resources, []);
  });
});
