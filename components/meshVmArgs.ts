// Inputs of MeshVm, in the vocabulary of the seeds (TSB "Onboarding VMs" guide, Istio WorkloadEntry/Sidecar
// reference) and of tctl's annotations. Types only: the defaults live in mesh/settings.ts (`meshVmDefaults`),
// resolution in meshVmResolve.ts, the rules in validation/.
//
// Multi-language constraint (Pulumi's component analyzer): no union or intersection types in Args, so
// enum-like settings are plain strings with their allowed values documented, and a few settings that shape
// the resource graph (which objects exist, the API version in the type token) are plain values, not Inputs.
import * as pulumi from "@pulumi/pulumi";
import type { SshDialArgs, SshHostKeyArgs, SshKeyArgs } from "./host/sshConnection";
import type { ProxyHostStepArgs } from "./host/vmProxyArgs";
import type { MeshVmDeliverySettings, ProxyPlacementArgs } from "./host/proxySettings";
import type { BootDeliveryArgs } from "./boot/vmBootArgs";

/** An inbound port of the VM workload: a Sidecar ingress listener and a ServiceEntry port. */
export interface MeshVmPortArgs {
  /** Port name, a DNS-1123 label unique within the workload (e.g. `http`); also the WorkloadEntry `ports` key. */
  name: pulumi.Input<string>;
  /** Port the proxy listens on and the service exposes, 1-65535 (e.g. `9080`). */
  number: pulumi.Input<number>;
  /**
   * Protocol: one of `HTTP`, `HTTPS`, `GRPC`, `HTTP2`, `MONGO`, `TCP`, `TLS`.
   * @default "HTTP"
   */
  protocol?: pulumi.Input<string>;
  /**
   * Where the proxy forwards inbound traffic: `127.0.0.1:<port>`, `0.0.0.0:<port>`, `[::1]:<port>`, `[::]:<port>`
   * or `unix:///path`. The application listens on loopback, as in the seeds.
   * @default `127.0.0.1:<number>`
   */
  defaultEndpoint?: pulumi.Input<string>;
  /**
   * Port on the VM that callers should use when it differs from `number`; written to the WorkloadEntry
   * `ports` map (it overrides the service port). Omitted by default.
   */
  targetPort?: pulumi.Input<number>;
}

/** An outbound listener of the VM proxy (Sidecar egress), used instead of iptables interception. */
export interface MeshVmEgressArgs {
  /** Address the listener binds to (IP or `unix://`), e.g. `127.0.0.2`; point `/etc/hosts` names at it. */
  bind?: pulumi.Input<string>;
  /** Reachable services in `namespace/dnsName` form, e.g. `./*`, `istio-system/*`, `*\/reviews.bookinfo.svc.cluster.local`. */
  hosts: pulumi.Input<pulumi.Input<string>[]>;
  /** Optional listener port; at most one egress listener may omit it and it must be the last one. */
  port?: pulumi.Input<MeshVmListenerPortArgs>;
  /** Capture mode: `DEFAULT`, `IPTABLES` or `NONE`. Omitted by default (the seeds leave it out). */
  captureMode?: pulumi.Input<string>;
}

/** Port of an egress listener. */
export interface MeshVmListenerPortArgs {
  number: pulumi.Input<number>;
  /** One of `HTTP`, `HTTPS`, `GRPC`, `HTTP2`, `MONGO`, `TCP`, `TLS`. */
  protocol?: pulumi.Input<string>;
  name?: pulumi.Input<string>;
}

/** The Sidecar that wires the VM proxy without iptables. */
export interface MeshVmSidecarArgs {
  /**
   * Create the Sidecar. Plain value: it decides whether the resource exists.
   * @default true
   */
  enabled?: boolean;
  /**
   * Object name (the seed's `bookinfo-ratings-no-iptables`).
   * @default `<namespace>-<app>-no-iptables`
   */
  name?: pulumi.Input<string>;
  /**
   * Label keys (taken from `labels`) for the Sidecar `workloadSelector`: the VM-only `class` label keeps the
   * Sidecar off the pods of the same app.
   * @default ["app", "class"]
   */
  selectorLabelKeys?: pulumi.Input<pulumi.Input<string>[]>;
  /** `outboundTrafficPolicy.mode`: `REGISTRY_ONLY` or `ALLOW_ANY`. Omitted by default. */
  outboundTrafficPolicyMode?: pulumi.Input<string>;
}

/** The ServiceEntry that makes the VM service reachable from pods (MESH_INTERNAL, STATIC, workloadSelector). */
export interface MeshVmServiceEntryArgs {
  /**
   * Create the ServiceEntry. Plain value: it decides whether the resource exists.
   * @default true
   */
  enabled?: boolean;
  /** Object name. Default: the WorkloadEntry name. */
  name?: pulumi.Input<string>;
  /**
   * Service host names. Default `<workloadEntryName>.<namespace>.svc.cluster.local`, which does not collide with
   * a Kubernetes Service named after the app.
   */
  hosts?: pulumi.Input<pulumi.Input<string>[]>;
}

