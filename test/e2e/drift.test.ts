// Drift seen by `pulumi refresh` and repaired by the next `up`, through the `pulumi` CLI and the root program on two
// test hosts. On one host the proxy container is removed, sidecar.env is edited and the hosts block is deleted behind
// Pulumi's back. Asserted: a no-op `up` opens no SSH session; `pulumi refresh` opens one SSH session per VM and
// reports each part, naming the VM; the next `up` re-runs only that VM's two steps (SSH logins on that host only)
// and puts back the container, the file and the block; a further `up` opens no SSH session again.
// SSH sessions are counted in each host's sshd log (accepted logins).
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startCluster, type TestCluster } from "../../scripts/testbed/cluster";
import { cliProject, repoRoot, type CliEvent, type CliProject } from "../../scripts/testbed/cli";
import { createHosts, destroyHosts, type TestHost } from "../../scripts/testbed/hosts";
import { knownSecrets, secretFindings } from "../../scripts/testbed/secrets";

const NS = "bookinfo";
const SA = "bookinfo-ratings";
const PROXY_IMAGE = "localhost/mesh-vm-standin-proxy:test";
const CONFIG_DIR = "/etc/istio-proxy";
const VMS = ["ratings-vm", "ratings-vm-2"] as const;

/** "op name" of each resource step that changed something (from `--event-log`). */
const changedSteps = (events: CliEvent[]) =>
  events
    .filter((e) => e.resourcePreEvent)
    .map((e) => `${e.resourcePreEvent!.metadata.op} ${e.resourcePreEvent!.metadata.urn.split("::").pop()}`)
    .filter((s) => !s.startsWith("same ") && !s.startsWith("read ") && !s.startsWith("refresh "));

