// The ProxyConfig `istioctl x workload entry configure` derives for a WorkloadGroup (istioctl/pkg/workload
// createMeshConfig): the mesh's defaultConfig, the group's `proxy.istio.io/config` annotations applied over it,
// the group's probe, then the proxy metadata istioctl always sets. mesh.yaml is this config; cluster.env
// starts from its proxyMetadata.
import { parse } from "yaml";
import {
  isRevisioned,
  istiodAddress,
  serviceAccountOf,
  type ConfigureOptions,
  type WorkloadGroupSource,
} from "./workloadGroupSource";

const PROXY_CONFIG_ANNOTATION = "proxy.istio.io/config";
const CANONICAL_NAME_LABEL = "service.istio.io/canonical-name";
const CANONICAL_REVISION_LABEL = "service.istio.io/canonical-revision";

/** Istio's canonical service: the first label present of these (pkg/kube/labels), else the workload name. */
const nameLabels = [CANONICAL_NAME_LABEL, "app.kubernetes.io/name", "app"];
const revisionLabels = [CANONICAL_REVISION_LABEL, "app.kubernetes.io/version", "version"];

function firstLabel(labels: Record<string, string>, keys: string[]): string | undefined {
  for (const key of keys) if (Object.hasOwn(labels, key)) return labels[key];
  return undefined;
}

/** CANONICAL_SERVICE and CANONICAL_REVISION for the group's labels. */
export function canonicalServiceOf(labels: Record<string, string>, workloadName: string): [string, string] {
  return [firstLabel(labels, nameLabels) ?? workloadName, firstLabel(labels, revisionLabels) ?? "latest"];
}

/** spec.metadata.labels with the template's labels over them (istioctl warns, then lets the template win). */
export function groupLabelsOf(group: WorkloadGroupSource): Record<string, string> {
  return { ...(group.spec.metadata?.labels ?? {}), ...(group.spec.template.labels ?? {}) };
}

/** Go's encoding/json for a map or list: sorted map keys, HTML-sensitive characters escaped as Go does. */
export function goJson(value: unknown): string {
  const sortKeys = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(sortKeys)
      : v && typeof v === "object"
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
          )
        : v;
  return JSON.stringify(sortKeys(value))
    .replace(/</g, "\\u003c")
    .replace(/>/g, "\\u003e")
    .replace(/&/g, "\\u0026")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

/**
 * ISTIO_META_POD_PORTS: the template's ports as Istio's PodPort structs (fields in struct order: name
 * omitted when empty, containerPort, protocol always, empty), sorted by name; undefined when there are none.
 */
export function podPortsOf(ports: Record<string, number> | undefined): string | undefined {
  const names = Object.keys(ports ?? {}).sort();
  if (names.length === 0) return undefined;
  const structs = names.map(
    (name) => `{${name ? `"name":${goJson(name)},` : ""}"containerPort":${ports![name]},"protocol":""}`,
  );
  return `[${structs.join(",")}]`;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

function annotationConfig(value: string, where: string): Json {
  let parsed: unknown;
  try {
    parsed = parse(value);
  } catch (e) {
    throw new Error(
      `${where} ${PROXY_CONFIG_ANNOTATION} is not valid YAML: ${(e as Error).message.split("\n")[0]}`,
    );
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new Error(`${where} ${PROXY_CONFIG_ANNOTATION} is not a ProxyConfig map`);
  }
  return parsed as Json;
}

/**
 * The group's ProxyConfig as istioctl writes it under mesh.yaml's `defaultConfig`. Each field an annotation
 * sets replaces the mesh's (protobuf JSON decoding into the message), except proxyMetadata, which istioctl
 * merges key by key.
 */
export function groupProxyConfigOf(group: WorkloadGroupSource, options: ConfigureOptions): Json {
  const mesh = options.mesh ?? {};
  const config: Json = structuredClone(mesh.defaultConfig ?? {});
  if (isRevisioned(options.revision) && !config.discoveryAddress)
    config.discoveryAddress = istiodAddress(options);
  const metadata: Record<string, string> = { ...(config.proxyMetadata ?? {}) };
  for (const [annotations, where] of [
    [group.annotations, `WorkloadGroup ${group.namespace}/${group.name} annotation`],
    [
      group.spec.metadata?.annotations,
      `WorkloadGroup ${group.namespace}/${group.name} spec.metadata annotation`,
    ],
  ] as const) {
    const value = annotations?.[PROXY_CONFIG_ANNOTATION];
    if (value === undefined) continue;
    const overlay = annotationConfig(value, where);
    Object.assign(config, structuredClone(overlay));
    Object.assign(metadata, overlay.proxyMetadata ?? {});
  }
  if (group.spec.probe !== undefined) config.readinessProbe = structuredClone(group.spec.probe);
  else delete config.readinessProbe;

  const labels = groupLabelsOf(group);
  const [service, revision] = canonicalServiceOf(labels, group.name);
  const template = group.spec.template;
  metadata.CANONICAL_SERVICE = service;
  metadata.CANONICAL_REVISION = revision;
  metadata.POD_NAMESPACE = group.namespace;
  metadata.SERVICE_ACCOUNT = serviceAccountOf(group);
  metadata.TRUST_DOMAIN = mesh.trustDomain ?? "";
  metadata.ISTIO_META_CLUSTER_ID = options.clusterId;
  metadata.ISTIO_META_MESH_ID = String(config.meshId ?? "");
  metadata.ISTIO_META_NETWORK = template.network ?? "";
  const podPorts = podPortsOf(template.ports);
  if (podPorts !== undefined) metadata.ISTIO_META_POD_PORTS = podPorts;
  metadata.ISTIO_META_WORKLOAD_NAME = group.name;
  metadata.ISTIO_METAJSON_LABELS = goJson({
    ...labels,
    [CANONICAL_NAME_LABEL]: service,
    [CANONICAL_REVISION_LABEL]: revision,
  });
  if (options.captureDns ?? true) metadata.ISTIO_META_DNS_CAPTURE = "true";
  if (options.autoRegister) metadata.ISTIO_META_AUTO_REGISTER_GROUP = group.name;
  config.proxyMetadata = metadata;
  return config;
}
