// The istio-sidecar deb the set-up phase builds (scripts/testbed/sidecar-package.sh: Istio's own packaging files
// from the pinned istio module, the pilot-agent of scripts/istio.sh, a stand-in for Envoy). Tests only look it
// up; a missing package fails naming the set-up command.
import { execFile } from "node:child_process";
import { copyFile } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { readRecord } from "./hosts/registry";
import type { TestHost } from "./hosts/types";

const scripts = {
  first: resolve(__dirname, "sidecar-package.sh"),
  // The second version, for the upgrade (sidecar-package-next.sh: the first repacked as <version>+next).
  next: resolve(__dirname, "sidecar-package-next.sh"),
};

/** The cached package file; rejects with the set-up command when it is not built. */
export function sidecarPackagePath(which: keyof typeof scripts = "first"): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    execFile("bash", [scripts[which], "path"], { encoding: "utf8" }, (error, stdout, stderr) => {
      if (error) reject(new Error(stderr.trim() || error.message));
      else resolvePromise(stdout.trim());
    });
  });
}

/** The package's version as dpkg reports it (from the file name istio-sidecar_<version>_<arch>.deb). */
export function sidecarPackageVersion(path: string): string {
  const m = /^istio-sidecar_(.+)_[a-z0-9]+\.deb$/.exec(basename(path));
  if (!m) throw new Error(`${path} is not named istio-sidecar_<version>_<arch>.deb`);
  return m[1]!;
}

/**
 * Puts the package file on a test host (through the host's root on this machine, no SSH) and returns its path
 * on the host — as a user's file already on the VM, or what a copy over SSH leaves there.
 */
export async function placeSidecarPackage(host: TestHost, path: string, dir = "/var/tmp"): Promise<string> {
  const record = readRecord(host.id);
  if (!record) throw new Error(`no record of test host ${host.name}`);
  const inHost = join(dir, basename(path));
  await host.run(`install -d ${dir}`);
  await copyFile(path, join(record.root, inHost));
  return inHost;
}
