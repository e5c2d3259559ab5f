// The package runtime's `sidecarPackage.localFile` over SSH: `<name>-package-copy`, a CopyToRemote of the file
// (a FileAsset: the engine keeps its path and sha256, never its content) into the host step's login's home, and
// the file's sha256 for the renderer (the host step checks the copy against it, as root, before installing it).
// The provider copies on create and when the asset's hash or the path changed: a no-op `up` opens no session.
import { createHash } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { packageCopyPath } from "../runtime/package/packageScripts";
import { sidecarPackageDefaults } from "../runtime/package/settings";
import type { SidecarPackageSettings } from "./proxySettings";

/** Digests by path, size and mtime: many VMs of one program share one package file, read once. */
const digests = new Map<string, string>();

/** The sha256 of a local file (read whole: a package is tens of MB). */
export function localFileSha256(path: string): string {
  const st = statSync(path);
  const key = `${path}\0${st.size}\0${st.mtimeMs}`;
  let digest = digests.get(key);
  if (digest === undefined) {
    digest = createHash("sha256").update(readFileSync(path)).digest("hex");
    digests.set(key, digest);
  }
  return digest;
}

/** The block when it names a local file (plain values: validation refuses the block as an Output). */
export function localPackageOf(
  settings: unknown,
): (SidecarPackageSettings & { localFile: string }) | undefined {
  if (settings === null || typeof settings !== "object" || pulumi.Output.isInstance(settings))
    return undefined;
  const s = settings as SidecarPackageSettings;
  return typeof s.localFile === "string" ? (s as SidecarPackageSettings & { localFile: string }) : undefined;
}

export interface PackageCopy {
  resource: command.remote.CopyToRemote;
  sha256: string;
}

/** `<name>-package-copy` over the host step's connection; the host step depends on it. */
export function createPackageCopy(
  name: string,
  settings: SidecarPackageSettings & { localFile: string },
  connection: command.types.input.remote.ConnectionArgs,
  opts: pulumi.CustomResourceOptions,
): PackageCopy {
  const resource = new command.remote.CopyToRemote(
    `${name}-package-copy`,
    {
      connection,
      source: new pulumi.asset.FileAsset(settings.localFile),
      remotePath: packageCopyPath(settings.name ?? sidecarPackageDefaults.name),
    },
    opts,
  );
  return { resource, sha256: localFileSha256(settings.localFile) };
}
