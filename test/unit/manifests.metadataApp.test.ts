// fromManifests with tctl users' YAML as is: a WorkloadEntry whose `app` label sits in metadata.labels (where tctl
// reads the canonical labels, and where Istio merges them into the workload's labels) is accepted as tctl accepts
// it, and renders the same WorkloadEntry back.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse } from "yaml";
import {
  fromManifests,
  renderMeshVmObjects,
  resolveMeshVmArgs,
  validateMeshVmArgs,
  type PlainMeshVmArgs,
} from "../../components";
import { serviceClusterOf, workloadNameOf } from "../../components/host/sidecarEnv";
import { workloadIdentityFromWorkloadEntry } from "../../components/host/workloadIdentity";
// The seed's Sidecar selects app and class: the app label the WorkloadEntry carries in metadata.labels.
import { seedSidecarYaml } from "./fixtures/ratings";

const weWithMetadataApp = `apiVersion: networking.istio.io/v1beta1
kind: WorkloadEntry
metadata:
  name: ratings-vm
  namespace: bookinfo
  labels:
    app: ratings
    version: v3
  annotations:
    sidecar-bootstrap.istio.io/proxy-instance-ip: 10.128.0.2
spec:
  address: 198.51.100.8
  labels:
    class: vm
  serviceAccount: bookinfo-ratings
`;

describe("fromManifests: the app label in metadata.labels, as tctl reads it", () => {
  it("is accepted and renders the same WorkloadEntry (app stays in metadata.labels, spec.labels unchanged)", () => {
    const args = fromManifests(weWithMetadataApp);
    assert.deepEqual(validateMeshVmArgs(args), [], "no issue");
    const objects = renderMeshVmObjects(resolveMeshVmArgs("x", args));
    assert.deepStrictEqual(objects.workloadEntry, parse(weWithMetadataApp));
  });

  it("with the Sidecar that selects app: the selector's app comes from metadata.labels", () => {
    const args = fromManifests(`${weWithMetadataApp}---\n${seedSidecarYaml}`);
    assert.deepEqual(validateMeshVmArgs(args), []);
    const objects = renderMeshVmObjects(resolveMeshVmArgs("x", args));
    assert.deepStrictEqual(objects.sidecar, parse(seedSidecarYaml));
  });

  it("the proxy's workload name and service cluster are the app, as tctl derives them", () => {
    const args = fromManifests(weWithMetadataApp);
    const objects = renderMeshVmObjects(resolveMeshVmArgs("x", args));
    const workload = workloadIdentityFromWorkloadEntry(objects.workloadEntry as never);
    assert.equal(workloadNameOf(workload), "ratings", "ISTIO_META_WORKLOAD_NAME");
    assert.equal(serviceClusterOf(workload), "ratings.bookinfo", "--serviceCluster");
  });

  it("without app anywhere: refused, naming both places tctl reads", () => {
    const args: PlainMeshVmArgs = { ...fromManifests(weWithMetadataApp), metadataLabels: { version: "v3" } };
    const messages = validateMeshVmArgs(args).map((i) => `${i.field}: ${i.problem} (${i.fix})`);
    assert.equal(messages.length, 1, messages.join("\n"));
    assert.match(messages[0]!, /labels\["app"\]/);
    assert.match(messages[0]!, /metadataLabels/);
  });
});

describe("MeshVm with the app label in metadataLabels only", () => {
  it("the ServiceEntry selects the VM by its app too, not every VM of the class", () => {
    const args = { ...fromManifests(weWithMetadataApp), serviceEntry: { enabled: true } };
    const objects = renderMeshVmObjects(resolveMeshVmArgs("x", args));
    assert.deepStrictEqual(objects.serviceEntry?.spec.workloadSelector, {
      labels: { class: "vm", app: "ratings" },
    });
  });
});
