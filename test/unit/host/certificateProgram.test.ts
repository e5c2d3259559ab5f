// The certificate program's own failures, run for real with `node -e` as local.Command runs it: a document that
// is not JSON, a token that cannot be minted (the API server unreachable), and what its parser accepts. Its
// success path is proven against the real istiod (test/e2e/envoyCertificate.test.ts).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { parseIssuedCertificate } from "../../../components/host/certificateProgram";
import { localProgram } from "../../../components/localProgram";

function run(stdin: string) {
  return spawnSync(process.execPath, ["-e", localProgram("issueCertificate")], {
    input: stdin,
    encoding: "utf8",
    timeout: 60_000,
  });
}

describe("the workload certificate program", () => {
  it("refuses a stdin that is not its document", () => {
    const r = run("not json");
    assert.equal(r.status, 1);
    assert.equal(r.stderr.trim(), "mesh-vm certificate: stdin is not a certificate request document");
  });

  it("stops at the token when the API server cannot be reached, naming the step and never the credentials", () => {
    const input = {
      tokenRequest: {
        access: { server: "https://127.0.0.1:1", bearerToken: "secret-admin-token" },
        namespace: "vms",
        serviceAccount: "dev",
        audiences: ["istio-ca"],
        expirationSeconds: 600,
      },
      csrPem: "",
      validitySeconds: 3600,
      caAddress: "127.0.0.1:1",
      caServerName: "istiod.istio-system.svc",
      rootPem: "",
      spiffeId: "spiffe://cluster.local/ns/vms/sa/dev",
    };
    const r = run(JSON.stringify(input));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^mesh-vm certificate: mesh-vm token: TokenRequest to 127\.0\.0\.1:1 failed: /);
    assert.doesNotMatch(r.stderr + r.stdout, /secret-admin-token/);
  });

  it("parses only an answer with a certificate chain", () => {
    assert.throws(() => parseIssuedCertificate("x"), /printed something other than its JSON answer/);
    assert.throws(() => parseIssuedCertificate("{}"), /no certificate chain/);
    const pem = "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n";
    assert.deepEqual(
      parseIssuedCertificate(
        JSON.stringify({ certChain: pem, notAfter: "2026-12-08T00:00:00.000Z", spiffeId: "s" }),
      ),
      {
        certChain: pem,
        notAfter: "2026-12-08T00:00:00.000Z",
        spiffeId: "s",
      },
    );
  });
});
