// The package runtime's cloud-init user data: valid for Debian's real `cloud-init schema`; the package is
// installed once per instance (bootcmd) before Istio's four files are written, so the account and the
// /etc/istio link are the package's own (postinst.sh), and cloud-init creates no account for it; runcmd starts
// Istio's unit. End to end: test/e2e/packageBoot.test.ts.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { buildBootPlan, renderCloudConfig, type BootPlanInputs } from "../../../components/boot/render";
import { packageFileSpec } from "../../../components/runtime/package/layout";
import { cloudInitSchema } from "../helpers/cloudInit";

const TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOlsiaXN0aW8tY2EiXX0.c2ln";

const inputs: BootPlanInputs = {
  runtime: "package",
  workload: {
    name: "orders",
    namespace: "shop",
    serviceAccount: "orders-sa",
    address: "198.51.100.10",
    labels: { app: "orders" },
  },
  sidecarPackage: {
    version: "1.31.2",
    url: "https://storage.example.com/istio-sidecar.deb",
    sha256: "a".repeat(64),
  },
  gatewayAddress: "198.51.100.1",
  meshRootCert: "MESH-ROOT\n",
  kubernetesRootCert: "K8S-ROOT\n",
  token: TOKEN,
};

interface CloudConfig {
  bootcmd: string[][];
  users: unknown[];
  write_files: { path: string; owner: string; permissions: string; defer: boolean; content: string }[];
  runcmd: string[][];
}

describe("boot delivery of the package runtime (cloud-init user data)", () => {
  const plan = buildBootPlan(inputs);
  const userData = renderCloudConfig(plan);
  const cc = parse(userData) as CloudConfig;

  it("is valid cloud-config", () => {
    const r = cloudInitSchema(userData);
    assert.ok(r.ok, r.output);
  });

  it("installs the package once per instance before the files, and lets it make its own account", () => {
    assert.deepEqual(cc.bootcmd, [
      ["cloud-init-per", "instance", "mesh-vm-prepare", "sh", "-c", plan.prepare.apply],
    ]);
    assert.match(plan.prepare.apply, /istio-sidecar/);
    assert.deepEqual(cc.users, ["default"], "no account made by cloud-init: the package's postinst makes it");
    assert.doesNotMatch(JSON.stringify(cc.bootcmd), new RegExp(TOKEN), "no secret in bootcmd");
  });

  it("writes Istio's four files with the package's owner and modes, then starts Istio's unit", () => {
    const files = (["clusterEnv", "meshConfig", "rootCert", "token"] as const).map((w) => packageFileSpec(w));
    assert.deepEqual(
      cc.write_files.map((f) => [f.path, f.owner, f.permissions, f.defer]),
      files.map((f) => [f.path, `${f.owner}:${f.group}`, f.mode, true]),
    );
    assert.equal(cc.write_files.find((f) => f.path === packageFileSpec("token").path)?.content, TOKEN);
    assert.equal(cc.runcmd.length, 1);
    const script = cc.runcmd[0]![2]!;
    assert.match(script, /istio\.service/);
    // istiod's hosts line before Istio's unit starts: the agent resolves istiod by that name.
    const hostsAt = script.indexOf("198.51.100.1 istiod.istio-system.svc");
    assert.ok(hostsAt > 0, "the hosts line for istiod");
    assert.ok(hostsAt < script.indexOf("mesh-vm: installing istio-sidecar"), "written before the start");
    assert.doesNotMatch(script, new RegExp(TOKEN), "no secret in runcmd");
  });
});
