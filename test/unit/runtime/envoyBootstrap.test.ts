// The envoy runtime's renderer: every variant passes Envoy's own API rules (the test bed's validator, with the
// SDS and PEM files laid out as on the VM), and the parts the mesh depends on are what the gateway and the
// destination sidecar match: SNI, ALPN (never istio-peer-exchange), the exact SAN, SDS files in a watched
// directory, admin on loopback.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { EnvoyRuntimeArgs, envoyPaths } from "../../../components/runtime/envoyArgs";
import {
  envoyBootstrap,
  envoyBootstrapYaml,
  upstreamAlpn,
  upstreamSni,
} from "../../../components/runtime/envoyBootstrap";
import { validateEnvoyFiles } from "../../../scripts/testbed/envoyValidator";
import { renderedFiles, reviews, settingsOf } from "./envoyFixtures";

const variants: Record<string, Partial<EnvoyRuntimeArgs>> = {
  "one HTTP upstream, gateway IP": {},
  "TCP upstream": { upstreams: [{ ...reviews, protocol: "TCP" }] },
  "HTTP2 upstream": { upstreams: [{ ...reviews, protocol: "HTTP2" }] },
  "GRPC upstream with a subset": { upstreams: [{ ...reviews, protocol: "grpc", subset: "v2" }] },
  "gateway by DNS name, IPv6 bind, own ports and dir": {
    gatewayAddress: "eastwest.example.com",
    gatewayPort: 16443,
    bind: "::1",
    adminPort: 19000,
    configDir: "/opt/mesh/envoy",
  },
  "several upstreams and an inbound listener": {
    upstreams: [
      reviews,
      {
        host: "mysql.db.svc.cluster.local",
        port: 3306,
        protocol: "TCP",
        serviceAccount: "mysql",
        localPort: 3306,
      },
      {
        host: "search.example.local",
        namespace: "search",
        port: 443,
        protocol: "HTTP2",
        serviceAccount: "search",
        localPort: 8443,
      },
    ],
    inbound: { port: 15006, targetPort: 8080, address: "198.51.100.10" },
  },
  "inbound only": { upstreams: [], inbound: { port: 15006, targetPort: 8080 } },
  "forwarding proxy on an interface, two source ranges, TCP and HTTP": {
    upstreams: [reviews, { ...reviews, port: 9081, localPort: 9081, protocol: "TCP" }],
    forward: { address: "198.51.100.20", sourceRanges: ["198.51.100.0/24", "10.1.0.7/32"] },
  },
  "forwarding proxy on every IPv6 interface": {
    forward: { address: "::", sourceRanges: ["2001:db8:1::/48"] },
  },
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

describe("envoy runtime: the static bootstrap", () => {
  for (const [name, args] of Object.entries(variants)) {
    it(`passes Envoy's API rules with its files: ${name}`, () => {
      const s = settingsOf(args);
      const r = validateEnvoyFiles(renderedFiles(s), envoyPaths(s.configDir).config);
      assert.deepEqual(r.problems, []);
      assert.equal(r.summary!.clusters.length, s.upstreams.length + (s.inbound ? 1 : 0));
      assert.equal(r.summary!.listeners.length, s.upstreams.length + (s.inbound ? 1 : 0));
    });
  }

  it("names each cluster and its SNI outbound_.<port>_.<subset>_.<host>", () => {
    assert.equal(upstreamSni(reviews), "outbound_.9080_._.reviews.bookinfo.svc.cluster.local");
    assert.equal(
      upstreamSni({ ...reviews, subset: "v2" }),
      "outbound_.9080_.v2_.reviews.bookinfo.svc.cluster.local",
    );
    const b: Any = envoyBootstrap(settingsOf());
    const c = b.static_resources.clusters[0];
    assert.equal(c.name, "outbound_.9080_._.reviews.bookinfo.svc.cluster.local");
    assert.equal(c.transport_socket.typed_config.sni, c.name);
    assert.equal(c.type, "STATIC");
    assert.deepEqual(c.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address, {
      address: "192.0.2.10",
      port_value: 15443,
    });
    assert.equal(
      (envoyBootstrap(settingsOf({ gatewayAddress: "gw.example.com" })) as Any).static_resources.clusters[0]
        .type,
      "STRICT_DNS",
    );
  });

  it("offers Istio's ALPN per protocol and never istio-peer-exchange", () => {
    assert.deepEqual(upstreamAlpn("TCP"), ["istio"]);
    assert.deepEqual(upstreamAlpn("HTTP"), ["istio-http/1.1", "istio"]);
    assert.deepEqual(upstreamAlpn("HTTP2"), ["istio-h2", "istio"]);
    assert.deepEqual(upstreamAlpn("GRPC"), ["istio-h2", "istio"]);
    for (const args of Object.values(variants)) {
      assert.doesNotMatch(envoyBootstrapYaml(settingsOf(args)), /istio-peer-exchange/);
    }
  });

  it("checks the destination's exact SPIFFE id against the mesh root from SDS, and sends the workload certificate from SDS", () => {
    const s = settingsOf();
    const p = envoyPaths(s.configDir);
    const b: Any = parse(envoyBootstrapYaml(s));
    const ctx = b.static_resources.clusters[0].transport_socket.typed_config.common_tls_context;
    assert.deepEqual(
      ctx.combined_validation_context.default_validation_context.match_typed_subject_alt_names,
      [{ san_type: "URI", matcher: { exact: "spiffe://cluster.local/ns/bookinfo/sa/bookinfo-reviews" } }],
    );
    const sources = [
      ctx.tls_certificate_sds_secret_configs[0],
      ctx.combined_validation_context.validation_context_sds_secret_config,
    ];
    assert.deepEqual(
      sources.map((x: Any) => x.sds_config.path_config_source),
      [
        { path: p.certificateSds, watched_directory: { path: p.certsDir } },
        { path: p.rootSds, watched_directory: { path: p.certsDir } },
      ],
    );
    // No PEM file is named in the config itself: a renewal touches only the certs directory.
    assert.doesNotMatch(envoyBootstrapYaml(s), /\.pem/);
  });

  it("routes HTTP through the router with the service's host and HTTP/2 upstream for HTTP2 and GRPC", () => {
    const b: Any = envoyBootstrap(settingsOf({ upstreams: [{ ...reviews, protocol: "GRPC" }] }));
    const hcm = b.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
    assert.equal(hcm.route_config.virtual_hosts[0].routes[0].route.host_rewrite_literal, reviews.host);
    const opts =
      b.static_resources.clusters[0].typed_extension_protocol_options[
        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
      ];
    assert.deepEqual(opts.explicit_http_config, { http2_protocol_options: {} });
  });

  it("listens on loopback for the app and keeps admin on loopback", () => {
    const b: Any = envoyBootstrap(settingsOf());
    assert.deepEqual(b.static_resources.listeners[0].address.socket_address, {
      address: "127.0.0.1",
      port_value: 9080,
    });
    assert.deepEqual(b.admin.address.socket_address, { address: "127.0.0.1", port_value: 15000 });
  });

  it("requires a client certificate of the trust domain on the inbound listener", () => {
    const b: Any = envoyBootstrap(settingsOf({ inbound: { port: 15006, targetPort: 8080 } }));
    const l = b.static_resources.listeners.at(-1);
    const tls = l.filter_chains[0].transport_socket.typed_config;
    assert.equal(tls.require_client_certificate, true);
    assert.deepEqual(
      tls.common_tls_context.combined_validation_context.default_validation_context
        .match_typed_subject_alt_names,
      [{ san_type: "URI", matcher: { prefix: "spiffe://cluster.local/" } }],
    );
    assert.deepEqual(l.address.socket_address, { address: "0.0.0.0", port_value: 15006 });
  });

  it("a forwarding proxy listens on the interface and matches only the source ranges, in Envoy's CidrRange form", () => {
    const s = settingsOf({
      forward: { address: "198.51.100.20", sourceRanges: ["198.51.100.0/24", "2001:db8::/32"] },
    });
    const l = (envoyBootstrap(s) as Any).static_resources.listeners[0];
    assert.equal(l.name, "198.51.100.20_9080");
    assert.deepEqual(l.address.socket_address, { address: "198.51.100.20", port_value: 9080 });
    assert.equal(l.filter_chains.length, 1, "one chain: a source outside the ranges matches none");
    assert.equal(l.default_filter_chain, undefined);
    assert.deepEqual(l.filter_chains[0].filter_chain_match, {
      source_prefix_ranges: [
        { address_prefix: "198.51.100.0", prefix_len: 24 },
        { address_prefix: "2001:db8::", prefix_len: 32 },
      ],
    });
    const plain = (envoyBootstrap(settingsOf()) as Any).static_resources.listeners[0];
    assert.equal(plain.filter_chains[0].filter_chain_match, undefined, "loopback listeners match any source");
  });

  it("the validator refuses a source range Envoy would refuse, and a wildcard listener beside a loopback one on its port", () => {
    const s = settingsOf({ forward: { address: "0.0.0.0", sourceRanges: ["10.0.0.0/8"] } });
    const files = renderedFiles(s);
    const config = envoyPaths(s.configDir).config;
    const edit = (f: (d: Any) => void) =>
      files.map((x) => {
        if (x.path !== config) return x;
        const d: Any = parse(x.content);
        f(d);
        return { ...x, content: JSON.stringify(d) };
      });
    const badLen = validateEnvoyFiles(
      edit((d) => {
        d.static_resources.listeners[0].filter_chains[0].filter_chain_match.source_prefix_ranges[0].prefix_len = 129;
      }),
      config,
    );
    assert.ok(
      badLen.problems.some((p) => /PrefixLen/i.test(p) && /128/.test(p)),
      badLen.problems.join("\n"),
    );
    const clash = validateEnvoyFiles(
      edit((d) => {
        const l = structuredClone(d.static_resources.listeners[0]);
        l.name = "127.0.0.1_9080";
        l.address.socket_address.address = "127.0.0.1";
        d.static_resources.listeners.push(l);
      }),
      config,
    );
    assert.ok(
      clash.problems.some((p) => /overlaps listener "0\.0\.0\.0_9080" on 0\.0\.0\.0 port 9080/.test(p)),
      clash.problems.join("\n"),
    );
  });

  it("is deterministic (the config digest depends on it)", () => {
    assert.equal(envoyBootstrapYaml(settingsOf()), envoyBootstrapYaml(settingsOf()));
  });
});
