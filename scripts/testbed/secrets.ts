// Secret scans for the end-to-end tests: where a known secret value (token, private key, kubeconfig credential)
// shows up in plain text. A finding names the secret by its label and the place by a short excerpt with the
// value itself masked, so a failing test says what leaked where without printing the secret.

import { parse } from "yaml";

export interface KnownSecret {
  /** What it is, e.g. "bootstrap token of ratings-vm" (never the value). */
  label: string;
  value: string;
}

/** Each occurrence of a secret in `text`: "<label> in <where>: …excerpt…" with the value masked. */
export function secretFindings(where: string, text: string, secrets: KnownSecret[]): string[] {
  const findings: string[] = [];
  for (const { label, value } of secrets) {
    if (value.length < 16) continue; // too short to be told apart from ordinary text
    let at = text.indexOf(value);
    while (at >= 0) {
      const excerpt = (
        text.slice(Math.max(0, at - 120), at) +
        "<SECRET>" +
        text.slice(at + value.length, at + value.length + 60)
      ).replace(/\s+/g, " ");
      findings.push(`${label} in ${where}: …${excerpt}…`);
      at = text.indexOf(value, at + value.length);
    }
  }
  const pem = /-----BEGIN (OPENSSH |EC |RSA )?PRIVATE KEY-----/.exec(text);
  if (pem)
    findings.push(`a PEM private key in ${where}: …${text.slice(Math.max(0, pem.index - 120), pem.index)}…`);
  return findings;
}

/**
 * A known upstream leak, kept out of the scans and pinned down by name: @pulumi/pulumi logs each resource RPC's
 * response at debug severity ("RegisterResource RPC finished: … resp: …"), secret values included. The CLI prints
 * debug lines only with --debug; event logs (--event-log, the Automation API's event stream) carry them.
 */
export function isSdkDebugResponse(event: {
  diagnosticEvent?: { severity: string; message: string };
}): boolean {
  const d = event.diagnosticEvent;
  return (
    d !== undefined &&
    d.severity === "debug" &&
    /^(RegisterResource|ReadResource|getResource Invoke) RPC finished: /.test(d.message)
  );
}

/**
 * The secrets an onboarding test knows: the bootstrap tokens it read from the hosts, each host's admin private key
 * (a line of its body), and every credential field of the kubeconfig's users.
 */
export function knownSecrets(opts: {
  tokens: string[];
  hosts: { name: string; adminPrivateKey: string }[];
  kubeconfig: string;
}): KnownSecret[] {
  const kube = parse(opts.kubeconfig) as { users: { user: Record<string, unknown> }[] };
  return [
    ...opts.tokens.map((value, i) => ({ label: `bootstrap token #${i}`, value })),
    ...opts.hosts.map((h) => ({ label: `admin key of ${h.name}`, value: h.adminPrivateKey.split("\n")[1]! })),
    ...kube.users.flatMap((u) =>
      Object.entries(u.user).flatMap(([k, value]) =>
        typeof value === "string" ? [{ label: `kubeconfig ${k}`, value }] : [],
      ),
    ),
  ];
}

/** One occurrence of a known secret (or a PEM private key header) in a text, with the line around it. */
export interface SecretHit {
  label: string;
  /** The whole line holding the occurrence (for telling known upstream lines apart); never printed. */
  line: string;
}

/** Every occurrence of the secrets (and of any PEM private key header) in `text`, with its line. */
export function secretHits(text: string, secrets: KnownSecret[]): SecretHit[] {
  const lineAt = (at: number): string => {
    const start = text.lastIndexOf("\n", at) + 1;
    const end = text.indexOf("\n", at);
    return text.slice(start, end < 0 ? text.length : end);
  };
  const hits: SecretHit[] = [];
  for (const { label, value } of secrets) {
    if (value.length < 16) continue;
    for (let at = text.indexOf(value); at >= 0; at = text.indexOf(value, at + value.length))
      hits.push({ label, line: lineAt(at) });
  }
  // Key material after the header (a real line break or an escaped one), not the header string alone in code.
  for (const m of text.matchAll(/-----BEGIN (OPENSSH |EC |RSA )?PRIVATE KEY-----(\n|\\n)[A-Za-z0-9+/]{40}/g))
    hits.push({ label: "a PEM private key", line: lineAt(m.index) });
  return hits;
}

/**
 * The upstream debug line of isSdkDebugResponse as the engine's log writes it (`-v=9`: each diagnostic goes to the
 * log as `defaultSink::Debug(…)`), or as the CLI prints it with `--debug`.
 */
export function isSdkDebugResponseLine(line: string): boolean {
  return /(RegisterResource|ReadResource|getResource Invoke) RPC finished: /.test(line);
}

/** Pulumi's secret signature key and value (sdk/go/common/resource/sig): how a secret travels over RPC. */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const SECRET_MARK = "1b47061264138c4ac30d75fd1eb44270";

/** Upstream log lines that carry secret values at high verbosity, by kind (see classifyUpstreamHit). */
export type UpstreamLeak =
  "sdk-rpc-response" | "rpc-property-log" | "multi-line-value" | "kubeconfig-temp-file";

/**
 * Which known upstream line a secret hit sits in, or undefined (then it is ours to fix):
 * - `sdk-rpc-response`: @pulumi/pulumi's debug line of a resource RPC's response (isSdkDebugResponse), and the
 *   later lines of that message as the CLI prints them with `--debug`;
 * - `rpc-property-log`: the Go RPC layer's `Marshaling property for RPC[…]` / `Unmarshaling property for RPC[…]` at
 *   log level 9 (sdk/go/common/resource/plugin/rpc.go), written by the engine for every resource RPC and, with
 *   `--logflow`, by each provider plugin; it prints secret values in full;
 * - `multi-line-value`: a line holding nothing but the secret (optionally `token: `), i.e. a later line of a
 *   multi-line value (a private key's body, a kubeconfig) that one of the lines above began; the engine relays a
 *   plugin's log line by line, so such lines stand alone in its log and in `--debug` output;
 * - `kubeconfig-temp-file`: a `kubeconfig<digits>` file pulumi-kubernetes writes into TMPDIR and leaves there.
 * `masked` is the line with every secret replaced by `<S>`.
 */
export function classifyUpstreamHit(masked: string, file?: string): UpstreamLeak | undefined {
  if (file !== undefined && /(^|\/)kubeconfig\d+$/.test(file)) return "kubeconfig-temp-file";
  // The SDK's line, or a later line of it: it prints the response message in google-protobuf's array form, where a
  // secret shows as `,<secret signature>,,,1b47…,value,,,<value>` (the CLI prints a multi-line message line by line).
  if (isSdkDebugResponseLine(masked) || masked.includes(`,${SECRET_SIG},,,${SECRET_MARK},value,`))
    return "sdk-rpc-response";
  if (/(Un)?[Mm]arshaling property for RPC\[/.test(masked)) return "rpc-property-log";
  // Unwrap the engine's JSON log record, its eventSink::Debug(…) echo, the CLI's `… debug: ` prefix.
  let inner = masked;
  const record = /^\{"time":"[^"]*","level":"[A-Z]+","msg":"(.*)","v":\d+\}$/.exec(inner);
  if (record) inner = record[1]!;
  inner = inner
    .replace(/^eventSink::Debug\((.*)\)$/, "$1")
    .replaceAll("<{%reset%}>", "")
    .replace(/^.* debug: /, "")
    .replace(/(\\n)+$/, "");
  if (/^\s*(token:\s*)?<S>\s*$/.test(inner)) return "multi-line-value";
  return undefined;
}
