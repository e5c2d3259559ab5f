// The AuthorizationPolicies a MeshVm of runtime `envoy` declares: one per upstream with `authorize`, admitting the
// VM's principal to the destination's workloads, in the destination's namespace. The destination's sidecar sees
// the VM's own certificate (the east-west gateway only passes the TLS stream through), so the mesh decides which
// services a VM may call, as seed 003 intends. Pure: resolved settings and the plain upstream list in, objects out.
import { principalOf, renderVmAuthorizationPolicy } from "./mesh/authorizationPolicy";
import type { AuthorizationPolicySpec } from "./mesh/authorizationPolicy";
import { spiffeId } from "./mesh/identity";
import type { KubeObject } from "./mesh/objects";
import type { ResolvedMeshVm } from "./mesh/settings";
import { namespaceOfHost, type EnvoyUpstreamArgs } from "./runtime/envoyArgs";

/** The policy's default name: `<workload>-to-<service>-<port>[-<subset>]` (the service is the host's first label). */
export function upstreamAuthorizationName(workload: string, u: EnvoyUpstreamArgs): string {
  const service = u.host.split(".")[0] ?? u.host;
  return [workload, "to", service, String(u.port), ...(u.subset ? [u.subset] : [])].join("-");
}

/** One ALLOW policy per upstream that asks for one, in upstream order. */
export function upstreamAuthorizationPolicies(
  vm: Pick<ResolvedMeshVm, "name" | "namespace" | "serviceAccount" | "trustDomain">,
  upstreams: readonly EnvoyUpstreamArgs[],
): KubeObject<AuthorizationPolicySpec>[] {
  const principal = principalOf(spiffeId(vm.trustDomain, vm.namespace, vm.serviceAccount));
  return upstreams.flatMap((u) =>
    u.authorize === undefined
      ? []
      : [
          renderVmAuthorizationPolicy({
            name: u.authorize.name ?? upstreamAuthorizationName(vm.name, u),
            namespace: u.namespace ?? namespaceOfHost(u.host) ?? vm.namespace,
            selector: u.authorize.selector,
            principal,
          }),
        ],
  );
}
