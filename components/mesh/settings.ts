// The bottom of the package: MeshVm's settings after defaults (what the renderers, the host mapping and the
// `settings` output see), the allowed values of its enum-like inputs, and every MeshVm default, each written
// once. Validation, resolution, the stack config and the docs read them from here, so they cannot drift apart.
// Imports nothing but the API-version constants of this directory.
import { networkingV1 } from "./apiVersion";

/** Mesh flavors MeshVm and the stack config accept. */
export const meshFlavors = ["istio", "tsb"];
/** MeshExpansion's flavors. */
export const meshExpansionFlavors = ["tsb", "istio"];
/** Protocols of Sidecar listeners and ServiceEntry ports. */
export const sidecarProtocols = ["HTTP", "HTTPS", "GRPC", "HTTP2", "MONGO", "TCP", "TLS"];
/** Sidecar egress `captureMode` values. */
export const captureModes = ["DEFAULT", "IPTABLES", "NONE"];
/** Sidecar `outboundTrafficPolicy.mode` values. */
export const outboundTrafficPolicyModes = ["REGISTRY_ONLY", "ALLOW_ANY"];

/**
 * Istio's own defaults (install values and mesh config) where MeshVm, MeshExpansion and VmProxy fall back to
 * them: the trust domain, the control-plane namespace and the image hub of the proxy.
 */
export const istioDefaults = {
  trustDomain: "cluster.local",
  istioNamespace: "istio-system",
  proxyImageHub: "docker.io/istio",
  /** istiod's CLUSTER_ID when none is set (the proxy's ISTIO_META_CLUSTER_ID). */
  clusterId: "Kubernetes",
} as const;

/**
 * MeshVm's defaults (the `@default` of each MeshVmArgs field). Values derived from other inputs are the
 * functions below. Arrays are shared: copy them before handing them out.
 */
export const meshVmDefaults = {
  flavor: "istio",
  apiVersion: networkingV1,
  trustDomain: istioDefaults.trustDomain,
  createServiceAccount: false,
  /** Value of the `class` label added to the workload labels (empty: none added). */
  vmClassLabel: "vm",
  portProtocol: "HTTP",
  /** The seeds' egress listener: the application's outbound calls go to 127.0.0.2. */
  egressBind: "127.0.0.2",
  egressHosts: ["./*"] as readonly string[],
  sidecarEnabled: true,
  /** The VM-only `class` label keeps the Sidecar off the pods of the same app. */
  sidecarSelectorLabelKeys: ["app", "class"] as readonly string[],
  serviceEntryEnabled: true,
  workloadGroupEnabled: false,
  /**
   * The seeds' `/etc/istio-proxy`, not tctl's `/tmp/istio-proxy`: the token and the agent's issued certificates
   * must survive a reboot (tmp is cleared). Since it differs from tctl's default it is written as an annotation,
   * so tctl reading the object uses the same directory.
   */
  proxyConfigDir: "/etc/istio-proxy",
  /** MeshVm's defaults, not tctl's, for unset bootstrap settings (`MeshVmArgs.tctlDefaults`). */
  tctlDefaults: false,
} as const;

/** MeshExpansion's defaults (the `@default` of each MeshExpansionArgs field). */
export const meshExpansionDefaults = {
  istioNamespace: istioDefaults.istioNamespace,
  /** The TSB ControlPlane object's name. */
  controlPlaneName: "controlplane",
  /** Stable, so later runs own the same field of the patch. */
  fieldManager: "mesh-vm",
  /** Upstream's samples/multicluster/expose-istiod.yaml names and east-west gateway selector. */
  gatewayName: "istiod-gateway",
  virtualServiceName: "istiod-vs",
  gatewaySelector: { istio: "eastwestgateway" } as Readonly<Record<string, string>>,
  apiVersion: networkingV1,
} as const;

/** The default egress listeners: `[{ bind: "127.0.0.2", hosts: ["./*"] }]` as in the seeds. */
export function defaultEgress(): ResolvedEgress[] {
  return [{ bind: meshVmDefaults.egressBind, hosts: [...meshVmDefaults.egressHosts] }];
}

