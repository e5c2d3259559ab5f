// One name per concept (README, Reference, "Names"): every renamed input still works under its old name, with the
// same resources and outputs as under the new one, warns once naming the new name, and is refused at preview
// when set beside the new name to a different value, with a message naming both fields.
import { registrations, settle, valueOf } from "./helpers/pulumiMocks";
import assert from "node:assert/strict";
import { describe, it, mock } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import {
  buildBootPlan,
  MeshVm,
  MeshVmValidationError,
  parseStackConfig,
  StackConfigError,
  VmBoot,
  VmProxy,
} from "../../components";
import type {
  BootPlanInputs,
  MeshVmHostArgs,
  RawStackConfig,
  VmBootArgs,
  VmProxyArgs,
} from "../../components";
import { ratingsVmArgs, ratingsWorkload } from "./fixtures/ratings";
import { KUBECONFIG } from "./fixtures/kubeconfig";

const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKey";
const WORKLOAD = ratingsWorkload;

/** The messages pulumi.log.warn received while `create` ran (the components warn as they are constructed). */
function warningsOf(create: () => unknown): string[] {
  const spy = mock.method(pulumi.log, "warn", () => undefined);
  try {
    create();
    return spy.mock.calls.map((c) => String(c.arguments[0]));
  } finally {
    spy.mock.restore();
  }
}

/** What the engine received for the resources of component `name`: types and inputs, by name below it. */
async function resourcesOf(name: string): Promise<Record<string, unknown>> {
  await settle();
  const mine = registrations.filter((r) => r.name.startsWith(`${name}-`));
  assert.ok(mine.length > 0, `${name} registered resources`);
  return Object.fromEntries(mine.map((r) => [`${r.type} ${r.name.slice(name.length)}`, r.inputs]));
}

/** The MeshVmValidationError `create` throws; fails when it does not throw one. */
function refusal(create: () => unknown): MeshVmValidationError {
  try {
    create();
  } catch (e) {
    assert.ok(e instanceof MeshVmValidationError, `a MeshVmValidationError, got ${String(e)}`);
    return e;
  }
  assert.fail("accepted");
}

// ---- VmProxy --------------------------------------------------------------------------------------------------

function proxyArgs(extra: Partial<VmProxyArgs>): VmProxyArgs {
  return {
    ssh: { host: "203.0.113.10", hostKey: HOST_KEY },
    prepare: { admin: { privateKey: "ADMIN-KEY" } },
    workload: WORKLOAD,
    kubeconfig: KUBECONFIG,
    ...extra,
  };
}

const vmProxyRenames: { old: Partial<VmProxyArgs>; current: Partial<VmProxyArgs>; warning: string }[] = [
  {
    old: { proxyUser: "mesh" },
    current: { sshUser: "mesh" },
    warning: "proxyUser is deprecated: use sshUser",
  },
  {
    old: { image: { hub: "docker.io/tetrate", imageName: "proxyv2-fips", tag: "1.8.6" } },
    current: { proxyImageHub: "docker.io/tetrate", proxyImageName: "proxyv2-fips", proxyImageTag: "1.8.6" },
    warning: "image is deprecated: use proxyImage, proxyImageHub, proxyImageName and proxyImageTag",
  },
  {
    old: { image: pulumi.output({ image: "registry.local/proxy:1" }) },
    current: { proxyImage: "registry.local/proxy:1" },
    warning: "image is deprecated: use proxyImage, proxyImageHub, proxyImageName and proxyImageTag",
  },
  {
    old: { egressHosts: ["reviews.bookinfo.svc"] },
    current: { egressHostnames: ["reviews.bookinfo.svc"] },
    warning: "egressHosts is deprecated: use egressHostnames",
  },
];

