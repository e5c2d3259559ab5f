// Team state on a real shared backend: Pulumi's DIY `postgres://` backend against Debian's PostgreSQL server,
// started and stopped by the test bed (scripts/testbed/postgres.ts). Two checkouts of the root project (two CI
// runners: same Pulumi.yaml and committed Pulumi.dev.yaml, the same passphrase in their environment) run the same
// stack through the `pulumi` CLI. Asserts what a team relies on: the second runner sees the first one's state and
// changes nothing; an `up` while another holds the stack is refused by the lock and says so; the database holds no
// secret in plain text; `pulumi stack export/import` moves the stack to another backend, where it goes on.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { startCluster, type TestCluster } from "../../scripts/testbed/cluster";
import { cliProject, repoRoot, type CliEvent, type CliProject } from "../../scripts/testbed/cli";
import { startPostgres, type TestPostgres } from "../../scripts/testbed/postgres";
import { knownSecrets, secretFindings } from "../../scripts/testbed/secrets";

const NS = "bookinfo";
const PROJECT_FILES = ["Pulumi.yaml", "index.ts", "package.json", "tsconfig.json", "components"];
const wePath = `/apis/networking.istio.io/v1/namespaces/${NS}/workloadentries/ratings-vm`;

const changed = (events: CliEvent[]) =>
  events
    .map((e) => e.resourcePreEvent?.metadata)
    .filter((m) => m && !["same", "read"].includes(m.op))
    .map((m) => `${m!.op} ${m!.urn.split("::").pop()}`);

