// The `envoy` runtime's settings (seed 003: a plain Envoy with a static config and a mesh workload
// certificate, no istiod connection), in the project's and Istio's words, and their defaults. The renderers
// (envoyBootstrap.ts, envoySds.ts) take the resolved form; runtime/envoyValidation.ts checks the inputs.
import { posix } from "node:path";
import type * as pulumi from "@pulumi/pulumi";

/** Protocols of an upstream: they decide the listener's filter and the ALPN the gateway and sidecar match on. */
export const envoyUpstreamProtocols = ["TCP", "HTTP", "HTTP2", "GRPC"] as const;
export type EnvoyUpstreamProtocol = (typeof envoyUpstreamProtocols)[number];

/** One mesh service the VM calls through its local Envoy. */
export interface EnvoyUpstreamArgs {
  /** The service's fully qualified host, as the mesh names it: `reviews.bookinfo.svc.cluster.local`. */
  host: string;
  /** The service port (the SNI names it: `outbound_.<port>_._.<host>`). */
  port: number;
  /** `TCP`, `HTTP` (default), `HTTP2` or `GRPC`: chooses the ALPN the VM offers and the local listener's filter. */
  protocol?: string;
  /** The destination's ServiceAccount: the server certificate must carry exactly its SPIFFE id. */
  serviceAccount: string;
  /** The destination's namespace; default: the second label of `host` (`<service>.<namespace>.svc.<domain>`). */
  namespace?: string;
  /** The port the VM's applications call on the loopback listener (`bind`:`localPort`). */
  localPort: number;
  /** A DestinationRule subset (`outbound_.<port>_.<subset>_.<host>`); default none. */
  subset?: string;
  /**
   * Under MeshVm: an ALLOW AuthorizationPolicy in the destination's namespace admitting this VM's principal to
   * the destination's workloads (the sidecar sees the VM's own certificate: the gateway only passes TLS through).
   * ALLOW policies add up: where none selected the destination before, this one makes it refuse every other
   * caller, so use it where the destination is already under ALLOW policies. VmProxy and VmBoot alone create
   * no mesh object (render it with `renderVmAuthorizationPolicy`).
   */
  authorize?: EnvoyUpstreamAuthorizationArgs;
}

/** The AuthorizationPolicy MeshVm creates for an upstream (`upstreams[i].authorize`). */
export interface EnvoyUpstreamAuthorizationArgs {
  /** Labels of the destination's pods, the policy's `selector.matchLabels` (e.g. `{ app: "reviews" }`); no wildcard. */
  selector: Record<string, string>;
  /** The policy's name; default `<workload name>-to-<service>-<port>[-<subset>]`. */
  name?: string;
}

/** An optional listener through which the mesh calls the VM (mTLS from the mesh; a ServiceEntry points at it). */
export interface EnvoyInboundArgs {
  /** The port Envoy listens on, on `address` (the VM's interface); mesh clients connect here with mTLS. */
  port: number;
  /** The port the VM's application listens on at 127.0.0.1. */
  targetPort: number;
  /** The address Envoy binds the inbound listener to; default `0.0.0.0`. */
  address?: string;
}

/**
 * The forwarding proxy (seed 003's last picture): the upstream listeners on the VM's interface instead of
 * loopback, for other VMs that stay untouched (plain TCP in from `sourceRanges`, mTLS out as this VM's identity).
 */
export interface EnvoyForwardArgs {
  /** The VM's interface address the upstream listeners bind to (an IP; `0.0.0.0` for every interface). */
  address: string;
  /**
   * The CIDRs whose hosts may connect (`10.0.1.0/24`, `2001:db8::/64`), Envoy's
   * `filter_chain_match.source_prefix_ranges`: a connection from elsewhere matches no filter chain and is closed
   * before any byte reaches the mesh. Every source admitted calls the mesh as this VM's identity.
   */
  sourceRanges: string[];
}

