// The package as a user gets it: `npm pack` of a fresh checkout. The checkout is a copy of the files git tracks
// (committed or not, minus deleted ones) in a temp dir, so nothing built or installed in the working tree (bin/,
// node_modules/) can slip into the tarball; the repo's node_modules is linked in only for the build's tools
// (tsc), as `npm ci` would install them. `npm pack` runs the `prepare` script (the build) itself.
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { repoRoot } from "./cli";

/** One entry of `npm pack --json`'s output (the fields the tests read). */
export interface PackResult {
  /** The tarball's path. */
  tarball: string;
  /** Size of the tarball in bytes. */
  size: number;
  unpackedSize: number;
  /** Paths inside the package (without the tarball's `package/` prefix). */
  files: string[];
  /** The temp dir holding the checkout and the tarball; remove it with `dispose()`. */
  dir: string;
  dispose(): void;
}

/** The files `git ls-files` lists (tracked and new, not ignored, not deleted) of the working tree. */
function checkoutFiles(): string[] {
  const list = (args: string[]) =>
    execFileSync("git", ["ls-files", "-z", ...args], { cwd: repoRoot, encoding: "utf8" })
      .split("\0")
      .filter(Boolean);
  const deleted = new Set(list(["--deleted"]));
  return list(["--cached", "--others", "--exclude-standard"]).filter((f) => !deleted.has(f));
}

/** Packs a fresh checkout of the repository with `npm pack` (which builds it) and returns the tarball. */
export function packFreshCheckout(): PackResult {
  const dir = mkdtempSync(join(tmpdir(), "mesh-vm-pack-"));
  const checkout = join(dir, "checkout");
  for (const f of checkoutFiles()) {
    mkdirSync(dirname(join(checkout, f)), { recursive: true });
    cpSync(join(repoRoot, f), join(checkout, f));
  }
  symlinkSync(join(repoRoot, "node_modules"), join(checkout, "node_modules"));
  const out = execFileSync("npm", ["pack", "--json", "--pack-destination", dir], {
    cwd: checkout,
    encoding: "utf8",
    // The build's output (tsc) goes to stderr, so stdout is npm's JSON alone.
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, npm_config_foreground_scripts: "false" },
  });
  const [result] = JSON.parse(out.slice(out.indexOf("["))) as {
    filename: string;
    size: number;
    unpackedSize: number;
    files: { path: string }[];
  }[];
  if (!result) throw new Error(`npm pack printed no result:\n${out}`);
  return {
    tarball: join(dir, result.filename),
    size: result.size,
    unpackedSize: result.unpackedSize,
    files: result.files.map((f) => f.path).sort(),
    dir,
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Unpacks the tarball into DEST/package (as npm installs it into node_modules/mesh-vm). */
export function unpack(tarball: string, dest: string): string {
  mkdirSync(dest, { recursive: true });
  execFileSync("tar", ["-xzf", tarball, "-C", dest]);
  return join(dest, "package");
}

/** The version a package has in the repository's lock file (what the test bed's plugins are built for). */
export function lockedVersion(pkg: string): string {
  const lock = JSON.parse(readFileSync(join(repoRoot, "package-lock.json"), "utf8")) as {
    packages: Record<string, { version?: string }>;
  };
  const v = lock.packages[`node_modules/${pkg}`]?.version;
  if (!v) throw new Error(`${pkg} is not in package-lock.json`);
  return v;
}
