// The root program with a VM of runtime "envoy" at boot (a developer's laptop): its offline bundle is the secret
// stack output `bundles` (VM name → files), with bin/start-envoy.sh and the issued certificate; a VM without
// `boot` adds no such output.
import { settle, valueOf, WORKLOAD_CERT } from "../helpers/pulumiMocks";
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { onboardFromConfig } from "../../../components/stack/program";
import { KUBECONFIG } from "../fixtures/kubeconfig";

const laptop = {
  name: "dev-laptop",
  namespace: "vms",
  address: "198.51.100.20",
  serviceAccount: "dev-laptop",
  labels: { app: "dev-laptop" },
  sidecar: { enabled: false },
  serviceEntry: { enabled: false },
  boot: {
    runtime: "envoy",
    envoy: {
      gatewayAddress: "192.0.2.10",
      upstreams: [
        {
          host: "reviews.bookinfo.svc.cluster.local",
          port: 9080,
          serviceAccount: "bookinfo-reviews",
          localPort: 9080,
        },
      ],
    },
  },
};

function setConfig(vms: unknown[]): void {
  pulumi.runtime.setAllConfig({ "mesh-vm:kubeconfig": KUBECONFIG, "mesh-vm:vms": JSON.stringify(vms) }, [
    "mesh-vm:kubeconfig",
  ]);
}

describe("onboardFromConfig: the laptop's bundle", () => {
  it("is the secret stack output bundles, with the start script and the issued certificate", async () => {
    setConfig([laptop]);
    const out = onboardFromConfig();
    assert.ok(out.bundles);
    const bundles = await valueOf(out.bundles);
    await settle();
    assert.equal(await pulumi.isSecret(out.bundles), true);
    const files = bundles["dev-laptop"]!;
    assert.deepEqual(
      files.map((f) => f.path),
      [
        "etc/envoy.yaml",
        "etc/workload-certificate.yaml",
        "etc/root-ca.yaml",
        "etc/cert-chain.pem",
        "etc/key.pem",
        "etc/root-cert.pem",
        "bin/start-envoy.sh",
      ],
    );
    assert.equal(files.find((f) => f.path === "etc/cert-chain.pem")!.content, WORKLOAD_CERT);
    assert.match(files.find((f) => f.path === "bin/start-envoy.sh")!.content, /mesh-envoy/);
  });

  it("is absent without a boot VM", () => {
    const { boot: _boot, ...rest } = laptop;
    void _boot;
    setConfig([{ ...rest, name: "no-boot" }]);
    assert.equal(onboardFromConfig().bundles, undefined);
  });
});

describe("onboardFromConfig: the summary of an envoy VM", () => {
  it("has no WorkloadEntry, and admits from the mesh only its inbound port (or none)", async () => {
    const { sidecar: _s, serviceEntry: _e, ...bare } = laptop;
    void _s;
    void _e;
    const inbound = {
      ...bare,
      name: "dev-inbound",
      ports: [{ name: "http", number: 8080 }],
      boot: { ...laptop.boot, envoy: { ...laptop.boot.envoy, inbound: { port: 15006, targetPort: 8080 } } },
    };
    setConfig([bare, inbound]);
    const vms = await valueOf(onboardFromConfig().vms);
    await settle();
    assert.equal(vms["dev-laptop"]!.workloadEntry, null);
    assert.deepEqual(vms["dev-laptop"]!.inboundPorts, []);
    assert.equal(vms["dev-inbound"]!.workloadEntry, null);
    assert.deepEqual(vms["dev-inbound"]!.inboundPorts, [15006]);
  });
});
