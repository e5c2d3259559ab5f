// Once-per-cluster objects that let VMs reach the control plane.
// - TSB: the ControlPlane patch the guide makes with `kubectl patch ... '{"spec":{"meshExpansion":{}}}'`.
// - Istio: upstream's samples/multicluster/expose-istiod.yaml: Gateway `istiod-gateway` + VirtualService
//   `istiod-vs`, TLS passthrough of 15012 (xDS/CA) and 15017 (webhooks) on the east-west gateway.
import type { KubeObject } from "./objects";
import { objectMeta } from "./objects";

export const tsbControlPlaneApiVersion = "install.tetrate.io/v1alpha1";
export const patchFieldManagerAnnotation = "pulumi.com/patchFieldManager";

/** TCP ports a VM on a separate network must reach on the gateway (TSB guide: xDS, data plane, tracing, logs). */
export const tsbFirewallPorts = [15012, 15443, 9411, 11800];
/** Istio: xDS/CA through the east-west gateway and cross-network data-plane traffic. */
export const istioFirewallPorts = [15012, 15443];

export interface ControlPlanePatchSettings {
  name: string;
  namespace: string;
  fieldManager: string;
}

/** Server-side-apply patch body: exactly `spec.meshExpansion: {}` with a stable field manager. */
export function renderControlPlanePatch(s: ControlPlanePatchSettings): KubeObject<{ meshExpansion: object }> {
  return {
    apiVersion: tsbControlPlaneApiVersion,
    kind: "ControlPlane",
    metadata: objectMeta(s.name, s.namespace, { [patchFieldManagerAnnotation]: s.fieldManager }),
    spec: { meshExpansion: {} },
  };
}

export interface ExposeIstiodSettings {
  apiVersion: string;
  namespace: string;
  gatewayName: string;
  virtualServiceName: string;
  selector: Record<string, string>;
  /** istiod Service host, e.g. `istiod.istio-system.svc.cluster.local` (or `istiod-<rev>...`). */
  istiodHost: string;
}

export interface GatewaySpec {
  selector: Record<string, string>;
  servers: {
    port: { name: string; number: number; protocol: string };
    tls: { mode: string };
    hosts: string[];
  }[];
}

export interface VirtualServiceSpec {
  hosts: string[];
  gateways: string[];
  tls: {
    match: { port: number; sniHosts: string[] }[];
    route: { destination: { host: string; port: { number: number } } }[];
  }[];
}

export function renderIstiodGateway(s: ExposeIstiodSettings): KubeObject<GatewaySpec> {
  const server = (name: string, number: number) => ({
    port: { name, number, protocol: "TLS" },
    tls: { mode: "PASSTHROUGH" },
    hosts: ["*"],
  });
  return {
    apiVersion: s.apiVersion,
    kind: "Gateway",
    metadata: objectMeta(s.gatewayName, s.namespace),
    spec: {
      selector: { ...s.selector },
      servers: [server("tls-istiod", 15012), server("tls-istiodwebhook", 15017)],
    },
  };
}

export function renderIstiodVirtualService(s: ExposeIstiodSettings): KubeObject<VirtualServiceSpec> {
  const route = (port: number, targetPort: number) => ({
    match: [{ port, sniHosts: ["*"] }],
    route: [{ destination: { host: s.istiodHost, port: { number: targetPort } } }],
  });
  return {
    apiVersion: s.apiVersion,
    kind: "VirtualService",
    metadata: objectMeta(s.virtualServiceName, s.namespace),
    // istiod serves its webhooks on 443 (Service port), which the gateway exposes as 15017.
    spec: { hosts: ["*"], gateways: [s.gatewayName], tls: [route(15012, 15012), route(15017, 443)] },
  };
}
