// The package runtime's plan: Istio's files in Istio's places with the package's owners and modes, a digest that
// a token renewal does not move (no restart) and a config, version or capture change does, no secret in any
// script, and the istiod hosts line.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  packageRuntimePlan,
  type PackageRuntimeMaterial,
  type PackageRuntimeSettings,
} from "../../../components/runtime/package/plan";

const settings: PackageRuntimeSettings = {
  package: {
    name: "istio-sidecar",
    version: "1.31.2",
    source: { kind: "url", url: "https://example.com/istio-sidecar.deb" },
  },
  capture: "iptables",
  group: {
    name: "ratings",
    namespace: "bookinfo",
    spec: {
      metadata: { labels: { app: "ratings" } },
      template: { ports: { http: 9080 }, serviceAccount: "bookinfo-ratings" },
    },
  },
  configure: { clusterId: "Kubernetes", mesh: { trustDomain: "cluster.local" }, internalIp: "198.51.100.10" },
  discoveryAddress: "istiod.istio-system.svc:15012",
  gatewayAddress: "198.51.100.1",
  readiness: { port: 15020, path: "/healthz/ready", timeoutSeconds: 120 },
};
const material: PackageRuntimeMaterial = {
  token: "eyJ.secret-token.sig",
  rootCertPem: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
};

