// The root program's stack configuration (`mesh-vm:*` keys in Pulumi.<stack>.yaml): its schema, parsing and
// error messages. zod checks shapes, types and unknown keys; MeshVm's own validation (components/validation/)
// stays the source of truth for field rules and runs here with the config key path in place of `MeshVmArgs`.
// Everything is checked before any resource is registered, so `pulumi preview` fails with nothing created.
// Secrets (kubeconfig, private keys) never appear in messages: only key paths and the fix do.
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import type { MeshVmHostArgs } from "../host/fromMeshVm";
import type { MeshVmBootArgs } from "../boot/fromMeshVm";
import { validateMeshVmBootArgs } from "../validation/boot";
import { fromManifests } from "../manifests";
import type { PlainMeshExpansionArgs } from "../meshExpansion";
import { validateMeshExpansionArgs } from "../meshExpansion";
import type { MeshVmArgs, PlainMeshVmArgs } from "../meshVmArgs";
import { validateMeshVmHostArgs } from "../validation/host";
import { formatIssue, MeshVmValidationError, ValidationIssue } from "../validation/issues";
import { meshFlavors, validateMeshVmArgs } from "../validation/meshVm";

/** The configuration namespace: the root project's name. */
export const configNamespace = "mesh-vm";

// ---- value types -------------------------------------------------------------------------------------------
// `pulumi config set --path` stores `9080` and `true` as a number and a boolean, so a string field set that way
// (a label `version: 3`) is taken as its text; a hand-written `"9080"` is taken as a number.
const text = z.union([z.string(), z.number().transform(String), z.boolean().transform(String)]);
const num = z.union([
  z.number(),
  z
    .string()
    .regex(/^-?\d+$/)
    .transform(Number),
]);
const bool = z.union([z.boolean(), z.enum(["true", "false"]).transform((v) => v === "true")]);
const texts = z.array(text);
const textMap = z.record(z.string(), text);

// ---- MeshVmArgs, as plain JSON --------------------------------------------------------------------------------
const portSchema = z.strictObject({
  name: text.optional(),
  number: num.optional(),
  protocol: text.optional(),
  defaultEndpoint: text.optional(),
  targetPort: num.optional(),
});

const egressSchema = z.strictObject({
  bind: text.optional(),
  hosts: texts.optional(),
  port: z.strictObject({ number: num, protocol: text.optional(), name: text.optional() }).optional(),
  captureMode: text.optional(),
});

// The mesh half: every field optional here, so that a missing required one is reported by MeshVm's validation
// with its own explanation (e.g. "address is required unless network is set").
const meshVmShape = {
  name: text.optional(),
  namespace: text.optional(),
  address: text.optional(),
  serviceAccount: text.optional(),
  createServiceAccount: bool.optional(),
  network: text.optional(),
  labels: textMap.optional(),
  vmClassLabel: text.optional(),
  locality: text.optional(),
  weight: num.optional(),
  annotations: textMap.optional(),
  ports: z.array(portSchema).optional(),
  egress: z.array(egressSchema).optional(),
  sidecar: z
    .strictObject({
      enabled: bool.optional(),
      name: text.optional(),
      selectorLabelKeys: texts.optional(),
      outboundTrafficPolicyMode: text.optional(),
    })
    .optional(),
  serviceEntry: z
    .strictObject({ enabled: bool.optional(), name: text.optional(), hosts: texts.optional() })
    .optional(),
  workloadGroup: z.strictObject({ enabled: bool.optional(), name: text.optional() }).optional(),
  apiVersion: text.optional(),
  flavor: text.optional(),
  trustDomain: text.optional(),
  sshHost: text.optional(),
  sshPort: num.optional(),
  sshUser: text.optional(),
  scpPath: text.optional(),
  proxyConfigDir: text.optional(),
  proxyImageHub: text.optional(),
  proxyInstanceIp: text.optional(),
  proxyContainerName: text.optional(),
};

// ---- MeshVmHostArgs (minus kubeconfig and kubeContext, which come from mesh-vm:kubeconfig/kubeContext) -----
const credentialsShape = {
  privateKey: text.optional(),
  privateKeyPassword: text.optional(),
  agentSocketPath: text.optional(),
};

