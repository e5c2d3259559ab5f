// MeshExpansion: the once-per-cluster half of VM onboarding (TSB ControlPlane patch, or istiod exposed
// through the east-west gateway), with the gateway address and firewall ports VMs need as outputs.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { isPlainKnown } from "./inputs";
import {
  customResourceType,
  networkingV1,
  normaliseNetworkingApiVersion,
  servedNetworkingApiVersions,
  supportedNetworkingApiVersions,
} from "./mesh/apiVersion";
import {
  istioFirewallPorts,
  renderControlPlanePatch,
  renderIstiodGateway,
  renderIstiodVirtualService,
  tsbFirewallPorts,
} from "./mesh/expansion";
import type { KubeObject } from "./mesh/objects";
import { schemaIssues } from "./mesh/schema";
import { issue, throwIfIssues, ValidationIssue } from "./validation/issues";
import {
  dns1123LabelProblem,
  dns1123SubdomainProblem,
  labelKeyProblem,
  labelValueProblem,
} from "./validation/names";

export const meshExpansionType = "mesh-vm:index:MeshExpansion";

/** Inputs of {@link MeshExpansion}. */
export interface MeshExpansionArgs {
  /**
   * `tsb`: patch the TSB ControlPlane with `spec.meshExpansion: {}`. `istio`: expose istiod through the
   * east-west gateway (Gateway + VirtualService). Plain value: it decides which resources exist.
   */
  flavor: string;
  /** Namespace of the control plane. Default `istio-system`. */
  istioNamespace?: pulumi.Input<string>;
  /** Address (IP or DNS name) of the VM/east-west gateway that VMs connect to; passed through to outputs. */
  gatewayAddress?: pulumi.Input<string>;

  // ---- flavor tsb ----
  /** Name of the TSB ControlPlane object. Default `controlplane`. */
  controlPlaneName?: pulumi.Input<string>;
  /** Server-side-apply field manager of the patch; stable so later runs own the same field. Default `mesh-vm`. */
  fieldManager?: pulumi.Input<string>;

  // ---- flavor istio ----
  /** Labels selecting the east-west gateway pods. Default `{ istio: "eastwestgateway" }`. */
  gatewaySelector?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** istiod revision; routes to `istiod-<revision>`. Default: the default revision (`istiod`). */
  revision?: pulumi.Input<string>;
  /** Gateway name. Default `istiod-gateway`. */
  gatewayName?: pulumi.Input<string>;
  /** VirtualService name. Default `istiod-vs`. */
  virtualServiceName?: pulumi.Input<string>;
  /** `networking.istio.io/v1` (default) or `networking.istio.io/v1beta1`. Plain value: part of the type. */
  apiVersion?: string;
}

export type PlainMeshExpansionArgs = pulumi.Unwrap<MeshExpansionArgs>;

const A = "MeshExpansionArgs";
export const meshExpansionFlavors = ["tsb", "istio"];

export function validateMeshExpansionArgs(args: PlainMeshExpansionArgs): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  if (!meshExpansionFlavors.includes(args.flavor)) {
    out.push(
      issue(
        `${A}.flavor`,
        `flavor "${args.flavor}" is not supported`,
        `use one of ${meshExpansionFlavors.join(", ")}`,
      ),
    );
  }
  if (args.istioNamespace !== undefined) {
    const p = dns1123LabelProblem(args.istioNamespace);
    if (p !== undefined)
      out.push(issue(`${A}.istioNamespace`, p, 'use the control plane namespace, e.g. "istio-system"'));
  }
  for (const key of ["controlPlaneName", "gatewayName", "virtualServiceName"] as const) {
    const v = args[key];
    if (v === undefined) continue;
    const p = dns1123SubdomainProblem(v);
    if (p !== undefined) out.push(issue(`${A}.${key}`, p, "use a Kubernetes object name"));
  }
  if (args.revision !== undefined && args.revision !== "") {
    const p = dns1123LabelProblem(args.revision);
    if (p !== undefined) out.push(issue(`${A}.revision`, p, 'use the istiod revision name, e.g. "1-30"'));
  }
  if (args.fieldManager !== undefined && (args.fieldManager === "" || args.fieldManager.length > 128)) {
    out.push(issue(`${A}.fieldManager`, "field manager must be 1-128 characters", 'use e.g. "mesh-vm"'));
  }
  if (args.gatewaySelector !== undefined) {
    const keys = Object.keys(args.gatewaySelector);
    if (keys.length === 0) {
      out.push(
        issue(
          `${A}.gatewaySelector`,
          "an empty selector would match every gateway",
          'select the east-west gateway, e.g. { istio: "eastwestgateway" }',
        ),
      );
    }
    for (const k of keys) {
      const p = labelKeyProblem(k) ?? labelValueProblem(args.gatewaySelector[k] ?? "");
      if (p !== undefined) out.push(issue(`${A}.gatewaySelector["${k}"]`, p, "use the gateway pods' labels"));
    }
  }
  if (normaliseNetworkingApiVersion(args.apiVersion) === undefined) {
    out.push(
      issue(
        `${A}.apiVersion`,
        `apiVersion "${args.apiVersion}" is not supported`,
        `use one of ${supportedNetworkingApiVersions.join(", ")}`,
      ),
    );
  }
  return out;
}

