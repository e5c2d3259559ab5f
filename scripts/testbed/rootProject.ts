// A stack of a project of this repository (the root program, an example) for tests: a temp project dir with a
// copy of the project's Pulumi.yaml (so the declared config keys are the real ones), the stack file
// `Pulumi.<stack>.yaml` beside it, and an inline program (the machine has no Node.js language host) that runs
// the project's own code.
// Config is written the way a user would: plain values in the stack file, secrets through
// `pulumi config set --secret --path` with the value on standard input (never on a command line).
import type { PulumiFn } from "@pulumi/pulumi/automation";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parse, stringify } from "yaml";
import { createTestStack, type TestStack } from "./pulumi";
import { pulumiRoot } from "./toolchain";

const repoRoot = resolve(__dirname, "../..");

export interface RootProjectStack {
  test: TestStack;
  projectDir: string;
  /** `<projectDir>/Pulumi.<stack>.yaml`. */
  stackFile: string;
  /**
   * Replaces the stack's config: `plain` (keys without the project's `<name>:` prefix) written into the stack file, then
   * each secret set by its `--path` key (e.g. `kubeconfig`, `vms[0].host.prepare.admin.privateKey`).
   */
  writeConfig(plain: Record<string, unknown>, secrets?: { path: string; value: string }[]): Promise<void>;
  /** Removes the stack, its backend and the project dir. */
  dispose(): Promise<void>;
}

/** The root project (Pulumi.yaml at the repository root). */
export function rootProjectStack(stackName: string, program: PulumiFn): Promise<RootProjectStack> {
  return projectStack(join(repoRoot, "Pulumi.yaml"), stackName, program);
}

/** The project whose Pulumi.yaml is `projectFile`. */
export async function projectStack(
  projectFile: string,
  stackName: string,
  program: PulumiFn,
): Promise<RootProjectStack> {
  const projectDir = mkdtempSync(join(tmpdir(), "mesh-vm-project-"));
  // The Pulumi.yaml as is, except `main`: the CLI checks that the entry point exists, and the program here is
  // inline.
  const project = parse(readFileSync(projectFile, "utf8")) as Record<string, unknown>;
  delete project["main"];
  writeFileSync(join(projectDir, "Pulumi.yaml"), stringify(project));
  const namespace = String(project["name"]);
  let test: TestStack;
  try {
    test = await createTestStack({ program, workDir: projectDir, stackName });
  } catch (e) {
    rmSync(projectDir, { recursive: true, force: true });
    throw e;
  }
  const stackFile = join(projectDir, `Pulumi.${stackName}.yaml`);
  const env = test.stack.workspace.envVars;

  const setSecret = (path: string, value: string) =>
    new Promise<void>((done, fail) => {
      const child = execFile(
        join(pulumiRoot(), "bin", "pulumi"),
        [
          "config",
          "set",
          "--path",
          "--secret",
          `${namespace}:${path}`,
          "--stack",
          stackName,
          "--non-interactive",
        ],
        { cwd: projectDir, env: { ...process.env, ...env }, timeout: 60_000, encoding: "utf8" },
        // The key only: the value never appears in an error.
        (error, _stdout, stderr) =>
          error ? fail(new Error(`pulumi config set ${path} failed: ${stderr.trim()}`)) : done(),
      );
      child.stdin?.end(value);
    });

  return {
    test,
    projectDir,
    stackFile,
    async writeConfig(plain, secrets = []) {
      const current = (existsSync(stackFile) ? parse(readFileSync(stackFile, "utf8")) : {}) as Record<
        string,
        unknown
      >;
      current["config"] = Object.fromEntries(Object.entries(plain).map(([k, v]) => [`${namespace}:${k}`, v]));
      writeFileSync(stackFile, stringify(current), { mode: 0o600 });
      for (const s of secrets) await setSecret(s.path, s.value);
    },
    async dispose() {
      await test.dispose();
      rmSync(projectDir, { recursive: true, force: true });
    },
  };
}
