// MeshVm with `host`, its host steps carried out on a real test host — without the command provider plugin,
// which this machine cannot build (see README, "Known gap"). Pulumi's mock runtime stands in for the engine and
// the provider: each `command:remote:Command` VmProxy registers has its `create` run over real SSH exactly as
// the provider would (the connection's user, key and pinned host key; stdin; the command text to the login
// shell), in registration order; `delete`s run in reverse afterwards, as destroy would. The token is a test
// value (minting is proven against the real apiserver in tokenRequest.test.ts).
//
// What this proves that the unit tests cannot: VmProxy's composition — which user and key each step uses,
// what reaches stdin, the order — yields a prepared host, the right files and modes, a ready proxy and a
// hosts block, and its deletes leave the host clean. What it cannot prove: the real provider's behaviour
// (diffs, retries, a second `up` running nothing); onboard.test.ts covers that where the plugin exists.
import * as pulumi from "@pulumi/pulumi";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { MeshVm } from "../../components";
import { proxyMounts } from "../../components/host/proxyContainer";
import { testRootCertPem } from "../../scripts/testbed/certs";
import { createHosts, destroyHosts, type TestHost } from "../../scripts/testbed/hosts";

const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const IMAGE = "localhost/mesh-vm-standin-proxy:test";
const CONFIG_DIR = "/etc/istio-proxy";
const TOKEN = `replay-token-${randomBytes(8).toString("hex")}`;
const KUBECONFIG =
  "current-context: c\ncontexts: [{name: c, context: {cluster: k, user: u}}]\n" +
  "clusters: [{name: k, cluster: {server: 'https://127.0.0.1:6443'}}]\nusers: [{name: u, user: {token: t}}]\n";

/** Removes Pulumi's secret wrappers from mock inputs. */
function unwrap(value: unknown): unknown {
  if (typeof value === "object" && value !== null && (value as Record<string, unknown>)[SECRET_SIG]) {
    return unwrap((value as { value: unknown }).value);
  }
  if (Array.isArray(value)) return value.map(unwrap);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unwrap(v)]));
  }
  return value;
}

interface Connection {
  host: string;
  port: number;
  user: string;
  privateKey: string;
  hostKey: string;
}

interface RemoteStep {
  name: string;
  connection: Connection;
  create: string;
  delete?: string;
  stdin?: string;
}

const work = mkdtempSync(join(tmpdir(), "mesh-vm-replay-"));
const rootCert = testRootCertPem();

