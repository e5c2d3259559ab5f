// The one Pulumi-mocks helper of the unit tests: records every resource registration (inputs with secrets
// unwrapped, and as the engine receives them) and answers like the providers where a test needs outputs (the
// CA ConfigMaps, the generated key, the minted token, the proxy container's report). Import this module before
// any module that creates resources (setMocks must run first), and keep a single @pulumi/pulumi copy.
import * as pulumi from "@pulumi/pulumi";
import { providerOutputs } from "../../../scripts/testbed/mockProviders";

export {
  GENERATED_KEY,
  KUBE_CLIENT_KEY,
  TOKEN,
  WORKLOAD_CERT,
  mockState,
} from "../../../scripts/testbed/mockProviders";

export interface Registration {
  type: string;
  name: string;
  /** Inputs with secrets unwrapped. */
  inputs: Record<string, unknown>;
  /** Inputs as the engine receives them: secrets are wrapped in the secret signature object. */
  raw: Record<string, unknown>;
  custom: boolean;
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
void pulumi.runtime.setMocks(
  {
    newResource(args: pulumi.runtime.MockResourceArgs): {
      id: string | undefined;
      state: Record<string, unknown>;
    } {
      const inputs = unwrap(args.inputs) as Record<string, unknown>;
      registrations.push({
        type: args.type,
        name: args.name,
        inputs,
        raw: args.inputs,
        custom: args.custom ?? true,
      });
      const meta = inputs["metadata"] as { name?: string; namespace?: string } | undefined;
      const id = meta?.name === undefined ? `${args.name}-id` : `${meta.namespace ?? ""}/${meta.name}`;
      return { id, state: { ...inputs, ...providerOutputs(args) } };
    },
    call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
      return args.inputs;
    },
  },
  "mesh-vm",
  "unit",
  false,
);

/** Resolves an Output's value (rejects if the Output fails, e.g. on a validation error found in apply). */
export function valueOf<T>(o: pulumi.Output<T>): Promise<T> {
  // Output.promise() is internal but stable; apply() alone never reports rejections.
  return (o as unknown as { promise(): Promise<T> }).promise();
}

/** Registrations of resources whose logical name starts with `prefix`. */
export function registered(prefix: string): Registration[] {
  return registrations.filter((r) => r.name.startsWith(prefix));
}

/** Lets pending registrations (which run asynchronously) reach the mock monitor. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}
