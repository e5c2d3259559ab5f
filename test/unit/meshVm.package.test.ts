// MeshVm with `host.runtime: "package"`: the sidecarPackage block reaches VmProxy, whose proxy step writes Istio's
// files in Istio's places and runs Istio's unit; a mistake in the block fails before anything is registered,
// naming MeshVm's field and the fix.
import { registrations } from "./helpers/pulumiMocks";
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { MeshVm, MeshVmValidationError } from "../../components";
import type { MeshVmArgs, MeshVmHostArgs } from "../../components";
import { ratingsVmArgs } from "./fixtures/ratings";
import { KUBECONFIG } from "./fixtures/kubeconfig";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

function valueOf<T>(o: pulumi.Output<T>): Promise<T> {
  return (o as unknown as { promise(): Promise<T> }).promise();
}

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

const host: MeshVmHostArgs = {
  hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKey",
  // The package runtime's steps run as root: both log in as sshUser (admin) with its own key.
  privateKey: "ADMIN-PRIVATE-KEY-SECRET",
  prepare: { admin: { user: "admin", privateKey: "ADMIN-PRIVATE-KEY-SECRET" } },
  kubeconfig: KUBECONFIG,
  runtime: "package",
  sidecarPackage: { version: "1.31.2", file: "/var/tmp/istio-sidecar.deb", captureDns: false },
};

