// Mints a Kubernetes TokenRequest token (VmProxy's bootstrap token, the envoy runtime's certificate request), run
// by local.Command as `node -e <text>` on the machine running Pulumi (see ../localProgram.ts). Reads a
// TokenRequestInput on stdin and prints `{"token":…,"expirationTimestamp":…}`. Error messages name the
// ServiceAccount and HTTP status only. Node's own modules only: mesh-vm's dependencies are not resolvable here.
import { execFileSync } from "node:child_process";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest, type RequestOptions } from "node:https";
import type { TokenRequestInput } from "../host/tokenRequest";

/** A client-go exec plugin's answer (ExecCredential status). */
interface ExecCredentialStatus {
  token?: string;
  clientCertificateData?: string;
  clientKeyData?: string;
}

function fail(message: string): never {
  process.stderr.write("mesh-vm token: " + message + "\n");
  process.exit(1);
}

/** The exec plugin's credential: run on this machine, with its own environment added to ours. */
function execCredential(exec: NonNullable<TokenRequestInput["access"]["exec"]>): ExecCredentialStatus {
  try {
    const out = execFileSync(exec.command, exec.args, {
      env: { ...process.env, ...exec.env },
      stdio: ["ignore", "pipe", "ignore"],
    });
    return (JSON.parse(out.toString("utf8")) as { status?: ExecCredentialStatus }).status ?? {};
  } catch {
    return fail("kubeconfig exec plugin " + exec.command + " failed");
  }
}

function mint(input: TokenRequestInput): void {
  const a = input.access;
  const ns = input.namespace;
  const sa = input.serviceAccount;
  let bearer = a.bearerToken;
  let cert = a.clientCertPem;
  let key = a.clientKeyPem;
  if (a.exec && !bearer && !cert) {
    const cred = execCredential(a.exec);
    bearer = cred.token;
    cert = cred.clientCertificateData;
    key = cred.clientKeyData;
  }
  const url = new URL(
    a.server.replace(/\/+$/, "") +
      "/api/v1/namespaces/" +
      encodeURIComponent(ns) +
      "/serviceaccounts/" +
      encodeURIComponent(sa) +
      "/token",
  );
  const body = JSON.stringify({
    apiVersion: "authentication.k8s.io/v1",
    kind: "TokenRequest",
    spec: { audiences: input.audiences, expirationSeconds: input.expirationSeconds },
  });
  const headers: Record<string, string | number> = {
    "Content-Type": "application/json",
    Accept: "application/json",
    "Content-Length": Buffer.byteLength(body),
  };
  if (bearer) headers["Authorization"] = "Bearer " + bearer;
  const options: RequestOptions = { method: "POST", timeout: 30000, headers };
  if (url.protocol === "https:") {
    if (a.caPem) options.ca = a.caPem;
    if (a.insecureSkipTlsVerify) options.rejectUnauthorized = false;
    if (a.tlsServerName) options.servername = a.tlsServerName;
    if (cert && key) {
      options.cert = cert;
      options.key = key;
    }
  }
  const answered = (res: IncomingMessage): void => {
    let data = "";
    res.setEncoding("utf8");
    res.on("data", (d: string) => {
      data += d;
    });
    res.on("end", () => {
      if (res.statusCode !== 201 && res.statusCode !== 200) {
        let reason = "";
        try {
          reason = (JSON.parse(data) as { message?: string }).message || "";
        } catch {
          reason = "";
        }
        fail(
          "TokenRequest for ServiceAccount " +
            ns +
            "/" +
            sa +
            " failed: HTTP " +
            res.statusCode +
            " " +
            reason,
        );
      }
      let status: { token?: string; expirationTimestamp?: string } = {};
      try {
        status = (JSON.parse(data) as { status?: typeof status }).status || {};
      } catch {
        fail("TokenRequest answer is not JSON");
      }
      if (!status.token) fail("TokenRequest answer has no token");
      process.stdout.write(
        JSON.stringify({ token: status.token, expirationTimestamp: status.expirationTimestamp }),
      );
    });
  };
  const req =
    url.protocol === "https:" ? httpsRequest(url, options, answered) : httpRequest(url, options, answered);
  req.on("timeout", () => req.destroy(new Error("timed out after 30s")));
  req.on("error", (e) => fail("TokenRequest to " + url.host + " failed: " + e.message));
  req.end(body);
}

let text = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (d: string) => {
  text += d;
});
process.stdin.on("end", () => {
  let input: TokenRequestInput;
  try {
    input = JSON.parse(text) as TokenRequestInput;
  } catch {
    return fail("stdin is not a token request document");
  }
  mint(input);
});
