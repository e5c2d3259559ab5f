// Renders the istio-proxy container: image, mounts, `docker run` arguments (reference section 1.8) and the
// digest that decides whether a running container is still the declared one.
import { createHash } from "node:crypto";
import { isIP } from "node:net";
import { posix } from "node:path";
import { istioDefaults } from "../mesh/settings";
import { containerNameProblem, imageReferenceProblem } from "../rules/values";
import { proxyImageDefaults } from "./defaults";
import {
  MeshSettings,
  PROXY_CERTS_PATH,
  WorkloadIdentity,
  discoveryAddressOf,
  hostOf,
  isClusterLocal,
  istioNamespaceOf,
  serviceClusterOf,
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

/** How the proxy image and its command line are chosen. */
export interface ProxyImageSettings {
  /** Full image reference; wins over hub/name/tag (like `sidecar.istio.io/proxyImage`). */
  image?: string;
  /**
   * Registry/organisation (Tetrate's builds: `docker.io/tetrate`).
   * @default "docker.io/istio"
   */
  hub?: string;
  /**
   * Image name under the hub.
   * @default "proxyv2"
   */
  imageName?: string;
  /**
   * Image tag.
   * @default "latest"
   */
  tag?: string;
}

export interface ProxyArgsSettings {
  /** Envoy worker threads (0 = one per core). */
  concurrency?: number;
  /** `--proxyLogLevel` (default `info`). */
  logLevel?: string;
  /** `--proxyComponentLogLevel` (default `misc:info`). */
  componentLogLevel?: string;
  /**
   * Also pass `--trust-domain <td>` as tctl does. Only older agents (Tetrate's 1.7/1.8 builds) know that flag;
   * current pilot-agent rejects it as unknown, so it is off by default.
   */
  trustDomainFlag?: boolean;
  /** Replaces the whole argument list after the image. */
  args?: string[];
}

export function proxyImageOf(settings: ProxyImageSettings): string {
  if (settings.image) {
    return settings.image;
  }
  const hub = (settings.hub || proxyImageDefaults.hub).replace(/\/+$/, "");
  return `${hub}/${settings.imageName || proxyImageDefaults.imageName}:${settings.tag || proxyImageDefaults.tag}`;
}

/** `proxy sidecar …` as tctl passes it (`--trust-domain` only on request, see `trustDomainFlag`). */
export function proxyArgsOf(
  workload: WorkloadIdentity,
  mesh: MeshSettings,
  settings: ProxyArgsSettings,
): string[] {
  if (settings.args) {
    return [...settings.args];
  }
  return [
    "proxy",
    "sidecar",
    "--serviceCluster",
    serviceClusterOf(workload),
    "--concurrency",
    String(settings.concurrency ?? 0),
    "--proxyLogLevel",
    settings.logLevel || "info",
    "--proxyComponentLogLevel",
    settings.componentLogLevel || "misc:info",
    ...(settings.trustDomainFlag ? ["--trust-domain", mesh.trustDomain || istioDefaults.trustDomain] : []),
  ];
}

/**
 * `--add-host` entries: when istiod is reached through a gateway IP, every cluster-local name the proxy dials
 * (istiod, the discovery and CA addresses) in its four spellings maps to that IP. None for a DNS gateway.
 */
export function addHostsOf(mesh: MeshSettings, gatewayAddress: string | undefined): string[] {
  if (!gatewayAddress || isIP(gatewayAddress) === 0) {
    return [];
  }
  const hosts = new Set<string>([`istiod.${istioNamespaceOf(mesh)}.svc`, hostOf(discoveryAddressOf(mesh))]);
  if (mesh.caAddress) {
    hosts.add(hostOf(mesh.caAddress));
  }
  const aliases = new Set<string>();
  for (const host of hosts) {
    if (!isClusterLocal(host)) {
      continue;
    }
    const [svc, ns] = host.split(".");
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
  if (imageProblem !== undefined) throw new Error(`proxy image: ${imageProblem}`);
  const nameProblem = containerNameProblem(spec.name);
  if (nameProblem !== undefined) throw new Error(`proxy container name: ${nameProblem}`);
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
