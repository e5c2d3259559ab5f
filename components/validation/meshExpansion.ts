// MeshExpansionArgs validation: names, selector and API version, checked before anything is created.
import { excerpt } from "../rules/values";
import { meshExpansionFlavors } from "../mesh/settings";
import type { PlainMeshExpansionArgs } from "../meshExpansionArgs";
import { FieldName, fieldNames, issue, ValidationIssue } from "../rules/issues";
import {
  dns1123LabelProblem,
  dns1123SubdomainProblem,
  labelKeyProblem,
  labelValueProblem,
} from "../rules/names";
import { apiVersionIssues } from "./fields";

/** Validates MeshExpansionArgs whose values are all known; `field` names the inputs in the messages. */
export function validateMeshExpansionArgs(
  args: PlainMeshExpansionArgs,
  field: FieldName = fieldNames("MeshExpansionArgs"),
): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  if (!meshExpansionFlavors.includes(args.flavor)) {
    out.push(
      issue(
        field("flavor"),
        `flavor ${excerpt(args.flavor)} is not supported`,
        `use one of ${meshExpansionFlavors.join(", ")}`,
      ),
    );
  }
  if (args.istioNamespace !== undefined) {
    const p = dns1123LabelProblem(args.istioNamespace);
    if (p !== undefined)
      out.push(issue(field("istioNamespace"), p, 'use the control plane namespace, e.g. "istio-system"'));
  }
  for (const key of ["controlPlaneName", "gatewayName", "virtualServiceName"] as const) {
    const v = args[key];
    if (v === undefined) continue;
    const p = dns1123SubdomainProblem(v);
    if (p !== undefined) out.push(issue(field(key), p, "use a Kubernetes object name"));
  }
  if (args.revision !== undefined && args.revision !== "") {
    const p = dns1123LabelProblem(args.revision);
    if (p !== undefined) out.push(issue(field("revision"), p, 'use the istiod revision name, e.g. "1-30"'));
  }
  if (args.fieldManager !== undefined && (args.fieldManager === "" || args.fieldManager.length > 128)) {
    out.push(issue(field("fieldManager"), "field manager must be 1-128 characters", 'use e.g. "mesh-vm"'));
  }
  if (args.gatewaySelector !== undefined) {
    const keys = Object.keys(args.gatewaySelector);
    if (keys.length === 0) {
      out.push(
        issue(
          field("gatewaySelector"),
          "an empty selector would match every gateway",
          'select the east-west gateway, e.g. { istio: "eastwestgateway" }',
        ),
      );
    }
    for (const k of keys) {
      const p = labelKeyProblem(k) ?? labelValueProblem(args.gatewaySelector[k] ?? "");
      if (p !== undefined)
        out.push(issue(field(`gatewaySelector[${excerpt(k)}]`), p, "use the gateway pods' labels"));
    }
  }
  out.push(...apiVersionIssues(field("apiVersion"), args.apiVersion));
  return out;
}
