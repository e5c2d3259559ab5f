// The test bed's VM hosts behave like the seeds' VM: own address on its own network, own users and
// /etc, a real sshd with a pinned host key, and a `docker` that runs the proxy container.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { createHosts, destroyHosts, leftovers, type TestHost } from "../../scripts/testbed/hosts";
import { testRootCertPem } from "../../scripts/testbed/certs";
import { createTestStack, type TestStack } from "../../scripts/testbed/pulumi";

const PROXY_IMAGE = "localhost/mesh-vm-standin-proxy:test";
const PROXY_DIR = "/etc/istio-proxy";

const SIDECAR_ENV = [
  "JWT_POLICY=third-party-jwt",
  "PROV_CERT=/var/run/secrets/istio",
  "OUTPUT_CERTS=/var/run/secrets/istio",
  "PILOT_CERT_PROVIDER=istiod",
  "CA_ADDR=istiod.istio-system.svc:15012",
  "POD_NAME=ratings-vm",
  "POD_NAMESPACE=bookinfo",
  "SERVICE_ACCOUNT=bookinfo-ratings",
  "ISTIO_META_CLUSTER_ID=Kubernetes",
  "ISTIO_META_INTERCEPTION_MODE=NONE",
].join("\n");

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${String(last)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A stack running `uname -a` on each host over SSH with @pulumi/command, the given host key pinned. */
function unameProgram(
  targets: { host: TestHost; hostKey: string }[],
): () => Promise<Record<string, unknown>> {
  return async () => {
    const provider = new command.Provider("command", {});
    const outputs: Record<string, unknown> = {};
    for (const { host, hostKey } of targets) {
      const uname = new command.remote.Command(
        `uname-${host.name}`,
        {
          connection: {
            host: host.address,
            port: host.sshPort,
            user: host.adminUser,
            privateKey: pulumi.secret(host.adminPrivateKey),
            hostKey,
            dialErrorLimit: 1,
          },
          create: "uname -a",
        },
        { provider },
      );
      outputs[host.name] = uname.stdout;
    }
    return outputs;
  };
}

async function ready(address: string): Promise<string | undefined> {
  const response = await fetch(`http://${address}:15021/healthz/ready`, {
    signal: AbortSignal.timeout(2000),
  });
  return response.ok ? await response.text() : undefined;
}

/** Writes the proxy's files like the provisioning does (as the admin user, with sudo). */
async function stageProxyFiles(host: TestHost, files: { rootCert?: string; token?: string }): Promise<void> {
  await host.exec(`sudo install -d -m 0755 ${PROXY_DIR}`);
  await host.exec(`sudo tee ${PROXY_DIR}/sidecar.env >/dev/null`, { input: SIDECAR_ENV });
  if (files.rootCert !== undefined) {
    await host.exec(`sudo tee ${PROXY_DIR}/istio-ca.pem >/dev/null`, { input: files.rootCert });
  }
  if (files.token !== undefined) {
    await host.exec(`sudo install -m 0640 /dev/null ${PROXY_DIR}/istio-token`);
    await host.exec(`sudo tee ${PROXY_DIR}/istio-token >/dev/null`, { input: files.token });
  }
}

function dockerRun(name: string): string {
  return [
    `sudo docker run -d --name ${name} --restart unless-stopped --network host`,
    `-v ${PROXY_DIR}/istio-ca.pem:/var/run/secrets/istio/root-cert.pem`,
    `-v ${PROXY_DIR}/istio-token:/var/run/secrets/tokens/istio-token`,
    `--env-file ${PROXY_DIR}/sidecar.env`,
    `${PROXY_IMAGE} proxy sidecar --serviceCluster ratings.bookinfo --concurrency 0`,
  ].join(" ");
}

describe(
  "test VM hosts (network namespaces with their own rootfs, sshd and docker)",
  { timeout: 40 * 60_000 },
  () => {
    let hosts: TestHost[] = [];
    let vm1: TestHost;
    let vm2: TestHost;
    const stacks: TestStack[] = [];

    before(async () => {
      hosts = await createHosts([
        { name: "vm1", networks: ["vm"] },
        { name: "vm2", networks: ["second"] },
      ]);
      [vm1, vm2] = hosts as [TestHost, TestHost];
    });

    after(async () => {
      for (const stack of stacks) {
        await stack.destroy().catch(() => undefined);
        await stack.dispose();
      }
      await destroyHosts(hosts);
      assert.deepEqual(
        await leftovers(),
        { netns: [], mounts: [], processes: [], cgroups: [] },
        "nothing left behind",
      );
    });

    it("puts the hosts on different networks, with no route anywhere else", async () => {
      assert.match(vm1.address, /^198\.51\.100\.\d+$/);
      assert.match(vm2.address, /^203\.0\.113\.\d+$/);
      for (const host of [vm1, vm2]) {
        const routes = (await host.run("ip -4 route")).stdout;
        assert.doesNotMatch(routes, /default/, `${host.name} has no default route`);
        assert.equal((await host.run("hostname")).stdout.trim(), host.name);
      }
      // vm2 cannot reach vm1's network: no route.
      const probe = await vm2.run(`curl -sS -m 2 http://${vm1.address}:22/ 2>&1`, { check: false });
      assert.notEqual(probe.code, 0);
      assert.match(probe.stdout, /unreachable|Could not connect|Failed to connect/i);
    });

    it("connects over SSH with the pinned host key as an admin with passwordless sudo", async () => {
      for (const host of [vm1, vm2]) {
        assert.match(host.hostKey, /^ssh-ed25519 AAAA[0-9A-Za-z+/=]+$/);
        // The admin key is a usable OpenSSH key: ssh-keygen derives its public half from it.
        const derived = execFileSync("ssh-keygen", ["-y", "-f", host.adminPrivateKeyPath], {
          encoding: "utf8",
        });
        const keyBody = derived.split(" ")[1]!;
        const authorized = (await host.exec("cat ~/.ssh/authorized_keys")).stdout;
        assert.ok(authorized.includes(keyBody), "the admin's authorized key is that key's public half");
        const r = await host.exec("id -un; sudo -n id -u; hostname");
        assert.deepEqual(r.stdout.trim().split("\n"), [host.adminUser, "0", host.name]);
      }
      assert.notEqual(vm1.hostKey, vm2.hostKey, "each host has its own host key");
      // SFTP is on (remote.CopyToRemote needs it).
      const sftp = await vm1.exec("grep -E '^Subsystem[[:space:]]+sftp' /etc/ssh/sshd_config");
      assert.match(sftp.stdout, /sftp-server/);
    });

    it("runs a real Pulumi remote.Command (uname -a) on both hosts with hostKey pinned", async () => {
      const logins = [await vm1.sshLogins(), await vm2.sshLogins()];
      const stack = await createTestStack({
        program: unameProgram([vm1, vm2].map((host) => ({ host, hostKey: host.hostKey }))),
        projectName: "mesh-vm-hosts",
      });
      stacks.push(stack);
      const { result } = await stack.up();
      assert.equal(result.summary.result, "succeeded");
      for (const host of [vm1, vm2]) {
        const out = String(result.outputs[host.name]?.value);
        assert.match(out, new RegExp(`^Linux ${host.name} \\S+ .*GNU/Linux$`), `uname -a on ${host.name}`);
      }
      assert.ok((await vm1.sshLogins()) > logins[0]!, "the command logged in to vm1");
      assert.ok((await vm2.sshLogins()) > logins[1]!, "the command logged in to vm2");
      // The admin key stays a secret in the state.
      const state = JSON.stringify(await stack.exportState());
      assert.ok(!state.includes(vm1.adminPrivateKey.split("\n")[1]!), "no private key in plain text");

      // The same command with vm2's key pinned for vm1 must not connect.
      const before = await vm1.sshLogins();
      const wrong = await createTestStack({
        program: unameProgram([{ host: vm1, hostKey: vm2.hostKey }]),
        projectName: "mesh-vm-hosts-wrong-key",
      });
      stacks.push(wrong);
      await assert.rejects(wrong.up(), /host key|handshake/i);
      assert.equal(await vm1.sshLogins(), before, "no session with a wrong pinned key");
    });

    it("refuses a wrong pinned host key", async () => {
      const before = await vm1.sshLogins();
      const r = await vm1.exec("true", { hostKey: vm2.hostKey, check: false });
      assert.equal(r.code, 255);
      assert.match(r.stderr, /Host key verification failed/);
      assert.equal(await vm1.sshLogins(), before, "no session was opened");
      await vm1.exec("true");
      assert.equal(await vm1.sshLogins(), before + 1, "the log counts sessions");
    });

    it("answers to `docker` like a Docker host: root and the docker group only", async () => {
      const denied = await vm2.exec("docker ps", { check: false });
      assert.notEqual(denied.code, 0);
      assert.match(denied.stderr, /permission denied .*docker\.sock/);
      await vm2.exec(`sudo usermod -aG docker ${vm2.adminUser}`);
      // A new login picks up the group, as with Docker; it reaches root's engine (the local image).
      const images = await vm2.exec("docker images --format '{{.Repository}}:{{.Tag}}'");
      assert.match(images.stdout, new RegExp(`^${PROXY_IMAGE}$`, "m"));
    });

    it("keeps users, /etc/hosts and file modes apart from the machine and the other host", async () => {
      const user = "mesh-vm-probe";
      await vm1.exec(`sudo useradd --system --no-create-home --shell /usr/sbin/nologin ${user}`);
      assert.ok((await vm1.users()).includes(user));
      assert.ok(!(await vm2.users()).includes(user), "not on the other host");
      assert.ok(
        !readFileSync("/etc/passwd", "utf8")
          .split("\n")
          .some((l) => l.startsWith(`${user}:`)),
        "not on the machine",
      );
      assert.notEqual((await vm2.exec(`id ${user}`, { check: false })).code, 0);

      await vm1.exec(`echo '198.51.100.200 istiod.istio-system.svc' | sudo tee -a /etc/hosts >/dev/null`);
      assert.match(await vm1.etcHosts(), /istiod\.istio-system\.svc/);
      assert.doesNotMatch(await vm2.etcHosts(), /istiod/);
      assert.doesNotMatch(readFileSync("/etc/hosts", "utf8"), /198\.51\.100\.200/);

      await vm1.exec(`sudo install -d -m 0750 -o ${user} -g root /var/lib/${user}`);
      assert.deepEqual(await vm1.stat(`/var/lib/${user}`), {
        type: "directory",
        owner: user,
        group: "root",
        uid: Number((await vm1.run(`id -u ${user}`)).stdout),
        gid: 0,
        mode: 0o750,
        size: (await vm1.stat(`/var/lib/${user}`))!.size,
      });
      assert.equal(await vm2.stat(`/var/lib/${user}`), undefined);
    });

    it("runs the stand-in proxy like the seeds (--restart unless-stopped --network host), ready on 15021", async () => {
      const token = "stand-in.jwt.token";
      await stageProxyFiles(vm1, { rootCert: testRootCertPem(), token });
      await vm1.exec(dockerRun("istio-proxy"));
      const body = await waitFor("readiness on vm1", () => ready(vm1.address));
      assert.equal(body.trim(), "ok");

      const [proxy] = (await vm1.containers()).filter((c) => c.name === "istio-proxy");
      assert.ok(proxy);
      assert.equal(proxy.image, PROXY_IMAGE);
      assert.equal(proxy.state, "running");
      assert.equal(proxy.restartPolicy, "unless-stopped");
      assert.equal(proxy.networkMode, "host");
      assert.deepEqual(proxy.mounts.map((m) => [m.source, m.destination]).sort(), [
        [`${PROXY_DIR}/istio-ca.pem`, "/var/run/secrets/istio/root-cert.pem"],
        [`${PROXY_DIR}/istio-token`, "/var/run/secrets/tokens/istio-token"],
      ]);
      assert.equal(proxy.env.POD_NAME, "ratings-vm");
      // docker CLI view, as a user on the VM would check it.
      const policy = await vm1.exec(
        "sudo docker inspect --format '{{.HostConfig.RestartPolicy.Name}}' istio-proxy",
      );
      assert.equal(policy.stdout.trim(), "unless-stopped");

      const logs = await vm1.containerLogs("istio-proxy");
      assert.match(logs, /root cert: .* \(1 certificate\(s\)\)/);
      assert.match(logs, /token: .* \(\d+ bytes\)/);
      assert.ok(!logs.includes(token), "the token itself is never logged");
      // The other host runs no proxy.
      await assert.rejects(ready(vm2.address));
    });

    it("the stand-in proxy exits non-zero when a required file is missing", async () => {
      await stageProxyFiles(vm2, { rootCert: testRootCertPem() });
      const run = await vm2.exec(dockerRun("istio-proxy"), { check: false });
      // podman refuses a missing bind-mount source itself; with the file present but empty the
      // stand-in refuses.
      if (run.code === 0) {
        const exited = await waitFor("the proxy to exit", async () => {
          const [c] = (await vm2.containers()).filter((x) => x.name === "istio-proxy");
          return c && c.state !== "running" ? c : undefined;
        });
        assert.notEqual(exited.exitCode, 0);
      } else {
        assert.match(run.stderr, /istio-token/);
      }
      await vm2.exec(
        "sudo docker rm -f istio-proxy >/dev/null 2>&1 || true; sudo touch /etc/istio-proxy/istio-token",
      );
      await vm2.exec(dockerRun("istio-proxy").replace("--restart unless-stopped", "--restart no"));
      const exited = await waitFor("the proxy to exit", async () => {
        const [c] = (await vm2.containers()).filter((x) => x.name === "istio-proxy");
        return c && c.state === "exited" ? c : undefined;
      });
      assert.equal(exited.exitCode, 1);
      assert.match(await vm2.containerLogs("istio-proxy"), /FATAL: bootstrap token .* is empty/);
      await vm2.exec("sudo docker rm -f istio-proxy >/dev/null");
    });

    it("a reboot clears /tmp: a container whose mounted files lived there does not start again", async () => {
      await vm2.exec(`printf %s stand-in.jwt.token | sudo tee ${PROXY_DIR}/istio-token >/dev/null`);
      await vm2.exec(`sudo cp -a ${PROXY_DIR} /tmp/istio-proxy`);
      await vm2.exec(dockerRun("istio-proxy").replaceAll(PROXY_DIR, "/tmp/istio-proxy"));
      await waitFor("readiness on vm2", () => ready(vm2.address));
      const { restarted, failed } = await vm2.reboot();
      assert.deepEqual(restarted, []);
      assert.deepEqual(
        failed.map((f) => f.name),
        ["istio-proxy"],
      );
      assert.match(failed[0]!.error, /\/tmp\/istio-proxy/);
      await assert.rejects(ready(vm2.address));
    });

    it("injects faults: sshd down and up, container killed, reboot", async () => {
      await vm1.stopSshd();
      const down = await vm1.exec("true", { check: false, timeoutMs: 15_000 });
      assert.equal(down.code, 255);
      assert.match(down.stderr, /Connection refused/);
      await vm1.startSshd();
      await vm1.exec("true");

      await vm1.run("touch /tmp/before-reboot /run/before-reboot");
      assert.deepEqual(await vm1.reboot(), { restarted: ["istio-proxy"], failed: [] });
      assert.equal(await vm1.exists("/tmp/before-reboot"), false, "/tmp is cleared");
      assert.equal(await vm1.exists("/run/before-reboot"), false, "/run is cleared");
      assert.ok((await vm1.users()).includes("mesh-vm-probe"), "the disk survives");
      await waitFor("readiness after reboot", () => ready(vm1.address));
      await vm1.exec("true");

      // A crash: podman applies the restart policy (no daemon needed).
      const [running] = (await vm1.containers()).filter((c) => c.name === "istio-proxy");
      await vm1.killContainer("istio-proxy");
      await waitFor("the proxy to be restarted", async () => {
        const [c] = (await vm1.containers()).filter((x) => x.name === "istio-proxy");
        return c && c.state === "running" && c.pid !== running!.pid ? c : undefined;
      });
      await waitFor("readiness after the crash", () => ready(vm1.address));

      // Stopped by a user: unless-stopped keeps it down, across a reboot too.
      await vm1.stopContainer("istio-proxy");
      assert.deepEqual((await vm1.reboot()).restarted, []);
      const [stopped] = (await vm1.containers()).filter((c) => c.name === "istio-proxy");
      assert.notEqual(stopped!.state, "running");
      await assert.rejects(ready(vm1.address));
    });
  },
);