/** Runs `command` over SSH as the provider would: that user and key, the host key pinned, `stdin` fed. */
function ssh(
  c: Connection,
  command: string,
  stdin = "",
): Promise<{ code: number; stdout: string; stderr: string }> {
  const id = randomBytes(4).toString("hex");
  const keyPath = join(work, `key-${id}`);
  const knownHosts = join(work, `known-${id}`);
  writeFileSync(keyPath, c.privateKey, { mode: 0o600 });
  writeFileSync(knownHosts, `${c.host} ${c.hostKey}\n`);
  return new Promise((resolve) => {
    const child = spawn(
      "ssh",
      ["-i", keyPath, "-o", `UserKnownHostsFile=${knownHosts}`, "-o", "StrictHostKeyChecking=yes"]
        .concat([
          "-o",
          "BatchMode=yes",
          "-o",
          "IdentitiesOnly=yes",
          "-p",
          String(c.port),
          `${c.user}@${c.host}`,
        ])
        .concat(["--", command]),
      { stdio: ["pipe", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => {
      rmSync(keyPath, { force: true });
      rmSync(knownHosts, { force: true });
      resolve({ code: code ?? 1, stdout: stdout.replace(/\n$/, ""), stderr: stderr.replace(/\n$/, "") });
    });
    child.stdin.end(stdin);
  });
}

const steps: RemoteStep[] = [];
const localSteps: string[] = [];

void pulumi.runtime.setMocks(
  {
    async newResource(args) {
      const inputs = unwrap(args.inputs) as Record<string, unknown>;
      const state: Record<string, unknown> = { ...inputs };
      switch (args.type) {
        case "tls:index/privateKey:PrivateKey": {
          const path = join(work, `generated-${args.name}`);
          execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "", "-f", path]);
          state.privateKeyOpenssh = readFileSync(path, "utf8");
          state.publicKeyOpenssh = readFileSync(`${path}.pub`, "utf8");
          break;
        }
        case "kubernetes:core/v1:ConfigMap":
          state.data = args.id?.endsWith("istio-ca-root-cert")
            ? { "root-cert.pem": rootCert }
            : { "ca.crt": rootCert };
          break;
        case "command:local:Command":
          localSteps.push(args.name);
          if (args.name.endsWith("-bootstrap-token")) {
            state.stdout = JSON.stringify({ token: TOKEN, expirationTimestamp: "2026-11-23T08:00:00Z" });
          }
          break;
        case "command:remote:Command": {
          const step: RemoteStep = {
            name: args.name,
            connection: inputs.connection as Connection,
            create: inputs.create as string,
            delete: inputs.delete as string | undefined,
            stdin: inputs.stdin as string | undefined,
          };
          const r = await ssh(step.connection, step.create, step.stdin);
          if (r.code !== 0) throw new Error(`${args.name} failed (${r.code}): ${r.stderr.slice(-2000)}`);
          steps.push(step);
          state.stdout = r.stdout;
          state.stderr = r.stderr;
          break;
        }
      }
      return { id: `${args.name}-id`, state };
    },
    call: (args) => args.inputs,
  },
  "mesh-vm",
  "replay",
  false,
);

function valueOf<T>(o: pulumi.Output<T>): Promise<T> {
  return (o as unknown as { promise(): Promise<T> }).promise();
}

