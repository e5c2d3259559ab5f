// Faults on the test bed (issue #13, item 4, part B), each ending with a converged `up` and nothing lost or doubled:
// 1. the host reboots (every process gone, /tmp and /run empty) while its bootstrap token is no longer valid (the
//    ServiceAccount was deleted and re-created: bound tokens die with the account's UID), against a real istiod that
//    checks tokens by TokenReview and a real Istio agent;
// 2. kube-apiserver dies in the middle of `up` (after the token mint, while the host steps run, before the
//    WorkloadEntry is registered), and comes back;
// 3. the disk holding the proxy's config directory is full when `up` rewrites the token file.
// Everything a user would check is checked where it lives: the files and containers on the host (without SSH, so
// the sshd log counts only mesh-vm's sessions), the objects and the TokenRequests (audit log) in the cluster.
import type { EngineEvent } from "@pulumi/pulumi/automation";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { leafOf } from "../../scripts/testbed/certs";
import { assertProxyFiles } from "../../scripts/testbed/proxyFiles";
import { startCluster, type TestCluster } from "../../scripts/testbed/cluster";
import { createHosts, type TestHost } from "../../scripts/testbed/hosts";
import { installAgentImage, istiodTestBedMissing, networkGateway } from "../../scripts/testbed/istiod";
import { poll } from "../../scripts/testbed/poll";
import { tearDown } from "../../scripts/testbed/teardown";
import { meshVmProgram, NS, SA, vmOn, type Knobs, type Vm } from "../../scripts/testbed/meshVmStack";
import { changedSteps, createTestStack, errors, type TestStack } from "../../scripts/testbed/pulumi";

const SPIFFE = `spiffe://cluster.local/ns/${NS}/sa/${SA}`;
// 24 h: the re-mint window (lifetime − renewBefore = 23 h) cannot roll over during a run, so every re-mint seen
// here is caused by the fault or the fix under test.
const LIFETIME = 86400;