describe("package runtime plan", () => {
  it("puts Istio's four files in Istio's places, owned by istio-proxy, the token 0600 and secret", () => {
    const plan = packageRuntimePlan(settings, material);
    assert.equal(plan.runtime, "package");
    assert.deepEqual(
      plan.files.map((f) => [f.path, f.owner, f.group, f.mode, f.secret, f.restartsProxy]),
      [
        ["/var/lib/istio/envoy/cluster.env", "istio-proxy", "istio-proxy", "0644", false, true],
        ["/etc/istio/config/mesh", "istio-proxy", "istio-proxy", "0644", false, true],
        ["/etc/certs/root-cert.pem", "istio-proxy", "istio-proxy", "0644", false, true],
        ["/var/run/secrets/tokens/istio-token", "istio-proxy", "istio-proxy", "0600", true, false],
      ],
    );
    assert.equal(plan.files[3]!.content, material.token);
    assert.deepEqual(plan.hostsBlock, { address: "198.51.100.1", hostnames: ["istiod.istio-system.svc"] });
    assert.equal(plan.readiness.url, "http://127.0.0.1:15020/healthz/ready");
  });

  it("keeps the digest on a token renewal, moves it on a config, version or capture change", () => {
    const digest = packageRuntimePlan(settings, material).configDigest;
    assert.equal(
      packageRuntimePlan(settings, { ...material, token: "eyJ.renewed.sig" }).configDigest,
      digest,
    );
    const changed = [
      packageRuntimePlan({ ...settings, package: { ...settings.package, version: "1.31.3" } }, material),
      packageRuntimePlan({ ...settings, capture: "none" }, material),
      packageRuntimePlan(
        { ...settings, configure: { ...settings.configure, internalIp: "198.51.100.11" } },
        material,
      ),
      packageRuntimePlan(settings, {
        ...material,
        rootCertPem: material.rootCertPem.replace("MIIB", "MIIC"),
      }),
    ];
    for (const plan of changed) assert.notEqual(plan.configDigest, digest);
    // The start script carries the digest: a changed config re-runs start, which restarts the unit.
    assert.match(packageRuntimePlan(settings, material).start, new RegExp(digest));
  });

  it("carries no secret in any script", () => {
    const plan = packageRuntimePlan(settings, material);
    for (const script of [plan.prepare.apply, plan.prepare.undo, plan.start, plan.stop]) {
      assert.doesNotMatch(script, /secret-token/);
    }
  });

  it("with capture on, has the kernel track the SSH session before the unit sets Istio's rules, then drops its rule", () => {
    const start = packageRuntimePlan(settings, material).start;
    // Both ways into the unit: a first start and a restart after a config change.
    for (const [from, to] of [
      ["if ! systemctl is-active", "systemctl start istio.service; echo started"],
      ["systemctl stop istio.service", "systemctl start istio.service; echo restarted"],
    ]) {
      const part = start.slice(start.indexOf(from!), start.indexOf(to!));
      const add = part.indexOf("-w -A INPUT -m conntrack --ctstate NEW,ESTABLISHED");
      const packet = part.indexOf("connections tracked before Istio's capture\" >&2");
      const drop = part.indexOf("-w -D INPUT -m conntrack --ctstate NEW,ESTABLISHED");
      assert.ok(add >= 0 && add < packet && packet < drop, `${to}: rule, a packet of the session, rule gone`);
    }
    const off = packageRuntimePlan({ ...settings, capture: "none" }, material).start;
    assert.doesNotMatch(off, /conntrack/, "capture off sets no rule: nothing to keep the session from");
  });

  it("installs from the source given, checking the version the package manager reports", () => {
    const url = packageRuntimePlan(settings, material).prepare.apply;
    assert.match(url, /curl -fsSL --retry 3 -o "\$pkg" https:\/\/example\.com\/istio-sidecar\.deb/);
    assert.match(url, /want=1\.31\.2/);
    const file = packageRuntimePlan(
      {
        ...settings,
        package: { ...settings.package, source: { kind: "file", path: "/opt/istio-sidecar.deb" } },
      },
      material,
    ).prepare.apply;
    assert.match(file, /pkg=\/opt\/istio-sidecar\.deb/);
    const repo = packageRuntimePlan(
      { ...settings, package: { ...settings.package, source: { kind: "repository" } } },
      material,
    ).prepare.apply;
    assert.match(repo, /apt-get install -y -q --allow-downgrades istio-sidecar=1\.31\.2/);
    assert.match(repo, /dnf install -y istio-sidecar-1\.31\.2/);
  });

  it("installs a copied file (localFile) from root's kept copy after checking its sha256; undo removes both", () => {
    const sha = "a".repeat(64);
    const plan = packageRuntimePlan(
      { ...settings, package: { ...settings.package, source: { kind: "copied", sha256: sha } } },
      material,
    );
    const apply = plan.prepare.apply;
    // The copy in the login's home (sudo's invoking user, or root's own) moves into the state directory, root's 0600.
    assert.match(apply, /home=\$\(getent passwd "\$SUDO_USER" \| cut -d: -f6\)/);
    assert.match(apply, /copy="\$home\/"\.mesh-vm-istio-sidecar\.pkg/);
    assert.match(
      apply,
      /install -m 0600 -o root -g root "\$copy" \/var\/lib\/mesh-vm\/istio-sidecar\/package\.pkg; rm -f "\$copy"/,
    );
    // Moved at every run (no copy stays in the home); checked and installed only when the version differs.
    const move = apply.indexOf('install -m 0600 -o root -g root "$copy"');
    const versionCheck = apply.indexOf('if [ "$have" != "$want" ]');
    const shaCheck = apply.indexOf(`echo '${sha}  '"$pkg" | sha256sum -c --status`);
    assert.ok(move > 0 && move < versionCheck && versionCheck < shaCheck, apply);
    assert.match(apply, /pkg=\/var\/lib\/mesh-vm\/istio-sidecar\/package\.pkg/);
    assert.match(apply, /does not have the sha256 of sidecarPackage\.localFile/);
    // Undo: a copy a failed step left in the home, and the kept copy with the state directory.
    assert.match(plan.prepare.undo, /rm -f "\$copy"/);
    assert.match(plan.prepare.undo, /rm -rf \/var\/lib\/mesh-vm\/istio-sidecar/);
    // A new content is a new script: the host step runs again after a new copy.
    const other = packageRuntimePlan(
      { ...settings, package: { ...settings.package, source: { kind: "copied", sha256: "b".repeat(64) } } },
      material,
    );
    assert.notEqual(other.prepare.apply, apply);
  });
});
