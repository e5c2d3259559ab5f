// The repository's structure: every import points to the same or a lower layer (inside components/) and tier
// (package, test bed, scripts, tests), there is no cycle, and no function is long enough to hide several jobs.
// The layers and tiers are the map in docs/development.md; a new module must be placed in one.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import * as ts from "typescript";
import { localProgramNames } from "../../components/localProgram";

const repo = path.resolve(__dirname, "../..");
const root = path.join(repo, "components");

/** Levels of modules, bottom first; an entry ending in `/` names a directory. */
type Levels = { name: string; modules: string[] }[];

/** Bottom to top: a module may import modules of its own layer or of the layers before it. */
const layers: Levels = [
  // Reads the local programs' text by name: it imports none of them (see the local programs' rules below).
  { name: "local program loader", modules: ["localProgram.ts"] },
  { name: "rules", modules: ["inputs.ts", "rules/"] },
  { name: "mesh", modules: ["mesh/"] },
  // The envoy runtime's settings are plain types and their defaults, which the deliveries' Args name.
  { name: "runtime plan", modules: ["runtime/plan.ts", "runtime/envoyArgs.ts"] },
  { name: "host renderers", modules: ["host/"] },
  { name: "runtimes", modules: ["runtime/"] },
  {
    name: "SSH delivery (VmProxy)",
    modules: ["host/vmProxy.ts", "host/vmProxyValidation.ts", "host/packageCopy.ts", "host/index.ts"],
  },
  { name: "boot (VmBoot)", modules: ["boot/"] },
  // Programs that local.Command runs as `node -e <text>`: they import the types of their stdin documents.
  { name: "local programs", modules: ["programs/"] },
  { name: "input types", modules: ["meshVmArgs.ts", "meshExpansionArgs.ts"] },
  { name: "validation", modules: ["validation/"] },
  {
    name: "resolution, readers, mapping",
    modules: ["meshVmResolve.ts", "meshVmHost.ts", "meshVmBoot.ts", "meshVmAuthorization.ts", "manifests/"],
  },
  { name: "components", modules: ["meshVm.ts", "meshExpansion.ts"] },
  { name: "rollout (VMs in waves)", modules: ["rollout/"] },
  { name: "stack", modules: ["stack/"] },
  { name: "fleet (shards over stacks)", modules: ["fleet/"] },
  { name: "entry", modules: ["index.ts"] },
];

/** The TypeScript modules under `dir`, as paths relative to `base` with `/` separators. */
function sourceFiles(dir: string, base = root): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sourceFiles(path.join(dir, e.name), base)
      : e.name.endsWith(".ts")
        ? [path.relative(base, path.join(dir, e.name)).split(path.sep).join("/")]
        : [],
  );
}

/** The level of the longest entry naming `module` (a file named on its own wins over its directory). */
function levelOf(levels: Levels, module: string, where: string): number {
  let i = -1;
  let longest = 0;
  levels.forEach((l, at) => {
    for (const m of l.modules) {
      const hit = m.endsWith("/") ? module.startsWith(m) : module === m;
      if (hit && m.length > longest) [i, longest] = [at, m.length];
    }
  });
  assert.ok(i >= 0, `${where}${module} belongs to none; add it to the list in test/unit/structure.test.ts`);
  return i;
}

/** Every import of `graph` that points to a higher level, as `from (level) -> to (level)`. */
function upwardImports(graph: Map<string, string[]>, levels: Levels, where: string): string[] {
  const upward: string[] = [];
  for (const [from, targets] of graph) {
    for (const to of targets) {
      const [a, b] = [levelOf(levels, from, where), levelOf(levels, to, where)];
      if (b > a) upward.push(`${from} (${levels[a]!.name}) -> ${to} (${levels[b]!.name})`);
    }
  }
  return upward;
}

/** The components/ modules `module` imports (static, dynamic, type-only and re-exports alike). */
function importsOf(module: string, known: Set<string>): string[] {
  const text = readFileSync(path.join(root, module), "utf8");
  return ts
    .preProcessFile(text, true, true)
    .importedFiles.map((f) => f.fileName)
    .filter((spec) => spec.startsWith("."))
    .map((spec) => {
      const base = path.posix.normalize(path.posix.join(path.posix.dirname(module), spec));
      const target = [`${base}.ts`, `${base}/index.ts`].find((c) => known.has(c));
      assert.ok(target, `components/${module} imports "${spec}", which is not a module of components/`);
      return target;
    });
}

const modules = sourceFiles(root).sort();
const known = new Set(modules);
const graph = new Map(modules.map((m) => [m, importsOf(m, known)]));

