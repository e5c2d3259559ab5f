// Istio's own VM runtime on a host with systemd as init, against the real istiod: the istio-sidecar package
// (Istio's unit, istio-start.sh and postinst from the pinned istio module; the real pilot-agent; Envoy a
// stand-in, DISABLE_ENVOY) installed and run by the package runtime's own scripts (components/runtime/package),
// with the files its renderers write (cluster.env, mesh.yaml, root-cert.pem, the token, the hosts line) in
// Istio's places. Nothing here checks the renderers against our reading of Istio: istio-start.sh must start
// the agent from them, istiod must issue it a certificate for the group's SPIFFE id, istio-iptables must set
// (or, with capture off, not set) its rules, and SSH must still reach the host.
import assert from "node:assert/strict";
import { createHash, createPrivateKey, X509Certificate } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { leafOf } from "../../scripts/testbed/certs";
import { startCluster, type TestCluster } from "../../scripts/testbed/cluster";
import { createSystemdHosts, type SystemdHost } from "../../scripts/testbed/hosts";
import { shellQuote } from "../../scripts/testbed/hosts/process";
import { istioBinaries, networkGateway, type Istiod } from "../../scripts/testbed/istiod";
import { poll } from "../../scripts/testbed/poll";
import {
  placeSidecarPackage,
  sidecarPackagePath,
  sidecarPackageVersion,
} from "../../scripts/testbed/sidecarPackage";
import { tearDown } from "../../scripts/testbed/teardown";
import { renderClusterEnv } from "../../components/runtime/package/clusterEnv";
import { renderHostsLine } from "../../components/runtime/package/hostsLine";
import { packageFileSpec, packagePaths } from "../../components/runtime/package/layout";
import { renderMeshYaml } from "../../components/runtime/package/meshYaml";
import {
  packagePrepareScript,
  packageStartScript,
  packageStopScript,
  packageUndoScript,
  type PackageScriptSettings,
} from "../../components/runtime/package/packageScripts";
import type {
  ConfigureOptions,
  WorkloadGroupSource,
} from "../../components/runtime/package/workloadGroupSource";

const NS = "shop";
const SA = "payments-sa";
const SPIFFE = `spiffe://cluster.local/ns/${NS}/sa/${SA}`;
const READY = "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:15020/healthz/ready";

const group: WorkloadGroupSource = {
  name: "payments",
  namespace: NS,
  spec: {
    metadata: { labels: { app: "payments", version: "v1" } },
    template: { ports: { http: 8080 }, serviceAccount: SA },
  },
};

/** What a user would compare before onboarding and after destroy. */
const HOST_STATE =
  [
    "dpkg-query -W -f='${Package} ${Version}\\n' | sort",
    "cut -d: -f1 /etc/passwd | sort",
    "cut -d: -f1 /etc/group | sort",
    "cat /etc/hosts",
    // Rules and own chains (a table the kernel loaded stays, empty, with its built-in chains).
    "{ iptables-legacy-save; iptables-nft-save; } 2>/dev/null | grep -E '^(-A|:)' | grep -vE '^:(PREROUTING|INPUT|OUTPUT|POSTROUTING|FORWARD) '",
    "systemctl list-unit-files --no-legend --plain | awk '{ print $1, $2 }' | sort",
    "ls -1A /etc/istio /var/lib/istio /var/log/istio /etc/certs /usr/local/bin /lib/systemd/system /var/lib/mesh-vm 2>&1",
  ].join("; echo ---; ") + "; true";

