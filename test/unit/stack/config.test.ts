// The root program's stack configuration: a sandbox-like config parses into MeshVm inputs with the secrets
// wrapped; each broken config is refused with the key path, the stack file and a fix, and without the secret.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { parse } from "yaml";
import {
  closestKey,
  parseStackConfig,
  StackConfigError,
  type RawStackConfig,
} from "../../../components/stack/config";
import { seedWorkloadEntryYaml } from "../fixtures/ratings";
import { testPrivateKeyPem } from "../../../scripts/testbed/keys";
import { KUBECONFIG } from "../fixtures/kubeconfig";

const ADMIN_KEY = testPrivateKeyPem();
const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKey";

/** The sandbox's two VMs (same network; segregated with a public address and a private instance IP). */
function sandboxVms(): Record<string, unknown>[] {
  const host = (proxyImage: string) => ({
    hostKey: HOST_KEY,
    prepare: { admin: { user: "root", privateKey: ADMIN_KEY } },
    proxyImage,
  });
  return [
    {
      name: "ratings-vm",
      namespace: "bookinfo",
      address: "198.51.100.10",
      serviceAccount: "bookinfo-ratings",
      labels: { app: "ratings", version: "v3" },
      ports: [{ name: "http", number: 9080 }],
      host: host("localhost/standin-proxy:test"),
    },
    {
      name: "ratings-vm-2",
      namespace: "bookinfo",
      address: "203.0.113.10",
      network: "vm-network",
      serviceAccount: "bookinfo-ratings",
      labels: { app: "ratings", version: 3 }, // `pulumi config set --path` stores 3 as a number
      ports: [{ name: "http", number: "9080", protocol: "HTTP" }],
      sshHost: "192.0.2.10",
      proxyInstanceIp: "10.128.0.2",
      host: host("localhost/standin-proxy:test"),
    },
  ];
}

/** A raw config as the engine hands it to the program: objects as JSON text; secret keys listed. */
function raw(values: Record<string, unknown>, secret: string[] = ["kubeconfig", "vms"]): RawStackConfig {
  return {
    stack: "dev",
    values: Object.fromEntries(
      Object.entries(values).map(([k, v]) => [`mesh-vm:${k}`, typeof v === "string" ? v : JSON.stringify(v)]),
    ),
    secretKeys: new Set(secret.map((k) => `mesh-vm:${k}`)),
    env: {},
  };
}

/** The StackConfigError thrown for `values`. */
function refused(values: Record<string, unknown>, secret?: string[]): StackConfigError {
  try {
    parseStackConfig(raw(values, secret));
  } catch (e) {
    assert.ok(e instanceof StackConfigError, `expected a StackConfigError, got ${String(e)}`);
    return e;
  }
  assert.fail("the configuration was accepted");
}

function assertNamesKey(e: StackConfigError, field: string, problem: RegExp): void {
  assert.match(e.message, /^invalid stack configuration in Pulumi\.dev\.yaml/);
  const hit = e.issues.find((i) => i.field === field);
  assert.ok(hit, `an issue for ${field}; got ${e.issues.map((i) => i.field).join(", ")}`);
  assert.match(hit.problem, problem);
  assert.ok(hit.fix.length > 0, "the issue says how to fix it");
  assert.ok(e.message.includes(`${field}: ${hit.problem}; ${hit.fix}`), e.message);
  assert.ok(!e.message.includes("SECRET"), `no secret in the message: ${e.message}`);
}

function isSecret(o: unknown): Promise<boolean> {
  assert.ok(pulumi.Output.isInstance(o), "an Output");
  return (o as unknown as { isSecret: Promise<boolean> }).isSecret;
}

function valueOf<T>(o: unknown): Promise<T> {
  return (o as { promise(): Promise<T> }).promise();
}

