// The VM's workload certificate as resources (runtime `envoy`): a key and CSR (@pulumi/tls: the key is a
// secret output, encrypted in state, and travels to the VM only on a secret stdin), and the issue by istiod
// (a local Command running the fixed certificate program, its request on secret stdin). Preview issues
// nothing. The certificate is re-issued at the first `up` of each (lifetime − renewBefore) window, like the
// bootstrap token is re-minted, so an `up` never leaves a certificate within `renewBefore` of its expiry; the
// key and the files that name it stay, so the VM's Envoy re-reads only the certificate files.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import {
  CertificateRequestInput,
  ISSUE_CERTIFICATE_PROGRAM,
  IssuedCertificate,
  parseIssuedCertificate,
} from "./certificateProgram";
import { apiServerAccessFromKubeconfig, tokenRotationWindow } from "./tokenRequest";

/** Certificate lifetime and renewal, with Istio's defaults. */
export const workloadCertificateDefaults = {
  /** istiod's default workload certificate lifetime. */
  lifetimeSeconds: 86400,
  /** istiod refuses more (its MAX_WORKLOAD_CERT_TTL default). */
  maxLifetimeSeconds: 90 * 86400,
  /** The TokenRequest token is used at once, by the same program: the API server's minimum lifetime. */
  tokenExpirationSeconds: 600,
  audiences: ["istio-ca"],
} as const;

/** Renew margin default: a third of the lifetime (8 h of the default 24 h). */
export function defaultRenewBeforeSeconds(lifetimeSeconds: number): number {
  return Math.floor(lifetimeSeconds / 3);
}

export interface WorkloadCertificateSpec {
  kubeconfig: pulumi.Input<string>;
  kubeContext?: pulumi.Input<string>;
  /** The VM's identity: istiod signs the ServiceAccount the token is for. */
  namespace: pulumi.Input<string>;
  serviceAccount: pulumi.Input<string>;
  trustDomain: pulumi.Input<string>;
  /** `host:port` of istiod's CA as the machine running Pulumi reaches it. */
  caAddress: pulumi.Input<string>;
  /** The name in istiod's serving certificate, default `istiod.istio-system.svc`. */
  caServerName: pulumi.Input<string>;
  /** The mesh root (PEM). */
  meshRootCert: pulumi.Input<string>;
  lifetimeSeconds: number;
  renewBeforeSeconds: number;
  /** Token audiences; `["istio-ca"]` unless a test or a custom CA wants another. */
  audiences?: string[];
  /** Changing it re-issues the certificate at once. */
  rotation?: pulumi.Input<string>;
}

export interface WorkloadCertificate {
  key: tls.PrivateKey;
  issue: command.local.Command;
  /** PEM private key (secret). */
  keyPem: pulumi.Output<string>;
  /** Leaf and intermediates (public). */
  certChain: pulumi.Output<string>;
  /** RFC 3339. */
  notAfter: pulumi.Output<string>;
  spiffeId: pulumi.Output<string>;
}

/** `<name>-workload-key`, `<name>-workload-csr`, `<name>-workload-certificate`. */
export function createWorkloadCertificate(
  name: string,
  opts: pulumi.CustomResourceOptions,
  spec: WorkloadCertificateSpec,
): WorkloadCertificate {
  const key = new tls.PrivateKey(`${name}-workload-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, opts);
  const spiffeId = pulumi.interpolate`spiffe://${spec.trustDomain}/ns/${spec.namespace}/sa/${spec.serviceAccount}`;
  const csr = new tls.CertRequest(
    `${name}-workload-csr`,
    { privateKeyPem: key.privateKeyPem, uris: [spiffeId], subject: { organization: spec.trustDomain } },
    opts,
  );
  const window = tokenRotationWindow(Date.now(), spec.lifetimeSeconds, spec.renewBeforeSeconds);
  const request = pulumi
    .all({
      kubeconfig: pulumi.secret(spec.kubeconfig),
      context: pulumi.output(spec.kubeContext ?? ""),
      namespace: spec.namespace,
      serviceAccount: spec.serviceAccount,
      csrPem: csr.certRequestPem,
      caAddress: spec.caAddress,
      caServerName: spec.caServerName,
      rootPem: spec.meshRootCert,
      id: spiffeId,
    })
    .apply((v) => {
      const input: CertificateRequestInput = {
        tokenRequest: {
          access: apiServerAccessFromKubeconfig(v.kubeconfig, v.context || undefined),
          namespace: v.namespace,
          serviceAccount: v.serviceAccount,
          audiences: spec.audiences ?? [...workloadCertificateDefaults.audiences],
          expirationSeconds: workloadCertificateDefaults.tokenExpirationSeconds,
        },
        csrPem: v.csrPem,
        validitySeconds: spec.lifetimeSeconds,
        caAddress: v.caAddress,
        caServerName: v.caServerName,
        rootPem: v.rootPem,
        spiffeId: v.id,
      };
      return JSON.stringify(input);
    });
  const issue = new command.local.Command(
    `${name}-workload-certificate`,
    {
      interpreter: ["node", "-e"],
      create: ISSUE_CERTIFICATE_PROGRAM,
      stdin: pulumi.secret(request),
      // What the certificate depends on: a change re-issues it (the token is minted anew inside, every time).
      triggers: [
        spiffeId,
        csr.certRequestPem,
        spec.caAddress,
        spec.meshRootCert,
        spec.lifetimeSeconds,
        window,
        spec.rotation ?? "",
        (spec.audiences ?? []).join(","),
      ],
      logging: "none",
      addPreviousOutputInEnv: false,
    },
    { ...opts, additionalSecretOutputs: ["stderr"] },
  );
  const issued: pulumi.Output<IssuedCertificate> = issue.stdout.apply(parseIssuedCertificate);
  return {
    key,
    issue,
    keyPem: pulumi.secret(key.privateKeyPem),
    certChain: issued.certChain,
    notAfter: issued.notAfter,
    spiffeId,
  };
}
