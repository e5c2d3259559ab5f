// The `package` runtime delivered at first boot (no SSH), through the real `pulumi` CLI, the real istiod and a
// real API server: a MeshVm `boot` with runtime "package" (Istio's istio-sidecar deb under systemd,
// docs/package-runtime.md), the package from a URL, as a user would host it. A `local.Command` stands in for a
// cloud's instance resource (as in bootDelivery.test.ts): it takes MeshVm's user data and boots a host with
// systemd as init from it, cloud-init run by its own units with a NoCloud seed (SystemdHost.firstBootCommand).
// What a user checks: preview shows what the VM will run and mints nothing; `up` renders the user data, the VM
// fetches and installs the package, Istio's files land with their owners and modes, istio.service is active and
// enabled, the agent holds istiod's certificate for the VM's SPIFFE id, istiod lists the WorkloadEntry, and
// mesh-vm opens no SSH session; a reboot brings the agent back on its persisted certificate; a second `up`
// changes nothing; destroy deregisters (the VM itself is the instance resource's: boot delivery never logs in).
import * as command from "@pulumi/command";
import assert from "node:assert/strict";
import { createHash, X509Certificate } from "node:crypto";
import { createReadStream } from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { basename } from "node:path";
import { after, before, describe, it } from "node:test";
import { parse } from "yaml";
import { MeshVm } from "../../components";
import { packageFileSpec, packagePaths } from "../../components/runtime/package/layout";
import { leafOf } from "../../scripts/testbed/certs";
import { startCluster, type TestCluster } from "../../scripts/testbed/cluster";
import { createSystemdHosts, type SystemdHost } from "../../scripts/testbed/hosts";
import { listedEndpoint, istioBinaries, networkGateway, type Istiod } from "../../scripts/testbed/istiod";
import { poll } from "../../scripts/testbed/poll";
import {
  changedSteps,
  createTestStack,
  errors,
  kubernetesProvider,
  steps,
  type TestStack,
} from "../../scripts/testbed/pulumi";
import { secretFindings } from "../../scripts/testbed/secrets";
import { sidecarPackagePath, sidecarPackageVersion } from "../../scripts/testbed/sidecarPackage";
import { tearDown } from "../../scripts/testbed/teardown";

const NS = "shop";
const SA = "orders-sa";
const VM = "orders";
const SPIFFE = `spiffe://cluster.local/ns/${NS}/sa/${SA}`;
const READY = "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:15020/healthz/ready";
const FILES = (["clusterEnv", "meshConfig", "rootCert", "token"] as const).map((w) => packageFileSpec(w));

