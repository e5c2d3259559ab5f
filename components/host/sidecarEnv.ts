// Renders `sidecar.env`, the docker `--env-file` for the istio-proxy container, with every variable
// `tctl x sidecar-bootstrap` writes, in its order and derived the same way (reference section 1.7).
import { isIP } from "node:net";
import { parse } from "yaml";
import { workloadProxyAnnotations } from "../mesh/annotations";
import { istioDefaults } from "../mesh/settings";
import { excerpt } from "../rules/values";

/** Where the agent keeps its provisioned and issued certificates (tctl's value; a host dir is mounted here). */
export const PROXY_CERTS_PATH = "/var/run/secrets/istio";

/** The WorkloadEntry identity and addressing the proxy runs as. */
export interface WorkloadIdentity {
  /** WorkloadEntry name (POD_NAME). */
  name: string;
  /** WorkloadEntry namespace (POD_NAMESPACE). */
  namespace: string;
  /** ServiceAccount the token is minted for (SERVICE_ACCOUNT). */
  serviceAccount: string;
  /** WorkloadEntry `spec.address`: the address pods reach the VM on (IDENTITY_IP, HOST_IP). */
  address: string;
  /** IP the proxy binds inbound listeners to; default `address` when that is an IP (INSTANCE_IP). */
  proxyInstanceIp?: string;
  /** WorkloadEntry `spec.network` (ISTIO_META_NETWORK); empty for the pods' network. */
  network?: string;
  /**
   * WorkloadEntry `spec.ports` (port name to the VM's port, where it differs from the service port). The package
   * runtime writes them as istioctl does from a WorkloadGroup's template (`ISTIO_INBOUND_PORTS`, `*` without any).
   */
  ports?: Record<string, number>;
  /** WorkloadEntry `spec.labels`. */
  labels?: Record<string, string>;
  /** WorkloadEntry `metadata.labels` (canonical service/revision labels live here). */
  metadataLabels?: Record<string, string>;
  /** WorkloadEntry `metadata.annotations`; the `istio.io/` ones are passed to the proxy. */
  annotations?: Record<string, string>;
}

/** Mesh-wide settings tctl reads from the Istio install values and mesh config. */
export interface MeshSettings {
  /** Namespace of istiod (default `istio-system`). */
  istioNamespace?: string;
  /** istiod address the proxy connects to (default `istiod.<istioNamespace>.svc:15012`). */
  discoveryAddress?: string;
  /** CA address when it differs from `discoveryAddress` (`values.global.caAddress`). */
  caAddress?: string;
  /** `values.global.multiCluster.clusterName` (default `Kubernetes`). */
  clusterId?: string;
  /** `values.global.network`, used when the workload has no network. */
  defaultNetwork?: string;
  /** `values.global.meshID` (default: the trust domain). */
  meshId?: string;
  /** Trust domain (default `cluster.local`). */
  trustDomain?: string;
  /** ProxyConfig fields (mesh `defaultConfig` merged with overrides) for PROXY_CONFIG; `proxyMetadata` entries become variables. */
  // `any` (schema `Any`), not `unknown`: the component analyzer of other Pulumi languages accepts only `any`.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  proxyConfig?: Record<string, any>;
}

/** A rendered variable list (kept as pairs so tests and previews can show it key by key). */
export type EnvEntries = [string, string][];

export function istioNamespaceOf(mesh: MeshSettings): string {
  return mesh.istioNamespace ?? istioDefaults.istioNamespace;
}

export function discoveryAddressOf(mesh: MeshSettings): string {
  return mesh.discoveryAddress ?? `istiod.${istioNamespaceOf(mesh)}.svc:15012`;
}

/** `<app-or-serviceAccount>.<namespace>`, tctl's serviceCluster. */
export function serviceClusterOf(workload: WorkloadIdentity): string {
  return `${workloadNameOf(workload)}.${workload.namespace}`;
}

/** spec.labels.app, else metadata.labels.app, else the ServiceAccount (ISTIO_META_WORKLOAD_NAME). */
export function workloadNameOf(workload: WorkloadIdentity): string {
  return workload.labels?.app || workload.metadataLabels?.app || workload.serviceAccount;
}

