// The YAML documents fromManifests reads: parsed into a uniform shape, with helpers the per-kind readers share.
import { Document, parseAllDocuments } from "yaml";
import { issue, ValidationIssue } from "../rules/issues";
import { byteLength, depthOf, excerpt, inputLimits } from "../rules/values";

/** A key or name as it appears in an issue's field path: itself when plain, else a short escaped excerpt. */
export function fieldKey(k: string): string {
  return /^[A-Za-z0-9._/-]{1,253}$/.test(k) ? k : excerpt(k);
}

export type Obj = Record<string, unknown>;

export function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

/** One Kubernetes object of the input. */
export interface Doc {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
  metadata: Obj;
  spec: Obj;
  /** `<kind> <name>`: how messages name the object. */
  where: string;
}

/** The kinds a MeshVm consists of. */
export const meshVmKinds = ["WorkloadEntry", "Sidecar", "ServiceEntry", "WorkloadGroup", "ServiceAccount"];

/** Reports every key of `o` outside `allowed`: MeshVm would not render it, so it would be lost silently. */
export function allowedKeys(
  out: ValidationIssue[],
  where: string,
  o: Obj,
  allowed: string[],
  what: string,
): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) {
      out.push(
        issue(
          `${where}.${fieldKey(k)}`,
          `${what} field ${excerpt(k)} is not supported by MeshVm`,
          `remove it, or manage this object outside MeshVm`,
        ),
      );
    }
  }
}

/**
 * One parsed document as plain data, or undefined after reporting why not. Messages name the position and the
 * kind of error only: the yaml library's own message quotes the offending line, which may hold a secret. Aliases
 * are capped (an alias bomb is refused, not expanded) and so is nesting (a deep document is refused, not a
 * stack overflow).
 */
function documentValue(d: Document, where: string, out: ValidationIssue[]): unknown {
  const e = d.errors[0];
  if (e !== undefined) {
    const at = e.linePos?.[0];
    const position = at === undefined ? "" : ` at line ${at.line}, column ${at.col}`;
    const what = e.code === "RESOURCE_EXHAUSTION" ? "is nested too deeply" : "is not valid YAML";
    out.push(issue(where, `${what}${position} (${e.code.toLowerCase().replace(/_/g, " ")})`, "fix the YAML"));
    return undefined;
  }
  try {
    return d.toJS({ maxAliasCount: 100 });
  } catch (err) {
    const bomb = err instanceof ReferenceError && /alias/i.test(err.message);
    out.push(
      issue(
        where,
        bomb
          ? "expands too many aliases (a YAML alias bomb)"
          : "cannot be read (nested too deeply or too large)",
        bomb ? "write the values out instead of nesting aliases" : "simplify the document",
      ),
    );
    return undefined;
  }
}

/** Parses every YAML document; empty documents are skipped, broken ones reported. */
export function readDocuments(yamlText: string, out: ValidationIssue[]): Doc[] {
  const docs: Doc[] = [];
  if (typeof yamlText !== "string" || byteLength(yamlText) > inputLimits.documentBytes) {
    out.push(
      issue(
        "manifests",
        `${typeof yamlText === "string" ? "are larger than" : "are not text of at most"} ${inputLimits.documentBytes} bytes`,
        "pass the YAML of one VM's objects",
      ),
    );
    return docs;
  }
  let parsed: ReturnType<typeof parseAllDocuments>;
  try {
    parsed = parseAllDocuments(yamlText);
  } catch {
    out.push(issue("manifests", "cannot be parsed as YAML", "fix the YAML syntax"));
    return docs;
  }
  (Array.isArray(parsed) ? parsed : []).forEach((d, i) => {
    const o = documentValue(d, `document ${i + 1}`, out);
    if (o === null || o === undefined) return;
    if (depthOf(o) > inputLimits.objectDepth) {
      out.push(
        issue(`document ${i + 1}`, `is nested deeper than ${inputLimits.objectDepth} levels`, "flatten it"),
      );
      return;
    }
    if (!isObj(o) || !isObj(o["metadata"])) {
      out.push(
        issue(`document ${i + 1}`, "is not a Kubernetes object", "give it apiVersion, kind and metadata"),
      );
      return;
    }
    const metadata = o["metadata"];
    const name = str(metadata["name"]) ?? "";
    const kind = str(o["kind"]) ?? "";
    docs.push({
      apiVersion: str(o["apiVersion"]) ?? "",
      kind,
      name,
      namespace: str(metadata["namespace"]),
      metadata,
      spec: isObj(o["spec"]) ? o["spec"] : {},
      where: `${fieldKey(kind)} ${fieldKey(name)}`,
    });
  });
  for (const d of docs) {
    if (!meshVmKinds.includes(d.kind)) {
      out.push(
        issue(
          d.where,
          `kind ${excerpt(d.kind)} is not part of a MeshVm`,
          "pass only the WorkloadEntry and its Sidecar, ServiceEntry, WorkloadGroup or ServiceAccount",
        ),
      );
    }
  }
  return docs;
}

/** MeshVm renders every object with one API version, in one namespace: the WorkloadEntry's. */
export function agreementIssues(docs: Doc[], we: Doc): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  for (const d of docs) {
    if (d.kind !== "ServiceAccount" && d.kind !== "WorkloadEntry" && d.apiVersion !== we.apiVersion) {
      out.push(
        issue(
          `${d.where}.apiVersion`,
          `${excerpt(d.apiVersion)} differs from the WorkloadEntry's ${excerpt(we.apiVersion)}`,
          "use one networking API version for all objects",
        ),
      );
    }
    if (d.kind !== "WorkloadEntry" && d.namespace !== we.namespace) {
      out.push(
        issue(
          `${d.where}.metadata.namespace`,
          `${excerpt(d.namespace ?? "")} differs from the WorkloadEntry's namespace`,
          "put all objects in the WorkloadEntry's namespace",
        ),
      );
    }
  }
  return out;
}

/** At most one object of a kind (the VM's own). */
export function atMostOne(out: ValidationIssue[], docs: Doc[], kind: string, fix: string): Doc | undefined {
  const found = docs.filter((d) => d.kind === kind);
  if (found.length > 1) out.push(issue(kind, `expected at most one ${kind}, found ${found.length}`, fix));
  return found[0];
}