describe("import graph of components/", () => {
  it("points down: no module imports from a higher layer", () => {
    assert.deepStrictEqual(upwardImports(graph, layers, "components/"), []);
  });

  it("has no cycle", () => {
    assert.deepStrictEqual(cyclesOf(graph), []);
  });
});

/** Every cycle of `graph`, as `a -> b -> a`. */
function cyclesOf(graph: Map<string, string[]>): string[] {
  const state = new Map<string, "visiting" | "done">();
  const cycles: string[] = [];
  const visit = (m: string, trail: string[]): void => {
    if (state.get(m) === "done") return;
    if (state.get(m) === "visiting") {
      cycles.push([...trail.slice(trail.indexOf(m)), m].join(" -> "));
      return;
    }
    state.set(m, "visiting");
    for (const to of graph.get(m) ?? []) visit(to, [...trail, m]);
    state.set(m, "done");
  };
  for (const m of [...graph.keys()].sort()) visit(m, []);
  return cycles;
}

/**
 * The repository's tiers, bottom first: a module imports only from its own tier or from those listed before it
 * (the longest entry naming a module wins). The test bed is the real cluster, hosts, istiod and the Pulumi
 * runners and mocks that the tests, the sandbox and the benchmarks all stand on: it knows none of them.
 */
const tiers: Levels = [
  { name: "package", modules: ["components/", "index.ts"] },
  { name: "test bed", modules: ["scripts/testbed/"] },
  { name: "scripts (sandbox, benchmarks)", modules: ["scripts/"] },
  { name: "tests", modules: ["test/"] },
];

/** The repository's modules `file` imports (paths from the repository root). */
function repoImportsOf(file: string, known: Set<string>): string[] {
  return ts
    .preProcessFile(readFileSync(path.join(repo, file), "utf8"), true, true)
    .importedFiles.map((f) => f.fileName)
    .filter((spec) => spec.startsWith("."))
    .flatMap((spec) => {
      const base = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec));
      const target = [`${base}.ts`, `${base}/index.ts`].find((c) => known.has(c));
      if (target) return [target];
      assert.ok(existsSync(path.join(repo, base)), `${file} imports "${spec}", which does not exist`);
      return []; // a data file (JSON), not a module
    });
}

const repoModules = [
  "index.ts",
  ...["components", "scripts", "test"].flatMap((d) => sourceFiles(path.join(repo, d), repo)),
];
const repoKnown = new Set(repoModules);
const repoGraph = new Map(repoModules.map((m) => [m, repoImportsOf(m, repoKnown)]));

describe("import graph of the repository (package, test bed, scripts, tests)", () => {
  it("points down: the test bed imports neither scripts nor tests, scripts import no test", () => {
    assert.deepStrictEqual(upwardImports(repoGraph, tiers, ""), []);
  });

  it("has no cycle", () => {
    assert.deepStrictEqual(cyclesOf(repoGraph), []);
  });
});

/** Longest function body allowed in components/ and scripts/ (with the test bed): longer ones are split into named steps. */
const maxFunctionLines = 120;