interface Resolved {
  flavor: string;
  namespace: string;
  controlPlane: KubeObject<unknown>;
  gateway: KubeObject<unknown>;
  virtualService: KubeObject<unknown>;
  istiodHost: string;
  firewallPorts: number[];
  gatewayAddress?: string;
}

function resolve(args: PlainMeshExpansionArgs): Resolved {
  const namespace = args.istioNamespace ?? "istio-system";
  const istiod = args.revision ? `istiod-${args.revision}` : "istiod";
  const settings = {
    apiVersion: normaliseNetworkingApiVersion(args.apiVersion) ?? networkingV1,
    namespace,
    gatewayName: args.gatewayName ?? "istiod-gateway",
    virtualServiceName: args.virtualServiceName ?? "istiod-vs",
    selector: { ...(args.gatewaySelector ?? { istio: "eastwestgateway" }) },
    istiodHost: `${istiod}.${namespace}.svc.cluster.local`,
  };
  const r: Resolved = {
    flavor: args.flavor,
    namespace,
    controlPlane: renderControlPlanePatch({
      name: args.controlPlaneName ?? "controlplane",
      namespace,
      fieldManager: args.fieldManager ?? "mesh-vm",
    }),
    gateway: renderIstiodGateway(settings),
    virtualService: renderIstiodVirtualService(settings),
    // The name VMs resolve (via /etc/hosts or DNS) to the gateway address to reach istiod.
    istiodHost: `${istiod}.${namespace}.svc`,
    firewallPorts: args.flavor === "tsb" ? [...tsbFirewallPorts] : [...istioFirewallPorts],
  };
  if (args.gatewayAddress !== undefined) r.gatewayAddress = args.gatewayAddress;
  return r;
}

/**
 * Enables VM onboarding on a cluster, once per cluster. `flavor: "tsb"` patches the TSB ControlPlane
 * (server-side apply, stable field manager); `flavor: "istio"` exposes istiod through the east-west gateway.
 */
export class MeshExpansion extends pulumi.ComponentResource {
  /** Address VMs connect to (the gateway), when given. */
  public readonly gatewayAddress: pulumi.Output<string | undefined>;
  /** Host name of istiod that VMs map to the gateway address, e.g. `istiod.istio-system.svc`. */
  public readonly istiodHost: pulumi.Output<string>;
  /** TCP ports VMs must be allowed to reach on the gateway (feed firewall rules from this). */
  public readonly firewallPorts: pulumi.Output<number[]>;
  /**
   * The rendered objects (ControlPlane patch, or Gateway and VirtualService); typed `any` (Pulumi schema `Any`)
   * so that the component stays consumable from other Pulumi languages.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  public readonly objects: pulumi.Output<any[]>;

  constructor(name: string, args: MeshExpansionArgs, opts?: pulumi.ComponentResourceOptions) {
    if (isPlainKnown(args))
      throwIfIssues(`MeshExpansion "${name}"`, validateMeshExpansionArgs(args as PlainMeshExpansionArgs));
    super(meshExpansionType, name, {}, opts);

    const resolved = pulumi.output(args).apply(async (plain) => {
      const owner = `MeshExpansion "${name}"`;
      throwIfIssues(owner, validateMeshExpansionArgs(plain as PlainMeshExpansionArgs));
      const r = resolve(plain as PlainMeshExpansionArgs);
      if (r.flavor === "istio")
        throwIfIssues(owner, await schemaIssues(owner, [r.gateway, r.virtualService]));
      return r;
    });

    const pick = (f: (r: Resolved) => KubeObject<unknown>) => ({
      metadata: resolved.apply((r) => f(r).metadata),
      spec: resolved.apply((r) => f(r).spec),
    });
    let created: pulumi.Output<KubeObject<unknown>[]>;
    if (args.flavor === "tsb") {
      new k8s.apiextensions.CustomResourcePatch(
        `${name}-controlplane`,
        { apiVersion: "install.tetrate.io/v1alpha1", kind: "ControlPlane", ...pick((r) => r.controlPlane) },
        { parent: this },
      );
      created = resolved.apply((r) => [r.controlPlane]);
    } else {
      const apiVersion = normaliseNetworkingApiVersion(args.apiVersion) ?? networkingV1;
      const aliases = (kind: string): pulumi.Alias[] =>
        servedNetworkingApiVersions
          .filter((v) => v !== apiVersion)
          .map((v) => ({ type: customResourceType(v, kind) }));
      new k8s.apiextensions.CustomResource(
        `${name}-gateway`,
        { apiVersion, kind: "Gateway", ...pick((r) => r.gateway) },
        { parent: this, aliases: aliases("Gateway") },
      );
      new k8s.apiextensions.CustomResource(
        `${name}-virtualservice`,
        { apiVersion, kind: "VirtualService", ...pick((r) => r.virtualService) },
        { parent: this, aliases: aliases("VirtualService") },
      );
      created = resolved.apply((r) => [r.gateway, r.virtualService]);
    }

    this.gatewayAddress = resolved.apply((r) => r.gatewayAddress);
    this.istiodHost = resolved.istiodHost;
    this.firewallPorts = resolved.firewallPorts;
    this.objects = created;
    this.registerOutputs({
      gatewayAddress: this.gatewayAddress,
      istiodHost: this.istiodHost,
      firewallPorts: this.firewallPorts,
      objects: this.objects,
    });
  }
}
