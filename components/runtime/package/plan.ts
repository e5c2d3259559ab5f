// The package runtime as one pure renderer: from resolved settings and the VM's material (bootstrap token, CA
// root) to the plan both deliveries apply (docs/architecture.md): Istio's four files in Istio's places, the
// package installed by `prepare`, Istio's unit run by `start`, the hosts line for istiod. No resource, clock or
// environment is read here.
import { createHash } from "node:crypto";
import { renderClusterEnv } from "./clusterEnv";
import { packageFileSpec, type PackageFileSpec } from "./layout";
import { renderMeshYaml } from "./meshYaml";
import {
  packagePrepareScript,
  packageStartScript,
  packageStopScript,
  packageUndoScript,
  type PackageSource,
} from "./packageScripts";
import { istiodHost, type ConfigureOptions, type WorkloadGroupSource } from "./workloadGroupSource";

/** The package runtime's settings after defaults. */
export interface PackageRuntimeSettings {
  /** The package: its name (Istio's `istio-sidecar`), the version to run, where the VM gets it. */
  package: { name: string; version: string; source: PackageSource };
  /** Traffic capture: Istio's iptables rules (istio-start.sh) or none. */
  capture: "iptables" | "none";
  /** The WorkloadGroup the VM belongs to, as `istioctl x workload entry configure` reads it. */
  group: WorkloadGroupSource;
  /** istioctl's flags and cluster values (cluster id, mesh config, the VM's IP, auto-registration). */
  configure: ConfigureOptions;
  /** istiod's xDS and CA address as the VM dials it (`istiod.istio-system.svc:15012` by default). */
  discoveryAddress: string;
  /** The IP the VM reaches istiod on (east-west gateway); its hosts line maps istiod's name there. */
  gatewayAddress?: string;
  /** The agent's status port readiness is read from (no Envoy means no 15021). */
  readiness: { port: number; path: string; timeoutSeconds: number };
}

/** What the VM needs from the cluster, made once per VM by its own resource. */
export interface PackageRuntimeMaterial {
  /** Bootstrap token (audience istio-ca); secret. */
  token: string;
  /** istio-ca-root-cert's root-cert.pem. */
  rootCertPem: string;
}

export interface PackagePlannedFile extends PackageFileSpec {
  content: string;
}

export interface PackageRuntimePlan {
  runtime: "package";
  prepare: { apply: string; undo: string };
  files: PackagePlannedFile[];
  start: string;
  stop: string;
  configDigest: string;
  readiness: { url: string; timeoutSeconds: number };
  hostsBlock?: { address: string; hostnames: string[] };
}

/** sha256 over what a running agent read at start: the package version, capture, each restarting file. */
export function packageConfigDigest(
  settings: Pick<PackageRuntimeSettings, "package" | "capture">,
  files: PackagePlannedFile[],
): string {
  const h = createHash("sha256");
  h.update(`${settings.package.name}=${settings.package.version}\0capture=${settings.capture}\0`);
  for (const f of files.filter((x) => x.restartsProxy && !x.secret)) {
    h.update(`${f.path}\0${f.owner}:${f.group}:${f.mode}\0${f.content}\0`);
  }
  return h.digest("hex");
}

export function packageRuntimePlan(
  settings: PackageRuntimeSettings,
  material: PackageRuntimeMaterial,
): PackageRuntimePlan {
  const { group, configure } = settings;
  const files: PackagePlannedFile[] = [
    {
      ...packageFileSpec("clusterEnv"),
      content: renderClusterEnv(group, configure, {
        capture: settings.capture,
        discoveryAddress: settings.discoveryAddress,
      }),
    },
    { ...packageFileSpec("meshConfig"), content: renderMeshYaml(group, configure) },
    { ...packageFileSpec("rootCert"), content: material.rootCertPem },
    { ...packageFileSpec("token"), content: material.token },
  ];
  const configDigest = packageConfigDigest(settings, files);
  const r = settings.readiness;
  return {
    runtime: "package",
    prepare: { apply: packagePrepareScript(settings.package), undo: packageUndoScript(settings.package) },
    files,
    start: packageStartScript(
      configDigest,
      { url: `http://127.0.0.1:${r.port}${r.path}`, timeoutSeconds: r.timeoutSeconds },
      settings.capture,
    ),
    stop: packageStopScript(),
    configDigest,
    readiness: { url: `http://127.0.0.1:${r.port}${r.path}`, timeoutSeconds: r.timeoutSeconds },
    ...(settings.gatewayAddress
      ? { hostsBlock: { address: settings.gatewayAddress, hostnames: [istiodHost(configure)] } }
      : {}),
  };
}
