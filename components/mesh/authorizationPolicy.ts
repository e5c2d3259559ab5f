// An AuthorizationPolicy that admits a VM's SPIFFE principal to one mesh service (runtime `envoy`): the
// destination's sidecar sees the VM's own workload certificate (the gateway only passes the TLS stream
// through), so the mesh decides which services a VM may call, as seed 003 intends. ALLOW policies add up: once
// one selects a workload, only what some ALLOW policy admits reaches it, which is why a selector is required
// (a namespace-wide ALLOW would shut out every other caller of the namespace).
import type { KubeObject } from "./objects";
import { objectMeta } from "./objects";

export const securityApiVersion = "security.istio.io/v1";

export interface AuthorizationPolicySpec {
  selector: { matchLabels: Record<string, string> };
  action: "ALLOW";
  rules: { from: { source: { principals: string[] } }[] }[];
}

export interface VmAuthorizationSettings {
  name: string;
  /** The destination's namespace. */
  namespace: string;
  /** Labels of the destination's pods. */
  selector: Record<string, string>;
  /** The VM's principal: its SPIFFE id without `spiffe://` (`cluster.local/ns/vms/sa/dev-laptop`). */
  principal: string;
}

/** Istio's principal form of a SPIFFE id. */
export function principalOf(spiffeId: string): string {
  return spiffeId.replace(/^spiffe:\/\//, "");
}

export function renderVmAuthorizationPolicy(s: VmAuthorizationSettings): KubeObject<AuthorizationPolicySpec> {
  return {
    apiVersion: securityApiVersion,
    kind: "AuthorizationPolicy",
    metadata: objectMeta(s.name, s.namespace),
    spec: {
      selector: { matchLabels: { ...s.selector } },
      action: "ALLOW",
      rules: [{ from: [{ source: { principals: [s.principal] } }] }],
    },
  };
}
