// The VM's workload certificate as resources (runtime `envoy`): a key and CSR (@pulumi/tls: the key is a
// secret output, encrypted in state, and travels to the VM only on a secret stdin), and the issue by istiod
// (a local Command running the fixed certificate program, its request on secret stdin). Preview issues
// nothing. The certificate is re-issued at the first `up` of each (lifetime − renewBefore) window, like the
// bootstrap token is re-minted, so an `up` never leaves a certificate within `renewBefore` of its expiry; the
// key and the files that name it stay, so the VM's Envoy re-reads only the certificate files.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { localProgram } from "../localProgram";
import { CertificateRequestInput, IssuedCertificate, parseIssuedCertificate } from "./certificateProgram";
import type { MeshSettings } from "./sidecarEnv";
import { apiServerAccessFromKubeconfig, tokenRotationWindow } from "./tokenRequest";
import type { EnvoyProvidedCertificateArgs, EnvoyRuntimeArgs } from "../runtime/envoyArgs";
import {
  certificateNotAfter,
  providedCertificateIdentityProblem,
  providedCertificateProblems,
} from "./providedCertificate";

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
  /**
   * Re-issue at the first `up` of each (lifetime − renewBefore) window (default true). False for boot-time
   * delivery: the certificate is part of user data read once at first boot, and a new one at every window would be
   * new user data, so a new VM, every window; it is then re-issued only for a new identity, key, lifetime or
   * `rotation`.
   */
  renewByTime?: boolean;
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
  const window =
    spec.renewByTime === false
      ? ""
      : tokenRotationWindow(Date.now(), spec.lifetimeSeconds, spec.renewBeforeSeconds);
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
      create: localProgram("issueCertificate"),
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

/** What a delivery knows of the VM when it issues the envoy runtime's certificate. */
export interface EnvoyCertificateContext {
  workload: pulumi.Output<{ namespace: string; serviceAccount: string }>;
  mesh: pulumi.Output<MeshSettings>;
  meshRootCert: pulumi.Input<string>;
}

/** The envoy runtime's certificate as the deliveries take it, issued by istiod or handed in. */
export interface EnvoyCertificateMaterial {
  /** PEM key (secret). */
  keyPem: pulumi.Output<string>;
  /** Leaf first (public). */
  certChain: pulumi.Output<string>;
  /** RFC 3339. */
  notAfter: pulumi.Output<string>;
  /** The resources that make it (none for a provided one): what waits for it waits for these. */
  resources: pulumi.Resource[];
}

/**
 * The envoy runtime's material for either delivery, instead of a bootstrap token: the certificate handed in
 * (`envoy.certificate.provided`), checked against the VM's SPIFFE id and the mesh root, or one from istiod's CA
 * with `envoy.certificate`'s settings and their defaults.
 */
export function createEnvoyWorkloadCertificate(
  name: string,
  opts: pulumi.CustomResourceOptions,
  args: { envoy: EnvoyRuntimeArgs; kubeconfig: pulumi.Input<string>; kubeContext?: pulumi.Input<string> },
  vm: EnvoyCertificateContext,
  renewByTime = true,
): EnvoyCertificateMaterial {
  const { envoy } = args;
  const c = envoy.certificate ?? {};
  const trustDomain = vm.mesh.apply((m) => m.trustDomain ?? "cluster.local");
  if (c.provided !== undefined) return providedMaterial(c.provided, vm, trustDomain);
  const lifetimeSeconds = c.lifetimeSeconds ?? workloadCertificateDefaults.lifetimeSeconds;
  const gw = envoy.gatewayAddress;
  const issued = createWorkloadCertificate(name, opts, {
    kubeconfig: args.kubeconfig,
    kubeContext: args.kubeContext,
    namespace: vm.workload.namespace,
    serviceAccount: vm.workload.serviceAccount,
    trustDomain,
    // MeshExpansion exposes istiod's 15012 on the east-west gateway, the address the VM's Envoy uses too.
    caAddress: c.caAddress ?? `${gw.includes(":") ? `[${gw}]` : gw}:15012`,
    caServerName: c.caServerName ?? vm.mesh.apply((m) => `istiod.${m.istioNamespace ?? "istio-system"}.svc`),
    meshRootCert: vm.meshRootCert,
    lifetimeSeconds,
    renewBeforeSeconds: c.renewBeforeSeconds ?? defaultRenewBeforeSeconds(lifetimeSeconds),
    ...(c.rotation !== undefined ? { rotation: c.rotation } : {}),
    renewByTime,
  });
  return { ...issued, resources: [issued.issue] };
}

/**
 * A certificate handed in: checked once its values are known (at preview for plain values) against the VM's
 * exact SPIFFE id and the mesh root; the key is wrapped as a secret whatever the caller passed.
 */
function providedMaterial(
  provided: EnvoyProvidedCertificateArgs,
  vm: EnvoyCertificateContext,
  trustDomain: pulumi.Output<string>,
): EnvoyCertificateMaterial {
  const field = "envoy.certificate.provided";
  // The pair is checked here too: a secret (an Output) is not known when the inputs are validated. The key is
  // read, never returned: the result is the public chain.
  const certChain = pulumi
    .all([
      pulumi.unsecret(pulumi.output(provided.certChain)),
      pulumi.unsecret(pulumi.output(provided.privateKey)),
      vm.workload,
      trustDomain,
      vm.meshRootCert,
    ])
    .apply(([chain, key, w, td, root]) => {
      const pair = providedCertificateProblems(chain, key)[0];
      if (pair !== undefined) throw new Error(`${field}.${pair.at}: ${pair.problem}; ${pair.fix}`);
      const problem = providedCertificateIdentityProblem(chain, spiffeIdOf(td, w), root);
      if (problem !== undefined) {
        throw new Error(
          `${field}.certChain: ${problem}; issue it for that identity, chaining to the mesh's root CA`,
        );
      }
      return chain;
    });
  return {
    certChain,
    // Carries the check: nothing renders with the key before the chain passed.
    keyPem: pulumi.secret(pulumi.all([certChain, provided.privateKey]).apply(([, k]) => k)),
    notAfter: certChain.apply(certificateNotAfter),
    resources: [],
  };
}

const spiffeIdOf = (td: string, w: { namespace: string; serviceAccount: string }) =>
  `spiffe://${td}/ns/${w.namespace}/sa/${w.serviceAccount}`;
