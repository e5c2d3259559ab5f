import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parse } from "yaml";
import {
  fleetFailure,
  formatFleetSummary,
  shardOf,
  splitIntoShards,
  stackWorkDir,
  type FleetStackResult,
} from "../../../components/fleet";

describe("shard assignment", () => {
  const vms = Array.from({ length: 200 }, (_, i) => ({ name: `vm-${i}` }));

  it("spreads VMs over every shard", () => {
    const shards = splitIntoShards(vms, 4);
    assert.equal(shards.flat().length, 200);
    for (const s of shards) assert.ok(s.length > 30, `a shard of ${s.length} VMs out of 200 over 4`);
  });

  it("keeps every VM in its shard when the inventory grows or shrinks", () => {
    const before = new Map(vms.map((v) => [v.name, shardOf(v.name, 4)]));
    const grown = [...vms, ...Array.from({ length: 50 }, (_, i) => ({ name: `new-${i}` }))];
    const shrunk = grown.filter((_, i) => i % 3 !== 0);
    for (const list of [grown, shrunk])
      splitIntoShards(list, 4).forEach((shard, k) => {
        for (const vm of shard) if (before.has(vm.name)) assert.equal(before.get(vm.name), k, vm.name);
      });
  });

  it("refuses a shard count that is not a whole number ≥ 1", () => {
    assert.throws(() => shardOf("a", 0), /whole number ≥ 1/);
    assert.throws(() => shardOf("a", 1.5), /whole number ≥ 1/);
  });
});

describe("stackWorkDir", () => {
  it("gives each stack its own directory running the project's own program", () => {
    const root = mkdtempSync(join(tmpdir(), "mesh-vm-shards-"));
    try {
      const project = join(root, "project");
      mkdirSync(project);
      writeFileSync(
        join(project, "Pulumi.yaml"),
        "name: fleet\nruntime: nodejs\nmain: index.ts\nconfig: {}\n",
      );
      const a = stackWorkDir(project, join(root, "work"), "vms-0");
      const b = stackWorkDir(project, join(root, "work"), "vms-1");
      assert.notEqual(a, b);
      for (const dir of [a, b]) {
        const settings = parse(readFileSync(join(dir, "Pulumi.yaml"), "utf8")) as Record<string, unknown>;
        assert.equal(settings.name, "fleet");
        assert.equal(settings.main, "../../project/index.ts");
      }
      assert.throws(() => stackWorkDir(project, join(root, "work"), "../evil"), /may hold only/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe("the run's summary", () => {
  const results: FleetStackResult[] = [
    {
      stackName: "mesh",
      role: "mesh",
      operation: "up",
      status: "succeeded",
      seconds: 3.2,
      changes: { create: 4 },
    },
    {
      stackName: "vms-0",
      role: "shard",
      operation: "up",
      status: "succeeded",
      seconds: 20,
      changes: { create: 9 },
    },
    {
      stackName: "vms-1",
      role: "shard",
      operation: "up",
      status: "failed",
      seconds: 70.5,
      changes: {},
      error: "error: ssh: handshake failed\nmore",
    },
  ];

  it("is one table with a row per stack", () => {
    const table = formatFleetSummary(results).split("\n");
    assert.equal(table.length, 2 + 3);
    assert.match(table[0]!, /\| stack +\| role +\| operation \| result +\| seconds \| create \|/);
    assert.match(
      table[4]!,
      /\| vms-1 +\| shard \| up +\| failed +\| 70\.5 +\| 0 .*error: ssh: handshake failed +\|$/,
    );
  });

  it("names every stack that did not succeed", () => {
    assert.equal(fleetFailure(results.slice(0, 2)), undefined);
    assert.match(
      fleetFailure(results)!.message,
      /^1 of 3 stacks did not succeed: vms-1 \(failed: error: ssh: handshake failed\)$/,
    );
  });
});
