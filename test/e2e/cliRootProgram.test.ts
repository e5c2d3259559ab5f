// The user's path, with the `pulumi` CLI: a copy of this repository's root project (Pulumi.yaml + index.ts, run by
// the Node.js language host), configured with `pulumi config set` (secrets on stdin), onboards the seeds' ratings
// VM on two test hosts. Asserts what a user would check: the dry run shows the rendered files and the `docker run`
// and touches nothing; `up` runs the proxies and registers them once ready; a second `up` opens no SSH session;
// a one-port change touches only what depends on the port; destroy leaves hosts and cluster as before.
// SSH sessions are counted in each host's sshd log (accepted logins), TokenRequests in the API server's audit log.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startCluster, type TestCluster } from "../../scripts/testbed/cluster";
import { cliProject, repoRoot, type CliEvent, type CliProject } from "../../scripts/testbed/cli";
import { createHosts, destroyHosts, type TestHost } from "../../scripts/testbed/hosts";
import { isSdkDebugResponse, knownSecrets, secretFindings } from "../../scripts/testbed/secrets";
import { join } from "node:path";

const NS = "bookinfo";
const SA = "bookinfo-ratings";
const PROXY_IMAGE = "localhost/mesh-vm-standin-proxy:test";
const CONFIG_DIR = "/etc/istio-proxy";

/** "op name" of each resource step the engine started (from `--event-log`). */
function stepsOf(events: CliEvent[]): string[] {
  return events
    .filter((e) => e.resourcePreEvent)
    .map((e) => `${e.resourcePreEvent!.metadata.op} ${e.resourcePreEvent!.metadata.urn.split("::").pop()}`);
}

/** "start|done op name" of resource events, in order. */
function orderOf(events: CliEvent[]): string[] {
  return events.flatMap((e) => {
    const pre = e.resourcePreEvent?.metadata;
    if (pre) return [`start ${pre.op} ${pre.urn.split("::").pop()}`];
    const out = e.resOutputsEvent?.metadata;
    if (out) return [`done ${out.op} ${out.urn.split("::").pop()}`];
    return [];
  });
}

const changedSteps = (events: CliEvent[]) =>
  stepsOf(events).filter((s) => !s.startsWith("same ") && !s.startsWith("read "));

