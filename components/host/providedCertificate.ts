// A workload certificate handed in by the user (Vault PKI, cert-manager, a CA of their own) instead of one istiod
// issues at `up`: checked before it reaches the VM, so a key of another certificate, a certificate without a SPIFFE
// id, one for another identity or trust domain, or one that does not chain to the mesh root fails `preview` with
// the field and the fix, instead of an Envoy that cannot handshake. Pure; messages never quote the key.
import { createPrivateKey, X509Certificate, type KeyObject } from "node:crypto";

const pemBlock = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The PEM certificates of a chain, in order. */
export function pemCertificatesOf(chain: string): string[] {
  return chain.match(pemBlock) ?? [];
}

export interface ProvidedCertificateProblem {
  /** `certChain` or `privateKey`. */
  at: "certChain" | "privateKey";
  problem: string;
  fix: string;
}

function parseChain(chain: string): X509Certificate[] | string {
  const pems = pemCertificatesOf(chain);
  if (pems.length === 0) return "holds no PEM certificate";
  try {
    return pems.map((p) => new X509Certificate(p));
  } catch (e) {
    return `holds a certificate that cannot be read: ${(e as Error).message}`;
  }
}

/** The leaf's URI SANs. */
function uriSans(leaf: X509Certificate): string[] {
  return String(leaf.subjectAltName ?? "")
    .split(", ")
    .filter((s) => s.startsWith("URI:"))
    .map((s) => s.slice(4));
}

const chainFix = "give the PEM chain, leaf first, whose leaf carries the VM's SPIFFE id as URI SAN";

/** What can be checked of the pair alone: both readable, the key is the leaf's, a SPIFFE id, unbroken links. */
export function providedCertificateProblems(chain: string, privateKey: string): ProvidedCertificateProblem[] {
  const out: ProvidedCertificateProblem[] = [];
  const certs = parseChain(chain);
  let key: KeyObject | undefined;
  try {
    key = createPrivateKey(privateKey);
  } catch {
    out.push({
      at: "privateKey",
      problem: "is not a readable PEM private key (unencrypted PKCS#8, SEC1 or PKCS#1)",
      fix: "give the leaf certificate's private key in PEM, without a passphrase",
    });
  }
  if (typeof certs === "string") return [{ at: "certChain", problem: certs, fix: chainFix }, ...out];
  const leaf = certs[0]!;
  if (key !== undefined && !leaf.checkPrivateKey(key)) {
    out.push({
      at: "privateKey",
      problem: `is not the key of the chain's first certificate (${leaf.subject.replace(/\n/g, ", ")})`,
      fix: "give the key the leaf certificate was issued for, or put that certificate first in certChain",
    });
  }
  if (!uriSans(leaf).some((u) => u.startsWith("spiffe://"))) {
    out.push({
      at: "certChain",
      problem:
        "its first certificate carries no SPIFFE id (URI SAN spiffe://<trust domain>/ns/<namespace>/sa/<service account>)",
      fix: "issue it with the VM's SPIFFE id as URI SAN (Vault PKI: uri_sans; cert-manager: spec.uris)",
    });
  }
  for (let i = 0; i + 1 < certs.length; i++) {
    if (!certs[i]!.verify(certs[i + 1]!.publicKey)) {
      out.push({
        at: "certChain",
        problem: `certificate ${i + 1} is not signed by certificate ${i + 2}: the chain is out of order or incomplete`,
        fix: "list the leaf first, then each issuer in turn",
      });
      break;
    }
  }
  return out;
}

/**
 * What needs the VM's identity and the mesh root: the leaf is for exactly `spiffeId` (its trust domain included)
 * and the chain ends at, or is signed by, the mesh root (the destination sidecars trust only that root).
 */
export function providedCertificateIdentityProblem(
  chain: string,
  spiffeId: string,
  rootPem: string,
): string | undefined {
  const certs = parseChain(chain);
  if (typeof certs === "string") return certs;
  const sans = uriSans(certs[0]!);
  if (!sans.includes(spiffeId)) {
    return `its first certificate is for ${sans.join(", ") || "no URI"}, not the VM's ${spiffeId}`;
  }
  let root: X509Certificate;
  try {
    root = new X509Certificate(rootPem);
  } catch {
    return "cannot be checked: the mesh root certificate is not readable";
  }
  const top = certs[certs.length - 1]!;
  if (!(top.fingerprint256 === root.fingerprint256 || top.verify(root.publicKey))) {
    return "does not chain to the mesh root (istio-ca-root-cert): the mesh's sidecars would refuse it";
  }
  return undefined;
}

/** The leaf's notAfter, RFC 3339. */
export function certificateNotAfter(chain: string): string {
  const first = pemCertificatesOf(chain)[0];
  return first === undefined ? "" : new Date(new X509Certificate(first).validTo).toISOString();
}

/** What the identity check needs, as a delivery's args give it (each possibly not known yet). */
export interface ProvidedIdentityArgs {
  envoy?: { certificate?: { provided?: { certChain?: unknown } } };
  workload?: unknown;
  mesh?: unknown;
  meshRootCert?: unknown;
}

const plainString = (v: unknown): v is string => typeof v === "string";
const plainRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v) && !("apply" in v);

/**
 * At preview, when the chain, the workload's namespace and ServiceAccount (and the trust domain and mesh root, if
 * given) are plain values: the provided leaf is for the VM's SPIFFE id and chains to the root. Otherwise the
 * delivery checks it once the values are known, before anything reaches the VM.
 */
export function providedIdentityProblem(args: ProvidedIdentityArgs): string | undefined {
  const chain = args.envoy?.certificate?.provided?.certChain;
  const w = args.workload;
  if (!plainString(chain) || !plainRecord(w) || !plainString(w.namespace) || !plainString(w.serviceAccount))
    return undefined;
  const mesh = args.mesh;
  if (mesh !== undefined && !plainRecord(mesh)) return undefined;
  const td = mesh?.trustDomain ?? "cluster.local";
  if (!plainString(td)) return undefined;
  const id = `spiffe://${td}/ns/${w.namespace}/sa/${w.serviceAccount}`;
  // An unreadable chain is the pair check's to report (providedCertificateProblems).
  const certs = parseChain(chain);
  if (typeof certs === "string") return undefined;
  const root = args.meshRootCert;
  if (plainString(root)) return providedCertificateIdentityProblem(chain, id, root);
  const sans = uriSans(certs[0]!);
  return sans.includes(id)
    ? undefined
    : `its first certificate is for ${sans.join(", ") || "no URI"}, not the VM's ${id}`;
}
