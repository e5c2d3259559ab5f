// Helpers for Pulumi inputs: telling whether a value is fully known without waiting (so validation can run
// synchronously in the constructor), and picking the aliases that keep URNs stable.
import * as pulumi from "@pulumi/pulumi";

/** True when `value` holds no Output or Promise at any depth, i.e. it can be validated right now. */
export function isPlainKnown(value: unknown): boolean {
  if (value === null || value === undefined) return true;
  if (pulumi.Output.isInstance(value)) return false;
  if (value instanceof Promise) return false;
  if (Array.isArray(value)) return value.every(isPlainKnown);
  if (typeof value === "object") return Object.values(value as Record<string, unknown>).every(isPlainKnown);
  return true;
}
