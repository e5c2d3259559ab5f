// WorkloadEntry for the VM, with the tctl bootstrap annotations so the object is interchangeable with what
// tctl users apply by hand.
import type { ResolvedMeshVm } from "./settings";
import { renderBootstrapAnnotations } from "./annotations";
import { objectMeta, WorkloadEntryObject, WorkloadEntrySpec } from "./objects";

/** WorkloadEntry `ports`: only ports whose VM port differs from the service port (`targetPort`). */
export function workloadEntryPorts(vm: ResolvedMeshVm): Record<string, number> | undefined {
  const ports: Record<string, number> = {};
  for (const p of vm.ports) {
    if (p.targetPort !== undefined) ports[p.name] = p.targetPort;
  }
  return Object.keys(ports).length > 0 ? ports : undefined;
}

export function renderWorkloadEntrySpec(vm: ResolvedMeshVm): WorkloadEntrySpec {
  const spec: WorkloadEntrySpec = {};
  if (vm.address !== undefined) spec.address = vm.address;
  spec.labels = { ...vm.labels };
  const ports = workloadEntryPorts(vm);
  if (ports !== undefined) spec.ports = ports;
  spec.serviceAccount = vm.serviceAccount;
  if (vm.network !== undefined) spec.network = vm.network;
  if (vm.locality !== undefined) spec.locality = vm.locality;
  if (vm.weight !== undefined) spec.weight = vm.weight;
  return spec;
}

export function renderWorkloadEntry(vm: ResolvedMeshVm): WorkloadEntryObject {
  const annotations = { ...vm.annotations, ...renderBootstrapAnnotations(vm.explicitBootstrap) };
  return {
    apiVersion: vm.apiVersion,
    kind: "WorkloadEntry",
    metadata: objectMeta(vm.name, vm.namespace, annotations, vm.metadataLabels),
    spec: renderWorkloadEntrySpec(vm),
  };
}
