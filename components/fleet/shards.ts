// Fleets beyond one process: a large inventory run as several stacks of the same Pulumi project — the mesh-wide
// objects (MeshExpansion, shared Sidecars) in one stack, the VMs split over K shard stacks whose program reads the
// mesh stack through a StackReference — driven by the Automation API. Each stack runs in its own `pulumi`
// process (engine, providers, language host), so shards use more than one core and one engine's memory, and a
// failure stays in its shard.
//
// Each stack gets a work directory of its own: the Automation API writes `Pulumi.<stack>.yaml` there, and
// creating stacks in parallel in one directory is unsafe (pulumi/pulumi#8186). The work directory's Pulumi.yaml is
// the project's own with `main` pointing back at the project's program, so every shard runs the same code.
import { LocalWorkspace, type ConfigMap, type PulumiCommand, type Stack } from "@pulumi/pulumi/automation";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { parse, stringify } from "yaml";

/** One stack of the fleet. */
export interface FleetStack {
  /** Stack name, e.g. `mesh` or `vms-0`. */
  stackName: string;
  /**
   * Stack configuration set before the operation (e.g. `mesh-vm:vms` with this shard's VMs). Values marked
   * `secret` go to `pulumi config set --secret` on standard input, never on a command line (the Automation API's
   * setConfig would put them there, in every process list).
   */
  config?: ConfigMap;
}

export type FleetOperation = "preview" | "up" | "refresh" | "destroy";

export interface ShardedFleetOptions {
  /** The Pulumi project directory every stack runs (its Pulumi.yaml and program). */
  projectDir: string;
  /** The mesh-wide stack: first on preview/up/refresh, last on destroy (and only if every shard was destroyed). */
  mesh?: FleetStack;
  /** The VM shards. */
  shards: FleetStack[];
  operation: FleetOperation;
  /** Shards running at once (each is a `pulumi` process tree). Default 2. */
  concurrency?: number;
  /** Where the per-stack work directories are made (`<workRoot>/<stackName>`). */
  workRoot: string;
  /** Environment of every `pulumi` process: backend URL, secrets passphrase, PULUMI_HOME, ... */
  envVars?: Record<string, string>;
  pulumiCommand?: PulumiCommand;
  pulumiHome?: string;
  /** Secrets provider for new stacks (e.g. `passphrase`, `awskms://...`). */
  secretsProvider?: string;
  /** Each line the CLI prints, with its stack. */
  onOutput?: (stackName: string, text: string) => void;
}

export interface FleetStackResult {
  stackName: string;
  role: "mesh" | "shard";
  operation: FleetOperation;
  /** `skipped`: not run because the mesh stack failed (preview/up/refresh) or a shard failed (destroy). */
  status: "succeeded" | "failed" | "skipped";
  seconds: number;
  /** Resource operations the engine reported (create, update, delete, same, ...). */
  changes: Record<string, number>;
  /** The CLI's error lines, when it failed; the reason, when skipped. */
  error?: string;
}

/** Runs one operation over the mesh stack and every shard; never throws for a stack's failure (see the results). */
export async function runShardedFleet(options: ShardedFleetOptions): Promise<FleetStackResult[]> {
  const concurrency = options.concurrency ?? 2;
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new Error(`concurrency must be a whole number ≥ 1, got ${String(concurrency)}`);
  const names = [options.mesh, ...options.shards].flatMap((s) => (s ? [s.stackName] : []));
  const duplicate = names.find((n, i) => names.indexOf(n) !== i);
  if (duplicate !== undefined) throw new Error(`stack ${duplicate} is given twice: each stack runs once`);

  const results: FleetStackResult[] = [];
  const runMesh = async (): Promise<FleetStackResult | undefined> => {
    if (!options.mesh) return undefined;
    const r = await runOne(options, options.mesh, "mesh");
    results.push(r);
    return r;
  };
  const runShards = async (): Promise<boolean> => {
    const shardResults = await pool(options.shards, concurrency, (s) => runOne(options, s, "shard"));
    results.push(...shardResults);
    return shardResults.every((r) => r.status === "succeeded");
  };

  if (options.operation === "destroy") {
    // The mesh stack goes last, and only when no shard still holds VMs that depend on it.
    const allGone = await runShards();
    if (options.mesh) {
      if (allGone) await runMesh();
      else
        results.push(
          skipped(
            options.mesh,
            "mesh",
            options.operation,
            "a shard was not destroyed: it still uses the mesh stack",
          ),
        );
    }
    return results;
  }
  const mesh = await runMesh();
  if (mesh && mesh.status !== "succeeded") {
    for (const s of options.shards)
      results.push(skipped(s, "shard", options.operation, `the mesh stack ${mesh.stackName} failed`));
    return results;
  }
  await runShards();
  return results;
}

