// The package's structure: every import of components/ points to the same or a lower layer, there is no cycle,
// and no function is long enough to hide several jobs. The layers are the map in docs/development.md; a new
// module must be placed in one.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import * as ts from "typescript";

const root = path.resolve(__dirname, "../../components");

/** Bottom to top: a module may import modules of its own layer or of the layers before it. */
const layers: { name: string; modules: string[] }[] = [
  { name: "rules", modules: ["inputs.ts", "rules/"] },
  { name: "mesh", modules: ["mesh/"] },
  // The envoy runtime's settings are plain types and their defaults, which the deliveries' Args name.
  { name: "runtime plan", modules: ["runtime/plan.ts", "runtime/envoyArgs.ts"] },
  { name: "host renderers", modules: ["host/"] },
  { name: "runtimes", modules: ["runtime/"] },
  {
    name: "SSH delivery (VmProxy)",
    modules: ["host/vmProxy.ts", "host/vmProxyValidation.ts", "host/index.ts"],
  },
  { name: "boot (VmBoot)", modules: ["boot/"] },
  { name: "input types", modules: ["meshVmArgs.ts", "meshExpansionArgs.ts"] },
  { name: "validation", modules: ["validation/"] },
  {
    name: "resolution, readers, mapping",
    modules: ["meshVmResolve.ts", "meshVmHost.ts", "meshVmBoot.ts", "manifests/"],
  },
  { name: "components", modules: ["meshVm.ts", "meshExpansion.ts"] },
  { name: "stack", modules: ["stack/"] },
  { name: "fleet (shards over stacks)", modules: ["fleet/"] },
  { name: "entry", modules: ["index.ts"] },
];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sourceFiles(path.join(dir, e.name))
      : e.name.endsWith(".ts")
        ? [path.relative(root, path.join(dir, e.name)).split(path.sep).join("/")]
        : [],
  );
}

/** The layer of the longest entry naming `module` (a file named on its own wins over its directory). */
function layerOf(module: string): number {
  let i = -1;
  let longest = 0;
  layers.forEach((l, at) => {
    for (const m of l.modules) {
      const hit = m.endsWith("/") ? module.startsWith(m) : module === m;
      if (hit && m.length > longest) [i, longest] = [at, m.length];
    }
  });
  assert.ok(
    i >= 0,
    `components/${module} belongs to no layer; add it to the list in test/unit/layers.test.ts`,
  );
  return i;
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
    const upward: string[] = [];
    for (const [from, targets] of graph) {
      for (const to of targets) {
        if (layerOf(to) > layerOf(from)) {
          upward.push(`${from} (${layers[layerOf(from)]!.name}) -> ${to} (${layers[layerOf(to)]!.name})`);
        }
      }
    }
    assert.deepStrictEqual(upward, []);
  });

  it("has no cycle", () => {
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
    for (const m of modules) visit(m, []);
    assert.deepStrictEqual(cycles, []);
  });
});

/** Longest function body allowed in components/: longer ones are split into named steps. */
const maxFunctionLines = 120;

describe("functions of components/", () => {
  it(`are at most ${maxFunctionLines} lines long`, () => {
    const long: string[] = [];
    for (const module of modules) {
      const file = path.join(root, module);
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
    assert.deepStrictEqual(long, []);
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
