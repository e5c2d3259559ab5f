// Checks across MeshVm's mesh inputs and a delivery whose runtime is `envoy`: such a VM gets no WorkloadEntry,
// Sidecar or WorkloadGroup (its Envoy never talks to istiod), and a ServiceEntry only to point the mesh at its
// inbound listener. Asking for one of them explicitly is refused rather than silently dropped.
import type { EnvoyRuntimeArgs } from "../runtime/envoyArgs";
import type { PlainMeshVmArgs } from "../meshVmArgs";
import { FieldName, issue, ValidationIssue } from "../rules/issues";

export function envoyMeshObjectIssues(
  args: PlainMeshVmArgs,
  delivery: { runtime?: string; envoy?: EnvoyRuntimeArgs },
  field: FieldName,
  deliveryField: FieldName,
): ValidationIssue[] {
  if (delivery.runtime !== "envoy") return [];
  const out: ValidationIssue[] = [];
  const why = `the envoy runtime (${deliveryField("runtime")}) takes no configuration from istiod`;
  for (const k of ["sidecar", "workloadGroup"] as const) {
    if (args[k]?.enabled === true)
      out.push(
        issue(
          field(`${k}.enabled`),
          `${why}: there is no ${k === "sidecar" ? "Sidecar" : "WorkloadGroup"} to render`,
          `remove ${field(k)} (or choose runtime container or package)`,
        ),
      );
  }
  const inbound = delivery.envoy?.inbound;
  if (args.serviceEntry?.enabled === true && inbound === undefined) {
    out.push(
      issue(
        field("serviceEntry.enabled"),
        `the VM has no inbound listener (${deliveryField("envoy.inbound")}) for a ServiceEntry to point the mesh at`,
        `set ${deliveryField("envoy.inbound")}, or remove ${field("serviceEntry")}`,
      ),
    );
  }
  return out;
}