describe("VmProxy: old input names", () => {
  for (const [i, r] of vmProxyRenames.entries()) {
    const oldName = Object.keys(r.old)[0]!;
    it(`${oldName} works as ${Object.keys(r.current).join(", ")}: same resources and outputs, one warning`, async () => {
      let old: VmProxy | undefined;
      let current: VmProxy | undefined;
      const oldWarnings = warningsOf(() => (old = new VmProxy(`alias-old-${i}`, proxyArgs(r.old))));
      const currentWarnings = warningsOf(
        () => (current = new VmProxy(`alias-new-${i}`, proxyArgs(r.current))),
      );
      assert.deepEqual(oldWarnings, [r.warning]);
      assert.deepEqual(currentWarnings, []);
      for (const output of ["proxyImage", "dockerRunCommand", "hostsBlock", "sshIdentity"] as const) {
        assert.deepEqual(
          await valueOf<unknown>(old![output]),
          await valueOf<unknown>(current![output]),
          output,
        );
      }
      assert.deepEqual(await resourcesOf(`alias-old-${i}`), await resourcesOf(`alias-new-${i}`));
    });
  }

  it("the old and the new name with different values: refused, naming both", () => {
    for (const [extra, old, current] of [
      [{ proxyUser: "a", sshUser: "b" }, "proxyUser", "sshUser"],
      [{ image: { tag: "1.8.6" }, proxyImageTag: "1.8.7" }, "image.tag", "proxyImageTag"],
      [{ egressHosts: ["a.svc"], egressHostnames: ["b.svc"] }, "egressHosts", "egressHostnames"],
    ] as [Partial<VmProxyArgs>, string, string][]) {
      const e = refusal(() => new VmProxy("alias-conflict", proxyArgs(extra)));
      assert.deepEqual(
        e.issues.map((x) => x.field),
        [`VmProxyArgs.${old}`],
      );
      assert.match(
        e.message,
        new RegExp(
          `VmProxyArgs\\.${old.replace(".", "\\.")} and VmProxyArgs\\.${current} are both set to different values`,
        ),
      );
      assert.match(e.message, new RegExp(`set only VmProxyArgs\\.${current}`));
    }
  });

  it("the same value under both names is accepted (and warns)", () => {
    const warnings = warningsOf(
      () => new VmProxy("alias-same", proxyArgs({ proxyUser: "mesh", sshUser: "mesh" })),
    );
    assert.deepEqual(warnings, ["proxyUser is deprecated: use sshUser"]);
  });

  it("a bad value under an old name is reported under that name", () => {
    const e = refusal(
      () => new VmProxy("alias-bad", proxyArgs({ proxyUser: "-f", image: { hub: "-v/:/host" } })),
    );
    assert.deepEqual(e.issues.map((x) => x.field).sort(), ["VmProxyArgs.image.hub", "VmProxyArgs.proxyUser"]);
  });
});

// ---- VmBoot and the boot plan ---------------------------------------------------------------------------------