/** `envoy: {...}` of a VM whose runtime is `envoy`. */
export interface EnvoyRuntimeArgs {
  /** The mesh services the VM calls: one loopback listener and one SNI-named cluster each. */
  upstreams: EnvoyUpstreamArgs[];
  /** The east-west gateway's address as the VM reaches it: an IP (STATIC cluster) or a DNS name (STRICT_DNS). */
  gatewayAddress: string;
  /** The gateway's AUTO_PASSTHROUGH port; default 15443 (MeshExpansion's `passthroughPort`). */
  gatewayPort?: number;
  /** Loopback address of the upstream listeners; default `127.0.0.1`. */
  bind?: string;
  /** Envoy's admin port on 127.0.0.1 (`/ready` for the readiness wait); default 15000. */
  adminPort?: number;
  /** Directory of `envoy.yaml` and `certs/` on the VM; default `/etc/envoy`. */
  configDir?: string;
  /** Optional inbound listener. */
  inbound?: EnvoyInboundArgs;
  /** Makes this VM a forwarding proxy: the upstream listeners on its interface, open to `sourceRanges` only. */
  forward?: EnvoyForwardArgs;
  /** The Envoy image; default `docker.io/envoyproxy/envoy:v1.37.0`. */
  image?: string;
  /** The container's name on the VM; default `mesh-envoy`. */
  containerName?: string;
  /** How long `up` waits for Envoy's `/ready`; default 120 s. */
  readinessTimeoutSeconds?: number;
  /** The workload certificate from istiod's CA. */
  certificate?: EnvoyCertificateArgs;
}

/** How the VM's workload certificate is issued and renewed (by istiod, at `up`), or the one you hand in. */
export interface EnvoyCertificateArgs {
  /**
   * A certificate you issue yourself (Vault PKI, cert-manager, a CA of your own) instead of istiod's: checked at
   * preview (readable, the key is the leaf's, a SPIFFE id, unbroken chain) and before it reaches the VM (the VM's
   * exact SPIFFE id, chaining to the mesh root). You renew it: a new value rewrites only the certificate files.
   * The istiod settings below do not apply to it.
   */
  provided?: EnvoyProvidedCertificateArgs;
  /** Requested lifetime; default 86400 (istiod's default), at most 90 days (istiod's maximum). */
  lifetimeSeconds?: number;
  /**
   * Renewed at the first `up` of each (lifetime − renewBefore) window, so an `up` never leaves less than this;
   * default a third of the lifetime. Without an `up` in time the certificate lapses: no agent renews it.
   */
  renewBeforeSeconds?: number;
  /** istiod's CA as the machine running Pulumi reaches it; default `<gatewayAddress>:15012` (MeshExpansion exposes it). */
  caAddress?: string;
  /** The name in istiod's serving certificate; default `istiod.istio-system.svc`. */
  caServerName?: string;
  /** Changing it re-issues the certificate at the next `up`. */
  rotation?: string;
}

/** A workload certificate handed in by the user (`envoy.certificate.provided`). */
export interface EnvoyProvidedCertificateArgs {
  /** PEM chain, leaf first, then its issuers up to (or signed by) the mesh root; the leaf's URI SAN is the VM's SPIFFE id. */
  certChain: pulumi.Input<string>;
  /** The leaf's private key, PEM, unencrypted (kept secret). */
  privateKey: pulumi.Input<string>;
}

/**
 * The block as the renderers take it: without a provided certificate, which is material (it reaches the plan as
 * the delivery's workload certificate), so that a secret key never makes the public plan secret.
 */
export function envoySettingsWithoutMaterial(
  envoy: EnvoyRuntimeArgs | undefined,
): EnvoyRuntimeArgs | undefined {
  if (envoy?.certificate?.provided === undefined) return envoy;
  const { provided: _provided, ...certificate } = envoy.certificate;
  void _provided;
  return { ...envoy, certificate };
}

export const envoyDefaults = {
  gatewayPort: 15443,
  bind: "127.0.0.1",
  adminPort: 15000,
  configDir: "/etc/envoy",
  protocol: "HTTP" as EnvoyUpstreamProtocol,
  inboundAddress: "0.0.0.0",
} as const;

export interface EnvoyUpstream {
  host: string;
  port: number;
  protocol: EnvoyUpstreamProtocol;
  serviceAccount: string;
  namespace: string;
  localPort: number;
  subset?: string;
}

