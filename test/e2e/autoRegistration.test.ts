// Auto-registration (istio.io's VM guide, `istioctl x workload entry configure --autoregister`) through the real
// Pulumi engine against the real istiod, for both runtimes that run Istio's agent: MeshVm with
// `workloadGroup.autoRegister` declares the WorkloadGroup and no WorkloadEntry, the agent names the group, and
// istiod itself creates the VM's WorkloadEntry from it (the VM's address, the group's labels, the
// `istio.io/autoRegistrationGroup` annotation) and deletes it once the proxy is gone.
//
// - the package runtime on a systemd host, auto-registered from the first `up`: preview says istiod makes the
//   entry, `up` opens two SSH sessions, a second `up` none, destroy leaves the host as before;
// - the container runtime on a test host, switched from mesh-vm's WorkloadEntry to istiod's: the update restarts
//   the proxy with the group before it deletes mesh-vm's entry, then converges.
//
// Envoy is not built here, and the agent dials istiod only for a proxy connected to its xDS socket: the test bed's
// xds-client (scripts/testbed/xds-client) stands in for Envoy's stream, with the node and metadata the agent
// writes itself (its gRPC xDS bootstrap). The connection istiod sees, and loses when the proxy stops, is the
// agent's.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { MeshVm } from "../../components";
import { startCluster, type TestCluster } from "../../scripts/testbed/cluster";
import {
  createHosts,
  createSystemdHosts,
  type SystemdHost,
  type TestHost,
} from "../../scripts/testbed/hosts";
import {
  endpointDropped,
  listedEndpoint,
  installAgentImage,
  istiodTestBedMissing,
  networkGateway,
  type Istiod,
} from "../../scripts/testbed/istiod";
import { meshVmProgram, vmOn, type Knobs, type Vm } from "../../scripts/testbed/meshVmStack";
import { meshVmProviders, packageVmArgs, type PackageKnobs } from "../../scripts/testbed/packageVmStack";
import { poll } from "../../scripts/testbed/poll";
import { changedSteps, createTestStack, errors, steps, type TestStack } from "../../scripts/testbed/pulumi";
import {
  placeSidecarPackage,
  sidecarPackagePath,
  sidecarPackageVersion,
} from "../../scripts/testbed/sidecarPackage";
import { tearDown } from "../../scripts/testbed/teardown";
import { installXdsClient } from "../../scripts/testbed/xdsClient";
import type { KubeObject } from "../../scripts/testbed/kubeApi";

const GROUP_ANNOTATION = "istio.io/autoRegistrationGroup";
const DISCONNECTED_AT = "istio.io/disconnectedAt";
const XDS_CLIENT = "/var/tmp/xds-client";
// The agent's gRPC xDS bootstrap (GRPC_XDS_BOOTSTRAP's default, under the agent's working directory /).
const GRPC_BOOTSTRAP = "/etc/istio/proxy/grpc-bootstrap.json";

/** What the package suite compares before onboarding and after destroy (as packageRuntime.test.ts). */
const HOST_STATE =
  [
    "dpkg-query -W -f='${Package} ${Version}\\n' | sort",
    "cut -d: -f1 /etc/passwd | sort",
    "cut -d: -f1 /etc/group | sort",
    "cat /etc/hosts",
    "{ iptables-legacy-save; iptables-nft-save; } 2>/dev/null | grep -E '^(-A|:)' | grep -vE '^:(PREROUTING|INPUT|OUTPUT|POSTROUTING|FORWARD) '",
    "systemctl list-unit-files --no-legend --plain | awk '{ print $1, $2 }' | sort",
    "ls -1A /etc/istio /var/lib/istio /var/log/istio /etc/certs /usr/local/bin /lib/systemd/system /var/lib/mesh-vm /var/run/secrets/tokens 2>&1",
  ].join("; echo ---; ") + "; true";

const seconds = (ms: number) => (ms / 1000).toFixed(1);

