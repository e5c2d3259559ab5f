// validateMeshVmArgs: the CRD CEL and webhook rules, one row per mistake with the exact message a user sees. The
// rows of each object's checks are in the file named like it (workloadEntry, sidecar, serviceEntry, bootstrap);
// here: what is accepted, and the checks of meshVm.ts itself (flavor, apiVersion).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { messages, rejectsEach, Row, valid } from "./meshVmRows";

const rows: Row[] = [
  {
    what: "unsupported apiVersion",
    args: { apiVersion: "networking.istio.io/v2" },
    expect: [
      'MeshVmArgs.apiVersion: apiVersion "networking.istio.io/v2" is not supported; use one of networking.istio.io/v1, networking.istio.io/v1beta1, networking.istio.io/v1alpha3',
    ],
  },
  {
    what: "unknown flavor",
    args: { flavor: "linkerd" },
    expect: ['MeshVmArgs.flavor: flavor "linkerd" is not supported; use one of istio, tsb'],
  },
];

describe("validateMeshVmArgs", () => {
  it("accepts the seeds' ratings example", () => {
    assert.deepStrictEqual(messages(valid), []);
  });

  it("accepts unix sockets, IPv6 endpoints and network-only workloads without a ServiceEntry", () => {
    assert.deepStrictEqual(
      messages({
        ...valid,
        address: undefined,
        serviceEntry: { enabled: false },
        ports: [
          { name: "http", number: 9080, defaultEndpoint: "[::1]:9080" },
          { name: "grpc", number: 9090, protocol: "GRPC", defaultEndpoint: "unix:///var/run/app.sock" },
        ],
        egress: [
          {
            bind: "127.0.0.3",
            hosts: ["istio-system/*"],
            port: { number: 15012, protocol: "TLS", name: "tls" },
          },
          { bind: "127.0.0.2", hosts: ["./*", "*/reviews.bookinfo.svc.cluster.local", "~/*.example.org"] },
        ],
      }),
      [],
    );
  });

  rejectsEach(rows);
});
