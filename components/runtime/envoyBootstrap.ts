// The Envoy v3 static bootstrap of the `envoy` runtime (seed 003), a pure function of the resolved settings.
// Per upstream: a loopback listener and a cluster named after the SNI the east-west gateway routes on
// (AUTO_PASSTHROUGH), doing Istio mTLS end to end with the destination's sidecar. Certificates come from SDS
// files in one watched directory, so a renewal is a file rename and no restart. Field names and the ALPN rule
// are Envoy's and Istio's (docs: /work/shared/reference/decoupled-envoy.md); every variant is checked by the
// test bed's validator built from Envoy's own API rules.
import { stringify } from "yaml";
import { EnvoyPaths, envoyPaths, EnvoySettings, EnvoyUpstream, EnvoyUpstreamProtocol } from "./envoyArgs";
import { isIpAddress } from "../rules/addresses";

/** Names of the two SDS secrets (Istio's own names for the workload certificate and the mesh root). */
export const envoySecretNames = { certificate: "default", root: "ROOTCA" } as const;

/**
 * The SNI the gateway's AUTO_PASSTHROUGH filter chains match (Istio's `model.BuildDNSSrvSubsetKey`):
 * `outbound_.<port>_.<subset>_.<host>`; no subset gives `outbound_.9080_._.reviews.bookinfo.svc.cluster.local`.
 */
export function upstreamSni(u: Pick<EnvoyUpstream, "host" | "port" | "subset">): string {
  return `outbound_.${u.port}_.${u.subset ?? ""}_.${u.host}`;
}

/**
 * The ALPN the VM offers: an Istio mTLS ALPN (the gateway drops a client without one, CVE-2021-31921) and
 * never `istio-peer-exchange` (the sidecar would then write a metadata-exchange frame into the stream, which a
 * plain Envoy does not strip).
 */
export function upstreamAlpn(protocol: EnvoyUpstreamProtocol): string[] {
  switch (protocol) {
    case "TCP":
      return ["istio"];
    case "HTTP":
      return ["istio-http/1.1", "istio"];
    case "HTTP2":
    case "GRPC":
      return ["istio-h2", "istio"];
  }
}

/** The destination's identity, matched exactly against the server certificate's URI SAN. */
export function upstreamSpiffeId(
  trustDomain: string,
  u: Pick<EnvoyUpstream, "namespace" | "serviceAccount">,
): string {
  return `spiffe://${trustDomain}/ns/${u.namespace}/sa/${u.serviceAccount}`;
}

const typeUrl = (name: string): string => `type.googleapis.com/${name}`;

/** An SDS secret read from a file in the watched certs directory: re-read when a file there is renamed into place. */
function sdsSecret(name: string, path: string, paths: EnvoyPaths): object {
  return {
    name,
    sds_config: {
      path_config_source: { path, watched_directory: { path: paths.certsDir } },
      resource_api_version: "V3",
    },
  };
}

function tlsParams(): object {
  // Istio's sidecars accept TLS 1.2 and 1.3.
  return { tls_minimum_protocol_version: "TLSv1_2", tls_maximum_protocol_version: "TLSv1_3" };
}

function socketAddress(address: string, port: number): object {
  return { socket_address: { address, port_value: port } };
}

function upstreamListener(s: EnvoySettings, u: EnvoyUpstream): object {
  const cluster = upstreamSni(u);
  const statPrefix = `upstream_${u.localPort}`;
  const filter =
    u.protocol === "TCP"
      ? {
          name: "envoy.filters.network.tcp_proxy",
          typed_config: {
            "@type": typeUrl("envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy"),
            stat_prefix: statPrefix,
            cluster,
          },
        }
      : {
          name: "envoy.filters.network.http_connection_manager",
          typed_config: {
            "@type": typeUrl(
              "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
            ),
            stat_prefix: statPrefix,
            // The application may speak HTTP/1.1 or HTTP/2 to its local listener; the cluster chooses upstream.
            codec_type: "AUTO",
            route_config: {
              name: statPrefix,
              virtual_hosts: [
                {
                  name: u.host,
                  domains: ["*"],
                  routes: [
                    {
                      match: { prefix: "/" },
                      // The service's own name upstream (an app calling localhost:<localPort> sends that as
                      // Host), and no route timeout, as Istio's sidecars: streams and long calls are not cut.
                      route: { cluster, host_rewrite_literal: u.host, timeout: "0s" },
                    },
                  ],
                },
              ],
            },
            http_filters: [
              {
                name: "envoy.filters.http.router",
                typed_config: { "@type": typeUrl("envoy.extensions.filters.http.router.v3.Router") },
              },
            ],
          },
        };
  // A forwarding proxy listens on the VM's interface and admits only the named sources: a connection from
  // elsewhere matches no filter chain, and Envoy closes it before any filter (no upstream connection is made).
  const address = s.forward?.address ?? s.bind;
  const match =
    s.forward === undefined ? {} : { filter_chain_match: { source_prefix_ranges: s.forward.sourceRanges } };
  return {
    name: `${address}_${u.localPort}`,
    address: socketAddress(address, u.localPort),
    filter_chains: [{ ...match, filters: [filter] }],
  };
}

