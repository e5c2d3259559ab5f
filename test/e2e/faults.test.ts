// Faults on the test bed (issue #13, item 4, SSH and host faults): a MeshVm with `host` on one real test host,
// real engine and API server; each fault is injected while a remote step runs (or between runs) and each case
// ends with a converged `up` that lost nothing (proxy ready, files right, one key line and one hosts block, the
// WorkloadEntry registered) and a further `up` that opens no SSH session.
//
// To hit a step reliably, the host's `docker` is wrapped for the length of a case: `docker run` (the proxy step)
// first waits for the test to release it, as a slow image pull would; the test cuts SSH or the link while it
// waits. The wrapper is the host's own (the test host's `/usr/local/bin/docker`), restored after each case.
import type { EngineEvent } from "@pulumi/pulumi/automation";
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { assertProxyFiles } from "../../scripts/testbed/proxyFiles";
import { startCluster, type TestCluster } from "../../scripts/testbed/cluster";
import { createHosts, type TestHost } from "../../scripts/testbed/hosts";
import {
  CONFIG_DIR,
  meshVmProgram,
  NS,
  proxyContainerOf,
  vmOn,
  type Knobs,
  type Vm,
} from "../../scripts/testbed/meshVmStack";
import { changedSteps, createTestStack, errors, steps, type TestStack } from "../../scripts/testbed/pulumi";
import { knownSecrets, secretFindings } from "../../scripts/testbed/secrets";
import { tearDown } from "../../scripts/testbed/teardown";

const GATE = "/tmp/mesh-vm-fault-gate";
const DOCKER = "/usr/local/bin/docker";

/** Every message a failed operation showed (the thrown error with the CLI's output, the diagnostics). */
const faultTexts: string[] = [];

/** Runs and events of a failed operation: the Automation API throws; the events came through onEvent. */
async function failing(run: (onEvent: (e: EngineEvent) => void) => Promise<unknown>) {
  const events: EngineEvent[] = [];
  const started = Date.now();
  try {
    await run((e) => events.push(e));
  } catch (error) {
    faultTexts.push(String(error), JSON.stringify(error), stepErrors(events));
    return { error: String(error), events, seconds: (Date.now() - started) / 1000 };
  }
  assert.fail("the operation was expected to fail");
}

/** Error diagnostics as "<resource name>: <message>" (the engine reports the resource beside the message). */
function stepErrors(events: EngineEvent[]): string {
  return events
    .filter((e) => e.diagnosticEvent?.severity === "error")
    .map(
      (e) =>
        `${e.diagnosticEvent!.urn?.split("::").pop() ?? "(stack)"}: ${e.diagnosticEvent!.message.trim()}`,
    )
    .join("\n");
}

