// Structural checks of rendered objects against Istio's CRD OpenAPI schemas, using the validators that
// @kubernetes-models/istio generates from the CRDs. That package is ESM-only and its package.json "exports"
// offer only the "import" condition, so it cannot be require()d from this CommonJS package (not even with
// Node 24's require(esm)); it is loaded with a dynamic import(), which works under tsx, ts-node and compiled JS.
import { issue, ValidationIssue } from "../rules/issues";
import type { KubeObject } from "../mesh/objects";

interface Validatable {
  validate(): void;
}
type ModelCtor = new (data: object) => Validatable;

const modelPaths: Record<string, Record<string, () => Promise<Record<string, unknown>>>> = {
  "networking.istio.io/v1": {
    WorkloadEntry: () => import("@kubernetes-models/istio/networking.istio.io/v1/WorkloadEntry"),
    Sidecar: () => import("@kubernetes-models/istio/networking.istio.io/v1/Sidecar"),
    ServiceEntry: () => import("@kubernetes-models/istio/networking.istio.io/v1/ServiceEntry"),
    WorkloadGroup: () => import("@kubernetes-models/istio/networking.istio.io/v1/WorkloadGroup"),
    Gateway: () => import("@kubernetes-models/istio/networking.istio.io/v1/Gateway"),
    VirtualService: () => import("@kubernetes-models/istio/networking.istio.io/v1/VirtualService"),
  },
  "security.istio.io/v1": {
    AuthorizationPolicy: () => import("@kubernetes-models/istio/security.istio.io/v1/AuthorizationPolicy"),
  },
  "networking.istio.io/v1beta1": {
    WorkloadEntry: () => import("@kubernetes-models/istio/networking.istio.io/v1beta1/WorkloadEntry"),
    Sidecar: () => import("@kubernetes-models/istio/networking.istio.io/v1beta1/Sidecar"),
    ServiceEntry: () => import("@kubernetes-models/istio/networking.istio.io/v1beta1/ServiceEntry"),
    WorkloadGroup: () => import("@kubernetes-models/istio/networking.istio.io/v1beta1/WorkloadGroup"),
    Gateway: () => import("@kubernetes-models/istio/networking.istio.io/v1beta1/Gateway"),
    VirtualService: () => import("@kubernetes-models/istio/networking.istio.io/v1beta1/VirtualService"),
  },
  "networking.istio.io/v1alpha3": {
    WorkloadEntry: () => import("@kubernetes-models/istio/networking.istio.io/v1alpha3/WorkloadEntry"),
    Sidecar: () => import("@kubernetes-models/istio/networking.istio.io/v1alpha3/Sidecar"),
    ServiceEntry: () => import("@kubernetes-models/istio/networking.istio.io/v1alpha3/ServiceEntry"),
    WorkloadGroup: () => import("@kubernetes-models/istio/networking.istio.io/v1alpha3/WorkloadGroup"),
    Gateway: () => import("@kubernetes-models/istio/networking.istio.io/v1alpha3/Gateway"),
    VirtualService: () => import("@kubernetes-models/istio/networking.istio.io/v1alpha3/VirtualService"),
  },
};

/**
 * Validates each object against its CRD's structural schema (types, enums, required fields, lengths).
 * CEL rules are not covered by the generated validators; components/validation re-implements those.
 * Objects of kinds without a model (e.g. TSB's ControlPlane) are skipped.
 */
export async function schemaIssues(
  owner: string,
  objects: KubeObject<unknown>[],
): Promise<ValidationIssue[]> {
  const out: ValidationIssue[] = [];
  for (const obj of objects) {
    const load = modelPaths[obj.apiVersion]?.[obj.kind];
    if (load === undefined) continue;
    const mod = await load();
    const Model = mod[obj.kind] as ModelCtor;
    try {
      new Model(obj).validate();
    } catch (e) {
      out.push(
        issue(
          `${owner} ${obj.kind} ${obj.metadata.namespace ?? ""}/${obj.metadata.name}`,
          `does not match the ${obj.apiVersion} ${obj.kind} schema: ${(e as Error).message}`,
          "fix the input that produces this field",
        ),
      );
    }
  }
  return out;
}
