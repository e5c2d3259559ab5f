// MeshVm: one VM (or bare-metal host) in the mesh. The mesh-side objects are declared here with
// @pulumi/kubernetes; the host half (SSH provisioning, components/host/) is a VmProxy child when `host` is set.
// Order: ServiceAccount and Sidecar, then the proxy, then the registration objects (WorkloadEntry,
// ServiceEntry), so the VM receives traffic only once its proxy is ready, and destroy runs the reverse.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { stringify } from "yaml";
import { isPlainKnown } from "./inputs";
import {
  customResourceType,
  legacyNetworkingApiVersions,
  networkingV1,
  normaliseNetworkingApiVersion,
  servedNetworkingApiVersions,
} from "./mesh/apiVersion";
import { securityApiVersion } from "./mesh/authorizationPolicy";
import { spiffeId } from "./mesh/identity";
import type { KubeObject } from "./mesh/objects";
import { envoyVmHasServiceEntry, envoyVmObjects } from "./mesh/envoyVmObjects";
import { MeshVmDeclaredObjects, renderMeshVmObjects } from "./mesh/render";
import { meshVmDefaults, ResolvedMeshVm } from "./mesh/settings";
import { VmBoot } from "./boot/vmBoot";
import type { BootBundleFile } from "./boot/vmBootArgs";
import { VmProxy, type SshIdentity } from "./host/vmProxy";
import type { WorkloadEntryLike } from "./host/workloadIdentity";
import type { MeshVmArgs, MeshVmBootArgs, MeshVmHostArgs, PlainMeshVmArgs } from "./meshVmArgs";
import { vmBootArgsFromMeshVm } from "./meshVmBoot";
import { upstreamAuthorizationPolicies } from "./meshVmAuthorization";
import { autoRegisteredEntryNameFor, vmProxyArgsFromMeshVm } from "./meshVmHost";
import { resolveMeshVmArgs } from "./meshVmResolve";
import { throwIfIssues } from "./rules/issues";
import { deliveryInputIssues, meshInputIssues, meshVmInputIssues } from "./validation/meshVmInputs";
import { schemaIssues } from "./validation/schema";

export const meshVmType = "mesh-vm:index:MeshVm";

/** What the proxy on the host reports (MeshVm's `proxy` output when `host` is set). */
export interface MeshVmProxyState {
  /** Container id and state after the last run. */
  containerId: string;
  containerState: string;
  /** The proxy image. */
  proxyImage: string;
  /** The `docker run` command the proxy was started with. */
  dockerRunCommand: string;
  /** sidecar.env as written to the VM. */
  sidecarEnv: string;
  /** SHA-256 of each file in proxyConfigDir. */
  fileDigests: Record<string, string>;
  /** When the current bootstrap token expires (RFC 3339); "" for runtime `envoy`. */
  tokenExpiry: string;
  /** When the workload certificate expires (RFC 3339), runtime `envoy`; "" for the others. */
  certificateExpiry: string;
  /** The managed `/etc/hosts` block ("" when none). */
  hostsBlock: string;
  /** SSH identity of the proxy steps. */
  sshIdentity: SshIdentity;
}

/**
 * What boot-time delivery renders besides the token (MeshVm's `boot` output when `boot` is set), all known at
 * preview, so `pulumi preview` shows it; the user data itself (`userData`) is a secret.
 */
export interface MeshVmBootState {
  /** The offline bundle's start script; the user data's runcmd runs the same steps. */
  startScript: string;
  /** Where the offline bundle is written (`boot.bundleDir`), or "". */
  bundleDir: string;
  proxyImage: string;
  dockerRunCommand: string;
  sidecarEnv: string;
  hostsBlock: string;
}

/**
 * The rendered objects as sent to the API server. Typed `any` (Pulumi schema `Any`) so that the component
 * stays consumable from other Pulumi languages; TypeScript users can cast to `MeshVmObjects`.
 */
export interface MeshVmRenderedObjects {
  /* eslint-disable @typescript-eslint/no-explicit-any */
  /** Absent for runtime `envoy`. */
  workloadEntry?: any;
  sidecar?: any;
  serviceEntry?: any;
  workloadGroup?: any;
  serviceAccount?: any;
  authorizationPolicies?: any[];
  /* eslint-enable @typescript-eslint/no-explicit-any */
}

