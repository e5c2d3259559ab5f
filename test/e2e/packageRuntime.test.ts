// The `package` runtime through the real Pulumi engine: a MeshVm whose `host` runs Istio's istio-sidecar deb under
// systemd (`runtime: "package"`, docs/package-runtime.md) on a host with systemd as init, against the real istiod.
// What a user checks: preview shows the steps and Istio's files (the token named, never shown), mints nothing and
// dials nothing; `up` installs the package, Istio's unit runs, Istio's files are in place with their owners and
// modes, the agent holds istiod's certificate for the VM's SPIFFE id, Istio's rules are in the host's network
// namespace, and istiod lists the WorkloadEntry; a second `up` changes nothing and opens no SSH session; a token
// rotation rewrites only the token (same MainPID); a reboot brings the agent and its rules back; capture off
// restarts the unit and leaves no rule, capture on sets them again; a version change, from a file on this machine
// (`localFile`, copied over SSH), upgrades the package once and restarts the unit with the token kept, and a further
// `up` opens no SSH session, another file is copied again (a rollback); destroy leaves the host as it was; a create
// from `localFile` opens three SSH sessions.
// The packages are the test bed's stand-ins built from Istio's own packaging (scripts/testbed/sidecar-package.sh:
// Envoy a stand-in, DISABLE_ENVOY; sidecar-package-next.sh: the same as <version>+next), the first placed on the
// VM as a user's file.
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { MeshVm } from "../../components";
import { packageFileSpec, packagePaths } from "../../components/runtime/package/layout";
import { leafOf } from "../../scripts/testbed/certs";
import { startCluster, type TestCluster } from "../../scripts/testbed/cluster";
import { createSystemdHosts, type SystemdHost } from "../../scripts/testbed/hosts";
import { listedEndpoint, istioBinaries, networkGateway, type Istiod } from "../../scripts/testbed/istiod";
import { poll } from "../../scripts/testbed/poll";
import { meshVmProviders, packageVmArgs } from "../../scripts/testbed/packageVmStack";
import { changedSteps, createTestStack, errors, steps, type TestStack } from "../../scripts/testbed/pulumi";
import {
  placeSidecarPackage,
  sidecarPackagePath,
  sidecarPackageVersion,
} from "../../scripts/testbed/sidecarPackage";
import { tearDown } from "../../scripts/testbed/teardown";

const NS = "shop";
const SA = "payments-sa";
const VM = "payments";
const WORKLOAD = {
  namespace: NS,
  serviceAccount: SA,
  labels: { app: "payments", version: "v1" },
  port: 8080,
};
const SPIFFE = `spiffe://cluster.local/ns/${NS}/sa/${SA}`;
const READY = "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:15020/healthz/ready";
const PROXY_STEP = `update command:remote:Command ${VM}-proxy-proxy`;
// The drift check's command is rendered from the plan: it follows a config change (it contacts nothing on `up`).
const DRIFT_STEP = `update pulumi-nodejs:dynamic:Resource ${VM}-proxy-drift`;

/** What a user would compare before onboarding and after destroy (as sidecarPackage.test.ts). */
const HOST_STATE =
  [
    "dpkg-query -W -f='${Package} ${Version}\\n' | sort",
    "cut -d: -f1 /etc/passwd | sort",
    "cut -d: -f1 /etc/group | sort",
    "cat /etc/hosts",
    "{ iptables-legacy-save; iptables-nft-save; } 2>/dev/null | grep -E '^(-A|:)' | grep -vE '^:(PREROUTING|INPUT|OUTPUT|POSTROUTING|FORWARD) '",
    "systemctl list-unit-files --no-legend --plain | awk '{ print $1, $2 }' | sort",
    "ls -1A /etc/istio /var/lib/istio /var/log/istio /etc/certs /usr/local/bin /lib/systemd/system /var/lib/mesh-vm /var/run/secrets/tokens 2>&1",
    // mesh-vm's files in the login's home, where sidecarPackage.localFile is copied to (sudo adds its own).
    "ls -1A ~admin | grep mesh-vm",
  ].join("; echo ---; ") + "; true";

