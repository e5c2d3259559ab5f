// Rolling upgrades (issue #26, item 2) through the `pulumi` CLI and the root program: ten VMs on ten test hosts,
// `mesh-vm:rollout: { maxUnavailable: 3 }`, so waves [0 1 2] [3 4 5] [6 7 8] [9]. Asserts what an operator would
// check: preview names the waves and touches nothing; the first onboarding runs wave after wave; a proxy upgrade
// (a new image tag for every VM) on which one host of wave 2 does not get ready stops there: wave 1 runs the new
// proxy, ready and registered; the error names the VM; waves 3 and 4 still run the OLD container, ready, their
// WorkloadEntries in place, and no step of theirs started. The host fixed, `up` finishes the rollout (touching
// nothing of wave 1), and a further `up` changes nothing and opens no SSH session. Time per wave is printed.
//
// The failing host is real, not a mock: its copy of the new image tag is a build whose proxy starts but never
// answers /healthz/ready (the stand-in's entrypoint replaced by one that waits), so the proxy step's readiness
// wait gives up after `host.readiness.timeoutSeconds`, as for a proxy that cannot reach istiod.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { cliProject, repoRoot, type CliEvent, type CliProject } from "../../scripts/testbed/cli";
import { startCluster, type TestCluster } from "../../scripts/testbed/cluster";
import { createHosts, destroyHosts, type TestHost } from "../../scripts/testbed/hosts";

const NS = "bookinfo";
const SA = "bookinfo-ratings";
const OLD = "localhost/mesh-vm-standin-proxy:test";
const NEW = "localhost/mesh-vm-standin-proxy:v2";
const COUNT = 10;
const MAX_UNAVAILABLE = 3;
/** The host of wave 2 whose new proxy never gets ready. */
const FAILING = 4;
const READY_TIMEOUT = 20;

const names = Array.from({ length: COUNT }, (_, i) => `roll-vm-${i}`);
const waves = [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]];

/**
 * Event kind, op, resource name and time (seconds) of each event of a custom resource, in order (a component's
 * outputs may be reported after the next wave started: the waves wait for the resources below the components).
 */
interface Step {
  at: "start" | "done";
  op: string;
  name: string;
  time: number;
}
function stepsOf(events: CliEvent[]): Step[] {
  return events.flatMap((e): Step[] => {
    const time = Number((e as { timestamp?: number }).timestamp ?? 0);
    const pre = e.resourcePreEvent?.metadata;
    // A failed step ends with resOpFailedEvent instead of resOutputsEvent.
    const failed = (e as { resOpFailedEvent?: { metadata: { op: string; urn: string; type: string } } })
      .resOpFailedEvent?.metadata;
    const out = e.resOutputsEvent?.metadata ?? failed;
    const type = pre?.type ?? out?.type ?? "";
    if (type.startsWith("mesh-vm:index:") || type.startsWith("pulumi:")) return [];
    if (pre) return [{ at: "start" as const, op: pre.op, name: pre.urn.split("::").pop()!, time }];
    if (out)
      return [
        { at: "done" as const, op: failed ? "failed" : out.op, name: out.urn.split("::").pop()!, time },
      ];
    return [];
  });
}
const ofVm = (s: Step, i: number) => s.name.startsWith(`${names[i]}-`);
const changed = (s: Step) => s.op !== "same" && s.op !== "read";

/**
 * Per wave: seconds from the first step of a VM of the wave to the last one done, and whether each wave started only
 * after every step of the one before it finished.
 */
function waveTimes(steps: Step[]): { seconds: number[]; ordered: boolean[] } {
  const seconds: number[] = [];
  const ordered: boolean[] = [];
  let lastDoneBefore = -1;
  for (const wave of waves) {
    const idx = steps.flatMap((s, n) => (wave.some((i) => ofVm(s, i)) ? [n] : []));
    if (idx.length === 0) {
      seconds.push(0);
      ordered.push(true);
      continue;
    }
    const first = Math.min(...idx);
    const last = Math.max(...idx);
    seconds.push(steps[last]!.time - steps[first]!.time);
    ordered.push(first > lastDoneBefore);
    lastDoneBefore = last;
  }
  return { seconds, ordered };
}

