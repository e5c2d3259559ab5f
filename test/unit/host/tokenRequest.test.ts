// Runs the token-minting program for real against a stand-in API server on loopback.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer, IncomingMessage } from "node:http";
import { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { localProgram } from "../../../components/localProgram";
import {
  TokenRequestInput,
  apiServerAccessFromKubeconfig,
  parseMintedToken,
  tokenRotationWindow,
} from "../../../components/host/tokenRequest";

interface Seen {
  method?: string;
  url?: string;
  authorization?: string;
  body: unknown;
}
const seen: Seen[] = [];
const server = createServer((req: IncomingMessage, res) => {
  let body = "";
  req.on("data", (d: Buffer) => (body += d.toString()));
  req.on("end", () => {
    seen.push({
      method: req.method,
      url: req.url,
      authorization: req.headers.authorization,
      body: JSON.parse(body),
    });
    if (req.url?.includes("/serviceaccounts/missing/")) {
      res.writeHead(404, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ kind: "Status", message: 'serviceaccounts "missing" not found' }));
      return;
    }
    res.writeHead(201, { "Content-Type": "application/json" });
    res.end(
      JSON.stringify({
        kind: "TokenRequest",
        status: { token: "minted.jwt.value", expirationTimestamp: "2026-11-23T05:00:00Z" },
      }),
    );
  });
});
let serverUrl = "";
before(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  serverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => server.close());

function mint(input: TokenRequestInput): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["-e", localProgram("mintToken")], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(JSON.stringify(input));
  });
}

describe("token minting program", () => {
  it("POSTs a TokenRequest with the audience and lifetime and prints the token", async () => {
    const result = await mint({
      access: { server: serverUrl, bearerToken: "ADMIN-BEARER" },
      namespace: "bookinfo",
      serviceAccount: "bookinfo-ratings",
      audiences: ["istio-ca"],
      expirationSeconds: 86400,
    });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(parseMintedToken(result.stdout), {
      token: "minted.jwt.value",
      expirationTimestamp: "2026-11-23T05:00:00Z",
    });
    const request = seen.at(-1)!;
    assert.equal(request.method, "POST");
    assert.equal(request.url, "/api/v1/namespaces/bookinfo/serviceaccounts/bookinfo-ratings/token");
    assert.equal(request.authorization, "Bearer ADMIN-BEARER");
    assert.deepEqual(request.body, {
      apiVersion: "authentication.k8s.io/v1",
      kind: "TokenRequest",
      spec: { audiences: ["istio-ca"], expirationSeconds: 86400 },
    });
  });

  it("fails with the API server's reason and no credential in the message", async () => {
    const result = await mint({
      access: { server: serverUrl, bearerToken: "ADMIN-BEARER" },
      namespace: "bookinfo",
      serviceAccount: "missing",
      audiences: ["istio-ca"],
      expirationSeconds: 600,
    });
    assert.equal(result.code, 1);
    assert.equal(result.stdout, "");
    assert.match(
      result.stderr,
      /ServiceAccount bookinfo\/missing failed: HTTP 404 serviceaccounts "missing" not found/,
    );
    assert.doesNotMatch(result.stderr, /ADMIN-BEARER/);
  });

  it("reports an unreachable API server by host only", async () => {
    const result = await mint({
      access: { server: "http://127.0.0.1:9", bearerToken: "ADMIN-BEARER" },
      namespace: "ns",
      serviceAccount: "sa",
      audiences: ["istio-ca"],
      expirationSeconds: 600,
    });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /TokenRequest to 127\.0\.0\.1:9 failed/);
    assert.doesNotMatch(result.stderr, /ADMIN-BEARER/);
  });
});

describe("kubeconfig", () => {
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  const kubeconfig = `apiVersion: v1
kind: Config
current-context: a
contexts:
- name: a
  context: { cluster: one, user: certs }
- name: b
  context: { cluster: two, user: bearer }
clusters:
- name: one
  cluster: { server: "https://127.0.0.1:6443", certificate-authority-data: ${b64("CA PEM")} }
- name: two
  cluster: { server: "https://127.0.0.1:7443", insecure-skip-tls-verify: true }
users:
- name: certs
  user: { client-certificate-data: ${b64("CERT PEM")}, client-key-data: ${b64("KEY PEM")} }
- name: bearer
  user: { token: abc }
`;
  it("resolves the current or the named context", () => {
    assert.deepEqual(apiServerAccessFromKubeconfig(kubeconfig), {
      server: "https://127.0.0.1:6443",
      caPem: "CA PEM",
      clientCertPem: "CERT PEM",
      clientKeyPem: "KEY PEM",
    });
    assert.deepEqual(apiServerAccessFromKubeconfig(kubeconfig, "b"), {
      server: "https://127.0.0.1:7443",
      insecureSkipTlsVerify: true,
      bearerToken: "abc",
    });
  });
  it("fails without quoting the document", () => {
    assert.throws(() => apiServerAccessFromKubeconfig(kubeconfig, "nope"), /no context "nope"/);
    assert.throws(
      () => apiServerAccessFromKubeconfig("users: [ {token: SECRETVALUE"),
      (err: Error) => /not valid YAML/.test(err.message) && !err.message.includes("SECRETVALUE"),
    );
  });
});

describe("tokenRotationWindow", () => {
  it("never lets an up keep a token within the margin of its expiry", () => {
    const lifetime = 86400;
    const margin = 3600;
    for (let mintedAt = 0; mintedAt < 3 * lifetime; mintedAt += 977) {
      const window = tokenRotationWindow(mintedAt * 1000, lifetime, margin);
      for (let upAt = mintedAt; upAt < mintedAt + lifetime; upAt += 1013) {
        if (tokenRotationWindow(upAt * 1000, lifetime, margin) === window) {
          assert.ok(mintedAt + lifetime - upAt > margin, `kept at ${upAt} a token minted at ${mintedAt}`);
        }
      }
    }
  });
  it("rejects margins that leave no window", () => {
    assert.throws(() => tokenRotationWindow(0, 3600, 3600), /below the lifetime/);
    assert.throws(() => tokenRotationWindow(0, 60, 0), /at least 600/);
  });
});