/** The stacks that did not succeed, as one error (or undefined when all did). */
export function fleetFailure(results: FleetStackResult[]): Error | undefined {
  const bad = results.filter((r) => r.status !== "succeeded");
  if (bad.length === 0) return undefined;
  return new Error(
    `${bad.length} of ${results.length} stacks did not succeed: ` +
      bad
        .map((r) => `${r.stackName} (${r.status}${r.error ? `: ${r.error.split("\n")[0]}` : ""})`)
        .join("; "),
  );
}

/** One table for the whole run: a row per stack. */
export function formatFleetSummary(results: FleetStackResult[]): string {
  const kinds = ["create", "update", "replace", "delete", "same"];
  const header = ["stack", "role", "operation", "result", "seconds", ...kinds, "error"];
  const rows = results.map((r) => [
    r.stackName,
    r.role,
    r.operation,
    r.status,
    r.seconds.toFixed(1),
    ...kinds.map((k) => String(r.changes[k] ?? 0)),
    (r.error ?? "").split("\n")[0]!.slice(0, 100),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  return [line(header), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...rows.map(line)].join("\n");
}

// --- one stack ----------------------------------------------------------------------------------------------

async function runOne(
  options: ShardedFleetOptions,
  spec: FleetStack,
  role: FleetStackResult["role"],
): Promise<FleetStackResult> {
  const started = Date.now();
  const done = (status: FleetStackResult["status"], changes: Record<string, number>, error?: string) => ({
    stackName: spec.stackName,
    role,
    operation: options.operation,
    status,
    seconds: (Date.now() - started) / 1000,
    changes,
    ...(error !== undefined ? { error } : {}),
  });
  try {
    const stack = await openStack(options, spec);
    const onOutput = options.onOutput ? (text: string) => options.onOutput!(spec.stackName, text) : undefined;
    const changes = await operate(stack, options.operation, onOutput);
    return done("succeeded", changes);
  } catch (error) {
    return done("failed", {}, errorLines(error));
  }
}

async function openStack(options: ShardedFleetOptions, spec: FleetStack): Promise<Stack> {
  const workDir = stackWorkDir(options.projectDir, options.workRoot, spec.stackName);
  const stack = await LocalWorkspace.createOrSelectStack(
    { stackName: spec.stackName, workDir },
    {
      ...(options.pulumiCommand ? { pulumiCommand: options.pulumiCommand } : {}),
      ...(options.pulumiHome ? { pulumiHome: options.pulumiHome } : {}),
      ...(options.envVars ? { envVars: options.envVars } : {}),
      ...(options.secretsProvider ? { secretsProvider: options.secretsProvider } : {}),
    },
  );
  if (spec.config) {
    const entries = Object.entries(spec.config);
    const plain = Object.fromEntries(entries.filter(([, v]) => !v.secret));
    if (Object.keys(plain).length > 0) await stack.setAllConfig(plain);
    for (const [key, v] of entries.filter(([, v]) => v.secret))
      await setSecretConfig(options, workDir, spec.stackName, key, v.value);
  }
  return stack;
}

/** `pulumi config set --secret KEY` with the value on stdin. */
function setSecretConfig(
  options: ShardedFleetOptions,
  workDir: string,
  stackName: string,
  key: string,
  value: string,
): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = execFile(
      options.pulumiCommand?.command ?? "pulumi",
      ["config", "set", "--secret", "--stack", stackName, "--non-interactive", key],
      {
        cwd: workDir,
        env: {
          ...process.env,
          ...(options.pulumiHome ? { PULUMI_HOME: options.pulumiHome } : {}),
          ...options.envVars,
        },
      },
      (error, _stdout, stderr) =>
        error
          ? reject(
              new Error(`setting the secret ${key} of stack ${stackName} failed: ${String(stderr).trim()}`),
            )
          : resolvePromise(),
    );
    child.stdin?.end(value);
  });
}

