// The prepared root filesystem every test host starts from (scripts/testbed/rootfs.sh).
import { execFile, spawn } from "node:child_process";
import { join, resolve } from "node:path";

const repoRoot = resolve(__dirname, "../../..");

let treePromise: Promise<string> | undefined;

function buildTree(): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    // Progress goes to stderr as it happens: the first build takes minutes.
    const child = spawn("bash", [join(repoRoot, "scripts/testbed/rootfs.sh")], {
      stdio: ["ignore", "pipe", "inherit"],
      timeout: 30 * 60_000,
    });
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      const tree = stdout.trim().split("\n").pop() ?? "";
      if (code === 0 && tree) resolvePromise(tree);
      else reject(new Error(`scripts/testbed/rootfs.sh failed (exit ${code}); see its output above`));
    });
  });
}

/** Builds (first time: debootstrap, minutes) or reuses the prepared host tree; returns its path. */
export function hostTree(): Promise<string> {
  treePromise ??= buildTree().catch((error: unknown) => {
    treePromise = undefined;
    throw error;
  });
  return treePromise;
}

/** Forgets the tree found so far (after the cache changed under this process). */
export function resetHostTree(): void {
  treePromise = undefined;
}

/**
 * The prepared tree of hosts with systemd as init (scripts/testbed/rootfs-systemd.sh), built by the set-up
 * phase; throws naming the set-up command when it is not built (a test never builds it).
 */
export function systemdHostTree(): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    execFile(
      "bash",
      [join(repoRoot, "scripts/testbed/rootfs-systemd.sh"), "path"],
      { encoding: "utf8" },
      (error, stdout, stderr) => {
        if (error) reject(new Error(stderr.trim() || error.message));
        else resolvePromise(stdout.trim());
      },
    );
  });
}
