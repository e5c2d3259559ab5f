// The package runtime's files against what `istioctl x workload entry configure` writes for the same
// WorkloadGroup, mesh config and flags. The expected files are written here by hand from istioctl's code
// (istioctl/pkg/workload/workload.go of the pinned istio module: createClusterEnv, createMeshConfig,
// createHosts, mapToString, pkg/util/shellescape, pkg/kube/labels) for this test's own inputs.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse } from "yaml";
import {
  clusterEnvAdditions,
  envFileOf,
  istioctlClusterEnv,
  istioShellQuote,
  renderClusterEnv,
} from "../../../components/runtime/package/clusterEnv";
import { renderHostsLine } from "../../../components/runtime/package/hostsLine";
import { goYamlKeyLess, renderMeshYaml } from "../../../components/runtime/package/meshYaml";
import { canonicalServiceOf } from "../../../components/runtime/package/proxyConfig";
import type {
  ConfigureOptions,
  WorkloadGroupSource,
} from "../../../components/runtime/package/workloadGroupSource";

/** A group with ports, labels, a network, a mesh with metadata; auto-registration and an internal IP. */
const payments: WorkloadGroupSource = {
  name: "payments",
  namespace: "shop",
  spec: {
    metadata: { labels: { app: "payments", version: "v2", tier: "backend" } },
    template: {
      ports: { http: 8080, "grpc-admin": 9090 },
      serviceAccount: "payments-sa",
      network: "net-east",
    },
  },
};
const paymentsOptions: ConfigureOptions = {
  clusterId: "east-1",
  mesh: {
    trustDomain: "corp.example",
    defaultConfig: {
      meshId: "mesh-a",
      discoveryAddress: "istiod.istio-system.svc:15012",
      proxyMetadata: { FOO_FLAG: "on" },
    },
  },
  internalIp: "10.0.0.7",
  autoRegister: true,
};

/** What istioctl writes for `payments` (lines sorted; ISTIO_INBOUND_PORTS's order is Go's map order). */
const paymentsClusterEnv = [
  "CANONICAL_REVISION='v2'",
  "CANONICAL_SERVICE='payments'",
  "FOO_FLAG='on'",
  "ISTIO_INBOUND_PORTS='8080,9090'",
  "ISTIO_LOCAL_EXCLUDE_PORTS='22,15090,15021,15020'",
  `ISTIO_METAJSON_LABELS='{"app":"payments","service.istio.io/canonical-name":"payments","service.istio.io/canonical-revision":"v2","tier":"backend","version":"v2"}'`,
  "ISTIO_META_AUTO_REGISTER_GROUP='payments'",
  "ISTIO_META_CLUSTER_ID='east-1'",
  "ISTIO_META_DNS_CAPTURE='true'",
  "ISTIO_META_MESH_ID='mesh-a'",
  "ISTIO_META_NETWORK='net-east'",
  `ISTIO_META_POD_PORTS='[{"name":"grpc-admin","containerPort":9090,"protocol":""},{"name":"http","containerPort":8080,"protocol":""}]'`,
  "ISTIO_META_WORKLOAD_NAME='payments'",
  "ISTIO_NAMESPACE='shop'",
  "ISTIO_SERVICE='payments.shop'",
  "ISTIO_SERVICE_CIDR='*'",
  "ISTIO_SVC_IP='10.0.0.7'",
  "POD_NAMESPACE='shop'",
  "SERVICE_ACCOUNT='payments-sa'",
  "TRUST_DOMAIN='corp.example'",
  "",
].join("\n");

const paymentsMeshYaml = `defaultConfig:
  discoveryAddress: istiod.istio-system.svc:15012
  meshId: mesh-a
  proxyMetadata:
    CANONICAL_REVISION: v2
    CANONICAL_SERVICE: payments
    FOO_FLAG: "on"
    ISTIO_META_AUTO_REGISTER_GROUP: payments
    ISTIO_META_CLUSTER_ID: east-1
    ISTIO_META_DNS_CAPTURE: "true"
    ISTIO_META_MESH_ID: mesh-a
    ISTIO_META_NETWORK: net-east
    ISTIO_META_POD_PORTS: '[{"name":"grpc-admin","containerPort":9090,"protocol":""},{"name":"http","containerPort":8080,"protocol":""}]'
    ISTIO_META_WORKLOAD_NAME: payments
    ISTIO_METAJSON_LABELS: '{"app":"payments","service.istio.io/canonical-name":"payments","service.istio.io/canonical-revision":"v2","tier":"backend","version":"v2"}'
    POD_NAMESPACE: shop
    SERVICE_ACCOUNT: payments-sa
    TRUST_DOMAIN: corp.example
`;

/**
 * A revisioned control plane, a group without ports or labels and with a status port, proxy config from both
 * annotations, a probe, DNS capture off and an external IP.
 */