describe(
  "the package runtime at first boot, with cloud-init and the real istiod",
  { timeout: 30 * 60_000 },
  () => {
    let cluster: TestCluster | undefined;
    let istiod: Istiod;
    let host: SystemdHost | undefined;
    let stack: TestStack | undefined;
    let server: Server | undefined;
    let packageUrl = "";
    let packageSha256 = "";
    let version = "";
    /** GET requests for the package file (the VM fetches it once, at its first boot). */
    let downloads = 0;
    const tokens: string[] = [];
    const cliOutput: string[] = [];

    const workloadEntry = () =>
      cluster!.request("GET", `/apis/networking.istio.io/v1/namespaces/${NS}/workloadentries/${VM}`);
    const agentReady = async () => (await host!.run(READY, { check: false })).stdout === "200";

    const program = async () => {
      const h = host!;
      const commandProvider = new command.Provider("command", {});
      const vm = new MeshVm(
        VM,
        {
          namespace: NS,
          address: h.address,
          serviceAccount: SA,
          labels: { app: VM, version: "v1" },
          ports: [{ name: "http", number: 8080 }],
          boot: {
            kubeconfig: cluster!.kubeconfig,
            runtime: "package",
            // istioctl's --capture-dns=false: with DNS capture the agent is ready only once istiod's DNS table
            // came over Envoy's stream, and this package's Envoy is a stand-in (docs/package-runtime.md).
            sidecarPackage: { version, url: packageUrl, sha256: packageSha256, captureDns: false },
            mesh: { discoveryAddress: istiod.discoveryAddress },
            gatewayAddress: istiod.address,
            egressHostnames: [],
            // Without Envoy the agent's own status port says when it is ready.
            readiness: { port: 15020, path: "/healthz/ready", timeoutSeconds: 120 },
            readyCheck: { timeoutSeconds: 300 },
            deregistrationDelaySeconds: 0,
          },
        },
        {
          providers: {
            kubernetes: kubernetesProvider("cluster", cluster!.kubeconfig),
            command: commandProvider,
          },
        },
      );
      // The VM: a cloud's instance resource would take `userData: vm.userData` (examples/boot-time). Here a local
      // command boots the test host from it; the user data reaches it on stdin, as a secret.
      const instance = new command.local.Command(
        `${VM}-instance`,
        {
          create: h.firstBootCommand(`i-${VM}`),
          stdin: vm.userData.apply((u) => u!),
          addPreviousOutputInEnv: false,
        },
        { provider: commandProvider },
      );
      return {
        boot: vm.boot,
        userData: vm.userData,
        tokenExpiry: vm.bootTokenExpiry,
        spiffeId: vm.spiffeId,
        instance: instance.stdout,
      };
    };

    before(async () => {
      const missing: string[] = [];
      try {
        istioBinaries();
      } catch (error) {
        missing.push((error as Error).message);
      }
      const debPath = await sidecarPackagePath().catch((e: Error) => (missing.push(e.message), ""));
      if (missing.length > 0) throw new Error(`the test bed is incomplete:\n- ${missing.join("\n- ")}`);
      version = sidecarPackageVersion(debPath);
      packageSha256 = createHash("sha256")
        .update(await readFile(debPath))
        .digest("hex");
      // Hosts first: istiod and the package server listen on their network's gateway, which exists once a host
      // is on it.
      const t0 = Date.now();
      [host] = await createSystemdHosts([{ name: "pkgboot-vm" }]);
      console.log(`# systemd host without a seed: launch to sshd ${((Date.now() - t0) / 1000).toFixed(2)} s`);
      const t1 = Date.now();
      await host.reboot();
      console.log(`# systemd host without a seed: reboot to sshd ${((Date.now() - t1) / 1000).toFixed(2)} s`);
      // The package where a user would put it: an HTTP server the VM reaches (here on the VM network's gateway).
      server = createServer((req, res) => {
        if (req.method === "GET" && req.url === `/${basename(debPath)}`) {
          downloads++;
          res.writeHead(200, { "content-type": "application/vnd.debian.binary-package" });
          createReadStream(debPath).pipe(res);
        } else {
          res.writeHead(404).end();
        }
      });
      await new Promise<void>((resolve, reject) => {
        server!.once("error", reject);
        server!.listen(0, networkGateway("vm"), resolve);
      });
      packageUrl = `http://${networkGateway("vm")}:${(server.address() as AddressInfo).port}/${basename(debPath)}`;
      cluster = await startCluster({ istiod: { address: networkGateway("vm") } });
      istiod = cluster.istiod!;
      await cluster.createNamespace(NS);
      await cluster.createServiceAccount(NS, SA);
      stack = await createTestStack({ program, projectName: "mesh-vm-package-boot" });
    });

    after(async () => {
      server?.closeAllConnections();
      await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
      await tearDown({ stacks: [stack], hosts: [host], cluster });
    });

    it("preview shows what the VM will run, mints nothing and boots nothing", async () => {
      const minted = await cluster!.tokenRequests();
      const preview = await stack!.preview();
      cliOutput.push(preview.result.stdout, preview.result.stderr);
      assert.deepEqual(errors(preview.events), []);
      const planned = steps(preview.events);
      for (const s of [
        `create mesh-vm:index:VmBoot ${VM}-boot`,
        `create command:local:Command ${VM}-boot-bootstrap-token`,
        `create command:local:Command ${VM}-boot-registration-gate`,
        `create kubernetes:networking.istio.io/v1:WorkloadEntry ${VM}-workloadentry`,
        `create command:local:Command ${VM}-instance`,
      ]) {
        assert.ok(planned.includes(s), `preview plans "${s}"; planned:\n${planned.join("\n")}`);
      }
      assert.ok(!planned.some((s) => /command:remote|tls:/.test(s)), planned.join("\n"));
      const text = preview.result.stdout;
      // The start steps the user data will run (no secret in them); the user data itself waits for the token.
      assert.match(text, /startScript\s*: "#!\/bin\/sh\\n# mesh-vm: start the istio-sidecar of shop\/orders/);
      assert.match(
        text,
        /hostsBlock\s*: "# BEGIN mesh-vm shop\/orders\\n198\.51\.100\.1 istiod\.istio-system\.svc/,
      );
      assert.match(text, /userData\s*: \[unknown\]/);
      assert.equal(await cluster!.tokenRequests(), minted, "preview minted no token");
      assert.equal(await host!.sshLogins(), 0);
      assert.equal(downloads, 0, "nothing fetched the package");
      assert.equal(await host!.exists("/var/lib/cloud/seed/nocloud"), false, "the VM was not booted");
      // Without a seed cloud-init's generator left the boot alone (ds-identify found no datasource).
      assert.equal(
        await host!.exists("/run/cloud-init/disabled"),
        true,
        "cloud-init disabled for a boot without seed",
      );
      assert.match((await host!.run("cloud-init status")).stdout, /status: disabled/);
    });

    it("up: the host boots from the user data with cloud-init, installs the package and the agent gets its certificate; no SSH", async () => {
      const minted = await cluster!.tokenRequests();
      const t0 = Date.now();
      const up = await stack!.up();
      const seconds = (Date.now() - t0) / 1000;
      cliOutput.push(up.result.stdout, up.result.stderr);
      assert.equal(up.result.summary.result, "succeeded", errors(up.events).join("\n"));
      console.log(`# first up (one VM, package runtime, boot delivery): ${seconds.toFixed(1)} s`);
      console.log(`# ${String(up.result.outputs.instance?.value).trim()}`);
      assert.match(String(up.result.outputs.instance?.value), /cloud-init finished: status: done/);
      assert.equal(await cluster!.tokenRequests(), minted + 1, "one TokenRequest");
      assert.equal(await host!.sshLogins(), 0, "no SSH session");
      assert.equal(downloads, 1, "the VM fetched the package once");

      // The user data: a secret output with Istio's four files for cloud-init to write.
      const userData = up.result.outputs.userData!;
      assert.equal(userData.secret, true, "userData is a secret stack output");
      const cc = parse(userData.value as string) as { write_files: { path: string; owner: string }[] };
      assert.deepEqual(
        cc.write_files.map((f) => [f.path, f.owner]),
        FILES.map((f) => [f.path, `${f.owner}:${f.group}`]),
      );
      const token = await host!.readFile(packagePaths.token);
      tokens.push(token);
      assert.equal(up.result.outputs.spiffeId?.value, SPIFFE);

      // cloud-init did it, from its own units at boot.
      assert.match((await host!.run("cloud-init status --long")).stdout, /status: done/);
      assert.match((await host!.run("cloud-init query v1.platform")).stdout, /nocloud/);
      assert.match(
        await host!.readFile("/var/log/cloud-init-output.log"),
        /mesh-vm: the proxy of shop\/orders is ready/,
      );
      assert.equal((await host!.systemctl("is-active cloud-final.service", false)).stdout.trim(), "active");

      assert.equal((await host!.run("dpkg-query -W -f='${Version}' istio-sidecar")).stdout, version);
      // Istio's layout as the package makes it (postinst.sh), not one cloud-init made before it: its system
      // account at home in /var/lib/istio, and /etc/istio a link to /var/lib/istio.
      const account = (await host!.run("getent passwd istio-proxy")).stdout.trim().split(":");
      assert.equal(account[5], "/var/lib/istio", `the package's account: ${account.join(":")}`);
      assert.ok(Number(account[2]) < 1000, `a system account: ${account.join(":")}`);
      assert.equal(
        (await host!.run("readlink /etc/istio", { check: false })).stdout.trim(),
        "/var/lib/istio",
      );
      assert.equal((await host!.systemctl("is-active istio.service", false)).stdout.trim(), "active");
      assert.equal((await host!.systemctl("is-enabled istio.service", false)).stdout.trim(), "enabled");
      // As cloud-init wrote them; the root certificate is the agent's own once it runs (OUTPUT_CERTS=/etc/certs:
      // it rewrites the file, as on the SSH path), so only its owner and content are checked.
      for (const f of FILES) {
        const st = await host!.stat(f.path);
        const rewritten = f.path === packageFileSpec("rootCert").path;
        assert.deepEqual(
          rewritten ? [st?.type, st?.owner] : [st?.type, st?.owner, st?.group, st?.mode?.toString(8)],
          rewritten ? ["file", f.owner] : ["file", f.owner, f.group, f.mode.replace(/^0/, "")],
          f.path,
        );
      }
      // (The agent writes it back without the final newline.)
      assert.equal(
        (await host!.readFile(packageFileSpec("rootCert").path)).trim(),
        istiod.rootCertPem.trim(),
      );
      assert.match(await host!.readFile(packageFileSpec("clusterEnv").path), /^PROV_CERT=/m);
      assert.match(await host!.readFile("/etc/hosts"), /istiod\.istio-system\.svc/);
      const leaf = leafOf(await host!.readFile("/etc/certs/cert-chain.pem"));
      const root = new X509Certificate(istiod.rootCertPem);
      assert.equal(leaf.subjectAltName, `URI:${SPIFFE}`);
      assert.ok(leaf.checkIssued(root) && leaf.verify(root.publicKey), "signed by istiod's root");
      const agent = await host!.run("ps -o user:20=,args= -C pilot-agent");
      assert.match(agent.stdout, /^istio-proxy +\/usr\/local\/bin\/pilot-agent proxy/m, agent.stdout);
      assert.ok(await agentReady(), "the agent is ready");

      // Registered once the proxy was ready: istiod lists the WorkloadEntry with the VM's identity.
      const we = await workloadEntry();
      assert.equal(we.status, 200);
      assert.equal(we.body.spec.address, host!.address);
      const endpoint = await listedEndpoint(istiod, host!.address);
      assert.equal(endpoint.ServiceAccount ?? endpoint.serviceAccount, SPIFFE, JSON.stringify(endpoint));
    });

    it("a second up changes nothing: no new token, no download, no SSH session", async () => {
      const minted = await cluster!.tokenRequests();
      const before_ = (await stack!.outputs()).userData!.value;
      const up = await stack!.up();
      cliOutput.push(up.result.stdout, up.result.stderr);
      assert.deepEqual(changedSteps(up.events), []);
      assert.equal(await cluster!.tokenRequests(), minted, "no TokenRequest");
      assert.equal((await stack!.outputs()).userData!.value, before_, "the same user data");
      assert.equal(downloads, 1);
      assert.equal(await host!.sshLogins(), 0, "no SSH session");
      const state = JSON.stringify(await stack!.exportState());
      for (const t of tokens) assert.ok(!state.includes(t), "a token appears in plain text in the state");
    });

    it("after a reboot the enabled unit brings the agent back on its persisted certificate; cloud-init runs nothing again", async () => {
      const t0 = Date.now();
      await host!.reboot();
      const toSshd = (Date.now() - t0) / 1000;
      assert.equal(await host!.exists(packagePaths.token), false, "/var/run is a tmpfs: the token is gone");
      await poll("the agent after the reboot", 90_000, async () => ((await agentReady()) ? true : undefined));
      const toReady = (Date.now() - t0) / 1000;
      // The seed stays: cloud-init runs at every boot of the instance (its per-boot modules), without blocking it.
      assert.match((await host!.run("cloud-init status --wait")).stdout, /status: done/);
      const toCloudInit = (Date.now() - t0) / 1000;
      console.log(
        `# reboot of the seeded host (same instance): to sshd ${toSshd.toFixed(2)} s, to a ready agent ${toReady.toFixed(1)} s, cloud-init done by ${toCloudInit.toFixed(1)} s`,
      );
      assert.equal((await host!.systemctl("is-active istio.service", false)).stdout.trim(), "active");
      // The same instance: cloud-init's per-instance modules (write_files, runcmd) do not run again.
      assert.equal(await host!.exists(packagePaths.token), false, "the token was not written again");
      assert.equal(downloads, 1, "no second download");
      const { events } = await stack!.up();
      assert.deepEqual(changedSteps(events), [], "the state still matches");
      assert.equal(await host!.sshLogins(), 0, "no SSH session");
    });

    it("destroy deregisters; no secret in plain text in the CLI output; zero SSH sessions from start to end", async () => {
      const down = await stack!.destroy();
      cliOutput.push(down.result.stdout, down.result.stderr);
      assert.equal(down.result.summary.result, "succeeded", errors(down.events).join("\n"));
      assert.equal((await workloadEntry()).status, 404, "the WorkloadEntry is gone");
      const kube = parse(cluster!.kubeconfig) as { users: { user: Record<string, string> }[] };
      const secrets = [
        ...tokens.map((value, i) => ({ label: `bootstrap token #${i}`, value })),
        ...kube.users.flatMap((u) =>
          Object.entries(u.user)
            .filter(([, v]) => typeof v === "string")
            .map(([k, value]) => ({ label: `kubeconfig ${k}`, value })),
        ),
      ];
      assert.deepEqual(secretFindings("CLI output", cliOutput.join("\n"), secrets), []);
      assert.equal(await host!.sshLogins(), 0, "zero SSH sessions");
    });
  },
);
