// Reading the certificates an Istio agent writes (cert-chain.pem: the workload's leaf first, then its issuers).
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";

/** The leaf (first) certificate of a PEM chain. */
export function leafOf(chainPem: string): X509Certificate {
  const first = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(chainPem);
  assert.ok(first, `a PEM certificate in:\n${chainPem}`);
  return new X509Certificate(first[0]);
}
