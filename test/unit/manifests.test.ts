// fromManifests: tctl users' YAML -> MeshVmArgs -> the same objects; tctl defaults; unknown annotations refused.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse, stringify } from "yaml";
import { fromManifests, renderMeshVmObjects, resolveMeshVmArgs } from "../../components";
import type { PlainMeshVmArgs } from "../../components";
import { ratingsVmArgs, seedSidecarYaml, seedWorkloadEntryYaml } from "./fixtures/ratings";

function render(args: PlainMeshVmArgs) {
  return renderMeshVmObjects(resolveMeshVmArgs("from-manifests", args));
}

function messageOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return (e as Error).message;
  }
  assert.fail("expected an error");
}

describe("fromManifests", () => {
  it("round-trips the seeds' ratings WorkloadEntry and Sidecar", () => {
    const args = fromManifests(`${seedWorkloadEntryYaml}---\n${seedSidecarYaml}`);
    const objects = render(args);
    assert.deepStrictEqual(objects.workloadEntry, parse(seedWorkloadEntryYaml));
    assert.deepStrictEqual(objects.sidecar, parse(seedSidecarYaml));
    assert.equal(objects.serviceEntry, undefined, "no ServiceEntry in the input, none rendered");
    assert.equal(objects.workloadGroup, undefined);
    assert.equal(objects.serviceAccount, undefined);
    assert.equal(args.sshUser, "istio-proxy");
    assert.equal(args.proxyConfigDir, "/etc/istio-proxy");
    assert.equal(args.proxyImageHub, "docker.io/tetrate");
    assert.equal(args.proxyInstanceIp, "10.128.0.2");
    assert.equal(args.apiVersion, "networking.istio.io/v1beta1");
  });

  it("honours every tctl annotation", () => {
    const yaml = `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata:
  name: ratings-vm
  namespace: bookinfo
  annotations:
    sidecar-bootstrap.istio.io/ssh-host: 198.51.100.7
    sidecar-bootstrap.istio.io/ssh-port: "2222"
    sidecar-bootstrap.istio.io/ssh-user: deploy
    sidecar-bootstrap.istio.io/scp-path: /usr/local/bin/scp
    sidecar-bootstrap.istio.io/proxy-config-dir: /etc/istio-proxy
    sidecar-bootstrap.istio.io/proxy-image-hub: docker.io/tetrate
    sidecar-bootstrap.istio.io/proxy-container-name: istio-proxy-ratings
    sidecar-bootstrap.istio.io/proxy-instance-ip: 10.128.0.2
    proxy.istio.io/config: |
      concurrency: 2
spec:
  address: 203.0.113.20
  labels:
    app: ratings
    version: v3
    class: vm
  ports:
    http: 19080
  serviceAccount: bookinfo-ratings
  locality: us-central1/us-central1-a
  weight: 3
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  name: ratings-vm-sidecar
  namespace: bookinfo
spec:
  egress:
  - port:
      number: 15012
      protocol: TLS
      name: tls-istiod
    bind: 127.0.0.3
    hosts:
    - istio-system/*
  - bind: 127.0.0.2
    hosts:
    - ./*
    - "*/www.example.org"
  ingress:
  - defaultEndpoint: 127.0.0.1:9080
    port:
      name: http
      number: 9080
      protocol: HTTP
  outboundTrafficPolicy:
    mode: REGISTRY_ONLY
  workloadSelector:
    labels:
      app: ratings
      class: vm
      version: v3
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: ratings-vm
  namespace: bookinfo
spec:
  hosts:
  - ratings-vm.bookinfo.svc.cluster.local
  location: MESH_INTERNAL
  ports:
  - name: http
    number: 9080
    protocol: HTTP
  resolution: STATIC
  workloadSelector:
    labels:
      app: ratings
      version: v3
      class: vm
`;
    const args = fromManifests(yaml);
    const settings = resolveMeshVmArgs("x", args);
    assert.deepStrictEqual(settings.bootstrap, {
      sshHost: "198.51.100.7",
      sshPort: 2222,
      sshUser: "deploy",
      scpPath: "/usr/local/bin/scp",
      proxyConfigDir: "/etc/istio-proxy",
      proxyImageHub: "docker.io/tetrate",
      proxyInstanceIp: "10.128.0.2",
      proxyContainerName: "istio-proxy-ratings",
    });
    const objects = render(args);
    const [we, sc, se] = yaml.split("---\n").map((d) => parse(d) as unknown);
    assert.deepStrictEqual(objects.workloadEntry, we);
    assert.deepStrictEqual(objects.sidecar, sc);
    assert.deepStrictEqual(objects.serviceEntry, se);
  });

  it("applies tctl's defaults when annotations are absent", () => {
    const args = fromManifests(`apiVersion: networking.istio.io/v1beta1
kind: WorkloadEntry
metadata:
  name: ratings-vm
  namespace: bookinfo
spec:
  address: 198.51.100.8
  labels:
    app: ratings
  serviceAccount: bookinfo-ratings
`);
    const settings = resolveMeshVmArgs("x", args);
    assert.deepStrictEqual(settings.bootstrap, {
      sshHost: "198.51.100.8",
      sshPort: 22,
      sshUser: "istio-proxy",
      scpPath: "/usr/bin/scp",
      proxyConfigDir: "/tmp/istio-proxy",
      proxyImageHub: "docker.io/istio",
      proxyInstanceIp: "198.51.100.8",
      proxyContainerName: "istio-proxy",
    });
    const objects = render(args);
    assert.deepStrictEqual(objects.workloadEntry.spec.labels, { app: "ratings" }, "no class label added");
    assert.equal(objects.workloadEntry.metadata.annotations, undefined);
    assert.equal(objects.sidecar, undefined);
  });

  it("round-trips everything MeshVm renders (ServiceAccount, WorkloadGroup, WorkloadEntry ports)", () => {
    const args: PlainMeshVmArgs = {
      ...(ratingsVmArgs as PlainMeshVmArgs),
      apiVersion: "v1",
      createServiceAccount: true,
      workloadGroup: { enabled: true },
      ports: [{ name: "http", number: 9080, targetPort: 19080 }],
    };
    const first = render(args);
    const yaml = [
      first.serviceAccount,
      first.workloadEntry,
      first.sidecar,
      first.serviceEntry,
      first.workloadGroup,
    ]
      .map((o) => stringify(o))
      .join("---\n");
    assert.deepStrictEqual(render(fromManifests(yaml)), first);
  });

  const refusals: [string, string, RegExp][] = [
    [
      "an unknown sidecar-bootstrap annotation",
      "sidecar-bootstrap.istio.io/ssh-hots: 198.51.100.7",
      /WorkloadEntry ratings-vm\.metadata\.annotations\["sidecar-bootstrap\.istio\.io\/ssh-hots"\]: unknown sidecar-bootstrap annotation; use one of sidecar-bootstrap\.istio\.io\/ssh-host, .*proxy-instance-ip/,
    ],
    [
      "the Namespace-only mesh-expansion-configmap annotation",
      "sidecar-bootstrap.istio.io/mesh-expansion-configmap: global-mesh-expansion",
      /tctl reads this annotation from the Istio system Namespace, not from a WorkloadEntry; move it to the istio-system Namespace/,
    ],
    [
      "the pre-rename istioctl prefix",
      "sidecar-bootstrap.istioctl.istio.io/ssh-user: istio-proxy",
      /uses the pre-rename prefix sidecar-bootstrap\.istioctl\.istio\.io\/; rename it to sidecar-bootstrap\.istio\.io\/ssh-user/,
    ],
    [
      "a non-numeric ssh-port",
      'sidecar-bootstrap.istio.io/ssh-port: "ssh"',
      /"ssh" is not a port number; use a number such as "22"/,
    ],
  ];
  for (const [what, annotation, expected] of refusals) {
    it(`refuses ${what}`, () => {
      const yaml = seedWorkloadEntryYaml.replace("  annotations:\n", `  annotations:\n    ${annotation}\n`);
      assert.match(
        messageOf(() => fromManifests(yaml)),
        expected,
      );
    });
  }

  it("refuses a ServiceEntry with both workloadSelector and endpoints", () => {
    const yaml = `${seedWorkloadEntryYaml}---
apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata:
  name: ratings-vm
  namespace: bookinfo
spec:
  hosts: [ratings-vm.bookinfo.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{name: http, number: 9080, protocol: HTTP}]
  workloadSelector: {labels: {app: ratings}}
  endpoints: [{address: 35.194.38.142}]
`;
    assert.match(
      messageOf(() => fromManifests(yaml)),
      /ServiceEntry ratings-vm\.spec: only one of workloadSelector or endpoints may be set; select the WorkloadEntry with workloadSelector and drop endpoints/,
    );
  });

  it("refuses zero or several WorkloadEntries and unrelated kinds", () => {
    assert.match(
      messageOf(() => fromManifests(seedSidecarYaml)),
      /expected exactly one WorkloadEntry, found 0/,
    );
    assert.match(
      messageOf(() => fromManifests(`${seedWorkloadEntryYaml}---\n${seedWorkloadEntryYaml}`)),
      /expected exactly one WorkloadEntry, found 2; pass the manifests of one VM at a time/,
    );
    assert.match(
      messageOf(() =>
        fromManifests(
          `${seedWorkloadEntryYaml}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: bookinfo}\n`,
        ),
      ),
      /ConfigMap x: kind "ConfigMap" is not part of a MeshVm/,
    );
  });
});