/** INSTANCE_IP: the explicit proxy instance IP, else the address when it is an IP; anything else is an error. */
export function instanceIpOf(workload: WorkloadIdentity): string {
  const ip = workload.proxyInstanceIp || workload.address;
  if (isIP(ip) === 0) {
    throw new Error(
      workload.proxyInstanceIp
        ? `proxyInstanceIp ${excerpt(workload.proxyInstanceIp)} is not an IP address`
        : `address ${excerpt(workload.address)} is not an IP address; set proxyInstanceIp to the IP the proxy binds to`,
    );
  }
  return ip;
}

/** Host part of `host:port` (IPv6 in brackets allowed). */
export function hostOf(address: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(address);
  if (bracketed) {
    return bracketed[1];
  }
  const colon = address.lastIndexOf(":");
  return colon > 0 && address.indexOf(":") === colon ? address.slice(0, colon) : address;
}

/**
 * tctl's rule for a name only the cluster resolves: one or two labels (`istiod`, `istiod.istio-system`), or
 * `<svc>.<ns>.svc`, `….svc.cluster`, `….svc.cluster.local`. (tctl's own caveat: a two-label public name such as
 * `docker.io` counts as cluster-local too.)
 */
export function isClusterLocal(host: string): boolean {
  const labels = host.split(".");
  const suffix = labels.slice(2).join(".");
  return labels.length <= 2 || ["svc", "svc.cluster", "svc.cluster.local"].includes(suffix);
}

/** CA_SNI / PILOT_SNI rule: empty for a cluster-local address (reached via --add-host), else istiod's name. */
function sniFor(address: string, mesh: MeshSettings): string {
  return isClusterLocal(hostOf(address)) ? "" : `istiod.${istioNamespaceOf(mesh)}.svc`;
}

/** Go's encoding/json output for a string map: sorted keys, HTML-sensitive characters escaped. */
export function goJsonMap(map: Record<string, string>): string {
  const sorted: Record<string, string> = {};
  for (const key of Object.keys(map).sort()) {
    sorted[key] = map[key];
  }
  return JSON.stringify(sorted).replace(/</g, "\\u003c").replace(/>/g, "\\u003e").replace(/&/g, "\\u0026");
}

/** What docker `--env-file` accepts as a variable name. */
const envNamePattern = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Why the `proxy.istio.io/config` annotation value cannot be used, or undefined: it must be a YAML map (a
 * ProxyConfig); its `proxyMetadata` a map (its values become sidecar.env lines), its `concurrency` a whole number.
 */
export function proxyConfigAnnotationProblem(value: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = parse(value);
  } catch (e) {
    return `is not valid YAML: ${(e as Error).message.split("\n")[0]}`;
  }
  if (parsed === null || parsed === undefined) return undefined;
  if (typeof parsed !== "object" || Array.isArray(parsed)) return "is not a ProxyConfig map";
  const pc = parsed as Record<string, unknown>;
  const md = pc.proxyMetadata;
  if (md !== undefined && md !== null) {
    if (typeof md !== "object" || Array.isArray(md)) return "proxyMetadata is not a map of strings";
    for (const [key, v] of Object.entries(md as Record<string, unknown>)) {
      if (!envNamePattern.test(key)) return `proxyMetadata key "${key}" is not an environment variable name`;
      if (typeof v === "object" || /[\r\n]/.test(String(v))) {
        return `proxyMetadata ${key} is not a one-line string (docker --env-file cannot carry it)`;
      }
    }
  }
  const d = pc.discoveryAddress;
  if (d !== undefined && d !== null && (typeof d !== "string" || /[\r\n]/.test(d))) {
    return "discoveryAddress is not a one-line host:port (it becomes CA_ADDR and PILOT_SNI in sidecar.env)";
  }
  const c = pc.concurrency;
  if (c !== undefined && c !== null && !(typeof c === "number" && Number.isInteger(c) && c >= 0)) {
    return `concurrency ${JSON.stringify(c)} is not a whole number >= 0`;
  }
  return undefined;
}

/** The WorkloadEntry's own ProxyConfig (`proxy.istio.io/config`), or {}; a broken one is an error. */
export function workloadProxyConfigOf(workload: WorkloadIdentity): Record<string, unknown> {
  const key = workloadProxyAnnotations.proxyConfig;
  const value = workload.annotations?.[key];
  if (value === undefined || value === "") return {};
  const problem = proxyConfigAnnotationProblem(value);
  if (problem !== undefined) {
    throw new Error(`WorkloadEntry ${workload.namespace}/${workload.name} annotation ${key} ${problem}`);
  }
  return (parse(value) as Record<string, unknown> | null) ?? {};
}

