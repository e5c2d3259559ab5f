// Pulumi mocks for unit tests: records every resource registration. Import this module before any module
// that creates resources (setMocks must run first), and keep a single @pulumi/pulumi copy.
import * as pulumi from "@pulumi/pulumi";

export interface Registration {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
  custom: boolean;
}

export const registrations: Registration[] = [];

void pulumi.runtime.setMocks(
  {
    newResource(args: pulumi.runtime.MockResourceArgs): {
      id: string | undefined;
      state: Record<string, unknown>;
    } {
      registrations.push({
        type: args.type,
        name: args.name,
        inputs: args.inputs,
        custom: args.custom ?? true,
      });
      const meta = args.inputs["metadata"] as { name?: string; namespace?: string } | undefined;
      const id = meta?.name === undefined ? `${args.name}-id` : `${meta.namespace ?? ""}/${meta.name}`;
      return { id, state: args.inputs };
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
