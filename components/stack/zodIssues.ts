// zod's issues in the stack config's words: each names the config key path (`mesh-vm:vms[0].ports[1].number`),
// the problem and the fix, suggests the likely intended key for an unknown one, and never shows a value (it may
// be a secret), only its kind.
import { z } from "zod";
import { excerpt } from "../rules/values";
import type { ValidationIssue } from "../rules/issues";

/** `vms[0].ports[1].number`, `labels["app.kubernetes.io/name"]`: Pulumi's `config set --path` syntax. */
export function keyPath(base: string, path: readonly PropertyKey[]): string {
  let out = base;
  for (const p of path) {
    if (typeof p === "number") out += `[${p}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(String(p))) out += `.${String(p)}`;
    else out += `[${JSON.stringify(String(p))}]`;
  }
  return out;
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return d[b.length]!;
}

/** The closest known key, when close enough to be a typo. */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const distance = editDistance(key.toLowerCase(), k.toLowerCase());
    if (distance < bestDistance) [best, bestDistance] = [k, distance];
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined;
}

/** The object schema at `path` (through optionals, lists and maps), to list the keys it allows. */
function objectKeysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let s: z.ZodType | undefined = schema;
  const unwrap = (t: z.ZodType): z.ZodType =>
    t instanceof z.ZodOptional ? unwrap(t.unwrap() as z.ZodType) : t;
  for (const p of path) {
    if (s === undefined) return [];
    s = unwrap(s);
    if (s instanceof z.ZodArray && typeof p === "number") s = s.element as z.ZodType;
    else if (s instanceof z.ZodObject) s = (s.shape as Record<string, z.ZodType>)[String(p)];
    else if (s instanceof z.ZodRecord) s = s.valueType as z.ZodType;
    else return [];
  }
  s = s === undefined ? undefined : unwrap(s);
  return s instanceof z.ZodObject ? Object.keys(s.shape) : [];
}

const typeNames: Record<string, string> = {
  string: "a string",
  number: "a number",
  boolean: "true or false",
  array: "a list",
  object: "a map of keys to values",
  record: "a map of keys to values",
};

function fixFor(expected: string, key: string): string {
  switch (expected) {
    case "array":
      return `write ${key} as a YAML list (items starting with "- "), or set items with \`pulumi config set --path '${key.replace(/^mesh-vm:/, "")}[0]...'\``;
    case "object":
    case "record":
      return `write ${key} as a YAML map of keys to values`;
    case "number":
      return `write ${key} as a number without quotes, e.g. 9080`;
    case "boolean":
      return `write ${key} as true or false`;
    default:
      return `write ${key} as ${typeNames[expected] ?? expected}`;
  }
}

export function zodIssues(base: string, error: z.ZodError, schema: z.ZodType): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  for (const i of error.issues) {
    const at = keyPath(base, i.path);
    switch (i.code) {
      case "unrecognized_keys": {
        const known = objectKeysAt(schema, i.path);
        for (const k of i.keys) {
          const guess = closestKey(k, known);
          out.push({
            field: keyPath(base, [...i.path, k]),
            problem: `unknown key ${excerpt(k)}` + (guess ? ` (did you mean "${guess}"?)` : ""),
            fix: guess
              ? `rename it to "${guess}"`
              : `remove it; the keys allowed here are ${known.join(", ") || "none"}`,
          });
        }
        break;
      }
      case "invalid_type":
        out.push({
          field: at,
          problem:
            i.input === undefined
              ? "is required"
              : `expected ${typeNames[i.expected] ?? i.expected}, got ${describe(i.input)}`,
          fix: fixFor(i.expected, at),
        });
        break;
      case "invalid_union": {
        // Our unions are "one type, or its text form": report the type the field wants.
        const expected = unionExpectation(i);
        out.push({
          field: at,
          problem: `expected ${typeNames[expected] ?? expected}, got ${describe(i.input)}`,
          fix: fixFor(expected, at),
        });
        break;
      }
      case "invalid_value":
        out.push({
          field: at,
          problem: `value is not one of ${i.values.map((v) => JSON.stringify(v)).join(", ")}`,
          fix: `set ${at} to one of ${i.values.map((v) => JSON.stringify(v)).join(", ")}`,
        });
        break;
      default:
        out.push({ field: at, problem: i.message, fix: `correct ${at}` });
    }
  }
  return out;
}

/** Never the value itself (it may be a secret): only its kind. */
function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a map";
  if (typeof v === "string") return "a string";
  if (typeof v === "number")
    return Number.isFinite(v) ? "a number" : "a number too large to represent (it reads as infinity)";
  if (typeof v === "boolean") return "a boolean";
  return typeof v;
}

function unionExpectation(i: z.core.$ZodIssueInvalidUnion): string {
  for (const branch of i.errors) {
    const first = branch[0];
    if (first?.code === "invalid_type" && first.path.length === 0) return first.expected;
  }
  return "another type";
}
