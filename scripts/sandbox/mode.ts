// Which sandbox the user asked for: the command, and whether it runs a real istiod with the real Istio agent
// on the hosts (`up --istiod`) or the stand-in proxy (plain `up`). A running sandbox keeps the mode it was
// started with: `up` in the other mode refuses rather than mix a stand-in proxy with istiod's root (or an agent
// without istiod). Pure: argv and environment in, a decision out.
import type { SandboxState } from "./state";

export type Command = "up" | "down" | "status";

export interface Invocation {
  command: Command;
  /** `up --istiod` (or MESH_VM_SANDBOX_ISTIOD=1). */
  istiod: boolean;
}

export const USAGE =
  "usage: scripts/sandbox.sh [up [--istiod]|down|status]   (or MESH_VM_SANDBOX_ISTIOD=1 for --istiod)";

/** The command line (`up --istiod`, `status`, ...) and MESH_VM_SANDBOX_ISTIOD; throws with the usage. */
export function parseInvocation(argv: string[], env: Record<string, string | undefined> = {}): Invocation {
  let command: Command | undefined;
  let flag = false;
  for (const arg of argv) {
    if (arg === "--istiod") flag = true;
    else if ((arg === "up" || arg === "down" || arg === "status") && !command) command = arg;
    else throw new Error(`unknown argument "${arg}"; ${USAGE}`);
  }
  command ??= "up";
  const fromEnv = env.MESH_VM_SANDBOX_ISTIOD ?? "";
  if (!["", "0", "1"].includes(fromEnv))
    throw new Error(`MESH_VM_SANDBOX_ISTIOD must be 1 (with istiod) or 0/unset, not "${fromEnv}"`);
  const istiod = flag || fromEnv === "1";
  if (istiod && command !== "up")
    throw new Error(
      `--istiod (or MESH_VM_SANDBOX_ISTIOD=1) is for up only: ${command} works on the sandbox as it was started`,
    );
  return { command, istiod };
}

/** How a sandbox's mode is named to the user. */
export function modeName(istiod: boolean): string {
  return istiod ? "with istiod (up --istiod)" : "with the stand-in proxy (up)";
}

/**
 * Why `up` must not converge the running sandbox in the asked mode, or undefined when the modes agree. The
 * message names both modes and the way out.
 */
export function modeConflict(state: SandboxState, wantIstiod: boolean): string | undefined {
  const running = !!state.withIstiod;
  if (running === wantIstiod) return undefined;
  return (
    `the running sandbox was started ${modeName(running)}; this up asks for it ${modeName(wantIstiod)}. ` +
    `Nothing was changed. Run \`scripts/sandbox.sh up${running ? " --istiod" : ""}\` to converge it as it is, ` +
    `or \`scripts/sandbox.sh down\` first, then \`scripts/sandbox.sh up${wantIstiod ? " --istiod" : ""}\`.`
  );
}
