// What the Pulumi engine does with waves chained by declareInWaves when a resource of wave 2 fails (the facts
// docs/reliability.md "Rolling upgrades" states), through the `pulumi` CLI (the Node.js language host, as a user's
// program runs: an inline Automation API program would not fail on the later waves' failed registrations, and the
// engine would then delete what the program did not register) with `local.Command`s standing for a VM's proxy step
// and registration: waves [a0 a1] [b0 b1] [c0]; b0's "proxy" fails after 1 s while b1's runs 4 s. Each command
// appends a line to a log, so the test reads what really ran, in order.
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { cliProject, repoRoot, type CliProject } from "../../scripts/testbed/cli";

const dir = mkdtempSync(join(tmpdir(), "mesh-vm-rollout-engine-"));
const log = join(dir, "log");

// The program: one "VM" is a proxy step, then its registration (which reads the proxy step's output, as a
// WorkloadEntry waits for the ready proxy), declared in waves of two by mesh-vm's declareInWaves.
const programText = `import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { declareInWaves } from "./components/rollout/declare";

const config = new pulumi.Config();
const version = config.require("version");
const failing = config.get("fail") ?? "";
const log = ${JSON.stringify(log)};

class Vm extends pulumi.ComponentResource {
  constructor(name: string, seconds: number, opts: pulumi.ComponentResourceOptions) {
    super("test:index:Vm", name, {}, opts);
    const fail = failing === name ? "; exit 1" : "";
    const proxy = new command.local.Command(
      \`\${name}-proxy\`,
      {
        create: \`echo "start \${name} v\${version}" >> \${log}; sleep \${seconds}\${fail}; echo "done \${name} v\${version}" >> \${log}; echo v\${version}\`,
        delete: \`echo "delete \${name}" >> \${log}\`,
      },
      { parent: this },
    );
    new command.local.Command(
      \`\${name}-registration\`,
      { create: pulumi.interpolate\`echo "registered \${name} \${proxy.stdout}" >> \${log}\` },
      { parent: this },
    );
    this.registerOutputs({});
  }
}

const vms: [string, number][] = [["a0", 1], ["a1", 1], ["b0", 1], ["b1", 4], ["c0", 1]];
declareInWaves(vms, { maxUnavailable: 2 }, ([name, seconds], dependsOn) => new Vm(name, seconds, { dependsOn }), {
  nameOf: ([name]) => name,
});
`;

/** The log lines written since the last call. */
function ran(): string[] {
  const lines = readFileSync(log, "utf8").split("\n").filter(Boolean);
  writeFileSync(log, "");
  return lines;
}

describe(
  "the engine and a failed wave (declareInWaves, local commands, pulumi CLI)",
  { timeout: 10 * 60_000 },
  () => {
    let cli: CliProject | undefined;
    const up = (extra: string[] = []) => cli!.pulumi(["up", "--yes", "--skip-preview", ...extra]);

    before(async () => {
      writeFileSync(join(dir, "Pulumi.yaml"), "name: rollout-engine\nruntime: nodejs\nmain: index.ts\n");
      writeFileSync(join(dir, "index.ts"), programText);
      writeFileSync(log, "");
      cli = await cliProject({
        files: ["Pulumi.yaml", "index.ts"],
        from: dir,
        nodeModules: join(repoRoot, "node_modules"),
        stack: "dev",
      });
      for (const f of ["package.json", "tsconfig.json", "components"])
        cpSync(join(repoRoot, f), join(cli.dir, f), { recursive: true });
      await cli.setPlain({ version: "1" });
      const r = await up();
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
      ran();
    });

    after(() => {
      cli?.dispose();
      rmSync(dir, { recursive: true, force: true });
    });

    it("without --continue-on-error: running steps finish, no new step starts, wave 3 never starts", async () => {
      await cli!.setPlain({ version: "2", fail: "b0" });
      const r = await up();
      assert.notEqual(r.code, 0);
      assert.match(r.stdout, /error: update failed/);
      const lines = ran();
      for (const vm of ["a0", "a1"]) assert.ok(lines.includes(`registered ${vm} v2`), `${vm} done: ${lines}`);
      assert.ok(lines.includes("done b1 v2"), `b1's running step finished: ${lines}`);
      assert.ok(!lines.includes("registered b1 v2"), `b1's next step did not start: ${lines}`);
      assert.ok(!lines.some((l) => l.includes("c0")), `wave 3 never started: ${lines}`);
    });

    it("with --continue-on-error: the rest of wave 2 goes on, wave 3 still never starts", async () => {
      await cli!.setPlain({ version: "3" });
      const r = await up(["--continue-on-error"]);
      assert.notEqual(r.code, 0);
      assert.match(
        `${r.stdout}${r.stderr}`,
        /resource b0-proxy \[command:local:Command\] failed to register/,
      );
      const lines = ran();
      assert.ok(lines.includes("registered b1 v3"), `b1 went on: ${lines}`);
      assert.ok(!lines.some((l) => l.includes("c0")), `wave 3 never started, nothing deleted: ${lines}`);
    });

    it("the next up retries the failed step and goes on; completed waves do not run again", async () => {
      await cli!.setPlain({ fail: "none" });
      const r = await up();
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
      assert.deepEqual(ran(), [
        "start b0 v3",
        "done b0 v3",
        "registered b0 v3",
        "start c0 v3",
        "done c0 v3",
        "registered c0 v3",
      ]);
    });

    it("destroy runs the waves in reverse", async () => {
      const r = await cli!.pulumi(["destroy", "--yes", "--skip-preview"]);
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
      const deleted = ran().map((l) => l.replace("delete ", ""));
      const at = (vm: string) => deleted.indexOf(vm);
      assert.equal(deleted.length, 5, deleted.join(", "));
      assert.ok(at("c0") < Math.min(at("b0"), at("b1")), `wave 3 first: ${deleted}`);
      assert.ok(Math.max(at("b0"), at("b1")) < Math.min(at("a0"), at("a1")), `wave 1 last: ${deleted}`);
    });
  },
);
