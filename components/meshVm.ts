// MeshVm: one VM (or bare-metal host) in the mesh. This file declares the mesh-side objects with
// @pulumi/kubernetes; the host half (SSH provisioning) plugs in through `provisionHost`.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { stringify } from "yaml";
import { isPlainKnown } from "./inputs";
import {
  customResourceType,
  normaliseNetworkingApiVersion,
  servedNetworkingApiVersions,
} from "./mesh/apiVersion";
import { spiffeId } from "./mesh/identity";
import type { KubeObject } from "./mesh/objects";
import { MeshVmObjects, renderMeshVmObjects } from "./mesh/render";
import { schemaIssues } from "./mesh/schema";
import { MeshVmArgs, PlainMeshVmArgs, ResolvedMeshVm, resolveMeshVmArgs } from "./meshVmArgs";
import { throwIfIssues } from "./validation/issues";
import { validateMeshVmArgs } from "./validation/meshVm";

export const meshVmType = "mesh-vm:index:MeshVm";

/** What the host half receives: resolved settings and the mesh objects it may depend on. */
export interface MeshVmHostContext {
  /** The component's resource name (prefix for child names). */
  name: string;
  /** Every setting with defaults applied, once known (bootstrap settings in `.bootstrap`). */
  settings: pulumi.Output<ResolvedMeshVm>;
  /** The rendered objects, typed (e.g. the WorkloadEntry to derive the proxy's identity from). */
  objects: pulumi.Output<MeshVmObjects>;
  /** The WorkloadEntry resource (the proxy must start after it exists). */
  workloadEntry: k8s.apiextensions.CustomResource;
  /** Resources the host steps should depend on (WorkloadEntry, Sidecar, ServiceAccount, ...). */
  meshResources: pulumi.Resource[];
  /** SPIFFE identity of the workload. */
  spiffeId: pulumi.Output<string>;
}

/**
 * The rendered objects as sent to the API server. Typed `any` (Pulumi schema `Any`) so that the component
 * stays consumable from other Pulumi languages; TypeScript users can cast to `MeshVmObjects`.
 */
export interface MeshVmRenderedObjects {
  /* eslint-disable @typescript-eslint/no-explicit-any */
  workloadEntry: any;
  sidecar?: any;
  serviceEntry?: any;
  workloadGroup?: any;
  serviceAccount?: any;
  /* eslint-enable @typescript-eslint/no-explicit-any */
}

/** Multi-document YAML of the rendered objects, in apply order (what a tctl user would `kubectl apply`). */
export function objectsToYaml(o: MeshVmObjects): string {
  return [o.serviceAccount, o.workloadEntry, o.sidecar, o.serviceEntry, o.workloadGroup]
    .filter((x) => x !== undefined)
    .map((x) => stringify(x))
    .join("---\n");
}

/** Everything a MeshVm knows after validation: settings and rendered objects. */
interface Prepared {
  settings: ResolvedMeshVm;
  objects: MeshVmObjects;
}

async function prepare(name: string, args: PlainMeshVmArgs): Promise<Prepared> {
  const owner = `MeshVm "${name}"`;
  throwIfIssues(owner, validateMeshVmArgs(args));
  const settings = resolveMeshVmArgs(name, args);
  const objects = renderMeshVmObjects(settings);
  const istioObjects = [
    objects.workloadEntry,
    objects.sidecar,
    objects.serviceEntry,
    objects.workloadGroup,
  ].filter((o): o is NonNullable<typeof o> => o !== undefined) as KubeObject<unknown>[];
  throwIfIssues(owner, await schemaIssues(owner, istioObjects));
  return { settings, objects };
}

/**
 * A VM or bare-metal host onboarded into an Istio/TSB mesh: WorkloadEntry (with tctl's bootstrap annotations),
 * no-iptables Sidecar, ServiceEntry, and optionally ServiceAccount and WorkloadGroup.
 *
 * Inputs are validated before anything is created: synchronously when they are plain values, otherwise as
 * soon as they are known (an error then fails the child resources' registration).
 */
export class MeshVm extends pulumi.ComponentResource {
  /** Name of the WorkloadEntry. */
  public readonly workloadEntryName: pulumi.Output<string>;
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
  /** The rendered objects (as sent to the API server). */
  public readonly objects: pulumi.Output<MeshVmRenderedObjects>;
  /** The rendered objects as multi-document YAML, interchangeable with a tctl user's manifests. */
  public readonly manifests: pulumi.Output<string>;
  /** All settings after defaults, including the tctl bootstrap settings. */
  public readonly settings: pulumi.Output<ResolvedMeshVm>;

