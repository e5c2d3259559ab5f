// The stack configuration carries the envoy runtime: `mesh-vm:vms[i].host.envoy` reaches MeshVm's host as given,
// and a mistake in it fails preview naming the stack key path and the fix, like every other key.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseStackConfig, StackConfigError, type RawStackConfig } from "../../../components/stack/config";
import { configuredVm, rawStackConfig } from "../helpers/stackVms";

const envoy = {
  gatewayAddress: "192.0.2.10",
  upstreams: [
    {
      host: "reviews.bookinfo.svc.cluster.local",
      port: 9080,
      serviceAccount: "bookinfo-reviews",
      localPort: 9080,
    },
  ],
};

function raw(host: Record<string, unknown>): RawStackConfig {
  return rawStackConfig([
    configuredVm(
      "dev-laptop",
      { namespace: "vms", serviceAccount: "dev-laptop", ports: [{ name: "http", number: 8080 }] },
      host,
    ),
  ]);
}

describe("stack configuration: runtime envoy", () => {
  it("passes vms[i].host.envoy to MeshVm's host", () => {
    const cfg = parseStackConfig(raw({ runtime: "envoy", envoy }));
    const host = cfg.vms[0]!.args.host as unknown as { runtime: string; envoy: unknown };
    assert.equal(host.runtime, "envoy");
    assert.deepEqual(host.envoy, envoy);
  });

  it("refuses a mistake in it naming the stack key and the fix", () => {
    let error: unknown;
    try {
      parseStackConfig(
        raw({
          runtime: "envoy",
          envoy: { ...envoy, upstreams: [{ ...envoy.upstreams[0], localPort: 70000 }] },
        }),
      );
    } catch (e) {
      error = e;
    }
    assert.ok(error instanceof StackConfigError, String(error));
    assert.match(
      error.message,
      /mesh-vm:vms\[0\]\.host\.envoy\.upstreams\[0\]\.localPort: port .* is not a whole number from 1 to 65535; use a port between 1 and 65535/,
    );
  });
});

describe("stack configuration: runtime envoy at boot, and authorize", () => {
  it("passes vms[i].boot.envoy to MeshVm's boot", () => {
    const r = raw({ runtime: "envoy", envoy });
    const vms = JSON.parse(r.values["mesh-vm:vms"]!) as Record<string, unknown>[];
    vms[0]!.boot = { runtime: "envoy", envoy };
    delete vms[0]!.host;
    const cfg = parseStackConfig({ ...r, values: { ...r.values, "mesh-vm:vms": JSON.stringify(vms) } });
    const boot = cfg.vms[0]!.args.boot as unknown as { runtime: string; envoy: unknown };
    assert.equal(boot.runtime, "envoy");
    assert.deepEqual(boot.envoy, envoy);
  });

  it("refuses a wildcard in an upstream's authorize selector, naming the stack key", () => {
    const upstreams = [{ ...envoy.upstreams[0], authorize: { selector: { app: "rev*" } } }];
    assert.throws(
      () => parseStackConfig(raw({ runtime: "envoy", envoy: { ...envoy, upstreams } })),
      (e: unknown) =>
        e instanceof StackConfigError &&
        /mesh-vm:vms\[0\]\.host\.envoy\.upstreams\[0\]\.authorize\.selector\["app"\]: label value "rev\*" has a wildcard/.test(
          e.message,
        ),
    );
  });
});

describe("stack configuration: a certificate handed in", () => {
  it("refuses its private key stored in plain text, naming the key path and the fix", () => {
    const r = raw({
      runtime: "envoy",
      envoy: { ...envoy, certificate: { provided: { certChain: "PEM", privateKey: "KEY" } } },
    });
    assert.throws(
      () => parseStackConfig({ ...r, secretKeys: new Set(["mesh-vm:kubeconfig"]) }),
      (e: unknown) =>
        e instanceof StackConfigError &&
        e.message.includes(
          "mesh-vm:vms[0].host.envoy.certificate.provided.privateKey: a secret stored in plain text",
        ) &&
        !e.message.includes("KEY\n"),
    );
  });
});
