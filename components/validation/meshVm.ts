// MeshVmArgs validation: the Istio CRDs' CEL rules and istiod's validating-webhook rules
// (pkg/config/validation) for WorkloadEntry, Sidecar, ServiceEntry and WorkloadGroup, checked on the inputs
// so that mistakes surface in `pulumi preview`, each naming the input field and the fix. One check per object,
// in files named like the mesh/ renderers they guard; this file only lists them.
import { excerpt } from "../rules/values";
import { meshFlavors, meshVmDefaults } from "../mesh/settings";
import type { PlainMeshVmArgs } from "../meshVmArgs";
import { FieldName, fieldNames, issue, ValidationIssue } from "../rules/issues";
import { bootstrapIssues } from "./bootstrap";
import { apiVersionIssues } from "./fields";
import { serviceEntryIssues } from "./serviceEntry";
import { egressIssues, sidecarIssues } from "./sidecar";
import { addressIssues, annotationsIssues, identityIssues, labelsIssues, portsIssues } from "./workloadEntry";
import { workloadProxyAnnotationIssues } from "./workloadAnnotations";
import { workloadGroupIssues } from "./workloadGroup";

/** One check of MeshVmArgs: every issue it finds, named with `field`. */
type MeshVmCheck = (args: PlainMeshVmArgs, field: FieldName) => ValidationIssue[];

function versionIssues(args: PlainMeshVmArgs, field: FieldName): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  const flavor = args.flavor ?? meshVmDefaults.flavor;
  if (!meshFlavors.includes(flavor)) {
    out.push(
      issue(
        field("flavor"),
        `flavor ${excerpt(flavor)} is not supported`,
        `use one of ${meshFlavors.join(", ")}`,
      ),
    );
  }
  out.push(...apiVersionIssues(field("apiVersion"), args.apiVersion));
  return out;
}

/** The checks, in the order their issues are reported. */
const meshVmChecks: MeshVmCheck[] = [
  identityIssues,
  versionIssues,
  addressIssues,
  (args, field) => labelsIssues(args, field, args.flavor ?? meshVmDefaults.flavor),
  annotationsIssues,
  workloadProxyAnnotationIssues,
  portsIssues,
  egressIssues,
  sidecarIssues,
  serviceEntryIssues,
  workloadGroupIssues,
  bootstrapIssues,
];

/**
 * Validates MeshVmArgs whose values are all known. Returns every issue found (empty when valid); `field` names
 * the inputs in the messages (default `MeshVmArgs.<path>`).
 */
export function validateMeshVmArgs(
  args: PlainMeshVmArgs,
  field: FieldName = fieldNames("MeshVmArgs"),
): ValidationIssue[] {
  return meshVmChecks.flatMap((check) => check(args, field));
}
