// Boot-time delivery renderers: the cloud-init user data is valid for Debian's real `cloud-init schema`, and
// it and the offline bundle carry exactly the files, owners, modes and steps of the SSH path.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parse } from "yaml";
import {
  BootPlanInputs,
  buildBootPlan,
  renderBundle,
  renderCloudConfig,
  startScript,
  vmConfigFiles,
} from "../../../components/boot/render";
import { writeOfflineBundle } from "../../../components/boot/bundle";
import { PROXY_CONFIG_FILES } from "../../../components/host/configFiles";
import type { ContainerPlan } from "../../../components/runtime/container";
import { writeFileScript } from "../../../components/host/fileScripts";
import { applyHostsBlockScript } from "../../../components/host/hostsBlock";
import { prepareHostScript } from "../../../components/host/prepareHost";
import { containerDigest, proxyArgsOf, proxyImageOf } from "../../../components/host/proxyContainer";
import { runProxyScript } from "../../../components/host/proxyScripts";
import { renderSidecarEnv } from "../../../components/host/sidecarEnv";
import { cloudInitSchema } from "../helpers/cloudInit";

const PEM = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ\n-----END CERTIFICATE-----\n";
const TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOlsiaXN0aW8tY2EiXX0.c2ln";

const base: BootPlanInputs = {
  workload: {
    name: "ratings-vm",
    namespace: "bookinfo",
    serviceAccount: "bookinfo-ratings",
    address: "35.194.38.142",
    proxyInstanceIp: "10.128.0.2",
    network: "vm-us-central1-a",
    labels: { app: "ratings", version: "v3", class: "vm" },
  },
  proxyImageHub: "docker.io/tetrate",
  proxyImageTag: "1.30.3",
  egressHostnames: ["reviews.bookinfo.svc", "details.bookinfo.svc"],
  meshRootCert: PEM,
  kubernetesRootCert: PEM.replace("MIIB", "MIIC"),
  token: TOKEN,
};

/** Variants covering every branch of the renderers (each must stay valid cloud-config). */
const variants: [string, BootPlanInputs][] = [
  ["the seeds' ratings VM", base],
  [
    "gateway, custom user, dir, container, docker group, readiness",
    {
      ...base,
      gatewayAddress: "34.1.2.3",
      sshUser: "mesh",
      dockerGroup: "containers",
      proxyConfigDir: "/opt/mesh/proxy/",
      proxyContainerName: "ratings-proxy",
      readiness: { port: 15021, timeoutSeconds: 300 },
      mesh: { proxyConfig: { proxyMetadata: { ISTIO_META_DNS_CAPTURE: "true" } }, meshId: "m1" },
    },
  ],
  [
    "no egress names, no trailing newline in the roots",
    { ...base, egressHostnames: [], meshRootCert: PEM.trim() },
  ],
  [
    "a value with YAML-significant characters",
    { ...base, workload: { ...base.workload, labels: { app: "a: b #c" } } },
  ],
];

interface CloudConfig {
  users: (string | Record<string, unknown>)[];
  write_files: { path: string; owner: string; permissions: string; defer: boolean; content: string }[];
  runcmd: string[][];
}