describe(
  "auto-registration: istiod creates and deletes the VM's WorkloadEntry",
  { timeout: 40 * 60_000 },
  () => {
    let cluster: TestCluster | undefined;
    let istiod: Istiod;
    let pkgHost: SystemdHost | undefined;
    let dockerHost: TestHost | undefined;
    const stacks: TestStack[] = [];

    const entries = async (ns: string): Promise<KubeObject[]> => {
      const r = await cluster!.request(
        "GET",
        `/apis/networking.istio.io/v1/namespaces/${ns}/workloadentries`,
      );
      assert.equal(r.status, 200);
      return (r.body.items ?? []) as KubeObject[];
    };
    const entry = (ns: string, name: string) =>
      cluster!.request("GET", `/apis/networking.istio.io/v1/namespaces/${ns}/workloadentries/${name}`);
    /** istiod's entry (polled every 250 ms), with the time it took since `since`. */
    const istiodEntry = async (ns: string, name: string, since: number) => {
      const found = await poll(`istiod to create WorkloadEntry ${ns}/${name}`, 60_000, async () => {
        const r = await entry(ns, name);
        return r.status === 200 ? r.body : undefined;
      });
      return { found, ms: Date.now() - since };
    };
    /**
     * Destroys `stack` while watching istiod's entry: when istiod recorded the proxy's disconnect (its
     * `istio.io/disconnectedAt` annotation) and when the entry was gone (polled every 250 ms).
     */
    const destroyWatching = async (stack: TestStack, ns: string, name: string) => {
      let disconnectedAt: number | undefined;
      let goneAt: number | undefined;
      let watching = true;
      const watcher = (async () => {
        while (watching || goneAt === undefined) {
          const r = await entry(ns, name).catch(() => undefined);
          const at = r?.status === 200 ? r.body.metadata.annotations?.[DISCONNECTED_AT] : undefined;
          if (at) disconnectedAt = Date.parse(at);
          if (r?.status === 404) goneAt ??= Date.now();
          if (goneAt !== undefined && !watching) return;
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
      })();
      const { events } = await stack.destroy();
      const destroyed = Date.now();
      watching = false;
      await Promise.race([
        watcher,
        new Promise((_, reject) => setTimeout(() => reject(new Error(`${ns}/${name} stayed`)), 90_000)),
      ]);
      assert.ok(disconnectedAt, "istiod recorded the proxy's disconnect on its entry");
      return { events, disconnectedAt, goneAt: goneAt!, destroyed };
    };
    const listed = (address: string) => listedEndpoint(istiod, address);
    const unlisted = (address: string) => endpointDropped(istiod, address, 60_000);
    /** The stack's checkpoint holds no WorkloadEntry: istiod's is not mesh-vm's. */
    const assertNoEntryInState = async (stack: TestStack) => {
      const types =
        (await stack.exportState()).deployment.resources?.map((r: { type: string }) => r.type) ?? [];
      assert.ok(
        types.some((t: string) => t.endsWith(":WorkloadGroup")),
        types.join("\n"),
      );
      assert.ok(!types.some((t: string) => t.endsWith(":WorkloadEntry")), types.join("\n"));
    };
    /** istiod's entry as a user checks it: the VM's address, the group's labels and identity, the annotation. */
    const assertIstiodsEntry = (
      e: KubeObject,
      group: string,
      address: string,
      sa: string,
      labels: object,
    ) => {
      assert.equal(e.spec.address, address, JSON.stringify(e.spec));
      assert.equal(e.spec.serviceAccount, sa);
      for (const [k, v] of Object.entries(labels)) assert.equal(e.spec.labels?.[k], v, `label ${k}`);
      assert.equal(e.metadata.annotations?.[GROUP_ANNOTATION], group);
      assert.deepEqual(
        (e.metadata.ownerReferences ?? []).map((o: KubeObject) => `${o.kind}/${o.name}`),
        [`WorkloadGroup/${group}`],
      );
    };

    before(async () => {
      const missing = istiodTestBedMissing();
      const deb = await sidecarPackagePath().catch((e: Error) => (missing.push(e.message), ""));
      if (missing.length > 0) throw new Error(`the test bed is incomplete:\n- ${missing.join("\n- ")}`);
      // Hosts first: istiod listens on their network's gateway, which exists once a host is on it.
      [pkgHost] = await createSystemdHosts([{ name: "autoreg-pkg" }]);
      [dockerHost] = await createHosts([{ name: "autoreg-docker", networks: ["vm"] }]);
      cluster = await startCluster({ istiod: { address: networkGateway("vm") } });
      istiod = cluster.istiod!;
      for (const [ns, sa] of [
        [PKG.namespace, PKG.serviceAccount],
        ["bookinfo", "bookinfo-ratings"],
      ]) {
        await cluster.createNamespace(ns!);
        await cluster.createServiceAccount(ns!, sa!);
      }
      pkgKnobs.source = {
        version: sidecarPackageVersion(deb),
        file: await placeSidecarPackage(pkgHost!, deb, "/var/tmp"),
      };
      await installXdsClient(pkgHost!, XDS_CLIENT);
      dockerKnobs.agentImage = await installAgentImage(dockerHost!);
      await installXdsClient(dockerHost!, XDS_CLIENT);
    });

    after(async () => {
      await pkgHost
        ?.run("systemctl stop autoreg-xds-client 2>/dev/null; true", { check: false })
        .catch(() => {});
      await tearDown({ stacks, hosts: [pkgHost, dockerHost], cluster });
    });

    // ---- the package runtime, auto-registered from its first up ----------------------------------------------
    const PKG = {
      name: "payments",
      namespace: "shop",
      serviceAccount: "payments-sa",
      labels: { app: "payments", version: "v1" },
      port: 8080,
    };
    const pkgKnobs: PackageKnobs = {
      source: { version: "", file: "" },
      workloadGroup: { name: "payments", autoRegister: true },
    };
    let pkgStack: TestStack | undefined;
    let pkgBefore = "";
    let pkgEntryName = "";
    const pkgProgram = async () => {
      const vm = new MeshVm(PKG.name, packageVmArgs(cluster!, pkgHost!, PKG, pkgKnobs), {
        providers: meshVmProviders(cluster!),
      });
      return { workloadEntry: vm.workloadEntryName, manifests: vm.manifests };
    };
    /** Envoy's stand-in beside the package's unit (a transient unit: the host's unit files stay as they were). */
    const startPkgXdsClient = () =>
      pkgHost!.run(`systemd-run --quiet --collect --unit=autoreg-xds-client ${XDS_CLIENT} ${GRPC_BOOTSTRAP}`);

    it("package: preview plans the WorkloadGroup and no WorkloadEntry, and says istiod will make it", async () => {
      pkgBefore = (await pkgHost!.run(HOST_STATE)).stdout;
      pkgStack = await createTestStack({ program: pkgProgram, projectName: "mesh-vm-autoreg-package" });
      stacks.push(pkgStack);
      const logins = await pkgHost!.sshLogins();
      const { events } = await pkgStack.preview();
      assert.deepEqual(errors(events), []);
      const planned = steps(events).join("\n");
      assert.match(planned, /create kubernetes:networking.istio.io\/v1:WorkloadGroup payments-workloadgroup/);
      assert.doesNotMatch(planned, /WorkloadEntry/);
      pkgEntryName = `payments-${pkgHost!.address}`;
      const said = events
        .map((e) => e.diagnosticEvent?.message ?? "")
        .find((m) => m.includes("istiod creates the WorkloadEntry"));
      assert.ok(said, "preview says istiod makes the WorkloadEntry");
      assert.match(
        said,
        new RegExp(`WorkloadEntry shop/${pkgEntryName.replace(/\./g, "\\.")} from WorkloadGroup payments`),
      );
      assert.equal(await pkgHost!.sshLogins(), logins, "no SSH session at preview");
    });

    it("package: up runs the agent with the group; istiod creates the WorkloadEntry and lists the VM", async () => {
      const logins = await pkgHost!.sshLogins();
      const up = await pkgStack!.up();
      const sessions = (await pkgHost!.sshLogins()) - logins;
      console.log(`# SSH sessions per VM on create (package runtime, auto-registration): ${sessions}`);
      assert.equal(sessions, 2, "the host step and the proxy step");
      assert.equal(up.result.outputs.workloadEntry?.value, pkgEntryName, "the output names istiod's entry");
      assert.doesNotMatch(String(up.result.outputs.manifests?.value), /kind: WorkloadEntry/);
      assert.match(
        await pkgHost!.readFile("/var/lib/istio/envoy/cluster.env"),
        /^ISTIO_META_AUTO_REGISTER_GROUP='?payments'?$/m,
      );
      assert.equal(
        (await entries(PKG.namespace)).length,
        0,
        "nothing registered the VM yet: no proxy stream",
      );

      const t0 = Date.now();
      await startPkgXdsClient();
      const { found, ms } = await istiodEntry(PKG.namespace, pkgEntryName, t0);
      console.log(
        `# istiod created the WorkloadEntry (package runtime) ${seconds(ms)} s after the proxy's stream opened`,
      );
      assertIstiodsEntry(found, "payments", pkgHost!.address, PKG.serviceAccount, PKG.labels);
      assert.deepEqual(
        (await entries(PKG.namespace)).map((e) => e.metadata.name),
        [pkgEntryName],
      );
      const endpoint = await listed(pkgHost!.address);
      assert.equal(
        endpoint.ServiceAccount ?? endpoint.serviceAccount,
        `spiffe://cluster.local/ns/${PKG.namespace}/sa/${PKG.serviceAccount}`,
      );
      await assertNoEntryInState(pkgStack!);
    });

    it("package: a second up changes nothing and opens no SSH session", async () => {
      const logins = await pkgHost!.sshLogins();
      const { events } = await pkgStack!.up();
      assert.deepEqual(changedSteps(events), []);
      assert.equal(await pkgHost!.sshLogins(), logins, "no SSH session");
      assert.equal((await entry(PKG.namespace, pkgEntryName)).status, 200, "istiod's entry stays");
    });

    it("package: destroy stops the proxy and returns once istiod's entry is gone; the host is as before", async () => {
      const w = await destroyWatching(pkgStack!, PKG.namespace, pkgEntryName);
      assert.deepEqual(errors(w.events), []);
      console.log(
        `# the WorkloadEntry (package runtime) was gone ${seconds(w.goneAt - w.disconnectedAt)} s after the proxy disconnected; destroy returned ${seconds(w.destroyed - w.disconnectedAt)} s after it`,
      );
      // The WorkloadGroup, deleted after the proxy with pulumi-kubernetes' foreground propagation, owns istiod's
      // entry: the garbage collector deletes it with the group, so it is gone when destroy returns.
      assert.ok(w.goneAt <= w.destroyed + 1000, "the entry is gone when destroy returns");
      await unlisted(pkgHost!.address);
      // Envoy's stand-in exits with the agent; a stuck one would still hold the stream.
      await poll("the xds-client to exit once the agent is gone", 90_000, async () =>
        (await pkgHost!.systemctl("is-active autoreg-xds-client", false)).stdout.trim() !== "active"
          ? true
          : undefined,
      );
      assert.deepEqual((await pkgHost!.run(HOST_STATE)).stdout.split("\n"), pkgBefore.split("\n"));
    });

    // ---- the container runtime, switched from mesh-vm's WorkloadEntry to istiod's -----------------------------
    let dockerVm: Vm;
    const dockerKnobs: Knobs = { readinessTimeoutSeconds: 120 };
    let dockerStack: TestStack | undefined;
    let dockerEntryName = "";
    const NS = "bookinfo";
    const LABELS = { app: "ratings", class: "vm", version: "v3" };
    /**
     * Envoy's stand-in for the proxy container: on the host, reaching the agent's bootstrap and socket through the
     * container's root (/proc/<pid>/root); it exits once the container is gone.
     */
    const startDockerXdsClient = async () => {
      const pid = (await dockerHost!.containers()).find((c) => c.name === "istio-proxy")?.pid;
      assert.ok(pid, "the proxy container runs");
      const root = `/proc/${pid}/root`;
      await dockerHost!.run(
        `setsid -f ${XDS_CLIENT} ${root}${GRPC_BOOTSTRAP} ${root} >>/var/tmp/xds-client.log 2>&1 </dev/null`,
      );
    };

    it("container: mesh-vm's own WorkloadEntry first (auto-registration off)", async () => {
      dockerVm = vmOn("ratings-auto", dockerHost!);
      dockerStack = await createTestStack({
        program: meshVmProgram(cluster!, [dockerVm], dockerKnobs),
        projectName: "mesh-vm-autoreg-container",
      });
      stacks.push(dockerStack);
      const up = await dockerStack.up();
      assert.equal(up.result.summary.result, "succeeded", errors(up.events).join("\n"));
      assert.equal((await entry(NS, dockerVm.name)).status, 200, "mesh-vm's WorkloadEntry");
      await startDockerXdsClient();
    });

    it("container: switching autoRegister on restarts the proxy with the group, then deletes mesh-vm's entry; istiod's replaces it", async () => {
      dockerKnobs.workloadGroup = { name: "ratings", autoRegister: true };
      dockerEntryName = `ratings-${dockerHost!.address}`;
      const up = await dockerStack!.up();
      assert.equal(up.result.summary.result, "succeeded", errors(up.events).join("\n"));
      const changed = changedSteps(up.events);
      const at = (re: RegExp) => changed.findIndex((s) => re.test(s));
      const proxyStep = at(/^update command:remote:Command ratings-auto-proxy-proxy$/);
      const oldEntry = at(
        /^delete kubernetes:networking\.istio\.io\/v1:WorkloadEntry ratings-auto-workloadentry$/,
      );
      assert.ok(
        proxyStep >= 0 && oldEntry > proxyStep,
        `the proxy restarts before mesh-vm's entry goes:\n${changed.join("\n")}`,
      );
      assert.ok(
        at(/^create kubernetes:networking\.istio\.io\/v1:WorkloadGroup ratings-auto-workloadgroup$/) >= 0,
      );
      assert.equal(up.result.outputs[`${dockerVm.name}.workloadEntry`]?.value, dockerEntryName);
      assert.equal((await entry(NS, dockerVm.name)).status, 404, "mesh-vm's entry is gone");
      assert.match(
        await dockerHost!.readFile("/etc/istio-proxy/sidecar.env"),
        /^ISTIO_META_AUTO_REGISTER_GROUP=ratings$/m,
      );

      // The proxy container was re-created with the new config: Envoy's stand-in starts with it.
      const t0 = Date.now();
      await startDockerXdsClient();
      const { found, ms } = await istiodEntry(NS, dockerEntryName, t0);
      console.log(
        `# istiod created the WorkloadEntry (container runtime) ${seconds(ms)} s after the proxy's stream opened`,
      );
      assertIstiodsEntry(found, "ratings", dockerHost!.address, "bookinfo-ratings", LABELS);
      assert.deepEqual(
        (await entries(NS)).map((e) => e.metadata.name),
        [dockerEntryName],
        "one entry: istiod's",
      );
      await listed(dockerHost!.address);
      await assertNoEntryInState(dockerStack!);
    });

    it("container: a second up changes nothing and opens no SSH session", async () => {
      const logins = await dockerHost!.sshLogins();
      const { events } = await dockerStack!.up();
      assert.deepEqual(changedSteps(events), []);
      assert.equal(await dockerHost!.sshLogins(), logins, "no SSH session");
    });

    it("container: destroy removes the proxy and returns once istiod's entry is gone", async () => {
      const w = await destroyWatching(dockerStack!, NS, dockerEntryName);
      assert.deepEqual(errors(w.events), []);
      console.log(
        `# the WorkloadEntry (container runtime) was gone ${seconds(w.goneAt - w.disconnectedAt)} s after the proxy disconnected; destroy returned ${seconds(w.destroyed - w.disconnectedAt)} s after it`,
      );
      // The WorkloadGroup, deleted after the proxy with pulumi-kubernetes' foreground propagation, owns istiod's
      // entry: the garbage collector deletes it with the group, so it is gone when destroy returns.
      assert.ok(w.goneAt <= w.destroyed + 1000, "the entry is gone when destroy returns");
      await unlisted(dockerHost!.address);
      assert.deepEqual(await dockerHost!.containers(), [], "no container left");
      assert.equal(await dockerHost!.exists("/etc/istio-proxy"), false, "no config dir left");
    });
  },
);