describe("MeshVm with the package runtime", () => {
  it("hands sidecarPackage to VmProxy: Istio's files and unit in the proxy step, the package in the host step", async () => {
    const vm = new MeshVm("pkg", { ...ratingsVmArgs, sshUser: "admin", host });
    await valueOf(vm.proxy);
    await valueOf(vm.workloadEntryName);
    await settle();
    const step = (name: string) => registrations.find((r) => r.name === name)?.inputs;
    const proxy = step("pkg-proxy-proxy");
    const hostStep = step("pkg-proxy-host");
    assert.ok(proxy && hostStep, "both remote steps are registered");
    // The script as the shell reads it (the step wraps it in sh -c '...').
    const create = String(proxy["create"]).replaceAll("'\\''", "'");
    assert.match(create, /# mesh-vm package proxy, config digest [0-9a-f]{64}$/m);
    assert.match(create, /^# \/var\/lib\/istio\/envoy\/cluster\.env sha256=[0-9a-f]{64}$/m);
    assert.match(create, /^# {3}ISTIO_LOCAL_EXCLUDE_PORTS='22,15090,15021,15020'$/m);
    assert.doesNotMatch(create, /ISTIO_META_DNS_CAPTURE/, "captureDns: false reached the renderer");
    assert.match(create, /^# \/var\/run\/secrets\/tokens\/istio-token secret$/m);
    assert.match(create, /systemctl start istio\.service/);
    assert.match(String(hostStep["create"]), /\/var\/tmp\/istio-sidecar\.deb/);
  });

  it("writes istiod's hosts line in the host step without egressHostnames: the agent needs it to reach istiod", async () => {
    const vm = new MeshVm("pkg-hosts", {
      ...ratingsVmArgs,
      sshUser: "admin",
      host: { ...host, gatewayAddress: "198.51.100.1", egressHostnames: undefined },
    });
    await valueOf(vm.proxy);
    await settle();
    const hostStep = registrations.find((r) => r.name === "pkg-hosts-proxy-host")?.inputs;
    assert.ok(hostStep, "the host step is registered");
    const stdin = String(hostStep["stdin"])
      .split("\n")
      .map((l) => Buffer.from(l, "base64").toString("utf8"))
      .join("\n");
    assert.match(stdin, /^198\.51\.100\.1 istiod\.istio-system\.svc$/m, "istiod's name → the gateway");
    assert.match(await valueOf(vm.proxy).then((p) => p!.hostsBlock), /istiod\.istio-system\.svc/);
  });

  it("copies sidecarPackage.localFile over the host step's login and has the host step check its sha256", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mesh-vm-localfile-"));
    try {
      const deb = join(dir, "istio-sidecar_1.31.2_amd64.deb");
      writeFileSync(deb, "the package");
      const sha = createHash("sha256").update("the package").digest("hex");
      const vm = new MeshVm("pkg-copy", {
        ...ratingsVmArgs,
        sshUser: "admin",
        host: { ...host, sidecarPackage: { version: "1.31.2", localFile: deb } },
      });
      await valueOf(vm.proxy);
      await settle();
      const copy = registrations.find((r) => r.name === "pkg-copy-proxy-package-copy");
      assert.ok(copy, "the copy is a resource of its own");
      assert.equal(copy.type, "command:remote:CopyToRemote");
      assert.equal(copy.inputs["remotePath"], ".mesh-vm-istio-sidecar.pkg", "into the login's home");
      assert.ok(
        pulumi.asset.FileAsset.isInstance(copy.raw["source"]),
        "a FileAsset: its path and hash in state",
      );
      assert.equal(await (copy.raw["source"] as pulumi.asset.FileAsset).path, deb);
      assert.equal(
        (copy.inputs["connection"] as { user?: string }).user,
        "admin",
        "as the host step's login (prepare.admin)",
      );
      const hostStep = registrations.find((r) => r.name === "pkg-copy-proxy-host")!;
      const create = String(hostStep.inputs["create"]).replaceAll("'\\''", "'");
      assert.match(create, new RegExp(`echo '${sha}  '"\\$pkg" \\| sha256sum -c`));
      assert.doesNotMatch(create, new RegExp(dir.replace(/\W/g, "\\$&")), "no local path on the VM");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses a localFile that is not on this machine before registering anything", () => {
    const before = registrations.length;
    const args: MeshVmArgs = {
      ...ratingsVmArgs,
      host: { ...host, sidecarPackage: { version: "1.31.2", localFile: "/nonexistent/istio-sidecar.deb" } },
    };
    assert.throws(
      () => new MeshVm("bad-local-file", args),
      (e: unknown) =>
        e instanceof MeshVmValidationError &&
        /MeshVmArgs\.host\.sidecarPackage\.localFile: "\/nonexistent\/istio-sidecar\.deb" cannot be read here \(no such file\); give the path of the package file/.test(
          e.message,
        ),
    );
    assert.equal(registrations.length, before, "nothing was registered");
  });

  it("writes the WorkloadGroup's ports as istioctl does: the VM ports that differ from the service's, else *", async () => {
    const clusterEnvOf = async (name: string, args: MeshVmArgs) => {
      const vm = new MeshVm(name, args);
      await valueOf(vm.proxy);
      await settle();
      const create = String(registrations.find((r) => r.name === `${name}-proxy-proxy`)?.inputs["create"]);
      return create.replaceAll("'\\''", "'");
    };
    const base = { ...ratingsVmArgs, sshUser: "admin", host };
    assert.match(await clusterEnvOf("pkg-star", base), /^# {3}ISTIO_INBOUND_PORTS='\*'$/m);
    const target = await clusterEnvOf("pkg-target", {
      ...base,
      ports: [{ name: "http", number: 9080, protocol: "HTTP", targetPort: 8080 }],
    });
    assert.match(target, /^# {3}ISTIO_INBOUND_PORTS='?8080'?$/m);
    assert.match(
      target,
      /^# {3}ISTIO_META_POD_PORTS='\[\{"name":"http","containerPort":8080,"protocol":""\}\]'$/m,
    );
  });

  const cases: { name: string; host: Partial<MeshVmHostArgs>; expect: RegExp }[] = [
    {
      name: "a bad version",
      host: { sidecarPackage: { version: "1.31 beta", file: "/var/tmp/istio-sidecar.deb" } },
      expect: /MeshVmArgs\.host\.sidecarPackage\.version: "1\.31 beta" is not a package version/,
    },
    {
      name: "two sources",
      host: { sidecarPackage: { version: "1.31.2", file: "/var/tmp/a.deb", repository: true } },
      expect: /MeshVmArgs\.host\.sidecarPackage: names 2 package sources; set exactly one of/,
    },
    {
      name: "a capture mode Istio's package has not",
      host: { sidecarPackage: { version: "1.31.2", repository: true, capture: "ebpf" } },
      expect:
        /MeshVmArgs\.host\.sidecarPackage\.capture: "ebpf" is not a capture mode; use "iptables" or "none"/,
    },
    {
      name: "no key for the login (a generated one would be installed for istio-proxy)",
      host: { privateKey: undefined },
      expect:
        /MeshVmArgs\.host\.privateKey: is required with runtime "package" \(its steps run as root, logged in as sshUser\); set MeshVmArgs\.host\.privateKey \(or MeshVmArgs\.host\.agentSocketPath\) for sshUser/,
    },
    {
      name: "the block with the container runtime",
      host: { runtime: "container" },
      expect: /MeshVmArgs\.host\.sidecarPackage: is set but MeshVmArgs\.host\.runtime is "container"/,
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
});
