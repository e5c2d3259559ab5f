// WorkloadGroup: a template for istiod auto-registration (proxies started with ISTIO_META_AUTO_REGISTER_GROUP
// get a WorkloadEntry named `<group>-<ip>` created for them).
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
