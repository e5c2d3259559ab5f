// Onboards the seeds' ratings VM twice over SSH with the real engine, a real kube-apiserver and two test hosts:
// one on the pods' network (address = VM IP) and one segregated (public address, private proxyInstanceIp, SSH
// over a third address). Checks what a user would check on the hosts and in the cluster, that a second `up`
// touches no host, that changes reach only the steps that depend on them, that destroy leaves the hosts as
// before, and that no token or private key shows up in plain text anywhere.
import type { EngineEvent } from "@pulumi/pulumi/automation";
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { assertProxyFiles } from "../../scripts/testbed/proxyFiles";
import { startCluster, type TestCluster } from "../../scripts/testbed/cluster";
import { createHosts, destroyHosts, type TestHost } from "../../scripts/testbed/hosts";
import {
  CONFIG_DIR,
  meshVmProgram,
  NS,
  PROXY_IMAGE,
  proxyContainerOf,
  SA,
  vmOn,
  type Knobs,
  type Vm,
} from "../../scripts/testbed/meshVmStack";
import { changedSteps, createTestStack, errors, steps, type TestStack } from "../../scripts/testbed/pulumi";
import { startHostSampler, startLocalSampler } from "../../scripts/testbed/processes";
import { isSdkDebugResponse, knownSecrets, secretFindings } from "../../scripts/testbed/secrets";