describe(
  "rolling proxy upgrade over ten hosts, maxUnavailable 3, through the pulumi CLI",
  { timeout: 60 * 60_000 },
  () => {
    let cluster: TestCluster | undefined;
    let hosts: TestHost[] = [];
    let cli: CliProject | undefined;

    const get = (path: string) =>
      cluster!.request("GET", `/apis/networking.istio.io/v1/namespaces/${NS}/${path}`);
    const logins = () => Promise.all(hosts.map((h) => h.sshLogins()));
    const proxyOf = async (i: number) => (await hosts[i]!.containers()).find((c) => c.name === "istio-proxy");
    const ready = async (i: number) =>
      (
        await hosts[i]!.run("curl -fsS --max-time 2 http://127.0.0.1:15021/healthz/ready", { check: false })
      ).stdout.trim() === "ok";
    /** The VM runs `image`, its proxy answers ready, its WorkloadEntry is registered. */
    const assertServing = async (i: number, image: string, what: string) => {
      const c = await proxyOf(i);
      assert.equal(c?.state, "running", `${names[i]} (${what}): proxy running`);
      assert.equal(c?.image, image, `${names[i]} (${what}): runs ${image}`);
      assert.ok(await ready(i), `${names[i]} (${what}): proxy ready`);
      assert.equal(
        (await get(`workloadentries/${names[i]}`)).status,
        200,
        `${names[i]} (${what}): registered`,
      );
    };
    const report = (label: string, steps: Step[]) => {
      const { seconds } = waveTimes(steps);
      console.log(`# ${label}: seconds per wave ${seconds.map((s, k) => `w${k + 1}=${s}`).join(" ")}`);
    };

    before(async () => {
      cluster = await startCluster();
      await cluster.createNamespace(NS);
      await cluster.createServiceAccount(NS, SA);
      hosts = await createHosts(names.map((_, i) => ({ name: `roll-${i}`, networks: ["vm" as const] })));
      cli = await cliProject({
        files: ["Pulumi.yaml", "index.ts", "package.json", "tsconfig.json", "components"],
        nodeModules: join(repoRoot, "node_modules"),
        stack: "dev",
      });
      const plain: Record<string, string> = {
        clusterIdentifier: "mesh-vm-rollout-test",
        "rollout.maxUnavailable": String(MAX_UNAVAILABLE),
      };
      hosts.forEach((h, i) => {
        const vm = (k: string, v: string) => (plain[`vms[${i}].${k}`] = v);
        vm("name", names[i]!);
        vm("namespace", NS);
        vm("address", h.address);
        vm("serviceAccount", SA);
        vm("labels.app", "ratings");
        vm("labels.version", "v3");
        vm("ports[0].name", "http");
        vm("ports[0].number", "9080");
        // One Sidecar selects every VM (same labels): the first declares it.
        if (i > 0) vm("sidecar.enabled", "false");
        vm("host.hostKey", h.hostKey);
        vm("host.prepare.admin.user", h.adminUser);
        vm("host.proxyImage", OLD);
        vm("host.readiness.timeoutSeconds", String(READY_TIMEOUT));
      });
      await cli.setPlain(plain);
      await cli.setSecret("kubeconfig", cluster.kubeconfig);
      for (const [i, h] of hosts.entries()) {
        await cli.setSecret(`vms[${i}].host.prepare.admin.privateKey`, h.adminPrivateKey);
      }
    });

    after(async () => {
      cli?.dispose();
      if (hosts.length) await destroyHosts(hosts);
      if (cluster) await cluster.stop();
    });

    it("preview names the waves and touches nothing", async () => {
      const before_ = await logins();
      const r = await cli!.pulumi(["preview"]);
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
      for (const [k, wave] of waves.entries()) {
        const after = k === 0 ? "first" : `after wave ${k} is ready and registered`;
        const line = `rollout wave ${k + 1} of 4 (maxUnavailable 3, ${after}): ${wave.map((i) => names[i]).join(", ")}`;
        assert.ok(r.stdout.includes(line), `preview shows: ${line}\n${r.stdout}`);
      }
      assert.deepEqual(await logins(), before_, "no SSH session");
      assert.equal((await get(`workloadentries/${names[0]}`)).status, 404);
    });

    it("the first up onboards wave after wave; the waves are a stack output", async () => {
      const r = await cli!.withEvents(["up", "--yes", "--skip-preview"]);
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
      const steps = stepsOf(r.events);
      const { ordered } = waveTimes(steps);
      assert.deepEqual(ordered, [true, true, true, true], "each wave starts after the one before is done");
      report("first up (onboarding)", steps);
      for (let i = 0; i < COUNT; i++) await assertServing(i, OLD, "onboarded");
      const outputs = JSON.parse((await cli!.ok(["stack", "output", "--json"])).stdout) as {
        rollout: { maxUnavailable: number; waves: string[][] };
      };
      assert.deepEqual(outputs.rollout, {
        maxUnavailable: 3,
        waves: waves.map((w) => w.map((i) => names[i])),
      });
    });

    it("an upgrade whose second wave has a host that never gets ready stops there; later VMs keep the old proxy", async () => {
      // The new tag on every host: the same stand-in, except on the failing host, where it never answers ready.
      for (const [i, h] of hosts.entries()) {
        if (i !== FAILING) {
          await h.run(`podman tag ${OLD} ${NEW}`);
          continue;
        }
        await h.run(
          [
            `podman create --name broken-build ${OLD} >/dev/null`,
            `podman commit --quiet --change 'ENTRYPOINT ["/bin/sh", "-c", "echo standin-proxy: this build never gets ready; exec sleep 100000"]' broken-build ${NEW} >/dev/null`,
            "podman rm broken-build >/dev/null",
          ].join(" && "),
        );
      }
      await cli!.setPlain(Object.fromEntries(names.map((_, i) => [`vms[${i}].host.proxyImage`, NEW])));

      const r = await cli!.withEvents(["up", "--yes", "--skip-preview"]);
      assert.notEqual(r.code, 0, "the rollout fails");
      const out = `${r.stdout}\n${r.stderr}`;
      // The command provider's error quotes the whole script; print the lines that say what failed.
      const said = out
        .split("\n")
        .filter((l) => /error: update failed|not ready at|\| standin-proxy|errored/.test(l));
      console.log(`# failing up:\n${said.map((l) => `#   ${l.trim().slice(0, 200)}`).join("\n")}`);
      assert.match(out, new RegExp(`${names[FAILING]}-proxy-proxy`), "the failure names the VM's proxy step");
      assert.match(
        out,
        /proxy container istio-proxy not ready at http:\/\/127\.0\.0\.1:15021\/healthz\/ready after 20s/,
      );
      assert.match(out, /this build never gets ready/, "with the proxy's last log lines");
      const steps = stepsOf(r.events);
      report("upgrade stopped in wave 2", steps);
      assert.deepEqual(
        waveTimes(steps).ordered.slice(0, 2),
        [true, true],
        "wave 2 started after wave 1 was done",
      );
      assert.ok(
        steps.some((s) => s.op === "failed" && s.name === `${names[FAILING]}-proxy-proxy`),
        "the engine reports the failed VM's proxy step",
      );
      assert.ok(out.includes("rollout wave 3 of 4"), "the waves are printed on up too");

      for (const i of waves[0]!) await assertServing(i, NEW, "wave 1, upgraded");
      // The failing VM: its new proxy runs but is not ready.
      const failing = await proxyOf(FAILING);
      assert.equal(failing?.image, NEW);
      assert.equal(await ready(FAILING), false, "the failing VM's new proxy is not ready");
      // Documented: a rollout does not deregister a VM whose upgrade failed.
      assert.equal(
        (await get(`workloadentries/${names[FAILING]}`)).status,
        200,
        "the failing VM stays registered",
      );
      // Waves 3 and 4: untouched, still serving with the old proxy.
      for (const i of [...waves[2]!, ...waves[3]!]) {
        await assertServing(i, OLD, "not yet upgraded");
        assert.deepEqual(
          steps.filter((s) => ofVm(s, i)).map((s) => `${s.at} ${s.op} ${s.name}`),
          [],
          `${names[i]}: no step started`,
        );
      }
      // The other VMs of wave 2 ran beside the failing one and were done well before its readiness wait gave up.
      for (const i of waves[1]!.filter((x) => x !== FAILING)) await assertServing(i, NEW, "wave 2, upgraded");
    });

    it("with the host fixed, up finishes the rollout, leaving wave 1 alone", async () => {
      // The operator replaces the broken build on that host and removes the proxy it started (the proxy step keeps a
      // container whose configuration digest is unchanged, whatever image the tag now names).
      await hosts[FAILING]!.run(`podman rm --force istio-proxy >/dev/null && podman tag ${OLD} ${NEW}`);
      const r = await cli!.withEvents(["up", "--yes", "--skip-preview"]);
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
      const steps = stepsOf(r.events);
      report("up after the fix", steps);
      const { ordered } = waveTimes(steps);
      assert.deepEqual(ordered, [true, true, true, true], "each wave starts after the one before is done");
      for (const i of waves[0]!) {
        assert.deepEqual(
          steps.filter((s) => ofVm(s, i) && changed(s)).map((s) => `${s.op} ${s.name}`),
          [],
          `${names[i]}: nothing changed (upgraded before)`,
        );
      }
      for (const i of [FAILING, ...waves[2]!, ...waves[3]!]) {
        assert.ok(
          steps.some((s) => s.at === "done" && s.op === "update" && s.name === `${names[i]}-proxy-proxy`),
          `${names[i]}: its proxy step ran`,
        );
      }
      for (let i = 0; i < COUNT; i++) await assertServing(i, NEW, "rolled out");
    });

    it("a further up changes nothing and opens no SSH session", async () => {
      const before_ = await logins();
      const r = await cli!.withEvents(["up", "--yes", "--skip-preview"]);
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
      assert.deepEqual(
        stepsOf(r.events).filter((s) => changed(s)),
        [],
        "every resource unchanged",
      );
      assert.deepEqual(await logins(), before_, "no SSH session");
      report("no-op up", stepsOf(r.events));
    });
  },
);
