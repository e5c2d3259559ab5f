// Start and stop of the `envoy` runtime's container, run on the VM by the proxy account (in the docker group):
// `docker run` of the Envoy image with the config directory mounted read-only at the same path (the rendered
// config names the files by their VM paths), host networking (the listeners are on the VM's loopback and
// interface), and Envoy running as the account's own uid so it can read the 0600 key the account owns. The
// container carries the config digest as a label: start restarts it only when the digest changed, so a
// certificate renewal (the SDS files' targets renamed into place) never restarts Envoy. Readiness is Envoy's
// admin `/ready` on loopback.
import { containerConvergeScript } from "../host/containerConverge";
import { CONFIG_DIGEST_LABEL, OWNER_LABEL } from "../host/proxyContainer";
import { shellJoin, shellQuote } from "../host/shell";
import { containerNameProblem, formatInteger, imageReferenceProblem } from "../rules/values";

export const envoyContainerDefaults = {
  /** The Envoy release whose API go-control-plane v1.37.0 describes (the validator's). */
  image: "docker.io/envoyproxy/envoy:v1.37.0",
  containerName: "mesh-envoy",
  readinessTimeoutSeconds: 120,
  maxReadinessTimeoutSeconds: 86400,
  logLines: 40,
} as const;

export interface EnvoyContainerSpec {
  name: string;
  image: string;
  configDir: string;
  configPath: string;
  owner: string;
  adminPort: number;
  readinessTimeoutSeconds: number;
}

export function envoyReadinessUrl(adminPort: number): string {
  return `http://127.0.0.1:${formatInteger(adminPort, 1, 65535, "adminPort")}/ready`;
}

/** `docker run` words, with the account's uid and gid put in by the script (`"$uid"`, `"$gid"`). */
export function envoyDockerRunArgs(spec: EnvoyContainerSpec, digest: string): string[] {
  const p = imageReferenceProblem(spec.image) ?? containerNameProblem(spec.name);
  if (p !== undefined) throw new Error(`envoy container: ${p}`);
  return [
    "run",
    "-d",
    "--name",
    spec.name,
    "--restart",
    "unless-stopped",
    "--network",
    "host",
    "--label",
    `${CONFIG_DIGEST_LABEL}=${digest}`,
    "--label",
    `${OWNER_LABEL}=${spec.owner}`,
    "-v",
    `${spec.configDir}:${spec.configDir}:ro`,
    "--",
    spec.image,
    "-c",
    spec.configPath,
  ];
}

/**
 * Runs (or keeps) the Envoy container and waits for `/ready`. Prints one JSON line:
 * `{"action":"created|started|unchanged","containerId":…,"state":…}`.
 */
export function envoyStartScript(spec: EnvoyContainerSpec, digest: string): string {
  const timeout = formatInteger(
    spec.readinessTimeoutSeconds,
    1,
    envoyContainerDefaults.maxReadinessTimeoutSeconds,
    "readiness timeout",
  );
  const words = envoyDockerRunArgs(spec, digest);
  // The official image's entrypoint runs Envoy as ENVOY_UID/ENVOY_GID: the account's, which owns the key.
  const run = `docker ${shellJoin(words.slice(0, words.indexOf("--")))} -e ENVOY_UID="$(id -u)" -e ENVOY_GID="$(id -g)" ${shellJoin(words.slice(words.indexOf("--")))}`;
  return containerConvergeScript({
    name: spec.name,
    digest,
    url: envoyReadinessUrl(spec.adminPort),
    create: [`  ${run} >/dev/null`],
    probeFallback: [
      `  else bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0" && printf "GET /ready HTTP/1.0\\r\\n\\r\\n" >&3 && head -n 1 <&3 | grep -q " 200"' ${shellQuote(String(spec.adminPort))} 2>/dev/null; fi`,
    ],
    timeout,
    what: "Envoy container",
    logLines: String(envoyContainerDefaults.logLines),
  });
}

export function envoyStopScript(spec: Pick<EnvoyContainerSpec, "name">): string {
  return ["set -eu", `docker rm --force ${shellQuote(spec.name)} >/dev/null 2>&1 || true`].join("\n");
}
