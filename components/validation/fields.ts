// Checks shared by the per-object validators: names, ports, protocols and labels. Each takes the full name of
// the field (built by the caller's FieldName) and returns the issues found.
import { normaliseNetworkingApiVersion, supportedNetworkingApiVersions } from "../mesh/apiVersion";
import { sidecarProtocols } from "../mesh/settings";
import { issue, ValidationIssue } from "../rules/issues";
import { asciiUpper, excerpt, isPrintableAscii } from "../rules/values";
import {
  dns1123LabelProblem,
  dns1123SubdomainProblem,
  isIntInRange,
  labelKeyProblem,
  labelValueProblem,
} from "../rules/names";

export function isString(v: unknown): v is string {
  return typeof v === "string";
}

/** A required object name: a DNS-1123 subdomain, or a label (namespaces) when `label`. */
export function nameIssues(field: string, v: unknown, what: string, label = false): ValidationIssue[] {
  if (!isString(v) || v === "") {
    return [
      issue(
        field,
        `${what} is required`,
        `set ${field} to a ${label ? "DNS-1123 label" : "DNS-1123 subdomain"}`,
      ),
    ];
  }
  const p = label ? dns1123LabelProblem(v) : dns1123SubdomainProblem(v);
  if (p === undefined) return [];
  const example = what === "namespace" ? "bookinfo" : "ratings-vm";
  return [
    issue(
      field,
      p,
      `use lower-case letters, digits and '-'${label ? "" : " (and '.')"}, e.g. ${excerpt(example)}`,
    ),
  ];
}

/** A port number; `out` receives the issue, the result says whether the port is valid. */
export function checkPort(out: ValidationIssue[], field: string, v: unknown): boolean {
  if (!isIntInRange(v, 1, 65535)) {
    out.push(
      issue(
        field,
        Number.isSafeInteger(v)
          ? `port ${excerpt(v)} is out of range 1-65535`
          : `port ${excerpt(v)} is not a whole number from 1 to 65535`,
        "use a port between 1 and 65535",
      ),
    );
    return false;
  }
  return true;
}

export function protocolIssues(field: string, v: unknown): ValidationIssue[] {
  if (v === undefined) return [];
  // ASCII only: "httpſ".toUpperCase() is "HTTPS", a protocol the API server would then refuse.
  if (isString(v) && isPrintableAscii(v) && sidecarProtocols.includes(asciiUpper(v))) return [];
  return [
    issue(field, `protocol ${excerpt(v)} is not supported`, `use one of ${sidecarProtocols.join(", ")}`),
  ];
}

/** Label keys and values (apimachinery rules); `field` names the map, entries are `field["key"]`. */
export function labelIssues(field: string, labels: Record<string, unknown>): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  const keys = Object.keys(labels);
  if (keys.length > 256)
    out.push(issue(field, `${keys.length} labels exceed the limit of 256`, "remove labels"));
  for (const k of keys) {
    const at = `${field}[${excerpt(k)}]`;
    const kp = labelKeyProblem(k);
    if (kp !== undefined) out.push(issue(at, kp, "use a key like app, version or example.com/name"));
    const v = labels[k];
    if (!isString(v)) {
      out.push(issue(at, `value ${excerpt(v)} is not a string`, "quote the label value"));
      continue;
    }
    const vp = labelValueProblem(v);
    if (vp !== undefined) out.push(issue(at, vp, "use at most 63 letters, digits, '-', '_' or '.'"));
  }
  return out;
}

/** The networking.istio.io version the objects are written in (absent: the default). */
export function apiVersionIssues(field: string, v: unknown): ValidationIssue[] {
  if (normaliseNetworkingApiVersion(v as string | undefined) !== undefined) return [];
  return [
    issue(
      field,
      `apiVersion ${excerpt(v)} is not supported`,
      `use one of ${supportedNetworkingApiVersions.join(", ")}`,
    ),
  ];
}
