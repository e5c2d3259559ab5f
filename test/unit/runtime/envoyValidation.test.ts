// The envoy runtime's inputs are checked at preview: each mistake names the field and the fix.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fieldNames } from "../../../components/rules/issues";
import { envoyForwardWarnings, envoyRuntimeIssues } from "../../../components/runtime/envoyValidation";
import { reviews } from "./envoyFixtures";

const field = fieldNames("MeshVmArgs.envoy");
const good = { gatewayAddress: "192.0.2.10", upstreams: [reviews] };

function problems(args: unknown): string[] {
  return envoyRuntimeIssues(args, field).map((i) => `${i.field}: ${i.problem}; ${i.fix}`);
}

describe("envoy runtime: input checks", () => {
  it("accepts a valid block", () => {
    assert.deepEqual(problems(good), []);
    assert.deepEqual(
      problems({
        ...good,
        image: "localhost/envoy:test",
        containerName: "envoy",
        readinessTimeoutSeconds: 30,
        certificate: {
          lifetimeSeconds: 3600,
          renewBeforeSeconds: 1200,
          caAddress: "[::1]:15012",
          caServerName: "istiod.istio-system.svc",
          rotation: "2026-12",
        },
      }),
      [],
    );
    assert.deepEqual(
      problems({
        ...good,
        upstreams: [{ ...reviews, protocol: "grpc", subset: "v1" }],
        inbound: { port: 15006, targetPort: 8080 },
      }),
      [],
    );
  });

  const cases: [string, unknown, RegExp][] = [
    ["not a map", "x", /^MeshVmArgs\.envoy: "x" is not a map/],
    [
      "no upstreams",
      { gatewayAddress: "192.0.2.10" },
      /^MeshVmArgs\.envoy\.upstreams: is required; list the mesh services/,
    ],
    [
      "empty upstreams and no inbound",
      { ...good, upstreams: [] },
      /upstreams: is empty and there is no inbound listener/,
    ],
    [
      "no gateway",
      { upstreams: [reviews] },
      /^MeshVmArgs\.envoy\.gatewayAddress: is required; .*MeshExpansion's gatewayAddress output/,
    ],
    [
      "bad gateway",
      { ...good, gatewayAddress: "a b" },
      /gatewayAddress: "a b" is neither an IP address nor a DNS name/,
    ],
    [
      "short host",
      { ...good, upstreams: [{ ...reviews, host: "reviews.bookinfo" }] },
      /upstreams\[0\]\.host: "reviews\.bookinfo" is not fully qualified.*use the service's full name/,
    ],
    [
      "host ending in .svc",
      { ...good, upstreams: [{ ...reviews, host: "reviews.bookinfo.svc" }] },
      /upstreams\[0\]\.host: .* is not fully qualified/,
    ],
    [
      "wildcard host",
      { ...good, upstreams: [{ ...reviews, host: "*.bookinfo.svc.cluster.local" }] },
      /upstreams\[0\]\.host: .* is not a service host name/,
    ],
    [
      "port out of range",
      { ...good, upstreams: [{ ...reviews, port: 70000 }] },
      /upstreams\[0\]\.port: port 70000 is not a whole number from 1 to 65535/,
    ],
    [
      "missing localPort",
      { ...good, upstreams: [{ ...reviews, localPort: undefined }] },
      /upstreams\[0\]\.localPort: is required/,
    ],
    [
      "unknown protocol",
      { ...good, upstreams: [{ ...reviews, protocol: "MONGO" }] },
      /upstreams\[0\]\.protocol: protocol "MONGO" is not supported; use one of TCP, HTTP, HTTP2, GRPC/,
    ],
    [
      "no serviceAccount",
      { ...good, upstreams: [{ ...reviews, serviceAccount: undefined }] },
      /upstreams\[0\]\.serviceAccount: is required: the server certificate is checked/,
    ],
    [
      "namespace not derivable",
      { ...good, upstreams: [{ ...reviews, host: "search.example.local" }] },
      /upstreams\[0\]\.namespace: cannot be derived from host "search\.example\.local".*; set namespace/,
    ],
    [
      "same localPort twice",
      { ...good, upstreams: [reviews, { ...reviews, port: 9081 }] },
      /upstreams\[1\]\.localPort: port 9080 is also upstreams\[0\]'s/,
    ],
    [
      "same service port twice",
      { ...good, upstreams: [reviews, { ...reviews, localPort: 9081 }] },
      /upstreams\[1\]: calls the same service port as upstreams\[0\]/,
    ],
    [
      "localPort on admin",
      { ...good, upstreams: [{ ...reviews, localPort: 15000 }] },
      /localPort: port 15000 is Envoy's admin port/,
    ],
    ["unknown key", { ...good, upstream: [] }, /MeshVmArgs\.envoy\.upstream: unknown key "upstream"/],
    [
      "unknown upstream key",
      { ...good, upstreams: [{ ...reviews, sa: "x" }] },
      /upstreams\[0\]\.sa: unknown key "sa"/,
    ],
    ["system configDir", { ...good, configDir: "/etc" }, /configDir: .*top-level directory/],
    ["bind not an IP", { ...good, bind: "localhost" }, /bind: "localhost" is not an IP address/],
    [
      "inbound on the app's port",
      { ...good, inbound: { port: 8080, targetPort: 8080 } },
      /inbound\.port: port 8080 is also the application's/,
    ],
    [
      "inbound on an upstream's port",
      { ...good, inbound: { port: 9080, targetPort: 8080 } },
      /inbound\.port: port 9080 is also an upstream's localPort/,
    ],
    ["bad image", { ...good, image: "Not An Image" }, /image: .* is not an image reference/],
    ["bad container name", { ...good, containerName: "-x" }, /containerName: .* is not a container name/],
    [
      "readiness timeout 0",
      { ...good, readinessTimeoutSeconds: 0 },
      /readinessTimeoutSeconds: 0 is not a whole number from 1 to 86400/,
    ],
    [
      "certificate lifetime above istiod's maximum",
      { ...good, certificate: { lifetimeSeconds: 91 * 86400 } },
      /certificate\.lifetimeSeconds: .* is not a whole number from 600 to 7776000; .*istiod refuses more than 90 days/,
    ],
    [
      "renewBefore not below the lifetime",
      { ...good, certificate: { lifetimeSeconds: 3600, renewBeforeSeconds: 3600 } },
      /certificate\.renewBeforeSeconds: 3600 is not a whole number from 0 to 3540/,
    ],
    [
      "caAddress without a port",
      { ...good, certificate: { caAddress: "istiod.example" } },
      /certificate\.caAddress: "istiod\.example" is not host:port/,
    ],
    ["unknown certificate key", { ...good, certificate: { ttl: 1 } }, /certificate\.ttl: unknown key "ttl"/],
    [
      "forward without sourceRanges",
      { ...good, forward: { address: "10.0.0.5" } },
      /^MeshVmArgs\.envoy\.forward\.sourceRanges: is required; list the CIDRs of the VMs the proxy serves/,
    ],
    [
      "forward with empty sourceRanges (Envoy: every source)",
      { ...good, forward: { address: "10.0.0.5", sourceRanges: [] } },
      /forward\.sourceRanges: is empty, which Envoy reads as every source/,
    ],
    [
      "a source range that is not a CIDR",
      { ...good, forward: { address: "10.0.0.5", sourceRanges: ["10.0.1.0"] } },
      /forward\.sourceRanges\[0\]: "10\.0\.1\.0" is not a CIDR \(<address>\/<prefix length>\); use a CIDR such as 10\.0\.1\.0\/24/,
    ],
    [
      "a source range with host bits",
      { ...good, forward: { address: "10.0.0.5", sourceRanges: ["10.0.1.5/24"] } },
      /sourceRanges\[0\]: "10\.0\.1\.5\/24" has address bits set past its \/24 prefix; use 10\.0\.1\.0\/24 for the network, or 10\.0\.1\.5\/32 for one host/,
    ],
    [
      "an IPv6 range with host bits",
      { ...good, forward: { address: "::", sourceRanges: ["2001:db8::1/64"] } },
      /sourceRanges\[0\]: .* past its \/64 prefix; use 2001:db8::\/64 for the network, or 2001:db8::1\/128 for one host/,
    ],
    [
      "a prefix length above the family's",
      { ...good, forward: { address: "10.0.0.5", sourceRanges: ["10.0.1.0/33"] } },
      /sourceRanges\[0\]: "10\.0\.1\.0\/33" has a prefix length above 32/,
    ],
    [
      "a range of the other family",
      { ...good, forward: { address: "10.0.0.5", sourceRanges: ["2001:db8::/32"] } },
      /sourceRanges\[0\]: "2001:db8::\/32" is IPv6, forward\.address is IPv4: no source of it can connect/,
    ],
    [
      "a forward address that is a name",
      { ...good, forward: { address: "vm.example", sourceRanges: ["10.0.1.0/24"] } },
      /forward\.address: "vm\.example" is not an IP address; use the VM's interface address/,
    ],
    [
      "a forward address on loopback",
      { ...good, forward: { address: "127.0.0.1", sourceRanges: ["10.0.1.0/24"] } },
      /forward\.address: "127\.0\.0\.1" is a loopback address: no other VM can reach it/,
    ],
    [
      "bind beside forward",
      { ...good, bind: "127.0.0.1", forward: { address: "10.0.0.5", sourceRanges: ["10.0.1.0/24"] } },
      /^MeshVmArgs\.envoy\.bind: is set beside forward/,
    ],
    [
      "a forwarding listener on the admin port",
      {
        ...good,
        upstreams: [{ ...reviews, localPort: 15000 }],
        forward: { address: "0.0.0.0", sourceRanges: ["10.0.1.0/24"] },
      },
      /upstreams\[0\]\.localPort: port 15000 is Envoy's admin port/,
    ],
    [
      "a forwarding listener on the inbound port",
      {
        ...good,
        inbound: { port: 9080, targetPort: 8080 },
        forward: { address: "0.0.0.0", sourceRanges: ["10.0.1.0/24"] },
      },
      /inbound\.port: port 9080 is also an upstream's localPort/,
    ],
    [
      "an unknown forward key",
      { ...good, forward: { address: "10.0.0.5", sourceRanges: ["10.0.1.0/24"], cidr: "x" } },
      /forward\.cidr: unknown key "cidr"/,
    ],
  ];
  for (const [name, args, pattern] of cases) {
    it(`refuses ${name}`, () => {
      const got = problems(args);
      assert.ok(
        got.some((l) => pattern.test(l)),
        `${pattern} in:\n${got.join("\n")}`,
      );
    });
  }

  it("accepts a forwarding proxy, and warns (without refusing) when a range admits every address", () => {
    const forward = { address: "198.51.100.20", sourceRanges: ["198.51.100.0/24", "10.1.0.7/32"] };
    assert.deepEqual(problems({ ...good, forward }), []);
    assert.deepEqual(envoyForwardWarnings({ ...good, forward }, "envoy"), []);
    const open = { address: "0.0.0.0", sourceRanges: ["10.1.0.0/16", "0.0.0.0/0"] };
    assert.deepEqual(problems({ ...good, forward: open }), []);
    assert.deepEqual(envoyForwardWarnings({ ...good, forward: open }, "envoy"), [
      "envoy.forward.sourceRanges[1] is 0.0.0.0/0: any host that reaches 0.0.0.0 calls the mesh as this VM's identity; " +
        "name the subnet of the VMs the proxy serves instead, e.g. 10.0.1.0/24",
    ]);
    assert.equal(
      envoyForwardWarnings({ ...good, forward: { address: "::", sourceRanges: ["::/0"] } }, "e").length,
      1,
    );
  });
});
