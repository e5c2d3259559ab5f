// Scripts that converge and remove the istio-proxy container. The container is recreated only when the
// digest label differs from the declared one (image, arguments, mounts, env file or roots changed);
// otherwise it is at most started again. Either way the script then waits for the proxy's readiness endpoint.
import { posix } from "node:path";
import { isHostname, isIpAddress } from "../rules/addresses";
import { excerpt, formatInteger, urlPathProblem } from "../rules/values";
import { readinessDefaults } from "./defaults";
import { containerConvergeScript } from "./containerConverge";
import { CONFIG_FILES, ContainerSpec, dockerRunArgs } from "./proxyContainer";
import { shellJoin, shellQuote } from "./shell";

export interface ReadinessSettings {
  /** Host the readiness endpoint is probed on, from the VM itself (default 127.0.0.1). */
  host?: string;
  /** Readiness port (default 15021, the proxy's status port). */
  port?: number;
  /** Readiness path (default /healthz/ready). */
  path?: string;
  /** Seconds to wait before failing (default 120). */
  timeoutSeconds?: number;
  /** Container log lines shown when readiness fails (default 40). */
  logLines?: number;
}

/** The probe's parts, each checked (validation refuses them at preview; this guards callers that skip it). */
export function readinessTarget(readiness: ReadinessSettings): { host: string; port: string; path: string } {
  const d = readinessDefaults;
  const host: unknown = readiness.host || d.host;
  if (typeof host !== "string" || !(isIpAddress(host) || isHostname(host)))
    throw new Error(`readiness.host: ${excerpt(host)} is neither an IP address nor a host name`);
  const port = formatInteger(readiness.port ?? d.port, 1, 65535, "readiness.port");
  const path: unknown = readiness.path ?? d.path;
  const p = urlPathProblem(path);
  if (p !== undefined) throw new Error(`readiness.path: ${p}`);
  return { host, port, path: path as string };
}

export function readinessUrl(readiness: ReadinessSettings): string {
  const { host, port, path } = readinessTarget(readiness);
  return `http://${host.includes(":") ? `[${host}]` : host}:${port}${path}`;
}

/**
 * Runs (or keeps) the container and waits until ready. Prints one JSON line:
 * `{"action":"created|started|unchanged","containerId":…,"state":…}`.
 */
export function runProxyScript(
  spec: ContainerSpec,
  digest: string,
  readiness: ReadinessSettings = {},
): string {
  // Numbers are formatted here, never pasted: a string, a fraction or 1e21 is refused, not run.
  const d = readinessDefaults;
  const timeout = formatInteger(
    readiness.timeoutSeconds ?? d.timeoutSeconds,
    1,
    d.maxTimeoutSeconds,
    "readiness.timeoutSeconds",
  );
  const logLines = formatInteger(readiness.logLines ?? d.logLines, 0, d.maxLogLines, "readiness.logLines");
  const { host: probeHost, port: probePort, path: probePath } = readinessTarget(readiness);
  const url = readinessUrl(readiness);
  const certs = posix.join(spec.configDir, CONFIG_FILES.certsDir);
  const rootTmp = posix.join(spec.configDir, CONFIG_FILES.certsDir, ".root-cert.pem.tmp");
  return containerConvergeScript({
    name: spec.name,
    digest,
    url,
    create: [
      // The certs dir must exist before docker run, or the daemon creates it owned by root.
      `  mkdir -p ${shellQuote(certs)}`,
      `  chmod 750 ${shellQuote(certs)}`,
      // The mesh root beside the issued certificates (PROV_CERT/root-cert.pem), a file the agent may replace.
      `  cp ${shellQuote(posix.join(spec.configDir, CONFIG_FILES.meshRootCert))} ${shellQuote(rootTmp)}`,
      `  mv -f ${shellQuote(rootTmp)} ${shellQuote(posix.join(certs, "root-cert.pem"))}`,
      `  docker ${shellJoin(dockerRunArgs(spec, digest))} >/dev/null`,
    ],
    probeFallback: [
      `  elif command -v bash >/dev/null 2>&1; then`,
      `    bash -c 'exec 3<>"/dev/tcp/$0/$1" && printf "GET %s HTTP/1.0\\r\\nHost: %s\\r\\n\\r\\n" "$2" "$0" >&3 && head -n 1 <&3 | grep -q " 200"' ${shellQuote(probeHost)} ${shellQuote(probePort)} ${shellQuote(probePath)} 2>/dev/null`,
      `  else echo "mesh-vm: no curl, wget or bash on the host to probe $url" >&2; return 2; fi`,
    ],
    timeout,
    what: "proxy container",
    logLines,
  });
}

/** Stops and removes the container and the agent's issued certificates. */
export function removeProxyScript(spec: Pick<ContainerSpec, "name" | "configDir">): string {
  return [
    "set -eu",
    `docker rm --force ${shellQuote(spec.name)} >/dev/null 2>&1 || true`,
    `rm -rf ${shellQuote(posix.join(spec.configDir, CONFIG_FILES.certsDir))}`,
  ].join("\n");
}
