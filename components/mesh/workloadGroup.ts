// WorkloadGroup: a template for istiod auto-registration (proxies started with ISTIO_META_AUTO_REGISTER_GROUP
// get a WorkloadEntry named `<group>-<ip>[-<network>]` created for them: the template, `address` the proxy's
// first IP, labels template ⊕ spec.metadata.labels ⊕ the proxy's, serviceAccount checked against its identity).
import type { ResolvedMeshVm } from "./settings";
import { objectMeta, WorkloadGroupObject, WorkloadGroupSpec } from "./objects";
import { workloadEntryPorts } from "./workloadEntry";

export function renderWorkloadGroupSpec(vm: ResolvedMeshVm): WorkloadGroupSpec {
  const template: WorkloadGroupSpec["template"] = { serviceAccount: vm.serviceAccount };
  const ports = workloadEntryPorts(vm);
  if (ports !== undefined) template.ports = ports;
  if (vm.network !== undefined) template.network = vm.network;
  if (vm.locality !== undefined) template.locality = vm.locality;
  if (vm.weight !== undefined) template.weight = vm.weight;
  return { metadata: { labels: { ...vm.labels } }, template };
}

export function renderWorkloadGroup(vm: ResolvedMeshVm): WorkloadGroupObject {
  return {
    apiVersion: vm.apiVersion,
    kind: "WorkloadGroup",
    metadata: objectMeta(vm.workloadGroup.name, vm.namespace),
    spec: renderWorkloadGroupSpec(vm),
  };
}

/**
 * The name istiod gives an auto-registered WorkloadEntry (pilot/pkg/autoregistration
 * autoregisteredWorkloadEntryName): `<group>-<first IP, ':' as '-'>[-<network>]`, cut from the front to 253.
 */
export function autoRegisteredEntryName(group: string, instanceIp: string, network?: string): string {
  const name = [group, instanceIp.replaceAll(":", "-"), ...(network ? [network] : [])].join("-");
  return name.length > 253 ? name.slice(name.length - 253) : name;
}

/**
 * The proxy's first IP, which istiod makes the entry's address: INSTANCE_IP (container) or ISTIO_SVC_IP
 * (package), both `proxyInstanceIp`, else `address`.
 */
export function autoRegisteredAddressOf(vm: Pick<ResolvedMeshVm, "address" | "bootstrap">): string {
  return vm.bootstrap.proxyInstanceIp || vm.address || "";
}

/**
 * The auto-registered entry's name for a MeshVm; `defaultNetwork` is the mesh settings' network, which the
 * container runtime's agent reports when the VM has none (ISTIO_META_NETWORK).
 */
export function autoRegisteredEntryNameOf(vm: ResolvedMeshVm, defaultNetwork?: string): string {
  return autoRegisteredEntryName(
    vm.workloadGroup.name,
    autoRegisteredAddressOf(vm),
    vm.network || defaultNetwork,
  );
}