describe(
  "the package runtime through MeshVm and the Pulumi engine on a systemd host",
  { timeout: 25 * 60_000 },
  () => {
    let cluster: TestCluster | undefined;
    let istiod: Istiod;
    let host: SystemdHost | undefined;
    let stack: TestStack | undefined;
    let before0 = "";
    let debPath = "";
    let version = "";
    let firstDebPath = "";
    let nextDebPath = "";
    let nextVersion = "";
    const knobs: {
      rotation: string;
      capture: "iptables" | "none";
      source: { version: string; file: string } | { version: string; localFile: string };
    } = { rotation: "1", capture: "iptables", source: { version: "", file: "" } };

    const natRules = async () =>
      (await host!.run("iptables-legacy-save -t nat 2>/dev/null; iptables-nft-save -t nat 2>/dev/null"))
        .stdout;
    const mainPid = async () => (await host!.systemctl("show -P MainPID istio.service")).stdout.trim();
    const upgrades = async () =>
      (await host!.run("grep -c ' upgrade istio-sidecar:' /var/log/dpkg.log || true")).stdout.trim();
    const workloadEntry = () =>
      cluster!.request("GET", `/apis/networking.istio.io/v1/namespaces/${NS}/workloadentries/${VM}`);

    const program = async () => {
      const vm = new MeshVm(
        VM,
        packageVmArgs(cluster!, host!, WORKLOAD, {
          source: knobs.source,
          capture: knobs.capture,
          rotation: knobs.rotation,
        }),
        { providers: meshVmProviders(cluster!) },
      );
      return { workloadEntry: vm.workloadEntryName, spiffeId: vm.spiffeId };
    };

    before(async () => {
      const missing: string[] = [];
      try {
        istioBinaries();
      } catch (error) {
        missing.push((error as Error).message);
      }
      debPath = await sidecarPackagePath().catch((e: Error) => (missing.push(e.message), ""));
      nextDebPath = await sidecarPackagePath("next").catch((e: Error) => (missing.push(e.message), ""));
      if (missing.length > 0) throw new Error(`the test bed is incomplete:\n- ${missing.join("\n- ")}`);
      version = sidecarPackageVersion(debPath);
      firstDebPath = debPath;
      nextVersion = sidecarPackageVersion(nextDebPath);
      // Hosts first: istiod listens on their network's gateway, which exists once a host is on it.
      [host] = await createSystemdHosts([{ name: "pkgrt-vm" }]);
      cluster = await startCluster({ istiod: { address: networkGateway("vm") } });
      istiod = cluster.istiod!;
      await cluster.createNamespace(NS);
      await cluster.createServiceAccount(NS, SA);
      // The user's file already on the VM (sidecarPackage.file).
      debPath = await placeSidecarPackage(host, debPath, "/var/tmp");
      knobs.source = { version, file: debPath };
      before0 = (await host.run(HOST_STATE)).stdout;
      stack = await createTestStack({ program, projectName: "mesh-vm-package" });
    });

    after(() => tearDown({ stacks: [stack], hosts: [host], cluster }));

    it("preview shows the steps and Istio's files, mints no token and opens no SSH session", async () => {
      const tokens = await cluster!.tokenRequests();
      const logins = await host!.sshLogins();
      const { events } = await stack!.preview();
      assert.deepEqual(errors(events), []);
      const planned = steps(events).join("\n");
      for (const step of ["host", "proxy"]) {
        assert.match(planned, new RegExp(`create command:remote:Command ${VM}-proxy-${step}`));
      }
      assert.match(planned, /create kubernetes:networking.istio.io\/v1:WorkloadEntry payments-workloadentry/);
      // The plan names every file Istio's guide places, shows cluster.env's lines, and names the token only.
      const inputs = (name: string) =>
        (events.find((e) => e.resourcePreEvent?.metadata.urn.endsWith(`::${name}`))?.resourcePreEvent
          ?.metadata.new?.inputs ?? {}) as Record<string, unknown>;
      // The script as the shell reads it (the step wraps it in sh -c '...').
      const create = String(inputs(`${VM}-proxy-proxy`).create).replaceAll("'\\''", "'");
      for (const which of ["clusterEnv", "meshConfig", "rootCert"] as const) {
        const path = packageFileSpec(which).path.replace(/\./g, "\\.");
        assert.match(create, new RegExp(`^# ${path} sha256=[0-9a-f]{64}$`, "m"), which);
      }
      assert.match(create, /^# {3}ISTIO_LOCAL_EXCLUDE_PORTS='22,15090,15021,15020'$/m);
      assert.match(create, /^# {3}ISTIO_SERVICE_CIDR='\*'$/m, "capture on: all outbound");
      assert.match(
        create,
        new RegExp(`^# ${packagePaths.token} secret$`, "m"),
        "the token: named, no digest",
      );
      assert.match(String(inputs(`${VM}-proxy-host`).create), /istio-sidecar/, "the package install");
      assert.equal(await cluster!.tokenRequests(), tokens, "no TokenRequest at preview");
      assert.equal(await host!.sshLogins(), logins, "no SSH session at preview");
    });

    it("up installs the package, runs Istio's unit with Istio's files, and the agent gets istiod's certificate", async () => {
      const logins = await host!.sshLogins();
      const t0 = Date.now();
      const up = await stack!.up();
      const seconds = (Date.now() - t0) / 1000;
      const sessions = (await host!.sshLogins()) - logins;
      console.log(`# SSH sessions per VM on create (package runtime): ${sessions}`);
      console.log(`# first up (one VM, package runtime, through MeshVm): ${seconds.toFixed(1)} s`);
      assert.equal(sessions, 2, "two SSH sessions on create: the host step and the proxy step");
      assert.equal(up.result.outputs.spiffeId?.value, SPIFFE);

      assert.equal((await host!.run("dpkg-query -W -f='${Version}' istio-sidecar")).stdout, version);
      assert.equal((await host!.systemctl("is-active istio.service", false)).stdout.trim(), "active");
      assert.equal((await host!.systemctl("is-enabled istio.service", false)).stdout.trim(), "enabled");
      for (const [which, owner, mode] of [
        ["clusterEnv", "istio-proxy", 0o644],
        ["meshConfig", "istio-proxy", 0o644],
        ["token", "istio-proxy", 0o600],
      ] as const) {
        const st = await host!.stat(packageFileSpec(which).path);
        assert.equal(st?.owner, owner, which);
        assert.equal(st?.mode, mode, which);
      }
      assert.match(await host!.readFile("/etc/hosts"), /istiod\.istio-system\.svc/);
      const leaf = leafOf(await host!.readFile("/etc/certs/cert-chain.pem"));
      const root = new X509Certificate(istiod.rootCertPem);
      assert.equal(leaf.subjectAltName, `URI:${SPIFFE}`);
      assert.ok(leaf.checkIssued(root) && leaf.verify(root.publicKey), "signed by istiod's root");
      const agent = await host!.run("ps -o user:20=,args= -C pilot-agent");
      assert.match(agent.stdout, /^istio-proxy +\/usr\/local\/bin\/pilot-agent proxy/m, agent.stdout);
      const nat = await natRules();
      assert.match(nat, /-A ISTIO_OUTPUT .*-j ISTIO_REDIRECT/, "istio-start.sh set Istio's rules");
      assert.match(
        nat,
        /-A ISTIO_INBOUND -p tcp -m tcp --dport 22 -j RETURN/,
        "SSH stays out of the capture",
      );
      assert.match(await host!.readFile(packagePaths.log), /./);
      // Registered once the proxy was ready: istiod lists the WorkloadEntry with the VM's identity.
      assert.equal((await workloadEntry()).status, 200);
      const endpoint = await listedEndpoint(istiod, host!.address);
      assert.equal(endpoint.ServiceAccount ?? endpoint.serviceAccount, SPIFFE, JSON.stringify(endpoint));
    });

    it("a second up changes nothing and opens no SSH session", async () => {
      const logins = await host!.sshLogins();
      const tokens = await cluster!.tokenRequests();
      const { events } = await stack!.up();
      assert.deepEqual(changedSteps(events), []);
      assert.equal(await host!.sshLogins(), logins, "no SSH session");
      assert.equal(await cluster!.tokenRequests(), tokens, "no TokenRequest");
    });

    it("a token rotation rewrites only the token, without restarting the unit", async () => {
      const pid = await mainPid();
      const files = (["clusterEnv", "meshConfig"] as const).map((w) => packageFileSpec(w).path);
      const contentBefore = await Promise.all(files.map((f) => host!.readFile(f)));
      const tokenBefore = await host!.readFile(packagePaths.token);
      knobs.rotation = "2";
      const { events } = await stack!.up();
      assert.deepEqual(
        changedSteps(events).filter((s) => !s.endsWith("-bootstrap-token") && s !== PROXY_STEP),
        [],
        changedSteps(events).join("\n"),
      );
      assert.notEqual(await host!.readFile(packagePaths.token), tokenBefore, "a new token");
      assert.deepEqual(await Promise.all(files.map((f) => host!.readFile(f))), contentBefore);
      assert.equal(await mainPid(), pid, "the unit was not restarted");
      assert.equal((await host!.systemctl("is-active istio.service", false)).stdout.trim(), "active");
    });

    it("after a reboot the enabled unit brings the agent back with Istio's rules, and an up changes nothing", async () => {
      await host!.reboot();
      assert.equal(await host!.exists(packagePaths.token), false, "/var/run is a tmpfs: the token is gone");
      // The agent renews with its persisted certificate (PROV_CERT=OUTPUT_CERTS=/etc/certs).
      await poll("the agent after the reboot", 90_000, async () =>
        (await host!.run(READY, { check: false })).stdout === "200" ? true : undefined,
      );
      assert.match(
        await natRules(),
        /-A ISTIO_OUTPUT .*-j ISTIO_REDIRECT/,
        "istio-start.sh set the rules at boot",
      );
      const logins = await host!.sshLogins();
      const { events } = await stack!.up();
      assert.deepEqual(changedSteps(events), [], "the state still matches the host");
      assert.equal(await host!.sshLogins(), logins, "no SSH session");
    });

    it("capture off restarts the unit once and leaves no Istio rule; capture back on sets them again", async () => {
      const pid = await mainPid();
      knobs.capture = "none";
      const off = await stack!.up();
      assert.deepEqual(changedSteps(off.events).sort(), [DRIFT_STEP, PROXY_STEP].sort());
      assert.notEqual(await mainPid(), pid, "a config change restarts the unit");
      assert.doesNotMatch(await natRules(), /ISTIO_/, "no Istio rule with capture off");
      assert.match(
        await host!.readFile(packageFileSpec("clusterEnv").path),
        /^ISTIO_CUSTOM_IP_TABLES='?true'?$/m,
      );
      assert.equal((await host!.run(READY)).stdout, "200", "the agent is ready");

      knobs.capture = "iptables";
      const on = await stack!.up();
      assert.deepEqual(changedSteps(on.events).sort(), [DRIFT_STEP, PROXY_STEP].sort());
      assert.match(await natRules(), /-A ISTIO_OUTPUT .*-j ISTIO_REDIRECT/, "Istio's rules are back");
      assert.equal((await host!.run(READY)).stdout, "200", "the agent is ready");
      assert.equal(
        (await host!.exec("id -un")).stdout,
        "admin\n",
        "a new SSH session still reaches the host",
      );
    });

    it("a version change from a file copied over SSH upgrades the package once and restarts the unit, the token kept", async () => {
      const pid = await mainPid();
      const logins = await host!.sshLogins();
      const tokens = await cluster!.tokenRequests();
      const token = await host!.readFile(packagePaths.token);
      const upgradesBefore = Number(await upgrades());
      knobs.source = { version: nextVersion, localFile: nextDebPath };
      const t0 = Date.now();
      const { events } = await stack!.up().catch(async (e: Error) => {
        // What sshd saw of the copy's SFTP session.
        console.log((await host!.run("tail -n 40 /var/log/sshd.log", { check: false })).stdout);
        throw e;
      });
      const seconds = (Date.now() - t0) / 1000;
      const sessions = (await host!.sshLogins()) - logins;
      console.log(`# SSH sessions of the upgrade up (package runtime, localFile): ${sessions}`);
      console.log(`# upgrade up (one VM, package runtime, through MeshVm): ${seconds.toFixed(1)} s`);
      assert.deepEqual(errors(events), []);
      assert.deepEqual(
        changedSteps(events).sort(),
        [
          `create command:remote:CopyToRemote ${VM}-proxy-package-copy`,
          `update command:remote:Command ${VM}-proxy-host`,
          PROXY_STEP,
        ].sort(),
        "the copy, the host step (install) and the proxy step (restart): no new token; Istio's files are the same",
      );
      assert.equal(sessions, 3, "the copy, the host step and the proxy step");
      assert.equal((await host!.run("dpkg-query -W -f='${Version}' istio-sidecar")).stdout, nextVersion);
      assert.equal(Number(await upgrades()), upgradesBefore + 1, "dpkg upgraded the package once");
      assert.match(
        (await host!.run("grep ' upgrade istio-sidecar:' /var/log/dpkg.log | tail -n 1")).stdout,
        new RegExp(
          ` upgrade istio-sidecar:amd64 ${version.replace(/\W/g, "\\$&")} ${nextVersion.replace(/\W/g, "\\$&")}$`,
          "m",
        ),
      );
      assert.equal(
        (await host!.run("cat /var/lib/mesh-vm/istio-sidecar/installed-by")).stdout.trim(),
        "mesh-vm",
        "still installed by mesh-vm: destroy removes it",
      );
      // The copy left the login's reach: root's, in mesh-vm's state directory, nothing in the home.
      const kept = await host!.stat("/var/lib/mesh-vm/istio-sidecar/package.pkg");
      assert.equal(kept?.owner, "root");
      assert.equal(kept?.mode, 0o600);
      assert.equal((await host!.run("ls -1A ~admin | grep -c mesh-vm || true")).stdout.trim(), "0");
      assert.notEqual(await mainPid(), pid, "the unit was restarted");
      assert.equal((await host!.systemctl("is-active istio.service", false)).stdout.trim(), "active");
      assert.equal((await host!.run(READY)).stdout, "200", "the agent is ready again");
      const leaf = leafOf(await host!.readFile("/etc/certs/cert-chain.pem"));
      const root = new X509Certificate(istiod.rootCertPem);
      assert.equal(leaf.subjectAltName, `URI:${SPIFFE}`);
      assert.ok(leaf.checkIssued(root) && leaf.verify(root.publicKey), "signed by istiod's root");
      assert.equal(await cluster!.tokenRequests(), tokens, "no TokenRequest");
      assert.equal(await host!.readFile(packagePaths.token), token, "the token on the VM is the same");
    });

    it("a further up after the upgrade changes nothing and opens no SSH session", async () => {
      const logins = await host!.sshLogins();
      const upgradesBefore = await upgrades();
      const { events } = await stack!.up();
      assert.deepEqual(changedSteps(events), []);
      assert.equal(await host!.sshLogins(), logins, "no SSH session");
      assert.equal(await upgrades(), upgradesBefore, "no new install");
    });

    it("another local file (the first version again) is copied again and installed: a rollback", async () => {
      const pid = await mainPid();
      const logins = await host!.sshLogins();
      knobs.source = { version, localFile: firstDebPath };
      const { events } = await stack!.up();
      const sessions = (await host!.sshLogins()) - logins;
      assert.deepEqual(errors(events), []);
      assert.deepEqual(
        changedSteps(events).sort(),
        [
          `update command:remote:CopyToRemote ${VM}-proxy-package-copy`,
          `update command:remote:Command ${VM}-proxy-host`,
          PROXY_STEP,
        ].sort(),
        "a new content: copied again, installed, the unit restarted",
      );
      assert.equal(sessions, 3, "the copy, the host step and the proxy step");
      assert.equal((await host!.run("dpkg-query -W -f='${Version}' istio-sidecar")).stdout, version);
      assert.notEqual(await mainPid(), pid, "the unit was restarted");
      assert.equal((await host!.run(READY)).stdout, "200", "the agent is ready again");
    });

    it("destroy deregisters, removes the package, unit, files and rules and leaves the host as before", async () => {
      const { events } = await stack!.destroy();
      assert.deepEqual(errors(events), []);
      assert.equal((await workloadEntry()).status, 404, "the WorkloadEntry is gone");
      assert.doesNotMatch(await natRules(), /ISTIO_/);
      assert.deepEqual((await host!.run(HOST_STATE)).stdout.split("\n"), before0.split("\n"));
    });

    it("a create from a local file opens three SSH sessions, and destroy leaves the host as before", async () => {
      knobs.source = { version: nextVersion, localFile: nextDebPath };
      const logins = await host!.sshLogins();
      const t0 = Date.now();
      const { events } = await stack!.up();
      const seconds = (Date.now() - t0) / 1000;
      const sessions = (await host!.sshLogins()) - logins;
      console.log(`# SSH sessions per VM on create (package runtime, localFile): ${sessions}`);
      console.log(`# first up (one VM, package runtime, localFile, through MeshVm): ${seconds.toFixed(1)} s`);
      assert.deepEqual(errors(events), []);
      assert.equal(sessions, 3, "the copy, the host step and the proxy step");
      assert.equal((await host!.run("dpkg-query -W -f='${Version}' istio-sidecar")).stdout, nextVersion);
      assert.equal((await host!.run(READY)).stdout, "200", "the agent is ready");
      const leaf = leafOf(await host!.readFile("/etc/certs/cert-chain.pem"));
      assert.equal(leaf.subjectAltName, `URI:${SPIFFE}`);
      const down = await stack!.destroy();
      assert.deepEqual(errors(down.events), []);
      assert.deepEqual((await host!.run(HOST_STATE)).stdout.split("\n"), before0.split("\n"));
    });
  },
);
