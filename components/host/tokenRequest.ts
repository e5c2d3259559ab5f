// The bootstrap token: a Kubernetes TokenRequest for the workload's ServiceAccount (audience istio-ca), minted
// by a small Node program (../programs/mintToken.ts) that `local.Command` runs at `up` (never at preview). The program text is constant, so
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