  constructor(name: string, args: MeshVmArgs, opts?: pulumi.ComponentResourceOptions) {
    // Plain inputs are checked before the component is even registered, so preview fails with nothing created.
    if (isPlainKnown(args)) {
      throwIfIssues(`MeshVm "${name}"`, validateMeshVmArgs(args as PlainMeshVmArgs));
    }
    super(meshVmType, name, {}, opts);

    const prepared = pulumi.output(args).apply((plain) => prepare(name, plain as PlainMeshVmArgs));
    this.settings = prepared.settings;
    const objects = prepared.apply((p) => p.objects);
    this.objects = objects;
    this.manifests = objects.apply(objectsToYaml);

    // apiVersion is part of the type token; aliases on the other served versions make a switch an in-place
    // update (the provider diffs apiVersion like any other field) instead of a delete + create.
    const apiVersion = normaliseNetworkingApiVersion(args.apiVersion) ?? "networking.istio.io/v1";
    const aliasesFor = (kind: string): pulumi.Alias[] =>
      servedNetworkingApiVersions
        .filter((v) => v !== apiVersion)
        .map((v) => ({ type: customResourceType(v, kind) }));

    const meshResources: pulumi.Resource[] = [];
    let serviceAccount: k8s.core.v1.ServiceAccount | undefined;
    if (args.createServiceAccount === true) {
      serviceAccount = new k8s.core.v1.ServiceAccount(
        `${name}-serviceaccount`,
        { metadata: objects.apply((o) => o.serviceAccount!.metadata) },
        { parent: this },
      );
      meshResources.push(serviceAccount);
    }
    const dependsOn = serviceAccount === undefined ? [] : [serviceAccount];

    const customResource = (kind: string, pick: (o: MeshVmObjects) => KubeObject<unknown> | undefined) =>
      new k8s.apiextensions.CustomResource(
        `${name}-${kind.toLowerCase()}`,
        {
          apiVersion,
          kind,
          metadata: objects.apply((o) => pick(o)!.metadata),
          spec: objects.apply((o) => pick(o)!.spec),
        },
        { parent: this, aliases: aliasesFor(kind), dependsOn },
      );

    const workloadEntry = customResource("WorkloadEntry", (o) => o.workloadEntry);
    meshResources.push(workloadEntry);
    const sidecar = args.sidecar?.enabled === false ? undefined : customResource("Sidecar", (o) => o.sidecar);
    if (sidecar !== undefined) meshResources.push(sidecar);
    const serviceEntry =
      args.serviceEntry?.enabled === false
        ? undefined
        : customResource("ServiceEntry", (o) => o.serviceEntry);
    if (serviceEntry !== undefined) meshResources.push(serviceEntry);
    const workloadGroup =
      args.workloadGroup?.enabled === true
        ? customResource("WorkloadGroup", (o) => o.workloadGroup)
        : undefined;
    if (workloadGroup !== undefined) meshResources.push(workloadGroup);

    this.workloadEntryName = workloadEntry.metadata.name;
    this.sidecarName = sidecar === undefined ? pulumi.output(undefined) : sidecar.metadata.name;
    this.serviceEntryName =
      serviceEntry === undefined ? pulumi.output(undefined) : serviceEntry.metadata.name;
    this.workloadGroupName =
      workloadGroup === undefined ? pulumi.output(undefined) : workloadGroup.metadata.name;
    this.serviceAccountName =
      serviceAccount === undefined ? this.settings.serviceAccount : serviceAccount.metadata.name;
    this.namespace = workloadEntry.metadata.namespace;
    this.spiffeId = this.settings.apply((s) => spiffeId(s.trustDomain, s.namespace, s.serviceAccount));

    const hostOutputs = this.provisionHost({
      name,
      settings: this.settings,
      objects,
      workloadEntry,
      meshResources,
      spiffeId: this.spiffeId,
    });

    this.registerOutputs({
      workloadEntryName: this.workloadEntryName,
      sidecarName: this.sidecarName,
      serviceEntryName: this.serviceEntryName,
      workloadGroupName: this.workloadGroupName,
      serviceAccountName: this.serviceAccountName,
      namespace: this.namespace,
      spiffeId: this.spiffeId,
      objects: this.objects,
      manifests: this.manifests,
      settings: this.settings,
      ...hostOutputs,
    });
  }

  /**
   * Hook for the host half: creates the SSH/provisioning resources (children of this component) and returns
   * extra outputs to register. Called at the end of the constructor, after the mesh objects exist; the mesh
   * half alone creates nothing on the host.
   */
  protected provisionHost(_ctx: MeshVmHostContext): Record<string, pulumi.Input<unknown>> {
    return {};
  }
}
