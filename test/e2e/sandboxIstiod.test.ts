// The sandbox with a real istiod, as a user runs it: `scripts/sandbox.sh up --istiod` starts istiod detached
// against the sandbox's API server (its xDS/CA port on the vm network's gateway, which both hosts are on),
// imports the real Istio agent (pilot-agent, no Envoy) into both hosts, and onboards the ratings example
// through the root program; `up` ends when both agents are ready on their status port, both WorkloadEntries
// registered, istiod lists both VMs with their SPIFFE identity and each agent holds a certificate for it
// signed by istiod's own root. Checked here independently of what `up` printed: istiod's debug endpoint, the
// certificate read over SSH with the printed command, the root read from the cluster. A second `up --istiod`
// changes nothing, a plain `up` refuses to mix modes, `status` shows istiod, and `down` stops istiod by PID
// and leaves nothing behind.
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parse } from "yaml";
import { leafOf } from "../../scripts/testbed/certs";
import { hostTraces, type HostTraces } from "../../scripts/testbed/hosts";
import { pidAlive } from "../../scripts/testbed/hosts/process";
import { addressesOf, endpointsOf, istioBinaries, networkGateway } from "../../scripts/testbed/istiod";
import { localProcessList } from "../../scripts/testbed/processes";
import {
  assertSandboxGone,
  assertUpChangedNothing,
  kubeGet,
  portOpen,
  removeTempSandbox,
  sandbox,
  sandboxState,
  shell,
  tempSandbox,
  type KubeObject,
  type Run,
  type TempSandbox,
} from "./sandboxCli";
import type { SandboxState } from "../../scripts/sandbox/state";

const SPIFFE = "spiffe://cluster.local/ns/bookinfo/sa/bookinfo-ratings";
const VMS = ["ratings-vm", "ratings-vm-2"];

/** Lines of `output` that, trimmed, match `pattern`. */
function lines(output: string, pattern: RegExp): string[] {
  return output
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => pattern.test(l));
}