describe("boot-time user data (cloud-init)", () => {
  for (const [what, inputs] of variants) {
    it(`is valid cloud-config for cloud-init schema: ${what}`, () => {
      const doc = renderCloudConfig(buildBootPlan(inputs));
      assert.ok(doc.startsWith("#cloud-config\n"));
      const r = cloudInitSchema(doc);
      assert.ok(r.ok, `cloud-init schema rejected the user data:\n${r.output}`);
      assert.match(r.output, /Valid cloud-config/);
    });
  }

  it("the schema check is real: a broken document is rejected", () => {
    const doc = renderCloudConfig(buildBootPlan(base)).replace("defer: true", "defer: sometimes");
    assert.equal(cloudInitSchema(doc).ok, false);
  });

  it("writes the SSH path's files, byte for byte, with its owners and modes, after the user exists", () => {
    const plan = buildBootPlan(base);
    const cc = parse(renderCloudConfig(plan)) as CloudConfig;
    assert.deepEqual(
      cc.write_files.map((f) => [f.path, f.owner, f.permissions, f.defer]),
      PROXY_CONFIG_FILES.map((f) => [`/etc/istio-proxy/${f.name}`, "istio-proxy:istio-proxy", f.mode, true]),
    );
    const byName = Object.fromEntries(cc.write_files.map((f) => [f.path.split("/").pop(), f.content]));
    assert.equal(byName["sidecar.env"], renderSidecarEnv(base.workload, {}));
    assert.equal(byName["istio-ca.pem"], PEM);
    assert.equal(byName["k8s-ca.pem"], base.kubernetesRootCert);
    assert.equal(byName["istio-token"], TOKEN);
    assert.deepEqual(
      PROXY_CONFIG_FILES.map((f) => [f.name, f.mode]),
      [
        ["sidecar.env", "0644"],
        ["istio-ca.pem", "0644"],
        ["k8s-ca.pem", "0644"],
        ["istio-token", "0640"],
      ],
    );
    assert.equal(cc.users[0], "default", "the image's default user is kept");
    assert.deepEqual(cc.users[1], {
      name: "istio-proxy",
      primary_group: "istio-proxy",
      groups: ["docker"],
      shell: "/bin/sh",
      lock_passwd: true,
    });
  });

  it("runs the SSH path's scripts unchanged in one runcmd: prepare, container + readiness as the user, hosts block", () => {
    const plan = buildBootPlan(base);
    const cc = parse(renderCloudConfig(plan)) as CloudConfig;
    assert.equal(cc.runcmd.length, 1);
    const [sh, flag, script] = cc.runcmd[0]!;
    assert.deepEqual([sh, flag], ["sh", "-c"]);
    assert.equal(script, startScript(plan, "in-place"));
    const quoted = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
    const prepare = prepareHostScript({ user: "istio-proxy", configDir: "/etc/istio-proxy" });
    const { container } = plan as ContainerPlan;
    const proxy = runProxyScript(container, plan.configDigest, undefined);
    const hosts = applyHostsBlockScript(plan.hostsBlock!);
    const [p, c, h] = [prepare, proxy, hosts].map((s) => script!.indexOf(quoted(s)));
    assert.ok(p > 0 && c > p && h > c, "prepare, then the container, then the hosts block");
    assert.match(
      script!,
      new RegExp(
        `as_user ${quoted(proxy)
          .slice(0, 20)
          .replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`,
      ),
    );
    assert.ok(!script!.includes(TOKEN), "the token is only in write_files");
    assert.ok(!script!.includes('etc/istio-token"'), "in place: no bundle install step");
  });

  it("the container is the SSH path's: image, arguments, digest over the same contents", () => {
    const plan = buildBootPlan(base) as ContainerPlan;
    assert.equal(plan.container.image, proxyImageOf(base));
    assert.deepEqual(plan.container.args, proxyArgsOf(base.workload, {}, {}));
    assert.equal(plan.container.owner, "bookinfo/ratings-vm");
    assert.equal(
      plan.configDigest,
      containerDigest(plan.container, {
        sidecarEnv: renderSidecarEnv(base.workload, {}),
        meshRootCert: PEM,
        kubernetesRootCert: base.kubernetesRootCert,
      }),
    );
    assert.equal(
      buildBootPlan({ ...base, token: "another" }).configDigest,
      plan.configDigest,
      "the token is not in the digest",
    );
  });

  it("rejects a bad user name and a relative config dir", () => {
    assert.throws(
      () => renderCloudConfig(buildBootPlan({ ...base, sshUser: "Bad User" })),
      /not a user or group name/,
    );
    assert.throws(() => buildBootPlan({ ...base, proxyConfigDir: "etc/istio" }), /absolute directory/);
  });
});

describe("offline bundle (tctl --output-dir)", () => {
  it("holds tctl's files plus the k8s root and a start script, with the SSH path's modes", () => {
    const files = renderBundle(buildBootPlan(base));
    assert.deepEqual(
      files.map((f) => [f.path, f.mode, f.secret]),
      [
        ["etc/sidecar.env", "0644", false],
        ["etc/istio-ca.pem", "0644", false],
        ["etc/k8s-ca.pem", "0644", false],
        ["etc/istio-token", "0640", true],
        ["bin/start-istio-proxy.sh", "0755", false],
      ],
    );
    const script = files.at(-1)!.content;
    assert.ok(!script.includes(TOKEN));
    for (const f of PROXY_CONFIG_FILES) {
      const write = writeFileScript({ path: `/etc/istio-proxy/${f.name}`, mode: f.mode });
      assert.ok(
        script.includes(`'${write.replace(/'/g, `'\\''`)}'`),
        `installs ${f.name} with the SSH write script`,
      );
      assert.ok(script.includes(`< "$bundle/etc/${f.name}"`));
    }
    const r = spawnSync("sh", ["-n", "-c", script]);
    assert.equal(r.status, 0, `start script parses: ${r.stderr}`);
  });

  it("writeOfflineBundle writes every file with its mode, and refuses paths outside the bundle", () => {
    const dir = mkdtempSync(join(tmpdir(), "mesh-vm-bundle-"));
    try {
      const files = renderBundle(buildBootPlan(base));
      writeOfflineBundle(dir, files);
      for (const f of files) {
        assert.equal(readFileSync(join(dir, f.path), "utf8"), f.content);
        assert.equal((statSync(join(dir, f.path)).mode & 0o777).toString(8), f.mode.replace(/^0/, ""));
      }
      assert.throws(
        () => writeOfflineBundle(dir, [{ path: "../x", mode: "0644", content: "" }]),
        /inside the bundle/,
      );
      execFileSync("sh", ["-n", join(dir, "bin/start-istio-proxy.sh")]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the VM-side file list is the bundle's, placed in the config dir", () => {
    const plan = buildBootPlan({ ...base, proxyConfigDir: "/srv/proxy" });
    assert.deepEqual(
      vmConfigFiles(plan).map((f) => f.path),
      PROXY_CONFIG_FILES.map((f) => `/srv/proxy/${f.name}`),
    );
  });
});
