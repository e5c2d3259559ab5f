// What a user checks of the proxy's config directory on a VM, whichever delivery wrote it: the four files the
// proxy mounts, owned by the proxy user, with their modes (the token readable by its owner and group only).
import assert from "node:assert/strict";
import type { TestHost } from "./hosts";

/** The files of proxyConfigDir and their modes, as the seeds' runbook leaves them. */
export const PROXY_FILE_MODES = [
  ["sidecar.env", 0o644],
  ["istio-ca.pem", 0o644],
  ["k8s-ca.pem", 0o644],
  ["istio-token", 0o640],
] as const;

/** Every file of `dir` exists, owned by `user` (and its group), with its mode. */
export async function assertProxyFiles(host: TestHost, dir: string, user = "istio-proxy"): Promise<void> {
  for (const [file, mode] of PROXY_FILE_MODES) {
    const st = await host.stat(`${dir}/${file}`);
    assert.deepEqual([st?.owner, st?.group, st?.mode], [user, user, mode], `${dir}/${file}`);
  }
}
