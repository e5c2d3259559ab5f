// Rolling upgrades, the pure half and the stack configuration: VMs split into waves of at most maxUnavailable in
// the order given; a bad `mesh-vm:rollout` is refused at preview naming the key and the fix, with nothing
// registered; `RolloutArgs` given by a program is refused the same way by declareInWaves.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fieldNames, MeshVmValidationError } from "../../../components/rules/issues";
import { declareInWaves } from "../../../components/rollout/declare";
import { describeWave, rolloutIssues, rolloutWaves } from "../../../components/rollout/waves";
import { parseStackConfig, StackConfigError } from "../../../components/stack/config";
import { KUBECONFIG } from "../fixtures/kubeconfig";

const vm = (i: number) => ({
  name: `vm-${i}`,
  namespace: "bookinfo",
  address: `198.51.100.${10 + i}`,
  serviceAccount: "bookinfo-ratings",
  labels: { app: "ratings" },
  ports: [{ name: "http", number: 9080 }],
});

function parse(values: Record<string, unknown>) {
  return parseStackConfig({
    stack: "dev",
    values: Object.fromEntries(
      Object.entries(values).map(([k, v]) => [`mesh-vm:${k}`, typeof v === "string" ? v : JSON.stringify(v)]),
    ),
    secretKeys: new Set(["mesh-vm:kubeconfig"]),
  });
}

function refusal(values: Record<string, unknown>): StackConfigError {
  try {
    parse(values);
  } catch (e) {
    assert.ok(e instanceof StackConfigError, String(e));
    return e;
  }
  assert.fail("accepted");
}

describe("rolloutWaves", () => {
  it("splits in the order given, at most maxUnavailable per wave, the last wave the rest", () => {
    const ten = Array.from({ length: 10 }, (_, i) => `vm-${i}`);
    assert.deepEqual(rolloutWaves(ten, 3), [
      ["vm-0", "vm-1", "vm-2"],
      ["vm-3", "vm-4", "vm-5"],
      ["vm-6", "vm-7", "vm-8"],
      ["vm-9"],
    ]);
    assert.deepEqual(rolloutWaves(ten, 1).length, 10);
    assert.deepEqual(rolloutWaves(ten, 10), [ten]);
    assert.deepEqual(rolloutWaves(ten, 50), [ten], "more than the VMs: one wave");
    assert.deepEqual(rolloutWaves([], 3), []);
  });

  it("is stable: a VM added at the end moves no other VM to another wave", () => {
    const before = rolloutWaves(["a", "b", "c", "d"], 2);
    const after = rolloutWaves(["a", "b", "c", "d", "e"], 2);
    assert.deepEqual(after.slice(0, before.length), before);
  });

  it("refuses a maxUnavailable that is not a whole number from 1", () => {
    for (const bad of [0, -1, 1.5, Number.NaN, Infinity, 1e21, "3", null]) {
      assert.throws(() => rolloutWaves(["a"], bad as number), /^Error: maxUnavailable: /);
    }
  });

  it("describes each wave with its VMs and what it waits for", () => {
    assert.equal(
      describeWave(["vm-3", "vm-4", "vm-5"], 2, 4, 3),
      "rollout wave 2 of 4 (maxUnavailable 3, after wave 1 is ready and registered): vm-3, vm-4, vm-5",
    );
    assert.match(describeWave(["vm-0"], 1, 4, 3), /^rollout wave 1 of 4 \(maxUnavailable 3, first\): vm-0$/);
  });
});

describe("rolloutIssues", () => {
  const field = fieldNames("mesh-vm:rollout");
  it("accepts { maxUnavailable: N }", () => {
    assert.deepEqual(rolloutIssues({ maxUnavailable: 3 }, field), []);
  });
  it("names the field and the fix for a missing, zero, fractional or unknown key", () => {
    const cases: [unknown, string, RegExp][] = [
      [{}, "mesh-vm:rollout.maxUnavailable", /maxUnavailable is required/],
      [{ maxUnavailable: 0 }, "mesh-vm:rollout.maxUnavailable", /0 is not a whole number from 1 to 10000/],
      [{ maxUnavailable: 2.5 }, "mesh-vm:rollout.maxUnavailable", /2\.5 is not a whole number/],
      [{ maxUnavailable: 3, maxSurge: 1 }, "mesh-vm:rollout.maxSurge", /unknown key "maxSurge"/],
      [3, "mesh-vm:rollout", /3 is not a map/],
    ];
    for (const [value, name, problem] of cases) {
      const issues = rolloutIssues(value, field);
      assert.equal(issues.length, 1, JSON.stringify(value));
      assert.equal(issues[0]!.field, name);
      assert.match(issues[0]!.problem, problem);
      assert.ok(issues[0]!.fix.length > 0);
    }
  });
});

describe("mesh-vm:rollout in the stack configuration", () => {
  it("is parsed (a number set with `config set --path` as text too); false means every VM at once", () => {
    const vms = [vm(0), vm(1)];
    assert.deepEqual(parse({ kubeconfig: KUBECONFIG, vms, rollout: { maxUnavailable: 3 } }).rollout, {
      maxUnavailable: 3,
    });
    assert.deepEqual(parse({ kubeconfig: KUBECONFIG, vms, rollout: { maxUnavailable: "2" } }).rollout, {
      maxUnavailable: 2,
    });
    assert.equal(parse({ kubeconfig: KUBECONFIG, vms, rollout: false }).rollout, undefined);
  });

  it("a bad maxUnavailable is refused naming mesh-vm:rollout.maxUnavailable, the stack file and the fix", () => {
    const e = refusal({ kubeconfig: KUBECONFIG, vms: [vm(0)], rollout: { maxUnavailable: 0 } });
    assert.match(e.message, /^invalid stack configuration in Pulumi\.dev\.yaml \(1 problem\)/);
    assert.match(
      e.message,
      /mesh-vm:rollout\.maxUnavailable: 0 is not a whole number from 1 to 10000; set it to the most VMs whose proxies may be upgraded at once/,
    );
  });

  it("a misspelt key and a missing maxUnavailable are refused by the schema, naming the key", () => {
    const typo = refusal({ kubeconfig: KUBECONFIG, vms: [vm(0)], rollout: { maxUnavailble: 2 } });
    assert.match(typo.message, /mesh-vm:rollout\.maxUnavailble: unknown key "maxUnavailble"/);
    assert.match(typo.message, /mesh-vm:rollout\.maxUnavailable/);
  });
});

describe("declareInWaves (a program's own MeshVms)", () => {
  it("refuses a bad rollout before declaring anything, naming RolloutArgs.maxUnavailable", () => {
    let declared = 0;
    assert.throws(
      () =>
        declareInWaves(
          ["a", "b"],
          { maxUnavailable: 0 },
          () => {
            declared++;
            throw new Error("not reached");
          },
          { nameOf: (x) => x },
        ),
      (e: unknown) =>
        e instanceof MeshVmValidationError &&
        e.message.includes("RolloutArgs.maxUnavailable: 0 is not a whole number from 1 to 10000"),
    );
    assert.equal(declared, 0);
  });
});