/** Every setting resolved: what the renderers take. */
export interface EnvoySettings {
  /** The VM's own identity: node id and the inbound listener's trust domain. */
  trustDomain: string;
  /** `<namespace>/<name>` of the VM, for Envoy's node id and cluster. */
  nodeId: string;
  nodeCluster: string;
  upstreams: EnvoyUpstream[];
  gatewayAddress: string;
  gatewayPort: number;
  bind: string;
  adminPort: number;
  configDir: string;
  inbound?: { port: number; targetPort: number; address: string };
  /** The forwarding proxy: the upstream listeners' address, and the sources allowed in. */
  forward?: { address: string; sourceRanges: EnvoyCidrRange[] };
}

/** Envoy's `config.core.v3.CidrRange`. */
export interface EnvoyCidrRange {
  address_prefix: string;
  prefix_len: number;
}

/** `10.0.1.0/24` as Envoy's CidrRange (validated first: envoyValidation.ts). */
export function cidrRange(cidr: string): EnvoyCidrRange {
  const [address, len] = cidr.split("/");
  return { address_prefix: address!, prefix_len: Number(len) };
}

/** Where the files live on the VM. Certificates and SDS files share one watched directory. */
export interface EnvoyPaths {
  config: string;
  certsDir: string;
  certificateSds: string;
  rootSds: string;
  certChain: string;
  key: string;
  root: string;
}

export function envoyPaths(configDir: string): EnvoyPaths {
  const certsDir = posix.join(configDir, "certs");
  return {
    config: posix.join(configDir, "envoy.yaml"),
    certsDir,
    certificateSds: posix.join(certsDir, "workload-certificate.yaml"),
    rootSds: posix.join(certsDir, "root-ca.yaml"),
    certChain: posix.join(certsDir, "cert-chain.pem"),
    key: posix.join(certsDir, "key.pem"),
    root: posix.join(certsDir, "root-cert.pem"),
  };
}

/** The destination's namespace from `<service>.<namespace>.svc[.<domain>]`, or undefined. */
export function namespaceOfHost(host: string): string | undefined {
  const parts = host.split(".");
  return parts.length >= 3 && parts[2] === "svc" ? parts[1] : undefined;
}

/** The ASCII upper-case protocol when it is one of the upstream protocols. */
export function upstreamProtocolOf(v: string | undefined): EnvoyUpstreamProtocol | undefined {
  if (v === undefined) return envoyDefaults.protocol;
  const up = v.replace(/[a-z]/g, (c) => c.toUpperCase());
  return (envoyUpstreamProtocols as readonly string[]).includes(up)
    ? (up as EnvoyUpstreamProtocol)
    : undefined;
}

/** Applies the defaults to validated args (components/validation/envoy.ts ran first). */
export function resolveEnvoySettings(
  args: EnvoyRuntimeArgs,
  vm: { trustDomain: string; namespace: string; name: string; serviceAccount: string },
): EnvoySettings {
  return {
    trustDomain: vm.trustDomain,
    nodeId: `${vm.name}.${vm.namespace}`,
    nodeCluster: `${vm.serviceAccount}.${vm.namespace}`,
    upstreams: args.upstreams.map((u) => ({
      host: u.host,
      port: u.port,
      protocol: upstreamProtocolOf(u.protocol) ?? envoyDefaults.protocol,
      serviceAccount: u.serviceAccount,
      namespace: u.namespace ?? namespaceOfHost(u.host) ?? "",
      localPort: u.localPort,
      ...(u.subset !== undefined ? { subset: u.subset } : {}),
    })),
    gatewayAddress: args.gatewayAddress,
    gatewayPort: args.gatewayPort ?? envoyDefaults.gatewayPort,
    bind: args.bind ?? envoyDefaults.bind,
    adminPort: args.adminPort ?? envoyDefaults.adminPort,
    configDir: (args.configDir ?? envoyDefaults.configDir).replace(/(.)\/$/, "$1"),
    ...(args.inbound !== undefined
      ? {
          inbound: {
            port: args.inbound.port,
            targetPort: args.inbound.targetPort,
            address: args.inbound.address ?? envoyDefaults.inboundAddress,
          },
        }
      : {}),
    ...(args.forward !== undefined
      ? {
          forward: {
            address: args.forward.address,
            sourceRanges: args.forward.sourceRanges.map(cidrRange),
          },
        }
      : {}),
  };
}