describe(
  "team state in PostgreSQL (the DIY postgres:// backend) through the pulumi CLI",
  { timeout: 20 * 60_000 },
  () => {
    let pg: TestPostgres;
    let cluster: TestCluster;
    let runnerA: CliProject;
    let runnerB: CliProject;
    let moved: CliProject | undefined;
    let exportDir: string;
    // Both runners get it from the CI's secret store, in the environment only.
    const passphrase = randomBytes(16).toString("hex");

    const runner = (opts: { from?: string; join?: boolean; files?: string[] }) =>
      cliProject({
        from: opts.from,
        files: opts.files ?? PROJECT_FILES,
        nodeModules: join(repoRoot, "node_modules"),
        stack: "dev",
        backendUrl: pg.backendUrl,
        env: pg.env,
        passphrase,
        join: opts.join,
      });
    const locks = async () =>
      (await pg.sql("SELECT key FROM pulumi_state WHERE key LIKE '%/locks/%';")).split("\n").filter(Boolean);

    before(async () => {
      pg = await startPostgres();
      cluster = await startCluster();
      await cluster.createNamespace(NS);
      exportDir = mkdtempSync(join(tmpdir(), "mesh-vm-export-"));
      runnerA = await runner({});
      await runnerA.setPlain({
        clusterIdentifier: "mesh-vm-postgres-test",
        "vms[0].name": "ratings-vm",
        "vms[0].namespace": NS,
        "vms[0].address": "198.51.100.10",
        "vms[0].serviceAccount": "bookinfo-ratings",
        "vms[0].labels.app": "ratings",
        "vms[0].labels.version": "v3",
        "vms[0].ports[0].name": "http",
        "vms[0].ports[0].number": "9080",
      });
      await runnerA.setSecret("kubeconfig", cluster.kubeconfig);
      // The second runner's checkout: the same files, Pulumi.dev.yaml included (teams commit it).
      runnerB = await runner({ from: runnerA.dir, files: [...PROJECT_FILES, "Pulumi.dev.yaml"], join: true });
    });

    after(async () => {
      if (moved) {
        await moved.pulumi(["destroy", "--yes", "--skip-preview"]).catch(() => undefined);
        moved.dispose();
      } else if (runnerA) {
        await runnerA.pulumi(["destroy", "--yes", "--skip-preview"]).catch(() => undefined);
      }
      runnerA?.dispose();
      runnerB?.dispose();
      if (exportDir) rmSync(exportDir, { recursive: true, force: true });
      if (cluster) await cluster.stop();
      if (pg) await pg.stop();
    });

    it("runner A's up keeps the stack in the database; runner B's up of the same stack finds it and changes nothing", async () => {
      const a = await runnerA.pulumi(["up", "--yes", "--skip-preview"]);
      assert.equal(a.code, 0, `${a.stdout}\n${a.stderr}`);
      assert.equal((await cluster.request("GET", wePath)).status, 200);
      const keys = (await pg.sql("SELECT key FROM pulumi_state;")).split("\n");
      assert.ok(
        keys.some((k) => /\.pulumi\/stacks\/.*\/dev\.json$/.test(k)),
        `the stack's checkpoint is a row of pulumi_state: ${keys.join(", ")}`,
      );
      const b = await runnerB.withEvents(["up", "--yes", "--skip-preview"]);
      assert.equal(b.code, 0, `${b.stdout}\n${b.stderr}`);
      assert.deepEqual(changed(b.events), [], "runner B's up changes nothing");
      const outputs = (r: CliProject) =>
        r.ok(["stack", "output", "--json"]).then((o) => JSON.parse(o.stdout) as unknown);
      assert.deepEqual(await outputs(runnerB), await outputs(runnerA));
    });

    it("an up while another runner's up holds the stack is refused by the lock, saying so", async () => {
      let pid: number | undefined;
      const first = runnerA.pulumi(["up", "--yes", "--skip-preview"], { onStart: (p) => (pid = p) });
      // Runner A takes the lock (a row under .pulumi/locks/) before it runs the program; hold it there.
      const deadline = Date.now() + 60_000;
      while ((await locks()).length === 0) {
        assert.ok(Date.now() < deadline, "runner A's up took no lock within 60 s");
        await sleep(100);
      }
      assert.ok(pid !== undefined);
      process.kill(pid, "SIGSTOP");
      let second;
      try {
        second = await runnerB.pulumi(["up", "--yes", "--skip-preview"]);
      } finally {
        process.kill(pid, "SIGCONT");
      }
      assert.notEqual(second.code, 0, "runner B's up is refused");
      const said = `${second.stdout}\n${second.stderr}`;
      assert.match(said, /the stack is currently locked by 1 lock\(s\)/);
      assert.match(said, /pulumi cancel/, "the message names the way out");
      const a = await first;
      assert.equal(a.code, 0, `runner A's up finishes: ${a.stdout}\n${a.stderr}`);
      assert.deepEqual(await locks(), [], "runner A released its lock");
      const again = await runnerB.withEvents(["up", "--yes", "--skip-preview"]);
      assert.equal(again.code, 0, `${again.stdout}\n${again.stderr}`);
      assert.deepEqual(changed(again.events), []);
    });

    it("the database holds no secret in plain text (the state's secrets are there, encrypted)", async () => {
      const secrets = [
        ...knownSecrets({ tokens: [], hosts: [], kubeconfig: cluster.kubeconfig }),
        { label: "secrets passphrase", value: passphrase },
        { label: "database password", value: pg.password },
      ];
      // Not vacuous: the state does hold the kubeconfig's credentials, as ciphertext.
      const plain = await runnerA.ok(["stack", "export", "--show-secrets"], { secret: true });
      assert.ok(
        secretFindings("export", plain.stdout, secrets).length > 0,
        "the state holds the kubeconfig token",
      );
      // The raw database (pg_dump) and every file the backend keeps in it, decoded (rows are base64 in JSON).
      const dump = await pg.dump();
      const files = await pg.files();
      const checkpoint = files.find((f) => /\.pulumi\/stacks\/.*\/dev\.json$/.test(f.key));
      assert.ok(
        checkpoint,
        `the stack's checkpoint is in the database: ${files.map((f) => f.key).join(", ")}`,
      );
      assert.match(checkpoint.text, /ratings-vm/, "the checkpoint holds the stack");
      assert.match(checkpoint.text, /"ciphertext"/, "the checkpoint holds the secrets, encrypted");
      assert.deepEqual(secretFindings("the state database (pg_dump)", dump, secrets), []);
      for (const f of files) assert.deepEqual(secretFindings(`the database's ${f.key}`, f.text, secrets), []);
      assert.deepEqual(
        secretFindings("the runners' CLI output", runnerA.transcript() + runnerB.transcript(), secrets),
        [],
      );
    });

    it("pulumi stack export/import moves the stack to another backend, where it goes on", async () => {
      const file = join(exportDir, "dev.json");
      await runnerA.ok(["stack", "export", "--file", file]);
      assert.doesNotMatch(readFileSync(file, "utf8"), new RegExp(pg.password));
      // A checkout on a file backend (the default of cliProject), same files and passphrase.
      moved = await cliProject({
        from: runnerA.dir,
        files: [...PROJECT_FILES, "Pulumi.dev.yaml"],
        nodeModules: join(repoRoot, "node_modules"),
        stack: "dev",
        passphrase,
      });
      await moved.ok(["stack", "import", "--file", file]);
      const preview = await moved.withEvents(["preview"]);
      assert.equal(preview.code, 0, `${preview.stdout}\n${preview.stderr}`);
      assert.deepEqual(
        changed(preview.events),
        [],
        "the imported stack matches the cluster: nothing to change",
      );
      const d = await moved.pulumi(["destroy", "--yes", "--skip-preview"]);
      assert.equal(d.code, 0, `${d.stdout}\n${d.stderr}`);
      assert.equal(
        (await cluster.request("GET", wePath)).status,
        404,
        "destroy from the new backend removed the objects",
      );
    });
  },
);
