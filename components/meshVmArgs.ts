// Inputs of MeshVm, in the vocabulary of the seeds (TSB "Onboarding VMs" guide, Istio WorkloadEntry/Sidecar
// reference) and of tctl's annotations, plus the single place where defaults are resolved.
//
// Multi-language constraint (Pulumi's component analyzer): no union or intersection types in Args, so
// enum-like settings are plain strings with their allowed values documented, and a few settings that shape
// the resource graph (which objects exist, the API version in the type token) are plain values, not Inputs.
import * as pulumi from "@pulumi/pulumi";
import { bootstrapDefaults, ExplicitBootstrapSettings, meshVmProxyConfigDir } from "./mesh/annotations";
import { networkingV1, normaliseNetworkingApiVersion } from "./mesh/apiVersion";
import { defaultTrustDomain } from "./mesh/identity";
import { isIpAddress } from "./validation/addresses";
import type { MeshVmHostArgs } from "./host/fromMeshVm";
import type { MeshVmBootArgs } from "./boot/fromMeshVm";

/** An inbound port of the VM workload: a Sidecar ingress listener and a ServiceEntry port. */
export interface MeshVmPortArgs {
  /** Port name, a DNS-1123 label unique within the workload (e.g. `http`); also the WorkloadEntry `ports` key. */
  name: pulumi.Input<string>;
  /** Port the proxy listens on and the service exposes, 1-65535 (e.g. `9080`). */
  number: pulumi.Input<number>;
  /** Protocol: one of `HTTP`, `HTTPS`, `GRPC`, `HTTP2`, `MONGO`, `TCP`, `TLS`. Default `HTTP`. */
  protocol?: pulumi.Input<string>;
  /**
   * Where the proxy forwards inbound traffic: `127.0.0.1:<port>`, `0.0.0.0:<port>`, `[::1]:<port>`, `[::]:<port>`
   * or `unix:///path`. Default `127.0.0.1:<number>` (the application listens on loopback, as in the seeds).
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
  /** Create the Sidecar (default true). Plain value: it decides whether the resource exists. */
  enabled?: boolean;
  /** Object name. Default `<namespace>-<app>-no-iptables` (the seed's `bookinfo-ratings-no-iptables`). */
  name?: pulumi.Input<string>;
  /**
   * Label keys (taken from `labels`) for the Sidecar `workloadSelector`. Default `["app", "class"]`: the VM-only
   * `class` label keeps the Sidecar off the pods of the same app.
   */
  selectorLabelKeys?: pulumi.Input<pulumi.Input<string>[]>;
  /** `outboundTrafficPolicy.mode`: `REGISTRY_ONLY` or `ALLOW_ANY`. Omitted by default. */
  outboundTrafficPolicyMode?: pulumi.Input<string>;
}

/** The ServiceEntry that makes the VM service reachable from pods (MESH_INTERNAL, STATIC, workloadSelector). */
export interface MeshVmServiceEntryArgs {
  /** Create the ServiceEntry (default true). Plain value: it decides whether the resource exists. */
  enabled?: boolean;
  /** Object name. Default: the WorkloadEntry name. */
  name?: pulumi.Input<string>;
  /**
   * Service host names. Default `<workloadEntryName>.<namespace>.svc.cluster.local`, which does not collide with
   * a Kubernetes Service named after the app.
   */
  hosts?: pulumi.Input<pulumi.Input<string>[]>;
}

/** Optional WorkloadGroup for users who want istiod auto-registration of further instances. */
export interface MeshVmWorkloadGroupArgs {
  /** Create the WorkloadGroup (default false). Plain value: it decides whether the resource exists. */
  enabled?: boolean;
  /** Object name. Default: the WorkloadEntry name. */
  name?: pulumi.Input<string>;
}