describe("VmBoot and buildBootPlan: old input names", () => {
  const bootArgs = (extra: Partial<VmBootArgs>): VmBootArgs => ({
    workload: WORKLOAD,
    kubeconfig: KUBECONFIG,
    ...extra,
  });

  it("proxyUser and image work as sshUser and proxyImage*: same user data, one warning each", async () => {
    let old: VmBoot | undefined;
    let current: VmBoot | undefined;
    const oldWarnings = warningsOf(
      () => (old = new VmBoot("boot-alias-old", bootArgs({ proxyUser: "mesh", image: { tag: "1.30.3" } }))),
    );
    const currentWarnings = warningsOf(
      () => (current = new VmBoot("boot-alias-new", bootArgs({ sshUser: "mesh", proxyImageTag: "1.30.3" }))),
    );
    assert.deepEqual(oldWarnings, [
      "proxyUser is deprecated: use sshUser",
      "image is deprecated: use proxyImage, proxyImageHub, proxyImageName and proxyImageTag",
    ]);
    assert.deepEqual(currentWarnings, []);
    assert.equal(await valueOf(old!.proxyImage), "docker.io/istio/proxyv2:1.30.3");
    assert.equal(await valueOf(old!.userData), await valueOf(current!.userData));
    assert.match(await valueOf(old!.userData), /^ {2}- name: mesh$/m);
    assert.equal(await valueOf(old!.startScript), await valueOf(current!.startScript));
  });

  it("proxyUser beside a different sshUser: refused, naming both", () => {
    const e = refusal(() => new VmBoot("boot-alias-conflict", bootArgs({ proxyUser: "a", sshUser: "b" })));
    assert.match(e.message, /VmBootArgs\.proxyUser and VmBootArgs\.sshUser are both set to different values/);
  });

  const plan: BootPlanInputs = {
    workload: WORKLOAD,
    meshRootCert: "ROOT",
    kubernetesRootCert: "K8S",
    token: "TOKEN",
  };

  it("buildBootPlan takes its old field names as the new ones", () => {
    assert.deepEqual(
      buildBootPlan({
        ...plan,
        user: "mesh",
        configDir: "/srv/proxy",
        containerName: "px",
        egressHosts: ["reviews.bookinfo.svc"],
        image: { hub: "docker.io/tetrate", tag: "1.8.6" },
      }),
      buildBootPlan({
        ...plan,
        sshUser: "mesh",
        proxyConfigDir: "/srv/proxy",
        proxyContainerName: "px",
        egressHostnames: ["reviews.bookinfo.svc"],
        proxyImageHub: "docker.io/tetrate",
        proxyImageTag: "1.8.6",
      }),
    );
  });

  it("buildBootPlan refuses an old and a new name with different values, naming both", () => {
    assert.throws(
      () => buildBootPlan({ ...plan, configDir: "/a", proxyConfigDir: "/b" }),
      /BootPlanInputs\.configDir and BootPlanInputs\.proxyConfigDir are both set to different values/,
    );
  });
});

// ---- MeshVm host ----------------------------------------------------------------------------------------------

describe("MeshVm host: credentials is the old name of privateKey, privateKeyPassword, agentSocketPath", () => {
  const host = (extra: Partial<MeshVmHostArgs>): MeshVmHostArgs => ({
    hostKey: HOST_KEY,
    kubeconfig: KUBECONFIG,
    proxyImageTag: "1.8.6",
    ...extra,
  });

  it("the same SSH connections as with the flat fields, one warning naming them", async () => {
    const vms: MeshVm[] = [];
    const oldWarnings = warningsOf(() =>
      vms.push(
        new MeshVm("cred-old", {
          ...ratingsVmArgs,
          name: "cred-old",
          host: host({ credentials: { privateKey: "PROXY-KEY", privateKeyPassword: "PASS" } }),
        }),
      ),
    );
    const currentWarnings = warningsOf(() =>
      vms.push(
        new MeshVm("cred-new", {
          ...ratingsVmArgs,
          name: "cred-new",
          host: host({ privateKey: "PROXY-KEY", privateKeyPassword: "PASS" }),
        }),
      ),
    );
    assert.deepEqual(oldWarnings, [
      "host.credentials is deprecated: use host.privateKey, host.privateKeyPassword and host.agentSocketPath",
    ]);
    assert.deepEqual(currentWarnings, []);
    for (const vm of vms) await valueOf(vm.proxy);
    const old = await resourcesOf("cred-old-proxy");
    const current = await resourcesOf("cred-new-proxy");
    const connection = (inputs: Record<string, unknown>) =>
      (inputs["command:remote:Command -proxy"] as { connection: Record<string, unknown> }).connection;
    assert.equal(connection(old)["privateKey"], "PROXY-KEY");
    assert.equal(connection(old)["privateKeyPassword"], "PASS");
    assert.deepEqual(Object.keys(old).sort(), Object.keys(current).sort());
    for (const key of Object.keys(old).filter((k) => k.startsWith("command:remote:"))) {
      assert.deepEqual(
        (old[key] as { connection: unknown }).connection,
        (current[key] as { connection: unknown }).connection,
        key,
      );
    }
  });

  it("an old and a new name with different values: refused at preview, naming both, never quoting the key", () => {
    const e = refusal(
      () =>
        new MeshVm("cred-conflict", {
          ...ratingsVmArgs,
          host: host({ credentials: { privateKey: "OLD-SECRET-KEY" }, privateKey: "NEW-SECRET-KEY" }),
        }),
    );
    assert.match(
      e.message,
      /MeshVmArgs\.host\.credentials\.privateKey and MeshVmArgs\.host\.privateKey are both set to different values/,
    );
    assert.ok(!e.message.includes("SECRET"), e.message);
  });

  it("secret (unknown) values under both names cannot be compared: refused too", () => {
    const e = refusal(
      () =>
        new MeshVm("cred-secret-conflict", {
          ...ratingsVmArgs,
          host: host({
            credentials: { agentSocketPath: pulumi.output("/run/a") },
            agentSocketPath: pulumi.output("/run/a"),
          }),
        }),
    );
    assert.match(
      e.message,
      /host\.credentials\.agentSocketPath and MeshVmArgs\.host\.agentSocketPath are both set;/,
    );
    assert.match(e.message, /set only MeshVmArgs\.host\.agentSocketPath/);
  });
});

