// Reads the ServiceEntry back into MeshVmArgs.serviceEntry: the inverse of mesh/serviceEntry.ts, which renders
// only MESH_INTERNAL, STATIC entries that select the WorkloadEntry.
import type { PlainMeshVmArgs } from "../meshVmArgs";
import { issue, ValidationIssue } from "../rules/issues";
import { excerpt } from "../rules/values";
import { allowedKeys, Doc } from "./documents";

export function readServiceEntry(args: PlainMeshVmArgs, se: Doc | undefined, out: ValidationIssue[]): void {
  if (se === undefined) {
    args.serviceEntry = { enabled: false };
    return;
  }
  const sp = se.spec;
  if (sp["endpoints"] !== undefined && sp["workloadSelector"] !== undefined) {
    out.push(
      issue(
        `${se.where}.spec`,
        "only one of workloadSelector or endpoints may be set",
        "select the WorkloadEntry with workloadSelector and drop endpoints",
      ),
    );
  } else if (sp["endpoints"] !== undefined) {
    out.push(
      issue(
        `${se.where}.spec.endpoints`,
        "inline endpoints are not supported by MeshVm",
        "select the WorkloadEntry with workloadSelector instead",
      ),
    );
  }
  allowedKeys(
    out,
    `${se.where}.spec`,
    sp,
    ["hosts", "location", "ports", "resolution", "workloadSelector", "endpoints"],
    "spec",
  );
  if (sp["location"] !== "MESH_INTERNAL")
    out.push(
      issue(
        `${se.where}.spec.location`,
        `${excerpt(sp["location"])} is not MESH_INTERNAL`,
        "use location: MESH_INTERNAL for a VM inside the mesh",
      ),
    );
  if (sp["resolution"] !== "STATIC")
    out.push(
      issue(
        `${se.where}.spec.resolution`,
        `${excerpt(sp["resolution"])} is not STATIC`,
        "use resolution: STATIC with the VM's IP address",
      ),
    );
  args.serviceEntry = {
    name: se.name,
    hosts: Array.isArray(sp["hosts"]) ? (sp["hosts"] as unknown[]).map(String) : [],
  };
}