/** Inputs of {@link MeshVm}. */
export interface MeshVmArgs {
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
  /** Create the ServiceAccount (default false). Plain value: it decides whether the resource exists. */
  createServiceAccount?: boolean;
  /** Network name when the VM cannot reach pod IPs directly (traffic then goes through the VM/east-west gateway). */
  network?: pulumi.Input<string>;
  /**
   * Workload labels (WorkloadEntry `spec.labels`). `app` is required; `version` is required when `flavor` is
   * `tsb` (TSB observability). `class: vm` is added unless `class` is given or `vmClassLabel` is empty.
   */
  labels: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** Value of the `class` label added to `labels` when absent. Default `vm`; empty string to add nothing. */
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
  /** Outbound listeners. Default `[{ bind: "127.0.0.2", hosts: ["./*"] }]` as in the seeds; `[]` for none. */
  egress?: pulumi.Input<pulumi.Input<MeshVmEgressArgs>[]>;
  /** Sidecar settings. */
  sidecar?: MeshVmSidecarArgs;
  /** ServiceEntry settings. */
  serviceEntry?: MeshVmServiceEntryArgs;
  /** WorkloadGroup settings. */
  workloadGroup?: MeshVmWorkloadGroupArgs;
  /**
   * API version of the networking objects: `networking.istio.io/v1` (default, Istio >= 1.22) or
   * `networking.istio.io/v1beta1` (older meshes; what the seeds use). `v1`/`v1beta1` are accepted. Switching
   * updates the objects in place. Plain value: it is part of the resource type.
   */
  apiVersion?: string;
  /** Mesh flavor: `istio` (default) or `tsb` (Tetrate Service Bridge; requires the `version` label). */
  flavor?: string;
  /** Mesh trust domain for the SPIFFE identity output. Default `cluster.local`. */
  trustDomain?: pulumi.Input<string>;

