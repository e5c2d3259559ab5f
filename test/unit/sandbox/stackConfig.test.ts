// The sandbox's stack config is what the root program accepts: both VMs with their host half (every VM
// gets its `host`). Secrets (kubeconfig, admin keys) are kept apart from the plain values, so they are
// only ever written encrypted.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { parseStackConfig } from "../../../components/stack/config";
import {
  AGENT_READINESS_PORT,
  readinessUrl,
  sandboxStackConfig,
  sandboxVms,
  STANDIN_PROXY_IMAGE,
  type StackConfig,
} from "../../../scripts/sandbox/stackConfig";
import type { SandboxHost } from "../../../scripts/sandbox/state";
import { testPrivateKeyPem } from "../../../scripts/testbed/keys";
import { KUBECONFIG } from "../fixtures/kubeconfig";

const adminKeys = new Map<string, string>();
const adminKey = (name: string): string => {
  if (!adminKeys.has(name)) adminKeys.set(name, testPrivateKeyPem());
  return adminKeys.get(name)!;
};

const host = (name: string, addresses: Record<string, string>): SandboxHost => ({
  id: name,
  name,
  netns: `mvm-${name}`,
  addresses,
  hostKey: `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI${name.replace(/-/g, "")}`,
  adminUser: "admin",
  sshPort: 22,
});

const hosts = [
  host("ratings-vm", { vm: "198.51.100.10" }),
  host("ratings-vm-2", { vm: "198.51.100.11", second: "203.0.113.10", third: "198.18.0.10" }),
];

function render(keys: Record<string, string> = defaultKeys()): StackConfig {
  return sandboxStackConfig({ vms: sandboxVms(hosts), kubeconfig: KUBECONFIG, adminKeys: keys });
}

function defaultKeys(): Record<string, string> {
  return { "ratings-vm": adminKey("ratings-vm"), "ratings-vm-2": adminKey("ratings-vm-2") };
}

/** The config as the engine hands it to the program: secrets set at their `--path` keys, objects as JSON. */
function asEngineConfig(config: StackConfig) {
  const values = structuredClone(config.plain) as Record<string, unknown>;
  const secretKeys = new Set<string>();
  for (const { key, value } of config.secrets) {
    const [top, ...rest] = key.split(/\.|(?=\[)/);
    secretKeys.add(top!);
    if (rest.length === 0) {
      values[top!] = value;
      continue;
    }
    let node = values[top!] as Record<string | number, unknown>;
    const steps = rest.map((s) => (s.startsWith("[") ? Number(s.slice(1, -1)) : s));
    for (const step of steps.slice(0, -1)) node = node[step] as Record<string | number, unknown>;
    node[steps[steps.length - 1]!] = value;
  }
  return {
    stack: "sandbox",
    values: Object.fromEntries(
      Object.entries(values).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]),
    ),
    secretKeys,
  };
}

describe("the sandbox stack config", () => {
  it("both VMs onboard their hosts as the seeds' ratings example", () => {
    const config = render();
    const parsed = parseStackConfig(asEngineConfig(config));
    assert.deepEqual(
      parsed.vms.map((v) => v.name),
      ["ratings-vm", "ratings-vm-2"],
    );
    const [a, b] = parsed.vms;
    assert.equal(a!.args.address, "198.51.100.10");
    assert.ok(a!.args.host, "ratings-vm has a host half");
    assert.equal(a!.args.host!.proxyImage, STANDIN_PROXY_IMAGE);
    assert.equal(a!.args.host!.hostKey, hosts[0]!.hostKey);
    // Segregated: public address, private proxy instance IP, SSH over the third address.
    assert.equal(b!.args.address, "203.0.113.10");
    assert.equal(b!.args.proxyInstanceIp, "198.51.100.11");
    assert.equal(b!.args.sshHost, "198.18.0.10");
    assert.equal(b!.args.network, "vm-network");
    assert.equal(b!.args.sidecar?.enabled, false, "one Sidecar selects both VMs");
    assert.ok(b!.args.host?.prepare, "ratings-vm-2 is prepared as its admin");
    // Secrets only among the secrets.
    const plain = JSON.stringify(config.plain);
    assert.ok(
      !plain.includes("PRIVATE KEY") && !plain.includes("kube-admin-secret"),
      "no secret in plain config",
    );
    assert.deepEqual(
      config.secrets.map((s) => s.key),
      [
        "mesh-vm:kubeconfig",
        "mesh-vm:vms[0].host.prepare.admin.privateKey",
        "mesh-vm:vms[1].host.prepare.admin.privateKey",
      ],
    );
  });

  it("every VM gets its host: a missing admin key is an error, never a mesh-only VM", () => {
    assert.throws(
      () => render({ "ratings-vm": adminKey("ratings-vm") }),
      /no admin key for host ratings-vm-2/,
    );
    const parsed = parseStackConfig(asEngineConfig(render()));
    for (const vm of parsed.vms) {
      assert.ok(vm.args.host, `${vm.name} has a host`);
      assert.equal(vm.args.host!.prepare?.admin?.user, "admin");
    }
  });
});

