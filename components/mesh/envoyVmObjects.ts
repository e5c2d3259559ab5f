// The mesh objects of a VM whose runtime is `envoy` (seed 003: "no WorkloadEntry sync, no istiod exposed, no
// agent"). Its Envoy never connects to istiod, so there is nothing for a WorkloadEntry to register, a Sidecar to
// shape or a WorkloadGroup to template. What it needs in the cluster: its ServiceAccount (its identity, the SPIFFE
// id of its certificate), the AuthorizationPolicies of its upstreams (added by MeshVm) and, only with an inbound
// listener, a ServiceEntry whose endpoint is the VM itself (`endpoints`, not a selector: no WorkloadEntry to
// select), so that mesh clients call its Envoy with Istio mTLS.
import { isIpAddress } from "../rules/addresses";
import { objectMeta, type ServiceEntryObject, type ServiceEntrySpec } from "./objects";
import type { MeshVmDeclaredObjects, MeshVmObjects } from "./render";
import type { ResolvedMeshVm } from "./settings";

type Endpoint = NonNullable<ServiceEntrySpec["endpoints"]>[number];

/**
 * The ServiceEntry pointing the mesh at an envoy VM's inbound listener: every service port lands on
 * `inboundPort`; `security.istio.io/tlsMode: istio` makes clients' sidecars use Istio mTLS (auto mTLS), and the
 * endpoint's serviceAccount is the identity they check the VM's certificate against.
 */
export function renderEnvoyServiceEntry(vm: ResolvedMeshVm, inboundPort: number): ServiceEntryObject {
  const address = vm.address ?? "";
  const endpoint: Endpoint = {
    address,
    ports: Object.fromEntries(vm.ports.map((p) => [p.name, inboundPort])),
    labels: { ...vm.labels, "security.istio.io/tlsMode": "istio" },
    serviceAccount: vm.serviceAccount,
    ...(vm.network !== undefined ? { network: vm.network } : {}),
    ...(vm.locality !== undefined ? { locality: vm.locality } : {}),
  };
  return {
    apiVersion: vm.apiVersion,
    kind: "ServiceEntry",
    metadata: objectMeta(vm.serviceEntry.name, vm.namespace),
    spec: {
      hosts: [...vm.serviceEntry.hosts],
      location: "MESH_INTERNAL",
      ports: vm.ports.map((p) => ({ name: p.name, number: p.number, protocol: p.protocol })),
      resolution: isIpAddress(address) ? "STATIC" : "DNS",
      endpoints: [endpoint],
    },
  };
}

/** Of the objects rendered for a VM, those an envoy VM keeps; `inboundPort` when it has an inbound listener. */
export function envoyVmObjects(
  all: MeshVmObjects,
  vm: ResolvedMeshVm,
  inboundPort: number | undefined,
): MeshVmDeclaredObjects {
  return {
    ...(all.serviceAccount !== undefined ? { serviceAccount: all.serviceAccount } : {}),
    ...(inboundPort !== undefined && envoyVmHasServiceEntry(vm.serviceEntry.enabled, inboundPort)
      ? { serviceEntry: renderEnvoyServiceEntry(vm, inboundPort) }
      : {}),
  };
}

/** Whether MeshVm declares a ServiceEntry for an envoy VM (decided from plain inputs, before anything renders). */
export function envoyVmHasServiceEntry(
  serviceEntryEnabled: boolean,
  inboundPort: number | undefined,
): boolean {
  return serviceEntryEnabled && inboundPort !== undefined;
}
