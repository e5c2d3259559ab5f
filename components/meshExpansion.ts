// MeshExpansion: the once-per-cluster half of VM onboarding (TSB ControlPlane patch, or istiod exposed
// through the east-west gateway), with the gateway address and firewall ports VMs need as outputs.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { isPlainKnown } from "./inputs";
import {
  customResourceType,
  normaliseNetworkingApiVersion,
  servedNetworkingApiVersions,
} from "./mesh/apiVersion";
import {
  istioFirewallPorts,
  renderControlPlanePatch,
  renderIstiodGateway,
  renderIstiodVirtualService,
  tsbFirewallPorts,
} from "./mesh/expansion";
import type { KubeObject } from "./mesh/objects";
import { passthroughGatewayDefaults, renderPassthroughGateway } from "./mesh/passthroughGateway";
import { meshExpansionDefaults } from "./mesh/settings";
import type { MeshExpansionArgs, PlainMeshExpansionArgs } from "./meshExpansionArgs";
import { throwIfIssues } from "./rules/issues";
import { validateMeshExpansionArgs } from "./validation/meshExpansion";
import { schemaIssues } from "./validation/schema";

export const meshExpansionType = "mesh-vm:index:MeshExpansion";

interface Resolved {
  flavor: string;
  namespace: string;
  controlPlane: KubeObject<unknown>;
  gateway: KubeObject<unknown>;
  virtualService: KubeObject<unknown>;
  passthroughGateway?: KubeObject<unknown>;
  passthroughPort?: number;
  istiodHost: string;
  firewallPorts: number[];
  gatewayAddress?: string;
}

function resolve(args: PlainMeshExpansionArgs): Resolved {
  const d = meshExpansionDefaults;
  const namespace = args.istioNamespace ?? d.istioNamespace;
  const istiod = args.revision ? `istiod-${args.revision}` : "istiod";
  const settings = {
    apiVersion: normaliseNetworkingApiVersion(args.apiVersion) ?? d.apiVersion,
    namespace,
    gatewayName: args.gatewayName ?? d.gatewayName,
    virtualServiceName: args.virtualServiceName ?? d.virtualServiceName,
    selector: { ...(args.gatewaySelector ?? d.gatewaySelector) },
    istiodHost: `${istiod}.${namespace}.svc.cluster.local`,
  };
  const r: Resolved = {
    flavor: args.flavor,
    namespace,
    controlPlane: renderControlPlanePatch({
      name: args.controlPlaneName ?? d.controlPlaneName,
      namespace,
      fieldManager: args.fieldManager ?? d.fieldManager,
    }),
    gateway: renderIstiodGateway(settings),
    virtualService: renderIstiodVirtualService(settings),
    // The name VMs resolve (via /etc/hosts or DNS) to the gateway address to reach istiod.
    istiodHost: `${istiod}.${namespace}.svc`,
    firewallPorts: args.flavor === "tsb" ? [...tsbFirewallPorts] : [...istioFirewallPorts],
  };
  if (args.gatewayAddress !== undefined) r.gatewayAddress = args.gatewayAddress;
  const p = args.passthroughGateway;
  if (args.flavor === "istio" && p !== undefined && p.enabled !== false) {
    const pd = passthroughGatewayDefaults;
    r.passthroughPort = p.port ?? pd.port;
    r.passthroughGateway = renderPassthroughGateway({
      apiVersion: settings.apiVersion,
      namespace,
      name: p.name ?? pd.name,
      selector: settings.selector,
      port: r.passthroughPort,
      hosts: [...(p.hosts ?? pd.hosts)],
    });
  }
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
  /** The AUTO_PASSTHROUGH port VMs running a plain Envoy dial on `gatewayAddress`, with `passthroughGateway`. */
  public readonly passthroughPort: pulumi.Output<number | undefined>;
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
        throwIfIssues(
          owner,
          await schemaIssues(owner, [
            r.gateway,
            r.virtualService,
            ...(r.passthroughGateway ? [r.passthroughGateway] : []),
          ]),
        );
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
      const apiVersion = normaliseNetworkingApiVersion(args.apiVersion) ?? meshExpansionDefaults.apiVersion;
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
      const passthrough = args.passthroughGateway;
      if (passthrough !== undefined && passthrough.enabled !== false) {
        new k8s.apiextensions.CustomResource(
          `${name}-passthrough-gateway`,
          { apiVersion, kind: "Gateway", ...pick((r) => r.passthroughGateway!) },
          { parent: this, aliases: aliases("Gateway") },
        );
        created = resolved.apply((r) => [r.gateway, r.virtualService, r.passthroughGateway!]);
      }
    }

    this.gatewayAddress = resolved.apply((r) => r.gatewayAddress);
    this.istiodHost = resolved.istiodHost;
    this.firewallPorts = resolved.firewallPorts;
    this.passthroughPort = resolved.apply((r) => r.passthroughPort);
    this.objects = created;
    this.registerOutputs({
      gatewayAddress: this.gatewayAddress,
      istiodHost: this.istiodHost,
      firewallPorts: this.firewallPorts,
      passthroughPort: this.passthroughPort,
      objects: this.objects,
    });
  }
}
