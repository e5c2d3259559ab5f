// The prepared root filesystem every test host starts from (scripts/testbed/rootfs.sh).
import { join, resolve } from "node:path";
import { run } from "./process";

const repoRoot = resolve(__dirname, "../../..");

let treePromise: Promise<string> | undefined;

/** Builds (first time: debootstrap, minutes) or reuses the prepared host tree; returns its path. */
export function hostTree(): Promise<string> {
  treePromise ??= run("bash", [join(repoRoot, "scripts/testbed/rootfs.sh")], { timeoutMs: 30 * 60_000 }).then(
    (r) => r.stdout.trim().split("\n").pop() ?? "",
    (error: unknown) => {
      treePromise = undefined;
      throw error;
    },
  );
  return treePromise;
}

/** Forgets the tree found so far (after the cache changed under this process). */
export function resetHostTree(): void {
  treePromise = undefined;
}
