// Certificates for tests that only need a well-formed root (the stand-in proxy and the files on a VM check the
// PEM, nothing signs with it). The openssl CLI, as in cluster.ts: Node's crypto cannot issue X.509 certificates.
import { execFileSync } from "node:child_process";

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