describe("stack configuration: valid", () => {
  it("a sandbox-like config gives MeshVm inputs, with the kubeconfig and private keys as secrets", async () => {
    const cfg = parseStackConfig(
      raw({ kubeconfig: KUBECONFIG, clusterIdentifier: "sandbox", vms: sandboxVms() }),
    );
    assert.equal(cfg.stackFile, "Pulumi.dev.yaml");
    assert.equal(cfg.flavor, "istio");
    assert.equal(cfg.clusterIdentifier, "sandbox");
    assert.equal(await isSecret(cfg.kubeconfig), true);
    assert.equal(await valueOf(cfg.kubeconfig), KUBECONFIG);
    assert.deepEqual(
      cfg.vms.map((v) => [v.key, v.name]),
      [
        ["mesh-vm:vms[0]", "ratings-vm"],
        ["mesh-vm:vms[1]", "ratings-vm-2"],
      ],
    );
    const second = cfg.vms[1]!.args;
    assert.deepEqual(second.labels, { app: "ratings", version: "3" });
    assert.deepEqual(second.ports, [{ name: "http", number: 9080, protocol: "HTTP" }]);
    assert.equal(second.flavor, "istio");
    assert.equal(second.proxyInstanceIp, "10.128.0.2");
    const host = second.host!;
    assert.equal(host.hostKey, HOST_KEY);
    assert.equal(host.proxyImage, "localhost/standin-proxy:test");
    assert.equal(await isSecret(host.prepare!.admin.privateKey), true);
    assert.equal(await valueOf(host.prepare!.admin.privateKey), ADMIN_KEY);
    assert.equal(await isSecret(host.kubeconfig), true);
    assert.equal(await valueOf(host.kubeconfig), KUBECONFIG);
  });

  it("tctl manifests (yaml or file) become VMs, with the stack's flavor and their own host", () => {
    const dir = mkdtempSync(join(tmpdir(), "mesh-vm-config-"));
    writeFileSync(join(dir, "ratings.yaml"), seedWorkloadEntryYaml.replace(/ratings-vm/g, "ratings-file"));
    const cfg = parseStackConfig({
      ...raw({
        flavor: "tsb",
        kubeconfig: KUBECONFIG,
        manifests: [
          {
            yaml: seedWorkloadEntryYaml,
            host: { hostKey: HOST_KEY, agentSocketPath: "/run/a" },
          },
          { file: "ratings.yaml" },
        ],
      }),
      baseDir: dir,
    });
    assert.deepEqual(
      cfg.vms.map((v) => [v.key, v.name, v.args.flavor, v.args.host !== undefined]),
      [
        ["mesh-vm:manifests[0]", "ratings-vm", "tsb", true],
        ["mesh-vm:manifests[1]", "ratings-file", "tsb", false],
      ],
    );
    assert.equal(cfg.vms[0]!.args.proxyInstanceIp, "10.128.0.2");
  });

  it("meshExpansion takes the stack's flavor; the kubeconfig may be a path", async () => {
    const cfg = parseStackConfig(
      raw(
        { flavor: "tsb", kubeconfig: "/etc/kube/config", meshExpansion: { istioNamespace: "istio-system" } },
        [],
      ),
    );
    assert.deepEqual(cfg.meshExpansion, { flavor: "tsb", istioNamespace: "istio-system" });
    assert.equal(await valueOf(cfg.kubeconfig), "/etc/kube/config");
    assert.deepEqual(cfg.vms, []);
  });

  it('Pulumi.yaml\'s defaults ("", false, []) mean unset; meshExpansion: true enables it with defaults', () => {
    const project = parse(readFileSync(join(__dirname, "../../../Pulumi.yaml"), "utf8")) as {
      config: Record<string, { default: unknown }>;
    };
    const defaults = Object.fromEntries(Object.entries(project.config).map(([k, v]) => [k, v.default]));
    assert.deepEqual(Object.keys(defaults).sort(), [
      "clusterIdentifier",
      "flavor",
      "followControlPlane",
      "kubeContext",
      "kubeconfig",
      "manifests",
      "meshExpansion",
      "rollout",
      "vms",
    ]);
    const cfg = parseStackConfig(raw({ ...defaults, vms: sandboxVms(), kubeconfig: KUBECONFIG }));
    assert.equal(cfg.meshExpansion, undefined);
    assert.equal(cfg.kubeContext, undefined);
    assert.equal(cfg.clusterIdentifier, undefined);
    assert.equal(cfg.rollout, undefined);
    assert.equal(cfg.followControlPlane, undefined);
    assert.equal(cfg.vms.length, 2);
    assert.deepEqual(
      parseStackConfig(
        raw({ ...defaults, vms: sandboxVms(), kubeconfig: KUBECONFIG, followControlPlane: true }),
      ).followControlPlane,
      {},
    );
    assert.deepEqual(parseStackConfig(raw({ ...defaults, meshExpansion: true })).meshExpansion, {
      flavor: "istio",
    });
    assertNamesKey(refused(defaults), "mesh-vm:vms", /nothing to onboard/);
  });
});

