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
  for (const m of text.matchAll(/-----BEGIN (OPENSSH |EC |RSA )?PRIVATE KEY-----/g))
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
