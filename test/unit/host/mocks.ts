// Pulumi mocks for the VmProxy tests: import before anything that creates resources.
import * as pulumi from "@pulumi/pulumi";
import { testPrivateKeyPem } from "../helpers/keys";

export interface Registration {
  type: string;
  name: string;
  /** Inputs with secrets unwrapped. */
  inputs: Record<string, unknown>;
  /** Inputs as the engine receives them: secrets are wrapped in the secret signature object. */
  raw: Record<string, unknown>;
}

const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const SECRET_VALUE = "1b47061264138c4ac30d75fd1eb44270";

/** True when a serialized input is a secret. */
export function isSecretValue(value: unknown): boolean {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as Record<string, unknown>)[SECRET_SIG] === SECRET_VALUE
  );
}

/** Removes secret wrappers, recursively. */
export function unwrap(value: unknown): unknown {
  if (isSecretValue(value)) return unwrap((value as { value: unknown }).value);
  if (Array.isArray(value)) return value.map(unwrap);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unwrap(v)]));
  }
  return value;
}
export const registrations: Registration[] = [];
export const TOKEN = "eyJhbGciOiJSUzI1NiJ9.SECRET-TOKEN-PAYLOAD.sig";
export const KUBE_CLIENT_KEY = testPrivateKeyPem("ec");
export const GENERATED_KEY = testPrivateKeyPem();

void pulumi.runtime.setMocks(
  {
    newResource(args) {
      const inputs = unwrap(args.inputs) as Record<string, unknown>;
      registrations.push({ type: args.type, name: args.name, inputs, raw: args.inputs });
      const state: Record<string, unknown> = { ...inputs };
      if (args.type === "kubernetes:core/v1:ConfigMap") {
        state.data = args.id?.endsWith("istio-ca-root-cert")
          ? { "root-cert.pem": "MESH ROOT PEM" }
          : { "ca.crt": "K8S ROOT PEM" };
      }
      if (args.type === "tls:index/privateKey:PrivateKey") {
        state.privateKeyOpenssh = GENERATED_KEY;
        state.publicKeyOpenssh = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGeneratedPublicKey\n";
      }
      if (args.type === "command:local:Command" && args.name.endsWith("-bootstrap-token")) {
        state.stdout = JSON.stringify({ token: TOKEN, expirationTimestamp: "2026-11-23T05:00:00Z" });
      }
      if (args.type === "command:remote:Command" && args.name.endsWith("-proxy-container")) {
        state.stdout = '{"action":"created","containerId":"abc123","state":"running"}';
      }
      return { id: `${args.name}-id`, state };
    },
    call: (args) => args.inputs,
  },
  "mesh-vm",
  "unit",
  false,
);
