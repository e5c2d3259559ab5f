// Secrets scan through the real engine and CLI (issue #13, item 5): the root program onboards the seeds' ratings VM
// with the `pulumi` CLI at its most talkative — `-v=9 --logflow` (the engine's log at level 9, and the same flags
// passed on to every plugin), `--logtostderr` or log files, `--debug`, the hidden `--event-log`
// (PULUMI_DEBUG_COMMANDS) — through a first `up`, an `up` that fails on the host, and the `up` that recovers.
// Scanned: the state (`pulumi stack export`), the CLI's stdout and stderr (with the failing up's error), every log
// file the CLI and the plugins wrote, the event logs, and the command lines of every process on the machine and on
// the host, sampled every 100 ms during each `up`. Searched for: each bootstrap token as read back from the host,
// the host's admin private key, the generated private key of the proxy user, the kubeconfig's credential.
// Measured: secrets show up only in upstream debug output, each hit attributed to one known kind (classifyUpstreamHit:
// the SDK's RPC response line, the Go RPC layer's level-9 property log of the engine and of each plugin, the later
// lines of a multi-line value those print, pulumi-kubernetes' kubeconfig file in TMPDIR) and counted by place; the
// state, every process list, the CLI's output and errors without --debug, and the event log without --debug (less
// the SDK's line) hold none. Any other hit fails the test: it would be mesh-vm's to fix.
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { cliProject, repoRoot, type CliProject, type CliResult } from "../../scripts/testbed/cli";
import { startCluster, type TestCluster } from "../../scripts/testbed/cluster";
import { createHosts, destroyHosts, type TestHost } from "../../scripts/testbed/hosts";
import { startHostSampler, startLocalSampler } from "../../scripts/testbed/processes";
import {
  isSdkDebugResponse,
  classifyUpstreamHit,
  knownSecrets,
  secretHits,
  type KnownSecret,
  type UpstreamLeak,
} from "../../scripts/testbed/secrets";

const NS = "bookinfo";
const SA = "bookinfo-ratings";
const PROXY_IMAGE = "localhost/mesh-vm-standin-proxy:test";
const CONFIG_DIR = "/etc/istio-proxy";
/** The engine's log at its most detailed, passed on to the plugins. */
const VERBOSE = ["--logflow", "-v=9"];

/** Every regular file under `dir`, with its text. */
function filesUnder(dir: string): { path: string; text: string }[] {
  const out: { path: string; text: string }[] = [];
  for (const entry of readdirSync(dir, { recursive: true, encoding: "utf8" })) {
    const path = join(dir, entry);
    if (statSync(path, { throwIfNoEntry: false })?.isFile())
      out.push({ path, text: readFileSync(path, "utf8") });
  }
  return out;
}