/** The WorkloadGroup: the template istiod auto-registers VMs from (this one with `autoRegister`, or others). */
export interface MeshVmWorkloadGroupArgs {
  /**
   * Create the WorkloadGroup. Plain value: it decides whether the resource exists.
   * @default `autoRegister`
   */
  enabled?: boolean;
  /** Object name. Default: the WorkloadEntry name. */
  name?: pulumi.Input<string>;
  /**
   * Auto-registration, as istio.io's VM guide (`istioctl x workload entry configure --autoregister`): the proxy
   * names this WorkloadGroup (ISTIO_META_AUTO_REGISTER_GROUP) and istiod creates the VM's WorkloadEntry
   * `<group>-<address>[-<network>]` from it when the agent connects, and deletes it once the agent has been gone
   * for its grace period (`PILOT_WORKLOAD_ENTRY_GRACE_PERIOD`, 10 s); the entry is the group's dependent, so
   * destroy (proxy first, then the group) removes it with the group. MeshVm then declares no WorkloadEntry;
   * `workloadEntryName` is the name istiod gives it. Needs `host` or `boot` with runtime `container` or `package`
   * and an IP `address` (the entry's address is the proxy's instance IP). Plain value: it decides which resources
   * exist.
   * @default false
   */
  autoRegister?: boolean;
}

/** Inputs of {@link MeshVm}. */
export interface MeshVmArgs extends ProxyPlacementArgs {
  // ---- WorkloadEntry ----------------------------------------------------------------------------------
  /** WorkloadEntry name (DNS-1123 subdomain). Default: the component's resource name. */
  name?: pulumi.Input<string>;
  /** Namespace of every mesh object (DNS-1123 label), e.g. `bookinfo`. Required. */
  namespace: pulumi.Input<string>;
  /**
   * Address pods use to reach the VM: an IP (required when a ServiceEntry is created, which uses STATIC
   * resolution) or a DNS name. May be omitted only when `network` is set.
   */
  address?: pulumi.Input<string>;
  /** ServiceAccount the VM runs as (its mesh identity); must exist in `namespace` or set `createServiceAccount`. */
  serviceAccount: pulumi.Input<string>;
  /**
   * Create the ServiceAccount. Plain value: it decides whether the resource exists.
   * @default false
   */
  createServiceAccount?: boolean;
  /** Network name when the VM cannot reach pod IPs directly (traffic then goes through the VM/east-west gateway). */
  network?: pulumi.Input<string>;
  /**
   * Workload labels (WorkloadEntry `spec.labels`). `app` is required; `version` is required when `flavor` is
   * `tsb` (TSB observability). `class: vm` is added unless `class` is given or `vmClassLabel` is empty.
   */
  labels: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /**
   * WorkloadEntry `metadata.labels` (the object's own labels, not the workload's): tctl reads
   * `service.istio.io/canonical-name` / `canonical-revision` from them into the proxy's CANONICAL_SERVICE /
   * CANONICAL_REVISION, and passes them, overlaid by `labels`, in ISTIO_METAJSON_LABELS.
   */
  metadataLabels?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /**
   * Value of the `class` label added to `labels` when absent; empty string to add nothing.
   * @default "vm"
   */
  vmClassLabel?: pulumi.Input<string>;
  /** Locality `region/zone/subzone`. */
  locality?: pulumi.Input<string>;
  /** Load-balancing weight (0-4294967295). */
  weight?: pulumi.Input<number>;
  /** Extra WorkloadEntry annotations (e.g. `proxy.istio.io/config`); bootstrap annotations come from the fields below. */
  annotations?: pulumi.Input<Record<string, pulumi.Input<string>>>;

