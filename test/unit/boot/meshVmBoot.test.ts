// MeshVm with `boot`: the user data is a secret output holding the SSH path's files, no SSH resource exists,
// the token is minted like VmProxy's but never re-minted by time, registration waits for the ready check, and
// the token trade-off is validated.
import { TOKEN, isSecretValue, registrations } from "../helpers/pulumiMocks";
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { parse } from "yaml";
import { MeshVm, MeshVmValidationError } from "../../../components";
import type { MeshVmBootArgs } from "../../../components";
import { ratingsVmArgs } from "../fixtures/ratings";
import { KUBECONFIG } from "../fixtures/kubeconfig";

function valueOf<T>(o: pulumi.Output<T>): Promise<T> {
  return (o as unknown as { promise(): Promise<T> }).promise();
}
function isSecret<T>(o: pulumi.Output<T>): Promise<boolean> {
  return (o as unknown as { isSecret: Promise<boolean> }).isSecret;
}
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

const boot: MeshVmBootArgs = {
  kubeconfig: KUBECONFIG,
  proxyImageTag: "1.30.3",
  egressHostnames: ["reviews.bookinfo.svc"],
  bundleDir: "/tmp/mesh-vm-unit-bundle",
};
const mine = (name: string) => registrations.find((r) => r.name === name);
const order = (name: string): number => registrations.findIndex((r) => r.name === name);

describe("MeshVm with boot", () => {
  const vm = new MeshVm("ratings-boot", { ...ratingsVmArgs, boot });

  it("outputs the user data as a secret, with the token in the 0640 file only", async () => {
    assert.equal(await isSecret(vm.userData), true);
    const userData = (await valueOf(vm.userData))!;
    assert.ok(userData.startsWith("#cloud-config\n"));
    const cc = parse(userData) as { write_files: { path: string; permissions: string; content: string }[] };
    const token = cc.write_files.find((f) => f.path === "/etc/istio-proxy/istio-token")!;
    assert.equal(token.content, TOKEN);
    assert.equal(token.permissions, "0640");
    assert.equal(userData.split(TOKEN).length, 2, "the token appears once");
  });

  it("shows the rest in plain outputs (preview shows them), never the token", async () => {
    const state = (await valueOf(vm.boot))!;
    assert.equal(state.proxyImage, "docker.io/tetrate/proxyv2:1.30.3");
    assert.match(state.sidecarEnv, /^INSTANCE_IP=10\.128\.0\.2$/m);
    assert.match(
      state.dockerRunCommand,
      /^docker run -d --name istio-proxy --restart unless-stopped --network host/,
    );
    assert.match(state.startScript, /^#!\/bin\/sh\n/);
    assert.match(state.hostsBlock, /^127\.0\.0\.2 reviews\.bookinfo\.svc$/m);
    assert.equal(await valueOf(vm.bootTokenExpiry), "2026-11-23T05:00:00Z");
    assert.equal(state.bundleDir, "/tmp/mesh-vm-unit-bundle");
    assert.ok(!JSON.stringify(state).includes(TOKEN));
    assert.ok(!JSON.stringify(await valueOf(vm.settings)).includes("kube-admin-secret"));
  });

  it("opens no SSH session: no remote command, no SSH key", async () => {
    await valueOf(vm.workloadEntryName);
    await settle();
    const children = registrations.filter((r) => r.name.startsWith("ratings-boot"));
    assert.ok(!children.some((r) => r.type.startsWith("command:remote:") || r.type.startsWith("tls:")));
    assert.equal(mine("ratings-boot-boot")?.type, "mesh-vm:index:VmBoot");
  });

  it("mints with the same program as VmProxy, re-minting only for identity, lifetime, audiences or rotation", async () => {
    await settle();
    const mint = mine("ratings-boot-boot-bootstrap-token")!;
    assert.deepEqual(mint.inputs.interpreter, ["node", "-e"]);
    assert.equal(mint.inputs.logging, "none");
    assert.ok(isSecretValue(mint.raw.stdin), "the kubeconfig travels on stdin, as a secret");
    assert.deepEqual(mint.inputs.triggers, ["bookinfo/bookinfo-ratings", "istio-ca", 3600, ""]);
    const request = JSON.parse(mint.inputs.stdin as string) as { expirationSeconds: number };
    assert.equal(request.expirationSeconds, 3600, "boot default: one hour");
  });

  it("registers after the ready check, which polls the status port on the VM's address", async () => {
    await settle();
    const gate = mine("ratings-boot-boot-registration-gate")!;
    const env = gate.inputs.environment as Record<string, string>;
    assert.equal(env.MESH_VM_READY_URL, "http://35.194.38.142:15021/healthz/ready");
    assert.equal(env.MESH_VM_READY_TIMEOUT, "900");
    assert.ok(order("ratings-boot-boot-registration-gate") < order("ratings-boot-workloadentry"));
    assert.ok(order("ratings-boot-boot-registration-gate") < order("ratings-boot-serviceentry"));
  });

  it("writes the offline bundle through a secret stdin, listing only paths in the environment", async () => {
    await settle();
    const bundle = mine("ratings-boot-boot-bundle")!;
    assert.ok(isSecretValue(bundle.raw.stdin));
    const env = bundle.inputs.environment as Record<string, string>;
    assert.equal(env.MESH_VM_BUNDLE_DIR, "/tmp/mesh-vm-unit-bundle");
    assert.deepEqual(JSON.parse(env.MESH_VM_BUNDLE_FILES!), [
      "etc/sidecar.env",
      "etc/istio-ca.pem",
      "etc/k8s-ca.pem",
      "etc/istio-token",
      "bin/start-istio-proxy.sh",
    ]);
    assert.ok(!JSON.stringify(env).includes(TOKEN));
  });
});

describe("MeshVm boot validation", () => {
  const attempt =
    (extra: Partial<MeshVmBootArgs>, withHost = false) =>
    () =>
      new MeshVm("bad-boot", {
        ...ratingsVmArgs,
        boot: { ...boot, ...extra },
        ...(withHost
          ? {
              host: { kubeconfig: KUBECONFIG, insecureIgnoreHostKey: true, privateKey: "k" },
            }
          : {}),
      });
  it("makes the token trade-off explicit: 600 to 86400 seconds", () => {
    for (const bad of [599, 86401, 1.5]) {
      assert.throws(attempt({ token: { expirationSeconds: bad } }), (e: unknown) => {
        assert.ok(e instanceof MeshVmValidationError);
        assert.match(e.message, /MeshVmArgs\.boot\.token\.expirationSeconds: .* from 600 to 86400/);
        assert.match(e.message, /renews its own certificate/);
        return true;
      });
    }
  });
  it("refuses host and boot together", () => {
    assert.throws(attempt({}, true), /host and boot are both set; choose one delivery/);
  });
  it("refuses a missing kubeconfig and both image settings", () => {
    assert.throws(attempt({ kubeconfig: "", proxyImage: "x/y:z" }), (e: unknown) => {
      assert.match(String(e), /boot\.kubeconfig/);
      assert.match(String(e), /boot\.proxyImageTag: proxyImage and proxyImageTag are both set/);
      return true;
    });
  });
});
