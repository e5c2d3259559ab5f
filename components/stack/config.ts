// The root program's stack configuration (`mesh-vm:*` keys in Pulumi.<stack>.yaml) parsed into component inputs.
// The jobs are split: schema.ts (the zod schema), zodIssues.ts (its issues in config words), kubeconfig.ts, and
// this parser, which runs the components' own validation with a FieldName that names the config key path, so
// each message is built once, with the right key. Everything is checked before any resource is registered, so
// `pulumi preview` fails with nothing created; each VM is validated once (MeshVm does not check it again).
// Secrets (kubeconfig, private keys) never appear in messages: only key paths and the fix do.
import { excerpt, inputLimits, setOwn, textProblem } from "../rules/values";
import { readFileSync, realpathSync, statSync } from "node:fs";
import { isAbsolute, relative, resolve } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { fromManifests } from "../manifests";
import type { PlainMeshExpansionArgs } from "../meshExpansionArgs";
import type { MeshVmArgs, MeshVmBootArgs, MeshVmHostArgs, PlainMeshVmArgs } from "../meshVmArgs";
import { meshVmDefaults } from "../mesh/settings";
import { FieldName, fieldNames, formatIssue, MeshVmValidationError, ValidationIssue } from "../rules/issues";
import { validateMeshExpansionArgs } from "../validation/meshExpansion";
import { rolloutIssues, type RolloutArgs } from "../rollout/waves";
import { meshVmInputIssues } from "../validation/meshVmInputs";
import { configureKubeconfig, ConfiguredKubeconfig } from "./kubeconfig";
import { BootConfig, configNamespace, HostConfig, secretHostPaths, stackSchema } from "./schema";
import { zodIssues } from "./zodIssues";

export { configNamespace } from "./schema";
export { closestKey, keyPath } from "./zodIssues";
export { isKubeconfigContents } from "./kubeconfig";

const ns = `${configNamespace}:`;

/** One VM to onboard, from `mesh-vm:vms[i]` or `mesh-vm:manifests[i]`. */
export interface ConfiguredVm {
  /** The config key it came from, e.g. `mesh-vm:vms[0]`. */
  key: string;
  /** Pulumi resource name and stack-output key: the WorkloadEntry name. */
  name: string;
  /** MeshVm's inputs; `host` (when set) carries the kubeconfig and keys as secrets. */
  args: MeshVmArgs;
}

export interface StackConfig {
  /** `Pulumi.<stack>.yaml`, for messages. */
  stackFile: string;
  flavor: string;
  /** For the Kubernetes provider: contents (secret) or a path; undefined means the ambient kubeconfig. */
  kubeconfig?: pulumi.Output<string>;
  kubeContext?: string;
  clusterIdentifier?: string;
  /** MeshExpansion inputs (flavor from `mesh-vm:flavor`), when `mesh-vm:meshExpansion` is set. */
  meshExpansion?: PlainMeshExpansionArgs;
  /** VMs in waves (`mesh-vm:rollout`), in the order of `mesh-vm:vms` then `mesh-vm:manifests`. */
  rollout?: RolloutArgs;
  /** Where to read the control plane's proxy (`mesh-vm:followControlPlane`) for the VMs that give none. */
  followControlPlane?: { istioNamespace?: string; revision?: string };
  vms: ConfiguredVm[];
}

/**
 * Thrown for an invalid stack configuration; every issue names the config key, the problem and the fix. A
 * RunError, so Pulumi prints the message alone (no stack trace or program source).
 */
export class StackConfigError extends pulumi.RunError {
  readonly issues: ValidationIssue[];
  constructor(stackFile: string, issues: ValidationIssue[]) {
    super(
      `invalid stack configuration in ${stackFile} (${issues.length} problem${issues.length === 1 ? "" : "s"}):\n` +
        issues.map((i) => `  - ${formatIssue(i)}`).join("\n"),
    );
    this.name = "StackConfigError";
    this.issues = issues;
  }
}

/** What parseStackConfig reads: the raw config (as the engine passes it) and where it came from. */
export interface RawStackConfig {
  /** Stack name (the file is `Pulumi.<stack>.yaml`). */
  stack: string;
  /** Every config key (`namespace:key`) with its value as the engine passes it (objects as JSON text). */
  values: Record<string, string>;
  /** Keys whose value is (or contains) a secret. */
  secretKeys: ReadonlySet<string>;
  /** Directory `mesh-vm:manifests[].file` and a kubeconfig path are relative to (default: the cwd). */
  baseDir?: string;
  /** Environment for the ambient kubeconfig (default: process.env). */
  env?: Record<string, string | undefined>;
}

// ---- field names ---------------------------------------------------------------------------------------------

