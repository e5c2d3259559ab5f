// Test hosts with systemd as init (scripts/testbed/hosts/systemdHost.ts): what the package runtime's tests rely on.
// sshd answers as a systemd unit with its pinned key, the host reaches `running`, units are managed by
// systemctl, a reboot boots the same disk again (enabled units come back, started-only ones do not, /run
// starts empty, a new boot id and a second boot in the journal), iptables works in the host's own network
// namespace only, and destroy leaves nothing on the machine (namespace, mounts, processes, cgroups).
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { createSystemdHosts, leftovers, type SystemdHost } from "../../scripts/testbed/hosts";
import { run } from "../../scripts/testbed/hosts/process";

const UNIT = `[Unit]
Description=mesh-vm test unit %i

[Service]
ExecStart=/bin/sleep infinity

[Install]
WantedBy=multi-user.target
`;

/** Entries at the top of the machine's own cgroup trees (a host's systemd must make its slices in its own). */
function machineCgroupTops(): string[] {
  return readdirSync("/sys/fs/cgroup").flatMap((tree) => {
    try {
      return readdirSync(`/sys/fs/cgroup/${tree}`, { withFileTypes: true })
        .filter((e) => e.isDirectory() && !e.name.startsWith("mesh-vm-host-"))
        .map((e) => `${tree}/${e.name}`);
    } catch {
      return [];
    }
  });
}

/** The machine's own nat rules, without iptables-save's timestamp comments. */
async function machineNatRules(): Promise<string> {
  const out = (await run("iptables-save", ["-t", "nat"], { check: false })).stdout;
  return out.replace(/^#.*\n/gm, "");
}

describe("test hosts with systemd as init", { timeout: 300_000 }, () => {
  let host: SystemdHost;
  let cgroupsBefore: string[];
  let machineNat: string;

  before(async () => {
    cgroupsBefore = machineCgroupTops();
    machineNat = await machineNatRules();
    [host] = await createSystemdHosts([{ name: "sysd-a" }]);
  });

  after(async () => {
    await host?.destroy();
  });

  it("answers SSH with its pinned host key; PID 1 is systemd and sshd runs as its unit", async () => {
    const logins = await host.sshLogins();
    const r = await host.exec("id -un; hostname; sudo -n cat /proc/1/comm");
    assert.equal(r.stdout, "admin\nsysd-a\nsystemd\n");
    assert.equal(await host.sshLogins(), logins + 1);
    assert.equal((await host.systemctl("is-active ssh.service", false)).stdout.trim(), "active");
    // A wrong pin is refused: the host key really is checked.
    const wrong = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKrXcVCbY6kgnNmTK4I3xu4CvCcgU2t3WSyoQ7cmtEdm";
    const refused = await host.exec("true", { hostKey: wrong, check: false });
    assert.notEqual(refused.code, 0);
  });

  it("reaches `running` (no failed unit) and keeps its slices in its own cgroups", async () => {
    const state = await host.run("systemctl is-system-running --wait", { check: false });
    const failed = (await host.systemctl("--failed --no-legend --plain", false)).stdout.trim();
    assert.equal(state.stdout.trim(), "running", `failed units: ${failed}`);
    // ssh.service's cgroup, seen from the machine: inside the host's own cgroup, in both trees.
    const unitGroup = (await host.systemctl("show -P ControlGroup ssh.service")).stdout.trim();
    assert.equal(unitGroup, "/system.slice/ssh.service");
    for (const tree of ["systemd", "unified"]) {
      const pids = (
        await run("cat", [`/sys/fs/cgroup/${tree}/mesh-vm-host-${host.id}${unitGroup}/cgroup.procs`])
      ).stdout;
      assert.ok(pids.trim().length > 0, `sshd in ${tree}'s mesh-vm-host-${host.id}${unitGroup}`);
    }
    assert.deepEqual(machineCgroupTops(), cgroupsBefore, "no new cgroup at the top of the machine's trees");
    assert.equal((await host.readFile("/etc/machine-id")).trim().length, 32);
  });

  it("sets iptables rules in its own network namespace only", async () => {
    await host.run(
      "iptables -t nat -N MESH_VM_PROBE && iptables -t nat -A OUTPUT -p tcp --dport 9 -j MESH_VM_PROBE",
    );
    assert.match(
      (await host.run("iptables-save -t nat")).stdout,
      /-A OUTPUT -p tcp -m tcp --dport 9 -j MESH_VM_PROBE/,
    );
    assert.equal(await machineNatRules(), machineNat);
    await host.run(
      "iptables -t nat -D OUTPUT -p tcp --dport 9 -j MESH_VM_PROBE && iptables -t nat -X MESH_VM_PROBE",
    );
  });

  it("reboots: enabled units come back, started-only ones do not, /run is empty, a new boot in the journal", async () => {
    await host.run(`cat >/etc/systemd/system/mesh-vm-probe@.service <<'EOF'\n${UNIT}EOF`);
    await host.systemctl("daemon-reload");
    await host.systemctl("enable --now mesh-vm-probe@enabled.service");
    await host.systemctl("start mesh-vm-probe@started.service");
    await host.run("touch /run/mesh-vm-marker /var/lib/mesh-vm-marker");
    assert.equal(
      (await host.systemctl("is-active mesh-vm-probe@started.service", false)).stdout.trim(),
      "active",
    );
    const bootBefore = await host.bootId();
    const bootsBefore = host.boots;

    await host.reboot();

    assert.equal(host.boots, bootsBefore + 1);
    assert.notEqual(await host.bootId(), bootBefore);
    assert.equal(
      (await host.exec("sudo -n systemctl is-active mesh-vm-probe@enabled.service")).stdout.trim(),
      "active",
    );
    const started = await host.systemctl("is-active mesh-vm-probe@started.service", false);
    assert.equal(started.stdout.trim(), "inactive");
    assert.equal(await host.exists("/run/mesh-vm-marker"), false);
    assert.equal(await host.exists("/var/lib/mesh-vm-marker"), true);
    const boots = await host.journalBoots();
    assert.ok(
      boots.includes(bootBefore.replace(/-/g, "")),
      `journal boots ${boots.join(",")} include ${bootBefore}`,
    );
    assert.ok(boots.length >= 2, `journal boots: ${boots.join(",")}`);
    assert.equal(
      (await host.run("systemctl is-system-running --wait", { check: false })).stdout.trim(),
      "running",
    );
  });

  it("comes back from a power cut with its enabled units", async () => {
    await host.powerCycle();
    assert.equal(
      (await host.systemctl("is-active mesh-vm-probe@enabled.service", false)).stdout.trim(),
      "active",
    );
    assert.equal((await host.exec("id -un")).stdout, "admin\n");
  });

  it("leaves nothing on the machine once destroyed", async () => {
    const id = host.id;
    await host.destroy();
    const left = await leftovers();
    assert.deepEqual(left, { netns: [], mounts: [], processes: [], cgroups: [] });
    assert.deepEqual(
      readdirSync("/sys/fs/cgroup").filter((tree) => {
        try {
          return readdirSync(`/sys/fs/cgroup/${tree}`).includes(`mesh-vm-host-${id}`);
        } catch {
          return false;
        }
      }),
      [],
    );
    assert.deepEqual(machineCgroupTops(), cgroupsBefore);
  });
});
