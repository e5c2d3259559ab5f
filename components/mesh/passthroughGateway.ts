// The AUTO_PASSTHROUGH Gateway on the east-west gateway (Istio's `cross-network-gateway`, samples/multicluster/
// expose-services.yaml): port 15443, hosts `*.local`. Istio builds one filter chain per visible service port,
// matching the SNI `outbound_.<port>_.<subset>_.<host>` and Istio's mTLS ALPN set, and passes the TLS stream
// through to the destination's sidecar. A VM running a plain Envoy (runtime `envoy`) reaches mesh services
// through it with mTLS end to end; the gateway holds no certificate of its own for this traffic.
import type { GatewaySpec } from "./expansion";
import type { KubeObject } from "./objects";
import { objectMeta } from "./objects";

export const passthroughGatewayDefaults = {
  name: "cross-network-gateway",
  port: 15443,
  hosts: ["*.local"] as readonly string[],
} as const;

export interface PassthroughGatewaySettings {
  apiVersion: string;
  namespace: string;
  name: string;
  selector: Record<string, string>;
  port: number;
  hosts: string[];
}

export function renderPassthroughGateway(s: PassthroughGatewaySettings): KubeObject<GatewaySpec> {
  return {
    apiVersion: s.apiVersion,
    kind: "Gateway",
    metadata: objectMeta(s.name, s.namespace),
    spec: {
      selector: { ...s.selector },
      servers: [
        {
          port: { name: "tls", number: s.port, protocol: "TLS" },
          tls: { mode: "AUTO_PASSTHROUGH" },
          hosts: [...s.hosts],
        },
      ],
    },
  };
}