// ---- stack configuration --------------------------------------------------------------------------------------

describe("stack configuration: the same old names as the inputs", () => {
  function raw(host: Record<string, unknown>, secret: string[] = ["kubeconfig", "vms"]): RawStackConfig {
    const vms = [{ ...ratingsVmArgs, host: { hostKey: HOST_KEY, ...host } }];
    return {
      stack: "dev",
      values: { "mesh-vm:kubeconfig": KUBECONFIG, "mesh-vm:vms": JSON.stringify(vms) },
      secretKeys: new Set(secret.map((k) => `mesh-vm:${k}`)),
      env: {},
    };
  }
  function refusedConfig(config: RawStackConfig): StackConfigError {
    try {
      parseStackConfig(config);
    } catch (e) {
      assert.ok(e instanceof StackConfigError, String(e));
      return e;
    }
    assert.fail("accepted");
  }

  it("host.credentials is still accepted, its private key kept secret", async () => {
    const cfg = parseStackConfig(raw({ credentials: { privateKey: "PROXY-KEY" } }));
    const host = cfg.vms[0]!.args.host!;
    const key = host.credentials!.privateKey as pulumi.Output<string>;
    assert.equal(await (key as unknown as { isSecret: Promise<boolean> }).isSecret, true);
    assert.equal(await valueOf(key), "PROXY-KEY");
  });

  it("host.privateKey (the new name) is kept secret and refused in plain text, like the old one", async () => {
    const cfg = parseStackConfig(raw({ privateKey: "PROXY-KEY" }));
    const key = cfg.vms[0]!.args.host!.privateKey as pulumi.Output<string>;
    assert.equal(await (key as unknown as { isSecret: Promise<boolean> }).isSecret, true);
    for (const [host, field] of [
      [{ privateKey: "K" }, "mesh-vm:vms[0].host.privateKey"],
      [{ credentials: { privateKey: "K" } }, "mesh-vm:vms[0].host.credentials.privateKey"],
    ] as const) {
      const e = refusedConfig(raw(host, ["kubeconfig"]));
      assert.ok(
        e.issues.some((i) => i.field === field && /plain text/.test(i.problem)),
        e.message,
      );
    }
  });

  it("an old and a new key with different values: refused, naming both keys", () => {
    const e = refusedConfig(raw({ credentials: { agentSocketPath: "/run/a" }, agentSocketPath: "/run/b" }));
    const hit = e.issues.find((i) => i.field === "mesh-vm:vms[0].host.credentials.agentSocketPath");
    assert.ok(hit, e.message);
    assert.match(hit.problem, /and mesh-vm:vms\[0\]\.host\.agentSocketPath are both set to different values/);
  });
});