/** A VM's inputs named under its config key. MeshVm names a port by its name (`ports["http"]`); the config is a list, so the key is `ports[0]`. */
function vmFieldNames(key: string, vm: PlainMeshVmArgs): FieldName {
  const base = fieldNames(key);
  return (path) => {
    const m = /^ports\["([^"]*)"\](.*)$/.exec(path);
    const index = m ? (vm.ports ?? []).findIndex((p) => p.name === m[1]) : -1;
    return base(m && index >= 0 ? `ports[${index}]${m[2]}` : path);
  };
}

/** The flavor is the stack's `mesh-vm:flavor`; every other MeshExpansion field is under `mesh-vm:meshExpansion`. */
function meshExpansionFieldNames(): FieldName {
  const base = fieldNames(`${ns}meshExpansion`);
  return (path) => (path === "flavor" ? `${ns}flavor` : base(path));
}

// ---- parsing -------------------------------------------------------------------------------------------------

function get(o: unknown, path: readonly string[]): unknown {
  return path.reduce<unknown>(
    (v, k) => (v && typeof v === "object" ? (v as Record<string, unknown>)[k] : undefined),
    o,
  );
}

/** A copy of `o` with the value at `path` (when present) replaced by `f(value)`. */
function update(
  o: Record<string, unknown>,
  path: readonly string[],
  f: (v: unknown) => unknown,
): Record<string, unknown> {
  const [head, ...rest] = path;
  if (head === undefined || !(head in o)) return o;
  const v = o[head];
  return {
    ...o,
    [head]: rest.length === 0 ? f(v) : update((v ?? {}) as Record<string, unknown>, rest, f),
  };
}

/** Values as the engine passes them (strings, objects and lists as JSON text), with "not set" defaults removed. */
function configValues(raw: RawStackConfig): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw.values)) {
    if (!k.startsWith(ns)) continue;
    const key = k.slice(ns.length);
    if (key === "kubeconfig" || key === "kubeContext" || key === "clusterIdentifier" || key === "flavor") {
      setOwn(values, key, v);
      continue;
    }
    try {
      setOwn(values, key, JSON.parse(v));
    } catch {
      setOwn(values, key, v);
    }
  }
  // Pulumi.yaml declares a default for every key (a declared key without one is required): "" for the strings,
  // `false` for meshExpansion and rollout, which mean "not set". `meshExpansion: true` enables it with every
  // default.
  for (const key of ["kubeconfig", "kubeContext", "clusterIdentifier"])
    if (values[key] === "") delete values[key];
  for (const key of ["meshExpansion", "rollout", "followControlPlane"])
    if (values[key] === false) delete values[key];
  // `followControlPlane: true` reads istio-system's default revision.
  if (values["followControlPlane"] === true) values["followControlPlane"] = {};
  if (values["meshExpansion"] === true) values["meshExpansion"] = {};
  return values;
}

/** What the steps of one parse share; `issues` collects every problem. */
interface ParseContext {
  stackFile: string;
  baseDir: string;
  flavor: string;
  issues: ValidationIssue[];
  isSecret: (key: string) => boolean;
  kubeconfig: ConfiguredKubeconfig;
  kubeContext: string | undefined;
  vms: ConfiguredVm[];
}