describe(
  "the local sandbox with a real istiod (scripts/sandbox.sh up --istiod)",
  { timeout: 20 * 60_000 },
  () => {
    let sb: TempSandbox | undefined;
    let dir = "";
    let up: Run | undefined;
    let state: SandboxState | undefined;
    let traces: HostTraces | undefined;

    before(async () => {
      // A missing istio build is a failure here, not a skip (sandbox.sh would build it: minutes, not ours to start).
      istioBinaries();
      sb = await tempSandbox("mesh-vm-sandbox-istiod-test-");
      dir = sb.dir;
    });

    after(() => removeTempSandbox(sb));

    it("up --istiod ends with both agents ready, both WorkloadEntries registered, listed by istiod and certified", async () => {
      up = await sandbox(dir, "up", ["--istiod"]);
      assert.equal(up.code, 0, `sandbox up --istiod failed:\n${up.output}`);
      state = sandboxState(dir);
      traces = hostTraces(state.hosts.map((h) => h.id));
      const istiod = state.istiod;
      assert.equal(state.withIstiod, true);
      assert.ok(istiod, "istiod recorded in state.json");
      // A live pilot-discovery, detached from `up` (which has exited), listening on the vm network's gateway.
      assert.ok(pidAlive(istiod.pid), `istiod PID ${istiod.pid} runs`);
      assert.equal(
        readFileSync(`/proc/${istiod.pid}/cmdline`, "utf8").split("\0")[0]!.split("/").pop(),
        "pilot-discovery",
      );
      assert.equal(istiod.address, networkGateway("vm"));
      assert.equal(await portOpen(istiod.port, istiod.address), true, "istiod's xDS/CA port answers");
      assert.match(up.output, /\[sandbox\] starting a sandbox with istiod \(up --istiod\)/);

      // The stack config the root program ran with: the agent image, istiod's names on its gateway address,
      // readiness on the agent's status port.
      const stackFile = readFileSync(join(dir, "project", "Pulumi.sandbox.yaml"), "utf8");
      const vms = (parse(stackFile) as KubeObject).config["mesh-vm:vms"] as KubeObject[];
      assert.deepEqual(
        vms.map((v) => v.name as string),
        VMS,
      );
      for (const vm of vms) {
        assert.equal(vm.host.proxyImage, state.agentImage);
        assert.match(vm.host.proxyImage as string, /^localhost\/mesh-vm-istio-agent:[0-9a-f]{12}$/);
        assert.equal(vm.host.gatewayAddress, istiod.address);
        assert.equal(vm.host.mesh.discoveryAddress, istiod.discoveryAddress);
        assert.equal(vm.host.readiness.port, 15020);
      }
      assert.doesNotMatch(stackFile, /PRIVATE KEY|token:/, "no secret in plain text in the stack file");
      const kubeconfig = join(dir, "kubeconfig");
      const adminToken = (parse(readFileSync(kubeconfig, "utf8")) as KubeObject).users[0].user
        .token as string;
      assert.ok(adminToken.length > 0, "the kubeconfig holds a token");
      assert.ok(!localProcessList().includes(adminToken), "no credential on any command line of the machine");

      // What up says, per VM.
      for (const name of VMS) {
        assert.match(
          up.output,
          new RegExp(`agent on ${name}: READY \\(http://[0-9.]+:15020/healthz/ready\\)`),
        );
        assert.match(up.output, new RegExp(`WorkloadEntry bookinfo/${name}: registered`));
        assert.match(up.output, new RegExp(`istiod lists ${name}: endpoint [0-9.]+ with identity ${SPIFFE}`));
        assert.match(
          up.output,
          new RegExp(
            `agent certificate on ${name} \\(/etc/istio-proxy/certs/cert-chain.pem\\): URI:${SPIFFE}, signed by istiod's root`,
          ),
        );
      }
      assert.match(
        up.output,
        /both VMs onboarded: agents ready, WorkloadEntries registered, listed by istiod, certificates issued/,
      );
      assert.doesNotMatch(up.output, /SKIPPED|skipped|NOT READY|NOT registered|does NOT list|NONE at/);
    });

    it("istiod lists both VMs with their identity, and each agent's certificate is istiod's, as the printed commands show", async () => {
      assert.ok(up && state?.istiod, "up ran");
      const byName = (name: string) => state!.hosts.find((h) => h.name === name)!;
      // WorkloadEntry addresses: ratings-vm's own, ratings-vm-2's public one.
      const weAddress = {
        "ratings-vm": byName("ratings-vm").addresses.vm!,
        "ratings-vm-2": byName("ratings-vm-2").addresses.second!,
      };

      // istiod's own view, through the printed curl of its loopback debug port.
      const shardzCurl = lines(up.output, /^curl -s http:\/\/127\.0\.0\.1:\d+\/debug\/endpointShardz$/);
      assert.equal(shardzCurl.length, 1, `prints istiod's endpointShardz curl:\n${up.output}`);
      const shardz = await shell(shardzCurl[0]!);
      assert.equal(shardz.code, 0, shardz.output);
      const endpoints = endpointsOf(JSON.parse(shardz.output));
      for (const name of VMS) {
        const e = endpoints.find((x) => addressesOf(x).includes(weAddress[name as keyof typeof weAddress]));
        assert.ok(
          e,
          `istiod lists ${name} at ${weAddress[name as keyof typeof weAddress]}: ${shardz.output.slice(0, 2000)}`,
        );
        assert.equal(e.ServiceAccount ?? e.serviceAccount, SPIFFE);
        assert.equal(e.WorkloadName ?? e.workloadName, name);
      }

      // istiod's root, as it published it into the namespace; not the harness's stand-in root.
      const cm = await kubeGet(
        join(dir, "kubeconfig"),
        "/api/v1/namespaces/bookinfo/configmaps/istio-ca-root-cert",
      );
      assert.equal(cm.status, 200, JSON.stringify(cm.body));
      const root = new X509Certificate(cm.body.data["root-cert.pem"] as string);
      const standIn = new X509Certificate(readFileSync(join(dir, "cluster", "pki", "mesh-root-ca.crt")));
      assert.notEqual(root.fingerprint256, standIn.fingerprint256, "istiod's own root, not the stand-in");

      // Each printed command, run as printed: readiness on 15020, the certificate's SAN over SSH.
      const readiness = lines(up.output, /^curl -s http:\/\/[0-9.]+:15020\/healthz\/ready$/);
      assert.equal(readiness.length, 2, `prints a readiness curl per host:\n${up.output}`);
      for (const c of readiness) {
        const r = await shell(`${c} -o /dev/null -w '%{http_code}'`);
        assert.equal(r.output.trim(), "200", `${c}: ${r.output}`);
      }
      const sanCommands = lines(
        up.output,
        /^ssh .* sudo cat \/etc\/istio-proxy\/certs\/cert-chain\.pem \| openssl x509 -noout -ext subjectAltName$/,
      );
      assert.equal(sanCommands.length, 2, `prints a certificate command per host:\n${up.output}`);
      for (const c of sanCommands) {
        const san = await shell(c.replace(/^ssh /, "ssh -o BatchMode=yes "));
        assert.equal(san.code, 0, `${c}: ${san.output}`);
        assert.match(san.output, new RegExp(`URI:${SPIFFE}`));
        // The chain itself: its leaf signed by istiod's root and currently valid.
        const chain = await shell(c.replace(/^ssh /, "ssh -o BatchMode=yes ").replace(/ \| openssl .*$/, ""));
        const leaf = leafOf(chain.output);
        assert.equal(leaf.subjectAltName, `URI:${SPIFFE}`);
        assert.ok(leaf.checkIssued(root) && leaf.verify(root.publicKey), "signed by istiod's root");
        assert.ok(
          Date.parse(leaf.validFrom) <= Date.now() && Date.now() < Date.parse(leaf.validTo),
          "valid now",
        );
      }
      // The container each host runs is the agent's.
      // Each host's first guide line is prefixed with its name ("ratings-vm: ssh ...").
      const ps = lines(up.output.replace(/^\s*ratings-vm(-2)?: /gm, ""), /^ssh .* sudo docker ps$/);
      assert.equal(ps.length, 2);
      for (const c of ps) {
        const r = await shell(c.replace(/^ssh /, "ssh -o BatchMode=yes "));
        assert.equal(r.code, 0, r.output);
        assert.match(r.output, /localhost\/mesh-vm-istio-agent:[0-9a-f]{12}.*istio-proxy/);
      }
    });

    it("a second up --istiod changes nothing; a plain up refuses to mix modes; status shows istiod and both agents", async () => {
      assert.ok(state?.istiod, "up recorded istiod");
      const again = await sandbox(dir, "up", [], { MESH_VM_SANDBOX_ISTIOD: "1" });
      assert.equal(again.code, 0, again.output);
      assertUpChangedNothing(again.output);
      assert.match(
        again.output,
        /both VMs onboarded: agents ready, WorkloadEntries registered, listed by istiod, certificates issued/,
      );
      const after2 = sandboxState(dir);
      assert.equal(after2.istiod?.pid, state!.istiod!.pid, "the same istiod");

      const plain = await sandbox(dir, "up");
      assert.equal(plain.code, 2, plain.output);
      assert.match(
        plain.output,
        /the running sandbox was started with istiod \(up --istiod\); this up asks for it with the stand-in proxy \(up\)\. Nothing was changed\./,
      );
      assert.doesNotMatch(plain.output, /pulumi (preview|up)/);
      assert.ok(pidAlive(state!.istiod!.pid), "istiod still runs");

      const status = await sandbox(dir, "status");
      assert.equal(status.code, 0, status.output);
      assert.match(status.output, new RegExp(`istiod: running \\(PID ${state!.istiod!.pid};`));
      for (const name of VMS) {
        assert.match(
          status.output,
          new RegExp(`agent on ${name}: READY \\(http://[0-9.]+:15020/healthz/ready\\)`),
        );
        assert.match(status.output, new RegExp(`istiod lists ${name} \\([0-9.]+, ${SPIFFE}\\)`));
      }
      assert.match(status.output, /all running/);
    });

    it("down stops istiod by PID and leaves no process, port, namespace, mount, container or file", async () => {
      assert.ok(state?.cluster && state.istiod && traces, "up recorded its test bed");
      const down = await sandbox(dir, "down");
      sb!.downDone = true;
      assert.equal(down.code, 0, down.output);
      assert.match(down.output, new RegExp(`stopping istiod \\(PID ${state.istiod.pid}\\)`));
      assert.doesNotMatch(down.output, /pulumi destroy (failed|timed out|could not run)/);
      assert.equal(pidAlive(state.istiod.pid), false, "istiod stopped");
      for (const port of state.istiod.ports)
        assert.equal(
          await portOpen(port, port === state.istiod.port ? state.istiod.address : "127.0.0.1"),
          false,
          `istiod port ${port} closed`,
        );
      await assertSandboxGone(dir, state, traces);
    });
  },
);
