// The workload certificate of a VM that runs a plain Envoy (runtime `envoy`): issued by the mesh's own CA,
// istiod, exactly as Istio's agent asks for one: a TokenRequest token of audience `istio-ca` for the VM's
// ServiceAccount, then gRPC `istio.v1.auth.IstioCertificateService/CreateCertificate` on istiod's port 15012
// over TLS verified with the mesh root. A small fixed Node program (../programs/issueCertificate.ts) does both, run by `local.Command` at `up`
// (never at preview); everything it needs arrives on stdin as one secret JSON document, so the cluster
// credentials and the token are never on a command line, in a log or in state (the token lives only inside
// the program). It prints the certificate chain, which is public.
import type { TokenRequestInput } from "./tokenRequest";

/** The stdin document of the certificate program. */
export interface CertificateRequestInput {
  /** How to mint the token (the minting program's own input; audiences normally ["istio-ca"]). */
  tokenRequest: TokenRequestInput;
  /** PEM CSR (istiod signs the token's identity, whatever SANs the CSR asks for). */
  csrPem: string;
  /** Requested lifetime; istiod refuses more than its maximum (90 days by default). */
  validitySeconds: number;
  /** `host:port` the machine running Pulumi dials (istiod's 15012, directly or through the gateway). */
  caAddress: string;
  /** The name istiod's serving certificate holds (`istiod.istio-system.svc`): TLS SNI and name check. */
  caServerName: string;
  /** The mesh root (PEM): istiod's certificate and the issued chain must verify against it. */
  rootPem: string;
  /** The SPIFFE id the issued certificate must carry (`spiffe://<td>/ns/<ns>/sa/<sa>`). */
  spiffeId: string;
}

/** What the program prints. */
export interface IssuedCertificate {
  /** Leaf first, then intermediates (without the root): Envoy's certificate_chain. */
  certChain: string;
  /** The leaf's notAfter, RFC 3339. */
  notAfter: string;
  spiffeId: string;
}

/** Parses the program's stdout. */
export function parseIssuedCertificate(stdout: string): IssuedCertificate {
  let parsed: Partial<IssuedCertificate>;
  try {
    parsed = JSON.parse(stdout) as Partial<IssuedCertificate>;
  } catch {
    throw new Error("certificate issue printed something other than its JSON answer");
  }
  if (typeof parsed.certChain !== "string" || !parsed.certChain.includes("BEGIN CERTIFICATE")) {
    throw new Error("certificate issue returned no certificate chain");
  }
  return {
    certChain: parsed.certChain,
    notAfter: String(parsed.notAfter ?? ""),
    spiffeId: String(parsed.spiffeId ?? ""),
  };
}