/**
 * Multi-document YAML of the rendered objects, in apply order (what a tctl user would `kubectl apply`); with
 * auto-registration without the WorkloadEntry, which istiod makes.
 */
export function objectsToYaml(o: MeshVmDeclaredObjects, autoRegister = false): string {
  const entry = autoRegister ? undefined : o.workloadEntry;
  const all = [o.serviceAccount, entry, o.sidecar, o.serviceEntry, o.workloadGroup];
  return [...all, ...(o.authorizationPolicies ?? [])]
    .filter((x) => x !== undefined)
    .map((x) => stringify(x))
    .join("---\n");
}

/** The envoy runtime's upstreams of the delivery (plain values: they decide which policies exist). */
function envoyUpstreamsOf(delivery: Pick<MeshVmArgs, "host" | "boot">) {
  return (delivery.host ?? delivery.boot)?.envoy?.upstreams ?? [];
}

/**
 * The AuthorizationPolicies of the envoy runtime's upstreams with `authorize`, one resource each, named after the
 * upstream (its service port) so that reordering the list changes nothing. Not gated on the proxy: admitting the
 * VM before its Envoy starts lets its first call through.
 */
function declareAuthorizationPolicies(
  parent: pulumi.Resource,
  name: string,
  delivery: Pick<MeshVmArgs, "host" | "boot">,
  objects: pulumi.Output<MeshVmDeclaredObjects>,
): k8s.apiextensions.CustomResource[] {
  let at = 0;
  return envoyUpstreamsOf(delivery).flatMap((u) => {
    if (u.authorize === undefined) return [];
    const i = at++;
    const policy = objects.apply((o) => o.authorizationPolicies![i]!);
    const key = `${u.host}-${u.port}${u.subset ? `-${u.subset}` : ""}`;
    return [
      new k8s.apiextensions.CustomResource(
        `${name}-authorizationpolicy-${key}`,
        {
          apiVersion: securityApiVersion,
          kind: "AuthorizationPolicy",
          metadata: policy.metadata,
          spec: policy.spec,
        },
        { parent },
      ),
    ];
  });
}

/** Everything a MeshVm knows after validation: settings and rendered objects. */
interface Prepared {
  settings: ResolvedMeshVm;
  objects: MeshVmDeclaredObjects;
  /**
   * The workload as a WorkloadEntry renders it: the proxy's identity and address. For runtime `envoy` it is not
   * declared (not in `objects`): the VM's Envoy never registers with istiod.
   */
  workload: WorkloadEntryLike;
}

/** The envoy runtime's inbound port, when the delivery is `envoy` with an inbound listener. */
function envoyInboundPortOf(delivery: Pick<MeshVmArgs, "host" | "boot">): number | undefined {
  return (delivery.host ?? delivery.boot)?.envoy?.inbound?.port;
}

const isEnvoy = (delivery: Pick<MeshVmArgs, "host" | "boot">): boolean =>
  (delivery.host ?? delivery.boot)?.runtime === "envoy";

/** Validates (unless already done), resolves and renders; then checks the objects against the CRD schemas. */
async function prepare(
  name: string,
  args: PlainMeshVmArgs,
  validated: boolean,
  delivery: Pick<MeshVmArgs, "host" | "boot">,
): Promise<Prepared> {
  const owner = `MeshVm "${name}"`;
  if (!validated) throwIfIssues(owner, meshInputIssues(args, delivery));
  const settings = resolveMeshVmArgs(name, args);
  const rendered = renderMeshVmObjects(settings);
  const workload = rendered.workloadEntry as unknown as WorkloadEntryLike;
  const objects = isEnvoy(delivery)
    ? envoyVmObjects(rendered, settings, envoyInboundPortOf(delivery))
    : rendered;
  const policies = upstreamAuthorizationPolicies(settings, envoyUpstreamsOf(delivery));
  if (policies.length > 0) objects.authorizationPolicies = policies;
  const istioObjects = [
    objects.workloadEntry,
    objects.sidecar,
    objects.serviceEntry,
    objects.workloadGroup,
    ...policies,
  ].filter((o): o is NonNullable<typeof o> => o !== undefined) as KubeObject<unknown>[];
  throwIfIssues(owner, await schemaIssues(owner, istioObjects));
  return { settings, objects, workload };
}