describe(
  "MeshVm host steps replayed over real SSH (mock engine, no command plugin)",
  { timeout: 10 * 60_000 },
  () => {
    let host: TestHost | undefined;

    before(async () => {
      [host] = await createHosts([{ name: "replay-vm", networks: ["vm", "second"] }]);
    });
    after(async () => {
      if (host) await destroyHosts([host]);
      rmSync(work, { recursive: true, force: true });
    });

    it("up: prepares the host, writes the files, runs the proxy until ready, keeps the hosts block", async () => {
      const h = host!;
      const vm = new MeshVm("ratings-vm", {
        namespace: "bookinfo",
        // Segregated like the seeds' VM: pods reach a public address, the proxy binds the private one.
        address: h.addresses.second!,
        proxyInstanceIp: h.addresses.vm!,
        sshHost: h.addresses.vm!,
        sshPort: h.sshPort,
        network: "vm-network",
        serviceAccount: "bookinfo-ratings",
        labels: { app: "ratings", version: "v3" },
        ports: [{ name: "http", number: 9080 }],
        host: {
          hostKey: h.hostKey,
          prepare: { admin: { user: h.adminUser, privateKey: h.adminPrivateKey } },
          kubeconfig: KUBECONFIG,
          proxyImage: IMAGE,
          egressHostnames: ["reviews.bookinfo.svc"],
          readiness: { timeoutSeconds: 60 },
          deregistrationDelaySeconds: 0,
        },
      });
      const proxy = await valueOf(vm.proxy);
      assert.ok(proxy);
      // The WorkloadEntry registers last (after the gate, after the hosts block): every step has run.
      assert.equal(await valueOf(vm.workloadEntryName), "ratings-vm");

      // Which identity each step used: preparation, key and /etc/hosts as the admin; files and container as istio-proxy.
      const users = Object.fromEntries(
        steps.map((s) => [s.name.replace("ratings-vm-proxy-", ""), s.connection.user]),
      );
      assert.deepEqual(users, { host: h.adminUser, proxy: "istio-proxy" });
      for (const s of steps) {
        assert.ok(!s.create.includes(TOKEN), `${s.name}: no token on a command line`);
        assert.ok(!s.create.includes("PRIVATE KEY"), `${s.name}: no key on a command line`);
      }

      // The prepared account and directory.
      assert.match((await h.exec("id istio-proxy")).stdout, /groups=.*\bdocker\b/);
      const dir = await h.stat(CONFIG_DIR);
      assert.deepEqual([dir?.type, dir?.owner, dir?.mode], ["directory", "istio-proxy", 0o775]);

      // The files: content, owner, mode (the token not world-readable).
      const files: [string, number, string][] = [
        ["sidecar.env", 0o644, proxy.sidecarEnv],
        ["istio-ca.pem", 0o644, rootCert],
        ["k8s-ca.pem", 0o644, rootCert],
        ["istio-token", 0o640, TOKEN],
      ];
      for (const [name, mode, content] of files) {
        const path = `${CONFIG_DIR}/${name}`;
        const st = await h.stat(path);
        assert.deepEqual([st?.owner, st?.mode], ["istio-proxy", mode], path);
        const onHost = await h.readFile(path);
        assert.equal(onHost, content, path);
        assert.equal(
          proxy.fileDigests[name],
          createHash("sha256").update(onHost).digest("hex"),
          `${name} digest`,
        );
      }
      assert.match(
        proxy.sidecarEnv,
        new RegExp(`^INSTANCE_IP=${h.addresses.vm!.replaceAll(".", "\\.")}$`, "m"),
      );

      // The container, as the seeds run it, and ready.
      const c = (await h.containers()).find((x) => x.name === "istio-proxy");
      assert.ok(c, "the proxy container exists");
      assert.equal(c.state, "running");
      assert.equal(
        c.id.startsWith(proxy.containerId) || proxy.containerId.startsWith(c.id),
        true,
        "containerId",
      );
      assert.equal(c.image.replace(/^localhost\//, ""), IMAGE.replace(/^localhost\//, ""));
      assert.equal(c.restartPolicy, "unless-stopped");
      assert.equal(c.networkMode, "host");
      const mounts = (list: { source: string; destination: string; readOnly: boolean }[]) =>
        list.map((m) => `${m.source}:${m.destination}:${m.readOnly ? "ro" : "rw"}`).sort();
      assert.deepEqual(
        mounts(c.mounts),
        mounts(proxyMounts(CONFIG_DIR).map((m) => ({ ...m, destination: m.target }))),
        "the mounts of the reference (token dir, root certs, issued certs dir)",
      );
      assert.equal(
        (await h.exec("curl -fsS http://127.0.0.1:15021/healthz/ready")).code,
        0,
        "ready on 15021",
      );

      // The hosts block, and the mesh objects registered after the proxy was ready.
      assert.match(
        await h.etcHosts(),
        /# BEGIN mesh-vm bookinfo\/ratings-vm\n127\.0\.0\.2 reviews\.bookinfo\.svc\n# END/,
      );
      assert.equal(proxy.hostsBlock.includes("127.0.0.2 reviews.bookinfo.svc"), true);
      assert.ok(localSteps.indexOf("ratings-vm-proxy-registration-gate") >= 0);
    });

    it("destroy (deletes in reverse order) leaves the host as before, but for the prepared user", async () => {
      const h = host!;
      for (const s of [...steps].reverse()) {
        if (!s.delete) continue;
        const r = await ssh(s.connection, s.delete);
        assert.equal(r.code, 0, `${s.name} delete: ${r.stderr}`);
      }
      assert.equal(
        (await h.containers()).find((x) => x.name === "istio-proxy"),
        undefined,
        "no container",
      );
      for (const f of ["sidecar.env", "istio-ca.pem", "k8s-ca.pem", "istio-token"]) {
        assert.equal(await h.exists(`${CONFIG_DIR}/${f}`), false, `${f} removed`);
      }
      assert.doesNotMatch(await h.etcHosts(), /mesh-vm/, "no hosts block");
      assert.ok((await h.users()).includes("istio-proxy"), "the prepared user stays (documented)");
    });
  },
);
