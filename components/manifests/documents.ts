// The YAML documents fromManifests reads: parsed into a uniform shape, with helpers the per-kind readers share.
import { parseAllDocuments } from "yaml";
import { issue, ValidationIssue } from "../rules/issues";

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
          `${where}.${k}`,
          `${what} field "${k}" is not supported by MeshVm`,
          `remove it, or manage this object outside MeshVm`,
        ),
      );
    }
  }
}

/** Parses every YAML document; empty documents are skipped, broken ones reported. */
export function readDocuments(yamlText: string, out: ValidationIssue[]): Doc[] {
  const docs: Doc[] = [];
  parseAllDocuments(yamlText).forEach((d, i) => {
    if (d.errors.length > 0) {
      out.push(
        issue(`document ${i + 1}`, `is not valid YAML: ${d.errors[0]!.message}`, "fix the YAML syntax"),
      );
      return;
    }
    const o: unknown = d.toJS();
    if (o === null || o === undefined) return;
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
      where: `${kind} ${name}`,
    });
  });
  for (const d of docs) {
    if (!meshVmKinds.includes(d.kind)) {
      out.push(
        issue(
          d.where,
          `kind "${d.kind}" is not part of a MeshVm`,
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
          `"${d.apiVersion}" differs from the WorkloadEntry's "${we.apiVersion}"`,
          "use one networking API version for all objects",
        ),
      );
    }
    if (d.kind !== "WorkloadEntry" && d.namespace !== we.namespace) {
      out.push(
        issue(
          `${d.where}.metadata.namespace`,
          `"${d.namespace ?? ""}" differs from the WorkloadEntry's namespace`,
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
