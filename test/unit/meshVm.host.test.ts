// MeshVm with `host`: the proxy is a child, the registration objects wait for it, secrets stay out of the
// mesh settings, and bad host inputs fail before anything is registered.
import { TOKEN, registrations } from "./helpers/pulumiMocks";
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { MeshVm, MeshVmValidationError } from "../../components";
import type { MeshVmArgs, MeshVmHostArgs } from "../../components";
import { ratingsVmArgs } from "./fixtures/ratings";
import { KUBECONFIG } from "./fixtures/kubeconfig";

function valueOf<T>(o: pulumi.Output<T>): Promise<T> {
  return (o as unknown as { promise(): Promise<T> }).promise();
}

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

const host: MeshVmHostArgs = {
  hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKey",
  prepare: { admin: { user: "admin", privateKey: "ADMIN-PRIVATE-KEY-SECRET" } },
  kubeconfig: KUBECONFIG,
  proxyImageTag: "1.8.6",
  egressHostnames: ["reviews.bookinfo.svc"],
};

const order = (name: string): number => registrations.findIndex((r) => r.name === name);

describe("MeshVm with host", () => {
  const vm = new MeshVm("ratings", { ...ratingsVmArgs, sshHost: "35.194.38.142", host });

  it("creates the proxy as a child and reports its state", async () => {
    const proxy = await valueOf(vm.proxy);
    assert.ok(proxy);
    assert.equal(proxy.containerState, "running");
    assert.equal(proxy.proxyImage, "docker.io/tetrate/proxyv2:1.8.6");
    assert.match(proxy.sidecarEnv, /^INSTANCE_IP=10\.128\.0\.2$/m);
    assert.match(proxy.hostsBlock, /^127\.0\.0\.2 reviews\.bookinfo\.svc$/m);
    assert.equal(proxy.sshIdentity.user, "istio-proxy");
    assert.equal(proxy.sshIdentity.host, "35.194.38.142");
    const proxyComponent = registrations.find((r) => r.type === "mesh-vm:index:VmProxy");
    assert.equal(proxyComponent?.name, "ratings-proxy");
  });

  it("orders the Sidecar before the proxy, and the registration objects after it is ready", async () => {
    await valueOf(vm.workloadEntryName);
    await settle();
    const sidecar = order("ratings-sidecar");
    const token = order("ratings-proxy-bootstrap-token");
    const container = order("ratings-proxy-proxy");
    const gate = order("ratings-proxy-registration-gate");
    const workloadEntry = order("ratings-workloadentry");
    const serviceEntry = order("ratings-serviceentry");
    for (const [what, i] of Object.entries({
      sidecar,
      token,
      container,
      gate,
      workloadEntry,
      serviceEntry,
    })) {
      assert.ok(i >= 0, `${what} was registered`);
    }
    assert.ok(sidecar < token, "the Sidecar exists before the token is minted");
    assert.ok(container < gate, "the gate follows the container");
    assert.ok(gate < workloadEntry, "the WorkloadEntry waits for the ready proxy");
    assert.ok(gate < serviceEntry, "the ServiceEntry waits for the ready proxy");
  });

  it("keeps host secrets out of the mesh settings, objects and outputs", async () => {
    const settings = JSON.stringify(await valueOf(vm.settings));
    const manifests = await valueOf(vm.manifests);
    for (const secret of ["ADMIN-PRIVATE-KEY-SECRET", "kube-admin-secret", TOKEN]) {
      assert.ok(!settings.includes(secret), `settings do not hold ${secret}`);
      assert.ok(!manifests.includes(secret), `manifests do not hold ${secret}`);
    }
    const proxy = JSON.stringify(await valueOf(vm.proxy));
    assert.ok(!proxy.includes(TOKEN) && !proxy.includes("ADMIN-PRIVATE-KEY-SECRET"));
    const we = registrations.find((r) => r.name === "ratings-workloadentry");
    assert.ok(!JSON.stringify(we?.inputs).includes("kube-admin-secret"));
  });
});

describe("MeshVm host validation", () => {
  const cases: { name: string; host: Partial<MeshVmHostArgs>; expect: RegExp }[] = [
    {
      name: "unpinned host key",
      host: { hostKey: undefined },
      expect: /MeshVmArgs\.host\.hostKey: the VM's SSH host key is not pinned/,
    },
    {
      name: "known_hosts line",
      host: { hostKey: "10.0.0.1 ssh-ed25519 AAAA" },
      expect: /host\.hostKey: not an authorized_keys-format public key/,
    },
    {
      name: "no login",
      host: { prepare: undefined },
      expect: /host\.privateKey: no way to log in as the proxy user/,
    },
    {
      name: "short token",
      host: { token: { expirationSeconds: 60 } },
      expect: /host\.token\.expirationSeconds: 60 is not a whole number of seconds >= 600/,
    },
    {
      name: "image and tag",
      host: { proxyImage: "example/proxy:1" },
      expect: /host\.proxyImageTag: proxyImage and proxyImageTag are both set/,
    },
    {
      name: "bad egress name",
      host: { egressHostnames: ["reviews bookinfo"] },
      expect: /host\.egressHostnames\[0\]: "reviews bookinfo" is not a host name/,
    },
  ];
  for (const c of cases) {
    it(`refuses ${c.name} before registering anything`, () => {
      const before = registrations.length;
      const args: MeshVmArgs = { ...ratingsVmArgs, host: { ...host, ...c.host } as MeshVmHostArgs };
      assert.throws(
        () => new MeshVm(`bad-${c.name.replace(/\W+/g, "-")}`, args),
        (e: unknown) => e instanceof MeshVmValidationError && c.expect.test(e.message),
      );
      assert.equal(registrations.length, before, "nothing was registered");
    });
  }

  it("allows an unpinned host only with the explicit opt-out", () => {
    assert.doesNotThrow(
      () =>
        new MeshVm("insecure", {
          ...ratingsVmArgs,
          host: { ...host, hostKey: undefined, insecureIgnoreHostKey: true },
        }),
    );
  });
});
