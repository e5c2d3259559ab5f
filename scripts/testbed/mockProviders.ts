// What the providers answer under Pulumi's mocks (the CA ConfigMaps, the generated key, the minted token, the
// proxy container's report): shared by the unit tests' mocks (pulumiMocks.ts) and the mock-scale benchmark.
import type * as pulumi from "@pulumi/pulumi";
import { testPrivateKeyPem } from "./keys";

export const TOKEN = "eyJhbGciOiJSUzI1NiJ9.SECRET-TOKEN-PAYLOAD.sig";
/** What the next mints return instead of TOKEN (a rotation), while set. */
export const mockState: { token?: string } = {};
export const KUBE_CLIENT_KEY = testPrivateKeyPem("ec");
export const GENERATED_KEY = testPrivateKeyPem();
/** What the workload certificate mock returns (a shape only: the unit tests check where it goes). */
export const WORKLOAD_CERT = "-----BEGIN CERTIFICATE-----\nMOCK-WORKLOAD-CERT\n-----END CERTIFICATE-----\n";

/** The `values` of the mocked `istio-sidecar-injector` ConfigMap. */
export const MOCK_INJECTOR_VALUES = {
  global: { hub: "registry.example/istio", tag: "1.24.2", proxy: { image: "proxyv2", logLevel: "warning" } },
};

/**
 * The outputs a provider would add to the inputs. With `preview`, only what a real preview knows: the CA
 * ConfigMap reads and the generated key; the mint and the container's report stay unknown.
 */
export function providerOutputs(
  args: pulumi.runtime.MockResourceArgs,
  options: { preview?: boolean } = {},
): Record<string, unknown> {
  if (args.type === "kubernetes:core/v1:ConfigMap") {
    // istiod's injector values as an istioctl install publishes them (host/controlPlaneProxy.ts reads them).
    if (args.id?.includes("istio-sidecar-injector"))
      return { data: { values: JSON.stringify(MOCK_INJECTOR_VALUES) } };
    return {
      data: args.id?.endsWith("istio-ca-root-cert")
        ? { "root-cert.pem": "MESH ROOT PEM" }
        : { "ca.crt": "K8S ROOT PEM" },
    };
  }
  if (args.type === "tls:index/privateKey:PrivateKey") {
    return {
      privateKeyOpenssh: GENERATED_KEY,
      privateKeyPem: GENERATED_KEY,
      publicKeyOpenssh: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGeneratedPublicKey\n",
    };
  }
  if (args.type === "tls:index/certRequest:CertRequest") {
    return {
      certRequestPem: "-----BEGIN CERTIFICATE REQUEST-----\nMOCK\n-----END CERTIFICATE REQUEST-----\n",
    };
  }
  if (options.preview) return {};
  if (args.type === "command:local:Command" && args.name.endsWith("-workload-certificate")) {
    return {
      stdout: JSON.stringify({
        certChain: WORKLOAD_CERT,
        notAfter: "2026-12-08T05:00:00.000Z",
        spiffeId: "",
      }),
    };
  }
  if (args.type === "command:local:Command" && args.name.endsWith("-bootstrap-token")) {
    return {
      stdout: JSON.stringify({
        token: mockState.token ?? TOKEN,
        expirationTimestamp: "2026-11-23T05:00:00Z",
      }),
    };
  }
  if (args.type === "command:remote:Command" && args.name.endsWith("-proxy")) {
    return { stdout: '{"action":"created","containerId":"abc123","state":"running"}' };
  }
  return {};
}
