// The sandbox the host-script tests run the rendered scripts in (sh, coreutils, awk, for real): a temporary
// directory per test file, removed after it, and `run`, which runs a command line the way sshd would.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";

const sandbox = mkdtempSync(join(tmpdir(), "mesh-vm-host-"));
after(() => rmSync(sandbox, { recursive: true, force: true }));

let counter = 0;
export function freshDir(): string {
  const dir = join(sandbox, `case-${++counter}`);
  spawnSync("mkdir", ["-p", dir]);
  return dir;
}

/** Runs a rendered command line the way sshd would: `sh -c <command>`, stdin piped. */
export function run(commandLine: string, stdin = "", env: Record<string, string> = {}) {
  const result = spawnSync("sh", ["-c", commandLine], {
    input: stdin,
    encoding: "utf8",
    env: { ...process.env, ...env },
    timeout: 30_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

export const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);