/** Whether the API server accepts the token for audience istio-ca (what istiod asks it). */
async function tokenAccepted(cluster: TestCluster, token: string): Promise<boolean> {
  const r = await cluster.request("POST", "/apis/authentication.k8s.io/v1/tokenreviews", {
    apiVersion: "authentication.k8s.io/v1",
    kind: "TokenReview",
    spec: { token, audiences: ["istio-ca"] },
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body.status?.authenticated === true;
}

/** Runs `up`, expecting it to fail; returns the error text. */
async function failingUp(
  stack: TestStack,
  options?: Parameters<TestStack["up"]>[0],
): Promise<{ message: string; events: EngineEvent[] }> {
  const events: EngineEvent[] = [];
  const message = await stack
    .up({
      watch: (e) => {
        events.push(e);
        options?.watch?.(e);
      },
    })
    .then(
      (r) => assert.fail(`up succeeded: ${JSON.stringify(r.result.summary.resourceChanges)}`),
      (error: unknown) => String(error),
    );
  return { message, events };
}

/** What must stay single on a host whatever happened: one container, one hosts block, one mesh-vm key. */
async function assertNothingDoubled(h: TestHost, vmName: string): Promise<void> {
  const proxies = (await h.containers()).filter((c) => c.name === "istio-proxy");
  assert.equal(proxies.length, 1, "one proxy container");
  assert.equal(proxies[0]!.state, "running");
  const hosts = await h.etcHosts();
  assert.equal(hosts.split(`# BEGIN mesh-vm ${NS}/${vmName}\n`).length - 1, 1, `one hosts block:\n${hosts}`);
  const keys = await h.readFile("/home/istio-proxy/.ssh/authorized_keys");
  assert.equal(keys.split(`mesh-vm:${NS}/${vmName}`).length - 1, 1, `one key of ours:\n${keys}`);
}

const readyOn = async (h: TestHost, port: number): Promise<boolean> =>
  (
    await h.run(`curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:${port}/healthz/ready`, {
      check: false,
    })
  ).stdout.trim() === "200";

describe(
  "outage: the host reboots with its bootstrap token invalidated (real istiod and Istio agent)",
  { timeout: 30 * 60_000 },
  () => {
    const CONFIG_DIR = "/etc/istio-proxy";
    const CERTS = `${CONFIG_DIR}/certs`;
    let cluster: TestCluster | undefined;
    let hosts: TestHost[] = [];
    let stack: TestStack | undefined;
    let vm: Vm;
    let knobs: Knobs;
    let firstToken = "";
    let issuedSerial = "";

    before(async () => {
      const missing = istiodTestBedMissing();
      if (missing.length > 0) throw new Error(`the test bed is incomplete:\n- ${missing.join("\n- ")}`);
      hosts = await createHosts([{ name: "outage-reboot", networks: ["vm"] }]);
      cluster = await startCluster({ istiod: { address: networkGateway("vm") } });
      await cluster.createNamespace(NS);
      await cluster.createServiceAccount(NS, SA);
      vm = vmOn("ratings-vm", hosts[0]!);
      knobs = {
        configDir: CONFIG_DIR,
        tokenLifetime: LIFETIME,
        agentImage: await installAgentImage(hosts[0]!),
      };
      stack = await createTestStack({
        program: meshVmProgram(cluster, [vm], knobs),
        projectName: "mesh-vm-outage-reboot",
      });
    });

    after(() => tearDown({ stacks: [stack], hosts, cluster }));

    const leaf = async (): Promise<X509Certificate> =>
      leafOf(await vm.host.readFile(`${CERTS}/cert-chain.pem`));

    it("onboards: the agent holds a certificate for the VM's identity", async () => {
      const up = await stack!.up();
      assert.equal(up.result.summary.result, "succeeded", errors(up.events).join("\n"));
      firstToken = await vm.host.readFile(`${CONFIG_DIR}/istio-token`);
      assert.ok(await tokenAccepted(cluster!, firstToken), "the bootstrap token is valid");
      const cert = await leaf();
      assert.equal(cert.subjectAltName, `URI:${SPIFFE}`);
      issuedSerial = cert.serialNumber;
    });

    it("the ServiceAccount deleted and re-created: the token on the host is refused from now on", async () => {
      const path = `/api/v1/namespaces/${NS}/serviceaccounts/${SA}`;
      const uid = (await cluster!.request("GET", path)).body.metadata.uid as string;
      assert.equal((await cluster!.request("DELETE", path)).status, 200);
      await cluster!.createServiceAccount(NS, SA);
      assert.notEqual((await cluster!.request("GET", path)).body.metadata.uid, uid, "a new UID");
      // kube-apiserver caches a successful token authentication for 10 s (its token cache), then checks the UID.
      await poll("TokenReview to refuse the old token", 60_000, async () =>
        (await tokenAccepted(cluster!, firstToken)) ? undefined : true,
      );
    });

    it("after a reboot the agent comes back on its persisted certificate and renews its identity", async () => {
      const h = vm.host;
      const rebooted = await h.reboot();
      assert.deepEqual(rebooted, { restarted: ["istio-proxy"], failed: [] });
      // The refused token is still there (nothing rewrote it); the agent authenticates with its certificate.
      assert.equal(await h.readFile(`${CONFIG_DIR}/istio-token`), firstToken);
      const renewed = await poll("a new certificate after the reboot", 90_000, async () => {
        const cert = await leaf().catch(() => undefined);
        return cert && cert.serialNumber !== issuedSerial ? cert : undefined;
      });
      const root = new X509Certificate(cluster!.istiod!.rootCertPem);
      assert.equal(renewed.subjectAltName, `URI:${SPIFFE}`);
      assert.ok(renewed.checkIssued(root) && renewed.verify(root.publicKey), "signed by istiod's root");
      issuedSerial = renewed.serialNumber;
      await poll("the agent to be ready after the reboot", 60_000, async () =>
        (await readyOn(h, 15020)) ? true : undefined,
      );
    });

    it("a plain up after the reboot does nothing: mesh-vm cannot see that the token was invalidated", async () => {
      const logins = await vm.host.sshLogins();
      const mints = await cluster!.tokenRequests();
      const up = await stack!.up();
      assert.equal(up.result.summary.result, "succeeded", errors(up.events).join("\n"));
      assert.deepEqual(changedSteps(up.events), [], "every resource unchanged");
      assert.equal(await vm.host.sshLogins(), logins, "no SSH session");
      assert.equal(
        await cluster!.tokenRequests(),
        mints,
        "no TokenRequest: the token is not in its renewal window",
      );
      assert.equal(
        await vm.host.readFile(`${CONFIG_DIR}/istio-token`),
        firstToken,
        "the refused token stays",
      );
    });

    it("host.token.rotation (README Troubleshooting) puts a valid token on the host and re-runs nothing else", async () => {
      const h = vm.host;
      const containerId = (await h.containers()).find((c) => c.name === "istio-proxy")!.id;
      const logins = await h.sshLogins();
      const mints = await cluster!.tokenRequests();
      knobs.tokenRotation = "service-account-re-created";
      const up = await stack!.up();
      assert.equal(up.result.summary.result, "succeeded", errors(up.events).join("\n"));
      const touched = changedSteps(up.events);
      assert.deepEqual(
        [...new Set(touched.map((s) => s.split(" ").pop()))].sort(),
        ["ratings-vm-proxy-bootstrap-token", "ratings-vm-proxy-proxy"],
        `the mint and the proxy step (the token file) only: ${touched.join(", ")}`,
      );
      assert.ok(
        touched.includes("update command:remote:Command ratings-vm-proxy-proxy"),
        "rewritten in place",
      );
      assert.equal(await cluster!.tokenRequests(), mints + 1, "one TokenRequest");
      assert.equal(await h.sshLogins(), logins + 1, "one SSH session: the proxy step, for the token file");
      const token = await h.readFile(`${CONFIG_DIR}/istio-token`);
      assert.notEqual(token, firstToken);
      assert.ok(await tokenAccepted(cluster!, token), "the new token is valid");
      const c = (await h.containers()).find((x) => x.name === "istio-proxy")!;
      assert.equal(c.id, containerId, "the same container");
      assert.equal(c.state, "running");
      assert.equal(await h.readFile(`/proc/${c.pid}/root/var/run/secrets/tokens/istio-token`), token);

      // Proof that istiod takes the new token by itself: without its certificate, the restarted agent can only
      // authenticate with the token.
      await h.run(
        `rm -f ${CERTS}/cert-chain.pem ${CERTS}/key.pem && docker restart --time 2 istio-proxy >/dev/null`,
      );
      const fresh = await poll("a certificate obtained with the new token", 90_000, async () => {
        const cert = await leaf().catch(() => undefined);
        return cert && cert.serialNumber !== issuedSerial ? cert : undefined;
      });
      assert.equal(fresh.subjectAltName, `URI:${SPIFFE}`);
      await poll("the agent to be ready", 60_000, async () => ((await readyOn(h, 15020)) ? true : undefined));

      const again = await stack!.up();
      assert.deepEqual(changedSteps(again.events), [], "converged: the next up changes nothing");
      assert.equal(await h.sshLogins(), logins + 1, "and opens no SSH session");
    });
  },
);

describe(
  "outages: kube-apiserver down mid-up, a full disk, a reboot emptying a config dir under /tmp",
  { timeout: 30 * 60_000 },
  () => {
    let cluster: TestCluster | undefined;
    let hosts: TestHost[] = [];
    const stacks: TestStack[] = [];

    before(async () => {
      cluster = await startCluster();
      await cluster.createNamespace(NS);
      await cluster.createServiceAccount(NS, SA);
      hosts = await createHosts([
        { name: "outage-apiserver", networks: ["vm"] },
        { name: "outage-disk", networks: ["vm"] },
        { name: "outage-tmpdir", networks: ["vm"] },
      ]);
    });

    after(() => tearDown({ stacks, hosts, cluster }));

    /** A stack of the test's own (project mesh-vm-outage-<project>): one VM on `h` with its config dir. */
    const stackFor = async (project: string, name: string, h: TestHost, configDir: string) => {
      const vm = vmOn(name, h);
      const knobs: Knobs = { configDir, tokenLifetime: LIFETIME };
      const stack = await createTestStack({
        program: meshVmProgram(cluster!, [vm], knobs),
        projectName: `mesh-vm-outage-${project}`,
      });
      stacks.push(stack);
      return { vm, knobs, stack };
    };

    it("kube-apiserver dies while the host steps run: up fails naming it; back up, up registers, nothing doubled", async () => {
      const h = hosts[0]!;
      const { vm, stack } = await stackFor("apiserver", "ratings-api", h, "/etc/istio-proxy");
      let stopped: Promise<void> | undefined;
      const failed = await failingUp(stack, {
        // The token is minted and the ConfigMaps read (the token file needs both); the container and readiness
        // wait, the hosts block and the registration are still to come.
        watch: (e) => {
          if (e.resourcePreEvent?.metadata.urn.endsWith(`::${vm.name}-proxy-proxy`))
            stopped ??= cluster!.stopApiServer();
        },
      });
      assert.ok(stopped, "the API server was stopped during up");
      await stopped;
      const server = cluster!.server.replace("https://", "");
      console.log(`# up with the API server down: ${errors(failed.events).join("\n")}`);
      assert.match(failed.message, new RegExp(`${server.replace(/\./g, "\\.")}.*connection refused`));
      assert.match(
        failed.message,
        /ratings-api-(workloadentry|serviceentry|sidecar)/,
        "names the failed object",
      );
      // The host steps went on without the API server.
      const doneSteps = failed.events
        .filter((e) => e.resOutputsEvent)
        .map((e) => e.resOutputsEvent!.metadata.urn.split("::").pop());
      assert.ok(doneSteps.includes(`${vm.name}-proxy-proxy`), doneSteps.join(", "));
      assert.equal((await h.containers()).find((c) => c.name === "istio-proxy")?.state, "running");

      await cluster!.startApiServer();
      const we = `/apis/networking.istio.io/v1/namespaces/${NS}/workloadentries/${vm.name}`;
      assert.equal((await cluster!.request("GET", we)).status, 404, "not registered yet");
      const logins = await h.sshLogins();
      const mints = await cluster!.tokenRequests();
      assert.ok(mints > 0, "the audit log records the TokenRequests made so far");
      const up = await stack.up();
      assert.equal(up.result.summary.result, "succeeded", errors(up.events).join("\n"));
      const touched = changedSteps(up.events);
      assert.ok(
        touched.includes(`create kubernetes:networking.istio.io/v1:WorkloadEntry ${vm.name}-workloadentry`),
      );
      assert.ok(
        !touched.some((s) => s.includes("command:remote:")),
        `no host step again: ${touched.join(", ")}`,
      );
      assert.equal(await h.sshLogins(), logins, "no SSH session: the host steps were recorded");
      assert.equal(await cluster!.tokenRequests(), mints, "no new token");
      assert.equal((await cluster!.request("GET", we)).body.spec?.address, h.address, "registered");
      await assertNothingDoubled(h, vm.name);
      assert.deepEqual(changedSteps((await stack.up()).events), [], "converged");
    });

    it("a full disk fails the token rewrite with the old token intact; with space again, up writes the new one", async () => {
      const h = hosts[1]!;
      // The proxy's config directory on a small disk of its own (a 1 MiB tmpfs mounted inside the host).
      const disk = "/srv/mesh-vm-disk";
      const configDir = `${disk}/istio-proxy`;
      await h.run(`mkdir -p ${disk} && mount -t tmpfs -o size=1m,mode=0755 mesh-vm-disk ${disk}`);
      const { vm, knobs, stack } = await stackFor("disk", "ratings-disk", h, configDir);
      const first = await stack.up();
      assert.equal(first.result.summary.result, "succeeded", errors(first.events).join("\n"));
      const tokenPath = `${configDir}/istio-token`;
      const oldToken = await h.readFile(tokenPath);
      const oldStat = await h.stat(tokenPath);

      // Fill the disk: dd stops at ENOSPC.
      await h.run(`dd if=/dev/zero of=${disk}/filler bs=4096 >/dev/null 2>&1 || true`);
      const free = await h.run(`df --output=avail -B1 ${disk} | tail -1`);
      assert.equal(free.stdout.trim(), "0", "the disk is full");
      knobs.tokenRotation = "after-disk-full";
      const failed = await failingUp(stack);
      console.log(`# up on a full disk: ${errors(failed.events).join("\n")}`);
      assert.match(failed.message, /ratings-disk-proxy-proxy/, "names the step");
      assert.match(failed.message, /No space left on device/);
      assert.equal(await h.readFile(tokenPath), oldToken, "the old token is intact");
      assert.deepEqual(await h.stat(tokenPath), oldStat, "same owner, mode and size");
      assert.equal(
        (await h.run(`ls -A ${configDir}`)).stdout.split("\n").filter((f) => f.startsWith(".mesh-vm."))
          .length,
        0,
        "no temp file left behind",
      );
      assert.equal((await h.containers()).find((c) => c.name === "istio-proxy")?.state, "running");

      await h.run(`rm -f ${disk}/filler`);
      const logins = await h.sshLogins();
      const mints = await cluster!.tokenRequests();
      assert.ok(mints > 0, "the audit log records the TokenRequests made so far");
      const up = await stack.up();
      assert.equal(up.result.summary.result, "succeeded", errors(up.events).join("\n"));
      assert.deepEqual(changedSteps(up.events).sort(), [
        // The mint was replaced in the failed up (create-before-delete); the old one goes now (it deletes nothing).
        `delete-replaced command:local:Command ${vm.name}-proxy-bootstrap-token`,
        `update command:remote:Command ${vm.name}-proxy-proxy`,
      ]);
      assert.equal(await h.sshLogins(), logins + 1, "one SSH session: the proxy step, for the token file");
      assert.equal(await cluster!.tokenRequests(), mints, "the token minted before is the one written");
      const token = await h.readFile(tokenPath);
      assert.notEqual(token, oldToken, "the new token is on the host");
      assert.ok(await tokenAccepted(cluster!, token));
      const st = await h.stat(tokenPath);
      assert.deepEqual([st?.owner, st?.mode], ["istio-proxy", 0o640]);
      await assertNothingDoubled(h, vm.name);
      assert.deepEqual(changedSteps((await stack.up()).events), [], "converged");
    });
    it("a config dir under /tmp: preview warns; a reboot empties it and up cannot see it; moving it converges", async () => {
      const h = hosts[2]!;
      const { vm, knobs, stack } = await stackFor("tmpdir", "ratings-tmpdir", h, "/tmp/istio-proxy");
      const warningsIn = (events: EngineEvent[]): string[] =>
        events
          .filter((e) => e.diagnosticEvent?.severity === "warning")
          .map((e) => e.diagnosticEvent!.message)
          .filter((m) => /emptied at every boot/.test(m));
      const preview = await stack.preview();
      assert.equal(warningsIn(preview.events).length, 1, "preview warns once");
      assert.match(
        warningsIn(preview.events)[0]!,
        /"\/tmp\/istio-proxy" is inside \/tmp.*\/etc\/istio-proxy/,
      );
      const first = await stack.up();
      assert.equal(first.result.summary.result, "succeeded", errors(first.events).join("\n"));
      assert.ok(await readyOn(h, 15021), "ready before the reboot");

      const { restarted, failed } = await h.reboot();
      assert.deepEqual(restarted, [], "the proxy does not come back");
      assert.deepEqual(
        failed.map((f) => f.name),
        ["istio-proxy"],
        "its mounted files were under /tmp",
      );
      assert.equal(await h.exists("/tmp/istio-proxy/istio-token"), false, "the token is gone");
      const logins = await h.sshLogins();
      const plain = await stack.up();
      assert.deepEqual(changedSteps(plain.events), [], "a no-op up does not notice");
      assert.equal(await h.sshLogins(), logins, "it contacts no host");
      assert.equal(await readyOn(h, 15021), false, "still down");

      // The README's fix: a persistent directory. Every step that depends on the directory runs again there.
      knobs.configDir = "/etc/istio-proxy";
      const moved = await stack.up();
      assert.equal(moved.result.summary.result, "succeeded", errors(moved.events).join("\n"));
      assert.deepEqual(warningsIn(moved.events), [], "no warning for /etc/istio-proxy");
      assert.ok(await readyOn(h, 15021), "ready again");
      await assertProxyFiles(h, "/etc/istio-proxy");
      await assertNothingDoubled(h, vm.name);
      const { restarted: again } = await h.reboot();
      assert.deepEqual(again, ["istio-proxy"], "now it survives a reboot");
      await poll("the proxy to be ready after the reboot", 60_000, async () =>
        (await readyOn(h, 15021)) ? true : undefined,
      );
      assert.deepEqual(changedSteps((await stack.up()).events), [], "converged");
    });
  },
);
