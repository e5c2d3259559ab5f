// The stack configuration carries the package runtime: `mesh-vm:vms[i].host.sidecarPackage` (and `boot`'s) reaches
// MeshVm's delivery as given, and a mistake in it fails preview naming the stack key path and the fix, like every
// other key.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseStackConfig, StackConfigError, type RawStackConfig } from "../../../components/stack/config";
import { testPrivateKeyPem } from "../../../scripts/testbed/keys";
import { configuredVm, rawStackConfig } from "../helpers/stackVms";

const sidecarPackage = { version: "1.31.2", file: "/var/tmp/istio-sidecar.deb", capture: "none" };

// The package runtime's steps run as root, logged in as sshUser with its own key (here root's test key).
const login = { privateKey: testPrivateKeyPem() };

function raw(host: Record<string, unknown>): RawStackConfig {
  return rawStackConfig([
    configuredVm(
      "payments",
      { namespace: "shop", serviceAccount: "payments-sa", ports: [{ name: "http", number: 8080 }] },
      { ...login, ...host },
    ),
  ]);
}

function errorOf(host: Record<string, unknown>): Error {
  try {
    parseStackConfig(raw(host));
  } catch (e) {
    assert.ok(e instanceof StackConfigError, String(e));
    return e;
  }
  assert.fail("the configuration was accepted");
}

describe("stack configuration: runtime package", () => {
  it("passes vms[i].host.sidecarPackage to MeshVm's host", () => {
    const cfg = parseStackConfig(raw({ runtime: "package", sidecarPackage }));
    const host = cfg.vms[0]!.args.host as unknown as { runtime: string; sidecarPackage: unknown };
    assert.equal(host.runtime, "package");
    assert.deepEqual(host.sidecarPackage, sidecarPackage);
  });

  it("takes `pulumi config set --path` values: a numeric version as its text, repository as a boolean", () => {
    const cfg = parseStackConfig(
      raw({ runtime: "package", sidecarPackage: { version: 1.31, repository: "true", captureDns: "false" } }),
    );
    const host = cfg.vms[0]!.args.host as unknown as { sidecarPackage: Record<string, unknown> };
    assert.deepEqual(host.sidecarPackage, { version: "1.31", repository: true, captureDns: false });
  });

  it("refuses a mistake in it naming the stack key and the fix", () => {
    assert.match(
      errorOf({ runtime: "package", sidecarPackage: { ...sidecarPackage, version: "1.31 beta" } }).message,
      /mesh-vm:vms\[0\]\.host\.sidecarPackage\.version: "1\.31 beta" is not a package version; set it/,
    );
    assert.match(
      errorOf({ runtime: "package", sidecarPackage: { ...sidecarPackage, capture: "tproxy" } }).message,
      /mesh-vm:vms\[0\]\.host\.sidecarPackage\.capture: "tproxy" is not a capture mode; use "iptables" or "none"/,
    );
    assert.match(
      errorOf({ runtime: "package", sidecarPackage: { version: "1.31.2", localFile: "/nonexistent/a.deb" } })
        .message,
      /mesh-vm:vms\[0\]\.host\.sidecarPackage\.localFile: "\/nonexistent\/a\.deb" cannot be read here \(no such file\); give the path of the package file/,
    );
    assert.match(
      errorOf({ runtime: "package", sidecarPackage: { version: "1.31.2" } }).message,
      /mesh-vm:vms\[0\]\.host\.sidecarPackage: names no package source; set exactly one of url/,
    );
  });

  it("refuses the runtime without the login's own key, naming the stack key and the fix", () => {
    assert.match(
      errorOf({ runtime: "package", sidecarPackage, privateKey: undefined }).message,
      /mesh-vm:vms\[0\]\.host\.privateKey: is required with runtime "package" \(its steps run as root, logged in as sshUser\); set mesh-vm:vms\[0\]\.host\.privateKey \(or mesh-vm:vms\[0\]\.host\.agentSocketPath\)/,
    );
  });

  it("refuses an unknown key and a block for another runtime, naming both fields", () => {
    assert.match(
      errorOf({ runtime: "package", sidecarPackage: { ...sidecarPackage, verison: "1" } }).message,
      /mesh-vm:vms\[0\]\.host\.sidecarPackage.*verison/,
    );
    assert.match(
      errorOf({ sidecarPackage }).message,
      /mesh-vm:vms\[0\]\.host\.sidecarPackage: is set but mesh-vm:vms\[0\]\.host\.runtime is "container"/,
    );
  });

  it("carries vms[i].workloadGroup.autoRegister, and refuses it for the envoy runtime naming the key", () => {
    const auto = (host: Record<string, unknown>) =>
      rawStackConfig([
        configuredVm("payments", { workloadGroup: { autoRegister: "true" } }, { ...login, ...host }),
      ]);
    const cfg = parseStackConfig(auto({ runtime: "package", sidecarPackage }));
    assert.deepEqual(cfg.vms[0]!.args.workloadGroup, { autoRegister: true });
    assert.throws(
      () => parseStackConfig(auto({ runtime: "envoy", envoy: { upstreams: [] } })),
      (e: unknown) =>
        e instanceof StackConfigError &&
        /mesh-vm:vms\[0\]\.workloadGroup\.autoRegister: auto-registration needs Istio's agent connected to istiod, which mesh-vm:vms\[0\]\.host\.runtime "envoy" does not run/.test(
          e.message,
        ),
    );
  });
});
