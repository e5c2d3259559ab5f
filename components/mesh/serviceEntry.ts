// ServiceEntry that makes the VM's service reachable from pods: MESH_INTERNAL, STATIC resolution, selecting
// the WorkloadEntry by all its labels, ports named like the WorkloadEntry ports.
import type { ResolvedMeshVm } from "./settings";
import { objectMeta, ServiceEntryObject, ServiceEntrySpec } from "./objects";

type Port = NonNullable<ServiceEntrySpec["ports"]>[number];

/**
 * All the WorkloadEntry's spec labels, and its `app` from metadata.labels when only there (as tctl users write it):
 * Istio selects by both, and without `app` the selector would match every VM of the class.
 */
function selectorOf(vm: ResolvedMeshVm): Record<string, string> {
  const app = vm.labels["app"] === undefined ? vm.metadataLabels?.["app"] : undefined;
  return { ...vm.labels, ...(app !== undefined ? { app } : {}) };
}

export function renderServiceEntrySpec(vm: ResolvedMeshVm): ServiceEntrySpec {
  return {
    hosts: [...vm.serviceEntry.hosts],
    location: "MESH_INTERNAL",
    ports: vm.ports.map((p): Port => ({ name: p.name, number: p.number, protocol: p.protocol })),
    resolution: "STATIC",
    workloadSelector: { labels: selectorOf(vm) },
  };
}

export function renderServiceEntry(vm: ResolvedMeshVm): ServiceEntryObject {
  return {
    apiVersion: vm.apiVersion,
    kind: "ServiceEntry",
    metadata: objectMeta(vm.serviceEntry.name, vm.namespace),
    spec: renderServiceEntrySpec(vm),
  };
}
