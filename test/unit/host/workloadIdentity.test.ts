import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { renderSidecarEnv } from "../../../components/host/sidecarEnv";
import { workloadIdentityFromWorkloadEntry } from "../../../components/host/workloadIdentity";

describe("workloadIdentityFromWorkloadEntry", () => {
  const we = {
    metadata: {
      name: "ratings-vm",
      namespace: "bookinfo",
      labels: { "service.istio.io/canonical-revision": "v3" },
      annotations: { "sidecar-bootstrap.istio.io/proxy-instance-ip": "10.128.0.2" },
    },
    spec: {
      address: "35.194.38.142",
      serviceAccount: "bookinfo-ratings",
      network: "vm-us-central1-a",
      labels: { app: "ratings", class: "vm", version: "v3" },
    },
  };

  it("reads what tctl reads, including the proxy-instance-ip annotation", () => {
    const identity = workloadIdentityFromWorkloadEntry(we);
    assert.equal(identity.proxyInstanceIp, "10.128.0.2");
    const env = renderSidecarEnv(identity, {});
    assert.match(env, /^INSTANCE_IP=10\.128\.0\.2$/m);
    assert.match(env, /^IDENTITY_IP=35\.194\.38\.142$/m);
    assert.match(env, /^CANONICAL_REVISION=v3$/m);
    assert.match(env, /^ISTIO_META_NETWORK=vm-us-central1-a$/m);
    assert.equal(workloadIdentityFromWorkloadEntry(we, "10.0.0.7").proxyInstanceIp, "10.0.0.7");
  });

  it("names the WorkloadEntry when address or serviceAccount is missing", () => {
    assert.throws(
      () => workloadIdentityFromWorkloadEntry({ ...we, spec: { ...we.spec, address: undefined } }),
      /WorkloadEntry bookinfo\/ratings-vm has no address/,
    );
    assert.throws(
      () => workloadIdentityFromWorkloadEntry({ ...we, spec: { ...we.spec, serviceAccount: "" } }),
      /has no serviceAccount/,
    );
  });
});
