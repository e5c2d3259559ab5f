// The forwarding proxy (seed 003's last picture) end to end: one VM runs the envoy runtime with `forward`, other
// VMs stay untouched and call the mesh with plain TCP through it.
// - "fwd-proxy", a test host, is onboarded by MeshVm over SSH through the real engine, with its workload
//   certificate from the real istiod (its own identity, a ServiceAccount MeshVm creates); the SSH sessions of
//   its create are counted.
// - The forwarding Envoy is a stand-in (scripts/testbed/envoy-validate/standin `forward`, not Envoy): run in
//   fwd-proxy's network namespace, it takes its listener, source ranges, cluster, SNI, ALPN, certificate, root and
//   SAN rule from the files MeshVm wrote on fwd-proxy. Behind it, the passthrough gateway and the destination's
//   sidecar stand-ins of envoyDataPath.test.ts, the sidecar with istiod's certificate for bookinfo-reviews.
// - "fwd-app", a second test host with no mesh-vm file, connects with plain TCP from its own network namespace
//   and gets the destination's answer, which names fwd-proxy's identity; the machine's own address on the VM
//   network, outside the source range, is closed without an answer and without a call into the mesh.
import assert from "node:assert/strict";
import { spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parse } from "yaml";
import { MeshVm } from "../../components";
import { upstreamSni } from "../../components/runtime/envoyBootstrap";
import { startCluster, type TestCluster } from "../../scripts/testbed/cluster";
import {
  envoyStandinPath,
  ENVOY_DIR,
  ENVOY_FILES,
  validateEnvoyFiles,
} from "../../scripts/testbed/envoyValidator";
import { createHosts, NETWORKS, type TestHost } from "../../scripts/testbed/hosts";
import { ISTIO_NAMESPACE, istioBinaries, type Istiod } from "../../scripts/testbed/istiod";
import { issueFromIstiod } from "../../scripts/testbed/istiodCertificate";
import {
  changedSteps,
  createTestStack,
  errors,
  kubernetesProvider,
  type TestStack,
} from "../../scripts/testbed/pulumi";
import { PROXY_IMAGE } from "../../scripts/testbed/meshVmStack";
import { startMeshDestination, startStandin } from "../../scripts/testbed/envoyStandins";
import { tearDown } from "../../scripts/testbed/teardown";

/** The machine's own address on the VM network (the bridge): where the gateway stand-in listens. */
const MACHINE = `${NETWORKS.vm.prefix}.1`;
const REVIEWS = {
  host: "reviews.bookinfo.svc.cluster.local",
  port: 9080,
  protocol: "TCP",
  serviceAccount: "bookinfo-reviews",
  localPort: 9080,
};

/**
 * Plain TCP from `localAddress`: sends a line, returns what came back before the close. A close with our line
 * still unread arrives as a reset (ECONNRESET), depending on timing: that is a close too.
 */
function plainCall(host: string, port: number, localAddress: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port, localAddress });
    let got = "";
    s.setTimeout(15_000, () => s.destroy(new Error("timed out")));
    s.on("connect", () => s.write("ratings please\n"));
    s.on("data", (d) => (got += d.toString()));
    s.on("error", (e: NodeJS.ErrnoException) => (e.code === "ECONNRESET" ? resolve(got) : reject(e)));
    s.on("close", () => resolve(got));
  });
}