const hostSchema = z.strictObject({
  hostKey: text.optional(),
  insecureIgnoreHostKey: bool.optional(),
  credentials: z.strictObject(credentialsShape).optional(),
  bastion: z
    .strictObject({
      host: text,
      port: num.optional(),
      user: text.optional(),
      hostKey: text.optional(),
      ...credentialsShape,
    })
    .optional(),
  dialErrorLimit: num.optional(),
  perDialTimeout: num.optional(),
  prepare: z
    .strictObject({
      admin: z.strictObject({ user: text.optional(), ...credentialsShape }),
      dockerGroup: text.optional(),
    })
    .optional(),
  token: z
    .strictObject({
      expirationSeconds: num.optional(),
      renewBeforeSeconds: num.optional(),
      rotation: text.optional(),
      audiences: texts.optional(),
    })
    .optional(),
  mesh: z
    .strictObject({
      istioNamespace: text.optional(),
      discoveryAddress: text.optional(),
      caAddress: text.optional(),
      clusterId: text.optional(),
      defaultNetwork: text.optional(),
      meshId: text.optional(),
      trustDomain: text.optional(),
      proxyConfig: z.record(z.string(), z.unknown()).optional(),
    })
    .optional(),
  proxyImage: text.optional(),
  proxyImageTag: text.optional(),
  gatewayAddress: text.optional(),
  egressHostnames: texts.optional(),
  readiness: z
    .strictObject({
      host: text.optional(),
      port: num.optional(),
      path: text.optional(),
      timeoutSeconds: num.optional(),
      logLines: num.optional(),
    })
    .optional(),
  deregistrationDelaySeconds: num.optional(),
  hostGone: bool.optional(),
});

// ---- MeshVmBootArgs (boot-time delivery; kubeconfig and kubeContext from mesh-vm:kubeconfig/kubeContext) ----
const bootSchema = z.strictObject({
  token: z
    .strictObject({
      expirationSeconds: num.optional(),
      rotation: text.optional(),
      audiences: texts.optional(),
    })
    .optional(),
  mesh: hostSchema.shape.mesh,
  proxyImage: text.optional(),
  proxyImageTag: text.optional(),
  gatewayAddress: text.optional(),
  egressHostnames: texts.optional(),
  dockerGroup: text.optional(),
  readiness: hostSchema.shape.readiness,
  readyCheck: z
    .strictObject({ enabled: bool.optional(), url: text.optional(), timeoutSeconds: num.optional() })
    .optional(),
  bundleDir: text.optional(),
  deregistrationDelaySeconds: num.optional(),
});

const vmSchema = z.strictObject({ ...meshVmShape, host: hostSchema.optional(), boot: bootSchema.optional() });

const manifestSchema = z.strictObject({
  file: text.optional(),
  yaml: text.optional(),
  host: hostSchema.optional(),
});

const meshExpansionSchema = z.strictObject({
  istioNamespace: text.optional(),
  gatewayAddress: text.optional(),
  controlPlaneName: text.optional(),
  fieldManager: text.optional(),
  gatewaySelector: textMap.optional(),
  revision: text.optional(),
  gatewayName: text.optional(),
  virtualServiceName: text.optional(),
  apiVersion: text.optional(),
});

/** Every `mesh-vm:` key, with the schema of its (JSON) value. */
const stackSchema = z.strictObject({
  flavor: z.enum(meshFlavors as [string, ...string[]]).optional(),
  kubeconfig: z.string().optional(),
  kubeContext: z.string().optional(),
  clusterIdentifier: z.string().optional(),
  meshExpansion: meshExpansionSchema.optional(),
  vms: z.array(vmSchema).optional(),
  manifests: z.array(manifestSchema).optional(),
});

// The schema must cover exactly the component inputs: adding a MeshVmArgs/MeshVmHostArgs/MeshExpansionArgs field
// without a config key (or keeping a key whose field is gone) fails the type check here.
type SameKeys<A, B> = [Exclude<A, B>, Exclude<B, A>] extends [never, never]
  ? true
  : [Exclude<A, B>, Exclude<B, A>];
const vmKeysMatch: SameKeys<keyof z.infer<typeof vmSchema>, keyof MeshVmArgs> = true;
const hostKeysMatch: SameKeys<
  keyof z.infer<typeof hostSchema>,
  Exclude<keyof MeshVmHostArgs, "kubeconfig" | "kubeContext">
> = true;
const bootKeysMatch: SameKeys<
  keyof z.infer<typeof bootSchema>,
  Exclude<keyof MeshVmBootArgs, "kubeconfig" | "kubeContext">
> = true;
const expansionKeysMatch: SameKeys<
  keyof z.infer<typeof meshExpansionSchema>,
  Exclude<keyof PlainMeshExpansionArgs, "flavor">
> = true;
void [vmKeysMatch, hostKeysMatch, bootKeysMatch, expansionKeysMatch];

type HostConfig = z.infer<typeof hostSchema>;