/** Holds the host's `docker run` until released (see the file's comment). */
async function holdDockerRun(host: TestHost) {
  await host.run(`rm -f ${GATE}.*; cp -p ${DOCKER} ${DOCKER}.orig`);
  await host.run(`cat > ${DOCKER} && chmod 0755 ${DOCKER}`, {
    input: [
      "#!/bin/sh",
      "# mesh-vm fault suite: `docker run` waits to be released, like a slow image pull.",
      'if [ "${1:-}" = run ]; then',
      `  touch ${GATE}.held`,
      `  i=0; while [ ! -e ${GATE}.release ] && [ $i -lt 1800 ]; do sleep 0.1; i=$((i + 1)); done`,
      `  ${DOCKER}.orig "$@"; rc=$?; touch ${GATE}.done; exit $rc`,
      "fi",
      `exec ${DOCKER}.orig "$@"`,
      "",
    ].join("\n"),
  });
  const waitFor = async (what: string, seconds: number) => {
    for (let i = 0; i < seconds * 10; i++) {
      if (await host.exists(`${GATE}.${what}`)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${GATE}.${what} did not appear within ${seconds}s`);
  };
  return {
    /** The proxy step is inside `docker run`, its SSH session open. */
    held: () => waitFor("held", 180),
    release: () => host.run(`touch ${GATE}.release`),
    /** The held `docker run` went on and returned (run by an orphan when its session was cut). */
    done: () => waitFor("done", 60),
    restore: () => host.run(`mv -f ${DOCKER}.orig ${DOCKER}; rm -f ${GATE}.*`),
  };
}

describe("faults: SSH and host", { timeout: 30 * 60_000 }, () => {
  let cluster: TestCluster | undefined;
  let host: TestHost;
  let vm: Vm;
  let stack: TestStack | undefined;
  const knobs: Knobs = { port: 9080, tokenLifetime: 86400, hostGone: false };
  const tokensSeen = new Set<string>();

  before(async () => {
    cluster = await startCluster();
    await cluster.createNamespace(NS);
    await cluster.createServiceAccount(NS, "bookinfo-ratings");
    [host] = await createHosts([{ name: "faults-a" }]);
    vm = vmOn("ratings-vm", host);
    stack = await createTestStack({
      program: meshVmProgram(cluster, [vm], knobs),
      projectName: "mesh-vm-faults-e2e",
    });
  });

  after(() => tearDown({ stacks: [stack], hosts: [host], cluster }));

  const urnOf = async (name: string): Promise<string> => {
    const state = await stack!.exportState();
    const resources = (state.deployment as { resources?: { urn: string }[] }).resources ?? [];
    const r = resources.find((x) => x.urn.endsWith(`::${name}`));
    assert.ok(r, `${name} is in the state`);
    return r.urn;
  };
  const inState = async (): Promise<string[]> => {
    const state = await stack!.exportState();
    const resources = (state.deployment as { resources?: { urn: string }[] }).resources ?? [];
    return resources.map((r) => r.urn.split("::").pop()!);
  };

  /** What a user checks on the host and in the cluster after a converged `up`. */
  async function assertConverged(): Promise<void> {
    const c = proxyContainerOf(await host.containers());
    assert.equal(c?.state, "running", "the proxy container runs");
    assert.equal((await host.run("curl -fsS http://127.0.0.1:15021/healthz/ready")).stdout.trim(), "ok");
    assert.match(await host.readFile(`${CONFIG_DIR}/sidecar.env`), new RegExp(`^POD_NAME=${vm.name}$`, "m"));
    assert.equal(await host.readFile(`${CONFIG_DIR}/istio-ca.pem`), cluster!.meshRootCaPem);
    assert.equal(await host.readFile(`${CONFIG_DIR}/k8s-ca.pem`), cluster!.clusterCaPem);
    const token = await host.readFile(`${CONFIG_DIR}/istio-token`);
    assert.equal(token.split(".").length, 3, "a JWT in istio-token");
    tokensSeen.add(token);
    await assertProxyFiles(host, CONFIG_DIR);
    // The running proxy sees the token on disk (through its directory mount).
    assert.equal(await host.readFile(`/proc/${c!.pid}/root/var/run/secrets/tokens/istio-token`), token);
    const keys = await host.readFile("/home/istio-proxy/.ssh/authorized_keys");
    assert.equal(
      keys.split("\n").filter((l) => l.includes(`mesh-vm:${NS}/${vm.name}`)).length,
      1,
      "one key line",
    );
    const etcHosts = await host.etcHosts();
    assert.equal(etcHosts.split(`# BEGIN mesh-vm ${NS}/${vm.name}\n`).length - 1, 1, "one hosts block");
    assert.equal(etcHosts.split(`# END mesh-vm ${NS}/${vm.name}\n`).length - 1, 1, "one hosts block end");
    const we = await cluster!.request(
      "GET",
      `/apis/networking.istio.io/v1/namespaces/${NS}/workloadentries/${vm.name}`,
    );
    assert.equal(we.status, 200, "the WorkloadEntry is registered");
  }

  /**
   * Onboards the VM unless an earlier case did: each case after the first also runs alone
   * (`--test-name-pattern`, as the README's reproduce commands do).
   */
  async function ensureOnboarded(): Promise<void> {
    if ((await inState()).includes(`${vm.name}-workloadentry`)) return;
    const up = await stack!.up();
    assert.equal(up.result.summary.result, "succeeded", errors(up.events).join("\n"));
  }

  /** `up` converges, then a further `up` changes nothing and opens no SSH session. */
  async function upConverges(): Promise<void> {
    const up = await stack!.up();
    assert.equal(up.result.summary.result, "succeeded", errors(up.events).join("\n"));
    await assertConverged();
    await noopUp();
  }

  async function noopUp(): Promise<void> {
    const logins = await host.sshLogins();
    const up = await stack!.up();
    const changes = up.result.summary.resourceChanges ?? {};
    assert.deepEqual(
      Object.entries(changes).filter(([op, n]) => op !== "same" && op !== "read" && (n ?? 0) > 0),
      [],
      JSON.stringify(changes),
    );
    assert.equal(await host.sshLogins(), logins, "no SSH session");
  }

  it("sshd killed while the proxy step runs: up fails, completed steps are kept, a re-run converges", async () => {
    const gate = await holdDockerRun(host);
    try {
      const running = failing((onEvent) => stack!.stack.up({ onEvent, color: "never" }));
      await gate.held();
      await host.killSshd();
      const failed = await running;
      // What the user sees: the step, and the dropped session.
      const messages = stepErrors(failed!.events);
      console.log(`sshd killed mid-step: up failed after ${failed!.seconds}s:\n${messages}`);
      assert.match(
        messages,
        /^ratings-vm-proxy-proxy: wait: remote command exited without exit status or exit signal/m,
        "the step and the dropped session",
      );
      // Steps done before the cut are kept; the proxy step and everything after it are not recorded, and
      // nothing was registered while the proxy was not known to be ready.
      const kept = await inState();
      for (const step of [
        "ratings-vm-proxy-ssh-key",
        "ratings-vm-proxy-host",
        "ratings-vm-proxy-bootstrap-token",
      ]) {
        assert.ok(kept.includes(step), `${step} kept; state: ${kept.join(", ")}`);
      }
      for (const step of ["ratings-vm-proxy-registration-gate", "ratings-vm-workloadentry"]) {
        assert.ok(!kept.includes(step), `${step} not created`);
      }
      console.log(
        `state after the cut: proxy step ${kept.includes("ratings-vm-proxy-proxy") ? "recorded" : "not recorded"}`,
      );
      // The cut session's command goes on as an orphan on the VM (no terminal, no hang-up): let it finish, so
      // the re-run meets whatever it left behind.
      await gate.release();
      await gate.done();
    } finally {
      await gate.restore();
      await host.startSshd();
    }
    const orphans = proxyContainerOf(await host.containers());
    assert.ok(orphans, "the orphaned command started the container");
    const mints = await cluster!.tokenRequests();
    assert.ok(mints > 0, "the audit log records the TokenRequests made so far");
    await upConverges();
    assert.equal(proxyContainerOf(await host.containers())!.id, orphans.id, "the re-run took it over");
    assert.equal(await cluster!.tokenRequests(), mints, "the kept token is delivered, not minted again");
  });

  it("proxy container killed: its restart policy brings it back; no-op up opens no SSH session", async () => {
    await ensureOnboarded();
    const before_ = proxyContainerOf(await host.containers())!;
    await host.killContainer("istio-proxy");
    let c = proxyContainerOf(await host.containers());
    for (let i = 0; i < 100 && !(c?.state === "running" && c.pid !== before_.pid); i++) {
      await new Promise((r) => setTimeout(r, 200));
      c = proxyContainerOf(await host.containers());
    }
    assert.equal(c?.state, "running", "restarted by its policy (unless-stopped)");
    assert.equal(c.id, before_.id, "the same container");
    assert.notEqual(c.pid, before_.pid, "a new process");
    for (let i = 0; i < 50; i++) {
      if ((await host.run("curl -fsS http://127.0.0.1:15021/healthz/ready", { check: false })).code === 0)
        break;
      await new Promise((r) => setTimeout(r, 200));
    }
    await assertConverged();
    await noopUp();
  });

  it("proxy container removed: a no-op up does not notice (no SSH); refresh reports it, the next up restores it; so does up --replace <URN>", async () => {
    await ensureOnboarded();
    await host.run("docker rm --force istio-proxy >/dev/null");
    assert.equal(proxyContainerOf(await host.containers()), undefined);
    // The default stays: a no-op `up` opens no SSH session, so it cannot see the container is gone ...
    await noopUp();
    // ... `refresh` can: the drift check reads the host (one SSH session) and records what it found.
    const logins = await host.sshLogins();
    const refreshed = await stack!.refresh();
    assert.equal(refreshed.result.summary.result, "succeeded");
    assert.equal(await host.sshLogins(), logins + 1, "refresh opens one SSH session (the drift check)");
    const state = await stack!.exportState();
    const check = (
      (state.deployment as { resources?: { urn: string; outputs?: { proxyDrift?: string[] } }[] })
        .resources ?? []
    ).find((r) => r.urn.endsWith("::ratings-vm-proxy-drift"));
    assert.deepEqual(check?.outputs?.proxyDrift, ["ratings-vm: proxy container istio-proxy missing"]);
    assert.equal(proxyContainerOf(await host.containers()), undefined, "refresh changes nothing on the host");
    const tokenBefore = await host.readFile(`${CONFIG_DIR}/istio-token`);
    const repaired = await stack!.up();
    assert.equal(repaired.result.summary.result, "succeeded", errors(repaired.events).join("\n"));
    const repairedSteps = changedSteps(repaired.events);
    console.log(`up after refresh: ${repairedSteps.join(", ")}`);
    assert.ok(
      repairedSteps.some((s) => s.endsWith("ratings-vm-proxy-proxy")) &&
        repairedSteps.every(
          (s) => s.endsWith("ratings-vm-proxy-proxy") || s.endsWith("ratings-vm-proxy-drift"),
        ),
      `only the proxy step (and the drift check's record): ${repairedSteps.join(", ")}`,
    );
    assert.equal(await host.readFile(`${CONFIG_DIR}/istio-token`), tokenBefore, "the same token");
    await assertConverged();
    await noopUp();

    // The manual repair still works: replace the proxy step (URN from `pulumi stack --show-urns`).
    await host.run("docker rm --force istio-proxy >/dev/null");
    const urn = await urnOf("ratings-vm-proxy-proxy");
    const up = await stack!.up({ replace: [urn] });
    assert.equal(up.result.summary.result, "succeeded", errors(up.events).join("\n"));
    const touched = changedSteps(up.events);
    console.log(`up --replace: ${touched.join(", ")}`);
    assert.ok(
      touched.every((s) => s.endsWith("ratings-vm-proxy-proxy")),
      `only the proxy step: ${touched.join(", ")}`,
    );
    assert.equal(await host.readFile(`${CONFIG_DIR}/istio-token`), tokenBefore, "the same token rewritten");
    await assertConverged();
    await noopUp();
  });

  it("a 20 s link outage while a step runs is ridden out: the step completes", async () => {
    await ensureOnboarded();
    const gate = await holdDockerRun(host);
    try {
      const urn = await urnOf("ratings-vm-proxy-proxy");
      const running = stack!.up({ replace: [urn] }).then(
        (r) => ({ ok: true as const, r }),
        (error: unknown) => ({ ok: false as const, error: String(error) }),
      );
      await gate.held();
      await host.setLinks("down");
      try {
        // The cut is real: an SSH login from the machine does not get through now.
        const probe = await host.exec("true", { check: false, timeoutMs: 5000 });
        assert.notEqual(probe.code, 0, "the host is unreachable while its links are down");
        await new Promise((r) => setTimeout(r, 20_000));
      } finally {
        await host.setLinks("up");
      }
      await gate.release();
      const outcome = await running;
      assert.ok(outcome.ok, outcome.ok ? "" : outcome.error);
      assert.equal(outcome.r.result.summary.result, "succeeded");
    } finally {
      await gate.restore();
    }
    await assertConverged();
    await noopUp();
  });

  it("a rebuilt host with a new host key: up is refused with a host key mismatch, nothing applied; the new hostKey converges", async () => {
    await ensureOnboarded();
    const oldKey = host.hostKey;
    const newKey = await host.rekey();
    assert.notEqual(newKey, oldKey);
    vm.hostKey = oldKey; // the program still pins the old key
    const tokenBefore = await host.readFile(`${CONFIG_DIR}/istio-token`);
    const logins = await host.sshLogins();
    knobs.tokenRotation = "rebuilt-1";
    const failed = await failing((onEvent) => stack!.stack.up({ onEvent, color: "never" }));
    const messages = stepErrors(failed!.events);
    console.log(`new host key: up failed after ${failed!.seconds}s:\n${messages}`);
    assert.match(
      messages,
      /^ratings-vm-proxy-proxy: after 20 failed attempts: ssh: handshake failed: ssh: host key mismatch$/m,
      "names the step and the mismatch",
    );
    assert.equal(await host.sshLogins(), logins, "no login accepted");
    assert.equal(
      await host.readFile(`${CONFIG_DIR}/istio-token`),
      tokenBefore,
      "nothing applied on the host",
    );
    assert.ok(failed!.seconds < 90, `refused in bounded time (${failed!.seconds}s)`);

    vm.hostKey = undefined; // the host's new key
    const containerBefore = proxyContainerOf(await host.containers())!.id;
    const loginsBefore = await host.sshLogins();
    const up = await stack!.up();
    assert.equal(up.result.summary.result, "succeeded", errors(up.events).join("\n"));
    // The pinned key is part of every remote step's connection: each step runs once more (idempotent, so the
    // container stays), one SSH session each.
    const touched = steps(up.events).filter((s) => s.includes("command:remote:Command"));
    console.log(
      `new hostKey: ${touched.join(", ")}; SSH sessions ${(await host.sshLogins()) - loginsBefore}`,
    );
    assert.equal(touched.length, 2, touched.join(", "));
    assert.ok(
      touched.every((s) => s.startsWith("update ")),
      touched.join(", "),
    );
    assert.equal(
      (await host.sshLogins()) - loginsBefore,
      2,
      "one SSH session per remote step (the host step and the proxy step)",
    );
    assert.equal(proxyContainerOf(await host.containers())!.id, containerBefore, "the container is kept");
    await assertConverged();
    await noopUp();
    assert.notEqual(
      await host.readFile(`${CONFIG_DIR}/istio-token`),
      tokenBefore,
      "the rotation was delivered",
    );
  });

  it("two concurrent ups on one stack: one runs, the other is refused (stack locked); state intact", async () => {
    await ensureOnboarded();
    const settle = (p: Promise<unknown>) =>
      p.then(
        () => ({ ok: true, error: "" }),
        (error: unknown) => ({ ok: false, error: String(error) }),
      );
    // The first `up` (a replacement of the proxy step) is held inside the step while the second one starts.
    const gate = await holdDockerRun(host);
    let a: { ok: boolean; error: string };
    let b: { ok: boolean; error: string };
    try {
      const urn = await urnOf("ratings-vm-proxy-proxy");
      const first = settle(stack!.stack.up({ color: "never", replace: [urn] }));
      await gate.held();
      b = await settle(stack!.stack.up({ color: "never" }));
      await gate.release();
      a = await first;
    } finally {
      await gate.restore();
    }
    console.log(
      `concurrent ups: first ${a.ok ? "succeeded" : a.error}\nsecond ${b.ok ? "succeeded" : b.error}`,
    );
    assert.deepEqual([a.ok, b.ok], [true, false], "the first wins, the second is refused");
    assert.match(b.error, /locked/i);
    faultTexts.push(b.error);
    const state = await stack!.exportState();
    assert.equal(
      ((state.deployment as { pending_operations?: unknown[] }).pending_operations ?? []).length,
      0,
      "no pending operation left",
    );
    await assertConverged();
    await noopUp();
  });

  it("destroy with the VM gone and no hostGone fails in about a minute with the dial error (README: set host.hostGone)", async () => {
    await ensureOnboarded();
    await host.stopSshd();
    try {
      const failed = await failing((onEvent) => stack!.stack.destroy({ onEvent, color: "never" }));
      const messages = stepErrors(failed!.events);
      console.log(`destroy with the VM gone: failed after ${failed!.seconds}s:\n${messages}`);
      assert.match(
        messages,
        /^ratings-vm-proxy-[a-z-]+: after 20 failed attempts: dial tcp [\d.]+:22: connect: connection refused$/m,
        messages,
      );
      assert.ok(failed!.seconds < 180, `bounded (${failed!.seconds}s)`);
      // Deregistration comes first, so the mesh stopped sending traffic; nothing on the VM was undone.
      const we = await cluster!.request(
        "GET",
        `/apis/networking.istio.io/v1/namespaces/${NS}/workloadentries/${vm.name}`,
      );
      assert.equal(we.status, 404, "the WorkloadEntry is gone");
      assert.equal(proxyContainerOf(await host.containers())?.state, "running", "the proxy still runs");
      assert.ok(await host.exists(`${CONFIG_DIR}/istio-token`), "the files are still there");
    } finally {
      await host.startSshd();
    }
    // Nothing lost: the VM back, a plain up converges again.
    await upConverges();
  });

  it("no token or private key in plain text in what the faults showed (errors, diagnostics, CLI output)", () => {
    assert.ok(tokensSeen.size >= 2 && faultTexts.length >= 4, "tokens and fault messages were collected");
    const secrets = knownSecrets({ tokens: [...tokensSeen], hosts: [host], kubeconfig: cluster!.kubeconfig });
    assert.deepEqual(secretFindings("fault messages", faultTexts.join("\n"), secrets), []);
  });
});