function upstreamCluster(s: EnvoySettings, u: EnvoyUpstream, paths: EnvoyPaths): object {
  const name = upstreamSni(u);
  const http2 = u.protocol === "HTTP2" || u.protocol === "GRPC";
  return {
    name,
    // An IP needs no resolver; a name is resolved by Envoy and re-resolved as it changes.
    type: isIpAddress(s.gatewayAddress) ? "STATIC" : "STRICT_DNS",
    connect_timeout: "10s",
    load_assignment: {
      cluster_name: name,
      endpoints: [
        { lb_endpoints: [{ endpoint: { address: socketAddress(s.gatewayAddress, s.gatewayPort) } }] },
      ],
    },
    ...(u.protocol === "TCP"
      ? {}
      : {
          typed_extension_protocol_options: {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
              "@type": typeUrl("envoy.extensions.upstreams.http.v3.HttpProtocolOptions"),
              explicit_http_config: http2 ? { http2_protocol_options: {} } : { http_protocol_options: {} },
            },
          },
        }),
    transport_socket: {
      name: "envoy.transport_sockets.tls",
      typed_config: {
        "@type": typeUrl("envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext"),
        sni: name,
        common_tls_context: {
          tls_params: tlsParams(),
          alpn_protocols: upstreamAlpn(u.protocol),
          tls_certificate_sds_secret_configs: [
            sdsSecret(envoySecretNames.certificate, paths.certificateSds, paths),
          ],
          combined_validation_context: {
            default_validation_context: {
              match_typed_subject_alt_names: [
                { san_type: "URI", matcher: { exact: upstreamSpiffeId(s.trustDomain, u) } },
              ],
            },
            validation_context_sds_secret_config: sdsSecret(envoySecretNames.root, paths.rootSds, paths),
          },
        },
      },
    },
  };
}

/** The inbound listener: mTLS from the mesh (a client certificate of the trust domain required), to the app. */
function inboundListener(s: EnvoySettings, paths: EnvoyPaths): object[] {
  if (s.inbound === undefined) return [];
  const cluster = inboundClusterName(s.inbound.targetPort);
  return [
    {
      name: `inbound_${s.inbound.port}`,
      address: socketAddress(s.inbound.address, s.inbound.port),
      filter_chains: [
        {
          transport_socket: {
            name: "envoy.transport_sockets.tls",
            typed_config: {
              "@type": typeUrl("envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext"),
              require_client_certificate: true,
              common_tls_context: {
                tls_params: tlsParams(),
                tls_certificate_sds_secret_configs: [
                  sdsSecret(envoySecretNames.certificate, paths.certificateSds, paths),
                ],
                combined_validation_context: {
                  default_validation_context: {
                    // Any workload of the mesh (Istio's sidecars check the same trust-domain prefix); which
                    // ones may call is the application's or an AuthorizationPolicy's decision.
                    match_typed_subject_alt_names: [
                      { san_type: "URI", matcher: { prefix: `spiffe://${s.trustDomain}/` } },
                    ],
                  },
                  validation_context_sds_secret_config: sdsSecret(
                    envoySecretNames.root,
                    paths.rootSds,
                    paths,
                  ),
                },
              },
            },
          },
          filters: [
            {
              name: "envoy.filters.network.tcp_proxy",
              typed_config: {
                "@type": typeUrl("envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy"),
                stat_prefix: `inbound_${s.inbound.port}`,
                cluster,
              },
            },
          ],
        },
      ],
    },
  ];
}

/** Istio's name for an inbound cluster: `inbound|<port>||`. */
export function inboundClusterName(targetPort: number): string {
  return `inbound|${targetPort}||`;
}

function inboundCluster(s: EnvoySettings): object[] {
  if (s.inbound === undefined) return [];
  const name = inboundClusterName(s.inbound.targetPort);
  return [
    {
      name,
      type: "STATIC",
      connect_timeout: "10s",
      load_assignment: {
        cluster_name: name,
        endpoints: [
          { lb_endpoints: [{ endpoint: { address: socketAddress("127.0.0.1", s.inbound.targetPort) } }] },
        ],
      },
    },
  ];
}

/** The bootstrap as an object (Envoy's proto field names). */
export function envoyBootstrap(s: EnvoySettings): object {
  const paths = envoyPaths(s.configDir);
  return {
    node: { id: s.nodeId, cluster: s.nodeCluster },
    // On loopback only: /ready for the readiness wait, nothing reachable from outside the VM.
    admin: { address: socketAddress("127.0.0.1", s.adminPort) },
    static_resources: {
      listeners: [...s.upstreams.map((u) => upstreamListener(s, u)), ...inboundListener(s, paths)],
      clusters: [...s.upstreams.map((u) => upstreamCluster(s, u, paths)), ...inboundCluster(s)],
    },
  };
}

/** The bootstrap as `envoy.yaml`. */
export function envoyBootstrapYaml(s: EnvoySettings): string {
  return (
    "# Rendered by mesh-vm (runtime envoy): a static bootstrap, no connection to istiod.\n" +
    stringify(envoyBootstrap(s), { lineWidth: 0 })
  );
}