  // ---- tctl sidecar-bootstrap settings (written as sidecar-bootstrap.istio.io/* annotations when set) ----
  /** Host to SSH to. tctl default: `address`. */
  sshHost?: pulumi.Input<string>;
  /** SSH port. tctl default: 22. */
  sshPort?: pulumi.Input<number>;
  /** SSH user (must run docker without sudo). tctl default: the local user; here `istio-proxy`. */
  sshUser?: pulumi.Input<string>;
  /** Remote scp binary. tctl default: `/usr/bin/scp`. */
  scpPath?: pulumi.Input<string>;
  /**
   * Directory on the VM for sidecar.env, istio-ca.pem, istio-token and the agent's certificates. Default
   * `/etc/istio-proxy` (the seeds'; survives reboots), written as an annotation. tctl's default: `/tmp/istio-proxy`.
   */
  proxyConfigDir?: pulumi.Input<string>;
  /** Image hub of the proxy image (e.g. `docker.io/tetrate`). tctl default: mesh hub, else `docker.io/istio`. */
  proxyImageHub?: pulumi.Input<string>;
  /** IP the proxy binds inbound listeners to. tctl default: `address` when it is an IP. */
  proxyInstanceIp?: pulumi.Input<string>;
  /** Docker container name (unique per proxy on a host). tctl default: `istio-proxy`. */
  proxyContainerName?: pulumi.Input<string>;

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

export const defaultEgress: ResolvedEgress[] = [{ bind: "127.0.0.2", hosts: ["./*"] }];
export const defaultSidecarSelectorKeys = ["app", "class"];
export const defaultPortProtocol = "HTTP";
export const defaultVmClassLabel = "vm";
export const defaultFlavor = "istio";

function defined<T>(v: T | undefined | null): v is T {
  return v !== undefined && v !== null;
}

function omitUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/**
 * Applies every default. Assumes `validateMeshVmArgs(args)` returned no issues; `defaultName` is the
 * component's resource name.
 */
export function resolveMeshVmArgs(defaultName: string, args: PlainMeshVmArgs): ResolvedMeshVm {
  const name = args.name ?? defaultName;
  const labels: Record<string, string> = { ...(args.labels ?? {}) };
  const classValue = args.vmClassLabel ?? defaultVmClassLabel;
  if (labels["class"] === undefined && classValue !== "") labels["class"] = classValue;
  const app = labels["app"] ?? name;

  const ports: ResolvedPort[] = (args.ports ?? []).map((p) =>
    omitUndefined({
      name: p.name,
      number: p.number,
      protocol: p.protocol ?? defaultPortProtocol,
      defaultEndpoint: p.defaultEndpoint ?? `127.0.0.1:${p.number}`,
      targetPort: p.targetPort,
    }),
  );
  const egress: ResolvedEgress[] = (args.egress ?? defaultEgress).map((e) =>
    omitUndefined({
      bind: e.bind,
      hosts: [...e.hosts],
      port: e.port === undefined ? undefined : omitUndefined({ ...e.port }),
      captureMode: e.captureMode,
    }),
  );

  const selectorKeys = args.sidecar?.selectorLabelKeys ?? defaultSidecarSelectorKeys;
  const selectorLabels: Record<string, string> = {};
  for (const k of selectorKeys) {
    const v = labels[k];
    if (defined(v)) selectorLabels[k] = v;
  }

  const proxyConfigDir = args.proxyConfigDir ?? meshVmProxyConfigDir;
  const explicitBootstrap: ExplicitBootstrapSettings = omitUndefined({
    sshHost: args.sshHost,
    sshPort: args.sshPort,
    sshUser: args.sshUser,
    scpPath: args.scpPath,
    // tctl's own default needs no annotation (objects from fromManifests stay as they were).
    proxyConfigDir: proxyConfigDir === bootstrapDefaults.proxyConfigDir ? undefined : proxyConfigDir,
    proxyImageHub: args.proxyImageHub,
    proxyContainerName: args.proxyContainerName,
    proxyInstanceIp: args.proxyInstanceIp,
  });
  const addressIsIp = args.address !== undefined && isIpAddress(args.address);

  return omitUndefined({
    name,
    namespace: args.namespace,
    address: args.address,
    serviceAccount: args.serviceAccount,
    createServiceAccount: args.createServiceAccount ?? false,
    network: args.network,
    labels,
    locality: args.locality,
    weight: args.weight,
    annotations: { ...(args.annotations ?? {}) },
    ports,
    egress,
    sidecar: omitUndefined({
      enabled: args.sidecar?.enabled ?? true,
      name: args.sidecar?.name ?? `${args.namespace}-${app}-no-iptables`,
      selectorLabels,
      outboundTrafficPolicyMode: args.sidecar?.outboundTrafficPolicyMode,
    }),
    serviceEntry: {
      enabled: args.serviceEntry?.enabled ?? true,
      name: args.serviceEntry?.name ?? name,
      hosts: [...(args.serviceEntry?.hosts ?? [`${name}.${args.namespace}.svc.cluster.local`])],
    },
    workloadGroup: { enabled: args.workloadGroup?.enabled ?? false, name: args.workloadGroup?.name ?? name },
    apiVersion: normaliseNetworkingApiVersion(args.apiVersion) ?? networkingV1,
    flavor: args.flavor ?? defaultFlavor,
    trustDomain: args.trustDomain ?? defaultTrustDomain,
    explicitBootstrap,
    bootstrap: omitUndefined({
      sshHost: args.sshHost ?? args.address,
      sshPort: args.sshPort ?? bootstrapDefaults.sshPort,
      sshUser: args.sshUser ?? bootstrapDefaults.sshUser,
      scpPath: args.scpPath ?? bootstrapDefaults.scpPath,
      proxyConfigDir,
      proxyImageHub: (args.proxyImageHub ?? bootstrapDefaults.proxyImageHub).replace(/\/+$/, ""),
      proxyInstanceIp: args.proxyInstanceIp ?? (addressIsIp ? args.address : undefined),
      proxyContainerName: args.proxyContainerName ?? bootstrapDefaults.proxyContainerName,
    }),
  });
}
