// MeshVm with `workloadGroup.autoRegister`: the WorkloadGroup is declared, no WorkloadEntry (istiod makes it
// when the agent connects), the agent's config names the group for both runtimes that run Istio's agent, the
// output names istiod's entry, and what cannot work is refused at preview naming the field.
import { registrations, settle, valueOf } from "./helpers/pulumiMocks";
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MeshVm, MeshVmValidationError } from "../../components";
import type { MeshVmArgs, MeshVmHostArgs } from "../../components";
import { autoRegisteredEntryName } from "../../components/mesh/workloadGroup";
import { renderSidecarEnv } from "../../components/host/sidecarEnv";
import { runtimeIssues } from "../../components/runtime/registry";
import { fieldNames } from "../../components/rules/issues";
import { ratingsVmArgs, ratingsWorkload } from "./fixtures/ratings";
import { KUBECONFIG } from "./fixtures/kubeconfig";

const host: MeshVmHostArgs = {
  hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKey",
  prepare: { admin: { user: "admin", privateKey: "ADMIN-PRIVATE-KEY-SECRET" } },
  kubeconfig: KUBECONFIG,
  proxyImageTag: "1.31.2",
};
const packageHost: MeshVmHostArgs = {
  ...host,
  proxyImageTag: undefined,
  runtime: "package",
  sidecarPackage: { version: "1.31.2", file: "/var/tmp/istio-sidecar.deb" },
  // Istio's unit runs as root: the steps log in as the admin, with its own key.
  privateKey: "ADMIN-PRIVATE-KEY-SECRET",
};

/** The ratings VM without the seed's separate instance IP (istiod would register that one instead). */
const vmArgs: MeshVmArgs = {
  ...ratingsVmArgs,
  proxyInstanceIp: undefined,
  sshUser: "admin",
  workloadGroup: { name: "ratings", autoRegister: true },
};

const kindsOf = (prefix: string) =>
  registrations.filter((r) => r.name.startsWith(prefix) && r.custom).map((r) => String(r.inputs["kind"]));

/** The proxy step's script as the shell reads it (the step wraps it in sh -c '...'). */
const proxyScriptOf = (name: string) =>
  String(registrations.find((r) => r.name === `${name}-proxy-proxy`)?.inputs["create"]).replaceAll(
    "'\\''",
    "'",
  );

