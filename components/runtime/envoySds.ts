// The SDS files of the `envoy` runtime: what Envoy's file subscription (`path_config_source`) reads, a
// DiscoveryResponse holding one Secret each. They name the PEM files instead of holding them, so the
// certificate and key can be renewed by renaming new files into the watched directory: Envoy re-reads the SDS
// file and the files it names, without a restart. The SDS files themselves never change with a renewal.
import { stringify } from "yaml";
import { EnvoyPaths } from "./envoyArgs";
import { envoySecretNames } from "./envoyBootstrap";

const secretType = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret";

function discoveryResponse(secret: object): string {
  return stringify({ resources: [{ "@type": secretType, ...secret }] }, { lineWidth: 0 });
}

/** The workload certificate's SDS file: chain and key by file name. */
export function certificateSdsYaml(paths: EnvoyPaths): string {
  return discoveryResponse({
    name: envoySecretNames.certificate,
    tls_certificate: {
      certificate_chain: { filename: paths.certChain },
      private_key: { filename: paths.key },
    },
  });
}

/** The mesh root's SDS file: the trusted CA by file name. */
export function rootSdsYaml(paths: EnvoyPaths): string {
  return discoveryResponse({
    name: envoySecretNames.root,
    validation_context: { trusted_ca: { filename: paths.root } },
  });
}
