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

  it("is deterministic (the config digest depends on it)", () => {
    assert.equal(envoyBootstrapYaml(settingsOf()), envoyBootstrapYaml(settingsOf()));
  });
});
