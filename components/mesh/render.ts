// All mesh-side objects of one VM, rendered from resolved inputs.
import type { ResolvedMeshVm } from "./settings";
import type { AuthorizationPolicySpec } from "./authorizationPolicy";
import type {
  KubeObject,
  ServiceEntryObject,
  SidecarObject,
  WorkloadEntryObject,
  WorkloadGroupObject,
} from "./objects";
import { renderServiceEntry } from "./serviceEntry";
import { renderSidecar } from "./sidecar";
import { renderWorkloadEntry } from "./workloadEntry";
import { renderWorkloadGroup } from "./workloadGroup";

export interface ServiceAccountObject {
  apiVersion: "v1";
  kind: "ServiceAccount";
  metadata: { name: string; namespace: string };
}

export interface MeshVmObjects {
  workloadEntry: WorkloadEntryObject;
  sidecar?: SidecarObject;
  serviceEntry?: ServiceEntryObject;
  workloadGroup?: WorkloadGroupObject;
  serviceAccount?: ServiceAccountObject;
  /** Runtime `envoy`: one ALLOW policy per upstream with `authorize` (added by MeshVm, which knows the delivery). */
  authorizationPolicies?: KubeObject<AuthorizationPolicySpec>[];
}

/**
 * The objects MeshVm declares: without a WorkloadEntry for runtime `envoy` (components/mesh/envoyVmObjects.ts),
 * whose Envoy never registers with istiod.
 */
export type MeshVmDeclaredObjects = Omit<MeshVmObjects, "workloadEntry"> & {
  workloadEntry?: WorkloadEntryObject;
};

export function renderMeshVmObjects(vm: ResolvedMeshVm): MeshVmObjects {
  const objects: MeshVmObjects = { workloadEntry: renderWorkloadEntry(vm) };
  if (vm.sidecar.enabled) objects.sidecar = renderSidecar(vm);
  if (vm.serviceEntry.enabled) objects.serviceEntry = renderServiceEntry(vm);
  if (vm.workloadGroup.enabled) objects.workloadGroup = renderWorkloadGroup(vm);
  if (vm.createServiceAccount) {
    objects.serviceAccount = {
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: { name: vm.serviceAccount, namespace: vm.namespace },
    };
  }
  return objects;
}