/**
 * Checks the inputs before the component is even registered, so preview fails with nothing created. Returns
 * whether the mesh inputs are checked already: plain ones are checked here, the others once known (in
 * `prepare`). One list of rules (validation/meshVmInputs.ts), as for the stack configuration.
 */
function validateBeforeRegistering(name: string, args: MeshVmArgs): boolean {
  const { host, boot, ...meshArgs } = args;
  const plainKnown = isPlainKnown(meshArgs);
  throwIfIssues(
    `MeshVm "${name}"`,
    plainKnown
      ? meshVmInputIssues(meshArgs as PlainMeshVmArgs, { host, boot })
      : deliveryInputIssues({ host, boot }),
  );
  return plainKnown;
}

/** Passes a value through unchanged, or with a dependency threaded through it. */
type Gate = <T>(v: pulumi.Output<T>) => pulumi.Output<T>;

/**
 * Declares the networking objects of one MeshVm. apiVersion is part of the type token; aliases on the other
 * served versions make a switch an in-place update (the provider diffs apiVersion like any other field) instead
 * of a delete + create. `gate` threads a dependency through the object's fields: the registration objects are
 * created after the proxy is ready and deleted before it stops (dependsOn on a component would not reach its
 * children).
 */
function meshObjectDeclarer(
  parent: pulumi.Resource,
  name: string,
  apiVersion: string,
  objects: pulumi.Output<MeshVmDeclaredObjects>,
  dependsOn: pulumi.Resource[],
) {
  const aliasesFor = (kind: string): pulumi.Alias[] =>
    servedNetworkingApiVersions
      .filter((v) => v !== apiVersion)
      .map((v) => ({ type: customResourceType(v, kind) }));
  return (
    kind: string,
    pick: (o: MeshVmDeclaredObjects) => KubeObject<unknown> | undefined,
    gate: Gate = (v) => v,
  ): k8s.apiextensions.CustomResource =>
    new k8s.apiextensions.CustomResource(
      `${name}-${kind.toLowerCase()}`,
      {
        apiVersion,
        kind,
        metadata: gate(objects.apply((o) => pick(o)!.metadata)),
        spec: gate(objects.apply((o) => pick(o)!.spec)),
      },
      { parent, aliases: aliasesFor(kind), dependsOn },
    );
}

/**
 * The rendered WorkloadEntry, carrying a dependency on the Sidecar: the proxy (or the boot-time files) is set up
 * after the Sidecar that shapes its listeners exists, and, with auto-registration, after the WorkloadGroup
 * istiod makes the entry from (so destroy stops the proxy before the group goes).
 */
function workloadEntryAfter(
  workload: pulumi.Output<WorkloadEntryLike>,
  before: (k8s.apiextensions.CustomResource | undefined)[],
): pulumi.Output<WorkloadEntryLike> {
  const workloadEntry = workload;
  const urns = before.flatMap((r) => (r === undefined ? [] : [r.urn]));
  return urns.length === 0
    ? workloadEntry
    : pulumi.all([workloadEntry, pulumi.all(urns)]).apply(([we]) => we);
}

/** The proxy on the host, started after the Sidecar exists (it shapes the proxy's listeners). */
function createVmProxy(
  parent: MeshVm,
  name: string,
  host: MeshVmHostArgs,
  workload: pulumi.Output<WorkloadEntryLike>,
  before: (k8s.apiextensions.CustomResource | undefined)[],
  serviceAccount: k8s.core.v1.ServiceAccount | undefined,
): VmProxy {
  return new VmProxy(
    `${name}-proxy`,
    vmProxyArgsFromMeshVm(
      parent.settings,
      workloadEntryAfter(workload, before),
      host,
      serviceAccount?.metadata.name,
    ),
    { parent },
  );
}

/** Boot-time delivery (no SSH): the user data and bundle, rendered after the Sidecar exists, like the proxy. */
function createVmBoot(
  parent: MeshVm,
  name: string,
  boot: MeshVmBootArgs,
  workload: pulumi.Output<WorkloadEntryLike>,
  before: (k8s.apiextensions.CustomResource | undefined)[],
  serviceAccount: k8s.core.v1.ServiceAccount | undefined,
): VmBoot {
  return new VmBoot(
    `${name}-boot`,
    vmBootArgsFromMeshVm(
      parent.settings,
      workloadEntryAfter(workload, before),
      boot,
      serviceAccount?.metadata.name,
    ),
    { parent },
  );
}

