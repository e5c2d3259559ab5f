// Renders the istio-proxy container: image, mounts, `docker run` arguments (reference section 1.8) and the
// digest that decides whether a running container is still the declared one.
import type { ControlPlaneProxy } from "./controlPlaneProxy";
import { createHash } from "node:crypto";
import { isIP } from "node:net";
import { posix } from "node:path";
import { workloadProxyAnnotations } from "../mesh/annotations";
import { istioDefaults } from "../mesh/settings";
import { containerNameProblem, excerpt, imageReferenceProblem } from "../rules/values";
import { proxyArgsDefaults, proxyImageDefaults } from "./defaults";
import {
  MeshSettings,
  PROXY_CERTS_PATH,
  WorkloadIdentity,
  hostOf,
  isClusterLocal,
  istioNamespaceOf,
  proxyConfigOf,
  serviceClusterOf,
  workloadProxyConfigOf,
} from "./sidecarEnv";

/** File names inside `proxyConfigDir` (tctl's names; `certs/` is ours, see `proxyMounts`). */
export const CONFIG_FILES = {
  sidecarEnv: "sidecar.env",
  meshRootCert: "istio-ca.pem",
  kubernetesRootCert: "k8s-ca.pem",
  token: "istio-token",
  certsDir: "certs",
} as const;

/** Label carrying the digest of everything the container was created from. */
export const CONFIG_DIGEST_LABEL = "mesh-vm.config-digest";
/** Label naming the owning MeshVm (`<namespace>/<name>`), so a container is never mistaken for another's. */
export const OWNER_LABEL = "mesh-vm.owner";

/** How the proxy image is chosen: VmProxyArgs' and VmBootArgs' fields, MeshVm's words (`proxyImageHub`). */
export interface ProxyImageChoice {
  /** Full image reference; wins over hub/name/tag (the WorkloadEntry's `sidecar.istio.io/proxyImage` wins over it). */
  proxyImage?: string;
  /**
   * Registry/organisation (Tetrate's builds: `docker.io/tetrate`).
   * @default "docker.io/istio"
   */
  proxyImageHub?: string;
  /**
   * Image name under the hub.
   * @default "proxyv2"
   */
  proxyImageName?: string;
  /**
   * Image tag.
   * @default "latest"
   */
  proxyImageTag?: string;
  /** The control plane's hub, image and tag, used where the three above are unset. */
  controlPlaneProxy?: ControlPlaneProxy;
}

export interface ProxyArgsSettings {
  /**
   * Envoy worker threads (0 = one per core). The WorkloadEntry's `proxy.istio.io/config` `concurrency` wins, as
   * in tctl.
   * @default 0
   */
  concurrency?: number;
  /**
   * `--proxyLogLevel`, tctl's `values.global.proxy.logLevel`: the WorkloadEntry's `sidecar.istio.io/logLevel`
   * wins, as in tctl.
   * @default "info"
   */
  logLevel?: string;
  /**
   * `--proxyComponentLogLevel`, tctl's `values.global.proxy.componentLogLevel`: the WorkloadEntry's
   * `sidecar.istio.io/componentLogLevel` wins, as in tctl.
   * @default "misc:info"
   */
  componentLogLevel?: string;
  /**
   * Also pass `--trust-domain <td>` as tctl does. Only older agents (Tetrate's 1.7/1.8 builds) know that flag;
   * current pilot-agent rejects it as unknown, so it is off by default.
   */
  trustDomainFlag?: boolean;
  /** Replaces the whole argument list after the image. */
  args?: string[];
}

/** The proxy's log levels (pilot-agent's `--proxyLogLevel` values). */
export const proxyLogLevels = ["trace", "debug", "info", "warning", "error", "critical", "off"];

/** Why `value` is not a `--proxyLogLevel`, or undefined. */
export function logLevelProblem(value: string): string | undefined {
  return proxyLogLevels.includes(value)
    ? undefined
    : `"${value}" is not a log level (${proxyLogLevels.join(", ")})`;
}

/** Why `value` is not a `--proxyComponentLogLevel` (`<component>:<level>,…`), or undefined. */
export function componentLogLevelProblem(value: string): string | undefined {
  for (const pair of value.split(",")) {
    const [component, level, ...rest] = pair.split(":");
    if (!/^[a-z][a-z0-9_]*$/.test(component ?? "") || level === undefined || rest.length > 0) {
      return `"${pair}" is not <component>:<level>`;
    }
    const p = logLevelProblem(level);
    if (p !== undefined) return p;
  }
  return undefined;
}

/**
 * The proxy image as tctl chooses it: the WorkloadEntry's `sidecar.istio.io/proxyImage` (the whole image), else
 * `proxyImage`, else `<proxyImageHub>/<proxyImageName>:<proxyImageTag>`.
 */