describe(
  "the root program through the pulumi CLI, onboarding two hosts over SSH",
  { timeout: 30 * 60_000 },
  () => {
    let cluster: TestCluster | undefined;
    let hosts: TestHost[] = [];
    let cli: CliProject | undefined;
    let destroyed = false;
    const hostsBefore = new Map<string, string>();
    const tokens: string[] = [];

    const logins = () => Promise.all(hosts.map((h) => h.sshLogins()));
    const tokenRequests = () => cluster!.tokenRequests();
    const get = (path: string) =>
      cluster!.request("GET", `/apis/networking.istio.io/v1/namespaces/${NS}/${path}`);

    before(async () => {
      cluster = await startCluster();
      await cluster.createNamespace(NS);
      await cluster.createServiceAccount(NS, SA);
      hosts = await createHosts([
        { name: "cli-ratings-a", networks: ["vm"] },
        { name: "cli-ratings-b", networks: ["vm", "second", "third"] },
      ]);
      for (const h of hosts) hostsBefore.set(h.name, await h.etcHosts());
      const [a, b] = hosts;

      // A user's clone: the project files, `npm install` done (the repository's node_modules).
      cli = await cliProject({
        files: ["Pulumi.yaml", "index.ts", "package.json", "tsconfig.json", "components"],
        nodeModules: join(repoRoot, "node_modules"),
        stack: "dev",
      });
      // As docs/reference.md's stack configuration section says: plain keys with `config set --path`, secrets on stdin.
      const vm = (i: number, v: Record<string, string>) =>
        Object.fromEntries(Object.entries(v).map(([k, x]) => [`vms[${i}].${k}`, x]));
      await cli.setPlain({
        clusterIdentifier: "mesh-vm-cli-test",
        ...vm(0, {
          name: "ratings-vm",
          namespace: NS,
          address: a.address,
          serviceAccount: SA,
          "labels.app": "ratings",
          "labels.version": "v3",
          "ports[0].name": "http",
          "ports[0].number": "9080",
          "host.hostKey": a.hostKey,
          "host.prepare.admin.user": a.adminUser,
          "host.proxyImage": PROXY_IMAGE,
          "host.egressHostnames[0]": "reviews.bookinfo.svc",
        }),
        ...vm(1, {
          name: "ratings-vm-2",
          namespace: NS,
          address: b.addresses.second!,
          proxyInstanceIp: b.addresses.vm!,
          sshHost: b.addresses.third!,
          network: "vm-network",
          serviceAccount: SA,
          "labels.app": "ratings",
          "labels.version": "v3",
          "ports[0].name": "http",
          "ports[0].number": "9080",
          // One Sidecar selects both VMs (same labels): only the first declares it.
          "sidecar.enabled": "false",
          "host.hostKey": b.hostKey,
          "host.prepare.admin.user": b.adminUser,
          "host.proxyImage": PROXY_IMAGE,
        }),
      });
      await cli.setSecret("kubeconfig", cluster.kubeconfig);
      await cli.setSecret("vms[0].host.prepare.admin.privateKey", a.adminPrivateKey);
      await cli.setSecret("vms[1].host.prepare.admin.privateKey", b.adminPrivateKey);
    });

    after(async () => {
      if (cli && !destroyed) await cli.pulumi(["destroy", "--yes"]).catch(() => undefined);
      cli?.dispose();
      if (hosts.length) await destroyHosts(hosts);
      if (cluster) await cluster.stop();
    });

    it("pulumi preview --diff shows the objects, sidecar.env and docker run, secrets as [secret], and touches nothing", async () => {
      const before_ = await logins();
      const r = await cli!.withEvents(["preview", "--diff", "--show-full-output"]);
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
      const out = r.stdout;
      // The rendered objects.
      assert.match(out, /kubernetes:networking\.istio\.io\/v1:WorkloadEntry/);
      assert.match(out, /address\s*:\s*"198\.51\.100\.\d+"/);
      // sidecar.env as it will be written, and the container command.
      assert.match(out, /POD_NAME=ratings-vm\b/, "sidecar.env of ratings-vm");
      assert.match(out, /POD_NAME=ratings-vm-2\b/, "sidecar.env of ratings-vm-2");
      assert.match(out, /INSTANCE_IP=198\.51\.100\.\d+/);
      assert.match(out, /docker run -d --name istio-proxy --restart unless-stopped --network host/);
      assert.match(out, /\[secret\]/, "secrets show as [secret]");
      assert.deepEqual(await logins(), before_, "preview opened no SSH session");
      assert.equal(await tokenRequests(), 0, "preview made no TokenRequest");
      for (const h of hosts) assert.equal(await h.exists(CONFIG_DIR), false);
      assert.equal((await get("workloadentries/ratings-vm")).status, 404);
    });

    it("pulumi up runs both proxies and registers each WorkloadEntry only once its proxy is ready", async () => {
      const loginsBefore = await logins();
      const r = await cli!.withEvents(["up", "--yes", "--skip-preview"]);
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
      assert.equal(await tokenRequests(), 2, "one TokenRequest per VM");
      // One SSH session per remote step: each remote.Command dials its own connection.
      const sessions = (await logins()).map((n, i) => n - loginsBefore[i]!);
      const remoteSteps = ["ratings-vm-proxy-", "ratings-vm-2-proxy-"].map(
        (prefix) =>
          r.events.filter(
            (e) =>
              e.resourcePreEvent?.metadata.type === "command:remote:Command" &&
              e.resourcePreEvent.metadata.urn.split("::").pop()!.startsWith(prefix),
          ).length,
      );
      console.log(
        `# first up: SSH sessions per VM ${sessions.join(", ")}; remote commands ${remoteSteps.join(", ")}`,
      );
      assert.deepEqual(sessions, remoteSteps, "as many SSH sessions as remote steps, on each host");
      assert.deepEqual(
        remoteSteps,
        [2, 2],
        "the host step (prepare, key, hosts block) and the proxy step (files, container)",
      );
      const order = orderOf(r.events);
      for (const [i, name] of ["ratings-vm", "ratings-vm-2"].entries()) {
        const h = hosts[i]!;
        const c = (await h.containers()).find((x) => x.name === "istio-proxy");
        assert.equal(c?.state, "running", `${name}: proxy running`);
        assert.equal(c?.image, PROXY_IMAGE);
        const ready = await h.run("curl -fsS http://127.0.0.1:15021/healthz/ready");
        assert.equal(ready.stdout.trim(), "ok", `${name}: proxy ready`);
        const env = await h.readFile(`${CONFIG_DIR}/sidecar.env`);
        assert.match(env, new RegExp(`^POD_NAME=${name}$`, "m"));
        tokens.push(await h.readFile(`${CONFIG_DIR}/istio-token`));
        const we = await get(`workloadentries/${name}`);
        assert.equal(we.status, 200, `${name}: WorkloadEntry registered`);
        const ready_ = order.indexOf(`done create ${name}-proxy-proxy`);
        const registered = order.indexOf(`start create ${name}-workloadentry`);
        assert.ok(
          ready_ >= 0 && registered > ready_,
          `${name}: registered after the proxy was ready\n${order.join("\n")}`,
        );
      }
      const outputs = JSON.parse((await cli!.ok(["stack", "output", "--json"])).stdout) as {
        vms: Record<string, { proxy: { containerState: string } | null }>;
      };
      assert.equal(outputs.vms["ratings-vm"]?.proxy?.containerState, "running");
      assert.equal(outputs.vms["ratings-vm-2"]?.proxy?.containerState, "running");
    });

    it("a second pulumi up changes nothing, opens no SSH session and mints no token", async () => {
      const before_ = await logins();
      const mints = await tokenRequests();
      const r = await cli!.withEvents(["up", "--yes", "--skip-preview"]);
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
      assert.deepEqual(changedSteps(r.events), [], "every resource unchanged");
      assert.match(r.stdout, /\d+ unchanged/);
      assert.doesNotMatch(r.stdout, /\d+ (created|updated|deleted|replaced)/);
      assert.deepEqual(await logins(), before_, "zero SSH sessions on the hosts");
      assert.equal(await tokenRequests(), mints, "no TokenRequest");
    });

    it("a one-port change updates the mesh objects of that VM and runs no host step", async () => {
      const before_ = await logins();
      await cli!.setPlain({ "vms[0].ports[0].number": "9081" });
      const r = await cli!.withEvents(["up", "--yes", "--skip-preview"]);
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
      const touched = changedSteps(r.events);
      assert.ok(touched.includes("update ratings-vm-serviceentry"), touched.join(", "));
      assert.ok(
        !touched.some((s) => s.includes("ratings-vm-2")),
        `the other VM untouched: ${touched.join(", ")}`,
      );
      assert.ok(!touched.some((s) => s.includes("-proxy-")), `no host step: ${touched.join(", ")}`);
      assert.deepEqual(await logins(), before_, "no SSH session: no host step depends on the port");
      const se = await get("serviceentries/ratings-vm");
      assert.equal(se.body.spec.ports[0].number, 9081);
    });

    it("pulumi destroy deregisters, removes the proxies and files, and leaves each host as before", async () => {
      const r = await cli!.withEvents(["destroy", "--yes", "--skip-preview"]);
      destroyed = true;
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
      for (const [i, name] of ["ratings-vm", "ratings-vm-2"].entries()) {
        const h = hosts[i]!;
        assert.equal(
          (await h.containers()).find((x) => x.name === "istio-proxy"),
          undefined,
          `${name}: no container`,
        );
        assert.equal(await h.exists(CONFIG_DIR), false, `${name}: no config dir`);
        assert.equal(await h.etcHosts(), hostsBefore.get(h.name), `${name}: /etc/hosts as before`);
        assert.ok((await h.users()).includes("istio-proxy"), "the prepared user stays (documented)");
        assert.equal((await get(`workloadentries/${name}`)).status, 404);
        assert.equal((await get(`serviceentries/${name}`)).status, 404);
      }
      assert.equal((await get("sidecars/bookinfo-ratings-no-iptables")).status, 404);
    });

    it("no token, private key or kubeconfig credential in the CLI's output, event logs or state", async () => {
      const secrets = knownSecrets({ tokens: tokens, hosts, kubeconfig: cluster!.kubeconfig });
      assert.equal(tokens.length, 2, "tokens were collected");
      const state = (await cli!.ok(["stack", "export"])).stdout;
      assert.ok(cli!.transcript().length > 0 && cli!.events().length > 0 && state.length > 0, "all captured");
      const findings = [
        ...secretFindings("CLI output", cli!.transcript(), secrets),
        ...secretFindings("state", state, secrets),
        // Less the SDK's own debug lines (see isSdkDebugResponse).
        ...cli!
          .events()
          .filter((e) => !isSdkDebugResponse(e))
          .flatMap((e) =>
            secretFindings(
              `event ${Object.keys(e).find((k) => k.endsWith("Event"))}`,
              JSON.stringify(e),
              secrets,
            ),
          ),
      ];
      assert.deepEqual(findings, [], "no secret in plain text");
    });
  },
);