function bootStateOf(
  vmBoot: VmBoot | undefined,
  boot: MeshVmBootArgs | undefined,
): pulumi.Output<MeshVmBootState | undefined> {
  if (vmBoot === undefined) return pulumi.output(undefined);
  return pulumi.output({
    startScript: vmBoot.startScript,
    bundleDir: boot?.bundleDir ?? "",
    proxyImage: vmBoot.proxyImage,
    dockerRunCommand: vmBoot.dockerRunCommand,
    sidecarEnv: vmBoot.sidecarEnv,
    hostsBlock: vmBoot.hostsBlock,
  }) as pulumi.Output<MeshVmBootState>;
}

function proxyStateOf(vmProxy: VmProxy | undefined): pulumi.Output<MeshVmProxyState | undefined> {
  if (vmProxy === undefined) return pulumi.output(undefined);
  return pulumi.output({
    containerId: vmProxy.containerId,
    containerState: vmProxy.containerState,
    proxyImage: vmProxy.proxyImage,
    dockerRunCommand: vmProxy.dockerRunCommand,
    sidecarEnv: vmProxy.sidecarEnv,
    fileDigests: vmProxy.fileDigests,
    tokenExpiry: vmProxy.tokenExpiry,
    certificateExpiry: vmProxy.certificateExpiry,
    hostsBlock: vmProxy.hostsBlock,
    sshIdentity: vmProxy.sshIdentity,
  }) as pulumi.Output<MeshVmProxyState>;
}

/** With auto-registration: the name istiod gives the VM's WorkloadEntry, said at preview (mesh-vm declares none). */
function announceAutoRegisteredEntry(
  parent: MeshVm,
  delivery: MeshVmHostArgs | MeshVmBootArgs | undefined,
): pulumi.Output<string | undefined> {
  const autoName = autoRegisteredEntryNameFor(parent.settings, delivery);
  pulumi
    .all([parent.settings, autoName])
    .apply(([s, n]) =>
      pulumi.log.info(
        `workloadGroup.autoRegister: istiod creates the WorkloadEntry ${s.namespace}/${n} from WorkloadGroup ` +
          `${s.workloadGroup.name} when the proxy connects and deletes it once the proxy is gone (its grace period); ` +
          "mesh-vm declares no WorkloadEntry",
        parent,
      ),
    );
  return autoName;
}

const nameOf = (r: k8s.apiextensions.CustomResource | undefined): pulumi.Output<string | undefined> =>
  r === undefined ? pulumi.output(undefined) : r.metadata.name;

// Each MeshVm's VmProxy (or VmBoot), kept off the instance: Pulumi's component analyzer treats every field, private ones
// included, as an output, and a child resource is not an output other languages can type.
const proxies = new WeakMap<MeshVm, VmProxy | VmBoot>();

/**
 * A VM or bare-metal host onboarded into an Istio/TSB mesh: WorkloadEntry (with tctl's bootstrap annotations),
 * no-iptables Sidecar, ServiceEntry, optionally ServiceAccount and WorkloadGroup, and, with `host`, the proxy on
 * the VM (a {@link VmProxy} child: SSH, bootstrap token, files, container, `/etc/hosts` block).
 *
 * Inputs are validated before anything is created: synchronously when they are plain values, otherwise as
 * soon as they are known (an error then fails the child resources' registration).
 */
