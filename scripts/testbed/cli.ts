// The `pulumi` CLI as a user runs it: a copy of a project of this repository (the root program, an example) in a
// temp dir, its own file backend and passphrase, the toolchain's CLI and plugins, and nothing else. Programs run
// through the Node.js language host (`runtime: nodejs`), not the Automation API's inline mode.
// Secrets go in on standard input (`pulumi config set --secret` reads its value from stdin when none is given),
// never on a command line; the passphrase only in the CLI's environment.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pulumiRoot, toolchainEnv } from "./toolchain";

export const repoRoot = resolve(__dirname, "../..");

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** One engine event of `--event-log` (only the fields the tests read). */
export interface CliEvent {
  resourcePreEvent?: { metadata: { op: string; urn: string; type: string } };
  resOutputsEvent?: { metadata: { op: string; urn: string; type: string } };
  diagnosticEvent?: { severity: string; message: string };
  [kind: string]: unknown;
}

export interface RunOptions {
  input?: string;
  timeoutMs?: number;
  /** More environment for this run (e.g. TMPDIR, where the CLI and plugins write their log files). */
  env?: Record<string, string>;
  /** The output holds secrets (`stack export --show-secrets`): keep it out of transcript(). */
  secret?: boolean;
  /** Called with the CLI's PID once it started (e.g. to pause it with SIGSTOP while it holds the stack's lock). */
  onStart?: (pid: number) => void;
}

export interface CliProject {
  /** The project copy the CLI runs in. */
  dir: string;
  /** Runs `pulumi ARGS` in the project dir with `--stack` and `--non-interactive`; stdin optional. */
  pulumi(args: string[], options?: RunOptions): Promise<CliResult>;
  /** Like `pulumi` but throws with the CLI's output on a non-zero exit. */
  ok(args: string[], options?: RunOptions): Promise<CliResult>;
  /** Runs `pulumi ARGS --event-log FILE` and returns the result with the engine events it wrote. */
  withEvents(args: string[], options?: RunOptions): Promise<CliResult & { events: CliEvent[] }>;
  /** `pulumi config set --path KEY VALUE` for each plain value (one `config set-all` call). */
  setPlain(values: Record<string, string>): Promise<void>;
  /** `pulumi config set --secret --path KEY` with the value on stdin. */
  setSecret(key: string, value: string): Promise<void>;
  /** Everything this project's CLI runs printed so far (for the secret scans). */
  transcript(): string;
  /** Every engine event of the runs with `withEvents` so far. */
  events(): CliEvent[];
  /** Removes the project copy and its backend. */
  dispose(): void;
}

/**
 * Copies `projectDir` (relative to the repo root) to a temp dir and initialises stack `stack` there. `files` are
 * the project's own paths to copy (default: everything); `nodeModules` is linked in as the project's
 * node_modules (a user ran `npm install`).
 */
export async function cliProject(opts: {
  files: string[];
  from?: string;
  /** Linked in as the project's node_modules (a user ran `npm install`); none for a YAML project. */
  nodeModules?: string;
  stack: string;
  /** The state backend (default: a file backend of this project's own). */
  backendUrl?: string;
  /** More environment for every run (e.g. the backend's credentials, PGPASSWORD). */
  env?: Record<string, string>;
  /** The secrets passphrase (default: random): two checkouts of one stack share it, as CI runners do. */
  passphrase?: string;
  /** Select the existing stack (another checkout created it; its Pulumi.<stack>.yaml is among `files`) instead of creating it. */
  join?: boolean;
}): Promise<CliProject> {
  const base = mkdtempSync(join(tmpdir(), "mesh-vm-cli-"));
  const dir = join(base, "project");
  const from = opts.from ?? repoRoot;
  for (const f of opts.files) cpSync(join(from, f), join(dir, f), { recursive: true });
  if (opts.nodeModules) symlinkSync(opts.nodeModules, join(dir, "node_modules"));
  const env = {
    ...process.env,
    ...toolchainEnv(),
    PULUMI_BACKEND_URL: opts.backendUrl ?? `file://${join(base, "state")}`,
    // Random per project unless shared, and only in the CLI's environment: never on a command line.
    PULUMI_CONFIG_PASSPHRASE: opts.passphrase ?? randomBytes(16).toString("hex"),
    PULUMI_DIY_BACKEND_NO_LEGACY_WARNING: "true",
    ...opts.env,
  };
  mkdirSync(join(base, "state"));
  const transcript: string[] = [];
  const allEvents: CliEvent[] = [];

  const run = (args: string[], o: RunOptions = {}): Promise<CliResult> =>
    new Promise((done) => {
      const child = execFile(
        join(pulumiRoot(), "bin", "pulumi"),
        [...args, "--stack", opts.stack, "--non-interactive", "--color", "never"],
        {
          cwd: dir,
          env: { ...env, ...o.env },
          timeout: o.timeoutMs ?? 15 * 60_000,
          maxBuffer: 64 * 1024 * 1024,
          encoding: "utf8",
        },
        (error, stdout, stderr) => {
          if (!o.secret) transcript.push(stdout, stderr);
          const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
          done({ code, stdout, stderr });
        },
      );
      child.stdin?.on("error", () => undefined);
      child.stdin?.end(o.input ?? "");
      if (child.pid !== undefined) o.onStart?.(child.pid);
    });
  const ok = async (args: string[], o?: RunOptions) => {
    const r = await run(args, o);
    if (r.code !== 0) {
      throw new Error(`pulumi ${args[0]} ${args[1] ?? ""} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
    }
    return r;
  };

  const project: CliProject = {
    dir,
    pulumi: run,
    ok,
    async withEvents(args, options = {}) {
      const log = join(base, `events-${Date.now()}.jsonl`);
      // --event-log is one of the CLI's hidden flags (the Automation API's way to get events), shown and accepted
      // only with PULUMI_DEBUG_COMMANDS; it changes nothing else.
      const r = await run([...args, "--event-log", log], {
        ...options,
        env: { ...options.env, PULUMI_DEBUG_COMMANDS: "true" },
      });
      let events: CliEvent[] = [];
      try {
        const text = readFileSync(log, "utf8");
        events = text
          .split("\n")
          .filter((l) => l.trim())
          .map((l) => JSON.parse(l) as CliEvent);
      } catch {
        // no event log: the CLI failed before the engine started; r says why
      }
      rmSync(log, { force: true });
      allEvents.push(...events);
      return { ...r, events };
    },
    async setPlain(values) {
      const pairs = Object.entries(values).flatMap(([k, v]) => ["--plaintext", `${k}=${v}`]);
      if (pairs.length) await ok(["config", "set-all", "--path", ...pairs]);
    },
    async setSecret(key, value) {
      await ok(["config", "set", "--secret", "--path", key], { input: value });
    },
    transcript: () => transcript.join("\n"),
    events: () => allEvents,
    dispose: () => rmSync(base, { recursive: true, force: true }),
  };
  await ok(opts.join ? ["stack", "select"] : ["stack", "init", "--secrets-provider", "passphrase"]);
  return project;
}
