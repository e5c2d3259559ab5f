// The token-minting program against the real kube-apiserver: the kubeconfig resolved the way VmProxy does,
// the request on stdin, a TokenRequest the API server audits, and a token it accepts for istio-ca.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { localProgram } from "../../components/localProgram";
import {
  TokenRequestInput,
  apiServerAccessFromKubeconfig,
  parseMintedToken,
} from "../../components/host/tokenRequest";
import { startCluster, type TestCluster } from "../../scripts/testbed/cluster";
import { toolchainEnv } from "../../scripts/testbed/toolchain";

const NS = "token-e2e";
const SA = "vm-identity";

/** Runs the program exactly as VmProxy's local.Command does: `node -e <program>`, the request on stdin. */
function mint(
  input: TokenRequestInput,
): Promise<{ code: number; stdout: string; stderr: string; argv: string[] }> {
  return new Promise((resolve) => {
    const argv = ["node", "-e", localProgram("mintToken")];
    const child = spawn(argv[0], argv.slice(1), {
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...process.env, PATH: toolchainEnv().PATH },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr, argv }));
    child.stdin.end(JSON.stringify(input));
  });
}

describe("token minting against a real kube-apiserver", { timeout: 5 * 60_000 }, () => {
  let cluster: TestCluster | undefined;

  before(async () => {
    cluster = await startCluster();
    await cluster.createNamespace(NS);
    await cluster.createServiceAccount(NS, SA);
  });

  after(async () => {
    if (cluster) await cluster.stop();
  });

  it("mints an istio-ca token with the requested lifetime, which the API server accepts", async () => {
    const access = apiServerAccessFromKubeconfig(cluster!.kubeconfig);
    assert.equal(access.server, cluster!.server);
    const result = await mint({
      access,
      namespace: NS,
      serviceAccount: SA,
      audiences: ["istio-ca"],
      expirationSeconds: 7200,
    });
    assert.equal(result.code, 0, result.stderr);
    const { token, expirationTimestamp } = parseMintedToken(result.stdout);
    const claims = JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString("utf8")) as {
      aud: string[];
      sub: string;
      exp: number;
      iat: number;
    };
    assert.deepEqual(claims.aud, ["istio-ca"]);
    assert.equal(claims.sub, `system:serviceaccount:${NS}:${SA}`);
    assert.equal(claims.exp - claims.iat, 7200);
    assert.equal(new Date(expirationTimestamp).getTime() / 1000, claims.exp);

    const review = await cluster!.request("POST", "/apis/authentication.k8s.io/v1/tokenreviews", {
      apiVersion: "authentication.k8s.io/v1",
      kind: "TokenReview",
      spec: { token, audiences: ["istio-ca"] },
    });
    assert.equal(review.body.status.authenticated, true);

    const audited = (await cluster!.auditEvents()).filter(
      (e) => e.objectRef?.subresource === "token" && e.objectRef?.name === SA && e.verb === "create",
    );
    assert.equal(audited.length, 1, "exactly one TokenRequest");
    for (const secret of [token, access.bearerToken, access.clientKeyPem].filter(Boolean) as string[]) {
      assert.ok(!result.argv.join(" ").includes(secret), "no credential on the command line");
    }
  });

  it("reports a missing ServiceAccount by name and status, without credentials", async () => {
    const access = apiServerAccessFromKubeconfig(cluster!.kubeconfig);
    const result = await mint({
      access,
      namespace: NS,
      serviceAccount: "nobody",
      audiences: ["istio-ca"],
      expirationSeconds: 3600,
    });
    assert.equal(result.code, 1);
    assert.equal(result.stdout, "");
    assert.match(result.stderr, /ServiceAccount token-e2e\/nobody failed: HTTP 404/);
    for (const secret of [access.bearerToken, access.clientKeyPem].filter(Boolean) as string[]) {
      assert.ok(!result.stderr.includes(secret.trim()), "no credential in the error");
    }
  });

  it("refuses an API server whose certificate the kubeconfig CA did not sign", async () => {
    const access = apiServerAccessFromKubeconfig(cluster!.kubeconfig);
    const other = await mint({
      access: { ...access, caPem: cluster!.meshRootCaPem },
      namespace: NS,
      serviceAccount: SA,
      audiences: ["istio-ca"],
      expirationSeconds: 3600,
    });
    assert.equal(other.code, 1);
    assert.match(
      other.stderr,
      /TokenRequest to 127\.0\.0\.1:\d+ failed: .*(certificate|self.signed|issuer)/i,
    );
  });
});