/**
 * The merged ProxyConfig tctl serialises into PROXY_CONFIG: defaults from its goldens, the mesh's fields
 * (`mesh.proxyConfig`, the mesh's `defaultConfig`, without its `concurrency`), then the WorkloadEntry's
 * `proxy.istio.io/config`, applied last as tctl applies it (each field it sets replaces the mesh's, as
 * protobuf's JSON decoding into the merged message replaces maps and nested messages whole).
 */
export function proxyConfigOf(workload: WorkloadIdentity, mesh: MeshSettings): Record<string, unknown> {
  const merged: Record<string, unknown> = {
    configPath: "./etc/istio/proxy",
    binaryPath: "/usr/local/bin/envoy",
    serviceCluster: serviceClusterOf(workload),
    discoveryAddress: discoveryAddressOf(mesh),
    proxyAdminPort: 15000,
    controlPlaneAuthPolicy: "MUTUAL_TLS",
    statusPort: 15020,
    ...(mesh.proxyConfig ?? {}),
  };
  if (mesh.discoveryAddress !== undefined) {
    merged.discoveryAddress = mesh.discoveryAddress;
  }
  // tctl clears the mesh's concurrency (all cores by default); the WorkloadEntry's own sets `--concurrency`.
  delete merged.concurrency;
  return { ...merged, ...workloadProxyConfigOf(workload) };
}

function stringMap(value: unknown): Record<string, string> {
  if (value === undefined || value === null) {
    return {};
  }
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new Error("proxyConfig.proxyMetadata must be a map of strings");
  }
  const out: Record<string, string> = {};
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    out[key] = String(v);
  }
  return out;
}

/**
 * Every sidecar.env variable, in tctl's order: proxyMetadata (sorted by key) first, then the fixed list; with
 * auto-registration, ISTIO_META_AUTO_REGISTER_GROUP last (istioctl's `--autoregister`; tctl has none).
 */
export function sidecarEnvEntries(
  workload: WorkloadIdentity,
  mesh: MeshSettings,
  autoRegisterGroup?: string,
): EnvEntries {
  const proxyConfig = proxyConfigOf(workload, mesh);
  const metadata = stringMap(proxyConfig.proxyMetadata);
  const discoveryAddress = String(proxyConfig.discoveryAddress);
  const caAddress = mesh.caAddress || discoveryAddress;
  const metadataLabels = workload.metadataLabels ?? {};
  const labels = { ...metadataLabels, ...(workload.labels ?? {}) };
  const istioAnnotations: Record<string, string> = {};
  for (const [key, value] of Object.entries(workload.annotations ?? {})) {
    if (key.includes("istio.io/") && !key.includes("istioctl.istio.io/")) {
      istioAnnotations[key] = value;
    }
  }
  const trustDomain = mesh.trustDomain || istioDefaults.trustDomain;
  const entries: EnvEntries = Object.keys(metadata)
    .sort()
    .map((key): [string, string] => [key, metadata[key]]);
  entries.push(
    ["JWT_POLICY", "third-party-jwt"],
    ["PROV_CERT", PROXY_CERTS_PATH],
    ["OUTPUT_CERTS", PROXY_CERTS_PATH],
    ["PILOT_CERT_PROVIDER", "istiod"],
    ["CA_ADDR", caAddress],
    ["CA_SNI", sniFor(caAddress, mesh)],
    ["PILOT_SNI", sniFor(discoveryAddress, mesh)],
    ["POD_NAME", workload.name],
    ["POD_NAMESPACE", workload.namespace],
    ["IDENTITY_IP", workload.address],
    ["INSTANCE_IP", instanceIpOf(workload)],
    ["SERVICE_ACCOUNT", workload.serviceAccount],
    ["HOST_IP", workload.address],
    ["CANONICAL_SERVICE", metadataLabels["service.istio.io/canonical-name"] ?? ""],
    ["CANONICAL_REVISION", metadataLabels["service.istio.io/canonical-revision"] ?? ""],
    ["PROXY_CONFIG", JSON.stringify(proxyConfig)],
    ["ISTIO_META_CLUSTER_ID", mesh.clusterId || istioDefaults.clusterId],
    [
      "ISTIO_META_INTERCEPTION_MODE",
      workload.annotations?.[workloadProxyAnnotations.interceptionMode] || "NONE",
    ],
    ["ISTIO_META_NETWORK", workload.network || mesh.defaultNetwork || ""],
    ["ISTIO_METAJSON_LABELS", Object.keys(labels).length > 0 ? goJsonMap(labels) : ""],
    [
      "ISTIO_METAJSON_ISTIO_ANNOTATIONS",
      Object.keys(istioAnnotations).length > 0 ? goJsonMap(istioAnnotations) : "",
    ],
    ["ISTIO_META_WORKLOAD_NAME", workloadNameOf(workload)],
    [
      "ISTIO_META_OWNER",
      `kubernetes://apis/networking.istio.io/v1beta1/namespaces/${workload.namespace}/workloadentries/${workload.name}`,
    ],
    ["ISTIO_META_MESH_ID", mesh.meshId || trustDomain],
  );
  if (autoRegisterGroup) entries.push(["ISTIO_META_AUTO_REGISTER_GROUP", autoRegisterGroup]);
  return entries;
}

