// Writes VmBoot's offline bundle on the machine running Pulumi, run by local.Command as `node -e <text>` (see
// ../localProgram.ts). stdin is `{"dir":…,"files":[{"path","mode","content"}]}` (secret: the token is one of
// them); each file is written to a temp file with its mode, then renamed. Prints the SHA-256 of each file, never
// its content.
import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { BootBundleFile } from "../boot/vmBootArgs";

let text = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (d: string) => {
  text += d;
});
process.stdin.on("end", () => {
  const bundle = JSON.parse(text) as { dir: string; files: BootBundleFile[] };
  const digests: Record<string, string> = {};
  for (const f of bundle.files) {
    const dst = join(bundle.dir, f.path);
    mkdirSync(dirname(dst), { recursive: true, mode: 0o755 });
    const tmp = dst + ".mesh-vm." + process.pid;
    writeFileSync(tmp, f.content, { mode: parseInt(f.mode, 8) });
    chmodSync(tmp, parseInt(f.mode, 8));
    renameSync(tmp, dst);
    digests[f.path] = createHash("sha256").update(f.content).digest("hex");
  }
  process.stdout.write(JSON.stringify(digests));
});