describe("stack configuration: refused, naming the key and the stack file", () => {
  it("missing address without network", () => {
    const vms = sandboxVms();
    delete vms[0]!["address"];
    const e = refused({ kubeconfig: KUBECONFIG, vms });
    assertNamesKey(e, "mesh-vm:vms[0].address", /address is required unless network is set/);
    // MeshVm's fix, re-addressed to the config key.
    assert.match(e.message, /set mesh-vm:vms\[0\]\.address to the IP pods use/);
    assert.doesNotMatch(e.message, /MeshVmArgs/);
  });

  it("a port out of range", () => {
    const vms = sandboxVms();
    vms[1]!["ports"] = [
      { name: "grpc", number: 9090 },
      { name: "http", number: 70000 },
    ];
    assertNamesKey(
      refused({ kubeconfig: KUBECONFIG, vms }),
      "mesh-vm:vms[1].ports[1].number",
      /70000 is out of range/,
    );
  });

  it("an unknown key, with the likely intended one", () => {
    const vms = sandboxVms();
    vms[0]!["adress"] = vms[0]!["address"];
    delete vms[0]!["address"];
    const e = refused({ kubeconfig: KUBECONFIG, vms });
    assertNamesKey(e, "mesh-vm:vms[0].adress", /unknown key "adress" \(did you mean "address"\?\)/);
  });

  it("unknown keys at every level: top-level, host, and far from any known key", () => {
    const vms = sandboxVms();
    (vms[0]!["host"] as Record<string, unknown>)["hostkey"] = HOST_KEY;
    vms[1]!["color"] = "blue";
    const e = refused({ kubeconfig: KUBECONFIG, vms, vm: [] });
    assertNamesKey(e, "mesh-vm:vm", /unknown key "vm" \(did you mean "vms"\?\)/);
    assertNamesKey(e, "mesh-vm:vms[0].host.hostkey", /did you mean "hostKey"\?/);
    assertNamesKey(e, "mesh-vm:vms[1].color", /^unknown key "color"$/);
    assert.match(e.message, /the keys allowed here are name, namespace, address/);
  });

  it("a wrong type", () => {
    const vms = sandboxVms();
    vms[0]!["labels"] = "ratings";
    vms[1]!["ports"] = { name: "http", number: 9080 };
    const e = refused({ kubeconfig: KUBECONFIG, vms });
    assertNamesKey(e, "mesh-vm:vms[0].labels", /expected a map of keys to values, got a string/);
    assertNamesKey(e, "mesh-vm:vms[1].ports", /expected a list, got a map/);
  });

  it("bad manifest YAML", () => {
    const e = refused({ manifests: [{ yaml: "kind: WorkloadEntry\nmetadata: [unclosed\n" }] });
    assertNamesKey(e, "mesh-vm:manifests[0].yaml", /document 1: is not valid YAML/);
  });

  it("a missing manifest file, and an entry with neither file nor yaml", () => {
    const e = refused({ manifests: [{ file: "nope.yaml" }, {}] });
    assertNamesKey(e, "mesh-vm:manifests[0].file", /cannot read "nope\.yaml": ENOENT/);
    assertNamesKey(e, "mesh-vm:manifests[1]", /needs exactly one of file or yaml/);
  });

  it("an unsupported flavor, and a TSB VM without a version label", () => {
    assertNamesKey(
      refused({ flavor: "linkerd", vms: sandboxVms() }),
      "mesh-vm:flavor",
      /not one of "istio", "tsb"/,
    );
    const vms = sandboxVms();
    vms[0]!["labels"] = { app: "ratings" };
    assertNamesKey(
      refused({ flavor: "tsb", kubeconfig: KUBECONFIG, vms }),
      'mesh-vm:vms[0].labels["version"]',
      /version label is required/,
    );
  });

  it("host rules from MeshVm's host validation, re-addressed", () => {
    const vms = sandboxVms();
    const host = vms[0]!["host"] as Record<string, unknown>;
    delete host["hostKey"];
    host["token"] = { expirationSeconds: 60 };
    const e = refused({ kubeconfig: KUBECONFIG, vms });
    assertNamesKey(e, "mesh-vm:vms[0].host.hostKey", /not pinned/);
    assertNamesKey(e, "mesh-vm:vms[0].host.token.expirationSeconds", /600/);
  });

  it("a private key or kubeconfig contents stored in plain text", () => {
    const e = refused({ kubeconfig: KUBECONFIG, vms: sandboxVms() }, []);
    assertNamesKey(e, "mesh-vm:kubeconfig", /plain text in Pulumi\.dev\.yaml/);
    assertNamesKey(e, "mesh-vm:vms[0].host.prepare.admin.privateKey", /plain text/);
    assert.match(e.message, /pulumi config set --path --secret 'vms\[0\]\.host\.prepare\.admin\.privateKey'/);
  });

  it("hosts without any cluster credentials", () => {
    const e = refused({ vms: sandboxVms() });
    assertNamesKey(e, "mesh-vm:kubeconfig", /bootstrap tokens need cluster credentials/);
  });

  it("a missing name and a duplicate name", () => {
    const vms = sandboxVms();
    delete vms[0]!["name"];
    vms[1]!["name"] = "dup";
    const again = { ...vms[1]!, address: "203.0.113.11" };
    const e = refused({ kubeconfig: KUBECONFIG, vms: [...vms, again] });
    assertNamesKey(e, "mesh-vm:vms[0].name", /name is required/);
    assertNamesKey(e, "mesh-vm:vms[2].name", /also the name of mesh-vm:vms\[1\]/);
  });

  it("an empty configuration says what to set", () => {
    assertNamesKey(refused({}), "mesh-vm:vms", /nothing to onboard/);
  });
});

describe("closestKey", () => {
  it("suggests only near misses", () => {
    assert.equal(closestKey("adress", ["name", "address"]), "address");
    assert.equal(closestKey("serviceaccount", ["serviceAccount", "sshUser"]), "serviceAccount");
    assert.equal(closestKey("color", ["name", "address", "ports"]), undefined);
  });
});