/**
 * The input each sidecar.env variable is rendered from, as the user wrote it (VmProxy's names; MeshVm's are the
 * same under `host.`, and the workload's come from MeshVm's own fields or the WorkloadEntry): a refusal names it,
 * not the variable, which the user never wrote. Variables not listed are proxyConfig.proxyMetadata entries.
 */
const envSources: Record<string, string> = {
  CA_ADDR:
    "mesh.caAddress, else the proxyConfig's discoveryAddress (mesh.discoveryAddress, mesh.proxyConfig or the proxy.istio.io/config annotation)",
  CA_SNI:
    "mesh.caAddress, else the proxyConfig's discoveryAddress (mesh.discoveryAddress, mesh.proxyConfig or the proxy.istio.io/config annotation)",
  PILOT_SNI:
    "the proxyConfig's discoveryAddress (mesh.discoveryAddress, mesh.proxyConfig or the proxy.istio.io/config annotation)",
  POD_NAME: "the WorkloadEntry's name",
  POD_NAMESPACE: "namespace",
  IDENTITY_IP: "address",
  HOST_IP: "address",
  INSTANCE_IP: "proxyInstanceIp, else address",
  SERVICE_ACCOUNT: "serviceAccount",
  CANONICAL_SERVICE: 'metadataLabels["service.istio.io/canonical-name"]',
  CANONICAL_REVISION: 'metadataLabels["service.istio.io/canonical-revision"]',
  ISTIO_META_CLUSTER_ID: "mesh.clusterId",
  ISTIO_META_INTERCEPTION_MODE: `annotations["${workloadProxyAnnotations.interceptionMode}"]`,
  ISTIO_META_NETWORK: "network, else mesh.defaultNetwork",
  ISTIO_META_WORKLOAD_NAME: 'labels["app"], else metadataLabels["app"], else serviceAccount',
  ISTIO_META_MESH_ID: "mesh.meshId, else trustDomain",
  ISTIO_META_AUTO_REGISTER_GROUP: "autoRegisterGroup",
};

/** The input a sidecar.env variable comes from (see envSources). */
export function envSourceOf(key: string): string {
  return Object.hasOwn(envSources, key)
    ? envSources[key]!
    : `mesh.proxyConfig.proxyMetadata[${excerpt(key)}] (or proxyMetadata in the proxy.istio.io/config annotation)`;
}

/**
 * docker `--env-file` text: `KEY=value` lines, unquoted (docker keeps quotes literally), no trailing newline.
 * docker cannot represent a newline inside a value, so one is an error rather than a silently broken file; it
 * names the input the value came from (validation refuses the plain ones at preview; this catches Outputs).
 */
export function renderEnvFile(entries: EnvEntries): string {
  for (const [key, value] of entries) {
    if (!envNamePattern.test(key)) {
      throw new Error(
        `${envSourceOf(key)}: ${excerpt(key)} is not an environment variable name (it becomes a sidecar.env ` +
          "variable); use letters, digits and '_', not starting with a digit",
      );
    }
    if (/[\r\n]/.test(value)) {
      throw new Error(
        `${envSourceOf(key)}: ${excerpt(value)} contains a line break, which sidecar.env (docker --env-file) ` +
          `cannot carry (it becomes ${key}); write the value on one line`,
      );
    }
  }
  return entries.map(([key, value]) => `${key}=${value}`).join("\n");
}

/** Renders sidecar.env for a workload (with auto-registration into `autoRegisterGroup` when given). */
export function renderSidecarEnv(
  workload: WorkloadIdentity,
  mesh: MeshSettings,
  autoRegisterGroup?: string,
): string {
  return renderEnvFile(sidecarEnvEntries(workload, mesh, autoRegisterGroup));
}
