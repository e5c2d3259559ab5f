// `<vm>-drift`: the resource whose read checks the VM (docs/reliability.md, Drift). A Pulumi dynamic resource, because
// the remote steps' provider (pulumi-command 1.2.1) has no Read: on `pulumi refresh` (and `up --refresh`) its read
// opens one SSH session over the remote steps' own connection (the pinned host key, the same credentials, through the
// bastion when there is one), runs the read-only check (driftCheck.ts) and records each drifted part in `proxyDrift` /
// `hostDrift`, which the refresh shows as a diff naming the VM and the part. Create, update and delete contact nothing:
// a no-op `up` opens no SSH session. At the next `up`, `check` turns recorded drift into a new repair marker for the
// step that repairs it (`proxyRepair` / `hostRepair`, a comment line in that step's script), so only that step runs.
//
// The provider's code is serialized into the state (`__provider`) by Pulumi's closure serialization: it captures
// nothing but the functions below and loads `ssh2` at run time. The connection (private key included) is one secret
// input: the engine keeps it, and the outputs of the same name, encrypted in the state.
import * as pulumi from "@pulumi/pulumi";

/** The remote steps' connection, as `@pulumi/command` takes it (secret as a whole). */
type Connection = object;

/** Inputs (and outputs) of the drift check. */
export interface DriftCheckInputs {
  vm: pulumi.Input<string>;
  connection: pulumi.Input<Connection>;
  /** The read-only check's command line (driftCheck.ts): public, rendered from the plan. */
  command: pulumi.Input<string>;
  /** With `hostGone`, the read contacts nothing and reports no drift. */
  hostGone: pulumi.Input<boolean>;
}

interface State {
  vm: string;
  connection: Connection;
  command: string;
  hostGone: boolean;
  proxyDrift: string[];
  hostDrift: string[];
  proxyRepair: string;
  hostRepair: string;
}

/** The part of `ssh2` used here (the package ships no types of its own). */
interface SshStream {
  on(event: "data", listener: (data: Buffer) => void): unknown;
  on(event: "close", listener: (code: number | null) => void): unknown;
  stderr: { on(event: "data", listener: (data: Buffer) => void): unknown };
}
interface SshClient {
  once(event: "ready", listener: () => void): unknown;
  once(event: "error", listener: (e: Error) => void): unknown;
  connect(options: Record<string, unknown>): unknown;
  exec(command: string, callback: (e: Error | undefined, stream: SshStream) => void): unknown;
  forwardOut(
    srcIp: string,
    srcPort: number,
    dstIp: string,
    dstPort: number,
    callback: (e: Error | undefined, stream: NodeJS.ReadableStream) => void,
  ): unknown;
  end(): unknown;
}

/** Runs `command` over SSH as `@pulumi/command` would: pinned host keys, optional bastion, bounded dialing. */
async function runOverSsh(
  connection: Record<string, unknown>,
  command: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded where the serialized provider runs
  const { Client } = require("ssh2") as { Client: new () => SshClient };
  const str = (v: unknown) => (typeof v === "string" && v !== "" ? v : undefined);
  const options = (c: Record<string, unknown>) => {
    const hostKey = str(c.hostKey);
    const [type, blob] = (hostKey ?? "").trim().split(/\s+/);
    const want = blob ? Buffer.from(blob, "base64") : undefined;
    const dialSeconds = typeof c.perDialTimeout === "number" ? c.perDialTimeout : 10;
    return {
      host: str(c.host),
      port: typeof c.port === "number" ? c.port : 22,
      username: str(c.user) ?? "root",
      privateKey: str(c.privateKey),
      passphrase: str(c.privateKeyPassword),
      agent: str(c.agentSocketPath),
      readyTimeout: dialSeconds * 1000,
      // No key pinned only with insecureIgnoreHostKey, as for the remote steps (which warned at preview).
      ...(want
        ? {
            algorithms: {
              serverHostKey: type === "ssh-rsa" ? ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] : [type],
            },
            hostVerifier: (key: Buffer) => Buffer.isBuffer(key) && key.equals(want),
          }
        : {}),
    };
  };
  const connect = (c: Record<string, unknown>, sock?: NodeJS.ReadableStream) =>
    new Promise<SshClient>((resolve, reject) => {
      const client = new Client();
      client.once("ready", () => resolve(client));
      client.once("error", (e: Error) => reject(e));
      client.connect({ ...options(c), ...(sock ? { sock } : {}) });
    });
  const dial = async () => {
    const bastion = connection.proxy as Record<string, unknown> | undefined;
    if (!bastion) return { target: await connect(connection) };
    const jump = await connect(bastion);
    const stream = await new Promise<NodeJS.ReadableStream>((resolve, reject) =>
      jump.forwardOut("127.0.0.1", 0, String(connection.host), Number(connection.port ?? 22), (e, s) =>
        e ? reject(e) : resolve(s),
      ),
    );
    return { jump, target: await connect(connection, stream) };
  };
  // Like the remote steps: a booting host gets several dials (at most dialErrorLimit, 10 here by default).
  const limit = Math.max(
    1,
    Math.min(typeof connection.dialErrorLimit === "number" ? connection.dialErrorLimit : 10, 20),
  );
  let last: unknown;
  for (let attempt = 1; attempt <= limit; attempt++) {
    let conns: { jump?: SshClient; target: SshClient } | undefined;
    try {
      conns = await dial();
    } catch (e) {
      last = e;
      // A host key mismatch does not get better by dialing again.
      if (/host key|verification/i.test(String((e as Error)?.message))) break;
      await new Promise((r) => setTimeout(r, Math.min(attempt, 5) * 1000));
      continue;
    }
    const { jump, target } = conns;
    try {
      return await new Promise((resolve, reject) => {
        target.exec(command, (e, stream) => {
          if (e) return reject(e);
          let stdout = "";
          let stderr = "";
          stream.on("data", (d: Buffer) => (stdout += d.toString()));
          stream.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
          stream.on("close", (code: number | null) => resolve({ code: code ?? -1, stdout, stderr }));
        });
      });
    } finally {
      target.end();
      jump?.end();
    }
  }
  throw new Error(`after ${limit} failed attempts: ${String((last as Error)?.message ?? last)}`);
}

