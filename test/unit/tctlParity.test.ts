// A tctl user's WorkloadEntry YAML behaves as `tctl x sidecar-bootstrap` made it behave (issue #12): each test
// feeds tctl-style YAML through fromManifests into a MeshVm with `host` (Pulumi mocks) and compares what the
// proxy gets (sidecar.env, `docker run`) and the objects with what tctl renders for the same input.
import { registrations } from "./helpers/pulumiMocks";
import assert from "node:assert/strict";
import { describe, it, mock } from "node:test";
import { parse } from "yaml";
import * as pulumi from "@pulumi/pulumi";
import { fromManifests, MeshVm } from "../../components";
import type { MeshVmHostArgs, MeshVmProxyState } from "../../components";
import { parseStackConfig, StackConfigError } from "../../components/stack/config";

function valueOf<T>(o: pulumi.Output<T>): Promise<T> {
  return (o as unknown as { promise(): Promise<T> }).promise();
}

const KUBECONFIG =
  "current-context: c\ncontexts: [{name: c, context: {cluster: k, user: u}}]\n" +
  "clusters: [{name: k, cluster: {server: 'https://127.0.0.1:6443'}}]\nusers: [{name: u, user: {token: t}}]\n";

const baseHost: MeshVmHostArgs = {
  hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKey",
  prepare: { admin: { user: "admin", privateKey: "ADMIN-KEY" } },
  kubeconfig: KUBECONFIG,
  proxyImageTag: "1.8.6",
};

interface WorkloadEntryParts {
  apiVersion?: string;
  /** Extra `metadata.annotations` lines (`key: value`). */
  annotations?: string[];
  /** `metadata.labels` lines. */
  labels?: string[];
  /** Replaces the `spec.address` line ("" drops it). */
  address?: string;
}

/** A WorkloadEntry as the TSB guide has tctl users write it. */
function tctlYaml(p: WorkloadEntryParts = {}): string {
  const indent = (lines: string[]) => lines.map((l) => `    ${l}\n`).join("");
  const labels = p.labels === undefined ? "" : `  labels:\n${indent(p.labels)}`;
  const address =
    p.address === undefined
      ? "  address: 35.194.38.143\n"
      : p.address === ""
        ? ""
        : `  address: ${p.address}\n`;
  return `apiVersion: ${p.apiVersion ?? "networking.istio.io/v1beta1"}
kind: WorkloadEntry
metadata:
  name: details-vm
  namespace: bookinfo
${labels}  annotations:
    sidecar-bootstrap.istio.io/ssh-user: istio-proxy
    sidecar-bootstrap.istio.io/proxy-config-dir: /etc/istio-proxy
    sidecar-bootstrap.istio.io/proxy-image-hub: docker.io/tetrate
    sidecar-bootstrap.istio.io/proxy-instance-ip: 10.128.0.3
${indent(p.annotations ?? [])}spec:
${address}  labels:
    class: vm
    app: details
    version: v1
  serviceAccount: bookinfo-details
  network: vm-us-central1-a
`;
}

let count = 0;

/** The issues `mesh-vm:manifests: [{ yaml, host }]` is refused with (host: baseHost's pinned key and login). */
function stackConfigIssues(yaml: string, host: Record<string, unknown>): string {
  try {
    parseStackConfig({
      stack: "dev",
      values: {
        "mesh-vm:kubeconfig": KUBECONFIG,
        "mesh-vm:manifests": JSON.stringify([
          {
            yaml,
            host: { hostKey: baseHost.hostKey, agentSocketPath: "/run/agent", ...host },
          },
        ]),
      },
      secretKeys: new Set(["mesh-vm:kubeconfig"]),
      env: {},
    });
  } catch (e) {
    assert.ok(e instanceof StackConfigError, String(e));
    return e.message;
  }
  return "";
}