  // ---- Sidecar / ServiceEntry / WorkloadGroup --------------------------------------------------------
  /** Inbound ports (Sidecar ingress listeners and ServiceEntry ports). */
  ports?: pulumi.Input<pulumi.Input<MeshVmPortArgs>[]>;
  /**
   * Outbound listeners, as in the seeds; `[]` for none.
   * @default [{ bind: "127.0.0.2", hosts: ["./*"] }]
   */
  egress?: pulumi.Input<pulumi.Input<MeshVmEgressArgs>[]>;
  /** Sidecar settings. */
  sidecar?: MeshVmSidecarArgs;
  /** ServiceEntry settings. */
  serviceEntry?: MeshVmServiceEntryArgs;
  /** WorkloadGroup settings. */
  workloadGroup?: MeshVmWorkloadGroupArgs;
  /**
   * API version of the networking objects: `networking.istio.io/v1` (Istio >= 1.22),
   * `networking.istio.io/v1beta1` (older meshes; what the seeds use) or `networking.istio.io/v1alpha3`
   * (tctl-era YAML; still served, preview points at v1). `v1`/`v1beta1`/`v1alpha3` are accepted. Switching
   * updates the objects in place. Plain value: it is part of the resource type.
   * @default "networking.istio.io/v1"
   */
  apiVersion?: string;
  /**
   * Mesh flavor: `istio` or `tsb` (Tetrate Service Bridge; requires the `version` label).
   * @default "istio"
   */
  flavor?: string;
  /**
   * Mesh trust domain for the SPIFFE identity output.
   * @default "cluster.local"
   */
  trustDomain?: pulumi.Input<string>;

  // ---- tctl sidecar-bootstrap settings (written as sidecar-bootstrap.istio.io/* annotations when set) ----
  // sshUser, proxyConfigDir, proxyContainerName and proxyImageHub: ProxyPlacementArgs (host/proxySettings.ts),
  // shared with VmProxy and VmBoot.
  /** Host to SSH to. tctl default: `address`. */
  sshHost?: pulumi.Input<string>;
  /**
   * SSH port (tctl's default).
   * @default 22
   */
  sshPort?: pulumi.Input<number>;
  /**
   * Remote scp binary (tctl's default).
   * @default "/usr/bin/scp"
   */
  scpPath?: pulumi.Input<string>;
  /**
   * Unset bootstrap settings take tctl's defaults instead of MeshVm's, without an annotation: `proxyConfigDir`
   * is tctl's `/tmp/istio-proxy` (the only default that differs). `fromManifests` sets it for a WorkloadEntry
   * without the proxy-config-dir annotation, so the object renders as it was and the VM keeps its directory.
   * Plain value.
   * @default false
   */
  tctlDefaults?: boolean;
  /** IP the proxy binds inbound listeners to. tctl default: `address` when it is an IP. */
  proxyInstanceIp?: pulumi.Input<string>;

  // ---- Host provisioning (SSH half) ------------------------------------------------------------------
  /**
   * Onboard the host too: SSH connection (pinned host key), optional host preparation, bootstrap token, files
   * and the proxy container (see `MeshVmHostArgs`). The WorkloadEntry and ServiceEntry are then registered only
   * once the proxy is ready, and removed before it stops. Omit it to create the mesh objects only (e.g. when
   * another tool runs the proxy). Plain object: it decides which resources exist; its fields may be Inputs.
   */
  host?: MeshVmHostArgs;

  // ---- Boot-time delivery (no SSH) ---------------------------------------------------------------------
  /**
   * Instead of `host`: the VM onboards itself as it boots. MeshVm outputs `userData` (cloud-init, secret) for
   * the VM resource of the same program, and can write tctl's offline bundle (`bundleDir`); nothing connects
   * to the VM. Registration waits until the proxy answers ready on its status port (see `readyCheck`).
   * Plain object: it decides which resources exist; its fields may be Inputs.
   */
  boot?: MeshVmBootArgs;
}

/** The mesh-side inputs (everything but `host` and `boot`), which validation and the renderers see. */
export type MeshVmMeshArgs = Omit<MeshVmArgs, "host" | "boot">;

/** The mesh-side inputs with every Input resolved to its plain value. */
export type PlainMeshVmArgs = pulumi.Unwrap<MeshVmMeshArgs>;

/**
 * The host half's inputs of MeshVm (everything not already a tctl bootstrap setting: host, port, user, config
 * dir, image hub, instance IP and container name come from MeshVm's `sshHost`, `sshPort`, ... inputs): the
 * delivery settings, VmProxy's SSH connection but its host, port and user, and VmProxy's own host-step fields,
 * each documented where it is defined. Without `privateKey` or `agentSocketPath`, `prepare` generates and installs
 * an ED25519 key for `sshUser`.
 */
export interface MeshVmHostArgs
  extends MeshVmDeliverySettings, SshKeyArgs, SshHostKeyArgs, SshDialArgs, ProxyHostStepArgs {}

/**
 * Boot-time delivery of MeshVm (instead of `host`): no SSH. MeshVm outputs `userData` (cloud-init, secret) for
 * the VM resource of the same program, and `boot.startScript`; `bundleDir` also writes tctl's offline bundle.
 * The proxy user, config dir, container name and image hub are MeshVm's `sshUser`, `proxyConfigDir`,
 * `proxyContainerName` and `proxyImageHub`, as for `host`.
 */
export interface MeshVmBootArgs extends MeshVmDeliverySettings, BootDeliveryArgs {}
