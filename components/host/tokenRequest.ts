// The bootstrap token: a Kubernetes TokenRequest for the workload's ServiceAccount (audience istio-ca), minted
// by a small Node program that `local.Command` runs at `up` (never at preview). The program text is constant, so
// it never causes a diff; the cluster credentials and the request arrive on stdin as one secret JSON document,
// and the token leaves on stdout, which is a secret output and never streamed to the log.
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { excerpt } from "../rules/values";

/** Where and as whom the minting program talks to the API server (from a kubeconfig). */
export interface ApiServerAccess {
  server: string;
  /** PEM CA bundle of the API server. */
  caPem?: string;
  insecureSkipTlsVerify?: boolean;
  tlsServerName?: string;
  bearerToken?: string;
  clientCertPem?: string;
  clientKeyPem?: string;
  /** client-go exec credential plugin; run by the minting program, on the machine running Pulumi. */
  exec?: { command: string; args: string[]; env: Record<string, string> };
}

/** The stdin document of the minting program. */
export interface TokenRequestInput {
  access: ApiServerAccess;
  namespace: string;
  serviceAccount: string;
  audiences: string[];
  expirationSeconds: number;
}

interface NamedEntry<T> {
  name: string;
  [key: string]: unknown;
  cluster?: T;
  user?: T;
  context?: T;
}

function fromBase64OrFile(data: unknown, file: unknown, what: string): string | undefined {
  if (typeof data === "string" && data !== "") {
    return Buffer.from(data, "base64").toString("utf8");
  }
  if (typeof file === "string" && file !== "") {
    try {
      return readFileSync(file, "utf8");
    } catch (err) {
      throw new Error(
        `kubeconfig: cannot read ${what} file "${file}": ${(err as NodeJS.ErrnoException).code}`,
      );
    }
  }
  return undefined;
}

/** Resolves a kubeconfig (YAML or JSON) and an optional context name to what the minting program needs. */
export function apiServerAccessFromKubeconfig(kubeconfig: string, context?: string): ApiServerAccess {
  let doc: Record<string, unknown>;
  try {
    doc = parse(kubeconfig) as Record<string, unknown>;
  } catch {
    // The YAML error would quote the document, which holds credentials.
    throw new Error("kubeconfig is not valid YAML");
  }
  if (!doc || typeof doc !== "object") {
    throw new Error("kubeconfig is empty");
  }
  const list = <T>(key: string) => (Array.isArray(doc[key]) ? (doc[key] as NamedEntry<T>[]) : []);
  const contextName = context || (doc["current-context"] as string | undefined);
  const ctx = list<Record<string, string>>("contexts").find((c) => c.name === contextName)?.context;
  if (!ctx) {
    throw new Error(`kubeconfig has no context ${excerpt(contextName ?? "")}`);
  }
  const cluster = list<Record<string, unknown>>("clusters").find((c) => c.name === ctx.cluster)?.cluster;
  if (!cluster || typeof cluster.server !== "string") {
    throw new Error(`kubeconfig has no cluster ${excerpt(ctx.cluster)} with a server`);
  }
  const user = list<Record<string, unknown>>("users").find((u) => u.name === ctx.user)?.user ?? {};
  const access: ApiServerAccess = { server: cluster.server };
  const ca = fromBase64OrFile(cluster["certificate-authority-data"], cluster["certificate-authority"], "CA");
  if (ca) access.caPem = ca;
  if (cluster["insecure-skip-tls-verify"] === true) access.insecureSkipTlsVerify = true;
  if (typeof cluster["tls-server-name"] === "string") access.tlsServerName = cluster["tls-server-name"];
  const token =
    typeof user.token === "string" && user.token !== ""
      ? user.token
      : fromBase64OrFile(undefined, user.tokenFile, "token")?.trim();
  if (token) access.bearerToken = token;
  const cert = fromBase64OrFile(
    user["client-certificate-data"],
    user["client-certificate"],
    "client certificate",
  );
  const key = fromBase64OrFile(user["client-key-data"], user["client-key"], "client key");
  if (cert && key) {
    access.clientCertPem = cert;
    access.clientKeyPem = key;
  }
  const exec = user.exec as
    { command?: string; args?: string[]; env?: { name: string; value: string }[] } | undefined;
  if (exec?.command) {
    access.exec = {
      command: exec.command,
      args: exec.args ?? [],
      env: Object.fromEntries((exec.env ?? []).map((e) => [e.name, e.value])),
    };
  }
  if (!access.bearerToken && !access.clientCertPem && !access.exec) {
    throw new Error(`kubeconfig user ${excerpt(ctx.user)} has no token, client certificate or exec plugin`);
  }
  return access;
}

