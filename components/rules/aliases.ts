// Deprecated input names. Each concept has one name (README, Reference, "Names"); an input renamed to it keeps
// working under its old name, so programs and stack configs written before the rename still run: the old value
// is moved to the new name before anything reads it, the component warns once naming the new name, and setting
// both names to different values is refused at preview (which one was meant cannot be guessed).
import * as pulumi from "@pulumi/pulumi";
import { isPlainKnown } from "../inputs";
import { FieldName, issue, ValidationIssue } from "./issues";

/** An old input name: `old` is a path below the args object (`proxyUser`, `image.hub`), `new` a top-level key. */
export interface InputAlias {
  old: string;
  new: string;
}

function isPending(v: unknown): boolean {
  return pulumi.Output.isInstance(v) || v instanceof Promise;
}

/** The value at a dotted path; an Output or Promise on the way makes the result an Output. */
function valueAt(args: object, path: string): unknown {
  let v: unknown = args;
  const keys = path.split(".");
  for (const [i, key] of keys.entries()) {
    if (v === undefined || v === null) return undefined;
    if (isPending(v)) {
      const rest = keys.slice(i).join(".");
      return pulumi.output(v).apply((resolved) => valueAt({ v: resolved }, `v.${rest}`));
    }
    if (typeof v !== "object") return undefined;
    v = Object.prototype.hasOwnProperty.call(v, key) ? (v as Record<string, unknown>)[key] : undefined;
  }
  return v;
}

function topKey(path: string): string {
  return path.split(".")[0]!;
}

/** The aliases whose old name is set in `args` (an Output counts as set). */
export function aliasesInUse(args: object, aliases: readonly InputAlias[]): InputAlias[] {
  return aliases.filter((a) => {
    const top = (args as Record<string, unknown>)[topKey(a.old)];
    if (top === undefined) return false;
    return isPending(top) || valueAt(args, a.old) !== undefined;
  });
}

/**
 * One warning per old top-level name in use (`image` for `image.hub` and `image.tag`), naming the new names;
 * `field` names inputs as the user wrote them (`host.credentials`).
 */
export function deprecationWarnings(
  args: object,
  aliases: readonly InputAlias[],
  field: FieldName = (p) => p,
): string[] {
  const byOld = new Map<string, string[]>();
  for (const a of aliases) {
    if ((args as Record<string, unknown>)[topKey(a.old)] === undefined) continue;
    const news = byOld.get(topKey(a.old)) ?? [];
    byOld.set(topKey(a.old), [...news, field(a.new)]);
  }
  return [...byOld].map(([old, news]) => `${field(old)} is deprecated: use ${listOf(news)}`);
}

function listOf(names: string[]): string {
  return names.length === 1 ? names[0]! : `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}`;
}

/** Both names set: refused unless both values are known now and equal. Values are never quoted (keys are secrets). */
export function aliasIssues(
  args: object,
  aliases: readonly InputAlias[],
  field: FieldName,
): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  for (const a of aliasesInUse(args, aliases)) {
    const newValue = (args as Record<string, unknown>)[a.new];
    if (newValue === undefined) continue;
    const oldValue = valueAt(args, a.old);
    if (oldValue === undefined) continue;
    const known = isPlainKnown(oldValue) && isPlainKnown(newValue);
    if (known && JSON.stringify(oldValue) === JSON.stringify(newValue)) continue;
    out.push(
      issue(
        field(a.old),
        `${field(a.old)} and ${field(a.new)} are both set${known ? " to different values" : ""}; ${a.old} is the deprecated name of ${a.new}`,
        `set only ${field(a.new)}`,
      ),
    );
  }
  return out;
}

/**
 * `args` with every old value moved to its new name (the new name wins when both are set) and the old top-level
 * keys removed, so that nothing past this point reads an old name.
 */
export function withCurrentNames<T extends object>(args: T, aliases: readonly InputAlias[]): T {
  const out: Record<string, unknown> = { ...(args as Record<string, unknown>) };
  for (const a of aliasesInUse(args, aliases)) {
    if (out[a.new] === undefined) out[a.new] = valueAt(args, a.old);
  }
  for (const a of aliases) delete out[topKey(a.old)];
  return out as T;
}

/**
 * Names a field as the user wrote it: a path below a new name whose value came from an old name is shown under
 * the old one (`image.hub`, not `proxyImageHub`), so a refused value points at the line that set it.
 */
export function aliasedFieldNames(args: object, aliases: readonly InputAlias[], field: FieldName): FieldName {
  const used = aliasesInUse(args, aliases).filter(
    (a) => (args as Record<string, unknown>)[a.new] === undefined,
  );
  return (p) => {
    const a = used.find((u) => p === u.new || p.startsWith(`${u.new}.`) || p.startsWith(`${u.new}[`));
    return field(a === undefined ? p : `${a.old}${p.slice(a.new.length)}`);
  };
}