/** Onboards the YAML with `host`; returns the proxy's state, its sidecar.env as a map and the MeshVm. */
async function onboard(yaml: string, host: Partial<MeshVmHostArgs> = {}) {
  const vm = new MeshVm(`tctl-${count++}`, { ...fromManifests(yaml), host: { ...baseHost, ...host } });
  const proxy = (await valueOf(vm.proxy)) as MeshVmProxyState;
  const env = Object.fromEntries(
    proxy.sidecarEnv.split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
  return { vm, proxy, env, run: proxy.dockerRunCommand };
}

describe("tctl parity: CA_SNI / PILOT_SNI (#7)", () => {
  it("treats one- and two-label istiod names as cluster-local, like tctl", async () => {
    for (const [discoveryAddress, sni] of [
      ["istiod.istio-system:15012", ""],
      ["istiod:15012", ""],
      ["istiod.istio-system.svc.cluster.local:15012", ""],
      ["istiod.istio-system.svc.cluster:15012", ""],
      ["istiod.example.com:15012", "istiod.istio-system.svc"],
      ["istiod.istio-system.svc.example.com:15012", "istiod.istio-system.svc"],
      ["203.0.113.9:15012", "istiod.istio-system.svc"],
    ]) {
      const { env } = await onboard(tctlYaml(), { mesh: { discoveryAddress } });
      assert.equal(env.CA_ADDR, discoveryAddress);
      assert.equal(env.CA_SNI, sni, `CA_SNI for ${discoveryAddress}`);
      assert.equal(env.PILOT_SNI, sni, `PILOT_SNI for ${discoveryAddress}`);
    }
  });
});

describe("tctl parity: proxy.istio.io/config (#1)", () => {
  const annotated = tctlYaml({
    annotations: [
      "proxy.istio.io/config: |",
      "  concurrency: 2",
      "  statusPort: 15021",
      "  proxyMetadata:",
      '    ISTIO_META_DNS_CAPTURE: "true"',
      "    B_KEY: b",
    ],
  });
  const mesh = {
    proxyConfig: { concurrency: 8, holdApplicationUntilProxyStarts: true, proxyMetadata: { MESH_KEY: "m" } },
  };

  it("merges it last into PROXY_CONFIG, its proxyMetadata into sidecar.env, its concurrency into --concurrency", async () => {
    const { env, proxy, run } = await onboard(annotated, { mesh });
    assert.deepEqual(proxy.sidecarEnv.split("\n").slice(0, 2), ["B_KEY=b", "ISTIO_META_DNS_CAPTURE=true"]);
    assert.equal(env.MESH_KEY, undefined, "the annotation's proxyMetadata replaces the mesh's, as in tctl");
    const pc = JSON.parse(env.PROXY_CONFIG!) as Record<string, unknown>;
    assert.equal(pc.concurrency, 2);
    assert.equal(pc.statusPort, 15021, "the annotation wins over tctl's defaults");
    assert.equal(pc.holdApplicationUntilProxyStarts, true, "the mesh's fields stay");
    assert.match(run, / --concurrency 2 /);
  });

  it("without it, the mesh's concurrency is cleared: --concurrency 0", async () => {
    const { env, run } = await onboard(tctlYaml(), { mesh });
    assert.equal(env.MESH_KEY, "m");
    assert.equal((JSON.parse(env.PROXY_CONFIG!) as Record<string, unknown>).concurrency, undefined);
    assert.match(run, / --concurrency 0 /);
  });

  it("refuses at preview a value the proxy could not use, naming the annotation", () => {
    for (const [value, problem] of [
      ["concurrency: many", /concurrency "many" is not a whole number >= 0/],
      ["[a, b]", /is not a ProxyConfig map/],
      ["proxyMetadata: {BAD-KEY: x}", /proxyMetadata key "BAD-KEY" is not an environment variable name/],
    ] as const) {
      const yaml = tctlYaml({ annotations: [`proxy.istio.io/config: "${value}"`] });
      assert.throws(
        () => new MeshVm(`tctl-bad-${count++}`, { ...fromManifests(yaml), host: baseHost }),
        (e: Error) =>
          /MeshVmArgs\.annotations\["proxy\.istio\.io\/config"\]: /.test(e.message) &&
          problem.test(e.message),
      );
    }
  });
});

describe("tctl parity: sidecar.istio.io/logLevel and componentLogLevel (#2)", () => {
  it("passes them as --proxyLogLevel / --proxyComponentLogLevel", async () => {
    const yaml = tctlYaml({
      annotations: [
        "sidecar.istio.io/logLevel: debug",
        "sidecar.istio.io/componentLogLevel: misc:error,upstream:debug",
      ],
    });
    const { run } = await onboard(yaml);
    assert.match(run, / --proxyLogLevel debug --proxyComponentLogLevel misc:error,upstream:debug$/);
  });

  it("defaults to info / misc:info without them", async () => {
    const { run } = await onboard(tctlYaml());
    assert.match(run, / --proxyLogLevel info --proxyComponentLogLevel misc:info$/);
  });

  it("refuses at preview a level the proxy does not know", () => {
    const yaml = tctlYaml({
      annotations: ["sidecar.istio.io/logLevel: verbose", "sidecar.istio.io/componentLogLevel: upstream"],
    });
    assert.throws(
      () => new MeshVm(`tctl-bad-${count++}`, { ...fromManifests(yaml), host: baseHost }),
      (e: Error) =>
        /annotations\["sidecar\.istio\.io\/logLevel"\]: "verbose" is not a log level/.test(e.message) &&
        /annotations\["sidecar\.istio\.io\/componentLogLevel"\]: "upstream" is not <component>:<level>/.test(
          e.message,
        ),
    );
  });
});

describe("tctl parity: sidecar.istio.io/proxyImage (#3)", () => {
  const yaml = tctlYaml({
    annotations: ["sidecar.istio.io/proxyImage: registry.example/tetrate/proxyv2:1.8.6-p1"],
  });

  it("replaces the whole image", async () => {
    const { proxy, run } = await onboard(yaml, { proxyImageTag: undefined });
    assert.equal(proxy.proxyImage, "registry.example/tetrate/proxyv2:1.8.6-p1");
    assert.match(run, / registry\.example\/tetrate\/proxyv2:1\.8\.6-p1 proxy sidecar /);
  });

  it("refuses it with a host image setting in the stack config too", () => {
    assert.match(
      stackConfigIssues(yaml, { proxyImageTag: "1.8.6" }),
      /mesh-vm:manifests\[0\]\.host\.proxyImageTag: proxyImageTag is set while .*sidecar\.istio\.io\/proxyImage/,
    );
    assert.equal(stackConfigIssues(yaml, {}), "", "accepted without one");
  });

  it("refuses at preview a host image setting it would override", () => {
    for (const host of [
      { proxyImageTag: "1.8.6" },
      { proxyImageTag: undefined, proxyImage: "x/proxyv2:1" },
    ]) {
      const setting = Object.keys(host).find((k) => host[k as keyof typeof host] !== undefined)!;
      assert.throws(
        () => new MeshVm(`tctl-bad-${count++}`, { ...fromManifests(yaml), host: { ...baseHost, ...host } }),
        (e: Error) =>
          e.message.includes(
            `MeshVmArgs.host.${setting}: ${setting} is set while MeshVmArgs.annotations["sidecar.istio.io/proxyImage"] names the whole image`,
          ),
      );
    }
  });
});

describe("tctl parity: WorkloadEntry metadata.labels (#4)", () => {
  const yaml = tctlYaml({
    labels: [
      "service.istio.io/canonical-name: details",
      "service.istio.io/canonical-revision: v1-2",
      "team: books",
    ],
  });

  it("are accepted, kept on the object and read into CANONICAL_SERVICE / CANONICAL_REVISION", async () => {
    const { vm, env } = await onboard(yaml);
    const objects = await valueOf(vm.objects);
    assert.deepEqual(objects.workloadEntry, parse(yaml), "the object renders as written");
    assert.equal(env.CANONICAL_SERVICE, "details");
    assert.equal(env.CANONICAL_REVISION, "v1-2");
    assert.equal(
      env.ISTIO_METAJSON_LABELS,
      '{"app":"details","class":"vm","service.istio.io/canonical-name":"details",' +
        '"service.istio.io/canonical-revision":"v1-2","team":"books","version":"v1"}',
    );
  });

  it("without them CANONICAL_SERVICE / CANONICAL_REVISION stay empty, as tctl leaves them", async () => {
    const { env } = await onboard(tctlYaml());
    assert.equal(env.CANONICAL_SERVICE, "");
    assert.equal(env.CANONICAL_REVISION, "");
  });

  it("refuses at preview a label Kubernetes would refuse", () => {
    const args = fromManifests(tctlYaml({ labels: ['"bad key!": x'] }));
    assert.throws(
      () => new MeshVm(`tctl-bad-${count++}`, args),
      /MeshVmArgs\.metadataLabels\["bad key!"\]: /,
    );
  });
});

describe("tctl parity: networking.istio.io/v1alpha3 (#5)", () => {
  const sidecar = `apiVersion: networking.istio.io/v1alpha3
kind: Sidecar
metadata:
  name: bookinfo-details-no-iptables
  namespace: bookinfo
spec:
  egress:
  - bind: 127.0.0.2
    hosts:
    - ./*
  ingress:
  - defaultEndpoint: 127.0.0.1:9080
    port:
      name: http
      number: 9080
      protocol: HTTP
  workloadSelector:
    labels:
      app: details
      class: vm
`;
  const yaml = `${tctlYaml({ apiVersion: "networking.istio.io/v1alpha3" })}---\n${sidecar}`;

  it("is accepted and rendered as chosen, and preview says so", async () => {
    const info = mock.method(pulumi.log, "info");
    try {
      const { vm } = await onboard(yaml);
      const objects = await valueOf(vm.objects);
      assert.deepEqual(
        objects.workloadEntry,
        parse(tctlYaml({ apiVersion: "networking.istio.io/v1alpha3" })),
      );
      assert.deepEqual(objects.sidecar, parse(sidecar));
      await valueOf(vm.workloadEntryName);
      const we = registrations.find((r) => r.name === `tctl-${count - 1}-workloadentry`);
      assert.equal(we?.type, "kubernetes:networking.istio.io/v1alpha3:WorkloadEntry");
      const messages = info.mock.calls.map((c) => String(c.arguments[0]));
      assert.ok(
        messages.some((m) =>
          /renders its networking objects as networking\.istio\.io\/v1alpha3, as chosen/.test(m),
        ),
        messages.join("\n"),
      );
    } finally {
      info.mock.restore();
    }
  });
});

describe("tctl parity: a WorkloadEntry without spec.address (#6)", () => {
  const yaml = tctlYaml({ address: "" });

  it("is fine for the mesh objects alone (it has a network)", () => {
    assert.doesNotThrow(() => new MeshVm(`tctl-${count++}`, fromManifests(yaml)));
  });

  it("fails at preview, before anything registers, naming the field and the fix, when the proxy is onboarded", () => {
    const before = registrations.length;
    assert.throws(
      () => new MeshVm(`tctl-bad-${count++}`, { ...fromManifests(yaml), host: baseHost }),
      (e: Error) =>
        e.message.includes(
          "MeshVmArgs.address: the proxy on the VM (MeshVmArgs.host) needs the WorkloadEntry address (spec.address: " +
            "IDENTITY_IP, HOST_IP and the default SSH host); set MeshVmArgs.address to the address pods reach the VM on",
        ) && !e.message.includes("serializing"),
    );
    assert.equal(registrations.length, before, "nothing was registered");
    assert.match(
      stackConfigIssues(yaml, {}),
      /mesh-vm:manifests\[0\]\.address: the proxy on the VM \(mesh-vm:manifests\[0\]\.host\) needs the WorkloadEntry address/,
    );
  });
});

describe("tctl parity: --add-host through a gateway (#8)", () => {
  const addHosts = (run: string) => [...run.matchAll(/--add-host (\S+)/g)].map((m) => m[1]);
  const spellings = (svc: string, ns: string) =>
    ["", ".svc", ".svc.cluster", ".svc.cluster.local"].map((s) => `${svc}.${ns}${s}`);

  it("maps istiod, the discovery, tracing, access-log and metrics addresses and the CA, sorted and de-duplicated", async () => {
    const yaml = tctlYaml({
      annotations: [
        "proxy.istio.io/config: |",
        "  tracing:",
        "    zipkin: {address: 'zipkin.istio-system:9411'}",
        "    tlsSettings: {sni: tracing.tsb-system.svc}",
        "  envoyAccessLogService: {address: 'als.tsb-system.svc.cluster.local:11800'}",
        "  envoyMetricsService: {address: 'otel:4317'}",
      ],
    });
    const { run, env } = await onboard(yaml, {
      gatewayAddress: "203.0.113.5",
      mesh: {
        caAddress: "istiod.istio-system.svc:15012",
        proxyConfig: { discoveryAddress: "istiod-canary.istio-system.svc:15012" },
      },
    });
    assert.equal(env.CA_ADDR, "istiod.istio-system.svc:15012");
    assert.equal(
      (JSON.parse(env.PROXY_CONFIG!) as Record<string, unknown>).discoveryAddress,
      "istiod-canary.istio-system.svc:15012",
    );
    // tctl sorts the names, then maps each to the gateway IP.
    const names = [
      ...spellings("als", "tsb-system"),
      ...spellings("istiod-canary", "istio-system"),
      ...spellings("istiod", "istio-system"),
      ...spellings("otel", "bookinfo"),
      ...spellings("tracing", "tsb-system"),
      ...spellings("zipkin", "istio-system"),
    ].sort();
    assert.deepEqual(
      addHosts(run),
      names.map((n) => `${n}:203.0.113.5`),
    );
  });

  it("maps a revisioned istiod's discovery address, which CA_ADDR follows", async () => {
    const { run, env } = await onboard(tctlYaml(), {
      gatewayAddress: "203.0.113.5",
      mesh: { proxyConfig: { discoveryAddress: "istiod-1-8-6.istio-system.svc:15012" } },
    });
    assert.equal(env.CA_ADDR, "istiod-1-8-6.istio-system.svc:15012");
    assert.ok(addHosts(run).includes("istiod-1-8-6.istio-system.svc:203.0.113.5"), run);
  });

  it("refuses a DNS-name gateway at preview, saying how to get tctl's behaviour", () => {
    const args = { ...fromManifests(tctlYaml()), host: { ...baseHost, gatewayAddress: "gw.example.com" } };
    assert.throws(
      () => new MeshVm(`tctl-bad-${count++}`, args),
      (e: Error) =>
        e.message.includes('MeshVmArgs.host.gatewayAddress: "gw.example.com" is not an IP') &&
        e.message.includes('set MeshVmArgs.host.mesh.discoveryAddress to "gw.example.com:15012"'),
    );
  });

  it("gets tctl's addresses and SNIs for a DNS gateway from an explicit discovery address", async () => {
    const { run, env } = await onboard(tctlYaml(), { mesh: { discoveryAddress: "gw.example.com:15012" } });
    assert.equal(env.CA_ADDR, "gw.example.com:15012");
    assert.equal(env.CA_SNI, "istiod.istio-system.svc");
    assert.equal(env.PILOT_SNI, "istiod.istio-system.svc");
    assert.deepEqual(addHosts(run), []);
  });
});

describe("tctl parity: proxy-config-dir round trip (#9)", () => {
  it("keeps an explicit /tmp/istio-proxy annotation on the rendered WorkloadEntry", async () => {
    const yaml = tctlYaml().replace(
      "proxy-config-dir: /etc/istio-proxy",
      "proxy-config-dir: /tmp/istio-proxy",
    );
    const { vm, run } = await onboard(yaml);
    const objects = await valueOf(vm.objects);
    assert.deepEqual(objects.workloadEntry, parse(yaml));
    assert.match(run, /--env-file \/tmp\/istio-proxy\/sidecar\.env /);
  });

  it("without the annotation, uses tctl's /tmp/istio-proxy and adds no annotation", async () => {
    const yaml = tctlYaml().replace(
      "    sidecar-bootstrap.istio.io/proxy-config-dir: /etc/istio-proxy\n",
      "",
    );
    const { vm, run } = await onboard(yaml);
    const objects = await valueOf(vm.objects);
    assert.deepEqual(objects.workloadEntry, parse(yaml));
    assert.match(run, /--env-file \/tmp\/istio-proxy\/sidecar\.env /);
  });
});
