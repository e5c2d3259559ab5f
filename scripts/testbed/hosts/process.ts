// Child processes for the test host harness: commands with captured output, liveness checks.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import type { ExecResult } from "./types";

export function run(
  file: string,
  args: string[],
  options: { input?: string; check?: boolean; timeoutMs?: number } = {},
): Promise<ExecResult> {
  return new Promise((resolvePromise, reject) => {
    const child = execFile(
      file,
      args,
      { maxBuffer: 64 * 1024 * 1024, timeout: options.timeoutMs ?? 120_000, encoding: "utf8" },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        const result = { code, stdout, stderr };
        if (code !== 0 && options.check !== false) {
          reject(new Error(`${file} ${args[0] ?? ""}... exited ${code}: ${stderr.trim().slice(0, 2000)}`));
        } else {
          resolvePromise(result);
        }
      },
    );
    // A command may exit without reading its input.
    child.stdin?.on("error", () => undefined);
    child.stdin?.end(options.input ?? "");
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Whether a process still runs (a zombie waiting to be reaped does not). */
export function pidAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
