import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  ContainerSpec,
  addHostsOf,
  containerDigest,
  dockerRunArgs,
  proxyArgsOf,
  proxyImageOf,
} from "../../../components/host/proxyContainer";
import { WorkloadIdentity } from "../../../components/host/sidecarEnv";

const workload: WorkloadIdentity = {
  name: "ratings-vm",
  namespace: "bookinfo",
  serviceAccount: "bookinfo-ratings",
  address: "198.51.100.10",
  labels: { app: "ratings" },
};

describe("proxy container", () => {
  it("chooses the image like tctl: full image, else hub/name:tag with defaults", () => {
    assert.equal(proxyImageOf({}), "docker.io/istio/proxyv2:latest");
    assert.equal(
      proxyImageOf({ proxyImageHub: "docker.io/tetrate/", proxyImageTag: "1.8.6-p1" }),
      "docker.io/tetrate/proxyv2:1.8.6-p1",
    );
    assert.equal(
      proxyImageOf({ proxyImage: "registry.local/p:1", proxyImageHub: "ignored" }),
      "registry.local/p:1",
    );
  });

  it("passes tctl's proxy arguments; --trust-domain only on request", () => {
    assert.deepEqual(proxyArgsOf(workload, {}, {}), [
      "proxy",
      "sidecar",
      "--serviceCluster",
      "ratings.bookinfo",
      "--concurrency",
      "0",
      "--proxyLogLevel",
      "info",
      "--proxyComponentLogLevel",
      "misc:info",
    ]);
    assert.deepEqual(
      proxyArgsOf(workload, { trustDomain: "td.example" }, { trustDomainFlag: true }).slice(-2),
      ["--trust-domain", "td.example"],
    );
    assert.deepEqual(proxyArgsOf(workload, {}, { args: ["proxy", "sidecar"] }), ["proxy", "sidecar"]);
  });

  it("maps istiod's cluster-local names to a gateway IP, and refuses a DNS gateway", () => {
    assert.deepEqual(addHostsOf(workload, {}, "203.0.113.5"), [
      "istiod.istio-system:203.0.113.5",
      "istiod.istio-system.svc:203.0.113.5",
      "istiod.istio-system.svc.cluster:203.0.113.5",
      "istiod.istio-system.svc.cluster.local:203.0.113.5",
    ]);
    assert.throws(() => addHostsOf(workload, {}, "gw.example.com"), /"gw\.example\.com" is not an IP/);
    assert.deepEqual(addHostsOf(workload, {}, undefined), []);
  });

  it("renders docker run with tctl's flags, our labels and mounts, and a digest that follows every input", () => {
    const spec: ContainerSpec = {
      name: "istio-proxy",
      image: "docker.io/istio/proxyv2:1.30.3",
      args: ["proxy", "sidecar"],
      configDir: "/etc/istio-proxy",
      addHosts: [],
      owner: "bookinfo/ratings-vm",
    };
    const contents = { sidecarEnv: "A=1", meshRootCert: "root", kubernetesRootCert: "k8s" };
    const digest = containerDigest(spec, contents);
    assert.deepEqual(dockerRunArgs(spec, digest), [
      "run",
      "-d",
      "--name",
      "istio-proxy",
      "--restart",
      "unless-stopped",
      "--network",
      "host",
      "--label",
      `mesh-vm.config-digest=${digest}`,
      "--label",
      "mesh-vm.owner=bookinfo/ratings-vm",
      "-v",
      "/etc/istio-proxy/certs:/var/run/secrets/istio",
      "-v",
      "/etc/istio-proxy:/var/run/secrets/tokens:ro",
      "-v",
      "/etc/istio-proxy/k8s-ca.pem:/var/run/secrets/kubernetes.io/serviceaccount/ca.crt:ro",
      "--env-file",
      "/etc/istio-proxy/sidecar.env",
      "--",
      "docker.io/istio/proxyv2:1.30.3",
      "proxy",
      "sidecar",
    ]);
    assert.equal(containerDigest({ ...spec }, { ...contents }), digest, "stable");
    for (const changed of [
      containerDigest({ ...spec, image: "x" }, contents),
      containerDigest({ ...spec, args: ["proxy"] }, contents),
      containerDigest({ ...spec, addHosts: ["a:1.2.3.4"] }, contents),
      containerDigest(spec, { ...contents, sidecarEnv: "A=2" }),
      containerDigest(spec, { ...contents, meshRootCert: "root2" }),
      containerDigest(spec, { ...contents, kubernetesRootCert: "k8s2" }),
    ]) {
      assert.notEqual(changed, digest);
    }
  });
});
