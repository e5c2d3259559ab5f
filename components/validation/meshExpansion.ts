// MeshExpansionArgs validation: names, selector and API version, checked before anything is created.
import { excerpt } from "../rules/values";
import { meshExpansionFlavors } from "../mesh/settings";
import type { PlainMeshExpansionArgs } from "../meshExpansionArgs";
import { FieldName, fieldNames, issue, ValidationIssue } from "../rules/issues";
import { wildcardDomainProblem } from "../rules/hosts";
import {
  isIntInRange,
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
  out.push(...passthroughGatewayIssues(args, field));
  out.push(...apiVersionIssues(field("apiVersion"), args.apiVersion));
  return out;
}

/** `passthroughGateway`: its settings; Istio flavor only (TSB's own gateways carry 15443). */
function passthroughGatewayIssues(args: PlainMeshExpansionArgs, field: FieldName): ValidationIssue[] {
  const v: unknown = args.passthroughGateway;
  if (v === undefined) return [];
  const out: ValidationIssue[] = [];
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    return [
      issue(
        field("passthroughGateway"),
        `${excerpt(v)} is not a map`,
        "use {} for the defaults, or { name, port, hosts }",
      ),
    ];
  }
  const p = v as Record<string, unknown>;
  if (p.enabled !== undefined && typeof p.enabled !== "boolean") {
    out.push(
      issue(
        field("passthroughGateway.enabled"),
        `${excerpt(p.enabled)} is not true or false`,
        "use true or false",
      ),
    );
  }
  if (p.enabled === false) return out;
  if (args.flavor === "tsb") {
    out.push(
      issue(
        field("passthroughGateway"),
        "is for flavor istio; TSB configures its gateways itself",
        "remove passthroughGateway, or use flavor istio",
      ),
    );
  }
  for (const k of Object.keys(p)) {
    if (!["enabled", "name", "port", "hosts"].includes(k))
      out.push(
        issue(
          field(`passthroughGateway.${k}`),
          `unknown key ${excerpt(k)}`,
          "use enabled, name, port or hosts",
        ),
      );
  }
  if (p.name !== undefined) {
    const np =
      typeof p.name === "string" ? dns1123SubdomainProblem(p.name) : `${excerpt(p.name)} is not a string`;
    if (np !== undefined)
      out.push(issue(field("passthroughGateway.name"), np, "use a Kubernetes object name"));
  }
  if (p.port !== undefined && !isIntInRange(p.port, 1, 65535)) {
    out.push(
      issue(
        field("passthroughGateway.port"),
        `port ${excerpt(p.port)} is not a whole number from 1 to 65535`,
        "use the gateway's passthrough port, 15443 by default",
      ),
    );
  }
  if (p.hosts !== undefined) {
    if (!Array.isArray(p.hosts) || p.hosts.length === 0) {
      out.push(
        issue(
          field("passthroughGateway.hosts"),
          `${excerpt(p.hosts)} is not a non-empty list`,
          'use e.g. ["*.local"]',
        ),
      );
    } else {
      p.hosts.forEach((h, i) => {
        const hp = typeof h === "string" ? wildcardDomainProblem(h) : `${excerpt(h)} is not a string`;
        if (hp !== undefined)
          out.push(
            issue(field(`passthroughGateway.hosts[${i}]`), hp, 'use a host or a wildcard such as "*.local"'),
          );
      });
    }
  }
  return out;
}