/** The dynamic provider: every method is serialized into the state; none opens SSH but `read`. */
export const driftProvider: pulumi.dynamic.ResourceProvider = {
  // Recorded drift (from a refresh) becomes the repairing step's next marker; then it is cleared.
  async check(olds: Partial<State>, news: Partial<State>) {
    const next = (previous: string | undefined, drift: string[] | undefined) => {
      const prev = typeof previous === "string" ? previous : "";
      if (!Array.isArray(drift) || drift.length === 0) return prev;
      const n = Number(/^(\d+):/.exec(prev)?.[1] ?? "0") + 1;
      return `${n}: ${drift.join("; ")}`.replace(/[^\x20-\x7e]/g, "?").slice(0, 1000);
    };
    return {
      inputs: {
        ...news,
        proxyDrift: [],
        hostDrift: [],
        proxyRepair: next(olds.proxyRepair, olds.proxyDrift),
        hostRepair: next(olds.hostRepair, olds.hostDrift),
      },
    };
  },
  async diff(_id: string, olds: Partial<State>, news: Partial<State>) {
    const changed = [
      "vm",
      "connection",
      "command",
      "hostGone",
      "proxyDrift",
      "hostDrift",
      "proxyRepair",
      "hostRepair",
    ].filter(
      (k) =>
        JSON.stringify((olds as Record<string, unknown>)[k]) !==
        JSON.stringify((news as Record<string, unknown>)[k]),
    );
    return { changes: changed.length > 0, replaces: [], deleteBeforeReplace: false };
  },
  async create(inputs: State) {
    return { id: `${inputs.vm}-drift`, outs: inputs };
  },
  async update(_id: string, _olds: State, news: State) {
    return { outs: news };
  },
  // The check itself: one SSH session, on refresh only.
  async read(id: string, props: State) {
    if (props.hostGone) return { id, props };
    let result: { code: number; stdout: string; stderr: string };
    try {
      result = await runOverSsh(props.connection as Record<string, unknown>, props.command);
    } catch (e) {
      // ssh2's words (dial, handshake, authentication): no secret in them.
      throw new Error(
        `${props.vm}: the drift check could not run over SSH: ${String((e as Error)?.message ?? e)}`,
      );
    }
    if (result.code !== 0) {
      throw new Error(
        `${props.vm}: the drift check failed on the VM (exit ${result.code}): ${result.stderr.trim().slice(0, 400)}`,
      );
    }
    const found: Record<"host" | "proxy", string[]> = { host: [], proxy: [] };
    for (const line of result.stdout.split("\n")) {
      const m = /^(host|proxy) (.+)$/.exec(line.trim());
      if (m) found[m[1] as "host" | "proxy"].push(m[2]!.replace(/[^\x20-\x7e]/g, "?").slice(0, 300));
    }
    const next = { ...props, proxyDrift: found.proxy, hostDrift: found.host };
    // Returned as inputs too: the next `up`'s check() sees the drift in the old inputs.
    return { id, props: next, inputs: next };
  },
  async delete() {
    // Nothing to undo: the check owns nothing on the VM.
  },
};

/**
 * Whether this process is the package's component provider (a YAML, Python, … program uses the package): the
 * Node.js language host runs plugins through `@pulumi/pulumi/cmd/run-plugin`, programs through `cmd/run`. There the
 * engine starts the dynamic provider in the program's directory, which has no `@pulumi/pulumi` (pulumi/pulumi#5455).
 */
export function runsAsComponentProvider(argv: readonly string[] = process.argv): boolean {
  return /[\\/]cmd[\\/]run-plugin([\\/]|$)/.test(argv[1] ?? "");
}

/** `<vm>-drift`: reads the VM on refresh; its repair markers go into the steps' scripts. */
export class DriftCheck extends pulumi.dynamic.Resource {
  declare public readonly proxyRepair: pulumi.Output<string>;
  declare public readonly hostRepair: pulumi.Output<string>;
  declare public readonly proxyDrift: pulumi.Output<string[]>;
  declare public readonly hostDrift: pulumi.Output<string[]>;

  constructor(name: string, args: DriftCheckInputs, opts?: pulumi.CustomResourceOptions) {
    super(
      driftProvider,
      name,
      {
        ...args,
        connection: pulumi.secret(args.connection),
        proxyDrift: undefined,
        hostDrift: undefined,
        proxyRepair: undefined,
        hostRepair: undefined,
      },
      opts,
    );
  }
}
