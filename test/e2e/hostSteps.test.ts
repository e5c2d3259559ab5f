// The host steps VmProxy runs, executed over real SSH on a test host (own users, sshd with a pinned host key,
// docker backed by podman, the stand-in proxy image): preparation as the admin with sudo, then everything
// else as the prepared, unprivileged proxy user with the key installed for it. Covers what only a real host
// shows: account unlocked for key logins, docker usable through the group, nested mounts, a rotated token
// reaching the running proxy, issued certificates surviving container re-creation and reboot, clean undo.
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { removeFileScript, writeFileScript } from "../../components/host/fileScripts";
import {
  applyHostsBlockScript,
  removeHostsBlockScript,
  renderHostsBlock,
} from "../../components/host/hostsBlock";
import { prepareHostScript, unprepareHostScript } from "../../components/host/prepareHost";
import { CONFIG_FILES, ContainerSpec, containerDigest } from "../../components/host/proxyContainer";
import { removeProxyScript, runProxyScript } from "../../components/host/proxyScripts";
import {
  fileBundle,
  fileEntriesOf,
  removeFilesScript,
  writeFilesScript,
} from "../../components/host/remoteSteps";
import { wrapScript } from "../../components/host/shell";
import type { PlannedFile } from "../../components/runtime/plan";
import { renderSidecarEnv } from "../../components/host/sidecarEnv";
import { createHosts, destroyHosts, type TestHost } from "../../scripts/testbed/hosts";
import { testRootCertPem } from "../../scripts/testbed/certs";

const CONFIG_DIR = "/etc/istio-proxy";
const IMAGE = "localhost/mesh-vm-standin-proxy:test";
const OWNER = "bookinfo/ratings-vm";

/**
 * A path inside the running proxy container, through its main process (`docker exec` is not usable in the
 * test bed: podman's exec there does not enter the container's mount namespace).
 */
async function containerPath(host: TestHost, path: string): Promise<string> {
  const c = (await host.containers()).find((x) => x.name === "istio-proxy");
  assert.ok(c && c.pid > 0, "the proxy container is running");
  return `/proc/${c.pid}/root${path}`;
}