/** A port's default `defaultEndpoint`: the application listens on loopback, as in the seeds. */
export function defaultEndpointFor(portNumber: number): string {
  return `127.0.0.1:${portNumber}`;
}

/** The Sidecar's default name, `<namespace>-<app>-no-iptables` (the seed's `bookinfo-ratings-no-iptables`). */
export function defaultSidecarName(namespace: string, app: string): string {
  return `${namespace}-${app}-no-iptables`;
}

/** The ServiceEntry's default host; it does not collide with a Kubernetes Service named after the app. */
export function defaultServiceEntryHost(workloadEntryName: string, namespace: string): string {
  return `${workloadEntryName}.${namespace}.svc.cluster.local`;
}

/**
 * The labels a workload is selected by: Istio merges a WorkloadEntry's metadata.labels into its spec.labels, and
 * tctl reads `app` from spec.labels, else metadata.labels. A key in both keeps its spec value (tctl's order).
 */
export function selectionLabels<V>(
  labels: Record<string, V> | undefined,
  metadataLabels: Record<string, V> | undefined,
): Record<string, V> {
  return { ...(metadataLabels ?? {}), ...(labels ?? {}) };
}

/** Workload labels with the `class` label added unless present or `vmClassLabel` is empty. */
export function withVmClassLabel<V>(
  labels: Record<string, V>,
  vmClassLabel: string | undefined,
): Record<string, V | string> {
  const out: Record<string, V | string> = { ...labels };
  const value = vmClassLabel ?? meshVmDefaults.vmClassLabel;
  if (out["class"] === undefined && value !== "") out["class"] = value;
  return out;
}

export interface ResolvedPort {
  name: string;
  number: number;
  protocol: string;
  defaultEndpoint: string;
  targetPort?: number;
}

export interface ResolvedListenerPort {
  number: number;
  protocol?: string;
  name?: string;
}

export interface ResolvedEgress {
  bind?: string;
  hosts: string[];
  port?: ResolvedListenerPort;
  captureMode?: string;
}

export interface ResolvedSidecar {
  enabled: boolean;
  name: string;
  selectorLabels: Record<string, string>;
  outboundTrafficPolicyMode?: string;
}

export interface ResolvedServiceEntry {
  enabled: boolean;
  name: string;
  hosts: string[];
}

export interface ResolvedWorkloadGroup {
  enabled: boolean;
  name: string;
  /** istiod creates the WorkloadEntry when the proxy connects (MeshVm declares none). */
  autoRegister: boolean;
}

/** Settings a user gave explicitly; only these are written as annotations (absent means tctl's default). */
export interface ExplicitBootstrapSettings {
  sshHost?: string;
  sshPort?: number;
  sshUser?: string;
  scpPath?: string;
  proxyConfigDir?: string;
  proxyImageHub?: string;
  proxyContainerName?: string;
  proxyInstanceIp?: string;
}

/** tctl bootstrap settings with tctl's defaults applied. */
export interface ResolvedBootstrap {
  sshHost?: string;
  sshPort: number;
  sshUser: string;
  scpPath: string;
  proxyConfigDir: string;
  proxyImageHub: string;
  proxyInstanceIp?: string;
  proxyContainerName: string;
}

/** Every MeshVm setting after defaults: what renderers and the host half consume. */
export interface ResolvedMeshVm {
  name: string;
  namespace: string;
  address?: string;
  serviceAccount: string;
  createServiceAccount: boolean;
  network?: string;
  labels: Record<string, string>;
  /** WorkloadEntry `metadata.labels`, when given. */
  metadataLabels?: Record<string, string>;
  locality?: string;
  weight?: number;
  annotations: Record<string, string>;
  ports: ResolvedPort[];
  egress: ResolvedEgress[];
  sidecar: ResolvedSidecar;
  serviceEntry: ResolvedServiceEntry;
  workloadGroup: ResolvedWorkloadGroup;
  apiVersion: string;
  flavor: string;
  trustDomain: string;
  /** Bootstrap settings the user set explicitly (written as annotations). */
  explicitBootstrap: ExplicitBootstrapSettings;
  /** Bootstrap settings with tctl's defaults applied (what the host half uses). */
  bootstrap: ResolvedBootstrap;
}