/**
 * Rotation window index: a new token is minted whenever it changes. A token minted in window k expires at
 * least `renewBeforeSeconds` after the end of window k (windows are lifetime − renewBefore long), so an `up`
 * never leaves a token that is within the margin of its expiry, without remembering when it was minted.
 */
export function tokenRotationWindow(
  nowMs: number,
  expirationSeconds: number,
  renewBeforeSeconds: number,
): number {
  if (!Number.isInteger(expirationSeconds) || expirationSeconds < 600) {
    throw new Error(
      `token lifetime must be a whole number of seconds, at least 600 (got ${expirationSeconds})`,
    );
  }
  if (!(renewBeforeSeconds >= 0) || renewBeforeSeconds >= expirationSeconds) {
    throw new Error(
      `token renewal margin must be at least 0 and below the lifetime (got ${renewBeforeSeconds})`,
    );
  }
  return Math.floor(nowMs / 1000 / (expirationSeconds - renewBeforeSeconds));
}

/**
 * The minting program, run as `node -e <text>`. Reads a TokenRequestInput on stdin and prints
 * `{"token":…,"expirationTimestamp":…}`. Error messages name the ServiceAccount and HTTP status only.
 */
export const MINT_TOKEN_PROGRAM = `"use strict";
const https = require("node:https"), http = require("node:http"), cp = require("node:child_process");
function fail(message) { process.stderr.write("mesh-vm token: " + message + "\\n"); process.exit(1); }
let text = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (d) => { text += d; });
process.stdin.on("end", () => {
  let input;
  try { input = JSON.parse(text); } catch { fail("stdin is not a token request document"); }
  const a = input.access, ns = input.namespace, sa = input.serviceAccount;
  let bearer = a.bearerToken, cert = a.clientCertPem, key = a.clientKeyPem;
  if (a.exec && !bearer && !cert) {
    let cred;
    try {
      const out = cp.execFileSync(a.exec.command, a.exec.args, { env: { ...process.env, ...a.exec.env }, stdio: ["ignore", "pipe", "ignore"] });
      cred = JSON.parse(out.toString("utf8")).status || {};
    } catch (e) { fail("kubeconfig exec plugin " + a.exec.command + " failed"); }
    bearer = cred.token; cert = cred.clientCertificateData; key = cred.clientKeyData;
  }
  const url = new URL(a.server.replace(/\\/+$/, "") + "/api/v1/namespaces/" + encodeURIComponent(ns) +
    "/serviceaccounts/" + encodeURIComponent(sa) + "/token");
  const body = JSON.stringify({ apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest",
    spec: { audiences: input.audiences, expirationSeconds: input.expirationSeconds } });
  const options = { method: "POST", timeout: 30000, headers: { "Content-Type": "application/json",
    Accept: "application/json", "Content-Length": Buffer.byteLength(body) } };
  if (bearer) options.headers.Authorization = "Bearer " + bearer;
  if (url.protocol === "https:") {
    if (a.caPem) options.ca = a.caPem;
    if (a.insecureSkipTlsVerify) options.rejectUnauthorized = false;
    if (a.tlsServerName) options.servername = a.tlsServerName;
    if (cert && key) { options.cert = cert; options.key = key; }
  }
  const req = (url.protocol === "https:" ? https : http).request(url, options, (res) => {
    let data = "";
    res.setEncoding("utf8");
    res.on("data", (d) => { data += d; });
    res.on("end", () => {
      if (res.statusCode !== 201 && res.statusCode !== 200) {
        let reason = "";
        try { reason = JSON.parse(data).message || ""; } catch { reason = ""; }
        fail("TokenRequest for ServiceAccount " + ns + "/" + sa + " failed: HTTP " + res.statusCode + " " + reason);
      }
      let status;
      try { status = JSON.parse(data).status || {}; } catch { fail("TokenRequest answer is not JSON"); }
      if (!status.token) fail("TokenRequest answer has no token");
      process.stdout.write(JSON.stringify({ token: status.token, expirationTimestamp: status.expirationTimestamp }));
    });
  });
  req.on("timeout", () => req.destroy(new Error("timed out after 30s")));
  req.on("error", (e) => fail("TokenRequest to " + url.host + " failed: " + e.message));
  req.end(body);
});
`;

/** Parses the minting program's stdout. */
export function parseMintedToken(stdout: string): { token: string; expirationTimestamp: string } {
  let parsed: { token?: unknown; expirationTimestamp?: unknown };
  try {
    parsed = JSON.parse(stdout) as typeof parsed;
  } catch {
    throw new Error("token minting printed something other than its JSON answer");
  }
  if (typeof parsed.token !== "string" || parsed.token === "") {
    throw new Error("token minting returned no token");
  }
  return { token: parsed.token, expirationTimestamp: String(parsed.expirationTimestamp ?? "") };
}
