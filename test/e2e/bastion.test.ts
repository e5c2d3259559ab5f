// A VM behind a bastion (jump host), as most production VMs sit, through the `pulumi` CLI and the root program: the
// VM host's sshd answers only the bastion (a firewall rule in the VM host's own namespace resets everything else),
// both host keys are pinned. Proves onboarding, a no-op up with no SSH session, a booting VM (sshd not answering
// yet) ridden out within the dial limits and reported once they are spent, a wrong bastion host key refused before
// any step dials, and destroy, every VM login coming from the bastion's address.
// SSH sessions are counted in each host's sshd log (accepted logins).
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { loginSources, sshFromMachine, sshOnlyThrough } from "../../scripts/testbed/bastion";
import { cliProject, repoRoot, type CliEvent, type CliProject } from "../../scripts/testbed/cli";
import { startCluster, type TestCluster } from "../../scripts/testbed/cluster";
import { createHosts, destroyHosts, type TestHost } from "../../scripts/testbed/hosts";
import { sleep } from "../../scripts/testbed/hosts/process";
import { poll } from "../../scripts/testbed/poll";

const NS = "bookinfo";
const SA = "bookinfo-ratings";
const VM = "ratings-vm";
const PROXY_IMAGE = "localhost/mesh-vm-standin-proxy:test";
const CONFIG_DIR = "/etc/istio-proxy";
// Low enough that the spent-limit test fails in seconds, high enough to ride out a short boot.
const DIAL_ERROR_LIMIT = 10;
const PER_DIAL_TIMEOUT = 5;

/** Remote steps (`command:remote:Command`) the engine started for the VM, from `--event-log`. */
function remoteSteps(events: CliEvent[]): number {
  return events.filter(
    (e) =>
      e.resourcePreEvent?.metadata.type === "command:remote:Command" &&
      e.resourcePreEvent.metadata.op !== "same",
  ).length;
}

/** "op name" of each resource step that was neither same nor read. */
function changedSteps(events: CliEvent[]): string[] {
  return events
    .filter((e) => e.resourcePreEvent && !["same", "read"].includes(e.resourcePreEvent.metadata.op))
    .map((e) => `${e.resourcePreEvent!.metadata.op} ${e.resourcePreEvent!.metadata.urn.split("::").pop()}`);
}

/** Error diagnostics of a run, one per line. */
function errorsOf(events: CliEvent[]): string {
  return events
    .filter((e) => e.diagnosticEvent?.severity === "error")
    .map((e) => e.diagnosticEvent!.message.trim())
    .join("\n");
}

