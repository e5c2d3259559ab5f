// The `sandbox` stack through the real `pulumi` CLI, the way the README tells users to run the root program:
// the toolchain's CLI as a child process (its output streamed to the terminal), the Node.js language host
// running the repository's root program (`<repo>/index.ts`), a file backend and a passphrase (in a file)
// inside the sandbox dir.
// The project dir `<sandbox>/project` holds a copy of the root Pulumi.yaml whose `main` points back at the
// repository's index.ts (relative: Pulumi joins `main` with the project dir) and whose backend is pinned, a
// `node_modules` link to the repository's (the language host resolves @pulumi/pulumi from the project dir),
// and the stack file `Pulumi.sandbox.yaml`: a second sandbox (e.g. the e2e test's) never shares it, and plain
// `pulumi -C <sandbox>/project ...` commands work as printed.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, lstatSync, readFileSync, readlinkSync } from "node:fs";
import { mkdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { parse, stringify } from "yaml";
import { pulumiRoot, toolchainEnv } from "../testbed/toolchain";
import type { StackConfig } from "./stackConfig";
import { repoRoot, type SandboxPaths } from "./state";

export const STACK_NAME = "sandbox";

/** Environment of every pulumi command of the sandbox (no secret in it: the passphrase is in a file). */
export function pulumiEnv(paths: SandboxPaths): Record<string, string> {
  return {
    ...toolchainEnv(),
    PULUMI_BACKEND_URL: `file://${paths.backendDir}`,
    PULUMI_CONFIG_PASSPHRASE_FILE: paths.passphrase,
    PULUMI_SKIP_CONFIRMATIONS: "true",
    PULUMI_DIY_BACKEND_NO_LEGACY_WARNING: "true",
  };
}

/**
 * The sandbox's Pulumi.yaml: the root project's (name, runtime, declared config keys) with `main` pointing at
 * the repository's root program (relative to the project dir, as Pulumi resolves it) and the backend pinned.
 * The language host runs the program in its own directory, the repository root, so it compiles with the
 * repository's tsconfig.json exactly as when a user runs `pulumi up` there.
 */
export function sandboxProject(
  rootProject: Record<string, unknown>,
  projectDir: string,
  backendDir: string,
  repo = repoRoot,
): Record<string, unknown> {
  const project = structuredClone(rootProject);
  project.main = relative(projectDir, join(repo, String(project.main ?? "index.ts")));
  project.backend = { url: `file://${backendDir}` };
  return project;
}

/**
 * Creates the project dir (Pulumi.yaml, node_modules link), backend and passphrase (once), then creates the
 * stack or selects it (`pulumi stack select --create`).
 */
export async function prepareProject(paths: SandboxPaths): Promise<void> {
  await mkdir(paths.projectDir, { recursive: true, mode: 0o700 });
  await mkdir(paths.backendDir, { recursive: true, mode: 0o700 });
  if (!existsSync(paths.passphrase)) {
    await writeFile(paths.passphrase, randomBytes(24).toString("hex"), { mode: 0o600, flag: "wx" });
  }
  const root = parse(readFileSync(join(repoRoot, "Pulumi.yaml"), "utf8")) as Record<string, unknown>;
  const project = sandboxProject(root, paths.projectDir, paths.backendDir);
  await writeFile(join(paths.projectDir, "Pulumi.yaml"), stringify(project));
  await linkNodeModules(paths.projectDir);
  await pulumiCli(paths, ["stack", "select", "--create", "--secrets-provider", "passphrase"]);
}

/** `<projectDir>/node_modules` → the repository's node_modules (replaced when it points elsewhere). */
async function linkNodeModules(projectDir: string): Promise<void> {
  const link = join(projectDir, "node_modules");
  const target = join(repoRoot, "node_modules");
  let current: string | undefined;
  try {
    current = lstatSync(link).isSymbolicLink() ? readlinkSync(link) : "(not a link)";
  } catch {
    current = undefined;
  }
  if (current === target) return;
  if (current !== undefined) await rm(link, { recursive: true, force: true });
  await symlink(target, link, "dir");
}

/**
 * Writes the stack config: the plain values straight into the stack file (keeping its encryption
 * salt, replacing any earlier config), then each secret with `pulumi config set --secret --path`,
 * its value on standard input (never on a command line).
 */
export async function writeStackConfig(paths: SandboxPaths, config: StackConfig): Promise<void> {
  const file = paths.stackFile;
  const current = (existsSync(file) ? parse(await readFile(file, "utf8")) : {}) as Record<string, unknown>;
  current.config = config.plain;
  await writeFile(file, stringify(current), { mode: 0o600 });
  for (const secret of config.secrets) {
    await pulumiCli(paths, ["config", "set", "--path", "--secret", secret.key], { input: secret.value });
  }
}

export interface PulumiRun {
  /** The CLI's exit code; null when it was stopped by a signal. */
  code: number | null;
  /** Whether `timeoutMs` ran out (the CLI was interrupted, then killed). */
  timedOut: boolean;
}

let running: ReturnType<typeof spawn> | undefined;

/** Whether a streamed pulumi command runs (Ctrl-C then reaches it too: wait for it to cancel). */
export function pulumiRunning(): boolean {
  return running !== undefined;
}

/**
 * Runs `pulumi ARGS --stack sandbox --non-interactive` in the project dir with the output streamed to this
 * terminal (preview, up, destroy). After `timeoutMs` the CLI gets SIGINT (it cancels and releases the stack
 * lock), and SIGKILL 30 s later.
 */
export function pulumiStreamed(paths: SandboxPaths, args: string[], timeoutMs?: number): Promise<PulumiRun> {
  const full = [...args, "--stack", STACK_NAME, "--non-interactive"];
  console.error(`[sandbox] pulumi ${full.join(" ")}`);
  return new Promise((resolve, reject) => {
    const child = spawn(join(pulumiRoot(), "bin", "pulumi"), full, {
      cwd: paths.projectDir,
      env: { ...process.env, ...pulumiEnv(paths) },
      stdio: ["ignore", "inherit", "inherit"],
    });
    running = child;
    let timedOut = false;
    let kill: NodeJS.Timeout | undefined;
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            child.kill("SIGINT");
            kill = setTimeout(() => child.kill("SIGKILL"), 30_000);
          }, timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      running = undefined;
      clearTimeout(timer);
      clearTimeout(kill);
      resolve({ code, timedOut });
    });
  });
}

/** Runs `pulumi ARGS --stack sandbox --non-interactive` in the project dir, quietly; stdin optional. */
export function pulumiCli(
  paths: SandboxPaths,
  args: string[],
  opts: { input?: string } = {},
): Promise<string> {
  const full = [...args, "--stack", STACK_NAME, "--non-interactive"];
  return new Promise((resolve, reject) => {
    const child = spawn(join(pulumiRoot(), "bin", "pulumi"), full, {
      cwd: paths.projectDir,
      env: { ...process.env, ...pulumiEnv(paths) },
      stdio: ["pipe", "pipe", "pipe"],
      timeout: 60_000,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      // The command and key only: values never appear in errors.
      if (code !== 0) reject(new Error(`pulumi ${args.slice(0, 5).join(" ")} failed: ${stderr.trim()}`));
      else resolve(stdout);
    });
    child.stdin.on("error", () => undefined);
    child.stdin.end(opts.input ?? "");
  });
}
