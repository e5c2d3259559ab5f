// Which provider plugins the host half of onboarding needs and the toolchain lacks. The root program
// uses the default command and tls providers, so the engine asks for the exact version each npm SDK
// pins (package.json `pulumi.version`) and, with plugin downloads off, finds it only in
// $PULUMI_HOME/plugins. A normal Pulumi install downloads it on first use instead.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { toolchainEnv } from "../../test/harness/toolchain";

export const HOST_PLUGINS = ["command", "tls"] as const;
export type HostPlugin = (typeof HOST_PLUGINS)[number];

/** The plugin version the npm SDK pins: what the engine asks for. */
export function pluginVersion(name: HostPlugin): string {
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
