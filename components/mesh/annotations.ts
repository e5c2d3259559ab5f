// The `sidecar-bootstrap.istio.io/*` annotations read by Tetrate's `tctl x sidecar-bootstrap` (fork of
// istioctl, istioctl/pkg/bootstrap/annotation), and the defaults tctl applies when they are absent.
import { ExplicitBootstrapSettings, istioDefaults } from "./settings";

export const sidecarBootstrapPrefix = "sidecar-bootstrap.istio.io/";

/** Annotation names, keyed by the MeshVmArgs field that sets them. */
export const bootstrapAnnotations = {
  sshHost: "sidecar-bootstrap.istio.io/ssh-host",
  sshPort: "sidecar-bootstrap.istio.io/ssh-port",
  sshUser: "sidecar-bootstrap.istio.io/ssh-user",
  scpPath: "sidecar-bootstrap.istio.io/scp-path",
  proxyConfigDir: "sidecar-bootstrap.istio.io/proxy-config-dir",
  proxyImageHub: "sidecar-bootstrap.istio.io/proxy-image-hub",
  proxyContainerName: "sidecar-bootstrap.istio.io/proxy-container-name",
  proxyInstanceIp: "sidecar-bootstrap.istio.io/proxy-instance-ip",
} as const;

export type BootstrapSetting = keyof typeof bootstrapAnnotations;

/**
 * Istio's own annotations tctl reads from the WorkloadEntry (reference 1.4): `proxyConfig` (ProxyConfig YAML,
 * merged last into PROXY_CONFIG), `interceptionMode`, `proxyImage` (the whole image), `logLevel` and
 * `componentLogLevel` (the proxy's `--proxyLogLevel` / `--proxyComponentLogLevel`). They are ordinary
 * annotations (MeshVmArgs.annotations), read by the host half from the rendered WorkloadEntry as tctl reads them
 * from the cluster object.
 */
export const workloadProxyAnnotations = {
  proxyConfig: "proxy.istio.io/config",
  interceptionMode: "sidecar.istio.io/interceptionMode",
  proxyImage: "sidecar.istio.io/proxyImage",
  logLevel: "sidecar.istio.io/logLevel",
  componentLogLevel: "sidecar.istio.io/componentLogLevel",
} as const;

/**
 * Read from the Istio system Namespace by tctl, never from a WorkloadEntry; named here so that fromManifests can
 * say where it belongs.
 */
export const meshExpansionConfigMapAnnotation = "sidecar-bootstrap.istio.io/mesh-expansion-configmap";

/**
 * tctl's defaults. `sshHost` and `proxyInstanceIp` default to the WorkloadEntry address (the latter only when it
 * is an IP). `sshUser`: tctl uses the local user running it; a declarative program must not depend on who runs
 * it, so we use `istio-proxy`, the user the TSB guide creates. `proxyImageHub`: tctl falls back to the mesh's
 * `values.global.hub`, then `docker.io/istio`; we cannot read install values at preview, so `docker.io/istio`.
 */
export const bootstrapDefaults = {
  sshPort: 22,
  sshUser: "istio-proxy",
  scpPath: "/usr/bin/scp",
  proxyConfigDir: "/tmp/istio-proxy",
  proxyImageHub: istioDefaults.proxyImageHub,
  proxyContainerName: "istio-proxy",
} as const;

/** Renders the explicitly set bootstrap settings as WorkloadEntry annotations (string values, as k8s needs). */
export function renderBootstrapAnnotations(settings: ExplicitBootstrapSettings): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(bootstrapAnnotations) as BootstrapSetting[]) {
    const v = settings[key];
    if (v !== undefined && v !== "") out[bootstrapAnnotations[key]] = String(v);
  }
  return out;
}

/** Maps an annotation name back to its MeshVmArgs field; undefined for unknown names. */
export function bootstrapSettingFor(annotation: string): BootstrapSetting | undefined {
  for (const key of Object.keys(bootstrapAnnotations) as BootstrapSetting[]) {
    if (bootstrapAnnotations[key] === annotation) return key;
  }
  return undefined;
}