describe(
  "secrets scan: the root program through the pulumi CLI with every debug output on",
  { timeout: 30 * 60_000 },
  () => {
    let cluster: TestCluster | undefined;
    let host: TestHost;
    let hosts: TestHost[] = [];
    let cli: CliProject | undefined;
    let destroyed = false;
    /** Each log dir (TMPDIR of a run without --logtostderr) and what it is. */
    const logDir = mkdtempSync(join(tmpdir(), "mesh-vm-logs-"));
    const tokens: string[] = [];
    let generatedKey = "";
    let state = "";
    const texts: { where: string; text: string }[] = [];
    const runs: {
      what: string;
      result: CliResult & { events: { diagnosticEvent?: { severity: string; message: string } }[] };
    }[] = [];

    /** Runs the CLI while sampling the process lists here and on the host; keeps everything for the scan. */
    async function sampled(what: string, args: string[], env: Record<string, string> = {}) {
      const onHost = await startHostSampler(host);
      const local = startLocalSampler();
      try {
        const r = await cli!.withEvents(args, { env });
        runs.push({ what, result: r });
        return r;
      } finally {
        texts.push({ where: `process list on the machine during ${what}`, text: await local.stop() });
        texts.push({ where: `process list on the host during ${what}`, text: await onHost.stop() });
      }
    }

    before(async () => {
      cluster = await startCluster();
      await cluster.createNamespace(NS);
      await cluster.createServiceAccount(NS, SA);
      hosts = await createHosts([{ name: "secret-scan", networks: ["vm"] }]);
      host = hosts[0]!;
      cli = await cliProject({
        files: ["Pulumi.yaml", "index.ts", "package.json", "tsconfig.json", "components"],
        nodeModules: join(repoRoot, "node_modules"),
        stack: "scan",
      });
      await cli.setPlain({
        clusterIdentifier: "mesh-vm-secret-scan",
        "vms[0].name": "ratings-vm",
        "vms[0].namespace": NS,
        "vms[0].address": host.address,
        "vms[0].serviceAccount": SA,
        "vms[0].labels.app": "ratings",
        "vms[0].ports[0].name": "http",
        "vms[0].ports[0].number": "9080",
        "vms[0].host.hostKey": host.hostKey,
        "vms[0].host.prepare.admin.user": host.adminUser,
        "vms[0].host.proxyImage": PROXY_IMAGE,
        "vms[0].host.egressHostnames[0]": "reviews.bookinfo.svc",
      });
      await cli.setSecret("kubeconfig", cluster.kubeconfig);
      await cli.setSecret("vms[0].host.prepare.admin.privateKey", host.adminPrivateKey);
    });

    after(async () => {
      if (cli && !destroyed) await cli.pulumi(["destroy", "--yes", "--skip-preview"]).catch(() => undefined);
      cli?.dispose();
      rmSync(logDir, { recursive: true, force: true });
      if (hosts.length) await destroyHosts(hosts);
      if (cluster) await cluster.stop();
    });

    it("up with -v=9 --logflow --logtostderr --debug onboards the VM", async () => {
      const r = await sampled("the first up", [
        "up",
        "--yes",
        "--skip-preview",
        ...VERBOSE,
        "--logtostderr",
        "--debug",
      ]);
      assert.equal(r.code, 0, r.stdout.slice(-4000));
      assert.ok(
        r.stderr.length > 100_000,
        `the engine's level-9 log is on stderr (${r.stderr.length} bytes)`,
      );
      tokens.push(await host.readFile(`${CONFIG_DIR}/istio-token`));
      assert.equal((await host.containers()).find((c) => c.name === "istio-proxy")?.state, "running");
    });

    it("an up failing on the host (token rotation, config dir not writable), logging to files, names the step", async () => {
      await cli!.setPlain({ "vms[0].host.token.rotation": "scan-1" });
      await host.run(`chmod 0555 ${CONFIG_DIR}`);
      try {
        const r = await sampled("the failing up", ["up", "--yes", "--skip-preview", ...VERBOSE], {
          TMPDIR: logDir,
        });
        assert.notEqual(r.code, 0, "up failed");
        assert.match(r.stdout, /ratings-vm-proxy-proxy/);
        assert.match(r.stdout, /Permission denied/);
      } finally {
        await host.run(`chmod 0775 ${CONFIG_DIR}`);
      }
      assert.ok(filesUnder(logDir).length > 0, "the CLI and plugins wrote log files");
    });

    it("the next up writes the token minted in the failed one", async () => {
      const r = await sampled("the recovering up", ["up", "--yes", "--skip-preview", ...VERBOSE], {
        TMPDIR: logDir,
      });
      assert.equal(r.code, 0, r.stdout.slice(-4000));
      const token = await host.readFile(`${CONFIG_DIR}/istio-token`);
      assert.notEqual(token, tokens[0]);
      tokens.push(token);
      // The proxy user's generated key, decrypted from the state (this output is kept out of the transcript).
      const plain = JSON.parse(
        (await cli!.ok(["stack", "export", "--show-secrets"], { secret: true })).stdout,
      ) as {
        deployment: { resources: { type: string; outputs?: Record<string, unknown> }[] };
      };
      const generated = plain.deployment.resources.find((r) => r.type === "tls:index/privateKey:PrivateKey");
      // A secret output exports as { <secret signature>, plaintext: <the value as JSON> }.
      const secret = generated?.outputs?.privateKeyOpenssh as { plaintext?: string } | undefined;
      generatedKey = JSON.parse(secret?.plaintext ?? '""') as string;
      assert.match(generatedKey, /BEGIN OPENSSH PRIVATE KEY/);
      state = (await cli!.ok(["stack", "export"])).stdout;
    });

    it("destroy with -v=9 --logflow --logtostderr --debug leaves the host as before", async () => {
      const r = await sampled("destroy", [
        "destroy",
        "--yes",
        "--skip-preview",
        ...VERBOSE,
        "--logtostderr",
        "--debug",
      ]);
      destroyed = true;
      assert.equal(r.code, 0, r.stdout.slice(-4000));
      assert.equal(await host.exists(CONFIG_DIR), false);
    });

    it("secrets only in the known upstream debug lines (counted by place); none in state, process lists, plain CLI output or errors", async () => {
      const secrets: KnownSecret[] = [
        ...knownSecrets({ tokens, hosts, kubeconfig: cluster!.kubeconfig }),
        { label: "generated key of istio-proxy", value: generatedKey.split("\n")[1]! },
      ];
      assert.equal(tokens.length, 2);
      const haystacks: { where: string; text: string; file?: string }[] = [
        { where: "state before destroy", text: state },
        ...runs.flatMap(({ what, result }) => [
          { where: `CLI stdout of ${what}`, text: result.stdout },
          { where: `CLI stderr (log) of ${what}`, text: result.stderr },
        ]),
        ...filesUnder(logDir).map((f) => {
          const file = f.path.slice(logDir.length + 1);
          return { where: `file ${file.replace(/\d{8}-\d{6}\.\d+$/, "…")} in TMPDIR`, text: f.text, file };
        }),
        ...texts,
      ];
      for (const h of haystacks) assert.ok(h.text.length > 0, `${h.where} was captured`);

      // place → hits by upstream kind, and anything else (which would be ours to fix).
      const table = new Map<string, Record<string, number>>();
      const unexplained: string[] = [];
      const mask = (t: string) => secrets.reduce((acc, x) => acc.split(x.value).join("<S>"), t);
      const count = (where: string, kind: UpstreamLeak | undefined, label: string, masked: string) => {
        const row = table.get(where) ?? {};
        row[kind ?? "OTHER"] = (row[kind ?? "OTHER"] ?? 0) + 1;
        table.set(where, row);
        if (!kind) unexplained.push(`${label} in ${where}: ${masked.slice(0, 300)}`);
      };
      for (const { where, text, file } of haystacks) {
        for (const hit of secretHits(text, secrets)) {
          const masked = mask(hit.line);
          count(where, classifyUpstreamHit(masked, file), hit.label, masked);
        }
      }
      for (const { what, result } of runs) {
        for (const e of result.events) {
          // A diagnostic line by line (a relayed plugin log holds many); any other event as a whole.
          const text = e.diagnosticEvent?.message ?? JSON.stringify(e);
          for (const hit of secretHits(text, secrets)) {
            const masked = mask(hit.line);
            const kind = isSdkDebugResponse(e) ? "sdk-rpc-response" : classifyUpstreamHit(masked);
            count(`event log of ${what}`, kind, hit.label, masked);
          }
        }
      }
      const rows = [...table.entries()].map(
        ([where, kinds]) =>
          `${where}: ${Object.entries(kinds)
            .map(([k, n]) => `${k} ${n}`)
            .join(", ")}`,
      );
      console.log(`# secret hits by place and kind:\n${rows.map((r) => `#   ${r}`).join("\n")}`);
      assert.deepEqual(unexplained, [], "every hit is one of the known upstream lines");

      // Where no secret may be, whatever the flags: the state, every process list, the CLI's output (the failing
      // up's error included) of the runs without --debug and --logtostderr.
      const clean = haystacks
        .map((h) => h.where)
        .filter((w) =>
          /^state|^process list|^CLI (stdout|stderr \(log\)) of the (failing|recovering) up$/.test(w),
        );
      assert.equal(clean.length, 1 + 2 * 4 + 4, clean.join(", "));
      for (const where of clean) assert.equal(table.get(where), undefined, `no secret in ${where}`);
      // Without --debug the event log holds only the SDK's own debug line, counted.
      for (const what of ["the failing up", "the recovering up"]) {
        const kinds = table.get(`event log of ${what}`) ?? {};
        assert.deepEqual(
          Object.keys(kinds),
          ["sdk-rpc-response"],
          `event log of ${what}: ${JSON.stringify(kinds)}`,
        );
        assert.ok(kinds["sdk-rpc-response"]! > 0);
      }
      // pulumi-kubernetes' kubeconfig files: one per provider start, owner-only.
      const kubeconfigFiles = haystacks.filter((h) => h.file && /^kubeconfig\d+$/.test(h.file));
      assert.ok(kubeconfigFiles.length > 0, "the provider's kubeconfig files, as the README counts them");
      for (const f of kubeconfigFiles)
        assert.equal(statSync(join(logDir, f.file!)).mode & 0o777, 0o600, f.where);
    });
  },
);
