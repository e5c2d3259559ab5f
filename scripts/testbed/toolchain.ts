// The test bed's toolchain as environment variables: the same values `scripts/toolchain.sh env`
// prints, so child processes and the Automation API use the cached Node 24, pulumi CLI,
// isolated PULUMI_HOME plugin cache, kube-apiserver and etcd, and never reach for the network.
import { execFileSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, dirname, join, resolve } from "node:path";

const repoRoot = resolve(__dirname, "../..");
const script = join(repoRoot, "scripts", "toolchain.sh");

/** Variables `scripts/toolchain.sh env` exports. */
const NAMES = [
  "MESH_VM_CACHE",
  "PATH",
  "PULUMI_HOME",
  "MESH_VM_KUBE_APISERVER",
  "MESH_VM_ETCD",
  "PULUMI_SKIP_UPDATE_CHECK",
  "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION",
  "PULUMI_IGNORE_AMBIENT_PLUGINS",
] as const;
export type ToolchainVar = (typeof NAMES)[number];

let cached: Record<ToolchainVar, string> | undefined;

/** The toolchain's environment (PATH has Node 24 and pulumi first). Read once per process. */
export function toolchainEnv(): Record<ToolchainVar, string> {
  if (cached) return cached;
  // Let bash evaluate the export lines exactly as a user's shell would, then print only ours.
  const out = execFileSync(
    "bash",
    [
      "-c",
      `eval "$("$0" env)" && for v in ${NAMES.join(" ")}; do printf '%s=%s\\0' "$v" "\${!v}"; done`,
      script,
    ],
    { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] },
  );
  const env: Partial<Record<ToolchainVar, string>> = {};
  for (const entry of out.split("\0")) {
    const i = entry.indexOf("=");
    if (i > 0) env[entry.slice(0, i) as ToolchainVar] = entry.slice(i + 1);
  }
  cached = env as Record<ToolchainVar, string>;
  return cached;
}

/** Absolute path of an executable on the toolchain's PATH, or undefined. */
export function whichInToolchain(name: string): string | undefined {
  for (const dir of toolchainEnv().PATH.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/** The installation root of the pulumi CLI (the dir holding bin/pulumi), for PulumiCommand.get. */
export function pulumiRoot(): string {
  const pulumi = whichInToolchain("pulumi");
  if (!pulumi)
    throw new Error("pulumi is not on the toolchain PATH; run the set-up first: scripts/test.sh setup");
  return dirname(dirname(pulumi));
}

/** Throws a clear error when a toolchain binary has not been built yet. */
export function requireExecutable(path: string, what: string): string {
  try {
    accessSync(path, constants.X_OK);
  } catch {
    throw new Error(`${what} not found at ${path}; run the set-up first: scripts/test.sh setup`);
  }
  return path;
}