/** MeshVmHostArgs from a host config entry (validated with the VM, addVm): secrets wrapped. */
function hostInputs(ctx: ParseContext, host: HostConfig, hostPath: string): MeshVmHostArgs {
  const topKey = hostPath.split(/[.[]/)[0]!;
  let out: Record<string, unknown> = { ...host };
  for (const path of secretHostPaths) {
    if (get(host, path) === undefined) continue;
    const keyOfValue = `${hostPath}.${path.join(".")}`;
    if (!ctx.isSecret(topKey)) {
      ctx.issues.push({
        field: `${ns}${keyOfValue}`,
        problem: `a secret stored in plain text in ${ctx.stackFile}`,
        fix: `store it encrypted: pulumi config set --path --secret '${keyOfValue}' < path/to/key`,
      });
    }
    out = update(out, path, (v) => pulumi.secret(v as string));
  }
  const kc = ctx.kubeconfig.forHosts();
  return {
    ...(out as unknown as MeshVmHostArgs),
    kubeconfig: kc ?? "",
    ...(ctx.kubeContext !== undefined ? { kubeContext: ctx.kubeContext } : {}),
  };
}

/** MeshVmBootArgs from a boot config entry (validated with the VM, addVm): the stack's kubeconfig added. */
function bootInputs(ctx: ParseContext, boot: BootConfig): MeshVmBootArgs {
  return {
    ...(boot as MeshVmBootArgs),
    kubeconfig: ctx.kubeconfig.forHosts() ?? "",
    ...(ctx.kubeContext !== undefined ? { kubeContext: ctx.kubeContext } : {}),
  };
}

/** Validates one VM (MeshVm's rules, with its config key names) and adds it unless its name is missing or taken. */
function addVm(
  ctx: ParseContext,
  key: string,
  mesh: PlainMeshVmArgs,
  host: HostConfig | undefined,
  hostPath: string,
  boot?: BootConfig,
): void {
  const args: PlainMeshVmArgs = { ...mesh, flavor: mesh.flavor ?? ctx.flavor };
  // The kubeconfig is the stack's (mesh-vm:kubeconfig), checked there.
  const plain = <T>(d: T | undefined) => (d === undefined ? undefined : { ...d, kubeconfig: "set" });
  ctx.issues.push(
    ...meshVmInputIssues(
      args,
      { host: plain(host) as MeshVmHostArgs | undefined, boot: plain(boot) as MeshVmBootArgs | undefined },
      {
        mesh: vmFieldNames(key, args),
        host: fieldNames(`${ns}${hostPath}`),
        boot: fieldNames(`${ns}${hostPath.replace(/host$/, "boot")}`),
      },
    ),
  );
  const hostArgs = host === undefined ? undefined : hostInputs(ctx, host, hostPath);
  const bootArgs = boot === undefined ? undefined : bootInputs(ctx, boot);
  const name = args.name;
  if (name === undefined || name === "") {
    ctx.issues.push({
      field: `${key}.name`,
      problem: "name is required (it names the WorkloadEntry and the Pulumi resources)",
      fix: `set ${key}.name, e.g. "ratings-vm"`,
    });
    return;
  }
  const clash = ctx.vms.find((v) => v.name === name);
  if (clash !== undefined) {
    ctx.issues.push({
      field: `${key}.name`,
      problem: `${excerpt(name)} is also the name of ${clash.key}`,
      fix: "give every VM a unique name",
    });
    return;
  }
  const vmArgs = {
    ...args,
    ...(hostArgs ? { host: hostArgs } : {}),
    ...(bootArgs ? { boot: bootArgs } : {}),
  } as MeshVmArgs;
  ctx.vms.push({ key, name, args: vmArgs });
}

/**
 * A manifest file inside the project directory (after resolving symbolic links): `../../etc/passwd`, an
 * absolute path or a link out of the project is refused, as is anything but a regular file of at most 1 MiB.
 */
function readManifestFile(baseDir: string, file: string): string | { problem: string; fix: string } {
  const fix = "point it at a YAML file inside the project directory, by a relative path";
  if (textProblem(file, inputLimits.path) !== undefined || file === "")
    return { problem: `${excerpt(file)} is not a file name`, fix };
  if (isAbsolute(file)) return { problem: `${excerpt(file)} is an absolute path`, fix };
  const path = resolve(baseDir, file);
  try {
    const root = realpathSync(baseDir);
    const real = realpathSync(path);
    const rel = relative(root, real);
    if (rel === "" || rel.startsWith("..") || isAbsolute(rel))
      return { problem: `${excerpt(file)} is outside the project directory`, fix };
    const st = statSync(real);
    if (!st.isFile()) return { problem: `${excerpt(file)} is not a regular file`, fix };
    if (st.size > inputLimits.documentBytes)
      return { problem: `${excerpt(file)} is larger than ${inputLimits.documentBytes} bytes`, fix };
    return readFileSync(real, "utf8");
  } catch (e) {
    return {
      problem: `cannot read ${excerpt(file)}: ${(e as NodeJS.ErrnoException).code ?? "unreadable"}`,
      fix: "point it at an existing file, relative to the project directory",
    };
  }
}

/** `mesh-vm:manifests[i]`: tctl-style YAML (inline or a file) read with fromManifests, then added as a VM. */
function addManifestVm(
  ctx: ParseContext,
  m: { file?: string; yaml?: string; host?: HostConfig },
  i: number,
): void {
  const key = `${ns}manifests[${i}]`;
  if ((m.file === undefined) === (m.yaml === undefined)) {
    ctx.issues.push({
      field: key,
      problem: "needs exactly one of file or yaml",
      fix: `set ${key}.file to a YAML file (relative to the project directory) or ${key}.yaml to the YAML itself`,
    });
    return;
  }
  let yamlText = m.yaml;
  const source = m.file !== undefined ? `${key}.file` : `${key}.yaml`;
  if (m.file !== undefined) {
    const read = readManifestFile(ctx.baseDir, m.file);
    if (typeof read !== "string") {
      ctx.issues.push({ field: source, ...read });
      return;
    }
    yamlText = read;
  }
  let args: PlainMeshVmArgs;
  try {
    args = fromManifests(yamlText ?? "");
  } catch (e) {
    if (!(e instanceof MeshVmValidationError)) throw e;
    for (const inner of e.issues)
      ctx.issues.push({ field: source, problem: `${inner.field}: ${inner.problem}`, fix: inner.fix });
    return;
  }
  addVm(ctx, key, args, m.host, `manifests[${i}].host`);
}

/**
 * Parses and validates the `mesh-vm:` keys. Throws StackConfigError listing every problem (each naming its key
 * path and the stack file) before anything is created.
 */
export function parseStackConfig(raw: RawStackConfig): StackConfig {
  const stackFile = `Pulumi.${raw.stack}.yaml`;
  // reportInput: messages say what kind of value was found (never the value itself: it may be a secret).
  const parsed = stackSchema.safeParse(configValues(raw), { reportInput: true });
  if (!parsed.success) {
    // Unknown top-level keys are reported as `mesh-vm:<key>`; others as `mesh-vm:<key>.<path>`.
    const issues = zodIssues(configNamespace, parsed.error, stackSchema).map((i) => ({
      ...i,
      field: i.field.replace(/^mesh-vm\./, ns),
    }));
    throw new StackConfigError(stackFile, issues);
  }
  const cfg = parsed.data;
  const issues: ValidationIssue[] = [];
  const isSecret = (key: string) => raw.secretKeys.has(`${ns}${key}`);
  const baseDir = raw.baseDir ?? process.cwd();
  const ctx: ParseContext = {
    stackFile,
    baseDir,
    flavor: cfg.flavor ?? meshVmDefaults.flavor,
    issues,
    isSecret,
    kubeconfig: configureKubeconfig(cfg.kubeconfig, {
      isSecret: isSecret("kubeconfig"),
      stackFile,
      baseDir,
      env: raw.env ?? process.env,
      issues,
    }),
    kubeContext: cfg.kubeContext,
    vms: [],
  };

  let meshExpansion: PlainMeshExpansionArgs | undefined;
  if (cfg.meshExpansion !== undefined) {
    meshExpansion = { ...cfg.meshExpansion, flavor: ctx.flavor };
    issues.push(...validateMeshExpansionArgs(meshExpansion, meshExpansionFieldNames()));
  }
  (cfg.vms ?? []).forEach((vm, i) => {
    const { host, boot, ...mesh } = vm;
    addVm(ctx, `${ns}vms[${i}]`, mesh as PlainMeshVmArgs, host, `vms[${i}].host`, boot);
  });
  (cfg.manifests ?? []).forEach((m, i) => addManifestVm(ctx, m, i));
  if (cfg.rollout !== undefined) issues.push(...rolloutIssues(cfg.rollout, fieldNames(`${ns}rollout`)));

  if (ctx.vms.length === 0 && meshExpansion === undefined && issues.length === 0) {
    issues.push({
      field: `${ns}vms`,
      problem: "nothing to onboard: no mesh-vm:vms, mesh-vm:manifests or mesh-vm:meshExpansion",
      fix: `list the VMs under ${ns}vms in ${stackFile} (see the stack configuration in docs/reference.md)`,
    });
  }
  if (issues.length > 0) throw new StackConfigError(stackFile, issues);
  return {
    stackFile,
    flavor: ctx.flavor,
    ...(ctx.kubeconfig.provider ? { kubeconfig: ctx.kubeconfig.provider } : {}),
    ...(cfg.kubeContext !== undefined ? { kubeContext: cfg.kubeContext } : {}),
    ...(cfg.clusterIdentifier !== undefined ? { clusterIdentifier: cfg.clusterIdentifier } : {}),
    ...(meshExpansion ? { meshExpansion } : {}),
    ...(cfg.rollout !== undefined ? { rollout: cfg.rollout } : {}),
    ...(cfg.followControlPlane !== undefined ? { followControlPlane: cfg.followControlPlane } : {}),
    vms: ctx.vms,
  };
}

/**
 * Reads the `mesh-vm:` stack configuration of the running Pulumi program and validates it (see
 * parseStackConfig). Call it before creating any resource.
 */
export function readStackConfig(options: { baseDir?: string } = {}): StackConfig {
  const values = pulumi.runtime.allConfig();
  // The SDK knows which keys hold secrets (the engine says so) but does not export the check; without it every
  // key is taken as secret, which only disables the "stored in plain text" checks.
  const isConfigSecret = (pulumi.runtime as unknown as { isConfigSecret?: (k: string) => boolean })
    .isConfigSecret;
  const secretKeys = new Set(
    Object.keys(values).filter((k) => (isConfigSecret === undefined ? true : isConfigSecret(k))),
  );
  return parseStackConfig({
    stack: pulumi.getStack(),
    values,
    secretKeys,
    ...(options.baseDir !== undefined ? { baseDir: options.baseDir } : {}),
  });
}
