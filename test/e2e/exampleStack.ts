// Child of the example e2e tests: runs one project of examples/ as an inline program (the machine has no
// Node.js language host) with its own Pulumi.yaml, driven by one JSON command per stdin line:
//   {"op":"config","plain":{...},"secrets":[{"path","value"}]} | {"op":"preview"} | {"op":"up"} |
//   {"op":"destroy"} | {"op":"exit"}
// and answering each with one line `RESULT <json>`. A child process because the examples import `mesh-vm`,
// which resolves to this repository's components only through examples/tsconfig.json (TSX_TSCONFIG_PATH).
// Usage: TSX_TSCONFIG_PATH=examples/tsconfig.json node --import tsx test/e2e/exampleStack.ts <example>
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { errors, steps } from "../harness/pulumi";
import { projectStack } from "../harness/rootProject";

const example = process.argv[2] ?? "";
const exampleDir = resolve(__dirname, "../../examples", example);

const program = async (): Promise<Record<string, unknown>> => {
  // A fresh module per run: the program is the example's top-level code.
  for (const key of Object.keys(require.cache))
    if (key.startsWith(`${exampleDir}/`)) delete require.cache[key];
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return { ...(require(join(exampleDir, "index.ts")) as Record<string, unknown>) };
};

async function main(): Promise<void> {
  const stack = await projectStack(join(exampleDir, "Pulumi.yaml"), "test", program);
  const reply = (r: unknown) => console.log(`RESULT ${JSON.stringify(r)}`);
  try {
    for await (const line of createInterface({ input: process.stdin })) {
      if (line.trim() === "") continue;
      const cmd = JSON.parse(line) as {
        op: string;
        plain?: Record<string, unknown>;
        secrets?: { path: string; value: string }[];
      };
      try {
        if (cmd.op === "exit") break;
        if (cmd.op === "config") {
          await stack.writeConfig(cmd.plain ?? {}, cmd.secrets ?? []);
          reply({ ok: true });
        } else if (cmd.op === "preview") {
          const r = await stack.test.preview();
          reply({
            ok: true,
            steps: steps(r.events),
            errors: errors(r.events),
            changes: r.result.changeSummary,
          });
        } else if (cmd.op === "up") {
          const r = await stack.test.up();
          const outputs = Object.fromEntries(Object.entries(r.result.outputs).map(([k, v]) => [k, v.value]));
          reply({ ok: true, errors: errors(r.events), changes: r.result.summary.resourceChanges, outputs });
        } else if (cmd.op === "destroy") {
          const r = await stack.test.destroy();
          reply({ ok: true, changes: r.result.summary.resourceChanges });
        } else {
          reply({ ok: false, error: `unknown op ${cmd.op}` });
        }
      } catch (e) {
        // The engine's error text (it never holds config values: secrets are set encrypted).
        reply({ ok: false, error: String((e as Error).message ?? e) });
      }
    }
  } finally {
    await stack.dispose();
  }
}

void main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
