// Private keys for tests, made at run time: tests need key-shaped secrets to follow through state, logs and
// errors, and the repository holds no key material at all.
import { generateKeyPairSync } from "node:crypto";

/** A fresh private key as PEM: ED25519 in PKCS#8 (like an SSH key), or a P-256 EC key in SEC1 (like a kubeconfig's). */
export function testPrivateKeyPem(type: "ed25519" | "ec" = "ed25519"): string {
  if (type === "ec") {
    return generateKeyPairSync("ec", { namedCurve: "P-256" })
      .privateKey.export({ type: "sec1", format: "pem" })
      .toString();
  }
  return generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();
}
