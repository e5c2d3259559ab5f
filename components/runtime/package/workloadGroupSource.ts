// What `istioctl x workload entry configure` reads to render a VM's files, in Istio's own vocabulary: the
// WorkloadGroup (from a file or the cluster), the mesh config of the `istio` ConfigMap and the command's flags.
// The package runtime's renderers take exactly these, so their output can be compared with istioctl's.

/** A WorkloadGroup as istioctl reads it (`networking.istio.io` WorkloadGroup, the fields that matter). */
export interface WorkloadGroupSource {
  /** metadata.name: the workload name (ISTIO_META_WORKLOAD_NAME, ISTIO_SERVICE's first label). */
  name: string;
  /** metadata.namespace: the workload's namespace (ISTIO_NAMESPACE, POD_NAMESPACE). */
  namespace: string;
  /** metadata.annotations (a `proxy.istio.io/config` here is applied to the proxy config). */
  annotations?: Record<string, string>;
  spec: {
    /** spec.metadata: labels and annotations every member gets. */
    metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
    /** spec.template: the WorkloadEntry every member is made from. */
    template: {
      /** Port name → number (ISTIO_INBOUND_PORTS, ISTIO_META_POD_PORTS). */
      ports?: Record<string, number>;
      /** The ServiceAccount the proxy runs as (default `default`, as istioctl reads a file). */
      serviceAccount?: string;
      /** The network of the VM (ISTIO_META_NETWORK); empty for the pods' network. */
      network?: string;
      /** Template labels: istioctl lets them override spec.metadata.labels (with a warning). */
      labels?: Record<string, string>;
    };
    /** spec.probe: the readiness probe the agent runs (mesh.yaml's readinessProbe). */
    probe?: Record<string, unknown>;
  };
}

/** The `istio` ConfigMap's `mesh` (MeshConfig), the parts istioctl reads. */
export interface MeshConfigSource {
  /** MeshConfig trustDomain (TRUST_DOMAIN); istioctl writes '' when the ConfigMap does not set it. */
  trustDomain?: string;
  /** MeshConfig defaultConfig (ProxyConfig as JSON: camelCase fields, the proxy config's own types). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  defaultConfig?: Record<string, any>;
}

/** `workload entry configure`'s flags and the cluster values it reads. */
export interface ConfigureOptions {
  /** --clusterID, or the injector's `global.multiCluster.clusterName` (ISTIO_META_CLUSTER_ID). */
  clusterId: string;
  /** Namespace of istiod (default `istio-system`). */
  istioNamespace?: string;
  /** --revision: a non-default revision adds CA_ADDR and a discoveryAddress for `istiod-<rev>`. */
  revision?: string;
  /** The `istio[-<rev>]` ConfigMap's mesh config. */
  mesh?: MeshConfigSource;
  /** --internalIP: ISTIO_SVC_IP. */
  internalIp?: string;
  /** --externalIP: ISTIO_SVC_IP and REWRITE_PROBE_LEGACY_LOCALHOST_DESTINATION (when no internalIp). */
  externalIp?: string;
  /** --capture-dns (istioctl's default true): ISTIO_META_DNS_CAPTURE. */
  captureDns?: boolean;
  /** --autoregister: ISTIO_META_AUTO_REGISTER_GROUP, the agent registers the VM itself. */
  autoRegister?: boolean;
}

export const ISTIO_DEFAULT_NAMESPACE = "istio-system";

/** istioctl's rule: a revision other than "" and "default" is a separate control plane. */
export function isRevisioned(revision: string | undefined): revision is string {
  return !!revision && revision !== "default";
}

/** `istiod[-<rev>].<ns>.svc`: the name the VM resolves istiod by (the hosts line). */
export function istiodHost(options: Pick<ConfigureOptions, "istioNamespace" | "revision">): string {
  const istiod = isRevisioned(options.revision) ? `istiod-${options.revision}` : "istiod";
  return `${istiod}.${options.istioNamespace ?? ISTIO_DEFAULT_NAMESPACE}.svc`;
}

/** istiod's xDS and CA address on its default port 15012. */
export function istiodAddress(options: Pick<ConfigureOptions, "istioNamespace" | "revision">): string {
  return `${istiodHost(options)}:15012`;
}

/** The template's ServiceAccount, `default` when unset (as istioctl reads a WorkloadGroup file). */
export function serviceAccountOf(group: WorkloadGroupSource): string {
  return group.spec.template.serviceAccount || "default";
}
