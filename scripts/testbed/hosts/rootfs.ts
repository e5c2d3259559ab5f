// The prepared root filesystem every test host starts from (scripts/testbed/rootfs.sh). The set-up phase
// (scripts/test.sh, scripts/sandbox.sh, scripts/bench.sh) builds it; a test only looks it up, and a missing tree
// fails the test naming the set-up command instead of starting a build of minutes inside the suite's
// environment.
import { execFile, spawn } from "node:child_process";
import { join, resolve } from "node:path";

const repoRoot = resolve(__dirname, "../../..");

let treePromise: Promise<string> | undefined;

function rootfs(mode: "path" | "build"): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    // A build's progress goes to stderr as it happens (minutes); `path` prints one line or why not.
    const child = spawn("bash", [join(repoRoot, "scripts/testbed/rootfs.sh"), mode], {
      stdio: ["ignore", "pipe", mode === "build" ? "inherit" : "pipe"],
      timeout: mode === "build" ? 30 * 60_000 : 60_000,
    });
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      const tree = stdout.trim().split("\n").pop() ?? "";
      if (code === 0 && tree) resolvePromise(tree);
      else if (mode === "path")
        reject(new Error(stderr.trim() || `scripts/testbed/rootfs.sh path exited ${code}`));
      else reject(new Error(`scripts/testbed/rootfs.sh failed (exit ${code}); see its output above`));
    });
  });
}

/** The prepared host tree's path; fails naming the set-up command when it has not been built. */
export function hostTree(): Promise<string> {
  treePromise ??= rootfs("path").catch((error: unknown) => {
    treePromise = undefined;
    throw error;
  });
  return treePromise;
}

/** Builds the host tree when missing (set-up code only: the benchmarks' scratch cache). */
export async function buildHostTree(): Promise<string> {
  treePromise = undefined;
  return rootfs("build");
}

/** Forgets the tree found so far (after the cache changed under this process). */
export function resetHostTree(): void {
  treePromise = undefined;
}

/**
 * The prepared tree of hosts with systemd as init (scripts/testbed/rootfs-systemd.sh), built by the set-up
 * phase; fails naming the set-up command when it is not built (a test never builds it).
 */
export function systemdHostTree(): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    execFile(
      "bash",
      [join(repoRoot, "scripts/testbed/rootfs-systemd.sh"), "path"],
      { encoding: "utf8", timeout: 60_000 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(stderr.trim() || error.message));
        else resolvePromise(stdout.trim());
      },
    );
  });
}