describe("envoy runtime: the forwarding proxy serves an untouched VM", { timeout: 20 * 60_000 }, () => {
  let cluster: TestCluster | undefined;
  let istiod: Istiod;
  let proxyHost: TestHost | undefined;
  let appHost: TestHost | undefined;
  let stack: TestStack | undefined;
  let work = "";
  let gatewayPort = 0;
  const procs: ChildProcess[] = [];
  let forwardLog = "";

  /** Waits (the stand-in's stderr arrives asynchronously) until the forward stand-in logged `re`. */
  async function logged(re: RegExp): Promise<void> {
    for (let i = 0; i < 50 && !re.test(forwardLog); i++) await new Promise((r) => setTimeout(r, 100));
    assert.match(forwardLog, re);
  }

  before(async () => {
    istioBinaries(); // fails naming scripts/istio.sh when istiod is not built
    envoyStandinPath(); // fails naming the set-up when the stand-ins are not built
    work = mkdtempSync(join(tmpdir(), "envoy-forwarding-"));
    [proxyHost, appHost] = await createHosts([{ name: "fwd-proxy" }, { name: "fwd-app" }]);
    cluster = await startCluster({ istiod: { address: "127.0.0.1" } });
    istiod = cluster.istiod!;
    await cluster.createNamespace("vms");
    await cluster.createNamespace("bookinfo");
    await cluster.createServiceAccount("bookinfo", "bookinfo-reviews");

    // The destination: a sidecar stand-in with istiod's certificate for bookinfo-reviews, behind the
    // passthrough gateway stand-in on the machine's VM-network address (where fwd-proxy reaches it).
    const reviews = issueFromIstiod(cluster, istiod, work, "bookinfo", "bookinfo-reviews");
    gatewayPort = await startMeshDestination(
      procs,
      work,
      { ...reviews, rootCertPem: istiod.rootCertPem },
      upstreamSni(REVIEWS),
      MACHINE,
    );

    stack = await createTestStack({
      projectName: "mesh-vm-envoy-forwarding-e2e",
      program: async () => {
        const provider = kubernetesProvider("cluster", cluster!.kubeconfig);
        const vm = new MeshVm(
          "fwd-proxy",
          {
            namespace: "vms",
            address: proxyHost!.address,
            serviceAccount: "fwd-proxy",
            createServiceAccount: true,
            sshPort: proxyHost!.sshPort,
            labels: { app: "fwd-proxy" },
            host: {
              hostKey: proxyHost!.hostKey,
              prepare: { admin: { user: proxyHost!.adminUser, privateKey: proxyHost!.adminPrivateKey } },
              kubeconfig: cluster!.kubeconfig,
              runtime: "envoy",
              envoy: {
                gatewayAddress: MACHINE,
                gatewayPort,
                upstreams: [{ ...REVIEWS, authorize: { selector: { app: "reviews" } } }],
                forward: { address: proxyHost!.address, sourceRanges: [`${appHost!.address}/32`] },
                image: PROXY_IMAGE,
                readinessTimeoutSeconds: 60,
                certificate: {
                  caAddress: `127.0.0.1:${istiod.port}`,
                  caServerName: `istiod.${ISTIO_NAMESPACE}.svc`,
                },
              },
            },
          },
          { providers: { kubernetes: provider } },
        );
        return {
          spiffeId: vm.spiffeId,
          manifests: vm.manifests,
          policies: vm.authorizationPolicyNames,
          state: vm.proxy.apply((p) => p?.containerState),
        };
      },
    });
  });

  after(async () => {
    for (const p of procs) p.kill("SIGKILL");
    await tearDown({ stacks: [stack], hosts: [proxyHost, appHost], cluster });
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("up onboards the forwarding VM in two SSH sessions; the untouched VM reaches the mesh through it; other sources are refused", async () => {
    const up = await stack!.up();
    assert.equal(up.result.summary.result, "succeeded", errors(up.events).join("\n"));
    assert.equal(up.result.outputs["state"]?.value, "running");
    assert.equal(await proxyHost!.sshLogins(), 2, "create: the host step and the proxy step");
    const identity = String(up.result.outputs["spiffeId"]?.value);
    assert.equal(identity, "spiffe://cluster.local/ns/vms/sa/fwd-proxy");
    const sa = await cluster!.request("GET", "/api/v1/namespaces/vms/serviceaccounts/fwd-proxy");
    assert.equal(sa.status, 200, "the forwarding VM's identity is a ServiceAccount MeshVm created");
    // No WorkloadEntry sync: the VM's Envoy never talks to istiod, so MeshVm declares no registration objects.
    for (const kind of ["workloadentries", "sidecars", "serviceentries", "workloadgroups"]) {
      const list = await cluster!.request("GET", `/apis/networking.istio.io/v1/namespaces/vms/${kind}`);
      assert.equal(list.status, 200);
      assert.deepEqual(list.body.items, [], `no ${kind} in vms`);
    }
    const ap = await cluster!.request(
      "GET",
      "/apis/security.istio.io/v1/namespaces/bookinfo/authorizationpolicies/fwd-proxy-to-reviews-9080",
    );
    assert.equal(ap.status, 200, "the destination admits the forwarding VM's principal");
    assert.deepEqual(ap.body.spec.rules[0].from[0].source.principals, ["cluster.local/ns/vms/sa/fwd-proxy"]);
    assert.doesNotMatch(String(up.result.outputs["manifests"]?.value), /WorkloadEntry|Sidecar/);

    // The files as MeshVm wrote them on fwd-proxy: they pass Envoy's API rules, and the stand-in reads them.
    const files = await Promise.all(
      ENVOY_FILES.map(async (f) => ({
        path: `${ENVOY_DIR}/${f}`,
        content: await proxyHost!.readFile(`${ENVOY_DIR}/${f}`),
      })),
    );
    assert.deepEqual(validateEnvoyFiles(files, `${ENVOY_DIR}/envoy.yaml`).problems, []);
    const root = join(work, "fwd-proxy-root");
    for (const f of files) {
      mkdirSync(dirname(join(root, f.path)), { recursive: true });
      writeFileSync(join(root, f.path), f.content, { mode: 0o600 });
    }
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const config: any = parse(files[0]!.content);
    const listener = config.static_resources.listeners[0];
    const { address, port_value: port } = listener.address.socket_address;
    assert.equal(address, proxyHost!.address, "the listener is on the VM's interface");
    await startStandin(
      procs,
      [
        "forward",
        "--config",
        join(root, `${ENVOY_DIR}/envoy.yaml`),
        "--root",
        root,
        "--listener",
        listener.name,
      ],
      { netns: proxyHost!.netns, log: (s) => (forwardLog += s) },
    );

    // The untouched VM: nothing of mesh-vm on it; plain TCP from its own network namespace.
    assert.equal(await appHost!.exists(ENVOY_DIR), false);
    assert.equal(await appHost!.exists("/etc/istio-proxy"), false);
    assert.deepEqual(await appHost!.containers(), []);
    const call = spawnSync(
      "ip",
      ["netns", "exec", appHost!.netns, "bash", "-c"].concat([
        'exec 3<>"/dev/tcp/$0/$1" && printf "ratings please\\n" >&3 && timeout 15 cat <&3',
        address,
        String(port),
      ]),
      { encoding: "utf8", timeout: 30_000 },
    );
    assert.equal(call.stdout.trim(), `hello ${identity}, you said ratings please`, call.stderr);
    await logged(new RegExp(`forward: ${appHost!.address.replaceAll(".", "\\.")} through`));

    // The machine's own address on that network is outside the range: closed, nothing reaches the mesh.
    const outside = await plainCall(address, port, MACHINE);
    assert.equal(outside, "");
    await logged(new RegExp(`refused ${MACHINE.replaceAll(".", "\\.")}: no filter chain matches`));
    assert.doesNotMatch(forwardLog, new RegExp(`forward: ${MACHINE.replaceAll(".", "\\.")} through`));

    const logins = await proxyHost!.sshLogins();
    const again = await stack!.up();
    assert.deepEqual(changedSteps(again.events), []);
    assert.equal(await proxyHost!.sshLogins(), logins, "a second up opens no SSH session");

    const down = await stack!.destroy();
    assert.equal(down.result.summary.result, "succeeded");
    assert.equal(await proxyHost!.exists(ENVOY_DIR), false, `${ENVOY_DIR} is gone`);
  });
});
