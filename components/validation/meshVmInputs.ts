// The one list of rules over a MeshVm's inputs, which MeshVm, the stack configuration and the hostile-input
// tests all call: the mesh inputs, the checks across them and the delivery, and the delivery's own (`host` or
// `boot`). Each caller decides only how fields are named (MeshVmArgs paths, or `mesh-vm:` config keys).
import type { MeshVmBootArgs, MeshVmHostArgs, PlainMeshVmArgs } from "../meshVmArgs";
import { fieldNames, type FieldName, type ValidationIssue } from "../rules/issues";
import { validateMeshVmBootArgs } from "./meshVmBootArgs";
import { deliveryIssues } from "./delivery";
import { validateMeshVmHostArgs } from "./meshVmHostArgs";
import { validateMeshVmArgs } from "./meshVm";

/** How a caller names the fields of the mesh inputs, of `host` and of `boot`. */
export interface MeshVmFieldNames {
  mesh: FieldName;
  host: FieldName;
  boot: FieldName;
}

/** MeshVm's own names: `MeshVmArgs.<path>`, `MeshVmArgs.host.<path>`, `MeshVmArgs.boot.<path>`. */
export const meshVmArgsFieldNames: MeshVmFieldNames = {
  mesh: fieldNames("MeshVmArgs"),
  host: fieldNames("MeshVmArgs.host"),
  boot: fieldNames("MeshVmArgs.boot"),
};

export interface MeshVmDelivery {
  host?: MeshVmHostArgs;
  boot?: MeshVmBootArgs;
}

/** The delivery's own rules (known values only; an Output is checked where it is used). */
export function deliveryInputIssues(
  delivery: MeshVmDelivery,
  fields: MeshVmFieldNames = meshVmArgsFieldNames,
): ValidationIssue[] {
  const { host, boot } = delivery;
  return [
    ...(host === undefined ? [] : validateMeshVmHostArgs(host, fields.host)),
    ...(boot === undefined ? [] : validateMeshVmBootArgs(boot, host !== undefined, fields.boot)),
  ];
}

/**
 * The mesh inputs as MeshVm declares them: for runtime `envoy`, no Sidecar or WorkloadGroup and a ServiceEntry
 * only with an inbound listener (components/mesh/envoyVmObjects.ts), so their rules apply only then. Asking for
 * one of them explicitly is refused by envoyMeshObjectIssues.
 */
function asDeclared(
  mesh: PlainMeshVmArgs,
  delivery: MeshVmHostArgs | MeshVmBootArgs | undefined,
): PlainMeshVmArgs {
  if (delivery?.runtime !== "envoy") return mesh;
  const off = (given: { enabled?: boolean } | undefined, keep: boolean) =>
    given?.enabled === true || keep ? given : { ...given, enabled: false };
  return {
    ...mesh,
    sidecar: off(mesh.sidecar, false),
    workloadGroup: off(mesh.workloadGroup, false),
    serviceEntry: off(mesh.serviceEntry, delivery.envoy?.inbound !== undefined),
  };
}

/** The mesh inputs' rules and those across them and the delivery (needs the mesh inputs plain). */
export function meshInputIssues(
  mesh: PlainMeshVmArgs,
  delivery: MeshVmDelivery,
  fields: MeshVmFieldNames = meshVmArgsFieldNames,
): ValidationIssue[] {
  const settings = delivery.host ?? delivery.boot;
  return [
    ...validateMeshVmArgs(asDeclared(mesh, settings), fields.mesh),
    ...(settings === undefined
      ? []
      : deliveryIssues(mesh, settings, fields.mesh, delivery.host !== undefined ? fields.host : fields.boot)),
  ];
}

/** Every rule over one MeshVm's inputs. */
export function meshVmInputIssues(
  mesh: PlainMeshVmArgs,
  delivery: MeshVmDelivery,
  fields: MeshVmFieldNames = meshVmArgsFieldNames,
): ValidationIssue[] {
  return [...meshInputIssues(mesh, delivery, fields), ...deliveryInputIssues(delivery, fields)];
}