/** Paths (below `host`) whose values are secrets: wrapped with pulumi.secret and never shown. */
const secretHostPaths = [
  ["credentials", "privateKey"],
  ["credentials", "privateKeyPassword"],
  ["prepare", "admin", "privateKey"],
  ["prepare", "admin", "privateKeyPassword"],
  ["bastion", "privateKey"],
  ["bastion", "privateKeyPassword"],
] as const;

// ---- results -------------------------------------------------------------------------------------------------

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

// ---- key paths and messages ------------------------------------------------------------------------------------

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

function zodIssues(base: string, error: z.ZodError, schema: z.ZodType): ValidationIssue[] {
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
            problem: `unknown key "${k}"` + (guess ? ` (did you mean "${guess}"?)` : ""),
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
  if (typeof v === "number") return "a number";
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

/** A component issue (`MeshVmArgs.ports[0]...`) re-addressed to the config key it came from. */
function rebase(
  i: ValidationIssue,
  from: string,
  to: string,
  rename?: (field: string) => string,
): ValidationIssue {
  const swap = (s: string) => s.split(`${from}.`).join(`${to}.`).split(from).join(to);
  const field = swap(i.field);
  return { field: rename ? rename(field) : field, problem: swap(i.problem), fix: swap(i.fix) };
}

/** MeshVm names a port by its name (`ports["http"].number`); the config is a list, so the key is `ports[0].number`. */
function portKeys(vm: PlainMeshVmArgs, prefix: string): (field: string) => string {
  return (field) => {
    const m = /^(.*\.ports)\["([^"]*)"\](.*)$/.exec(field);
    let out = field;
    if (m && m[1] === `${prefix}.ports`) {
      const index = (vm.ports ?? []).findIndex((p) => p.name === m[2]);
      if (index >= 0) out = `${m[1]}[${index}]${m[3]}`;
    }
    return out;
  };
}

// ---- kubeconfig ------------------------------------------------------------------------------------------------