describe("the sandbox stack config with istiod (up --istiod)", () => {
  const istiod = {
    address: "198.51.100.1",
    discoveryAddress: "istiod.istio-system.svc:41234",
    agentImage: "localhost/mesh-vm-istio-agent:eed52ebb66ad",
  };
  const sidecarPackage = { file: "/var/tmp/istio-sidecar_1.31dev_amd64.deb", version: "1.31dev" };
  // As `up --istiod` records them: ratings-vm is the systemd host with the package placed on it.
  const istiodHosts = [{ ...hosts[0]!, sidecarPackage }, hosts[1]!];
  const renderIstiod = (): StackConfig =>
    sandboxStackConfig({
      vms: sandboxVms(istiodHosts),
      kubeconfig: KUBECONFIG,
      adminKeys: defaultKeys(),
      istiod,
    });

  it("both VMs run the real agent against istiod, as the root program reads it", () => {
    const parsed = parseStackConfig(asEngineConfig(renderIstiod()));
    assert.equal(parsed.vms.length, 2);
    for (const vm of parsed.vms) {
      const h = vm.args.host!;
      assert.equal(h.gatewayAddress, istiod.address, `${vm.name} reaches istiod at its gateway address`);
      assert.equal(
        (h.mesh as { discoveryAddress?: string } | undefined)?.discoveryAddress,
        istiod.discoveryAddress,
      );
      // Without Envoy nothing serves 15021: the agent's status port.
      assert.deepEqual(h.readiness, { port: AGENT_READINESS_PORT, path: "/healthz/ready" });
      assert.equal(h.hostKey, hosts.find((x) => x.name === vm.name)!.hostKey, "host key still pinned");
      assert.equal(h.prepare?.admin?.user, "admin");
    }
    // The segregated layout is unchanged.
    assert.equal(parsed.vms[1]!.args.proxyInstanceIp, "198.51.100.11");
    assert.equal(parsed.vms[1]!.args.sshHost, "198.18.0.10");
  });

  it("ratings-vm runs Istio's package under systemd (runtime package), ratings-vm-2 the agent image", async () => {
    const parsed = parseStackConfig(asEngineConfig(renderIstiod()));
    const [a, b] = parsed.vms;
    const pkgHost = a!.args.host as unknown as Record<string, unknown>;
    assert.equal(pkgHost.runtime, "package");
    assert.deepEqual(pkgHost.sidecarPackage, { ...sidecarPackage, captureDns: false });
    assert.equal(pkgHost.proxyImage, undefined, "no image: the package runs the agent");
    // istiod's hosts line comes from gatewayAddress alone: no egress names to copy.
    assert.equal(pkgHost.egressHostnames, undefined);
    // Istio's unit runs as root: both steps log in as the admin with its key.
    assert.equal(a!.args.sshUser, "admin");
    const key = pkgHost.privateKey as pulumi.Output<string>;
    assert.ok(pulumi.Output.isInstance(key) && (await pulumi.isSecret(key)), "the admin's key, as a secret");
    const containerHost = b!.args.host as unknown as Record<string, unknown>;
    assert.equal(containerHost.runtime, undefined, "the container runtime (the default)");
    assert.equal(containerHost.proxyImage, istiod.agentImage);
    assert.equal(containerHost.privateKey, undefined, "a key mesh-vm generates for the proxy user");
  });

  it("a package host without istiod is an error: its agent could never become ready", () => {
    assert.throws(
      () =>
        sandboxStackConfig({
          vms: sandboxVms(istiodHosts),
          kubeconfig: KUBECONFIG,
          adminKeys: defaultKeys(),
        }),
      /host ratings-vm runs the package runtime: it needs istiod/,
    );
  });

  it("without istiod nothing of it is set: the stand-in image and its readiness default", () => {
    const parsed = parseStackConfig(asEngineConfig(render()));
    assert.equal(parsed.vms.length, 2);
    for (const vm of parsed.vms) {
      const h = vm.args.host!;
      assert.equal(h.proxyImage, STANDIN_PROXY_IMAGE);
      assert.equal(h.gatewayAddress, undefined);
      assert.equal(h.mesh, undefined);
      assert.equal(h.readiness, undefined);
    }
  });

  it("the package host's login key is one more secret, none of them in the plain values", () => {
    const config = renderIstiod();
    assert.deepEqual(
      config.secrets.map((s) => s.key),
      [
        "mesh-vm:kubeconfig",
        "mesh-vm:vms[0].host.privateKey",
        "mesh-vm:vms[0].host.prepare.admin.privateKey",
        "mesh-vm:vms[1].host.prepare.admin.privateKey",
      ],
    );
    const plain = JSON.stringify(config.plain);
    assert.ok(!plain.includes("PRIVATE KEY") && !plain.includes("kube-admin-secret"));
  });

  it("the readiness URL a user curls: the agent's status port with istiod, 15021 with the stand-in", () => {
    const [a, b] = sandboxVms(hosts);
    assert.equal(readinessUrl(a!, true), "http://198.51.100.10:15020/healthz/ready");
    // ratings-vm-2 answers on its proxy instance IP (the VM network), not its public address.
    assert.equal(readinessUrl(b!, true), "http://198.51.100.11:15020/healthz/ready");
    assert.equal(readinessUrl(a!, false), "http://198.51.100.10:15021/healthz/ready");
  });
});
