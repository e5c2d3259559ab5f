// A fleet run as several stacks (issue #28 item 4): examples/shards as a user runs it — its driver `run.ts` with
// mesh-vm's runShardedFleet, the `pulumi` CLI behind the Automation API (one process and one work directory per
// stack), a file backend — against the test bed. The mesh stack (MeshExpansion) first, then two shard stacks that
// read its gatewayAddress through a StackReference. One shard fails (a VM's pinned host key is wrong): the other
// shard onboards its VMs all the same, the run names the failed stack, and the next run, with the key fixed,
// repairs only that shard. destroy removes the shards, then the mesh stack.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { shardOf } from "../../components";
import { startCluster, type TestCluster } from "../../scripts/testbed/cluster";
import { repoRoot } from "../../scripts/testbed/cli";
import { buildPackage, exampleNodeModules } from "../../scripts/testbed/exampleModules";
import { createHosts, destroyHosts, type TestHost } from "../../scripts/testbed/hosts";
import { toolchainEnv } from "../../scripts/testbed/toolchain";

const execFileAsync = promisify(execFile);
const NS = "fleet";
const SA = "ratings";
const IMAGE = "localhost/mesh-vm-standin-proxy:test";

/** Three VM names: the first two in one shard of two, the third in the other. */
function namesForTwoShards(): { good: [string, string]; bad: string; goodShard: number } {
  const names = Array.from({ length: 40 }, (_, i) => `ratings-vm-${i}`);
  const byShard = [0, 1].map((k) => names.filter((n) => shardOf(n, 2) === k));
  const goodShard = byShard[0]!.length >= 2 ? 0 : 1;
  return {
    good: [byShard[goodShard]![0]!, byShard[goodShard]![1]!],
    bad: byShard[1 - goodShard]![0]!,
    goodShard,
  };
}

interface Row {
  stack: string;
  result: string;
  create: number;
  update: number;
  delete: number;
  error: string;
}

/** The summary table run.ts prints, by stack, in the order printed. */
function rowsOf(stdout: string): Row[] {
  const lines = stdout.split("\n").filter((l) => l.startsWith("| ") && !l.startsWith("| stack "));
  return lines.map((l) => {
    const c = l.split("|").map((x) => x.trim());
    // | stack | role | operation | result | seconds | create | update | replace | delete | same | error |
    return {
      stack: c[1]!,
      result: c[4]!,
      create: Number(c[6]),
      update: Number(c[7]),
      delete: Number(c[9]),
      error: c[11]!,
    };
  });
}

