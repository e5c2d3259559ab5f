// Checks of the inputs that make the WorkloadGroup (mesh/workloadGroup.ts).
import type { PlainMeshVmArgs } from "../meshVmArgs";
import type { FieldName, ValidationIssue } from "../rules/issues";
import { nameIssues } from "./fields";

export function workloadGroupIssues(args: PlainMeshVmArgs, field: FieldName): ValidationIssue[] {
  if (args.workloadGroup?.enabled !== true || args.workloadGroup.name === undefined) return [];
  return nameIssues(field("workloadGroup.name"), args.workloadGroup.name, "name");
}
