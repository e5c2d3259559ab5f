// tctl's offline bundle (`tctl x sidecar-bootstrap --output-dir`) on local disk: the function behind
// VmBoot's `bundleDir`, for programs that move the files with another transport (image pipeline, config
// management, a USB stick). Layout: etc/sidecar.env, etc/istio-ca.pem, etc/k8s-ca.pem, etc/istio-token
// (0640), bin/start-istio-proxy.sh (0755; run it as root on the VM).
import { chmodSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { excerpt } from "../rules/values";

/** Writes the bundle's files (from `VmBoot.bundle` / `renderBundle`) under `dir`, each atomically with its mode. */
export function writeOfflineBundle(
  dir: string,
  files: { path: string; mode: string; content: string }[],
): string[] {
  const written: string[] = [];
  for (const f of files) {
    if (f.path.startsWith("/") || f.path.split("/").includes("..")) {
      throw new Error(`bundle path must be relative and inside the bundle: ${excerpt(f.path)}`);
    }
    const dst = join(dir, f.path);
    mkdirSync(dirname(dst), { recursive: true, mode: 0o755 });
    const tmp = `${dst}.mesh-vm.${process.pid}`;
    const mode = parseInt(f.mode, 8);
    writeFileSync(tmp, f.content, { mode });
    chmodSync(tmp, mode);
    renameSync(tmp, dst);
    written.push(dst);
  }
  return written;
}