const reporting: WorkloadGroupSource = {
  name: "reporting",
  namespace: "ops",
  annotations: { "proxy.istio.io/config": "proxyMetadata:\n  FROM_OBJECT: a\nconcurrency: 2\n" },
  spec: {
    metadata: {
      annotations: { "proxy.istio.io/config": "proxyMetadata:\n  FROM_SPEC: b\nstatusPort: 15999\n" },
    },
    template: {},
    probe: { periodSeconds: 5, httpGet: { path: "/ready", port: 8080 } },
  },
};
const reportingOptions: ConfigureOptions = {
  clusterId: "Kubernetes",
  revision: "canary",
  istioNamespace: "mesh-system",
  externalIp: "203.0.113.9",
  captureDns: false,
  mesh: { defaultConfig: { proxyMetadata: { MESH_WIDE: "x" }, readinessProbe: { tcpSocket: { port: 1 } } } },
};

const reportingClusterEnv = [
  "CANONICAL_REVISION='latest'",
  "CANONICAL_SERVICE='reporting'",
  "CA_ADDR='istiod-canary.mesh-system.svc:15012'",
  "FROM_OBJECT='a'",
  "FROM_SPEC='b'",
  "ISTIO_INBOUND_PORTS='*'",
  "ISTIO_LOCAL_EXCLUDE_PORTS='22,15090,15021,15999'",
  `ISTIO_METAJSON_LABELS='{"service.istio.io/canonical-name":"reporting","service.istio.io/canonical-revision":"latest"}'`,
  "ISTIO_META_CLUSTER_ID='Kubernetes'",
  "ISTIO_META_MESH_ID=''",
  "ISTIO_META_NETWORK=''",
  "ISTIO_META_WORKLOAD_NAME='reporting'",
  "ISTIO_NAMESPACE='ops'",
  "ISTIO_SERVICE='reporting.ops'",
  "ISTIO_SERVICE_CIDR='*'",
  "ISTIO_SVC_IP='203.0.113.9'",
  "MESH_WIDE='x'",
  "POD_NAMESPACE='ops'",
  "REWRITE_PROBE_LEGACY_LOCALHOST_DESTINATION='true'",
  "SERVICE_ACCOUNT='default'",
  "TRUST_DOMAIN=''",
  "",
].join("\n");

const reportingMeshYaml = `defaultConfig:
  concurrency: 2
  discoveryAddress: istiod-canary.mesh-system.svc:15012
  proxyMetadata:
    CANONICAL_REVISION: latest
    CANONICAL_SERVICE: reporting
    FROM_OBJECT: a
    FROM_SPEC: b
    ISTIO_META_CLUSTER_ID: Kubernetes
    ISTIO_META_MESH_ID: ""
    ISTIO_META_NETWORK: ""
    ISTIO_META_WORKLOAD_NAME: reporting
    ISTIO_METAJSON_LABELS: '{"service.istio.io/canonical-name":"reporting","service.istio.io/canonical-revision":"latest"}'
    MESH_WIDE: x
    POD_NAMESPACE: ops
    SERVICE_ACCOUNT: default
    TRUST_DOMAIN: ""
  readinessProbe:
    httpGet:
      path: /ready
      port: 8080
    periodSeconds: 5
  statusPort: 15999
`;

