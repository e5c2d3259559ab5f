// runtime "package" in the registry: VmProxy's settings rendered into Istio's files (cluster.env from the
// workload, the mesh and the sidecarPackage block), run as root; its settings block checked at preview naming
// the field and the fix, and refused with another runtime.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fieldNames } from "../../../components/rules/issues";
import { renderRuntimePlan, runtimeIssues } from "../../../components/runtime/registry";
import { validateVmProxyArgs } from "../../../components/host/vmProxyValidation";
import { validateVmBootArgs } from "../../../components/boot/vmBootValidation";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const workload = {
  name: "ratings-vm",
  namespace: "bookinfo",
  serviceAccount: "bookinfo-ratings",
  address: "198.51.100.10",
  labels: { app: "ratings", version: "v1" },
};
const material = { token: "TOKEN-SECRET", meshRootCert: "MESH-ROOT", kubernetesRootCert: "K8S" };

describe("runtime package", () => {
  it("renders Istio's files from the workload and mesh, the package from sidecarPackage, run as root", () => {
    const plan = renderRuntimePlan(
      {
        runtime: "package",
        workload,
        mesh: { discoveryAddress: "istiod.istio-system.svc:31012", clusterId: "east" },
        gatewayAddress: "198.51.100.1",
        sidecarPackage: { version: "1.31.2", file: "/opt/istio-sidecar.deb", capture: "none" },
      },
      material,
    );
    assert.equal(plan.runtime, "package");
    assert.equal(plan.runsAs, "root");
    assert.equal(plan.owner, "bookinfo/ratings-vm");
    const env = plan.files.find((f) => f.path === "/var/lib/istio/envoy/cluster.env")!.content;
    for (const line of [
      "ISTIO_SERVICE='ratings.bookinfo'",
      "SERVICE_ACCOUNT='bookinfo-ratings'",
      "ISTIO_META_CLUSTER_ID='east'",
      "ISTIO_SVC_IP='198.51.100.10'",
      "CA_ADDR='istiod.istio-system.svc:31012'",
      "ISTIO_CUSTOM_IP_TABLES='true'",
      "ISTIO_LOCAL_EXCLUDE_PORTS='22,15090,15021,15020'",
    ])
      assert.ok(env.includes(`${line}\n`), line);
    assert.equal(plan.files.find((f) => f.path === "/etc/certs/root-cert.pem")!.content, "MESH-ROOT");
    assert.deepEqual(plan.hostsBlock, {
      owner: "bookinfo/ratings-vm",
      address: "198.51.100.1",
      hostnames: ["istiod.istio-system.svc"],
      // The agent resolves istiod by it: the boot start script writes it before Istio's unit starts.
      beforeStart: true,
    });
    assert.match(plan.prepare.apply, /pkg=\/opt\/istio-sidecar\.deb/);
    assert.equal(plan.readiness?.url, "http://127.0.0.1:15020/healthz/ready");
    assert.match(
      plan.start,
      /curl -s -o \/dev\/null -w '%\{http_code\}' http:\/\/127\.0\.0\.1:15020\/healthz\/ready/,
    );
    for (const script of [plan.prepare.apply, plan.prepare.undo, plan.start, plan.stop])
      assert.doesNotMatch(script, /TOKEN-SECRET/);
  });

  it("checks sidecarPackage at preview: version, exactly one source, URL, sha256, capture", () => {
    const field = fieldNames("VmProxyArgs");
    const issues = (sidecarPackage: unknown) => runtimeIssues({ runtime: "package", sidecarPackage }, field);
    assert.deepEqual(issues({ version: "1.31.2", url: "https://example.com/istio-sidecar.deb" }), []);
    const bad = issues({ version: "", url: "ftp://x", file: "/x.deb", sha256: "abc", capture: "tproxy" });
    const byField = Object.fromEntries(bad.map((i) => [i.field, i]));
    assert.match(byField["VmProxyArgs.sidecarPackage.version"]!.problem, /is not a package version/);
    assert.match(byField["VmProxyArgs.sidecarPackage"]!.problem, /names 2 package sources/);
    assert.match(byField["VmProxyArgs.sidecarPackage"]!.fix, /exactly one of url/);
    assert.ok(byField["VmProxyArgs.sidecarPackage.url"]);
    assert.ok(byField["VmProxyArgs.sidecarPackage.sha256"]);
    assert.match(byField["VmProxyArgs.sidecarPackage.capture"]!.fix, /"iptables" or "none"/);
    assert.match(issues({ version: "1" })[0]!.problem, /names no package source/);
  });

  it("refuses sidecarPackage with the container runtime, naming both fields", () => {
    const issues = validateVmProxyArgs({
      runtime: "container",
      sidecarPackage: { version: "1.31.2", repository: true },
      ssh: { host: "h", hostKey: "ssh-ed25519 AAAA", privateKey: "k" },
      workload,
      kubeconfig: "x",
    });
    const found = issues.find((i) => i.field === "VmProxyArgs.sidecarPackage");
    assert.ok(found, JSON.stringify(issues));
    assert.match(found.problem, /is set but VmProxyArgs.runtime is "container"/);
  });

  it("refuses a login without its own key or agent at preview (the steps run as root, as sshUser)", () => {
    const args = {
      runtime: "package",
      sidecarPackage: { version: "1.31.2", repository: true },
      sshUser: "admin",
      prepare: { admin: { user: "admin", privateKey: "ADMIN-KEY" } },
      workload,
      kubeconfig: "x",
    };
    const issues = validateVmProxyArgs({ ...args, ssh: { host: "h", hostKey: "ssh-ed25519 AAAA" } });
    const found = issues.find((i) => i.field === "VmProxyArgs.ssh.privateKey");
    assert.ok(found, JSON.stringify(issues));
    assert.match(found.problem, /is required with runtime "package"/);
    assert.match(
      found.fix,
      /set VmProxyArgs\.ssh\.privateKey \(or VmProxyArgs\.ssh\.agentSocketPath\) for sshUser/,
    );
    for (const login of [{ privateKey: "K" }, { agentSocketPath: "/run/agent.sock" }]) {
      const ok = validateVmProxyArgs({ ...args, ssh: { host: "h", hostKey: "ssh-ed25519 AAAA", ...login } });
      assert.deepEqual(
        ok.filter((i) => i.field === "VmProxyArgs.ssh.privateKey"),
        [],
        JSON.stringify(login),
      );
    }
  });

  it("checks localFile at preview on this machine: a missing, unreadable or non-file path names the field and the fix", () => {
    const dir = mkdtempSync(join(tmpdir(), "mesh-vm-localfile-"));
    try {
      const deb = join(dir, "istio-sidecar.deb");
      writeFileSync(deb, "a package");
      const field = fieldNames("VmProxyArgs");
      const issues = (sidecarPackage: unknown) =>
        runtimeIssues({ runtime: "package", sidecarPackage }, field);
      assert.deepEqual(issues({ version: "1.31.2", localFile: deb }), []);
      for (const [path, problem] of [
        [join(dir, "missing.deb"), /cannot be read here \(no such file\)/],
        [dir, /is not a file/],
        ["", /is not a path/],
      ] as const) {
        const found = issues({ version: "1.31.2", localFile: path });
        assert.equal(found.length, 1, JSON.stringify(found));
        assert.equal(found[0]!.field, "VmProxyArgs.sidecarPackage.localFile");
        assert.match(found[0]!.problem, problem);
        assert.match(found[0]!.fix, /on the machine that runs Pulumi, readable by it/);
      }
      if (process.getuid?.() !== 0) {
        chmodSync(deb, 0o000);
        assert.match(
          issues({ version: "1.31.2", localFile: deb })[0]!.problem,
          /cannot be read here \(EACCES\)/,
        );
      }
      assert.match(
        issues({ version: "1.31.2", localFile: deb, file: "/var/tmp/x.deb" })[0]!.problem,
        /names 2 package sources/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses localFile with the boot delivery (VmBoot, MeshVm's boot), which opens no SSH session", () => {
    const boot = (sidecarPackage: unknown) =>
      validateVmBootArgs({ runtime: "package", sidecarPackage, workload, kubeconfig: "x" } as never).filter(
        (i) => i.field.startsWith("VmBootArgs.sidecarPackage"),
      );
    const found = boot({ version: "1.31.2", localFile: "/tmp/x.deb" }).find(
      (i) => i.field === "VmBootArgs.sidecarPackage.localFile" && /boot delivery/.test(i.problem),
    );
    assert.ok(found, "named");
    assert.match(found.fix, /give url \(the VM fetches it\) or file/);
    assert.deepEqual(boot({ version: "1.31.2", file: "/tmp/x.deb" }), []);
  });
});