describe("host steps on a real test host", { timeout: 15 * 60_000 }, () => {
  let host: TestHost | undefined;
  let keyDir = "";
  let publicKey = "";
  const rootCert = testRootCertPem();

  /** Runs a rendered command as the proxy user over SSH (pinned host key, the key prepared for it). */
  function asProxyUser(
    commandLine: string,
    input = "",
  ): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      const child = spawn(
        "ssh",
        [
          "-i",
          join(keyDir, "key"),
          "-o",
          `UserKnownHostsFile=${host!.knownHostsPath}`,
          "-o",
          "StrictHostKeyChecking=yes",
          "-o",
          "BatchMode=yes",
          "-o",
          "IdentitiesOnly=yes",
          "-p",
          String(host!.sshPort),
          `istio-proxy@${host!.address}`,
          "--",
          commandLine,
        ],
        { stdio: ["pipe", "pipe", "pipe"] },
      );
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
      child.stdin.end(input);
    });
  }

  const spec = (image = IMAGE): ContainerSpec => ({
    name: "istio-proxy",
    image,
    args: ["proxy", "sidecar", "--concurrency", "0"],
    configDir: CONFIG_DIR,
    addHosts: [],
    owner: OWNER,
  });
  const sidecarEnv = () =>
    renderSidecarEnv(
      {
        name: "ratings-vm",
        namespace: "bookinfo",
        serviceAccount: "bookinfo-ratings",
        address: host!.address,
        labels: { app: "ratings", class: "vm", version: "v3" },
      },
      {},
    );
  const contents = () => ({ sidecarEnv: sidecarEnv(), meshRootCert: rootCert, kubernetesRootCert: rootCert });
  const prepareSpec = () => ({
    user: "istio-proxy",
    configDir: CONFIG_DIR,
    keyOwner: OWNER,
  });

  before(async () => {
    [host] = await createHosts([{ name: "steps-a" }]);
    keyDir = mkdtempSync(join(tmpdir(), "mesh-vm-steps-"));
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "", "-f", join(keyDir, "key")]);
    publicKey = readFileSync(join(keyDir, "key.pub"), "utf8").trim();
  });

  after(async () => {
    if (host) await destroyHosts([host]);
    if (keyDir) rmSync(keyDir, { recursive: true, force: true });
  });

  it("prepares the host as the admin (sudo), idempotently, for key logins of an unprivileged user", async () => {
    const first = await host!.exec(wrapScript(prepareHostScript(prepareSpec()), "root"), {
      input: publicKey,
    });
    assert.match(first.stdout, /created user istio-proxy/);
    const again = await host!.exec(wrapScript(prepareHostScript(prepareSpec()), "root"), {
      input: publicKey,
    });
    assert.doesNotMatch(again.stdout, /created user/);
    assert.equal(
      (await host!.readFile("/home/istio-proxy/.ssh/authorized_keys")).split("\n").filter(Boolean).length,
      1,
    );
    const dir = await host!.stat(CONFIG_DIR);
    assert.deepEqual([dir?.owner, dir?.group, dir?.mode], ["istio-proxy", "istio-proxy", 0o775]);
    const ssh = await host!.stat("/home/istio-proxy/.ssh");
    assert.deepEqual([ssh?.owner, ssh?.mode], ["istio-proxy", 0o700]);
    assert.equal((await host!.stat("/home/istio-proxy/.ssh/authorized_keys"))?.mode, 0o600);
    const who = await asProxyUser(
      "id -un; id -nG; docker ps -q | wc -l; sudo -n true 2>/dev/null && echo sudo || echo no-sudo",
    );
    assert.equal(who.code, 0, who.stderr);
    const [user, groups, , sudo] = who.stdout.trim().split("\n");
    assert.equal(user, "istio-proxy");
    assert.ok(groups.split(" ").includes("docker"));
    assert.equal(sudo, "no-sudo", "the proxy user has no general root access");
  });

  it("prepares a user whose group already exists", async () => {
    await host!.run("groupadd proxy2");
    const r = await host!.exec(
      wrapScript(
        prepareHostScript({ user: "proxy2", configDir: "/etc/proxy2", keyOwner: "bookinfo/proxy2" }),
        "root",
      ),
      { input: publicKey },
    );
    assert.match(r.stdout, /created user proxy2/);
    assert.match((await host!.run("id proxy2")).stdout, /gid=\d+\(proxy2\) groups=.*\(docker\)/);
    await host!.exec(
      wrapScript(
        unprepareHostScript({ user: "proxy2", configDir: "/etc/proxy2", keyOwner: "bookinfo/proxy2" }),
        "root",
      ),
    );
    assert.equal(await host!.exists("/etc/proxy2"), false);
  });

  it("a new key of the same owner replaces the old one; other owners' keys stay; stdin must be one key", async () => {
    const spec = (owner: string) => ({ user: "proxy4", configDir: "/etc/proxy4", keyOwner: owner });
    const prep = (owner: string, input: string) =>
      host!.exec(wrapScript(prepareHostScript(spec(owner)), "root"), { input, check: false });
    const [k1, k2, k3] = [
      "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKeyOne",
      "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKeyTwo",
      "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKeyThree",
    ];
    assert.equal((await prep("bookinfo/a", k1)).code, 0);
    assert.equal((await prep("bookinfo/a-2", k3)).code, 0);
    assert.equal((await prep("bookinfo/a", k2)).code, 0);
    const keys = () => host!.readFile("/home/proxy4/.ssh/authorized_keys");
    assert.deepEqual(
      (await keys()).split("\n").filter(Boolean).sort(),
      [`${k3} mesh-vm:bookinfo/a-2`, `${k2} mesh-vm:bookinfo/a`].sort(),
    );
    const bad = await prep("bookinfo/a", `${k1}\n${k3}`);
    assert.equal(bad.code, 3);
    assert.match(bad.stderr, /not one public key line/);
    const option = await prep("bookinfo/a", `command="id" ${k1}`);
    assert.equal(option.code, 3, "authorized_keys options are refused");
    await host!.exec(wrapScript(unprepareHostScript(spec("bookinfo/a")), "root"));
    assert.equal(
      (await keys()).trim(),
      `${k3} mesh-vm:bookinfo/a-2`,
      "undo removes only its own owner's key",
    );
  });

  it("prepares one user for two proxies at the same time, keeping both keys", async () => {
    const keys = [
      "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOne one",
      "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITwo two",
    ];
    const results = await Promise.all(
      keys.map((key, i) =>
        host!.exec(
          wrapScript(
            prepareHostScript({ user: "proxy3", configDir: "/etc/proxy3", keyOwner: `bookinfo/vm-${i}` }),
            "root",
          ),
          { check: false, input: key },
        ),
      ),
    );
    assert.deepEqual(
      results.map((r) => r.code),
      [0, 0],
      results.map((r) => r.stderr).join("\n"),
    );
    const authorized = await host!.readFile("/home/proxy3/.ssh/authorized_keys");
    for (const [i, key] of keys.entries()) {
      const [type, body] = key.split(" ");
      assert.ok(authorized.includes(`${type} ${body} mesh-vm:bookinfo/vm-${i}\n`), key);
    }
  });

  it("writes files from stdin, runs the proxy, keeps it when nothing changed", async () => {
    for (const [name, mode, content] of [
      [CONFIG_FILES.sidecarEnv, "0644", sidecarEnv()],
      [CONFIG_FILES.meshRootCert, "0644", rootCert],
      [CONFIG_FILES.kubernetesRootCert, "0644", rootCert],
      [CONFIG_FILES.token, "0640", "first.bootstrap.token"],
    ] as const) {
      const r = await asProxyUser(
        wrapScript(writeFileScript({ path: `${CONFIG_DIR}/${name}`, mode })),
        content,
      );
      assert.equal(r.code, 0, r.stderr);
      assert.equal(await host!.readFile(`${CONFIG_DIR}/${name}`), content);
      const st = await host!.stat(`${CONFIG_DIR}/${name}`);
      assert.deepEqual([st?.owner, st?.mode], ["istio-proxy", parseInt(mode, 8)], name);
    }
    const digest = containerDigest(spec(), contents());
    let run = await asProxyUser(wrapScript(runProxyScript(spec(), digest, { timeoutSeconds: 60 })));
    assert.equal(run.code, 0, run.stderr);
    const created = JSON.parse(run.stdout) as { action: string; containerId: string };
    assert.equal(created.action, "created");
    const [c] = (await host!.containers()).filter((x) => x.name === "istio-proxy");
    assert.equal(c.id, created.containerId);
    assert.equal(c.restartPolicy, "unless-stopped");
    assert.equal(c.networkMode, "host");
    assert.match(await host!.containerLogs("istio-proxy"), /ready: serving/);

    run = await asProxyUser(wrapScript(runProxyScript(spec(), digest, { timeoutSeconds: 60 })));
    assert.equal(JSON.parse(run.stdout).action, "unchanged");
  });

  it("a rotated token reaches the running proxy without a restart", async () => {
    const before_ = (await host!.containers()).find((x) => x.name === "istio-proxy")!;
    const r = await asProxyUser(
      wrapScript(writeFileScript({ path: `${CONFIG_DIR}/${CONFIG_FILES.token}`, mode: "0640" })),
      "second.bootstrap.token",
    );
    assert.equal(r.code, 0, r.stderr);
    const seen = await host!.readFile(await containerPath(host!, "/var/run/secrets/tokens/istio-token"));
    assert.equal(seen, "second.bootstrap.token");
    const after_ = (await host!.containers()).find((x) => x.name === "istio-proxy")!;
    assert.equal(after_.id, before_.id);
    assert.equal(after_.state, "running");
  });

  it("the proxy step's bundle writes only the files that changed and refuses a bundle that is not its script's", async () => {
    const dir = `${CONFIG_DIR}/bundle-test`;
    const planned = (token: string): PlannedFile[] => [
      {
        path: `${dir}/a.env`,
        owner: "istio-proxy",
        group: "istio-proxy",
        mode: "0644",
        content: "A=1\n",
        secret: false,
        restartsProxy: true,
      },
      {
        path: `${dir}/token`,
        owner: "istio-proxy",
        group: "istio-proxy",
        mode: "0640",
        content: token,
        secret: true,
        restartsProxy: false,
      },
    ];
    const put = (files: PlannedFile[], stdin = fileBundle(files)) =>
      asProxyUser(wrapScript(writeFilesScript(fileEntriesOf(files))), stdin);
    let r = await put(planned("t1"));
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split("\n"), [`written ${dir}/a.env`, `written ${dir}/token`]);
    const inode = async (f: string) => (await host!.run(`stat -c %i ${dir}/${f}`)).stdout.trim();
    const before_ = await inode("a.env");
    r = await put(planned("t2"));
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split("\n"), [`unchanged ${dir}/a.env`, `written ${dir}/token`]);
    assert.equal(await inode("a.env"), before_, "the unchanged file was not rewritten");
    assert.equal(await host!.readFile(`${dir}/token`), "t2");
    assert.equal((await host!.stat(`${dir}/token`))?.mode, 0o640);
    // A bundle whose non-secret file differs from the digest the script names is refused; nothing is written.
    const other = planned("t3");
    other[0] = { ...other[0]!, content: "A=2\n" };
    r = await put(planned("t3"), fileBundle(other));
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /a\.env: the file on stdin is not the one this script names/);
    assert.equal(await host!.readFile(`${dir}/a.env`), "A=1\n");
    assert.equal(await host!.readFile(`${dir}/token`), "t2");
    r = await asProxyUser(wrapScript(removeFilesScript(fileEntriesOf(planned("")))));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await host!.exists(dir), false, "files and their emptied directory removed");
  });

  it("issued certificates survive a recreated container and a reboot", async () => {
    // What the agent does after its first CSR: write its certificate to OUTPUT_CERTS.
    await host!.run(
      `echo issued-cert > ${await containerPath(host!, "/var/run/secrets/istio/cert-chain.pem")}`,
    );
    const digest = containerDigest(spec(`${IMAGE}`), {
      ...contents(),
      sidecarEnv: `${sidecarEnv()}\nEXTRA=1`,
    });
    const run = await asProxyUser(wrapScript(runProxyScript(spec(), digest, { timeoutSeconds: 60 })));
    assert.equal(JSON.parse(run.stdout).action, "created", "a changed digest recreates the container");
    let seen = await host!.readFile(await containerPath(host!, "/var/run/secrets/istio/cert-chain.pem"));
    assert.equal(seen.trim(), "issued-cert");

    const { restarted } = await host!.reboot();
    assert.deepEqual(restarted, ["istio-proxy"]);
    seen = await host!.readFile(await containerPath(host!, "/var/run/secrets/istio/cert-chain.pem"));
    assert.equal(seen.trim(), "issued-cert");
    assert.equal(await host!.readFile(`${CONFIG_DIR}/${CONFIG_FILES.token}`), "second.bootstrap.token");
  });

  it("fails with the proxy's last log lines when it cannot become ready", async () => {
    // An empty token makes the stand-in proxy exit before it is ready, as the real agent would fail.
    await asProxyUser(
      wrapScript(writeFileScript({ path: `${CONFIG_DIR}/${CONFIG_FILES.token}`, mode: "0640" })),
      "",
    );
    const digest = containerDigest(spec(), { ...contents(), sidecarEnv: "changed" });
    const run = await asProxyUser(wrapScript(runProxyScript(spec(), digest, { timeoutSeconds: 15 })));
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /proxy container istio-proxy not ready/);
    assert.match(run.stderr, /\| standin-proxy: FATAL: bootstrap token .* is empty/);
  });

  it("maintains the hosts block as root and undoes everything", async () => {
    const hostsBefore = await host!.etcHosts();
    const block = { owner: OWNER, address: "127.0.0.2", hostnames: ["reviews.bookinfo.svc"] };
    const apply = await host!.exec(wrapScript(applyHostsBlockScript(block), "root"), {
      input: renderHostsBlock(block),
    });
    assert.equal(apply.stdout.trim(), "updated");
    assert.match(
      await host!.etcHosts(),
      /# BEGIN mesh-vm bookinfo\/ratings-vm\n127\.0\.0\.2 reviews\.bookinfo\.svc\n/,
    );
    assert.equal(
      (await host!.exec("getent hosts reviews.bookinfo.svc")).stdout.trim().split(/\s+/)[0],
      "127.0.0.2",
      "the name resolves to the egress listener",
    );

    await host!.exec(wrapScript(removeHostsBlockScript({ owner: OWNER }), "root"));
    assert.equal(await host!.etcHosts(), hostsBefore);
    const rm = await asProxyUser(wrapScript(removeProxyScript(spec())));
    assert.equal(rm.code, 0, rm.stderr);
    for (const name of [
      CONFIG_FILES.sidecarEnv,
      CONFIG_FILES.meshRootCert,
      CONFIG_FILES.kubernetesRootCert,
      CONFIG_FILES.token,
    ]) {
      const r = await asProxyUser(
        wrapScript(removeFileScript({ path: `${CONFIG_DIR}/${name}`, mode: "0644" })),
      );
      assert.equal(r.code, 0, r.stderr);
    }
    await host!.exec(wrapScript(unprepareHostScript(prepareSpec()), "root"));
    assert.deepEqual(
      (await host!.containers()).filter((c) => c.name === "istio-proxy"),
      [],
    );
    assert.equal(await host!.exists(CONFIG_DIR), false);
    assert.equal((await host!.readFile("/home/istio-proxy/.ssh/authorized_keys")).trim(), "");
    const denied = await asProxyUser("true");
    assert.notEqual(denied.code, 0, "the removed key no longer logs in");
  });
});