export function proxyImageOf(settings: ProxyImageChoice, workload?: WorkloadIdentity): string {
  const annotated = workload?.annotations?.[workloadProxyAnnotations.proxyImage];
  if (annotated) {
    return annotated;
  }
  if (settings.proxyImage) {
    return settings.proxyImage;
  }
  const d = proxyImageDefaults;
  const cp = settings.controlPlaneProxy ?? {};
  const hub = (settings.proxyImageHub || cp.hub || d.proxyImageHub).replace(/\/+$/, "");
  const name = settings.proxyImageName || cp.image || d.proxyImageName;
  return `${hub}/${name}:${settings.proxyImageTag || cp.tag || d.proxyImageTag}`;
}

/**
 * `proxy sidecar …` as tctl passes it (`--trust-domain` only on request, see `trustDomainFlag`). `--concurrency`
 * is the WorkloadEntry's `proxy.istio.io/config` `concurrency` (tctl clears the mesh's), the log levels its
 * `sidecar.istio.io/logLevel` / `componentLogLevel`; else `settings`, else tctl's defaults.
 */
export function proxyArgsOf(
  workload: WorkloadIdentity,
  mesh: MeshSettings,
  settings: ProxyArgsSettings,
  controlPlane: ControlPlaneProxy = {},
): string[] {
  if (settings.args) {
    return [...settings.args];
  }
  const workloadConcurrency = workloadProxyConfigOf(workload).concurrency as number | undefined | null;
  const annotations = workload.annotations ?? {};
  return [
    "proxy",
    "sidecar",
    "--serviceCluster",
    serviceClusterOf(workload),
    "--concurrency",
    String(workloadConcurrency ?? settings.concurrency ?? proxyArgsDefaults.concurrency),
    "--proxyLogLevel",
    annotations[workloadProxyAnnotations.logLevel] ||
      settings.logLevel ||
      controlPlane.logLevel ||
      proxyArgsDefaults.logLevel,
    "--proxyComponentLogLevel",
    annotations[workloadProxyAnnotations.componentLogLevel] ||
      settings.componentLogLevel ||
      controlPlane.componentLogLevel ||
      proxyArgsDefaults.componentLogLevel,
    ...(settings.trustDomainFlag ? ["--trust-domain", mesh.trustDomain || istioDefaults.trustDomain] : []),
  ];
}

/** The addresses and SNIs of the merged ProxyConfig the proxy dials (tctl's candidates for `--add-host`). */
function proxyConfigAddresses(proxyConfig: Record<string, unknown>): unknown[] {
  const at = (...path: string[]): unknown =>
    path.reduce<unknown>(
      (v, k) => (typeof v === "object" && v !== null ? (v as Record<string, unknown>)[k] : undefined),
      proxyConfig,
    );
  return [
    at("discoveryAddress"),
    at("tracing", "zipkin", "address"),
    at("tracing", "lightstep", "address"),
    at("tracing", "datadog", "address"),
    at("tracing", "tlsSettings", "sni"),
    at("envoyAccessLogService", "address"),
    at("envoyAccessLogService", "tlsSettings", "sni"),
    at("envoyMetricsService", "address"),
    at("envoyMetricsService", "tlsSettings", "sni"),
    at("zipkinAddress"),
  ];
}

/** Why `gatewayAddress` cannot carry `--add-host` entries (it is not an IP), or undefined. */
export function gatewayAddressProblem(gatewayAddress: string): string | undefined {
  return isIP(gatewayAddress) !== 0
    ? undefined
    : `${excerpt(gatewayAddress)} is not an IP: docker --add-host maps istiod's names to an IP (tctl instead ` +
        "rewrote the cluster-local addresses to the gateway's name, which only Tetrate's proxy builds follow)";
}

/**
 * `--add-host` entries, as tctl makes them when istiod is reached through a gateway IP: every cluster-local name
 * the proxy dials (istiod's canonical name, the merged ProxyConfig's discovery, tracing, access-log and metrics
 * addresses and SNIs, including the WorkloadEntry's `proxy.istio.io/config`, and the CA address), in its four
 * spellings `<svc>.<ns>[.svc[.cluster[.local]]]` (a one-label name is in the workload's namespace), sorted and
 * de-duplicated. A gateway that is not an IP is an error (see `gatewayAddressProblem`).
 */
