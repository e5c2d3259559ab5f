// The sandbox with a real istiod, as a user runs it: `scripts/sandbox.sh up --istiod` starts istiod detached
// against the sandbox's API server (its xDS/CA port on the vm network's gateway, which both hosts are on),
// boots ratings-vm with systemd as init and places Istio's istio-sidecar deb on it (the package runtime),
// imports the real Istio agent's image (pilot-agent, no Envoy) into ratings-vm-2 (the container runtime), and
// onboards the ratings example through the root program; `up` ends when both agents are ready on their status
// port, both WorkloadEntries registered, istiod lists both VMs with their SPIFFE identity, each agent holds a
// certificate for it signed by istiod's own root, and ratings-vm's istio.service runs. Checked here
// independently of what `up` printed: istiod's debug endpoint, the certificates, the unit, Istio's files and
// nat rules read over SSH with the printed commands, the root read from the cluster. A second `up --istiod`
// changes nothing, a plain `up` refuses to mix modes, `status` shows istiod and the package host, and `down`
// stops istiod by PID and leaves nothing behind (no process of the systemd host either).
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parse } from "yaml";
import { leafOf } from "../../scripts/testbed/certs";
import { hostTraces, type HostTraces } from "../../scripts/testbed/hosts";
import { runInHost } from "../../scripts/testbed/hosts/netnsHost";
import { pidAlive } from "../../scripts/testbed/hosts/process";
import { readRecord } from "../../scripts/testbed/hosts/registry";
import { addressesOf, endpointsOf, istioBinaries, networkGateway } from "../../scripts/testbed/istiod";
import { localProcessList } from "../../scripts/testbed/processes";
import {
  assertSandboxGone,
  assertUpChangedNothing,
  hostProcesses,
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
/** The package runtime's host (systemd, Istio's istio-sidecar) and the container runtime's. */
const PACKAGE_VM = "ratings-vm";
const CERT_CHAIN: Record<string, string> = {
  "ratings-vm": "/etc/certs/cert-chain.pem",
  "ratings-vm-2": "/etc/istio-proxy/certs/cert-chain.pem",
};
const escaped = (text: string): string => text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

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
    /** The systemd host's launcher loop and PID 1, while it ran. */
    let systemdPids: number[] = [];

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
      // ratings-vm is a host with systemd as PID 1 (its launcher loop on the machine), holding the package file.
      const pkgHost = state.hosts.find((h) => h.name === PACKAGE_VM)!;
      const record = readRecord(pkgHost.id);
      assert.ok(record?.initPid && record.launcherPid, "the package host was booted by its launcher");
      systemdPids = [record.launcherPid, record.initPid];
      assert.equal(readFileSync(`/proc/${record.initPid}/comm`, "utf8").trim(), "systemd");
      assert.match(pkgHost.sidecarPackage?.file ?? "", /^\/var\/tmp\/istio-sidecar_.+_amd64\.deb$/);
      assert.ok(existsSync(join(record.root, pkgHost.sidecarPackage!.file)), "the deb is on the VM");
      assert.equal(state.hosts.find((h) => h.name !== PACKAGE_VM)!.sidecarPackage, undefined);
      // While it runs, the clean-up check of `down` sees its processes (so it can fail).
      const running = hostProcesses(traces.dirs).map((l) => Number(l.split(" ")[0]));
      for (const pid of systemdPids) assert.ok(running.includes(pid), `process ${pid} of the host is seen`);
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
        assert.equal(vm.host.gatewayAddress, istiod.address);
        assert.equal(vm.host.mesh.discoveryAddress, istiod.discoveryAddress);
        assert.equal(vm.host.readiness.port, 15020);
      }
      // ratings-vm: Istio's package, the file on the VM, logging in as the admin; ratings-vm-2: the agent image.
      const [pkgVm, containerVm] = vms as [KubeObject, KubeObject];
      assert.equal(pkgVm.host.runtime, "package");
      assert.deepEqual(pkgVm.host.sidecarPackage, { ...pkgHost.sidecarPackage, captureDns: false });
      assert.equal(pkgVm.host.proxyImage, undefined);
      assert.equal(pkgVm.sshUser, "admin");
      assert.equal(containerVm.host.runtime, undefined);
      assert.equal(containerVm.host.proxyImage, state.agentImage);
      assert.match(containerVm.host.proxyImage as string, /^localhost\/mesh-vm-istio-agent:[0-9a-f]{12}$/);
      // The admin's key as its login: set encrypted (`pulumi config set --secret --path`), like every key.
      assert.match(String(pkgVm.host.privateKey?.secure), /^v1:/);
      assert.equal(containerVm.host.privateKey, undefined);
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
            `agent certificate on ${name} \\(${escaped(CERT_CHAIN[name]!)}\\): URI:${SPIFFE}, signed by istiod's root`,
          ),
        );
      }
      assert.match(
        up.output,
        /VM host ratings-vm: address [0-9.]+, SSH [0-9.]+, systemd, package runtime: istio-sidecar \S+ from \/var\/tmp\/istio-sidecar_/,
      );
      assert.match(
        up.output,
        new RegExp(
          `istio.service on ratings-vm: active, istio-sidecar ${escaped(pkgHost.sidecarPackage!.version)} installed \\(systemd\\)`,
        ),
      );
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
      // The printed ssh commands of each host (each host's first guide line is prefixed with its name).
      const guide = up.output.replace(/^\s*ratings-vm(-2)?: /gm, "");
      const sshAt = {
        "ratings-vm": weAddress["ratings-vm"],
        "ratings-vm-2": byName("ratings-vm-2").addresses.third!,
      };
      const printed = (name: keyof typeof sshAt, tail: string): string => {
        const found = lines(
          guide,
          new RegExp(`^ssh .* admin@${escaped(sshAt[name])} sudo ${escaped(tail)}$`),
        );
        assert.equal(found.length, 1, `prints "${tail}" for ${name}:\n${up!.output}`);
        return found[0]!.replace(/^ssh /, "ssh -o BatchMode=yes ");
      };
      for (const name of VMS as (keyof typeof sshAt)[]) {
        const c = printed(name, `cat ${CERT_CHAIN[name]} | openssl x509 -noout -ext subjectAltName`);
        const san = await shell(c);
        assert.equal(san.code, 0, `${c}: ${san.output}`);
        assert.match(san.output, new RegExp(`URI:${SPIFFE}`));
        // The chain itself: its leaf signed by istiod's root and currently valid.
        const chain = await shell(c.replace(/ \| openssl .*$/, ""));
        const leaf = leafOf(chain.output);
        assert.equal(leaf.subjectAltName, `URI:${SPIFFE}`);
        assert.ok(leaf.checkIssued(root) && leaf.verify(root.publicKey), `${name}: signed by istiod's root`);
        assert.ok(
          Date.parse(leaf.validFrom) <= Date.now() && Date.now() < Date.parse(leaf.validTo),
          "valid now",
        );
      }
      // The container ratings-vm-2 runs is the agent's.
      const ps = await shell(printed("ratings-vm-2", "docker ps"));
      assert.equal(ps.code, 0, ps.output);
      assert.match(ps.output, /localhost\/mesh-vm-istio-agent:[0-9a-f]{12}.*istio-proxy/);
      assert.equal(lines(guide, /^ssh .* sudo docker ps$/).length, 1, "no docker ps for the package host");

      // ratings-vm, as the guide says to look at it: Istio's unit runs the agent from the package's files...
      const unit = await shell(printed(PACKAGE_VM, "systemctl status istio --no-pager"));
      assert.equal(unit.code, 0, unit.output);
      assert.match(unit.output, /istio\.service - istio-sidecar: The Istio sidecar/);
      assert.match(unit.output, /Active: active \(running\)/);
      assert.match(unit.output, /\/usr\/local\/bin\/pilot-agent proxy/);
      // ...Istio's files with istio-proxy's owner...
      const files = await shell(
        printed(PACKAGE_VM, "ls -l /var/lib/istio/envoy/cluster.env /etc/istio/config/mesh /etc/certs"),
      );
      assert.equal(files.code, 0, files.output);
      assert.match(
        files.output,
        /^-rw-r--r-- 1 istio-proxy istio-proxy .* \/var\/lib\/istio\/envoy\/cluster\.env$/m,
      );
      assert.match(files.output, /^-rw-r--r-- 1 istio-proxy istio-proxy .* \/etc\/istio\/config\/mesh$/m);
      assert.match(files.output, / cert-chain\.pem$/m);
      assert.match(files.output, / root-cert\.pem$/m);
      // ...and the nat rules istio-start.sh set (capture on), SSH exempted.
      // The backend istio-iptables chose (on these hosts, legacy), as the guide names it.
      const natCommand = lines(guide, /^ssh .* sudo iptables(-legacy)? -t nat -S( .*)?$/);
      assert.equal(natCommand.length, 1, `prints the nat rules command:\n${up.output}`);
      const nat = await shell(natCommand[0]!.replace(/^ssh /, "ssh -o BatchMode=yes "));
      assert.equal(nat.code, 0, nat.output);
      assert.match(nat.output, /^-A ISTIO_OUTPUT .*-j ISTIO_REDIRECT$/m);
      assert.match(nat.output, /^-A ISTIO_INBOUND -p tcp -m tcp --dport 22 -j RETURN$/m);
    });

    it("a second up --istiod changes nothing; a plain up refuses to mix modes; status shows istiod and both agents", async () => {
      assert.ok(state?.istiod, "up recorded istiod");
      const pkgHost = state.hosts.find((h) => h.name === PACKAGE_VM)!;
      const mainPid = async (): Promise<string> =>
        (await runInHost(systemdPids[1]!, "systemctl show -P MainPID istio.service")).stdout.trim();
      const agentPid = await mainPid();
      assert.match(agentPid, /^[1-9]\d*$/, "istio.service runs");
      const again = await sandbox(dir, "up", [], { MESH_VM_SANDBOX_ISTIOD: "1" });
      assert.equal(again.code, 0, again.output);
      assertUpChangedNothing(again.output);
      assert.match(
        again.output,
        /both VMs onboarded: agents ready, WorkloadEntries registered, listed by istiod, certificates issued/,
      );
      const after2 = sandboxState(dir);
      assert.equal(after2.istiod?.pid, state!.istiod!.pid, "the same istiod");
      assert.deepEqual(after2.hosts, state.hosts, "the same hosts, ratings-vm still the package host");
      assert.equal(await mainPid(), agentPid, "istio.service was not restarted");

      const plain = await sandbox(dir, "up");
      assert.equal(plain.code, 2, plain.output);
      assert.match(
        plain.output,
        /the running sandbox was started with istiod \(up --istiod\); this up asks for it with the stand-in proxy \(up\)\. Nothing was changed\./,
      );
      assert.doesNotMatch(plain.output, /pulumi (preview|up)/);
      assert.ok(pidAlive(state!.istiod!.pid), "istiod still runs");
      assert.equal(await mainPid(), agentPid, "nor was the package host touched");

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
      const version = escaped(pkgHost.sidecarPackage!.version);
      assert.match(
        status.output,
        new RegExp(
          `host ratings-vm: running \\([0-9.]+; netns mvm-\\w+; systemd, package runtime \\(istio-sidecar ${version}\\)\\)`,
        ),
      );
      assert.match(
        status.output,
        new RegExp(`istio.service on ratings-vm: active, istio-sidecar ${version} installed`),
      );
      assert.match(status.output, /all running/);
    });

    it("down stops istiod by PID and leaves no process (the systemd host's neither), port, namespace, mount, container or file", async () => {
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
      for (const pid of systemdPids)
        assert.equal(pidAlive(pid), false, `systemd host process ${pid} stopped`);
    });
  },
);