describe("package runtime: cluster.env as istioctl writes it", () => {
  it("writes every key istioctl writes for a group with ports, labels, network, auto-registration", () => {
    const env = envFileOf(istioctlClusterEnv(payments, paymentsOptions));
    const ports = (text: string) => /^ISTIO_INBOUND_PORTS='(.*)'$/m.exec(text)![1]!.split(",").sort();
    // Go's map order is random: the port list is compared as a set, everything else byte for byte.
    assert.deepEqual(ports(env), ports(paymentsClusterEnv));
    const withoutPorts = (text: string) => text.replace(/^ISTIO_INBOUND_PORTS=.*$/m, "");
    assert.equal(withoutPorts(env), withoutPorts(paymentsClusterEnv));
  });

  it("writes CA_ADDR for a revision, the annotations' metadata, the status port, the external IP", () => {
    assert.equal(envFileOf(istioctlClusterEnv(reporting, reportingOptions)), reportingClusterEnv);
  });

  it("quotes values as Istio's shellescape does (its safe set is \\, w and @%+=:,./-)", () => {
    assert.equal(istioShellQuote(""), "''");
    // Digits and most letters are outside the safe set: an IP is quoted, "www" or "-,/" is not.
    assert.equal(istioShellQuote("10.0.0.7"), "'10.0.0.7'");
    assert.equal(istioShellQuote("www"), "www");
    assert.equal(istioShellQuote("-,/"), "-,/");
    assert.equal(istioShellQuote("a"), "'a'");
    assert.equal(istioShellQuote("it's"), `'it'"'"'s'`);
  });

  it("adds the persisted certificate dir, the CA address when istiod is not on 15012, and capture off", () => {
    assert.deepEqual(clusterEnvAdditions(paymentsOptions, { capture: "iptables" }), {
      PROV_CERT: "/etc/certs",
      OUTPUT_CERTS: "/etc/certs",
    });
    assert.deepEqual(
      clusterEnvAdditions(paymentsOptions, {
        capture: "none",
        discoveryAddress: "istiod.istio-system.svc:31012",
      }),
      {
        PROV_CERT: "/etc/certs",
        OUTPUT_CERTS: "/etc/certs",
        CA_ADDR: "istiod.istio-system.svc:31012",
        ISTIO_CUSTOM_IP_TABLES: "true",
        ISTIO_META_INTERCEPTION_MODE: "NONE",
      },
    );
    const env = renderClusterEnv(payments, paymentsOptions, { capture: "iptables" });
    assert.match(env, /^PROV_CERT='\/etc\/certs'$/m);
    assert.match(env, /^OUTPUT_CERTS='\/etc\/certs'$/m);
    // Everything istioctl writes is still there, unchanged.
    for (const line of istioctlLines(payments, paymentsOptions)) assert.ok(env.includes(`${line}\n`), line);
  });

  it("is sourced by bash to the values istioctl meant", async () => {
    const { execFileSync } = await import("node:child_process");
    const { mkdtempSync, rmSync, writeFileSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const dir = mkdtempSync(join(tmpdir(), "mesh-vm-cluster-env-"));
    try {
      const file = join(dir, "cluster.env");
      writeFileSync(file, renderClusterEnv(reporting, reportingOptions, { capture: "none" }));
      // As istio-start.sh reads it: `set -a`, then `.` the file.
      const out = execFileSync(
        "/bin/bash",
        [
          "--norc",
          "--noprofile",
          "-c",
          'set -a; . "$1"; printf "%s\\n" "$ISTIO_METAJSON_LABELS" "$FROM_SPEC" "$ISTIO_META_MESH_ID"',
          "sh",
          file,
        ],
        { env: {}, encoding: "utf8" },
      );
      assert.equal(
        out,
        `{"service.istio.io/canonical-name":"reporting","service.istio.io/canonical-revision":"latest"}\nb\n\n`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

function istioctlLines(group: WorkloadGroupSource, options: ConfigureOptions): string[] {
  return envFileOf(istioctlClusterEnv(group, options)).trimEnd().split("\n");
}

describe("package runtime: mesh.yaml as istioctl writes it", () => {
  it("renders the mesh's defaultConfig with the group's metadata, in go-yaml's key order and quoting", () => {
    assert.equal(renderMeshYaml(payments, paymentsOptions), paymentsMeshYaml);
  });

  it("applies both proxy.istio.io/config annotations, the probe over the mesh's, the revision's discoveryAddress", () => {
    assert.equal(renderMeshYaml(reporting, reportingOptions), reportingMeshYaml);
    assert.deepEqual(parse(renderMeshYaml(reporting, reportingOptions)).defaultConfig.readinessProbe, {
      periodSeconds: 5,
      httpGet: { path: "/ready", port: 8080 },
    });
  });

  it("orders keys as go-yaml v2: non-letters before letters, digit runs by value", () => {
    const keys = ["ISTIO_METAJSON_LABELS", "ISTIO_META_NETWORK", "a10", "a9", "B", "a", "_x"];
    const sorted = [...keys].sort((x, y) => (goYamlKeyLess(x, y) ? -1 : goYamlKeyLess(y, x) ? 1 : 0));
    assert.deepEqual(sorted, ["_x", "B", "ISTIO_META_NETWORK", "ISTIO_METAJSON_LABELS", "a", "a9", "a10"]);
  });
});

describe("package runtime: hosts and canonical labels", () => {
  it("maps istiod's name (revisioned, other namespace) to the gateway IP; nothing for a hostname", () => {
    assert.equal(renderHostsLine("198.51.100.1", {}), "198.51.100.1 istiod.istio-system.svc\n");
    assert.equal(
      renderHostsLine("2001:db8::1", { revision: "canary", istioNamespace: "mesh-system" }),
      "2001:db8::1 istiod-canary.mesh-system.svc\n",
    );
    assert.equal(renderHostsLine("gw.example.com", {}), "");
  });

  it("takes the first canonical label present (even empty), else the workload name and latest", () => {
    assert.deepEqual(canonicalServiceOf({ app: "a", "app.kubernetes.io/name": "k" }, "w"), ["k", "latest"]);
    assert.deepEqual(canonicalServiceOf({ "service.istio.io/canonical-name": "", version: "v1" }, "w"), [
      "",
      "v1",
    ]);
    assert.deepEqual(canonicalServiceOf({}, "w"), ["w", "latest"]);
  });
});
