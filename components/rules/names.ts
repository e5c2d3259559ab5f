// Kubernetes name and label rules (apimachinery validation), re-implemented so that bad names are reported at
// preview time instead of by the API server.

import { excerpt } from "./values";

const dns1123LabelRe = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const dns1123SubdomainRe = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const qualifiedNameRe = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const labelValueRe = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** Returns a problem description, or undefined when `s` is a DNS-1123 label (namespaces, port names). */
export function dns1123LabelProblem(s: string): string | undefined {
  if (s.length === 0) return "must not be empty";
  if (s.length > 63) return `${excerpt(s)} is longer than 63 characters`;
  if (!dns1123LabelRe.test(s)) {
    return `${excerpt(s)} is not a DNS-1123 label (lower-case letters, digits and '-', starting and ending with a letter or digit)`;
  }
  return undefined;
}

/** Returns a problem description, or undefined when `s` is a DNS-1123 subdomain (object names). */
export function dns1123SubdomainProblem(s: string): string | undefined {
  if (s.length === 0) return "must not be empty";
  if (s.length > 253) return `${excerpt(s)} is longer than 253 characters`;
  if (!dns1123SubdomainRe.test(s)) {
    return `${excerpt(s)} is not a DNS-1123 subdomain (lower-case letters, digits, '-' and '.', starting and ending with a letter or digit)`;
  }
  return undefined;
}

/** Label key rule: optional DNS-1123 subdomain prefix and '/', then a qualified name of at most 63 characters. */
export function labelKeyProblem(key: string): string | undefined {
  const parts = key.split("/");
  if (parts.length > 2) return `label key ${excerpt(key)} has more than one '/'`;
  const name = parts[parts.length - 1] ?? "";
  if (parts.length === 2) {
    const prefix = parts[0] ?? "";
    const p = dns1123SubdomainProblem(prefix);
    if (p !== undefined) return `label key prefix of ${excerpt(key)}: ${p}`;
  }
  if (name.length === 0) return `label key ${excerpt(key)} has an empty name`;
  if (name.length > 63) return `label key ${excerpt(key)}: name part is longer than 63 characters`;
  if (!qualifiedNameRe.test(name)) {
    return `label key ${excerpt(key)} is not a qualified name (letters, digits, '-', '_', '.', starting and ending with a letter or digit)`;
  }
  return undefined;
}

/** Label value rule: empty, or at most 63 characters of letters, digits, '-', '_', '.' with alphanumeric ends. */
export function labelValueProblem(value: string): string | undefined {
  if (value.length > 63) return `label value ${excerpt(value)} is longer than 63 characters`;
  if (!labelValueRe.test(value)) {
    return `label value ${excerpt(value)} may only contain letters, digits, '-', '_' and '.', starting and ending with a letter or digit`;
  }
  return undefined;
}

/** True when `n` is an integer in [min, max]. */
export function isIntInRange(n: unknown, min: number, max: number): n is number {
  return typeof n === "number" && Number.isInteger(n) && n >= min && n <= max;
}
