// The test bed's stand-in for Envoy's xDS stream (xds-client/main.go): the Istio agent dials istiod only for a
// proxy connected to its xDS socket, and istiod auto-registers a VM only on that connection. Built once per
// source and Istio version into the cache, against the pinned istio.io/istio module (its go.mod and go.sum, from
// the Go module cache scripts/istio.sh filled; nothing is fetched), and copied onto a test host.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { accessSync, constants, readFileSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { readRecord } from "./hosts/registry";
import type { TestHost } from "./hosts/types";
import { istioBinaries } from "./istiod";

const execFileAsync = promisify(execFile);
const source = resolve(__dirname, "xds-client", "main.go");

function cacheDir(): string {
  return (
    process.env.MESH_VM_CACHE ??
    join(process.env.XDG_CACHE_HOME ?? join(process.env.HOME ?? "/root", ".cache"), "mesh-vm")
  );
}

/** The istio.io/istio module version scripts/istio.sh built the agent from. */
function istioModuleVersion(): string {
  return readFileSync(join(istioBinaries().pilotAgent, "../../module-version"), "utf8").trim();
}

async function goEnv(name: string): Promise<string> {
  const go = process.env.MESH_VM_GO ?? "/usr/local/go/bin/go";
  return (await execFileAsync(go, ["env", name])).stdout.trim();
}

let built: Promise<string> | undefined;
/** Path of the built xds-client (built on first use, ~3 min cold here, then cached by source and version). */
export function xdsClientPath(): Promise<string> {
  built ??= (async () => {
    const version = istioModuleVersion();
    const key = createHash("sha256")
      .update(readFileSync(source))
      .update("\0" + version)
      .digest("hex")
      .slice(0, 16);
    const final = join(cacheDir(), "xds-client", key);
    const bin = join(final, "xds-client");
    try {
      accessSync(bin, constants.X_OK);
      return bin;
    } catch {
      // build below
    }
    const go = process.env.MESH_VM_GO ?? "/usr/local/go/bin/go";
    const module = join(await goEnv("GOMODCACHE"), `istio.io/istio@${version}`);
    await mkdir(join(cacheDir(), "xds-client"), { recursive: true });
    const tmp = await mkdtemp(join(cacheDir(), "xds-client", ".build-"));
    try {
      // istio's own dependency versions: its go.mod as this module's, with istio itself required.
      const goMod = readFileSync(join(module, "go.mod"), "utf8").replace(
        /^module istio\.io\/istio$/m,
        "module mesh-vm/testbed/xds-client",
      );
      await writeFile(join(tmp, "go.mod"), `${goMod}\nrequire istio.io/istio ${version}\n`);
      await copyFile(join(module, "go.sum"), join(tmp, "go.sum"));
      await copyFile(source, join(tmp, "main.go"));
      await execFileAsync(go, ["build", "-trimpath", "-ldflags", "-s -w", "-o", "xds-client", "."], {
        cwd: tmp,
        env: {
          ...process.env,
          GOFLAGS: "-mod=mod",
          GOPROXY: "off",
          GOSUMDB: "off",
          CGO_ENABLED: "0",
        },
        maxBuffer: 16 * 1024 * 1024,
      });
      await mkdir(final, { recursive: true });
      await rename(join(tmp, "xds-client"), bin);
      return bin;
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  })();
  return built;
}

/** Copies the xds-client onto a test host (its root is an overlay this machine sees) at `path`. */
export async function installXdsClient(host: TestHost, path = "/var/tmp/xds-client"): Promise<string> {
  const record = readRecord(host.id);
  if (!record) throw new Error(`no record of test host ${host.name}`);
  await copyFile(await xdsClientPath(), join(record.root, path));
  await host.run(`chmod 0755 ${path}`);
  return path;
}
