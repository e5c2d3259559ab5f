// Which provider plugins the host half of onboarding needs and the toolchain lacks. The npm SDKs of
// @pulumi/command and @pulumi/tls pin their plugin version (package.json `pulumi.version`); the engine
// accepts only that exact version from $PULUMI_HOME/plugins (or the version scripts/toolchain.sh
// built, which it exports as MESH_VM_PLUGIN_VERSION_<NAME>). With plugin downloads off, a missing one
// fails `pulumi up`; a normal Pulumi install downloads it on first use instead.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { toolchainEnv } from "../../test/harness/toolchain";

export const HOST_PLUGINS = ["command", "tls"] as const;
export type HostPlugin = (typeof HOST_PLUGINS)[number];

/** The plugin version the toolchain provides (or would need) for a provider SDK. */
export function pluginVersion(name: HostPlugin): string {
  const fromToolchain = toolchainEnv()[`MESH_VM_PLUGIN_VERSION_${name.toUpperCase() as "COMMAND" | "TLS"}`];
  if (fromToolchain) return fromToolchain;
  const sdk = JSON.parse(readFileSync(require.resolve(`@pulumi/${name}/package.json`), "utf8")) as {
    version: string;
    pulumi?: { version?: string };
  };
  return sdk.pulumi?.version || sdk.version;
}

/** "command v1.2.1"-style names of the host plugins missing from the toolchain's plugin cache. */
export function missingHostPlugins(): string[] {
  const home = toolchainEnv().PULUMI_HOME;
  return HOST_PLUGINS.flatMap((name) => {
    const version = pluginVersion(name);
    return existsSync(join(home, "plugins", `resource-${name}-v${version}`)) ? [] : [`${name} v${version}`];
  });
}