describe("onboarding VMs over SSH", { timeout: 40 * 60_000 }, () => {
  let cluster: TestCluster | undefined;
  let hosts: TestHost[] = [];
  let vms: Vm[] = [];
  let stack: TestStack | undefined;
  let destroyed = false;
  const hostsBefore = new Map<string, string>();
  const eventLog: EngineEvent[] = [];
  const cliOutput: string[] = [];
  const errorTexts: string[] = [];

  const knobs: Knobs = { port: 9080, tokenLifetime: 86400, hostGone: false };
  const program = () => meshVmProgram(cluster!, vms, knobs)();
  const onboardProgram = (vms: Vm[], knobs: Knobs) => meshVmProgram(cluster!, vms, knobs)();

  /** Runs an operation, keeping its events, CLI output and error text for the secret checks. */
  async function record<T extends { events: EngineEvent[]; result: { stdout: string; stderr: string } }>(
    run: () => Promise<T>,
  ): Promise<T> {
    try {
      const r = await run();
      eventLog.push(...r.events);
      cliOutput.push(r.result.stdout, r.result.stderr);
      return r;
    } catch (error) {
      errorTexts.push(String(error), JSON.stringify(error));
      throw error;
    }
  }

  const tokenRequests = (): Promise<number> => cluster!.tokenRequests();
  const sshLogins = async (): Promise<number[]> => Promise.all(hosts.map((h) => h.sshLogins()));

  before(async () => {
    cluster = await startCluster();
    await cluster.createNamespace(NS);
    await cluster.createServiceAccount(NS, SA);
    hosts = await createHosts([
      { name: "ratings-a", networks: ["vm"] },
      { name: "ratings-b", networks: ["vm", "second", "third"] },
    ]);
    for (const host of hosts) {
      hostsBefore.set(host.name, await host.etcHosts());
    }
    const [a, b] = hosts;
    vms = [
      // Same network: the pods reach the VM on its own IP.
      vmOn("ratings-vm-a", a),
      // Segregated: public address, private instance IP the proxy binds to, SSH over a third address.
      {
        name: "ratings-vm-b",
        host: b,
        address: b.addresses.second!,
        proxyInstanceIp: b.addresses.vm!,
        sshHost: b.addresses.third!,
        network: "vm-network",
      },
    ];
    stack = await createTestStack({ program, projectName: "mesh-vm-onboard-e2e" });
  });

  after(async () => {
    if (stack) {
      if (!destroyed) await stack.destroy().catch(() => undefined);
      await stack.dispose();
    }
    if (hosts.length) await destroyHosts(hosts);
    if (cluster) await cluster.stop();
  });

  it("preview shows every object and host step with the rendered files, mints nothing, touches no host", async () => {
    const loginsBefore = await sshLogins();
    const preview = await record(() => stack!.preview());
    const planned = steps(preview.events);
    for (const vm of vms) {
      for (const s of [
        `create kubernetes:networking.istio.io/v1:WorkloadEntry ${vm.name}-workloadentry`,
        `create kubernetes:networking.istio.io/v1:Sidecar ${vm.name}-sidecar`,
        `create kubernetes:networking.istio.io/v1:ServiceEntry ${vm.name}-serviceentry`,
        `create tls:index/privateKey:PrivateKey ${vm.name}-proxy-ssh-key`,
        `create command:local:Command ${vm.name}-proxy-bootstrap-token`,
        `create command:remote:Command ${vm.name}-proxy-host`,
        `create command:remote:Command ${vm.name}-proxy-proxy`,
      ]) {
        assert.ok(planned.includes(s), `preview plans "${s}"; planned:\n${planned.join("\n")}`);
      }
      const remote = planned.filter((s) => s.includes(`command:remote:Command ${vm.name}-`));
      assert.equal(remote.length, 2, `two remote steps per VM: ${remote.join(", ")}`);
    }
    // The plan holds every host step's script and the non-secret file contents, known at preview (the CLI prints
    // them in full with --show-full-output; test/e2e/cliRootProgram.test.ts checks that text).
    const inputs = (name: string): Record<string, unknown> => {
      const e = preview.events.find((x) => x.resourcePreEvent?.metadata.urn.endsWith(`::${name}`));
      assert.ok(e, `an event for ${name}`);
      return (e.resourcePreEvent!.metadata.new?.inputs ?? {}) as Record<string, unknown>;
    };
    for (const vm of vms) {
      for (const step of ["host", "proxy"]) {
        const create = inputs(`${vm.name}-proxy-${step}`).create;
        assert.ok(
          typeof create === "string" && create.includes("sh -c") && !create.includes(UNKNOWN),
          `${vm.name} ${step}: the script is known at preview`,
        );
      }
      // The proxy step's script names every file (with the digest of each non-secret one) and the container.
      const proxyCreate = String(inputs(`${vm.name}-proxy-proxy`).create);
      for (const file of ["sidecar.env", "istio-ca.pem", "k8s-ca.pem"]) {
        assert.match(
          proxyCreate,
          new RegExp(`# ${CONFIG_DIR}/${file.replace(".", "\\.")} sha256=[0-9a-f]{64}`),
        );
      }
      assert.ok(proxyCreate.includes(`# ${CONFIG_DIR}/istio-token secret`), "the token: named, no digest");
      assert.match(
        proxyCreate,
        /run -d --name istio-proxy --restart unless-stopped --network host/,
        "the docker command",
      );
    }
    assert.doesNotMatch(preview.result.stdout, /create\s*: \[unknown\]/, "no host step's script is unknown");
    assert.equal(await tokenRequests(), 0, "preview minted no token");
    assert.deepEqual(await sshLogins(), loginsBefore, "preview opened no SSH session");
    for (const host of hosts) {
      assert.equal(await host.exists(CONFIG_DIR), false);
    }
  });

  it("up onboards both hosts: user, files, container, hosts block, then the mesh objects", async () => {
    const loginsBefore = await sshLogins();
    const samplers = await Promise.all(hosts.map((h) => startHostSampler(h)));
    const localSampler = startLocalSampler();
    let up;
    try {
      up = await record(() => stack!.up());
    } finally {
      processSamples.set("local", await localSampler.stop());
      for (const [i, s] of samplers.entries()) processSamples.set(hosts[i].name, await s.stop());
    }
    assert.equal(up.result.summary.result, "succeeded", errors(up.events).join("\n"));
    assert.equal(await tokenRequests(), 2, "one TokenRequest per VM");
    const logins = (await sshLogins()).map((n, i) => n - loginsBefore[i]!);
    console.log(`SSH sessions per VM on create: ${logins.join(", ")}`);
    assert.deepEqual(logins, [2, 2], "two SSH sessions per VM: the host step and the proxy step");

    for (const vm of vms) {
      const h = vm.host;
      // The prepared user, in the docker group, with our key.
      const id = await h.run("id istio-proxy");
      assert.match(id.stdout, /groups=.*\(docker\)/);
      const dir = await h.stat(CONFIG_DIR);
      assert.deepEqual(
        [dir?.type, dir?.owner, dir?.group, dir?.mode],
        ["directory", "istio-proxy", "istio-proxy", 0o775],
      );
      const authorized = await h.readFile("/home/istio-proxy/.ssh/authorized_keys");
      const identity = up.result.outputs[`${vm.name}.sshIdentity`].value as {
        publicKey: string;
        user: string;
      };
      assert.ok(authorized.includes(`${identity.publicKey} mesh-vm:${NS}/${vm.name}`));
      assert.equal(identity.user, "istio-proxy");

      // Files: content, mode, owner.
      const env = await h.readFile(`${CONFIG_DIR}/sidecar.env`);
      assert.match(env, new RegExp(`^POD_NAME=${vm.name}$`, "m"));
      assert.match(env, new RegExp(`^IDENTITY_IP=${vm.address.replace(/\./g, "\\.")}$`, "m"));
      assert.match(
        env,
        new RegExp(`^INSTANCE_IP=${(vm.proxyInstanceIp ?? vm.address).replace(/\./g, "\\.")}$`, "m"),
      );
      assert.match(env, new RegExp(`^ISTIO_META_NETWORK=${vm.network ?? ""}$`, "m"));
      assert.equal(await h.readFile(`${CONFIG_DIR}/istio-ca.pem`), cluster!.meshRootCaPem);
      assert.equal(await h.readFile(`${CONFIG_DIR}/k8s-ca.pem`), cluster!.clusterCaPem);
      const token = await h.readFile(`${CONFIG_DIR}/istio-token`);
      mintedTokens.push(token);
      const claims = JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString("utf8")) as Record<
        string,
        unknown
      >;
      assert.deepEqual(claims.aud, ["istio-ca"]);
      assert.equal(claims.sub, `system:serviceaccount:${NS}:${SA}`);
      await assertProxyFiles(h, CONFIG_DIR);

      // The container as tctl runs it, plus the persistent certificate directory.
      const c = proxyContainerOf(await h.containers());
      assert.ok(c, "istio-proxy container exists");
      assert.equal(c.image, PROXY_IMAGE);
      assert.equal(c.state, "running");
      assert.equal(c.restartPolicy, "unless-stopped");
      assert.equal(c.networkMode, "host");
      const mounts = Object.fromEntries(c.mounts.map((m) => [m.destination, m.source]));
      // The mesh root sits beside the issued certificates as a file the agent may replace (not a mount).
      assert.equal(mounts["/var/run/secrets/istio/root-cert.pem"], undefined);
      assert.equal(await h.readFile(`${CONFIG_DIR}/certs/root-cert.pem`), cluster!.meshRootCaPem);
      assert.equal(mounts["/var/run/secrets/tokens"], CONFIG_DIR);
      assert.equal(mounts["/var/run/secrets/istio"], `${CONFIG_DIR}/certs`);
      assert.equal(c.env.POD_NAME, vm.name);
      assert.equal(c.env.SERVICE_ACCOUNT, SA);
      assert.equal(c.env.PROV_CERT, "/var/run/secrets/istio");
      assert.equal(up.result.outputs[`${vm.name}.containerId`].value, c.id);
      assert.match(await h.containerLogs("istio-proxy"), /ready: serving \/healthz\/ready on :15021/);
      const ready = await h.run("curl -fsS http://127.0.0.1:15021/healthz/ready");
      assert.equal(ready.stdout.trim(), "ok");

      // The hosts block, in place after the host's own lines.
      const etcHosts = await h.etcHosts();
      assert.ok(etcHosts.startsWith(hostsBefore.get(h.name)!));
      assert.ok(
        etcHosts.includes(
          `# BEGIN mesh-vm ${NS}/${vm.name}\n127.0.0.2 reviews.bookinfo.svc\n127.0.0.2 details.bookinfo.svc\n# END mesh-vm ${NS}/${vm.name}\n`,
        ),
      );

      // The mesh objects, registered after the proxy was ready.
      const we = await cluster!.request(
        "GET",
        `/apis/networking.istio.io/v1/namespaces/${NS}/workloadentries/${vm.name}`,
      );
      assert.equal(we.status, 200);
      assert.equal(we.body.spec.address, vm.address);
      // The VM serves on the service port: the WorkloadEntry maps no port (only a targetPort would).
      assert.equal(we.body.spec.ports, undefined);
      const se = await cluster!.request(
        "GET",
        `/apis/networking.istio.io/v1/namespaces/${NS}/serviceentries/${vm.name}-svc`,
      );
      assert.equal(se.body.spec.ports[0].number, 9080);
      for (const [kind, name] of [
        ["sidecars", `${vm.name}-no-iptables`],
        ["serviceentries", `${vm.name}-svc`],
      ]) {
        assert.equal(
          (await cluster!.request("GET", `/apis/networking.istio.io/v1/namespaces/${NS}/${kind}/${name}`))
            .status,
          200,
          `${kind}/${name}`,
        );
      }
      const order = up.events.map(eventKey);
      const ready_ = order.indexOf(`done create ${vm.name}-proxy-proxy`);
      const registered = order.indexOf(`start create ${vm.name}-workloadentry`);
      assert.ok(
        ready_ >= 0 && registered > ready_,
        `${vm.name}: WorkloadEntry created after the proxy was ready`,
      );
    }
  });

  it("a second up changes nothing and runs no command on any host", async () => {
    const logins = await sshLogins();
    const mints = await tokenRequests();
    const up = await record(() => stack!.up());
    const changes = up.result.summary.resourceChanges ?? {};
    const changed = Object.entries(changes).filter(
      ([op, n]) => op !== "same" && op !== "read" && (n ?? 0) > 0,
    );
    assert.deepEqual(changed, [], JSON.stringify(changes));
    assert.deepEqual(await sshLogins(), logins, "no SSH session");
    assert.equal(await tokenRequests(), mints, "no new token");
  });

  it("a port change updates the mesh objects only; a lifetime change re-mints without recreating the container", async () => {
    const containersBefore = await Promise.all(
      vms.map(async (vm) => proxyContainerOf(await vm.host.containers())!.id),
    );
    let logins = await sshLogins();
    knobs.port = 9081;
    let up = await record(() => stack!.up());
    assert.equal(up.result.summary.result, "succeeded", errors(up.events).join("\n"));
    let touched = steps(up.events).filter((s) => !s.startsWith("same "));
    for (const vm of vms) {
      // The port is in the Sidecar's ingress and the ServiceEntry; the WorkloadEntry maps no port.
      for (const kind of ["Sidecar", "ServiceEntry"]) {
        assert.ok(
          touched.includes(
            `update kubernetes:networking.istio.io/v1:${kind} ${vm.name}-${kind.toLowerCase()}`,
          ),
          `${kind} updated; touched: ${touched.join(", ")}`,
        );
      }
      const se = await cluster!.request(
        "GET",
        `/apis/networking.istio.io/v1/namespaces/${NS}/serviceentries/${vm.name}-svc`,
      );
      assert.equal(se.body.spec.ports[0].number, 9081);
    }
    assert.ok(!touched.some((s) => s.includes("command:")), `no host step: ${touched.join(", ")}`);
    assert.deepEqual(await sshLogins(), logins, "no host step depends on the port");

    const tokensBefore = await Promise.all(vms.map((vm) => vm.host.readFile(`${CONFIG_DIR}/istio-token`)));
    const inodes = (vm: (typeof vms)[number]) =>
      vm.host
        .run(
          `stat -c '%n %i' ${["sidecar.env", "istio-ca.pem", "k8s-ca.pem", "istio-token"].map((f) => `${CONFIG_DIR}/${f}`).join(" ")}`,
        )
        .then((r) => r.stdout.trim().split("\n"));
    const inodesBefore = await Promise.all(vms.map(inodes));
    const mints = await tokenRequests();
    logins = await sshLogins();
    knobs.tokenLifetime = 7200;
    up = await record(() => stack!.up());
    assert.equal(up.result.summary.result, "succeeded", errors(up.events).join("\n"));
    touched = steps(up.events).filter((s) => !s.startsWith("same "));
    assert.equal(await tokenRequests(), mints + 2, "one new token per VM");
    for (const [i, vm] of vms.entries()) {
      assert.ok(
        touched.some((s) => s.endsWith(`${vm.name}-proxy-bootstrap-token`)),
        touched.join(", "),
      );
      assert.ok(touched.includes(`update command:remote:Command ${vm.name}-proxy-proxy`), touched.join(", "));
      assert.ok(!touched.some((s) => s.endsWith(`${vm.name}-proxy-host`)), "host step untouched");
      // Only the token file was replaced (rename: a new inode); the others were left as they were.
      const after = await inodes(vm);
      assert.deepEqual(
        after.map((l, j) => (l === inodesBefore[i]![j] ? "same" : "new")),
        ["same", "same", "same", "new"],
        `${after.join("; ")} / ${inodesBefore[i]!.join("; ")}`,
      );
      const token = await vm.host.readFile(`${CONFIG_DIR}/istio-token`);
      mintedTokens.push(token);
      assert.notEqual(token, tokensBefore[i]);
      const claims = JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString("utf8")) as {
        exp: number;
        iat: number;
      };
      assert.equal(claims.exp - claims.iat, 7200);
      const c = proxyContainerOf(await vm.host.containers())!;
      assert.equal(c.id, containersBefore[i], "same container");
      // The running proxy sees the new token through its directory mount.
      // (through the container's main process: podman's exec is not usable in the test bed)
      const seen = await vm.host.readFile(`/proc/${c.pid}/root/var/run/secrets/tokens/istio-token`);
      assert.equal(seen, token);
    }
    const after_ = await sshLogins();
    assert.deepEqual(
      after_.map((n, i) => n - logins[i]),
      [1, 1],
      "exactly one SSH session per host: the proxy step, writing the token file",
    );
  });

  it("destroy deregisters first, then leaves each host as before onboarding", async () => {
    const down = await record(() => stack!.destroy());
    destroyed = true;
    assert.equal(down.result.summary.result, "succeeded", errors(down.events).join("\n"));
    const order = down.events.map(eventKey);
    for (const vm of vms) {
      const deregistered = order.indexOf(`done delete ${vm.name}-workloadentry`);
      const stopping = order.indexOf(`start delete ${vm.name}-proxy-proxy`);
      assert.ok(
        deregistered >= 0 && stopping > deregistered,
        `${vm.name}: deregistered before the proxy stopped`,
      );
      const h = vm.host;
      assert.equal(proxyContainerOf(await h.containers()), undefined, "no container");
      assert.equal(await h.exists(CONFIG_DIR), false, "no config dir or files");
      assert.equal(await h.etcHosts(), hostsBefore.get(h.name), "hosts file as before");
      assert.ok((await h.users()).includes("istio-proxy"), "the prepared user stays (documented)");
      const keys = await h.readFile("/home/istio-proxy/.ssh/authorized_keys");
      assert.ok(!keys.includes("mesh-vm:"), "our key is removed");
      for (const path of [
        `workloadentries/${vm.name}`,
        `sidecars/${vm.name}-no-iptables`,
        `serviceentries/${vm.name}-svc`,
      ]) {
        const r = await cluster!.request("GET", `/apis/networking.istio.io/v1/namespaces/${NS}/${path}`);
        assert.equal(r.status, 404, path);
      }
    }
  });

  it("hostGone lets destroy finish when the VM is unreachable, without touching it", async () => {
    const [a] = hosts;
    const goneKnobs: Knobs = { port: 9080, tokenLifetime: 86400, hostGone: false };
    const vm = vmOn("ratings-vm-c", a);
    const gone = await createTestStack({
      program: () => onboardProgram([vm], goneKnobs),
      projectName: "mesh-vm-onboard-gone-e2e",
    });
    try {
      let r = await record(() => gone.up());
      assert.equal(r.result.summary.result, "succeeded", errors(r.events).join("\n"));
      mintedTokens.push(await a.readFile(`${CONFIG_DIR}/istio-token`));
      await a.stopSshd();
      goneKnobs.hostGone = true;
      r = await record(() => gone.up());
      // The `read`s are the ConfigMap reads (mesh and cluster roots) every run makes from the API server; they
      // contact no host. The drift check records hostGone (its update contacts nothing: it reads the VM only on
      // refresh). Anything else would be a host step (sshd is down: it would fail).
      assert.equal(r.result.summary.result, "succeeded", errors(r.events).join("\n"));
      assert.deepEqual(
        changedSteps(r.events).map((step) => step.replace(/ \S+ /, " ")),
        ["update ratings-vm-c-proxy-drift"],
        "setting hostGone changes no host step's input, so no host is contacted",
      );
      const down = await record(() => gone.destroy());
      assert.equal(down.result.summary.result, "succeeded", errors(down.events).join("\n"));
      const we = await cluster!.request(
        "GET",
        `/apis/networking.istio.io/v1/namespaces/${NS}/workloadentries/${vm.name}`,
      );
      assert.equal(we.status, 404, "the mesh objects are still removed");
      // Nothing on the host was undone (documented): the proxy is still there.
      assert.ok(proxyContainerOf(await a.containers()), "the host was not contacted");
    } finally {
      await a.startSshd();
      await a.run(`docker rm -f istio-proxy; rm -rf ${CONFIG_DIR}`, { check: false });
      await gone.dispose();
    }
  });

  it("no token or private key in plain text in state, events, CLI output, errors or process lists", async () => {
    const secrets = knownSecrets({ tokens: mintedTokens, hosts, kubeconfig: cluster!.kubeconfig });
    assert.ok(mintedTokens.length >= 4, "tokens were collected");
    const state = JSON.stringify(await stack!.exportState());
    const haystacks: [string, string][] = [
      ["exported state", state],
      ["CLI output", cliOutput.join("\n")],
      ["error messages", errorTexts.join("\n")],
      ...[...processSamples.entries()].map(([host, text]): [string, string] => [
        `process list on ${host}`,
        text,
      ]),
    ];
    const findings = haystacks.flatMap(([where, text]) => {
      assert.ok(text.length > 0 || where === "error messages", `${where} was captured`);
      return secretFindings(where, text, secrets);
    });
    // Engine events one by one, so a finding names the resource and the event (less the SDK's own debug lines:
    // see isSdkDebugResponse).
    for (const e of eventLog) {
      if (isSdkDebugResponse(e as Parameters<typeof isSdkDebugResponse>[0])) continue;
      const m = e.resourcePreEvent?.metadata ?? e.resOutputsEvent?.metadata;
      const where = `engine event ${Object.keys(e).find((k) => k.endsWith("Event"))} ${m ? `${m.op} ${m.urn.split("::").pop()}` : ""}`;
      findings.push(...secretFindings(where, JSON.stringify(e), secrets));
    }
    assert.deepEqual(findings, [], "no secret in plain text");
  });
});

const mintedTokens: string[] = [];
/** How the engine's events show a value not known at preview. */
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
const processSamples = new Map<string, string>();

/** "start|done op name" for resource pre/outputs events, to compare orders. */
function eventKey(e: EngineEvent): string {
  const pre = e.resourcePreEvent?.metadata;
  if (pre) return `start ${pre.op} ${pre.urn.split("::").pop()}`;
  const out = e.resOutputsEvent?.metadata;
  if (out) return `done ${out.op} ${out.urn.split("::").pop()}`;
  return "";
}