describe("a fleet as a mesh stack and shard stacks (examples/shards)", { timeout: 30 * 60_000 }, () => {
  let cluster: TestCluster;
  let hosts: TestHost[] = [];
  let project: string;
  let work: string;
  const { good, bad, goodShard } = namesForTwoShards();
  const badShard = `shard-${1 - goodShard}`;
  const okShard = `shard-${goodShard}`;
  const names = [...good, bad];

  const run = async (operation: string, inventory: object) => {
    const file = join(work, "fleet.json");
    writeFileSync(file, JSON.stringify(inventory), { mode: 0o600 });
    try {
      const { stdout, stderr } = await execFileAsync(
        process.execPath,
        ["--import", "tsx", "run.ts", operation, "--inventory", file, "--shards", "2", "--concurrency", "2"],
        {
          cwd: project,
          env: {
            ...toolchainEnv(),
            TMPDIR: work,
            PULUMI_BACKEND_URL: `file://${join(work, "state")}`,
            PULUMI_CONFIG_PASSPHRASE: "shards-e2e-passphrase",
            PULUMI_SKIP_CONFIRMATIONS: "true",
            PULUMI_DIY_BACKEND_NO_LEGACY_WARNING: "true",
          },
          maxBuffer: 64 * 2 ** 20,
        },
      );
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    } finally {
      rmSync(file, { force: true });
    }
  };

  const inventory = (keys: Record<string, string>) => ({
    kubeconfig: cluster.kubeconfig,
    gatewayAddress: "198.51.100.1",
    adminPrivateKey: hosts[0]!.adminPrivateKey,
    service: {
      namespace: NS,
      serviceAccount: SA,
      app: "ratings",
      port: 9080,
      adminUser: hosts[0]!.adminUser,
      proxyImage: IMAGE,
    },
    vms: names.map((name, i) => ({ name, address: hosts[i]!.address, hostKey: keys[name]! })),
  });
  const rightKeys = () => Object.fromEntries(names.map((n, i) => [n, hosts[i]!.hostKey]));

  const workloadEntry = (name: string) =>
    cluster.request("GET", `/apis/networking.istio.io/v1/namespaces/${NS}/workloadentries/${name}`);
  const proxyState = async (host: TestHost) =>
    (await host.containers()).find((c) => c.name === "istio-proxy")?.state ?? "none";

  before(async () => {
    buildPackage();
    cluster = await startCluster();
    await cluster.createNamespace(NS);
    await cluster.createNamespace("istio-system"); // MeshExpansion's Gateway and VirtualService live there
    await cluster.createServiceAccount(NS, SA);
    hosts = await createHosts(names.map((_, i) => ({ name: `shard-vm-${i}`, networks: ["vm" as const] })));
    // Every host takes the same admin key (the inventory has one), as a fleet built from one image does.
    const { stdout: adminPublicKey } = await execFileAsync("ssh-keygen", [
      "-y",
      "-f",
      hosts[0]!.adminPrivateKeyPath,
    ]);
    for (const h of hosts.slice(1))
      await h.run(`cat >> /home/${h.adminUser}/.ssh/authorized_keys`, { input: adminPublicKey });
    work = mkdtempSync(join(tmpdir(), "mesh-vm-shards-"));
    project = join(work, "project");
    mkdirSync(project);
    // The team's shared backend (a file backend here; see docs/ci.md for PostgreSQL).
    mkdirSync(join(work, "state"));
    for (const f of ["Pulumi.yaml", "index.ts", "run.ts", "package.json", "tsconfig.json"])
      copyFileSync(join(repoRoot, "examples/shards", f), join(project, f));
    exampleNodeModules(project);
  });

  after(async () => {
    if (cluster && work) await run("destroy", inventory(rightKeys())).catch(() => undefined);
    await destroyHosts(hosts);
    await cluster?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("a shard that fails is named; the other shard onboards its VMs all the same", async () => {
    // The third VM's pinned key is another host's: its shard cannot connect.
    const keys = { ...rightKeys(), [bad]: hosts[0]!.hostKey };
    const r = await run("up", inventory(keys));
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const rows = rowsOf(r.stdout);
    assert.deepEqual(
      rows.map((x) => [x.stack, x.result]),
      [
        ["mesh", "succeeded"],
        ["shard-0", goodShard === 0 ? "succeeded" : "failed"],
        ["shard-1", goodShard === 1 ? "succeeded" : "failed"],
      ],
      r.stdout + r.stderr,
    );
    assert.match(r.stderr, new RegExp(`1 of 3 stacks did not succeed: ${badShard} \\(failed: `));
    assert.match(rows.find((x) => x.stack === badShard)!.error, /^error: /);
    assert.match(r.stderr, /host key mismatch/, "the failed shard's error, whole, in the run's last line");
    for (const name of good) assert.equal((await workloadEntry(name)).status, 200, name);
    assert.equal((await workloadEntry(bad)).status, 404);
    assert.deepEqual(await Promise.all(hosts.map(proxyState)), ["running", "running", "none"]);
    const gateway = await cluster.request(
      "GET",
      "/apis/networking.istio.io/v1/namespaces/istio-system/gateways/istiod-gateway",
    );
    assert.equal(gateway.status, 200);
  });

  it("with the key fixed, the next run onboards the failed shard and changes nothing elsewhere", async () => {
    const r = await run("up", inventory(rightKeys()));
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const rows = rowsOf(r.stdout);
    assert.ok(
      rows.every((x) => x.result === "succeeded"),
      r.stdout,
    );
    for (const stack of ["mesh", okShard]) {
      const row = rows.find((x) => x.stack === stack)!;
      assert.deepEqual([row.create, row.update, row.delete], [0, 0, 0], `${stack}: ${r.stdout}`);
    }
    assert.ok(rows.find((x) => x.stack === badShard)!.create > 0);
    assert.equal((await workloadEntry(bad)).status, 200);
    assert.deepEqual(await Promise.all(hosts.map(proxyState)), ["running", "running", "running"]);
  });

  it("destroy removes the shards, then the mesh stack", async () => {
    const r = await run("destroy", inventory(rightKeys()));
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(
      rowsOf(r.stdout).map((x) => [x.stack, x.result]),
      [
        ["shard-0", "succeeded"],
        ["shard-1", "succeeded"],
        ["mesh", "succeeded"],
      ],
    );
    for (const name of names) assert.equal((await workloadEntry(name)).status, 404, name);
    const gateway = await cluster.request(
      "GET",
      "/apis/networking.istio.io/v1/namespaces/istio-system/gateways/istiod-gateway",
    );
    assert.equal(gateway.status, 404);
    assert.deepEqual(await Promise.all(hosts.map(proxyState)), ["none", "none", "none"]);
  });
});
