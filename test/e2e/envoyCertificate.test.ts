// The envoy runtime's workload certificate from the real istiod CA, through the real engine: preview issues
// nothing; up mints a TokenRequest token (audience istio-ca) and calls istiod's CreateCertificate with a CSR of
// a key that stays secret; the certificate carries the VM's SPIFFE id, chains to istiod's root and belongs to
// the key; a second up changes nothing and mints nothing; an up in the next renewal window re-issues the
// certificate with the same key; a token of another audience is refused by istiod with a clear error.
// istiod's CA port listens on loopback here (the machine running Pulumi reaches istiod directly, as it would
// through the east-west gateway's 15012).
import assert from "node:assert/strict";
import { createPrivateKey, createPublicKey, type KeyObject, X509Certificate } from "node:crypto";
import { after, before, describe, it } from "node:test";
import {
  createWorkloadCertificate,
  defaultRenewBeforeSeconds,
  workloadCertificateDefaults,
} from "../../components/host/workloadCertificate";
import { leafOf } from "../../scripts/testbed/certs";
import { startCluster, type TestCluster } from "../../scripts/testbed/cluster";
import { ISTIO_NAMESPACE, istioBinaries, type Istiod } from "../../scripts/testbed/istiod";
import { changedSteps, createTestStack, type TestStack } from "../../scripts/testbed/pulumi";
import { tearDown } from "../../scripts/testbed/teardown";

const NS = "vms";
const SA = "dev-laptop";
const SPIFFE = `spiffe://cluster.local/ns/${NS}/sa/${SA}`;

interface Knobs {
  lifetimeSeconds?: number;
  renewBeforeSeconds?: number;
  audiences?: string[];
}

