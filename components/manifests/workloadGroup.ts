// Reads the WorkloadGroup and the ServiceAccount back into MeshVmArgs (`workloadGroup`, `createServiceAccount`):
// the inverse of mesh/workloadGroup.ts and of the ServiceAccount mesh/render.ts adds.
import type { PlainMeshVmArgs } from "../meshVmArgs";
import { issue, ValidationIssue } from "../rules/issues";
import type { Doc } from "./documents";

export function readWorkloadGroup(args: PlainMeshVmArgs, docs: Doc[]): void {
  const wg = docs.find((d) => d.kind === "WorkloadGroup");
  if (wg !== undefined) args.workloadGroup = { enabled: true, name: wg.name };
}

export function readServiceAccount(args: PlainMeshVmArgs, docs: Doc[], out: ValidationIssue[]): void {
  const sa = docs.find((d) => d.kind === "ServiceAccount");
  if (sa === undefined) return;
  if (sa.name !== args.serviceAccount) {
    out.push(
      issue(
        `${sa.where}.metadata.name`,
        `differs from the WorkloadEntry serviceAccount "${args.serviceAccount}"`,
        "pass the ServiceAccount the VM runs as",
      ),
    );
  }
  args.createServiceAccount = true;
}