describe(
  "drift seen by pulumi refresh and repaired by the next up, on one of two hosts",
  { timeout: 30 * 60_000 },
  () => {
    let cluster: TestCluster | undefined;
    let hosts: TestHost[] = [];
    let cli: CliProject | undefined;
    const tokens: string[] = [];
    const applied: { env?: string; hosts?: string } = {};

    const logins = () => Promise.all(hosts.map((h) => h.sshLogins()));
    const delta = async (before_: number[]) => (await logins()).map((n, i) => n - before_[i]!);
    const proxyState = async (h: TestHost) =>
      (await h.containers()).find((c) => c.name === "istio-proxy")?.state;

    before(async () => {
      cluster = await startCluster();
      await cluster.createNamespace(NS);
      await cluster.createServiceAccount(NS, SA);
      hosts = await createHosts([
        { name: "drift-a", networks: ["vm"] },
        { name: "drift-b", networks: ["vm"] },
      ]);
      cli = await cliProject({
        files: ["Pulumi.yaml", "index.ts", "package.json", "tsconfig.json", "components"],
        nodeModules: join(repoRoot, "node_modules"),
        stack: "dev",
      });
      const plain: Record<string, string> = { clusterIdentifier: "mesh-vm-drift-test" };
      for (const [i, h] of hosts.entries()) {
        Object.assign(plain, {
          [`vms[${i}].name`]: VMS[i]!,
          [`vms[${i}].namespace`]: NS,
          [`vms[${i}].address`]: h.address,
          [`vms[${i}].serviceAccount`]: SA,
          [`vms[${i}].labels.app`]: "ratings",
          [`vms[${i}].labels.version`]: "v3",
          [`vms[${i}].ports[0].name`]: "http",
          [`vms[${i}].ports[0].number`]: "9080",
          [`vms[${i}].host.hostKey`]: h.hostKey,
          [`vms[${i}].host.prepare.admin.user`]: h.adminUser,
          [`vms[${i}].host.proxyImage`]: PROXY_IMAGE,
          [`vms[${i}].host.egressHostnames[0]`]: "reviews.bookinfo.svc",
          ...(i > 0 ? { [`vms[${i}].sidecar.enabled`]: "false" } : {}),
        });
      }
      await cli.setPlain(plain);
      await cli.setSecret("kubeconfig", cluster.kubeconfig);
      for (const [i, h] of hosts.entries()) {
        await cli.setSecret(`vms[${i}].host.prepare.admin.privateKey`, h.adminPrivateKey);
      }
    });

    after(async () => {
      if (cli) await cli.pulumi(["destroy", "--yes", "--skip-preview"]).catch(() => undefined);
      cli?.dispose();
      if (hosts.length) await destroyHosts(hosts);
      if (cluster) await cluster.stop();
    });

    it("up onboards both VMs; a no-op up opens no SSH session; a refresh without drift finds nothing", async () => {
      const up = await cli!.withEvents(["up", "--yes", "--skip-preview"]);
      assert.equal(up.code, 0, `${up.stdout}\n${up.stderr}`);
      for (const h of hosts) {
        assert.equal(await proxyState(h), "running");
        tokens.push(await h.readFile(`${CONFIG_DIR}/istio-token`));
      }
      const b = hosts[1]!;
      applied.env = await b.readFile(`${CONFIG_DIR}/sidecar.env`);
      applied.hosts = await b.etcHosts();
      assert.match(applied.hosts, /# BEGIN mesh-vm bookinfo\/ratings-vm-2/);

      let before_ = await logins();
      const noop = await cli!.withEvents(["up", "--yes", "--skip-preview"]);
      assert.equal(noop.code, 0, `${noop.stdout}\n${noop.stderr}`);
      assert.deepEqual(changedSteps(noop.events), [], "every resource unchanged");
      assert.deepEqual(await delta(before_), [0, 0], "a no-op up opens no SSH session");

      before_ = await logins();
      const refresh = await cli!.withEvents(["refresh", "--yes", "--skip-preview"]);
      assert.equal(refresh.code, 0, `${refresh.stdout}\n${refresh.stderr}`);
      const sessions = await delta(before_);
      console.log(`# refresh without drift: SSH sessions per VM ${sessions.join(", ")}`);
      assert.deepEqual(sessions, [1, 1], "one SSH session per VM per refresh (the drift check)");
      assert.doesNotMatch(refresh.stdout, /proxyDrift|hostDrift/, refresh.stdout);

      before_ = await logins();
      const after_ = await cli!.withEvents(["up", "--yes", "--skip-preview"]);
      assert.equal(after_.code, 0, `${after_.stdout}\n${after_.stderr}`);
      assert.deepEqual(changedSteps(after_.events), [], "a refresh without drift changes nothing");
      assert.deepEqual(await delta(before_), [0, 0]);
    });

    it("pulumi refresh reports the removed container, the changed file and the missing hosts block, naming the VM", async () => {
      const b = hosts[1]!;
      await b.run("docker rm --force istio-proxy >/dev/null");
      await b.run(`echo 'EXTRA=1' >> ${CONFIG_DIR}/sidecar.env`);
      await b.run(
        "sed -i '/^# BEGIN mesh-vm bookinfo\\/ratings-vm-2$/,/^# END mesh-vm bookinfo\\/ratings-vm-2$/d' /etc/hosts",
      );
      assert.equal(await proxyState(b), undefined);
      assert.doesNotMatch(await b.etcHosts(), /ratings-vm-2/);

      const before_ = await logins();
      const r = await cli!.withEvents(["refresh", "--yes", "--skip-preview", "--diff"]);
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
      const sessions = await delta(before_);
      console.log(`# refresh with drift on ratings-vm-2: SSH sessions per VM ${sessions.join(", ")}`);
      assert.deepEqual(sessions, [1, 1], "one SSH session per VM");
      console.log(
        r.stdout
          .split("\n")
          .filter((l) => /Drift|"ratings-vm-2: /.test(l))
          .join("\n"),
      );
      assert.match(r.stdout, /ratings-vm-2: proxy container istio-proxy missing/);
      assert.match(r.stdout, /ratings-vm-2: \/etc\/istio-proxy\/sidecar\.env changed/);
      assert.match(r.stdout, /ratings-vm-2: hosts block missing in \/etc\/hosts/);
      assert.doesNotMatch(r.stdout, /"ratings-vm: /, "no drift reported on ratings-vm");
      // Only ratings-vm-2's drift check changed (the ConfigMap reads show metadata updates at every refresh, as before).
      assert.match(r.stdout, /::ratings-vm-2-proxy-drift\]/);
      assert.doesNotMatch(r.stdout, /::ratings-vm-proxy-drift\]/);
      // Refresh repairs nothing by itself.
      assert.equal(await proxyState(b), undefined);
    });

    it("the next up re-runs only ratings-vm-2's steps and repairs it; a further up opens no SSH session", async () => {
      const b = hosts[1]!;
      const preview = await cli!.pulumi(["preview", "--diff"]);
      assert.equal(preview.code, 0, `${preview.stdout}\n${preview.stderr}`);
      // The preview names the repair in each step's script.
      assert.match(
        preview.stdout,
        /# mesh-vm repair 1: ratings-vm-2: \/etc\/istio-proxy\/sidecar\.env changed; ratings-vm-2: proxy container istio-proxy missing/,
      );
      assert.match(preview.stdout, /# mesh-vm repair 1: ratings-vm-2: hosts block missing in \/etc\/hosts/);
      assert.doesNotMatch(preview.stdout, /::ratings-vm-proxy-(proxy|host)\]/, "nothing of ratings-vm");

      let before_ = await logins();
      const up = await cli!.withEvents(["up", "--yes", "--skip-preview"]);
      assert.equal(up.code, 0, `${up.stdout}\n${up.stderr}`);
      const touched = changedSteps(up.events);
      console.log(`# repairing up: ${touched.join(", ")}`);
      assert.deepEqual(
        touched.sort(),
        [
          "update ratings-vm-2-proxy-drift",
          "update ratings-vm-2-proxy-host",
          "update ratings-vm-2-proxy-proxy",
        ],
        "only ratings-vm-2's drift check and its two steps",
      );
      const sessions = await delta(before_);
      console.log(`# repairing up: SSH sessions per VM ${sessions.join(", ")}`);
      assert.deepEqual(
        sessions,
        [0, 2],
        "SSH logins only on the drifted host: its host step and its proxy step",
      );
      assert.equal(await proxyState(b), "running", "the container is back");
      const ready = await b.run("curl -fsS http://127.0.0.1:15021/healthz/ready");
      assert.equal(ready.stdout.trim(), "ok");
      assert.equal(await b.readFile(`${CONFIG_DIR}/sidecar.env`), applied.env, "sidecar.env as applied");
      assert.equal(await b.etcHosts(), applied.hosts, "the hosts block is back");
      assert.equal(await b.readFile(`${CONFIG_DIR}/istio-token`), tokens[1], "the same token (no mint)");
      assert.equal(await proxyState(hosts[0]!), "running");

      before_ = await logins();
      const noop = await cli!.withEvents(["up", "--yes", "--skip-preview"]);
      assert.equal(noop.code, 0, `${noop.stdout}\n${noop.stderr}`);
      assert.deepEqual(changedSteps(noop.events), [], "every resource unchanged");
      assert.deepEqual(await delta(before_), [0, 0], "a no-op up opens no SSH session");
    });

    it("no private key, token or kubeconfig credential in the state or the CLI's output", async () => {
      // The drift check's connection holds the proxy user's generated key: encrypted in the state too.
      const full = JSON.parse(
        (await cli!.ok(["stack", "export", "--show-secrets"], { secret: true })).stdout,
      ) as {
        deployment: {
          resources: { urn: string; outputs?: { privateKeyOpenssh?: { plaintext?: string } } }[];
        };
      };
      // A secret output exports as { <secret signature>, plaintext: <the value as JSON> }.
      const generated = full.deployment.resources
        .filter((r) => r.urn.endsWith("-proxy-ssh-key"))
        .map((r) => JSON.parse(r.outputs?.privateKeyOpenssh?.plaintext ?? '""') as string);
      assert.equal(generated.length, 2, "two generated keys");
      assert.ok(
        generated.every((k) => k.includes("PRIVATE KEY")),
        "read back in plain",
      );
      const secrets = [
        ...knownSecrets({ tokens, hosts, kubeconfig: cluster!.kubeconfig }),
        ...generated.map((k, i) => ({ label: `generated key #${i}`, value: k.split("\n")[1]! })),
      ];
      const state = (await cli!.ok(["stack", "export"])).stdout;
      assert.match(state, /ratings-vm-2-proxy-drift/);
      const findings = [
        ...secretFindings("CLI output", cli!.transcript(), secrets),
        ...secretFindings("state", state, secrets),
      ];
      assert.deepEqual(findings, [], "no secret in plain text");
    });
  },
);
