// VmProxy's defaults, each written once: VmProxy, its validation, the scripts and the docs read them from here.
// Values shared with MeshVm (the proxy user, config directory, container name, egress bind address) come from
// the mesh settings below this package, so a MeshVm and a bare VmProxy default to the same host layout.
import { bootstrapDefaults } from "../mesh/annotations";
import { istioDefaults, meshVmDefaults } from "../mesh/settings";

export const vmProxyDefaults = {
  /** The user the TSB guide creates (tctl's `ssh-user`); logs in, owns the config directory and runs docker. */
  sshUser: bootstrapDefaults.sshUser,
  proxyConfigDir: meshVmDefaults.proxyConfigDir,
  proxyContainerName: bootstrapDefaults.proxyContainerName,
  egressBindAddress: meshVmDefaults.egressBind,
  /** Seconds between deregistration and stopping the proxy: istiod's push to the clients. */
  deregistrationDelaySeconds: 5,
  /** Host preparation's privileged user. */
  adminUser: "root",
  dockerGroup: "docker",
} as const;

export const sshDefaults = {
  port: bootstrapDefaults.sshPort,
  bastionUser: "root",
  /** About a minute with backoff: enough for a booting host. */
  dialErrorLimit: 20,
  perDialTimeout: 10,
} as const;

export const tokenDefaults = {
  /** tctl's 24 h. */
  expirationSeconds: 86400,
  /** At most a quarter of the lifetime (see `renewBeforeSecondsFor`). */
  renewBeforeSeconds: 3600,
  audiences: ["istio-ca"] as readonly string[],
  /** The API server refuses a TokenRequest below 10 minutes (ValidateTokenRequest). */
  minimumExpirationSeconds: 600,
} as const;

/** The re-mint margin for a token lifetime: the default, capped at a quarter of the lifetime. */
export function renewBeforeSecondsFor(expirationSeconds: number): number {
  return Math.min(tokenDefaults.renewBeforeSeconds, Math.floor(expirationSeconds / 4));
}

export const proxyImageDefaults = {
  proxyImageHub: istioDefaults.proxyImageHub,
  proxyImageName: "proxyv2",
  proxyImageTag: "latest",
} as const;

/** The proxy's command-line defaults, tctl's: all cores, `info`, `misc:info`. */
export const proxyArgsDefaults = {
  concurrency: 0,
  logLevel: "info",
  componentLogLevel: "misc:info",
} as const;

/** The readiness wait after (re)starting the proxy, and the bounds of its settings. */
export const readinessDefaults = {
  host: "127.0.0.1",
  /** Envoy's status port; an agent without Envoy (DISABLE_ENVOY) answers on 15020. */
  port: 15021,
  path: "/healthz/ready",
  timeoutSeconds: 120,
  logLines: 40,
  /** A day: longer than any image pull. */
  maxTimeoutSeconds: 86400,
  maxLogLines: 10000,
} as const;

/** Bounds of VmProxy's numbers (the scripts format them; a value outside is refused at preview). */
export const numberBounds = {
  /** An hour between deregistration and stopping the proxy is already far more than istiod's push. */
  maxDeregistrationDelaySeconds: 3600,
  /** The TokenRequest field is an int64; a year is beyond any API server's --service-account-max-token-expiration. */
  maxTokenExpirationSeconds: 365 * 86400,
  maxDialErrorLimit: 1000,
  maxPerDialTimeout: 3600,
} as const;