/** kubeconfig contents (YAML or JSON) rather than a path. */
export function isKubeconfigContents(value: string): boolean {
  return value.includes("\n") || /^\s*[{]/.test(value) || /^\s*apiVersion\s*:/.test(value);
}

function expandHome(p: string): string {
  return p === "~" || p.startsWith("~/") ? join(homedir(), p.slice(1)) : p;
}

/** The kubeconfig kubectl would use: the first `KUBECONFIG` entry, else ~/.kube/config. */
function ambientKubeconfigPath(env: Record<string, string | undefined>): string {
  const first = (env["KUBECONFIG"] ?? "").split(":").find((p) => p !== "");
  return first ?? join(homedir(), ".kube", "config");
}

// ---- parsing -----------------------------------------------------------------------------------------------------

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

function setKubeconfigUsage(usage: string): string {
  return `pulumi config set --secret ${configNamespace}:kubeconfig ${usage}`;
}

/**
 * Parses and validates the `mesh-vm:` keys. Throws StackConfigError listing every problem (each naming its key
 * path and the stack file) before anything is created.
 */
export function parseStackConfig(raw: RawStackConfig): StackConfig {
  const stackFile = `Pulumi.${raw.stack}.yaml`;
  const baseDir = raw.baseDir ?? process.cwd();
  const env = raw.env ?? process.env;
  const ns = `${configNamespace}:`;
  const issues: ValidationIssue[] = [];

  // Values as the engine passes them: strings, objects and lists as JSON text.
  const values: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw.values)) {
    if (!k.startsWith(ns)) continue;
    const key = k.slice(ns.length);
    if (key === "kubeconfig" || key === "kubeContext" || key === "clusterIdentifier" || key === "flavor") {
      values[key] = v;
      continue;
    }
    try {
      values[key] = JSON.parse(v);
    } catch {
      values[key] = v;
    }
  }

  // reportInput: messages say what kind of value was found (never the value itself: it may be a secret).
  // Pulumi.yaml declares a default for every key (a declared key without one is required): "" for the strings,
  // `false` for meshExpansion, which mean "not set". `meshExpansion: true` enables it with every default.
  for (const key of ["kubeconfig", "kubeContext", "clusterIdentifier"])
    if (values[key] === "") delete values[key];
  if (values["meshExpansion"] === false) delete values["meshExpansion"];
  if (values["meshExpansion"] === true) values["meshExpansion"] = {};
  const parsed = stackSchema.safeParse(values, { reportInput: true });
  if (!parsed.success) {
    // Unknown top-level keys are reported as `mesh-vm:<key>`; others as `mesh-vm:<key>.<path>`.
    for (const i of zodIssues(configNamespace, parsed.error, stackSchema)) {
      issues.push({ ...i, field: i.field.replace(/^mesh-vm\./, ns) });
    }
    throw new StackConfigError(stackFile, issues);
  }
  const cfg = parsed.data;
  const flavor = cfg.flavor ?? "istio";
  const isSecret = (key: string) => raw.secretKeys.has(`${ns}${key}`);

  // kubeconfig: contents must be a secret in the stack file; a path is read when a host needs the contents.
  let kubeconfig: pulumi.Output<string> | undefined;
  let kubeconfigContents: () => string | undefined;
  if (cfg.kubeconfig !== undefined) {
    const value = cfg.kubeconfig;
    if (isKubeconfigContents(value)) {
      if (!isSecret("kubeconfig")) {
        issues.push({
          field: `${ns}kubeconfig`,
          problem: `the kubeconfig contents are stored in plain text in ${stackFile}`,
          fix: `store them encrypted: ${setKubeconfigUsage("< path/to/kubeconfig")} (or set a path instead)`,
        });
      }
      kubeconfig = pulumi.secret(value);
      kubeconfigContents = () => value;
    } else {
      const path = resolve(baseDir, expandHome(value));
      kubeconfig = pulumi.secret(path);
      kubeconfigContents = () => readKubeconfig(path, `${ns}kubeconfig`, issues, `the file ${path}`);
    }
  } else {
    const path = ambientKubeconfigPath(env);
    kubeconfigContents = () =>
      readKubeconfig(
        path,
        `${ns}kubeconfig`,
        issues,
        `the ambient kubeconfig ${path} (mesh-vm:kubeconfig is unset)`,
      );
  }
  // Read once, and only when a VM has `host` (the mesh objects need no token).
  let hostKubeconfig: { value?: pulumi.Output<string> } | undefined;
  const hostKubeconfigOnce = (): pulumi.Output<string> | undefined => {
    if (hostKubeconfig === undefined) {
      const contents = kubeconfigContents();
      hostKubeconfig = contents === undefined ? {} : { value: pulumi.secret(contents) };
    }
    return hostKubeconfig.value;
  };

  // meshExpansion: MeshExpansion's own rules, keyed by config path.
  let meshExpansion: PlainMeshExpansionArgs | undefined;
  if (cfg.meshExpansion !== undefined) {
    meshExpansion = { ...cfg.meshExpansion, flavor };
    for (const i of validateMeshExpansionArgs(meshExpansion)) {
      // The flavor is the stack's `mesh-vm:flavor`, every other field is under `mesh-vm:meshExpansion`.
      issues.push(
        rebase(
          rebase(i, "MeshExpansionArgs.flavor", `${ns}flavor`),
          "MeshExpansionArgs",
          `${ns}meshExpansion`,
        ),
      );
    }
  }

  const vms: ConfiguredVm[] = [];
  const addVm = (
    key: string,
    mesh: PlainMeshVmArgs,
    host: HostConfig | undefined,
    hostPath: string,
    boot?: z.infer<typeof bootSchema>,
  ) => {
    const args: PlainMeshVmArgs = { ...mesh, flavor: mesh.flavor ?? flavor };
    const renamePorts = portKeys(args, key);
    for (const i of validateMeshVmArgs(args)) issues.push(rebase(i, "MeshVmArgs", key, renamePorts));
    let hostArgs: MeshVmHostArgs | undefined;
    if (host !== undefined) {
      hostArgs = hostInputs(host, hostPath, isSecret, stackFile, issues, hostKubeconfigOnce, cfg.kubeContext);
    }
    let bootArgs: MeshVmBootArgs | undefined;
    if (boot !== undefined) {
      const plainForValidation = { ...(boot as MeshVmBootArgs), kubeconfig: "set" };
      for (const i of validateMeshVmBootArgs(plainForValidation, host !== undefined))
        issues.push(rebase(i, "MeshVmArgs.boot", `${key}.boot`));
      bootArgs = {
        ...(boot as MeshVmBootArgs),
        kubeconfig: hostKubeconfigOnce() ?? "",
        ...(cfg.kubeContext !== undefined ? { kubeContext: cfg.kubeContext } : {}),
      };
    }
    const name = args.name;
    if (name === undefined || name === "") {
      issues.push({
        field: `${key}.name`,
        problem: "name is required (it names the WorkloadEntry and the Pulumi resources)",
        fix: `set ${key}.name, e.g. "ratings-vm"`,
      });
      return;
    }
    const clash = vms.find((v) => v.name === name);
    if (clash !== undefined) {
      issues.push({
        field: `${key}.name`,
        problem: `"${name}" is also the name of ${clash.key}`,
        fix: "give every VM a unique name",
      });
      return;
    }
    vms.push({
      key,
      name,
      args: {
        ...args,
        ...(hostArgs ? { host: hostArgs } : {}),
        ...(bootArgs ? { boot: bootArgs } : {}),
      } as MeshVmArgs,
    });
  };

  (cfg.vms ?? []).forEach((vm, i) => {
    const key = `${ns}vms[${i}]`;
    const { host, boot, ...mesh } = vm;
    addVm(key, mesh as PlainMeshVmArgs, host, `vms[${i}].host`, boot);
  });

  (cfg.manifests ?? []).forEach((m, i) => {
    const key = `${ns}manifests[${i}]`;
    if ((m.file === undefined) === (m.yaml === undefined)) {
      issues.push({
        field: key,
        problem: "needs exactly one of file or yaml",
        fix: `set ${key}.file to a YAML file (relative to the project directory) or ${key}.yaml to the YAML itself`,
      });
      return;
    }
    let yamlText = m.yaml;
    const source = m.file !== undefined ? `${key}.file` : `${key}.yaml`;
    if (m.file !== undefined) {
      const path = isAbsolute(m.file) ? m.file : resolve(baseDir, m.file);
      try {
        yamlText = readFileSync(path, "utf8");
      } catch (e) {
        issues.push({
          field: source,
          problem: `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
          fix: "point it at an existing file, relative to the project directory",
        });
        return;
      }
    }
    let args: PlainMeshVmArgs;
    try {
      args = fromManifests(yamlText ?? "");
    } catch (e) {
      if (!(e instanceof MeshVmValidationError)) throw e;
      for (const inner of e.issues)
        issues.push({ field: source, problem: `${inner.field}: ${inner.problem}`, fix: inner.fix });
      return;
    }
    addVm(key, args, m.host, `manifests[${i}].host`);
  });

  if (vms.length === 0 && meshExpansion === undefined && issues.length === 0) {
    issues.push({
      field: `${ns}vms`,
      problem: "nothing to onboard: no mesh-vm:vms, mesh-vm:manifests or mesh-vm:meshExpansion",
      fix: `list the VMs under ${ns}vms in ${stackFile} (see the README's stack configuration table)`,
    });
  }

  if (issues.length > 0) throw new StackConfigError(stackFile, issues);
  return {
    stackFile,
    flavor,
    ...(kubeconfig ? { kubeconfig } : {}),
    ...(cfg.kubeContext !== undefined ? { kubeContext: cfg.kubeContext } : {}),
    ...(cfg.clusterIdentifier !== undefined ? { clusterIdentifier: cfg.clusterIdentifier } : {}),
    ...(meshExpansion ? { meshExpansion } : {}),
    vms,
  };
}

function readKubeconfig(
  path: string,
  key: string,
  issues: ValidationIssue[],
  what: string,
): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    issues.push({
      field: key,
      problem: `the hosts' bootstrap tokens need cluster credentials, but ${what} cannot be read (${(e as NodeJS.ErrnoException).code ?? "error"})`,
      fix: `set it: ${setKubeconfigUsage("< path/to/kubeconfig")}, or a readable path`,
    });
    return undefined;
  }
}

/** MeshVmHostArgs from a host config entry: validated with MeshVm's rules, secrets wrapped. */
function hostInputs(
  host: HostConfig,
  hostPath: string,
  isSecret: (key: string) => boolean,
  stackFile: string,
  issues: ValidationIssue[],
  kubeconfig: () => pulumi.Output<string> | undefined,
  kubeContext: string | undefined,
): MeshVmHostArgs {
  const topKey = hostPath.split(/[.[]/)[0]!;
  const full = `${configNamespace}:${hostPath}`;
  let out: Record<string, unknown> = { ...host };
  for (const path of secretHostPaths) {
    if (get(host, path) === undefined) continue;
    const keyOfValue = `${hostPath}.${path.join(".")}`;
    if (!isSecret(topKey)) {
      issues.push({
        field: `${configNamespace}:${keyOfValue}`,
        problem: `a secret stored in plain text in ${stackFile}`,
        fix: `store it encrypted: pulumi config set --path --secret '${keyOfValue}' < path/to/key`,
      });
    }
    out = update(out, path, (v) => pulumi.secret(v as string));
  }
  const plainForValidation = { ...(host as MeshVmHostArgs), kubeconfig: "set" };
  for (const i of validateMeshVmHostArgs(plainForValidation)) issues.push(rebase(i, "MeshVmArgs.host", full));
  const kc = kubeconfig();
  return {
    ...(out as unknown as MeshVmHostArgs),
    kubeconfig: kc ?? "",
    ...(kubeContext !== undefined ? { kubeContext } : {}),
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
