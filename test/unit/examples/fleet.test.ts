// The fleet example composes correctly: one Sidecar and one ServiceEntry for the whole fleet (none per VM),
// both selecting labels every VM's WorkloadEntry carries, the ServiceAccount created once, and the shared
// ServiceEntry registered only after every VM's proxy is ready.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join, resolve } from "node:path";
import { describe, it } from "node:test";

interface Registration {
  type: string;
  name: string;
  inputs: { metadata?: { name?: string }; spec?: Record<string, unknown> };
}

const repoRoot = resolve(__dirname, "../../..");

function register(): Registration[] {
  const r = spawnSync(process.execPath, ["--import", "tsx", join(__dirname, "fleetProgram.ts")], {
    encoding: "utf8",
    timeout: 120_000,
    cwd: repoRoot,
    env: { ...process.env, TSX_TSCONFIG_PATH: join(repoRoot, "examples", "tsconfig.json") },
  });
  assert.equal(r.status, 0, r.stderr);
  const line = r.stdout.split("\n").find((l) => l.startsWith("RESULT "));
  assert.ok(line, r.stdout);
  return JSON.parse(line.slice("RESULT ".length)) as Registration[];
}

function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

describe("examples/fleet VmFleet", () => {
  const registrations = register();
  const ofKind = (kind: string) => registrations.filter((r) => r.type.endsWith(`:${kind}`));

  it("creates one Sidecar, one ServiceEntry and one ServiceAccount for the fleet", () => {
    assert.deepEqual(
      ofKind("Sidecar").map((r) => [r.name, r.inputs.metadata?.name]),
      [["ratings-vms-sidecar", "bookinfo-ratings-no-iptables"]],
    );
    assert.deepEqual(
      ofKind("ServiceEntry").map((r) => [r.name, r.inputs.spec?.["hosts"]]),
      [["ratings-vms-serviceentry", ["ratings-vms.bookinfo.svc.cluster.local"]]],
    );
    assert.equal(ofKind("ServiceAccount").length, 1);
    assert.equal(ofKind("WorkloadEntry").length, 3);
  });

  it("their workloadSelectors match every VM's WorkloadEntry", () => {
    const selectorOf = (kind: string) =>
      (ofKind(kind)[0]!.inputs.spec!["workloadSelector"] as { labels: Record<string, string> }).labels;
    for (const we of ofKind("WorkloadEntry")) {
      const labels = we.inputs.spec!["labels"] as Record<string, string>;
      assert.ok(selects(selectorOf("Sidecar"), labels), `Sidecar selects ${we.name}`);
      assert.ok(selects(selectorOf("ServiceEntry"), labels), `ServiceEntry selects ${we.name}`);
    }
  });

  it("the ServiceEntry is registered after every VM's proxy is ready", () => {
    const at = (name: string) => registrations.findIndex((r) => r.name === name);
    const serviceEntry = at("ratings-vms-serviceentry");
    for (const vm of ["ratings-vm-1", "ratings-vm-2", "ratings-vm-3"]) {
      const gate = at(`${vm}-proxy-registration-gate`);
      assert.ok(gate >= 0, `${vm} has a registration gate`);
      assert.ok(serviceEntry > gate, `the ServiceEntry comes after ${vm}'s proxy is ready`);
    }
  });
});