export function addHostsOf(
  workload: WorkloadIdentity,
  mesh: MeshSettings,
  gatewayAddress: string | undefined,
): string[] {
  if (!gatewayAddress) {
    return [];
  }
  const problem = gatewayAddressProblem(gatewayAddress);
  if (problem !== undefined) {
    throw new Error(`gatewayAddress ${problem}; use the gateway's IP`);
  }
  const candidates = [
    `istiod.${istioNamespaceOf(mesh)}.svc:15012`,
    ...proxyConfigAddresses(proxyConfigOf(workload, mesh)),
    mesh.caAddress,
  ];
  const aliases = new Set<string>();
  for (const candidate of candidates) {
    if (typeof candidate !== "string" || candidate === "") continue;
    const host = hostOf(candidate);
    if (isIP(host) !== 0 || !isClusterLocal(host)) continue;
    const [svc, ns = workload.namespace] = host.split(".");
    for (const suffix of ["", ".svc", ".svc.cluster", ".svc.cluster.local"]) {
      aliases.add(`${svc}.${ns}${suffix}`);
    }
  }
  return [...aliases].sort().map((alias) => `${alias}:${gatewayAddress}`);
}

export interface Mount {
  source: string;
  target: string;
  readOnly: boolean;
}

/**
 * Bind mounts. Differences from tctl, and why:
 * - `certs/` at PROV_CERT/OUTPUT_CERTS keeps the agent's issued certificates on the host, so a recreated
 *   container, or a reboot after the bootstrap token expired, renews with the certificate instead of stranding.
 * - the token's directory (not the file) is mounted: files are replaced by rename, and a file bind mount would
 *   keep showing the old inode, so a re-minted token would never reach a running proxy.
 * - the mesh root is not mounted over `root-cert.pem` (tctl mounts it there): that file is in OUTPUT_CERTS, where
 *   the agent writes the root it got from the CA by rename, which fails on a mount point ("device or resource
 *   busy", logged as an error on every certificate). `runProxyScript` copies it into `certs/` instead, as Istio's
 *   own VM setup puts root-cert.pem beside the issued certificates.
 * The Kubernetes root is mounted as a file. Both roots' digests are part of the container digest, so a changed
 * root recreates the container (and copies the new mesh root).
 */
export function proxyMounts(configDir: string): Mount[] {
  const file = (name: string) => posix.join(configDir, name);
  return [
    { source: file(CONFIG_FILES.certsDir), target: PROXY_CERTS_PATH, readOnly: false },
    { source: configDir, target: "/var/run/secrets/tokens", readOnly: true },
    {
      source: file(CONFIG_FILES.kubernetesRootCert),
      target: "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt",
      readOnly: true,
    },
  ];
}

export interface ContainerSpec {
  /** Container name (default `istio-proxy`; unique per proxy on a host). */
  name: string;
  image: string;
  args: string[];
  configDir: string;
  addHosts: string[];
  /** `<namespace>/<name>` of the owning MeshVm. */
  owner: string;
}

/** Digest over everything the container is created from; file contents are passed as their digests. */
export function containerDigest(
  spec: ContainerSpec,
  contents: { sidecarEnv: string; meshRootCert: string; kubernetesRootCert: string },
): string {
  const sha = (text: string) => createHash("sha256").update(text).digest("hex");
  const material = JSON.stringify({
    name: spec.name,
    image: spec.image,
    args: spec.args,
    mounts: proxyMounts(spec.configDir),
    addHosts: spec.addHosts,
    owner: spec.owner,
    sidecarEnv: sha(contents.sidecarEnv),
    meshRootCert: sha(contents.meshRootCert),
    kubernetesRootCert: sha(contents.kubernetesRootCert),
  });
  return sha(material);
}

/**
 * The `docker run` words (without the leading `docker`), in tctl's order plus our labels; `--` ends the
 * options, so the image (checked by the reference grammar as well) can never be read as one.
 */
export function dockerRunArgs(spec: ContainerSpec, digest: string): string[] {
  const imageProblem = imageReferenceProblem(spec.image);
  if (imageProblem !== undefined)
    throw new Error(
      `proxyImage (or proxyImageHub and proxyImageTag): ${imageProblem}; ` +
        'use an image reference such as "docker.io/istio/proxyv2:1.24.0"',
    );
  const nameProblem = containerNameProblem(spec.name);
  if (nameProblem !== undefined)
    throw new Error(`proxyContainerName: ${nameProblem}; use a docker container name such as "istio-proxy"`);
  const words = ["run", "-d", "--name", spec.name, "--restart", "unless-stopped", "--network", "host"];
  words.push("--label", `${CONFIG_DIGEST_LABEL}=${digest}`, "--label", `${OWNER_LABEL}=${spec.owner}`);
  for (const mount of proxyMounts(spec.configDir)) {
    words.push("-v", `${mount.source}:${mount.target}${mount.readOnly ? ":ro" : ""}`);
  }
  words.push("--env-file", posix.join(spec.configDir, CONFIG_FILES.sidecarEnv));
  for (const entry of spec.addHosts) {
    words.push("--add-host", entry);
  }
  words.push("--", spec.image, ...spec.args);
  return words;
}
