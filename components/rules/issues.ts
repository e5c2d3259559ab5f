// Validation results shared by every check: one issue names the input field, the problem and the fix, so a
// failing `pulumi preview` tells the user exactly what to change. Messages quote values only as short excerpts
// (rules/values.ts) and are capped and escaped here, whoever built them.
import { safeMessage } from "./values";

/** One problem with the inputs: `field` is a path such as `MeshVmArgs.ports[0].number`. */
export interface ValidationIssue {
  field: string;
  problem: string;
  fix: string;
}

/**
 * Names an input by its path below the object being validated (`ports[0].number`, `labels["app"]`; "" names
 * the object itself). Validators build every message with it, so a caller decides once how fields are called:
 * `MeshVmArgs.ports[0].number` for the component, `mesh-vm:vms[0].ports[0].number` for the stack config.
 */
export type FieldName = (path: string) => string;

/** The FieldName that prefixes `base`: `fieldNames("MeshVmArgs")("address")` is `MeshVmArgs.address`. */
export function fieldNames(base: string): FieldName {
  return (path) => (path === "" ? base : path.startsWith("[") ? `${base}${path}` : `${base}.${path}`);
}

export function issue(field: string, problem: string, fix: string): ValidationIssue {
  return { field: safeMessage(field, 200), problem: safeMessage(problem), fix: safeMessage(fix, 600) };
}

export function formatIssue(i: ValidationIssue): string {
  return `${safeMessage(i.field, 200)}: ${safeMessage(i.problem)}; ${safeMessage(i.fix, 600)}`;
}

/** Thrown (synchronously, or from an apply() once values are known) when inputs are invalid. */
export class MeshVmValidationError extends Error {
  readonly issues: ValidationIssue[];
  constructor(resource: string, issues: ValidationIssue[]) {
    const lines = issues.map((i) => `  - ${formatIssue(i)}`);
    super(`invalid inputs for ${resource}:\n${lines.join("\n")}`);
    this.name = "MeshVmValidationError";
    this.issues = issues.map((i) => issue(i.field, i.problem, i.fix));
  }
}

/** Throws a MeshVmValidationError when `issues` is not empty. */
export function throwIfIssues(resource: string, issues: ValidationIssue[]): void {
  if (issues.length > 0) {
    throw new MeshVmValidationError(resource, issues);
  }
}
