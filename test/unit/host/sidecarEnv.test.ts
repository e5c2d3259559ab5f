import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { renderSidecarEnv, sidecarEnvEntries, WorkloadIdentity } from "../../../components/host/sidecarEnv";

// The seeds' ratings VM, segregated-network variant: public address, private instance IP.
const ratings: WorkloadIdentity = {
  name: "ratings-vm",
  namespace: "bookinfo",
  serviceAccount: "bookinfo-ratings",
  address: "203.0.113.10",
  proxyInstanceIp: "198.51.100.10",
  network: "vm-us-central1-a",
  labels: { class: "vm", app: "ratings", version: "v3" },
  annotations: {
    "sidecar-bootstrap.istio.io/proxy-instance-ip": "198.51.100.10",
    "istioctl.istio.io/ignored": "x",
    "example.com/other": "y",
  },
};

describe("sidecar.env", () => {
  it("lists tctl's variables in tctl's order, unquoted, without a trailing newline", () => {
    const text = renderSidecarEnv(ratings, {});
    assert.ok(!text.endsWith("\n"));
    const keys = text.split("\n").map((line) => line.slice(0, line.indexOf("=")));
    assert.deepEqual(keys, [
      "JWT_POLICY",
      "PROV_CERT",
      "OUTPUT_CERTS",
      "PILOT_CERT_PROVIDER",
      "CA_ADDR",
      "CA_SNI",
      "PILOT_SNI",
      "POD_NAME",
      "POD_NAMESPACE",
      "IDENTITY_IP",
      "INSTANCE_IP",
      "SERVICE_ACCOUNT",
      "HOST_IP",
      "CANONICAL_SERVICE",
      "CANONICAL_REVISION",
      "PROXY_CONFIG",
      "ISTIO_META_CLUSTER_ID",
      "ISTIO_META_INTERCEPTION_MODE",
      "ISTIO_META_NETWORK",
      "ISTIO_METAJSON_LABELS",
      "ISTIO_METAJSON_ISTIO_ANNOTATIONS",
      "ISTIO_META_WORKLOAD_NAME",
      "ISTIO_META_OWNER",
      "ISTIO_META_MESH_ID",
    ]);
    assert.ok(!/="|='/.test(text), "no quoted values");
  });

  it("derives the values the way tctl does", () => {
    const env = Object.fromEntries(sidecarEnvEntries(ratings, {}));
    assert.equal(env.JWT_POLICY, "third-party-jwt");
    assert.equal(env.PROV_CERT, "/var/run/secrets/istio");
    assert.equal(env.OUTPUT_CERTS, "/var/run/secrets/istio");
    assert.equal(env.PILOT_CERT_PROVIDER, "istiod");
    assert.equal(env.CA_ADDR, "istiod.istio-system.svc:15012");
    assert.equal(env.CA_SNI, "", "cluster-local CA address: no SNI");
    assert.equal(env.PILOT_SNI, "");
    assert.equal(env.POD_NAME, "ratings-vm");
    assert.equal(env.POD_NAMESPACE, "bookinfo");
    assert.equal(env.IDENTITY_IP, "203.0.113.10");
    assert.equal(env.HOST_IP, "203.0.113.10");
    assert.equal(env.INSTANCE_IP, "198.51.100.10");
    assert.equal(env.SERVICE_ACCOUNT, "bookinfo-ratings");
    assert.equal(env.ISTIO_META_CLUSTER_ID, "Kubernetes");
    assert.equal(env.ISTIO_META_INTERCEPTION_MODE, "NONE");
    assert.equal(env.ISTIO_META_NETWORK, "vm-us-central1-a");
    assert.equal(env.ISTIO_METAJSON_LABELS, '{"app":"ratings","class":"vm","version":"v3"}');
    assert.equal(
      env.ISTIO_METAJSON_ISTIO_ANNOTATIONS,
      '{"sidecar-bootstrap.istio.io/proxy-instance-ip":"198.51.100.10"}',
    );
    assert.equal(env.ISTIO_META_WORKLOAD_NAME, "ratings");
    assert.equal(
      env.ISTIO_META_OWNER,
      "kubernetes://apis/networking.istio.io/v1beta1/namespaces/bookinfo/workloadentries/ratings-vm",
    );
    assert.equal(env.ISTIO_META_MESH_ID, "cluster.local");
    const proxyConfig = JSON.parse(env.PROXY_CONFIG) as Record<string, unknown>;
    assert.equal(proxyConfig.serviceCluster, "ratings.bookinfo");
    assert.equal(proxyConfig.discoveryAddress, "istiod.istio-system.svc:15012");
    assert.equal(proxyConfig.statusPort, 15020);
  });

  it("puts proxyMetadata first, sorted, and applies mesh settings", () => {
    const entries = sidecarEnvEntries(
      { ...ratings, labels: undefined, metadataLabels: { "service.istio.io/canonical-name": "ratings" } },
      {
        discoveryAddress: "gw.example.com:15443",
        clusterId: "east",
        meshId: "mesh1",
        proxyConfig: { proxyMetadata: { Z_LAST: "2", A_FIRST: "1" }, concurrency: 4 },
      },
    );
    assert.deepEqual(entries.slice(0, 2), [
      ["A_FIRST", "1"],
      ["Z_LAST", "2"],
    ]);
    const env = Object.fromEntries(entries);
    assert.equal(env.CA_ADDR, "gw.example.com:15443");
    assert.equal(env.CA_SNI, "istiod.istio-system.svc", "non-local address: SNI names istiod");
    assert.equal(env.PILOT_SNI, "istiod.istio-system.svc");
    assert.equal(env.CANONICAL_SERVICE, "ratings");
    assert.equal(env.ISTIO_META_CLUSTER_ID, "east");
    assert.equal(env.ISTIO_META_MESH_ID, "mesh1");
    assert.equal(env.ISTIO_META_WORKLOAD_NAME, "bookinfo-ratings", "no app label: the ServiceAccount");
    assert.equal(env.ISTIO_METAJSON_LABELS, '{"service.istio.io/canonical-name":"ratings"}');
    assert.equal((JSON.parse(env.PROXY_CONFIG) as Record<string, unknown>).concurrency, undefined);
  });

  it("refuses an INSTANCE_IP that is not an IP, and values docker cannot carry", () => {
    assert.throws(
      () => sidecarEnvEntries({ ...ratings, proxyInstanceIp: undefined, address: "vm.example.com" }, {}),
      /not an IP address; set proxyInstanceIp/,
    );
    assert.throws(() => renderSidecarEnv({ ...ratings, labels: { app: "a\nb" } }, {}), /line break/);
  });
});
