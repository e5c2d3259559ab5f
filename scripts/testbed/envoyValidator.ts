// The Envoy config validator (scripts/testbed/envoy-validate): Envoy's own API rules from go-control-plane,
// run on every rendered Envoy config because no Envoy binary can be had on the test bed. scripts/test.sh
// builds it in its set-up phase (ensure_envoy_validator in scripts/lib.sh) under a key of its sources; this
// module finds it at the same key and never builds it, so a test that runs without the set-up fails.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  accessSync,
  constants,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";

const sourceDir = resolve(__dirname, "envoy-validate");

/** The cache key ensure_envoy_validator uses: sha256 over go.mod, go.sum and every *.go file (path, NUL, text). */
export function envoyValidatorKey(): string {
  const goFiles = (readdirSync(sourceDir, { recursive: true }) as string[])
    .filter((f) => f.endsWith(".go"))
    .sort();
  const hash = createHash("sha256");
  for (const f of ["go.mod", "go.sum", ...goFiles]) {
    hash.update(f + "\0");
    hash.update(readFileSync(join(sourceDir, f)));
  }
  return hash.digest("hex").slice(0, 16);
}

function cacheDir(): string {
  return (
    process.env.MESH_VM_CACHE ??
    join(process.env.XDG_CACHE_HOME ?? join(process.env.HOME ?? "/root", ".cache"), "mesh-vm")
  );
}

/** Path of the built validator; throws naming the set-up command when it is missing or stale. */
export function envoyValidatorPath(): string {
  return builtTool("envoy-validate");
}

/** Path of the data-path stand-ins (client, passthrough gateway, sidecar); throws like envoyValidatorPath. */
export function envoyStandinPath(): string {
  return builtTool("envoy-standin");
}

function builtTool(name: string): string {
  const path = join(cacheDir(), "envoy-validate", envoyValidatorKey(), name);
  try {
    accessSync(path, constants.X_OK);
  } catch {
    throw new Error(
      `the Envoy config validator and stand-ins are not built for these sources (${path} is missing); run scripts/test.sh unit ` +
        "(its set-up phase builds it: ensure_envoy_validator in scripts/lib.sh)",
    );
  }
  return path;
}

/** What the validator says: its summary when valid, its problems (one per line) when not. */
export interface EnvoyValidation {
  ok: boolean;
  problems: string[];
  summary?: { listeners: string[]; clusters: string[]; secrets: string[]; files: string[] };
}

/** A file at its absolute path on the VM. */
/** The envoy runtime's directory on a VM (its default `configDir`) and the files it writes there. */
export const ENVOY_DIR = "/etc/envoy";
export const ENVOY_FILES = [
  "envoy.yaml",
  "certs/workload-certificate.yaml",
  "certs/root-ca.yaml",
  "certs/cert-chain.pem",
  "certs/key.pem",
  "certs/root-cert.pem",
];

export interface VmFile {
  path: string;
  content: string;
}

/**
 * Validates the config at `configPath` (an absolute VM path among `files`) with every file of `files` laid out
 * under a temp directory standing for the VM's root, so SDS files and the certificates they name are checked
 * as Envoy reads them at load time.
 */
export function validateEnvoyFiles(files: VmFile[], configPath: string): EnvoyValidation {
  const binary = envoyValidatorPath();
  const root = mkdtempSync(join(tmpdir(), "envoy-validate-"));
  try {
    for (const f of files) {
      const local = join(root, f.path);
      mkdirSync(dirname(local), { recursive: true });
      writeFileSync(local, f.content, { mode: 0o600 });
    }
    return run(binary, ["--root", root, join(root, configPath)]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** Validates a config alone (no file checks). */
export function validateEnvoyConfig(config: string): EnvoyValidation {
  const binary = envoyValidatorPath();
  const dir = mkdtempSync(join(tmpdir(), "envoy-validate-"));
  try {
    writeFileSync(join(dir, "envoy.yaml"), config);
    return run(binary, [join(dir, "envoy.yaml")]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function run(binary: string, args: string[]): EnvoyValidation {
  const r = spawnSync(binary, args, { encoding: "utf8", env: {}, timeout: 30_000 });
  if (r.error) throw r.error;
  if (r.status === 0) return { ok: true, problems: [], summary: JSON.parse(r.stdout) };
  if (r.status !== 1) throw new Error(`envoy-validate exited ${r.status}: ${r.stderr}`);
  const problems = r.stderr
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => l.replace(/^envoy-validate: /, ""));
  return { ok: false, problems };
}
