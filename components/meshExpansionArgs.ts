// Inputs of MeshExpansion. Types only: defaults are in mesh/settings.ts (`meshExpansionDefaults`), the rules in
// validation/meshExpansion.ts.
import * as pulumi from "@pulumi/pulumi";

/** Inputs of {@link MeshExpansion}. */
export interface MeshExpansionArgs {
  /**
   * `tsb`: patch the TSB ControlPlane with `spec.meshExpansion: {}`. `istio`: expose istiod through the
   * east-west gateway (Gateway + VirtualService). Plain value: it decides which resources exist.
   */
  flavor: string;
  /**
   * Namespace of the control plane.
   * @default "istio-system"
   */
  istioNamespace?: pulumi.Input<string>;
  /** Address (IP or DNS name) of the VM/east-west gateway that VMs connect to; passed through to outputs. */
  gatewayAddress?: pulumi.Input<string>;

  // ---- flavor tsb ----
  /**
   * Name of the TSB ControlPlane object.
   * @default "controlplane"
   */
  controlPlaneName?: pulumi.Input<string>;
  /**
   * Server-side-apply field manager of the patch; stable so later runs own the same field.
   * @default "mesh-vm"
   */
  fieldManager?: pulumi.Input<string>;

  // ---- flavor istio ----
  /**
   * Labels selecting the east-west gateway pods.
   * @default { istio: "eastwestgateway" }
   */
  gatewaySelector?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** istiod revision; routes to `istiod-<revision>`. Default: the default revision (`istiod`). */
  revision?: pulumi.Input<string>;
  /**
   * Gateway name.
   * @default "istiod-gateway"
   */
  gatewayName?: pulumi.Input<string>;
  /**
   * VirtualService name.
   * @default "istiod-vs"
   */
  virtualServiceName?: pulumi.Input<string>;
  /**
   * The AUTO_PASSTHROUGH Gateway on the east-west gateway (Istio's `cross-network-gateway`: port 15443, hosts
   * `*.local`), through which VMs running a plain Envoy (`runtime: "envoy"`) reach mesh services with mTLS end
   * to end. `{}` (or `{ enabled: true }`) for Istio's defaults. Leave it out when the cluster has one already
   * (Istio's multi-network install applies expose-services.yaml). Plain value: it decides whether the resource
   * exists.
   * @default none
   */
  passthroughGateway?: PassthroughGatewayArgs;
  /**
   * `networking.istio.io/v1` or `networking.istio.io/v1beta1`. Plain value: part of the type.
   * @default "networking.istio.io/v1"
   */
  apiVersion?: string;
}

/** Settings of MeshExpansion's AUTO_PASSTHROUGH Gateway. */
export interface PassthroughGatewayArgs {
  /**
   * `false` leaves it out (the block kept for later).
   * @default true
   */
  enabled?: boolean;
  /**
   * Gateway name.
   * @default "cross-network-gateway"
   */
  name?: string;
  /**
   * The gateway's passthrough port.
   * @default 15443
   */
  port?: number;
  /**
   * Hosts it passes through.
   * @default ["*.local"]
   */
  hosts?: string[];
}

export type PlainMeshExpansionArgs = pulumi.Unwrap<MeshExpansionArgs>;