describe("envoy runtime: the workload certificate from the real istiod", { timeout: 15 * 60_000 }, () => {
  let cluster: TestCluster | undefined;
  let istiod: Istiod;
  const stacks: TestStack[] = [];

  const program = (knobs: Knobs) => async () => {
    const lifetimeSeconds = knobs.lifetimeSeconds ?? workloadCertificateDefaults.lifetimeSeconds;
    const cert = createWorkloadCertificate(
      "dev-laptop",
      {},
      {
        kubeconfig: cluster!.kubeconfig,
        namespace: NS,
        serviceAccount: SA,
        trustDomain: "cluster.local",
        caAddress: `${istiod.address}:${istiod.port}`,
        caServerName: `istiod.${ISTIO_NAMESPACE}.svc`,
        meshRootCert: istiod.rootCertPem,
        lifetimeSeconds,
        renewBeforeSeconds: knobs.renewBeforeSeconds ?? defaultRenewBeforeSeconds(lifetimeSeconds),
        ...(knobs.audiences ? { audiences: knobs.audiences } : {}),
      },
    );
    return {
      certChain: cert.certChain,
      notAfter: cert.notAfter,
      spiffeId: cert.spiffeId,
      keyPem: cert.keyPem,
    };
  };

  async function stackFor(knobs: Knobs): Promise<TestStack> {
    const s = await createTestStack({ program: program(knobs), stackName: `cert${stacks.length}` });
    stacks.push(s);
    return s;
  }

  before(async () => {
    istioBinaries(); // fails naming scripts/istio.sh when istiod is not built
    cluster = await startCluster({ istiod: { address: "127.0.0.1" } });
    istiod = cluster.istiod!;
    await cluster.createNamespace(NS);
    await cluster.createServiceAccount(NS, SA);
  });

  after(() => tearDown({ stacks, cluster }));

  it("preview issues nothing; up gets a certificate for the VM's SPIFFE id that chains to istiod's root; a second up changes nothing", async () => {
    const s = await stackFor({});
    const minted0 = await cluster!.tokenRequests();
    const preview = await s.preview();
    assert.deepEqual(preview.result.changeSummary, { create: 4 }); // stack + key + CSR + certificate
    assert.equal(await cluster!.tokenRequests(), minted0, "preview minted a token");

    const up = await s.up();
    assert.equal(up.result.summary.result, "succeeded");
    assert.equal(await cluster!.tokenRequests(), minted0 + 1, "up mints exactly one token");
    const out = await s.outputs();
    const chain = String(out.certChain!.value);
    const leaf = leafOf(chain);
    assert.match(leaf.subjectAltName ?? "", new RegExp(`URI:${SPIFFE.replace(/[/.]/g, "\\$&")}(,|$)`));
    assert.equal(out.spiffeId!.value, SPIFFE);
    const root = new X509Certificate(istiod.rootCertPem);
    assert.ok(leaf.verify(root.publicKey), "the leaf is signed by istiod's root");
    assert.ok(leaf.checkIssued(root));
    assert.doesNotMatch(
      chain,
      new RegExp(root.raw.toString("base64").slice(0, 64).replace(/[+/]/g, "\\$&")),
      "the root is not part of the chain",
    );
    // The key the CSR was made from is the certificate's: Envoy can use the pair.
    assert.equal(out.keyPem!.secret, true);
    const spki = (k: KeyObject) => k.export({ type: "spki", format: "der" });
    const keyPublic = createPublicKey(createPrivateKey(String(out.keyPem!.value)));
    assert.ok(spki(leaf.publicKey).equals(spki(keyPublic)), "the leaf certifies the generated key");
    const lifetime = (Date.parse(leaf.validTo) - Date.parse(leaf.validFrom)) / 1000;
    assert.ok(Math.abs(lifetime - 86400) < 600, `lifetime ${lifetime}s is istiod's answer to 86400s`);
    assert.equal(out.notAfter!.value, new Date(leaf.validTo).toISOString());

    // No secret in plain text in state: the key is encrypted, the token was never stored.
    const state = JSON.stringify(await s.exportState());
    assert.doesNotMatch(state, /PRIVATE KEY/);
    assert.doesNotMatch(state, /eyJhbGciOi/, "a JWT (the token) in state");

    const again = await s.up();
    assert.deepEqual(changedSteps(again.events), []);
    assert.equal(await cluster!.tokenRequests(), minted0 + 1, "the second up minted a token");
  });

  it("re-issues the certificate at the first up of the next renewal window, with the same key", async () => {
    // Windows of (lifetime − renewBefore) = 15 s.
    const s = await stackFor({ lifetimeSeconds: 3600, renewBeforeSeconds: 3585 });
    await s.up();
    const first = await s.outputs();
    const leaf1 = leafOf(String(first.certChain!.value));
    const windowMs = 15_000;
    await new Promise((r) => setTimeout(r, windowMs - (Date.now() % windowMs) + 500));
    const up = await s.up();
    const second = await s.outputs();
    const leaf2 = leafOf(String(second.certChain!.value));
    assert.notEqual(leaf2.serialNumber, leaf1.serialNumber, "a new certificate");
    assert.equal(second.keyPem!.value, first.keyPem!.value, "the same key");
    assert.ok(Date.parse(leaf2.validTo) > Date.parse(leaf1.validTo));
    const urns = up.events
      .filter((e) => e.resourcePreEvent && !["same", "read"].includes(e.resourcePreEvent.metadata.op))
      .map((e) => e.resourcePreEvent!.metadata.urn.split("::").pop());
    assert.deepEqual(
      [...new Set(urns)],
      ["dev-laptop-workload-certificate"],
      "only the certificate is re-made",
    );
  });

  it("a token of another audience is refused by istiod with a clear error, and nothing is stored", async () => {
    const s = await stackFor({ audiences: ["not-istio-ca"] });
    const error = await s.up().then(
      () => undefined,
      (e: Error) => e,
    );
    assert.ok(error, "up must fail");
    assert.match(
      error.message,
      /mesh-vm certificate: istiod at 127\.0\.0\.1:\d+ \(istiod\.istio-system\.svc\) refused CreateCertificate: UNAUTHENTICATED: .*the token must be a TokenRequest token of audience istio-ca/,
    );
    assert.doesNotMatch(error.message, /eyJhbGciOi/);
  });
});
