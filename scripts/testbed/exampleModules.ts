// An example's node_modules as `npm install` lays it out: `mesh-vm` a link to this repository (the example's
// "file:../.." dependency), the shared dependencies (@pulumi/*, typescript, tsx, ...) those of the repository, so
// one @pulumi/pulumi is loaded. The package must be built first (buildPackage): `main` is bin/components/index.js.
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "./cli";

/** Lays out `<dir>/node_modules` for an example and returns its path. */
export function exampleNodeModules(dir: string): string {
  const modules = join(dir, "node_modules");
  mkdirSync(modules, { recursive: true });
  for (const entry of readdirSync(join(repoRoot, "node_modules"))) {
    if (entry.startsWith(".")) continue;
    symlinkSync(join(repoRoot, "node_modules", entry), join(modules, entry));
  }
  symlinkSync(repoRoot, join(modules, "mesh-vm"));
  return modules;
}

/** Builds the package as an example consumes it (tsc -p tsconfig.build.json). */
export function buildPackage(): void {
  execFileSync(
    process.execPath,
    [join(repoRoot, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"],
    {
      cwd: repoRoot,
      stdio: "inherit",
    },
  );
}
