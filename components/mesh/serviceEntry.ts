// ServiceEntry that makes the VM's service reachable from pods: MESH_INTERNAL, STATIC resolution, selecting
// the WorkloadEntry by all its labels, ports named like the WorkloadEntry ports.
import type { ResolvedMeshVm } from "./settings";
import { objectMeta, ServiceEntryObject, ServiceEntrySpec } from "./objects";

type Port = NonNullable<ServiceEntrySpec["ports"]>[number];

export function renderServiceEntrySpec(vm: ResolvedMeshVm): ServiceEntrySpec {
  return {
    hosts: [...vm.serviceEntry.hosts],
    location: "MESH_INTERNAL",
    ports: vm.ports.map((p): Port => ({ name: p.name, number: p.number, protocol: p.protocol })),
    resolution: "STATIC",
    workloadSelector: { labels: { ...vm.labels } },
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