async function operate(
  stack: Stack,
  operation: FleetOperation,
  onOutput: ((text: string) => void) | undefined,
): Promise<Record<string, number>> {
  const opts = onOutput ? { onOutput } : {};
  switch (operation) {
    case "preview":
      return counts((await stack.preview(opts)).changeSummary);
    case "up":
      return counts((await stack.up(opts)).summary.resourceChanges);
    case "refresh":
      return counts((await stack.refresh(opts)).summary.resourceChanges);
    case "destroy":
      return counts((await stack.destroy(opts)).summary.resourceChanges);
  }
}

function counts(summary: Record<string, number | undefined> | undefined): Record<string, number> {
  return Object.fromEntries(Object.entries(summary ?? {}).map(([k, v]) => [k, v ?? 0]));
}

/**
 * `<workRoot>/<stackName>`, holding the project's Pulumi.yaml with `main` pointing back at the project's program
 * (relative, as Pulumi resolves it): the same program and dependencies for every stack, a directory per stack.
 */
export function stackWorkDir(projectDir: string, workRoot: string, stackName: string): string {
  if (!/^[A-Za-z0-9_.-]+$/.test(stackName))
    throw new Error(`stack name "${stackName.slice(0, 60)}" may hold only letters, digits, '_', '.' and '-'`);
  const project = resolve(projectDir);
  const dir = join(resolve(workRoot), stackName);
  mkdirSync(dir, { recursive: true });
  const settings = parse(readFileSync(join(project, "Pulumi.yaml"), "utf8")) as Record<string, unknown>;
  const main = typeof settings.main === "string" ? settings.main : ".";
  writeFileSync(
    join(dir, "Pulumi.yaml"),
    stringify({ ...settings, main: relative(dir, join(project, main)) || "." }),
  );
  return dir;
}

/** The error lines of a failed CLI run (the Automation API's message holds the whole output). */
function errorLines(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  // The CLI's progress prefix ("+  command:remote:Command x creating (63s) ") goes: the error is what follows.
  const lines = text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => /error/i.test(l) && !/^(stderr|stdout):?$/i.test(l))
    .map((l) => l.replace(/^.*?\b(error:)/i, "$1"));
  return (lines.length ? lines : text.split("\n").filter((l) => l.trim())).slice(0, 4).join("\n");
}

function skipped(
  spec: FleetStack,
  role: FleetStackResult["role"],
  operation: FleetOperation,
  reason: string,
): FleetStackResult {
  return {
    stackName: spec.stackName,
    role,
    operation,
    status: "skipped",
    seconds: 0,
    changes: {},
    error: reason,
  };
}

/** Runs `work` over `items`, at most `limit` at a time, results in the items' order. */
async function pool<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await work(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/**
 * The shard (0..count-1) a VM belongs to, from a hash of its name: stable as the inventory grows or shrinks, so
 * adding a VM never moves another VM to another stack (a move is a destroy in one stack and a create in another).
 * Changing `count` moves VMs: plan it like a migration.
 */
export function shardOf(vmName: string, count: number): number {
  if (!Number.isInteger(count) || count < 1)
    throw new Error(`shard count must be a whole number ≥ 1, got ${count}`);
  return createHash("sha256").update(vmName).digest().readUInt32BE(0) % count;
}

/** Splits VMs (anything with a `name`) into `count` shards by shardOf, keeping their order inside each shard. */
export function splitIntoShards<T extends { name: string }>(vms: T[], count: number): T[][] {
  const shards: T[][] = Array.from({ length: count }, () => []);
  for (const vm of vms) shards[shardOf(vm.name, count)]!.push(vm);
  return shards;
}