describe(
  "the istio-sidecar package under systemd gets its certificate from the real istiod",
  { timeout: 15 * 60_000 },
  () => {
    let cluster: TestCluster | undefined;
    let istiod: Istiod;
    let host: SystemdHost;
    let settings: PackageScriptSettings;
    let options: ConfigureOptions;
    let before0 = "";
    let issued: X509Certificate;

    const mintToken = async (): Promise<string> => {
      const r = await cluster!.request("POST", `/api/v1/namespaces/${NS}/serviceaccounts/${SA}/token`, {
        spec: { audiences: ["istio-ca"], expirationSeconds: 600 },
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return String(r.body.status.token);
    };

    /** Writes one file as the package runtime does: owner, group and mode from layout.ts, by rename. */
    const writeFile = async (
      which: Parameters<typeof packageFileSpec>[0],
      content: string,
    ): Promise<void> => {
      const f = packageFileSpec(which);
      const dir = f.path.replace(/\/[^/]+$/, "");
      await host.run(
        `set -e; install -d -o ${f.owner} -g ${f.group} -m 0755 ${dir}; t=$(mktemp ${dir}/.mesh-vm.XXXXXX); cat >"$t"; ` +
          `chown ${f.owner}:${f.group} "$t"; chmod ${f.mode} "$t"; mv -f "$t" ${shellQuote(f.path)}`,
        { input: content },
      );
    };

    const clusterEnv = (capture: "iptables" | "none") =>
      renderClusterEnv(group, options, { capture, discoveryAddress: istiod.discoveryAddress });
    const digestOf = (...parts: string[]) => createHash("sha256").update(parts.join("\0")).digest("hex");
    const mainPid = async () => (await host.systemctl("show -P MainPID istio.service")).stdout.trim();
    // istio-iptables picks the legacy or the nft backend itself: both are read, as a user would have to.
    const natRules = async () =>
      (await host.run("iptables-legacy-save -t nat 2>/dev/null; iptables-nft-save -t nat 2>/dev/null"))
        .stdout;
    const leaf = async () => leafOf(await host.readFile("/etc/certs/cert-chain.pem"));
    /** Waits for the agent's readiness; on a timeout, fails with the agent's own last lines. */
    const waitReady = async (what: string): Promise<void> => {
      try {
        await poll(what, 90_000, async () =>
          (await host.run(READY, { check: false })).stdout.trim() === "200" ? true : undefined,
        );
      } catch (error) {
        const logs = await host.run(
          `tail -n 25 ${packagePaths.log} ${packagePaths.errorLog}; journalctl -u istio.service --no-pager -o cat | tail -n 15`,
          { check: false },
        );
        throw new Error(`${(error as Error).message}\n${logs.stdout}`, { cause: error });
      }
    };

    before(async () => {
      // istiod, the agent and the package (no Pulumi provider is used here).
      const missing: string[] = [];
      try {
        istioBinaries();
      } catch (error) {
        missing.push((error as Error).message);
      }
      const deb = await sidecarPackagePath().catch((e: Error) => (missing.push(e.message), ""));
      if (missing.length > 0) throw new Error(`the test bed is incomplete:\n- ${missing.join("\n- ")}`);
      [host] = await createSystemdHosts([{ name: "pkg-vm" }]);
      cluster = await startCluster({ istiod: { address: networkGateway("vm") } });
      istiod = cluster.istiod!;
      await cluster.createNamespace(NS);
      await cluster.createServiceAccount(NS, SA);
      options = {
        clusterId: "Kubernetes",
        mesh: { trustDomain: "cluster.local", defaultConfig: { discoveryAddress: istiod.discoveryAddress } },
        internalIp: host.address,
        // istioctl's --capture-dns=false: with DNS capture the agent is ready only once istiod's DNS table came
        // over Envoy's xDS stream, and this package's Envoy is a stand-in (DISABLE_ENVOY).
        captureDns: false,
      };
      before0 = (await host.run(HOST_STATE)).stdout;
      const path = await placeSidecarPackage(host, deb, "/var/tmp/mesh-vm");
      settings = {
        name: "istio-sidecar",
        version: sidecarPackageVersion(deb),
        source: { kind: "file", path },
      };
    });

    after(() => tearDown({ hosts: host ? [host] : [], cluster }));

    it("prepare installs the package once, as Istio's postinst sets it up, and enables its unit", async () => {
      const first = await host.run(packagePrepareScript(settings));
      assert.match(
        first.stdout,
        new RegExp(`installed ${settings.version.replace(/\./g, "\\.")} \\(was: none\\)`),
      );
      const version = await host.run("dpkg-query -W -f='${Version}' istio-sidecar");
      assert.equal(version.stdout, settings.version);
      assert.ok((await host.users()).includes("istio-proxy"), "postinst made istio-proxy");
      assert.equal((await host.stat("/etc/istio"))?.type, "symlink");
      assert.equal((await host.stat("/usr/local/bin/pilot-agent"))?.mode, 0o2755);
      assert.equal((await host.systemctl("is-enabled istio.service", false)).stdout.trim(), "enabled");
      assert.equal((await host.systemctl("is-active istio.service", false)).stdout.trim(), "inactive");
      const log = await host.readFile("/var/log/dpkg.log");
      const again = await host.run(packagePrepareScript(settings));
      assert.equal(again.stdout, "", "nothing installed the second time");
      assert.equal(await host.readFile("/var/log/dpkg.log"), log);
    });

    it("with the rendered files in Istio's places, the unit starts the agent, which gets istiod's certificate", async () => {
      await writeFile("clusterEnv", clusterEnv("iptables"));
      await writeFile("meshConfig", renderMeshYaml(group, options));
      await writeFile("rootCert", istiod.rootCertPem);
      await writeFile("token", await mintToken());
      await host.run(`cat >>/etc/hosts`, { input: renderHostsLine(istiod.address, {}) });
      const digest = digestOf(clusterEnv("iptables"), renderMeshYaml(group, options), istiod.rootCertPem);

      // As written (the agent later rewrites root-cert.pem in OUTPUT_CERTS, with its own mode).
      for (const [which, owner, mode] of [
        ["clusterEnv", "istio-proxy", 0o644],
        ["meshConfig", "istio-proxy", 0o644],
        ["rootCert", "istio-proxy", 0o644],
        ["token", "istio-proxy", 0o600],
      ] as const) {
        const st = await host.stat(packageFileSpec(which).path);
        assert.equal(st?.owner, owner, which);
        assert.equal(st?.mode, mode, which);
      }
      assert.equal((await host.run(packageStartScript(digest))).stdout.trim(), "started");
      await waitReady("the agent under systemd to be ready");
      issued = await leaf();
      const root = new X509Certificate(istiod.rootCertPem);
      assert.equal(issued.subjectAltName, `URI:${SPIFFE}`);
      assert.ok(issued.checkIssued(root) && issued.verify(root.publicKey), "signed by istiod's root");
      assert.ok(issued.checkPrivateKey(createPrivateKey(await host.readFile("/etc/certs/key.pem"))));
      assert.equal((await host.systemctl("is-active istio.service")).stdout.trim(), "active");
      const agent = await host.run("ps -o user:20=,args= -C pilot-agent");
      assert.match(agent.stdout, /^istio-proxy +\/usr\/local\/bin\/pilot-agent proxy/m, agent.stdout);
      // Capture: istio-start.sh's istio-iptables, from cluster.env's ports; SSH (22) stays out of it.
      const nat = await natRules();
      assert.match(nat, /-A ISTIO_INBOUND -p tcp -m tcp --dport 8080 -j ISTIO_IN_REDIRECT/);
      assert.match(nat, /-A ISTIO_OUTPUT .*-j ISTIO_REDIRECT/);
      assert.equal((await host.exec("id -un")).stdout, "admin\n", "SSH still reaches the host");
      assert.match(
        await host.readFile(packagePaths.log),
        /./,
        "the agent logs into /var/log/istio/istio.log",
      );
    });

    it("runs start again without a restart when nothing changed, and a new token changes nothing else", async () => {
      const pid = await mainPid();
      const digest = digestOf(clusterEnv("iptables"), renderMeshYaml(group, options), istiod.rootCertPem);
      await writeFile("token", await mintToken());
      assert.equal((await host.run(packageStartScript(digest))).stdout.trim(), "unchanged");
      assert.equal(await mainPid(), pid, "the agent was not restarted");
    });

    it("with the token gone, a restarted agent renews with its persisted certificate (PROV_CERT=OUTPUT_CERTS=/etc/certs)", async () => {
      await host.run(`rm -f ${packagePaths.token}`);
      await host.systemctl("restart istio.service");
      const renewed = await poll("a new certificate without a token", 90_000, async () => {
        const l = await leaf().catch(() => undefined);
        return l && l.serialNumber !== issued.serialNumber ? l : undefined;
      });
      assert.equal(renewed.subjectAltName, `URI:${SPIFFE}`);
      await waitReady("the restarted agent to be ready");
      issued = renewed;
    });

    it("after a reboot (the token on tmpfs gone) the enabled unit brings the agent back, rules and all", async () => {
      await host.reboot();
      assert.equal(await host.exists(packagePaths.token), false, "/var/run is a tmpfs");
      await waitReady("the agent after the reboot");
      assert.equal((await host.systemctl("is-active istio.service")).stdout.trim(), "active");
      assert.match(await natRules(), /ISTIO_INBOUND/);
    });

    it("a config change restarts the unit; capture off leaves no Istio rule", async () => {
      const pid = await mainPid();
      await writeFile("clusterEnv", clusterEnv("none"));
      const digest = digestOf(clusterEnv("none"), renderMeshYaml(group, options), istiod.rootCertPem);
      assert.equal((await host.run(packageStartScript(digest))).stdout.trim(), "restarted");
      assert.notEqual(await mainPid(), pid);
      await waitReady("the agent with capture off");
      assert.doesNotMatch(await natRules(), /ISTIO_/);
    });

    it("stop and undo leave the host as it was before (package, user, unit, files, rules, hosts line)", async () => {
      await writeFile("clusterEnv", clusterEnv("iptables"));
      await host.run(packageStartScript("back-to-iptables"));
      // istio-start.sh sets the rules once the unit runs (systemctl start returns before).
      await poll("Istio's rules again", 30_000, async () =>
        (await natRules()).includes("ISTIO_INBOUND") ? true : undefined,
      );
      await host.run(packageStopScript());
      assert.doesNotMatch(
        await natRules(),
        /ISTIO_/,
        "ExecStopPost's istio-start.sh clean removed the rules",
      );
      assert.equal((await host.systemctl("is-enabled istio.service", false)).stdout.trim(), "disabled");
      for (const f of ["clusterEnv", "meshConfig", "rootCert", "token"] as const) {
        await host.run(`rm -f ${packageFileSpec(f).path}`);
      }
      await host.run(`sed -i '/ istiod\\.istio-system\\.svc$/d' /etc/hosts`);
      await host.run(packageUndoScript(settings));
      await host.run("rm -rf /var/tmp/mesh-vm");
      assert.deepEqual((await host.run(HOST_STATE)).stdout.split("\n"), before0.split("\n"));
    });

    it("never removes a package that was there before", async () => {
      const path = await placeSidecarPackage(host, await sidecarPackagePath(), "/var/tmp/mesh-vm");
      await host.run(`DEBIAN_FRONTEND=noninteractive dpkg -i ${path} >/dev/null`);
      assert.equal(
        (await host.run(packagePrepareScript({ ...settings, source: { kind: "file", path } }))).stdout,
        "",
      );
      await host.run(packageUndoScript(settings));
      const version = await host.run("dpkg-query -W -f='${Version}' istio-sidecar");
      assert.equal(version.stdout, settings.version, "the user's package stays");
      assert.ok((await host.users()).includes("istio-proxy"));
    });
  },
);
