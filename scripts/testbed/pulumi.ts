// Runs Pulumi programs with the real engine through the Automation API: the toolchain's CLI
// (PulumiCommand.get, never install), a file backend and passphrase secrets in a temp dir,
// the isolated PULUMI_HOME plugin cache and no plugin downloads or update checks. Each
// preview/up/destroy returns the engine's summary and every engine event, so tests assert on
// what the engine did, not on what the program hoped.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import {
  LocalWorkspace,
  PulumiCommand,
  type ConfigMap,
  type Deployment,
  type DestroyResult,
  type EngineEvent,
  type OutputMap,
  type PreviewResult,
  type PulumiFn,
  type RefreshResult,
  type Stack,
  type UpResult,
} from "@pulumi/pulumi/automation";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { parse } from "yaml";
import { pulumiRoot, toolchainEnv, whichInToolchain } from "./toolchain";

export interface TestStackOptions {
  /** Inline program (runs in this process; needs no language host). */
  program?: PulumiFn;
  /**
   * Directory of a Pulumi project. Alone: its program runs through pulumi-language-nodejs. With `program`: the
   * inline program runs with that project's Pulumi.yaml (name, declared config) and `Pulumi.<stack>.yaml`.
   */
  workDir?: string;
  /** Project name for inline programs (default "mesh-vm-test"). */
  projectName?: string;
  /** Stack name (default "test"). */
  stackName?: string;
  config?: ConfigMap;
}

export interface RunResult<T> {
  result: T;
  /** Every engine event of the operation, in order. */
  events: EngineEvent[];
}

export interface TestStack {
  stack: Stack;
  /** The temp dir holding the file backend (state) of this stack. */
  backendDir: string;
  preview(): Promise<RunResult<PreviewResult>>;
  /**
   * `watch` sees each engine event as it arrives (e.g. to cause a fault at a given step); `replace`: URNs to replace
   * (`pulumi up --replace`).
   */
  up(options?: { watch?: (e: EngineEvent) => void; replace?: string[] }): Promise<RunResult<UpResult>>;
  /** `pulumi refresh` (reads each resource back from its provider). */
  refresh(): Promise<RunResult<RefreshResult>>;
  destroy(): Promise<RunResult<DestroyResult>>;
  outputs(): Promise<OutputMap>;
  /** The stack's checkpoint as stored by the backend (secrets stay encrypted). */
  exportState(): Promise<Deployment>;
  /** Removes the stack and its backend dir (after destroy). */
  dispose(): Promise<void>;
}

const execFileAsync = promisify(execFile);

// Backend dirs not yet disposed: removed when the test process exits, also after a failure.
const liveBackends = new Set<string>();
process.on("exit", () => {
  for (const dir of liveBackends) rmSync(dir, { recursive: true, force: true });
});

let cliPromise: Promise<PulumiCommand> | undefined;
/** The toolchain's pulumi CLI. Its version is stamped, so the Automation API's check passes. */
export function pulumiCli(): Promise<PulumiCommand> {
  cliPromise ??= PulumiCommand.get({ root: pulumiRoot() });
  return cliPromise;
}