/** Functions of `files` (paths from the repository root) longer than maxFunctionLines. */
function longFunctions(files: string[]): string[] {
  const long: string[] = [];
  for (const module of files) {
    const file = path.join(repo, module);
    const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true);
    const visit = (node: ts.Node): void => {
      if (ts.isFunctionLike(node) && (node as ts.FunctionLikeDeclaration).body !== undefined) {
        const first = source.getLineAndCharacterOfPosition(node.getStart()).line;
        const last = source.getLineAndCharacterOfPosition(node.getEnd()).line;
        if (last - first + 1 > maxFunctionLines)
          long.push(`${module}:${first + 1} (${last - first + 1} lines)`);
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return long;
}

describe("functions of components/ and scripts/", () => {
  it(`are at most ${maxFunctionLines} lines long`, () => {
    const files = repoModules.filter((m) => m.startsWith("components/") || m.startsWith("scripts/"));
    assert.ok(
      files.some((m) => m.startsWith("scripts/testbed/")),
      "the test bed is covered",
    );
    assert.deepStrictEqual(longFunctions(files), []);
  });
});

describe("local programs of components/ (programs/, run as `node -e <text>`)", () => {
  const programs = modules.filter((m) => m.startsWith("programs/"));

  it("import Node's own modules, and types only from the package (nothing else resolves where they run)", () => {
    const wrong: string[] = [];
    for (const m of programs) {
      const file = path.join(root, m);
      const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true);
      const visit = (node: ts.Node): void => {
        if (ts.isImportDeclaration(node)) {
          const spec = (node.moduleSpecifier as ts.StringLiteral).text;
          if (!spec.startsWith("node:") && !node.importClause?.isTypeOnly)
            wrong.push(`${m}: import "${spec}"`);
        } else if (ts.isImportEqualsDeclaration(node) || ts.isExportDeclaration(node)) {
          wrong.push(`${m}: ${node.getText(source)}`);
        } else if (
          ts.isCallExpression(node) &&
          (node.expression.kind === ts.SyntaxKind.ImportKeyword ||
            (ts.isIdentifier(node.expression) && node.expression.text === "require"))
        ) {
          wrong.push(`${m}: ${node.getText(source)}`);
        }
        ts.forEachChild(node, visit);
      };
      visit(source);
    }
    assert.deepStrictEqual(wrong, []);
  });

  it("are read as text by localProgram, never imported to run (type-only imports of their documents aside)", () => {
    const importers: string[] = [];
    for (const m of modules.filter((x) => !x.startsWith("programs/"))) {
      const file = path.join(root, m);
      const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true);
      for (const st of source.statements) {
        if (!ts.isImportDeclaration(st) && !ts.isExportDeclaration(st)) continue;
        const spec = st.moduleSpecifier && (st.moduleSpecifier as ts.StringLiteral).text;
        const typeOnly = ts.isImportDeclaration(st) ? st.importClause?.isTypeOnly : st.isTypeOnly;
        if (spec && /(^|\/)programs\//.test(spec) && !typeOnly) importers.push(`${m}: "${spec}"`);
      }
    }
    assert.deepStrictEqual(importers, []);
  });

  it("are each named in localProgramNames, and each name is a program", () => {
    assert.deepStrictEqual(localProgramNames.map((n) => `programs/${n}.ts`).sort(), programs);
  });
});

describe("validation of components/", () => {
  const text = (m: string) => readFileSync(path.join(root, m), "utf8");
  const testFile = (p: string) => readFileSync(path.resolve(__dirname, p), "utf8");

  it("one validator list: MeshVm, the stack configuration and the hostile-input tests call meshVmInputs", () => {
    const callers = {
      "components/meshVm.ts": text("meshVm.ts"),
      "components/stack/config.ts": text("stack/config.ts"),
      "test/unit/hostile/inputs.test.ts": testFile("hostile/inputs.test.ts"),
    };
    const perRule = /\b(validateMeshVmHostArgs|validateMeshVmBootArgs|deliveryIssues|validateMeshVmArgs)\(/;
    for (const [file, source] of Object.entries(callers)) {
      assert.match(source, /validation\/meshVmInputs"/, `${file} imports the one list`);
      assert.doesNotMatch(source, perRule, `${file} calls a part of the list itself`);
    }
  });

  it("no 'already checked' marks: every component validates its own inputs", () => {
    for (const m of modules) assert.doesNotMatch(text(m), /new WeakSet|markValidated|isValidated/, m);
  });

  it("VmProxy and VmBoot each validate their whole args before registering", () => {
    assert.match(
      text("host/vmProxy.ts"),
      /throwIfIssues\(`VmProxy "\$\{name\}"`, validateVmProxyArgs\(args\)\)/,
    );
    assert.match(
      text("boot/vmBoot.ts"),
      /throwIfIssues\(`VmBoot "\$\{name\}"`, validateVmBootArgs\(args\)\)/,
    );
  });
});

describe("names of components/", () => {
  it("no two modules export the same name (index.ts files only re-export)", () => {
    const owners = new Map<string, string[]>();
    for (const m of modules.filter((x) => !x.endsWith("index.ts"))) {
      const re = /^export (?:async )?(?:function|interface|type|const|class|enum) ([A-Za-z0-9_]+)/gm;
      for (const [, name] of readFileSync(path.join(root, m), "utf8").matchAll(re)) {
        owners.set(name!, [...(owners.get(name!) ?? []), m]);
      }
    }
    const twice = [...owners]
      .filter(([, files]) => files.length > 1)
      .map(([n, f]) => `${n}: ${f.join(", ")}`);
    assert.deepStrictEqual(twice, []);
  });

  it("no mirrored module paths (a/b.ts beside b/a.ts)", () => {
    const set = new Set(modules);
    const mirrored = modules.filter((m) => {
      const parts = m.replace(/\.ts$/, "").split("/");
      return parts.length === 2 && set.has(`${parts[1]}/${parts[0]}.ts`);
    });
    assert.deepStrictEqual(mirrored, []);
  });
});