describe("MeshVm with workloadGroup.autoRegister", () => {
  it("declares the WorkloadGroup and no WorkloadEntry; the container's sidecar.env names the group", async () => {
    const vm = new MeshVm("auto", { ...vmArgs, host });
    const proxy = await valueOf(vm.proxy);
    const name = await valueOf(vm.workloadEntryName);
    await settle();
    assert.equal(name, "ratings-35.194.38.142-vm-us-central1-a", "istiod's name: <group>-<ip>-<network>");
    const kinds = kindsOf("auto-");
    assert.ok(kinds.includes("WorkloadGroup"), `the WorkloadGroup is declared (${kinds.join(", ")})`);
    assert.ok(!kinds.includes("WorkloadEntry"), "no WorkloadEntry: istiod makes it");
    assert.ok(kinds.includes("ServiceEntry") && kinds.includes("Sidecar"));
    const group = registrations.find((r) => r.name === "auto-workloadgroup")!.inputs as {
      metadata: { name: string };
      spec: { metadata: { labels: Record<string, string> }; template: Record<string, unknown> };
    };
    assert.equal(group.metadata.name, "ratings");
    assert.deepEqual(group.spec.metadata.labels, { app: "ratings", version: "v3", class: "vm" });
    assert.equal(group.spec.template["serviceAccount"], "bookinfo-ratings");
    assert.equal(group.spec.template["network"], "vm-us-central1-a");
    assert.match(proxy!.sidecarEnv, /^ISTIO_META_AUTO_REGISTER_GROUP=ratings$/m);
    assert.match(proxy!.sidecarEnv, /^INSTANCE_IP=35\.194\.38\.142$/m, "the entry's address is the VM's");
    assert.match(proxy!.sidecarEnv, new RegExp(`^POD_NAME=${name}$`, "m"));
    assert.match(proxy!.sidecarEnv, new RegExp(`workloadentries/${name}$`, "m"));
    assert.doesNotMatch(await valueOf(vm.manifests), /kind: WorkloadEntry/);
  });

  it("writes istioctl's --autoregister into the package runtime's cluster.env and mesh config", async () => {
    const vm = new MeshVm("autopkg", { ...vmArgs, host: packageHost });
    await valueOf(vm.proxy);
    await settle();
    const script = proxyScriptOf("autopkg");
    assert.match(script, /^# {3}ISTIO_META_AUTO_REGISTER_GROUP='ratings'$/m);
    assert.match(script, /^# {3}ISTIO_META_WORKLOAD_NAME='ratings'$/m);
    assert.match(script, /^# {3}ISTIO_SVC_IP='35\.194\.38\.142'$/m);
    assert.ok(!kindsOf("autopkg-").includes("WorkloadEntry"));
    // The package agent reports the VM's network only (istioctl's ISTIO_META_NETWORK from the template).
    assert.equal(await valueOf(vm.workloadEntryName), "ratings-35.194.38.142-vm-us-central1-a");
  });

  it("leaves the agent's config as before without autoRegister", async () => {
    const vm = new MeshVm("plain", { ...vmArgs, workloadGroup: { enabled: true, name: "ratings" }, host });
    const proxy = await valueOf(vm.proxy);
    await settle();
    assert.doesNotMatch(proxy!.sidecarEnv, /AUTO_REGISTER/);
    assert.ok(kindsOf("plain-").includes("WorkloadEntry"));
    assert.equal(await valueOf(vm.workloadEntryName), "ratings-vm");
  });

  const cases: { name: string; args: MeshVmArgs; expect: RegExp }[] = [
    {
      name: "the envoy runtime",
      args: {
        ...vmArgs,
        host: { ...host, runtime: "envoy", envoy: { gatewayAddress: "192.0.2.1", upstreams: [] } },
      },
      expect:
        /MeshVmArgs\.workloadGroup\.autoRegister: auto-registration needs Istio's agent connected to istiod, which MeshVmArgs\.host\.runtime "envoy" does not run; remove MeshVmArgs\.workloadGroup\.autoRegister/,
    },
    {
      name: "a WorkloadGroup switched off",
      args: { ...vmArgs, workloadGroup: { enabled: false, autoRegister: true } },
      expect:
        /MeshVmArgs\.workloadGroup\.enabled: is false while MeshVmArgs\.workloadGroup\.autoRegister is true/,
    },
    {
      name: "a DNS name as the address",
      args: { ...vmArgs, address: "ratings.example.com", host },
      expect:
        /MeshVmArgs\.address: "ratings\.example\.com" is not an IP address, but MeshVmArgs\.workloadGroup\.autoRegister needs one/,
    },
    {
      name: "an instance IP other than the address",
      args: { ...vmArgs, proxyInstanceIp: "10.128.0.2", host },
      expect:
        /MeshVmArgs\.proxyInstanceIp: "10\.128\.0\.2" differs from MeshVmArgs\.address \(35\.194\.38\.142\)/,
    },
    {
      name: "a WorkloadEntry name equal to istiod's",
      args: { ...vmArgs, name: "ratings-35.194.38.142-vm-us-central1-a", host },
      expect: /MeshVmArgs\.name: "ratings-35\.194\.38\.142-vm-us-central1-a" is the name istiod gives/,
    },
  ];
  for (const c of cases) {
    it(`refuses ${c.name} at preview, before registering anything`, () => {
      const before = registrations.length;
      assert.throws(
        () => new MeshVm(`bad-${c.name.replace(/\W+/g, "-")}`, c.args),
        (e: unknown) => e instanceof MeshVmValidationError && c.expect.test(e.message),
      );
      assert.equal(registrations.length, before, "nothing was registered");
    });
  }
});

describe("auto-registration renderers and VmProxy's autoRegisterGroup", () => {
  it("names the entry as istiod does: IPv6 colons as dashes, the network appended, cut from the front", () => {
    assert.equal(autoRegisteredEntryName("g", "10.0.0.1"), "g-10.0.0.1");
    assert.equal(autoRegisteredEntryName("g", "fd00::1", "net"), "g-fd00--1-net");
    const long = autoRegisteredEntryName("a".repeat(260), "10.0.0.1");
    assert.equal(long.length, 253);
    assert.ok(long.endsWith("a-10.0.0.1"));
  });

  it("adds ISTIO_META_AUTO_REGISTER_GROUP to sidecar.env only when a group is given", () => {
    assert.doesNotMatch(renderSidecarEnv(ratingsWorkload, {}), /AUTO_REGISTER/);
    assert.match(
      renderSidecarEnv(ratingsWorkload, {}, "ratings"),
      /\nISTIO_META_AUTO_REGISTER_GROUP=ratings$/,
    );
  });

  it("refuses autoRegisterGroup with the envoy runtime or a name that is no WorkloadGroup's", () => {
    const field = fieldNames("VmProxyArgs");
    const envoy = runtimeIssues({ runtime: "envoy", envoy: {}, autoRegisterGroup: "ratings" }, field);
    assert.ok(
      envoy.some(
        (i) => i.field === "VmProxyArgs.autoRegisterGroup" && /"envoy" does not run/.test(i.problem),
      ),
      JSON.stringify(envoy),
    );
    const bad = runtimeIssues({ autoRegisterGroup: "Ratings_VM" }, field);
    assert.equal(bad.length, 1);
    assert.match(bad[0]!.problem, /is not a WorkloadGroup name/);
    assert.deepEqual(runtimeIssues({ runtime: "package", autoRegisterGroup: "ratings" }, field), [
      ...runtimeIssues({ runtime: "package" }, field),
    ]);
  });
});
