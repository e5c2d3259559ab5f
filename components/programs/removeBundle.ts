// Removes VmBoot's offline bundle on destroy, run by local.Command as `node -e <text>` (see ../localProgram.ts):
// the files listed in MESH_VM_BUNDLE_FILES (a JSON list) under MESH_VM_BUNDLE_DIR, then the directories they
// leave empty.
import { rmdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";

const dir = process.env.MESH_VM_BUNDLE_DIR;
if (dir === undefined) throw new Error("MESH_VM_BUNDLE_DIR is not set");
const files = JSON.parse(process.env.MESH_VM_BUNDLE_FILES || "[]") as string[];
const dirs = new Set<string>();
for (const f of files) {
  rmSync(join(dir, f), { force: true });
  for (let d = dirname(f); d !== "."; d = dirname(d)) dirs.add(d);
}
for (const d of [...dirs].sort((a, b) => b.length - a.length).concat(["."])) {
  try {
    rmdirSync(join(dir, d));
  } catch {
    // not empty, or gone
  }
}
