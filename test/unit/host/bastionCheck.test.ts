// The bastion's host key check (host/bastionCheck.ts) as MeshVm wires it: one local step per VM behind a pinned
// bastion, fed only public values in its environment, that every remote step's connection waits for; none without a
// bastion or with host key checking off. (The check itself runs against real sshds in test/e2e/bastion.test.ts.)
import { registrations } from "../helpers/pulumiMocks";
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MeshVm } from "../../../components";
import type { MeshVmHostArgs } from "../../../components";
import { localProgram } from "../../../components/localProgram";
import { ratingsVmArgs } from "../fixtures/ratings";
import { KUBECONFIG } from "../fixtures/kubeconfig";

const BASTION_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBastionKey";
const host: MeshVmHostArgs = {
  hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKey",
  prepare: { admin: { user: "admin", privateKey: "ADMIN-PRIVATE-KEY-SECRET" } },
  kubeconfig: KUBECONFIG,
  perDialTimeout: 7,
};

async function settled(vm: MeshVm): Promise<void> {
  await (vm.proxy as unknown as { promise(): Promise<unknown> }).promise();
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

const of = (prefix: string) => registrations.filter((r) => r.name.startsWith(`${prefix}-`));

describe("the bastion host key check", () => {
  it("behind a pinned bastion: one check with public values only, and every remote step's connection after it", async () => {
    const vm = new MeshVm("behind", {
      ...ratingsVmArgs,
      sshHost: "198.51.100.7",
      host: {
        ...host,
        bastion: {
          host: "203.0.113.5",
          port: 2222,
          user: "jump",
          hostKey: BASTION_KEY,
          privateKey: "BASTION-KEY-SECRET",
        },
      },
    });
    await settled(vm);
    const checks = of("behind").filter(
      (r) => r.type === "command:local:Command" && r.name.endsWith("-bastion-host-key"),
    );
    assert.equal(checks.length, 1);
    const check = checks[0]!;
    assert.equal(check.name, "behind-proxy-bastion-host-key");
    assert.deepEqual(check.inputs["interpreter"], ["node", "-e"]);
    assert.equal(
      check.inputs["create"],
      localProgram("bastionHostKeyCheck"),
      "a fixed program: never a diff",
    );
    assert.deepEqual(check.inputs["environment"], {
      MESH_VM_BASTION_HOST: "203.0.113.5",
      MESH_VM_BASTION_PORT: "2222",
      MESH_VM_BASTION_HOST_KEY: BASTION_KEY,
      MESH_VM_DIAL_TIMEOUT: "7",
    });
    assert.ok(!JSON.stringify(check.inputs).includes("SECRET"), "no private key reaches the check");
    const remote = of("behind").filter((r) => r.type === "command:remote:Command");
    // The two remote steps: the host step and the proxy step.
    assert.equal(remote.length, 2, `remote steps: ${remote.map((r) => r.name).join(", ")}`);
    for (const r of remote) {
      const c = r.inputs["connection"] as { host: string; proxy: { host: string; hostKey: string } };
      assert.equal(c.host, "198.51.100.7", `${r.name}: the VM's address, unchanged`);
      assert.equal(c.proxy.host, "203.0.113.5");
      assert.equal(c.proxy.hostKey, BASTION_KEY);
      assert.ok(
        registrations.indexOf(check) < registrations.indexOf(r),
        `${r.name} registered after the check`,
      );
    }
  });

  it("no check without a bastion, nor with host key checking off (nothing is pinned to check)", async () => {
    const direct = new MeshVm("direct", { ...ratingsVmArgs, sshHost: "198.51.100.8", host });
    const insecure = new MeshVm("insecure", {
      ...ratingsVmArgs,
      sshHost: "198.51.100.9",
      host: {
        ...host,
        hostKey: undefined,
        insecureIgnoreHostKey: true,
        bastion: { host: "203.0.113.5", privateKey: "K" },
      },
    });
    await settled(direct);
    await settled(insecure);
    for (const name of ["direct", "insecure"])
      assert.deepEqual(
        of(name).filter((r) => r.name.endsWith("-bastion-host-key")),
        [],
        `${name}: no check`,
      );
  });

  it("the check's program parses as JavaScript", () => {
    assert.doesNotThrow(() => new Function(localProgram("bastionHostKeyCheck")));
  });
});
