// The Node programs that local.Command runs on the machine running Pulumi (`node -e <text>`): the token minter,
// the envoy runtime's certificate request, the bastion's host key check, VmBoot's ready check and bundle writer.
// Each is a TypeScript module in programs/, type-checked and linted with the package; it imports Node's own
// modules only (mesh-vm's dependencies are not resolvable where it runs) and the types of its stdin document.
//
// The command's `create` is the program's text, not a path: it is the same on every machine and install, so it
// never causes a diff, and what varies arrives in the environment (nothing secret) or on stdin (secret), never on
// a command line. The built package ships the programs compiled (bin/components/programs/*.js, `npm run build`)
// and this reads that text. From the sources (the tests, under tsx) it compiles the module the same way with the
// repository's TypeScript, once per process.
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";

/** The programs in programs/ (file names without `.ts`). */
export const localProgramNames = [
  "mintToken",
  "issueCertificate",
  "bastionHostKeyCheck",
  "readyCheck",
  "sleep",
  "writeBundle",
  "removeBundle",
] as const;

export type LocalProgramName = (typeof localProgramNames)[number];

/**
 * Programs another one runs with its own `node -e`, put before its code as string constants (the program declares
 * them with `declare const`): the certificate request mints its token with the minting program.
 */
const embedded: Partial<Record<LocalProgramName, Record<string, LocalProgramName>>> = {
  issueCertificate: { MINT_TOKEN_PROGRAM: "mintToken" },
};

const texts = new Map<LocalProgramName, string>();

/** The program's JavaScript text, for `node -e`. */
export function localProgram(name: LocalProgramName): string {
  let text = texts.get(name);
  if (text === undefined) {
    const constants = Object.entries(embedded[name] ?? {}).map(
      ([constant, program]) => `const ${constant} = ${JSON.stringify(localProgram(program))};\n`,
    );
    const code = compiled(name);
    // After the "use strict" directive, which must stay the program's first statement.
    const prologue = /^"use strict";\n/.exec(code)?.[0] ?? "";
    text = prologue + constants.join("") + code.slice(prologue.length);
    texts.set(name, text);
  }
  return text;
}

/** The module compiled to CommonJS, without its source map comment (the text runs from no file). */
function compiled(name: LocalProgramName): string {
  const built = path.join(__dirname, "programs", `${name}.js`);
  const code = existsSync(built)
    ? readFileSync(built, "utf8")
    : transpiled(path.join(__dirname, "programs", `${name}.ts`));
  return code.replace(/\n\/\/# sourceMappingURL=.*\s*$/, "\n");
}

/** From the sources only: the repository's TypeScript (a dev dependency), with the build's options. */
function transpiled(file: string): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ts = require("typescript") as typeof import("typescript");
  const { outputText } = ts.transpileModule(readFileSync(file, "utf8"), {
    fileName: file,
    compilerOptions: {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.CommonJS,
      esModuleInterop: true,
      strict: true,
    },
  });
  return outputText;
}
