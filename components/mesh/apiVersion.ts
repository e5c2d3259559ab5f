// Istio networking API versions the component can emit. All are served by Istio >= 1.22; v1beta1 is what the
// seeds (and meshes older than 1.22) use; v1alpha3 what tctl-era YAML uses (served by every Istio with
// WorkloadEntry, and the only WorkloadGroup version of Istio 1.8-1.12). The objects are the same in every
// version, so switching is an update.

export const networkingGroup = "networking.istio.io";
export const networkingV1 = "networking.istio.io/v1";
export const networkingV1beta1 = "networking.istio.io/v1beta1";
export const networkingV1alpha3 = "networking.istio.io/v1alpha3";

/** Versions accepted by `MeshVmArgs.apiVersion` (full form; `v1`/`v1beta1`/`v1alpha3` are accepted as shorthands). */
export const supportedNetworkingApiVersions = [networkingV1, networkingV1beta1, networkingV1alpha3];

/** Versions a MeshVm accepts but points away from in preview (`v1` is the documented form since Istio 1.22). */
export const legacyNetworkingApiVersions = [networkingV1alpha3];

/** Every version the API server serves for these kinds: the aliases that keep URNs stable across a switch. */
export const servedNetworkingApiVersions = [networkingV1, networkingV1beta1, networkingV1alpha3];

/** Normalises `v1` / `networking.istio.io/v1` style input; returns undefined when not supported. */
export function normaliseNetworkingApiVersion(v: string | undefined): string | undefined {
  if (v === undefined || v === "") return networkingV1;
  const full = v.includes("/") ? v : `${networkingGroup}/${v}`;
  return supportedNetworkingApiVersions.includes(full) ? full : undefined;
}

/** Pulumi type token that @pulumi/kubernetes gives a CustomResource of this apiVersion and kind. */
export function customResourceType(apiVersion: string, kind: string): string {
  return `kubernetes:${apiVersion}:${kind}`;
}
