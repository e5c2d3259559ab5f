// The `sandbox` stack through the Automation API: the toolchain's pulumi CLI, a file backend and a
// passphrase secrets provider inside the sandbox dir, and an inline program (run in this process: the
// toolchain here has no Node.js language host, and the inline program is the root program's own function).
// The project dir holds a copy of the root Pulumi.yaml, so the stack file is
// `<sandbox>/project/Pulumi.sandbox.yaml`: a second sandbox (e.g. the e2e test's) never shares it.
import { LocalWorkspace, PulumiCommand, type PulumiFn, type Stack } from "@pulumi/pulumi/automation";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { pulumiRoot, toolchainEnv } from "../../test/harness/toolchain";
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

/** Creates the project dir, backend and passphrase (once), then creates or selects the stack. */
export async function sandboxStack(paths: SandboxPaths, program: PulumiFn): Promise<Stack> {
  await mkdir(paths.projectDir, { recursive: true, mode: 0o700 });
  await mkdir(paths.backendDir, { recursive: true, mode: 0o700 });
  if (!existsSync(paths.passphrase)) {
    await writeFile(paths.passphrase, randomBytes(24).toString("hex"), { mode: 0o600, flag: "wx" });
  }
  // The root project's settings (name, declared config keys), with the backend pinned to the sandbox's,
  // so plain `pulumi -C <sandbox>/project ...` commands find the stack too.
  const rootProject = join(repoRoot, "Pulumi.yaml");
  const project = (
    existsSync(rootProject)
      ? parse(readFileSync(rootProject, "utf8"))
      : { name: "mesh-vm", runtime: "nodejs", description: "mesh-vm root program" }
  ) as Record<string, unknown>;
  project.backend = { url: `file://${paths.backendDir}` };
  // The program is inline (this process runs it): no entry point to find in this dir.
  delete project.main;
  await writeFile(join(paths.projectDir, "Pulumi.yaml"), stringify(project));

  const env = pulumiEnv(paths);
  const pulumiCommand = await PulumiCommand.get({ root: pulumiRoot() });
  // Inline program; the workspace dir holds Pulumi.yaml (read, not replaced) and Pulumi.sandbox.yaml.
  return LocalWorkspace.createOrSelectStack(
    { stackName: STACK_NAME, projectName: String(project.name), program },
    {
      workDir: paths.projectDir,
      pulumiCommand,
      pulumiHome: env.PULUMI_HOME,
      envVars: env,
      secretsProvider: "passphrase",
    },
  );
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
    await pulumiCli(
      paths,
      ["config", "set", "--path", "--secret", secret.key, "--stack", STACK_NAME, "--non-interactive"],
      secret.value,
    );
  }
}

/** Runs the toolchain's pulumi CLI in the sandbox project; stdin optional. */
export function pulumiCli(paths: SandboxPaths, args: string[], input?: string): Promise<string> {
  const env = pulumiEnv(paths);
  return new Promise((resolve, reject) => {
    const child = execFile(
      join(pulumiRoot(), "bin", "pulumi"),
      args,
      { cwd: paths.projectDir, env: { ...process.env, ...env }, timeout: 60_000, encoding: "utf8" },
      (error, stdout, stderr) => {
        // The key only: values never appear in errors.
        if (error) reject(new Error(`pulumi ${args.slice(0, 5).join(" ")} failed: ${stderr.trim()}`));
        else resolve(stdout);
      },
    );
    child.stdin?.on("error", () => undefined);
    child.stdin?.end(input ?? "");
  });
}
