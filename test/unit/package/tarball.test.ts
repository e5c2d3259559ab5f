// The tarball users install: `npm pack` of a fresh checkout builds the package (the `prepare` script) and ships the
// JavaScript with its declarations, what Pulumi's component provider reads (PulumiPlugin.yaml, the TypeScript
// source and tsconfig.json its schema analyzer parses), the licence, and nothing of the tests, scripts, examples or
// docs. The unpacked package loads, and the analyzer derives the components' schema from it as `pulumi package
// add` would.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { after, before, describe, it } from "node:test";
import { Analyzer } from "@pulumi/pulumi/provider/experimental/analyzer";
import { repoRoot } from "../../../scripts/testbed/cli";
import { packFreshCheckout, unpack, type PackResult } from "../../../scripts/testbed/tarball";

/** Every .ts module of components/ (relative to the repo), the package's source. */
function componentSources(dir = join(repoRoot, "components")): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? componentSources(join(dir, e.name))
      : e.name.endsWith(".ts")
        ? [relative(repoRoot, join(dir, e.name))]
        : [],
  );
}

describe("the npm tarball of a fresh checkout", { timeout: 5 * 60_000 }, () => {
  let pack: PackResult;
  let pkgDir: string;
  let unpacked: string;

  before(() => {
    pack = packFreshCheckout();
    unpacked = mkdtempSync(join(tmpdir(), "mesh-vm-unpacked-"));
    pkgDir = unpack(pack.tarball, unpacked);
    // The dependencies a user's `npm install` puts beside the package.
    symlinkSync(join(repoRoot, "node_modules"), join(pkgDir, "node_modules"));
  });

  after(() => {
    pack?.dispose();
    if (unpacked) rmSync(unpacked, { recursive: true, force: true });
  });

  it("ships the built JavaScript and declarations of every module, the plugin manifest and the licence", () => {
    const files = new Set(pack.files);
    for (const f of [
      "package.json",
      "README.md",
      "LICENSE",
      "CHANGELOG.md",
      "PulumiPlugin.yaml",
      "tsconfig.json",
    ]) {
      assert.ok(files.has(f), `${f} is in the tarball`);
    }
    const sources = componentSources();
    assert.ok(sources.length > 50, `found the component sources (${sources.length})`);
    for (const src of sources) {
      const base = `bin/${src.replace(/\.ts$/, "")}`;
      assert.ok(files.has(src), `${src} (the analyzer's source) is in the tarball`);
      assert.ok(files.has(`${base}.js`), `${base}.js is in the tarball`);
      assert.ok(files.has(`${base}.d.ts`), `${base}.d.ts is in the tarball`);
    }
    const manifest = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8")) as {
      main: string;
      types: string;
    };
    assert.ok(files.has(manifest.main), `main (${manifest.main}) is in the tarball`);
    assert.ok(files.has(manifest.types), `types (${manifest.types}) is in the tarball`);
    assert.match(
      readFileSync(join(pkgDir, "LICENSE"), "utf8"),
      /Apache License\s+Version 2\.0, January 2004/,
    );
  });

  it("ships nothing of the tests, scripts, examples, docs, CI or the repo's own Pulumi project", () => {
    const allowed =
      /^(bin\/components\/.+\.(js|d\.ts|js\.map)|components\/.+\.ts|index\.ts|tsconfig\.json|package\.json|README\.md|LICENSE|CHANGELOG\.md|PulumiPlugin\.yaml)$/;
    assert.deepEqual(
      pack.files.filter((f) => !allowed.test(f)),
      [],
      "every file is one of the package's kinds",
    );
    assert.deepEqual(
      pack.files.filter(
        (f) => /(^|\/)(test|scripts|examples|docs|\.ci|node_modules)\//.test(f) || /\.test\.ts$/.test(f),
      ),
      [],
    );
    assert.ok(!pack.files.includes("Pulumi.yaml"), "the repo's root project is not shipped");
  });

  it("loads from the unpacked tarball and exports the components", () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const pkg = require(pkgDir) as Record<string, unknown>;
    for (const name of ["MeshVm", "MeshExpansion", "VmProxy", "VmBoot"]) {
      assert.equal(typeof pkg[name], "function", `${name} is exported`);
    }
  });

  it("runs its local programs from the shipped JavaScript (no TypeScript where a user's program runs)", () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const loader = require(
      join(pkgDir, "bin/components/localProgram"),
    ) as typeof import("../../../components/localProgram");
    for (const name of loader.localProgramNames) {
      const shipped = readFileSync(join(pkgDir, `bin/components/programs/${name}.js`), "utf8");
      // The shipped file, without its source map comment, and with the programs it runs declared after "use strict".
      const text = loader.localProgram(name).replace(/^("use strict";\n)(?:const [A-Z_]+ = ".*";\n)*/, "$1");
      assert.equal(
        text,
        shipped.replace(/\n\/\/# sourceMappingURL=.*\s*$/, "\n"),
        `${name}: the shipped text`,
      );
    }
    const run = (name: "mintToken" | "issueCertificate") =>
      spawnSync(process.execPath, ["-e", loader.localProgram(name)], { input: "not json", encoding: "utf8" });
    assert.match(run("mintToken").stderr, /^mesh-vm token: stdin is not a token request document\n$/);
    assert.match(
      run("issueCertificate").stderr,
      /^mesh-vm certificate: stdin is not a certificate request document\n$/,
    );
  });

  it("gives Pulumi's component analyzer (pulumi package add) the schema of every component", () => {
    const manifest = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8")) as Record<
      string,
      unknown
    >;
    const result = new Analyzer(
      pkgDir,
      "mesh-vm",
      manifest,
      new Set(["MeshVm", "MeshExpansion", "VmProxy", "VmBoot"]),
    ).analyze();
    assert.deepEqual(Object.keys(result.components).sort(), ["MeshExpansion", "MeshVm", "VmBoot", "VmProxy"]);
    assert.ok(result.components["MeshVm"]!.outputs["spiffeId"], "MeshVm's spiffeId output is in the schema");
    // Every input a YAML or Python user sets is typed: the analyzer types a Pick's fields as Any, which once
    // left MeshVm's host and boot settings untyped. Only the rendered objects (free-form manifests) are Any.
    const untyped: string[] = [];
    const check = (where: string, props: Record<string, object> | undefined) => {
      for (const [name, prop] of Object.entries(props ?? {})) {
        if ("$ref" in prop && prop.$ref === "pulumi.json#/Any") untyped.push(`${where}.${name}`);
      }
    };
    for (const [name, component] of Object.entries(result.components)) check(name, component.inputs);
    for (const [name, type] of Object.entries(result.typeDefinitions)) {
      if (name !== "MeshVmRenderedObjects") check(name, type.properties);
    }
    assert.deepEqual(untyped, [], "inputs the multi-language schema types as Any");
  });
});