describe("a VM reachable only through a bastion, through the pulumi CLI", { timeout: 30 * 60_000 }, () => {
  let cluster: TestCluster | undefined;
  let bastion: TestHost;
  let vm: TestHost;
  let cli: CliProject | undefined;
  let destroyed = false;
  let hostsBefore = "";

  const logins = async () => ({ vm: await vm.sshLogins(), bastion: await bastion.sshLogins() });
  const get = (path: string) =>
    cluster!.request("GET", `/apis/networking.istio.io/v1/namespaces/${NS}/${path}`);
  const up = () => cli!.withEvents(["up", "--yes", "--skip-preview"]);
  /** Connections the bastion failed to open to the VM for a jump (its sshd's `connect_to … failed` lines). */
  const refusedDials = async () =>
    (await bastion.sshdLog())
      .split("\n")
      .filter((l) => l.includes(`connect_to ${vm.address} port 22: failed`)).length;

  before(async () => {
    cluster = await startCluster();
    await cluster.createNamespace(NS);
    await cluster.createServiceAccount(NS, SA);
    [bastion, vm] = (await createHosts([{ name: "jump-bastion" }, { name: "jump-ratings" }])) as [
      TestHost,
      TestHost,
    ];
    await sshOnlyThrough(vm, bastion);
    hostsBefore = await vm.etcHosts();

    cli = await cliProject({
      files: ["Pulumi.yaml", "index.ts", "package.json", "tsconfig.json", "components"],
      nodeModules: join(repoRoot, "node_modules"),
      stack: "dev",
    });
    await cli.setPlain({
      clusterIdentifier: "mesh-vm-bastion-test",
      "vms[0].name": VM,
      "vms[0].namespace": NS,
      "vms[0].address": vm.address,
      "vms[0].serviceAccount": SA,
      "vms[0].labels.app": "ratings",
      "vms[0].ports[0].name": "http",
      "vms[0].ports[0].number": "9080",
      "vms[0].host.hostKey": vm.hostKey,
      "vms[0].host.prepare.admin.user": vm.adminUser,
      "vms[0].host.proxyImage": PROXY_IMAGE,
      "vms[0].host.egressHostnames[0]": "reviews.bookinfo.svc",
      "vms[0].host.dialErrorLimit": String(DIAL_ERROR_LIMIT),
      "vms[0].host.perDialTimeout": String(PER_DIAL_TIMEOUT),
      "vms[0].host.bastion.host": bastion.address,
      "vms[0].host.bastion.user": bastion.adminUser,
      "vms[0].host.bastion.hostKey": bastion.hostKey,
    });
    await cli.setSecret("kubeconfig", cluster.kubeconfig);
    await cli.setSecret("vms[0].host.prepare.admin.privateKey", vm.adminPrivateKey);
    await cli.setSecret("vms[0].host.bastion.privateKey", bastion.adminPrivateKey);
  });

  after(async () => {
    if (cli && !destroyed) await cli.pulumi(["destroy", "--yes"]).catch(() => undefined);
    cli?.dispose();
    await destroyHosts([bastion, vm].filter(Boolean));
    if (cluster) await cluster.stop();
  });

  it("the VM's SSH port answers the bastion only: refused from this machine, open through the jump", async () => {
    const direct = await sshFromMachine(vm, "hostname");
    assert.notEqual(direct.code, 0, "no direct SSH to the VM");
    // Refused by the reset rule; under load the first SYN can also go unanswered until the connect timeout.
    assert.match(direct.stderr, /port 22: Connection (refused|timed out)/);
    const jumped = await sshFromMachine(vm, "hostname", bastion);
    assert.equal(jumped.code, 0, jumped.stderr);
    assert.equal(jumped.stdout.trim(), "jump-ratings");
    assert.deepEqual(await loginSources(vm), [bastion.address], "the one login came from the bastion");
  });

  it("preview through the bastion shows the plan and dials neither host", async () => {
    const before_ = await logins();
    const r = await cli!.withEvents(["preview", "--diff", "--show-full-output"]);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /docker run -d --name istio-proxy/);
    assert.deepEqual(await logins(), before_, "no SSH login at preview");
  });

  it("up onboards through the bastion: one jump and one VM login per remote step, the VM's all from the bastion", async () => {
    const before_ = await logins();
    const started = Date.now();
    const r = await up();
    const seconds = (Date.now() - started) / 1000;
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    const steps = remoteSteps(r.events);
    const after_ = await logins();
    console.log(
      `# up through the bastion: ${seconds.toFixed(1)} s, ${steps} remote steps, logins VM ${after_.vm - before_.vm}, bastion ${after_.bastion - before_.bastion}`,
    );
    assert.equal(steps, 2, "the host step and the proxy step");
    assert.equal(after_.vm - before_.vm, steps, "one VM login per remote step");
    assert.equal(after_.bastion - before_.bastion, steps, "each went through the bastion");
    assert.ok(
      (await loginSources(vm)).every((a) => a === bastion.address),
      "every VM login came from the bastion's address",
    );
    const c = (await vm.containers()).find((x) => x.name === "istio-proxy");
    assert.equal(c?.state, "running");
    assert.equal((await vm.run("curl -fsS http://127.0.0.1:15021/healthz/ready")).stdout.trim(), "ok");
    assert.match(await vm.readFile(`${CONFIG_DIR}/sidecar.env`), new RegExp(`^POD_NAME=${VM}$`, "m"));
    assert.equal((await get(`workloadentries/${VM}`)).status, 200, "registered once ready");
  });

  it("a second up changes nothing and opens no SSH session on the VM or the bastion", async () => {
    const before_ = await logins();
    const r = await up();
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.deepEqual(changedSteps(r.events), [], "every resource unchanged");
    assert.deepEqual(await logins(), before_, "zero SSH sessions");
  });

  it("a VM still booting (sshd not answering yet) is retried within the dial limits and then reached", async () => {
    const token = await vm.readFile(`${CONFIG_DIR}/istio-token`);
    await vm.stopSshd();
    await cli!.setPlain({ "vms[0].host.token.rotation": "boot-1" });
    const failedBefore = await refusedDials();
    const started = Date.now();
    const running = up();
    // The VM "finishes booting" while the first step is retrying: once the bastion has failed to reach the VM's
    // port, give it two more seconds, then start sshd (10 dial attempts span about 11 s of backoff).
    let sshdBack = NaN;
    try {
      await poll("the bastion's first refused dial to the VM", 120_000, async () =>
        (await refusedDials()) > failedBefore ? true : undefined,
      );
      await sleep(2_000);
    } finally {
      sshdBack = (Date.now() - started) / 1000;
      await vm.startSshd();
    }
    const r = await running;
    const seconds = (Date.now() - started) / 1000;
    const refused = (await refusedDials()) - failedBefore;
    console.log(
      `# booting VM: sshd back after ${sshdBack.toFixed(1)} s, up done in ${seconds.toFixed(1)} s, ${refused} refused dials from the bastion`,
    );
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.ok(refused >= 1, "the bastion's dials to the VM were refused, then retried");
    assert.notEqual(await vm.readFile(`${CONFIG_DIR}/istio-token`), token, "the rotated token was delivered");
  });

  it("a VM that does not come up is reported once the dial limit is spent, naming the limit and the fix", async () => {
    const before_ = await logins();
    await vm.stopSshd();
    try {
      await cli!.setPlain({ "vms[0].host.token.rotation": "boot-2" });
      const started = Date.now();
      const r = await up();
      const seconds = (Date.now() - started) / 1000;
      const errors = errorsOf(r.events);
      console.log(`# VM down behind the bastion: failed after ${seconds.toFixed(1)} s:\n${errors}`);
      assert.notEqual(r.code, 0);
      assert.match(
        errors,
        new RegExp(
          `proxy: after ${DIAL_ERROR_LIMIT} failed attempts: .*connect failed \\(Connection refused\\)`,
        ),
      );
      assert.equal((await logins()).vm, before_.vm, "nothing reached the VM");
    } finally {
      await vm.startSshd();
    }
    const r = await up();
    assert.equal(r.code, 0, `the VM back, up converges: ${r.stdout}\n${r.stderr}`);
  });

  it("a wrong bastion host key is refused before any step dials, naming bastion.hostKey and the fix", async () => {
    const before_ = await logins();
    const containerId = (await vm.containers()).find((x) => x.name === "istio-proxy")?.id;
    // The VM's key is a real key, just not the bastion's: as after a bastion rebuild or an interception.
    await cli!.setPlain({ "vms[0].host.bastion.hostKey": vm.hostKey });
    const r = await up();
    const errors = errorsOf(r.events);
    console.log(`# wrong bastion key:\n${errors}`);
    assert.notEqual(r.code, 0);
    assert.match(errors, /bastion\.hostKey/);
    assert.match(errors, /set .*bastion\.hostKey.* to the bastion's/);
    const after_ = await logins();
    assert.equal(after_.vm, before_.vm, "nothing reached the VM");
    assert.equal(after_.bastion, before_.bastion, "no login on the bastion with a key it cannot prove");
    assert.equal((await vm.containers()).find((x) => x.name === "istio-proxy")?.id, containerId);
    // Again with the same wrong key: still refused by the check, not by the steps' dial limit.
    const again = await up();
    assert.notEqual(again.code, 0);
    assert.match(errorsOf(again.events), /not the key pinned in bastion\.hostKey/);
    assert.equal((await logins()).bastion, before_.bastion, "still no login on the bastion");

    await cli!.setPlain({ "vms[0].host.bastion.hostKey": bastion.hostKey });
    const back = await up();
    assert.equal(back.code, 0, `${back.stdout}\n${back.stderr}`);
    assert.equal((await logins()).vm, before_.vm, "the right key again: no VM step runs");
  });

  it("destroy goes through the bastion: the proxy and files removed, the VM deregistered", async () => {
    const r = await cli!.withEvents(["destroy", "--yes", "--skip-preview"]);
    destroyed = true;
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.equal(
      (await vm.containers()).find((x) => x.name === "istio-proxy"),
      undefined,
      "no container",
    );
    assert.equal(await vm.exists(CONFIG_DIR), false, "no config dir");
    assert.equal(await vm.etcHosts(), hostsBefore, "/etc/hosts as before");
    assert.equal((await get(`workloadentries/${VM}`)).status, 404);
    assert.ok(
      (await loginSources(vm)).every((a) => a === bastion.address),
      "every VM login, destroy's too, came from the bastion's address",
    );
  });
});
