// A proxy config directory under /tmp or /run (tctl's default /tmp/istio-proxy) is emptied at every boot: the
// proxy then cannot start again and a no-op `up` does not notice. Both deliveries warn at preview, naming the
// directory and the fix; a persistent directory gives no warning.
import { settle } from "../helpers/pulumiMocks";
import assert from "node:assert/strict";
import { describe, it, mock } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { VmBoot, VmProxy } from "../../../components";
import { clearedAtBootProblem } from "../../../components/rules/values";
import { KUBECONFIG } from "../fixtures/kubeconfig";
import { ratingsWorkload } from "../fixtures/ratings";

const WORKLOAD = ratingsWorkload;

/** The warnings logged while `create` runs and its Outputs settle. */
async function warningsOf(create: () => unknown): Promise<string[]> {
  const spy = mock.method(pulumi.log, "warn", () => undefined);
  try {
    create();
    await settle();
    return spy.mock.calls.map((c) => String(c.arguments[0]));
  } finally {
    spy.mock.restore();
  }
}

describe("a proxy config directory emptied at boot", () => {
  it("is recognised under /tmp, /run, /var/run and /dev/shm only", () => {
    for (const dir of ["/tmp/istio-proxy", "/run/istio-proxy", "/var/run/mesh/proxy", "/dev/shm/p"])
      assert.match(clearedAtBootProblem(dir) ?? "", /emptied at every boot.*\/etc\/istio-proxy/);
    for (const dir of ["/etc/istio-proxy", "/var/lib/istio-proxy", "/opt/tmp/istio-proxy", "/tmpfoo/x"])
      assert.equal(clearedAtBootProblem(dir), undefined, dir);
  });

  for (const [dir, warned] of [
    ["/tmp/istio-proxy", true],
    ["/etc/istio-proxy", false],
  ] as const) {
    it(`VmProxy with ${dir}: ${warned ? "warns" : "no warning"}`, async () => {
      const warnings = await warningsOf(
        () =>
          new VmProxy(`reboot-proxy-${warned}`, {
            ssh: { host: "203.0.113.10", hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKey" },
            prepare: { admin: { privateKey: "ADMIN-KEY" } },
            workload: WORKLOAD,
            kubeconfig: KUBECONFIG,
            proxyConfigDir: dir,
          }),
      );
      const mine = warnings.filter((w) => /emptied at every boot/.test(w));
      assert.equal(mine.length, warned ? 1 : 0, JSON.stringify(warnings));
      if (warned) assert.match(mine[0]!, /proxyConfigDir "\/tmp\/istio-proxy" is inside \/tmp/);
    });
    it(`VmBoot with ${dir}: ${warned ? "warns" : "no warning"}`, async () => {
      const warnings = await warningsOf(
        () =>
          new VmBoot(`reboot-boot-${warned}`, {
            workload: WORKLOAD,
            kubeconfig: KUBECONFIG,
            proxyConfigDir: dir,
          }),
      );
      assert.equal(warnings.filter((w) => /emptied at every boot/.test(w)).length, warned ? 1 : 0);
    });
  }
});