export async function createTestStack(opts: TestStackOptions): Promise<TestStack> {
  if (!opts.program && !opts.workDir)
    throw new Error(
      "createTestStack: give a program, a workDir, or both (an inline program in a project dir)",
    );
  // A project directory runs through the Node.js language host; the Go module proxy here does
  // not serve its module (sdk/nodejs/cmd/pulumi-language-nodejs), so only a pulumi installed
  // normally has it. Say so instead of failing deep in the engine.
  if (opts.workDir && !opts.program && !whichInToolchain("pulumi-language-nodejs")) {
    throw new Error(
      "createTestStack({ workDir }) needs pulumi-language-nodejs next to pulumi and the toolchain has none; use an inline program",
    );
  }
  const env = toolchainEnv();
  const backendDir = await mkdtemp(join(tmpdir(), "mesh-vm-pulumi-"));
  liveBackends.add(backendDir);
  await mkdir(join(backendDir, "state"));
  const envVars: Record<string, string> = {
    ...env,
    PULUMI_BACKEND_URL: `file://${join(backendDir, "state")}`,
    // Random per stack and only in the CLI's environment: never on a command line.
    PULUMI_CONFIG_PASSPHRASE: randomBytes(16).toString("hex"),
    PULUMI_SKIP_CONFIRMATIONS: "true",
    PULUMI_DIY_BACKEND_NO_LEGACY_WARNING: "true",
  };
  const pulumiCommand = await pulumiCli();
  const wsOpts = {
    pulumiCommand,
    pulumiHome: env.PULUMI_HOME,
    envVars,
    secretsProvider: "passphrase",
  };
  const stackName = opts.stackName ?? "test";
  const stack =
    opts.program && opts.workDir
      ? // The workspace reads the project dir's Pulumi.yaml (never rewrites it) and keeps the stack file there.
        await LocalWorkspace.createOrSelectStack(
          { stackName, projectName: projectNameOf(opts.workDir), program: opts.program },
          { ...wsOpts, workDir: opts.workDir },
        )
      : opts.program
        ? await LocalWorkspace.createOrSelectStack(
            { stackName, projectName: opts.projectName ?? "mesh-vm-test", program: opts.program },
            {
              ...wsOpts,
              // Inside the backend dir, so dispose() removes it (the Automation API leaves its own temp dirs).
              workDir: await mkdir(join(backendDir, "workspace")).then(() => join(backendDir, "workspace")),
              projectSettings: {
                name: opts.projectName ?? "mesh-vm-test",
                runtime: "nodejs",
                // The program's directory, as the Automation API's default project has it (`main: process.cwd()`):
                // the engine starts plugins there, and a dynamic provider (VmProxy's drift check) resolves
                // @pulumi/pulumi from it.
                main: resolve(__dirname, "../.."),
                backend: { url: envVars.PULUMI_BACKEND_URL },
              },
            },
          )
        : await LocalWorkspace.createOrSelectStack({ stackName, workDir: opts.workDir as string }, wsOpts);
  if (opts.config) await stack.setAllConfig(opts.config);

  const collect = (): { events: EngineEvent[]; onEvent: (e: EngineEvent) => void } => {
    const events: EngineEvent[] = [];
    return { events, onEvent: (e) => events.push(e) };
  };

  return {
    stack,
    backendDir,
    async preview() {
      const { events, onEvent } = collect();
      const result = await stack.preview({ onEvent, color: "never", diff: true });
      return { result, events };
    },
    async up(options = {}) {
      const { events, onEvent } = collect();
      const result = await stack.up({
        onEvent: (e) => {
          onEvent(e);
          options.watch?.(e);
        },
        color: "never",
        diff: true,
        ...(options.replace ? { replace: options.replace } : {}),
      });
      return { result, events };
    },
    async refresh() {
      const { events, onEvent } = collect();
      const result = await stack.refresh({ onEvent, color: "never" });
      return { result, events };
    },
    async destroy() {
      const { events, onEvent } = collect();
      const result = await stack.destroy({ onEvent, color: "never" });
      return { result, events };
    },
    outputs: () => stack.outputs(),
    // Not stack.exportStack(): the Automation API exports with --show-secrets, which decrypts every secret.
    async exportState() {
      const { stdout } = await execFileAsync(
        join(pulumiRoot(), "bin", "pulumi"),
        ["stack", "export", "--stack", stackName, "--non-interactive"],
        {
          cwd: stack.workspace.workDir,
          env: { ...process.env, PULUMI_HOME: env.PULUMI_HOME, ...envVars },
          maxBuffer: 256 * 1024 * 1024,
        },
      );
      return JSON.parse(stdout) as Deployment;
    },
    async dispose() {
      await stack.workspace.removeStack(stackName, { force: true }).catch(() => undefined);
      await rm(backendDir, { recursive: true, force: true });
      liveBackends.delete(backendDir);
    },
  };
}

/** The `name` of a project dir's Pulumi.yaml. */
function projectNameOf(workDir: string): string {
  const project = parse(readFileSync(join(workDir, "Pulumi.yaml"), "utf8")) as { name?: unknown };
  if (typeof project.name !== "string") throw new Error(`${workDir}/Pulumi.yaml has no name`);
  return project.name;
}

/** Steps the engine reported, as "op type name" strings (from resource-pre events). */
export function steps(events: EngineEvent[]): string[] {
  return events
    .filter((e) => e.resourcePreEvent)
    .map((e) => {
      const m = e.resourcePreEvent!.metadata;
      return `${m.op} ${m.type} ${m.urn.split("::").pop()}`;
    });
}

/** Steps the engine did not leave as they were (neither "same" nor "read"), as "op type name" strings. */
export function changedSteps(events: EngineEvent[]): string[] {
  return steps(events).filter((s) => !s.startsWith("same ") && !s.startsWith("read "));
}

/** Diagnostics of severity error the engine reported. */
export function errors(events: EngineEvent[]): string[] {
  return events.filter((e) => e.diagnosticEvent?.severity === "error").map((e) => e.diagnosticEvent!.message);
}

/**
 * A Kubernetes provider for a test cluster. The fixed clusterIdentifier keeps a fresh
 * apiserver (new port, new kubeconfig) from replacing the provider and every resource; the
 * kubeconfig holds an admin token, so it is a secret in state. The plugin version is the one
 * scripts/toolchain.sh installed (it differs from the npm SDK's when the Go module proxy
 * could not serve that version's source).
 */
export function kubernetesProvider(
  name: string,
  kubeconfig: string,
  opts: pulumi.CustomResourceOptions = {},
): k8s.Provider {
  return new k8s.Provider(
    name,
    { kubeconfig: pulumi.secret(kubeconfig), clusterIdentifier: "mesh-vm-test-cluster" },
    opts,
  );
}
