// Debian's real `cloud-init schema` on a user data document: what the boot delivery's unit tests check every
// rendered variant with. A machine without cloud-init fails the test naming the set-up that installs it.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** `cloud-init schema`, or a failure saying how to get it. */
export function cloudInitSchema(document: string): { ok: boolean; output: string } {
  const probe = spawnSync("cloud-init", ["--version"], { encoding: "utf8" });
  if (probe.error) {
    assert.fail(
      "cloud-init is not installed on this machine: the user data is validated with Debian's real " +
        "`cloud-init schema`. Install it: apt-get install --no-install-recommends cloud-init " +
        "(scripts/test.sh does, from MESH_VM_APT_PACKAGES in scripts/lib.sh)",
    );
  }
  const dir = mkdtempSync(join(tmpdir(), "mesh-vm-cloud-config-"));
  try {
    const file = join(dir, "user-data");
    writeFileSync(file, document, { mode: 0o600 });
    const r = spawnSync("cloud-init", ["schema", "--config-file", file], { encoding: "utf8" });
    return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