export class MeshVm extends pulumi.ComponentResource {
  /**
   * Name of the WorkloadEntry; with `workloadGroup.autoRegister`, the name istiod gives the entry it makes when
   * the proxy connects (`<group>-<address>[-<network>]`), which mesh-vm does not declare; undefined for runtime
   * `envoy`, which declares none (its Envoy never registers).
   */
  public readonly workloadEntryName: pulumi.Output<string | undefined>;
  /** Name of the Sidecar, if created. */
  public readonly sidecarName: pulumi.Output<string | undefined>;
  /** Name of the ServiceEntry, if created. */
  public readonly serviceEntryName: pulumi.Output<string | undefined>;
  /** Name of the WorkloadGroup, if created. */
  public readonly workloadGroupName: pulumi.Output<string | undefined>;
  /** Name of the ServiceAccount (created or existing). */
  public readonly serviceAccountName: pulumi.Output<string>;
  /** Namespace of the mesh objects. */
  public readonly namespace: pulumi.Output<string>;
  /** `spiffe://<trust-domain>/ns/<namespace>/sa/<serviceAccount>`. */
  public readonly spiffeId: pulumi.Output<string>;
  /** Runtime `envoy`: names of the AuthorizationPolicies of the upstreams with `authorize` (in their namespaces). */
  public readonly authorizationPolicyNames: pulumi.Output<string[]>;
  /** The rendered objects (as sent to the API server). */
  public readonly objects: pulumi.Output<MeshVmRenderedObjects>;
  /** The rendered objects as multi-document YAML, interchangeable with a tctl user's manifests. */
  public readonly manifests: pulumi.Output<string>;
  /** All settings after defaults, including the tctl bootstrap settings. */
  public readonly settings: pulumi.Output<ResolvedMeshVm>;
  /** What the proxy on the host reports; undefined without `host`. */
  public readonly proxy: pulumi.Output<MeshVmProxyState | undefined>;
  /** With `boot`: cloud-init user data (`#cloud-config`) for the VM resource; secret (it holds the token). */
  public readonly userData: pulumi.Output<string | undefined>;
  /** With `boot`: what boot-time delivery rendered besides the token (known at preview); undefined otherwise. */
  public readonly boot: pulumi.Output<MeshVmBootState | undefined>;
  /** With `boot`: when the token in `userData` expires (RFC 3339; "" for runtime `envoy`); undefined otherwise. */
  public readonly bootTokenExpiry: pulumi.Output<string | undefined>;
  /** With `boot` and runtime `envoy`: when the workload certificate in `userData` expires (RFC 3339), else "". */
  public readonly bootCertificateExpiry: pulumi.Output<string | undefined>;
  /**
   * With `boot`: the offline bundle (`etc/…` and the start script under `bin/`), e.g. for a developer's laptop
   * that runs no cloud-init; secret (it holds the token or the workload certificate's key).
   */
  public readonly bootBundle: pulumi.Output<BootBundleFile[] | undefined>;

