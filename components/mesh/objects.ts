// Shapes shared by the renderers: a Kubernetes object as the API server stores it. Spec types come from
// @kubernetes-models/istio (generated from Istio's CRDs) so field names and nesting are checked by tsc.
import type { IServiceEntry } from "@kubernetes-models/istio/networking.istio.io/v1/ServiceEntry";
import type { ISidecar } from "@kubernetes-models/istio/networking.istio.io/v1/Sidecar";
import type { IWorkloadEntry } from "@kubernetes-models/istio/networking.istio.io/v1/WorkloadEntry";
import type { IWorkloadGroup } from "@kubernetes-models/istio/networking.istio.io/v1/WorkloadGroup";

export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface KubeObject<Spec> {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec: Spec;
}

export type WorkloadEntrySpec = NonNullable<IWorkloadEntry["spec"]>;
export type SidecarSpec = NonNullable<ISidecar["spec"]>;
export type ServiceEntrySpec = NonNullable<IServiceEntry["spec"]>;
export type WorkloadGroupSpec = NonNullable<IWorkloadGroup["spec"]>;

export type WorkloadEntryObject = KubeObject<WorkloadEntrySpec>;
export type SidecarObject = KubeObject<SidecarSpec>;
export type ServiceEntryObject = KubeObject<ServiceEntrySpec>;
export type WorkloadGroupObject = KubeObject<WorkloadGroupSpec>;

/** Metadata with empty maps left out, so rendered objects read back from the API server compare equal. */
export function objectMeta(
  name: string,
  namespace: string,
  annotations?: Record<string, string>,
  labels?: Record<string, string>,
): ObjectMeta {
  const m: ObjectMeta = { name, namespace };
  if (labels !== undefined && Object.keys(labels).length > 0) m.labels = labels;
  if (annotations !== undefined && Object.keys(annotations).length > 0) m.annotations = annotations;
  return m;
}
