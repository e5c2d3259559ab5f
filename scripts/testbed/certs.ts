// Certificates in tests: a well-formed root for tests that only need one (the stand-in proxy and the files on a
// VM check the PEM, nothing signs with it; the openssl CLI, as in cluster.ts: Node's crypto cannot issue X.509
// certificates), and reading the chain an Istio agent writes (cert-chain.pem: the workload's leaf first).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";

/** A fresh self-signed P-256 root certificate (PEM), valid one day; its key is thrown away. */
export function testRootCertPem(): string {
  return execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      "/dev/null",
    ].concat(["-subj", "/O=mesh-vm test/CN=Root CA", "-days", "1"]),
    { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] },
  );
}

/** The first certificate's PEM in a chain, or undefined when it holds none. */
export function firstCertificatePem(chainPem: string): string | undefined {
  return /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(chainPem)?.[0];
}

/** The leaf (first) certificate of a PEM chain. */
export function leafOf(chainPem: string): X509Certificate {
  const first = firstCertificatePem(chainPem);
  assert.ok(first, `a PEM certificate in:\n${chainPem}`);
  return new X509Certificate(first);
}