  constructor(name: string, args: MeshVmArgs, opts?: pulumi.ComponentResourceOptions) {
    const validated = validateBeforeRegistering(name, args);
    super(meshVmType, name, {}, opts);
    // The host inputs hold secrets (keys, kubeconfig): they stay out of the mesh settings and objects.
    const { host, boot, ...meshArgs } = args;
    const d = meshVmDefaults;

    const prepared = pulumi
      .output(meshArgs)
      .apply((plain) => prepare(name, plain as PlainMeshVmArgs, validated, { host, boot }));
    this.settings = prepared.settings;
    const objects = prepared.apply((p) => p.objects);
    const workload = prepared.apply((p) => p.workload);
    // Runtime envoy (seed 003): no WorkloadEntry, Sidecar or WorkloadGroup; a ServiceEntry only for an inbound
    // listener (components/mesh/envoyVmObjects.ts). Decided from plain inputs: resources cannot wait on Outputs.
    const envoy = isEnvoy({ host, boot });
    this.objects = objects;
    const autoRegister = args.workloadGroup?.autoRegister === true;
    this.manifests = objects.apply((o) => objectsToYaml(o, autoRegister));

    const serviceAccount =
      (args.createServiceAccount ?? d.createServiceAccount)
        ? new k8s.core.v1.ServiceAccount(
            `${name}-serviceaccount`,
            { metadata: objects.apply((o) => o.serviceAccount!.metadata) },
            { parent: this },
          )
        : undefined;
    const apiVersion = normaliseNetworkingApiVersion(args.apiVersion) ?? d.apiVersion;
    if (legacyNetworkingApiVersions.includes(apiVersion)) {
      pulumi.log.info(
        `renders its networking objects as ${apiVersion}, as chosen (tctl-era YAML); Istio still serves it, ` +
          `${networkingV1} is the documented form since Istio 1.22: set apiVersion to switch (an in-place update)`,
        this,
      );
    }
    const declare = meshObjectDeclarer(
      this,
      name,
      apiVersion,
      objects,
      serviceAccount ? [serviceAccount] : [],
    );

    const sidecar =
      !envoy && (args.sidecar?.enabled ?? d.sidecarEnabled)
        ? declare("Sidecar", (o) => o.sidecar)
        : undefined;
    const policies = declareAuthorizationPolicies(this, name, { host, boot }, objects);
    this.authorizationPolicyNames = pulumi.all(policies.map((p) => p.metadata.name));
    const workloadGroup =
      !envoy && (args.workloadGroup?.enabled ?? (autoRegister || d.workloadGroupEnabled))
        ? declare("WorkloadGroup", (o) => o.workloadGroup)
        : undefined;
    const before = [sidecar, autoRegister ? workloadGroup : undefined];
    const vmProxy =
      host === undefined ? undefined : createVmProxy(this, name, host, workload, before, serviceAccount);
    const vmBoot =
      boot === undefined ? undefined : createVmBoot(this, name, boot, workload, before, serviceAccount);
    const delivery = vmProxy ?? vmBoot;
    if (delivery !== undefined) proxies.set(this, delivery);
    const registration: Gate = (v) => (delivery === undefined ? v : delivery.afterProxyReady(v));
    // With auto-registration istiod makes the WorkloadEntry from the WorkloadGroup when the agent connects.
    const workloadEntry =
      envoy || autoRegister ? undefined : declare("WorkloadEntry", (o) => o.workloadEntry, registration);
    const serviceEntryEnabled = args.serviceEntry?.enabled ?? d.serviceEntryEnabled;
    const serviceEntry = (
      envoy
        ? envoyVmHasServiceEntry(serviceEntryEnabled, envoyInboundPortOf({ host, boot }))
        : serviceEntryEnabled
    )
      ? declare("ServiceEntry", (o) => o.serviceEntry, registration)
      : undefined;

    this.workloadEntryName = autoRegister
      ? announceAutoRegisteredEntry(this, host ?? boot)
      : nameOf(workloadEntry);
    this.sidecarName = nameOf(sidecar);
    this.serviceEntryName = nameOf(serviceEntry);
    this.workloadGroupName = nameOf(workloadGroup);
    this.serviceAccountName =
      serviceAccount === undefined ? this.settings.serviceAccount : serviceAccount.metadata.name;
    this.namespace = workloadEntry?.metadata.namespace ?? this.settings.namespace;
    this.spiffeId = this.settings.apply((s) => spiffeId(s.trustDomain, s.namespace, s.serviceAccount));
    this.proxy = proxyStateOf(vmProxy);
    this.userData = vmBoot === undefined ? pulumi.output(undefined) : vmBoot.userData;
    this.boot = bootStateOf(vmBoot, boot);
    this.bootTokenExpiry = vmBoot === undefined ? pulumi.output(undefined) : vmBoot.tokenExpiry;
    this.bootCertificateExpiry = vmBoot === undefined ? pulumi.output(undefined) : vmBoot.certificateExpiry;
    this.bootBundle = vmBoot === undefined ? pulumi.output(undefined) : vmBoot.bundle;

    this.registerOutputs({
      workloadEntryName: this.workloadEntryName,
      sidecarName: this.sidecarName,
      serviceEntryName: this.serviceEntryName,
      workloadGroupName: this.workloadGroupName,
      serviceAccountName: this.serviceAccountName,
      namespace: this.namespace,
      spiffeId: this.spiffeId,
      authorizationPolicyNames: this.authorizationPolicyNames,
      objects: this.objects,
      manifests: this.manifests,
      settings: this.settings,
      proxy: this.proxy,
      userData: this.userData,
      boot: this.boot,
      bootTokenExpiry: this.bootTokenExpiry,
      bootCertificateExpiry: this.bootCertificateExpiry,
      bootBundle: this.bootBundle,
    });
  }

  /**
   * `value`, carrying a dependency on this VM's ready proxy (with `host`; otherwise `value` as is). Pass the
   * fields of further registration objects (e.g. a ServiceEntry shared by a fleet) through it: they are then
   * created after the proxy is ready and deleted before it stops.
   */
  public afterProxyReady<T>(value: pulumi.Input<T>): pulumi.Output<T> {
    const vmProxy = proxies.get(this);
    return vmProxy === undefined
      ? (pulumi.output(value) as pulumi.Output<T>)
      : vmProxy.afterProxyReady(value);
  }
}
