// Refusals name the input the user wrote, not a variable a renderer derived from it. Plain values are refused at
// preview by validation (the annotation and proxyConfig cases); values given as Outputs are known only at `up`,
// where the renderers' own last guards name the same inputs (sidecar.env, the hosts block, the container, the
// connection). Each case: the message names the field and the fix, and not the derived variable alone.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { renderHostsBlock } from "../../../components/host/hostsBlock";
import { dockerRunArgs } from "../../../components/host/proxyContainer";
import {
  renderSidecarEnv,
  type MeshSettings,
  type WorkloadIdentity,
} from "../../../components/host/sidecarEnv";
import { formatIssue } from "../../../components/rules/issues";
import { validateMeshVmHostArgs } from "../../../components/validation/meshVmHostArgs";
import { validateMeshVmArgs } from "../../../components/validation/meshVm";
import type { MeshVmHostArgs, PlainMeshVmArgs } from "../../../components";
import { ratingsVmArgs } from "../fixtures/ratings";
import { KUBECONFIG } from "../fixtures/kubeconfig";

const workload: WorkloadIdentity = {
  name: "ratings-vm",
  namespace: "bookinfo",
  serviceAccount: "bookinfo-ratings",
  address: "198.51.100.7",
  labels: { app: "ratings" },
};

const host: MeshVmHostArgs = {
  hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKey",
  prepare: { admin: { user: "root", privateKey: "KEY" } },
  kubeconfig: KUBECONFIG,
};

function messageOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return (e as Error).message;
  }
  assert.fail("expected a refusal");
}

const meshVmIssues = (args: Partial<PlainMeshVmArgs>) =>
  validateMeshVmArgs({ ...(ratingsVmArgs as PlainMeshVmArgs), ...args }).map(formatIssue);

describe("refusals name the input, at preview", () => {
  it("a sidecar.istio.io/interceptionMode annotation with a line break names the annotation, not ISTIO_META_INTERCEPTION_MODE", () => {
    const issues = meshVmIssues({ annotations: { "sidecar.istio.io/interceptionMode": "NONE\nX" } });
    assert.equal(issues.length, 1, issues.join("\n"));
    assert.match(issues[0]!, /^MeshVmArgs\.annotations\["sidecar\.istio\.io\/interceptionMode"\]: /);
    assert.match(issues[0]!, /is not an Istio interception mode; use one of REDIRECT, TPROXY, NONE/);
    assert.doesNotMatch(issues[0]!, /ISTIO_META/);
  });

  it("a known interception mode is accepted", () => {
    assert.deepEqual(meshVmIssues({ annotations: { "sidecar.istio.io/interceptionMode": "NONE" } }), []);
  });

  it("host.mesh.proxyConfig.discoveryAddress with a line break names that field, not CA_ADDR", () => {
    const issues = validateMeshVmHostArgs({
      ...host,
      mesh: { proxyConfig: { discoveryAddress: "istiod.istio-system.svc:15012\nX" } },
    }).map(formatIssue);
    assert.equal(issues.length, 1, issues.join("\n"));
    assert.match(issues[0]!, /^MeshVmArgs\.host\.mesh\.proxyConfig\.discoveryAddress: .*line break/);
    assert.match(issues[0]!, /use host:port on one line/);
    assert.doesNotMatch(issues[0]!, /CA_ADDR/);
  });

  it("a proxy.istio.io/config annotation whose discoveryAddress has a line break names the annotation", () => {
    const issues = meshVmIssues({
      annotations: { "proxy.istio.io/config": 'discoveryAddress: "istiod:15012\\nX"\n' },
    });
    assert.equal(issues.length, 1, issues.join("\n"));
    assert.match(
      issues[0]!,
      /^MeshVmArgs\.annotations\["proxy\.istio\.io\/config"\]: discoveryAddress is not a one-line host:port/,
    );
  });
});

describe("refusals name the input, at up (values that were Outputs at preview)", () => {
  it("sidecar.env: the interception mode annotation, named by its key", () => {
    const m = messageOf(() =>
      renderSidecarEnv({ ...workload, annotations: { "sidecar.istio.io/interceptionMode": "NONE\nX" } }, {}),
    );
    assert.match(
      m,
      /^annotations\["sidecar\.istio\.io\/interceptionMode"\]: "NONE\\u000aX" contains a line break/,
    );
    assert.match(m, /write the value on one line/);
  });

  it("sidecar.env: a discovery address with a line break names where the address comes from", () => {
    const mesh: MeshSettings = { discoveryAddress: "istiod.istio-system.svc:15012\nX" };
    const m = messageOf(() => renderSidecarEnv(workload, mesh));
    assert.match(m, /^mesh\.caAddress, else the proxyConfig's discoveryAddress \(mesh\.discoveryAddress, /);
    assert.match(m, /\(it becomes CA_ADDR\); write the value on one line$/);
  });

  it("sidecar.env: a proxyMetadata entry names proxyConfig.proxyMetadata[KEY]", () => {
    const m = messageOf(() =>
      renderSidecarEnv(workload, { proxyConfig: { proxyMetadata: { ISTIO_META_DNS_CAPTURE: "true\nX" } } }),
    );
    assert.match(m, /^mesh\.proxyConfig\.proxyMetadata\["ISTIO_META_DNS_CAPTURE"\]/);
  });

  it("the hosts block: an egress hostname that resolved to a value with a line break names egressHostnames[i]", () => {
    const m = messageOf(() =>
      renderHostsBlock({
        owner: "bookinfo/ratings-vm",
        address: "127.0.0.2",
        hostnames: ["reviews.bookinfo.svc", "details.bookinfo.svc\n10.0.0.1 evil"],
      }),
    );
    assert.match(
      m,
      /^egressHostnames\[1\]: "details\.bookinfo\.svc\\u000a10\.0\.0\.1 evil" is not a host name usable/,
    );
    assert.match(m, /use a DNS name on one line/);
  });

  it("the hosts block: a bind address that is not an IP names egressBindAddress and egress[].bind", () => {
    const m = messageOf(() =>
      renderHostsBlock({ owner: "bookinfo/ratings-vm", address: "localhost", hostnames: ["reviews"] }),
    );
    assert.match(m, /^egressBindAddress \(MeshVm: egress\[\]\.bind\): "localhost" is not an IP address; use/);
  });

  it("the container: an image built from hub and tag names proxyImage, proxyImageHub and proxyImageTag", () => {
    const spec = {
      name: "istio-proxy",
      image: "docker.io/istio/proxyv2:1.24\n0",
      args: [],
      configDir: "/etc/istio-proxy",
      addHosts: [],
      owner: "bookinfo/ratings-vm",
    };
    assert.match(
      messageOf(() => dockerRunArgs(spec, "d")),
      /^proxyImage \(or proxyImageHub and proxyImageTag\): .*; use an image reference/,
    );
    assert.match(
      messageOf(() => dockerRunArgs({ ...spec, image: "docker.io/istio/proxyv2:1.24.0", name: "-x" }, "d")),
      /^proxyContainerName: .*; use a docker container name/,
    );
  });
});
