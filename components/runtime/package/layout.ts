// Istio's places on the VM for the istio-sidecar package (istio.io VM guide, tools/packaging/postinst.sh): the
// paths, owners and modes the package and its start script expect. The package makes the istio-proxy user,
// /var/lib/istio/{envoy,config,proxy}, /etc/istio -> /var/lib/istio, /etc/certs; the unit makes /var/run/secrets.

/** The account the package creates and runs the agent as (`sudo -u istio-proxy` in istio-start.sh). */
export const PROXY_USER = "istio-proxy";

export const packagePaths = {
  /** Sourced by istio-start.sh after the package's sidecar.env. */
  clusterEnv: "/var/lib/istio/envoy/cluster.env",
  /** The agent's mesh config file (./etc/istio/config/mesh from its working directory /). */
  meshConfig: "/etc/istio/config/mesh",
  /** PROV_CERT's root: the CA root the agent trusts istiod with. */
  rootCert: "/etc/certs/root-cert.pem",
  /** The agent's default third-party JWT path. */
  token: "/var/run/secrets/tokens/istio-token",
  /** The package's unit (not enabled by the package: mesh-vm enables it). */
  unit: "istio.service",
  /** The agent's logs (istio-start.sh redirects into them). */
  log: "/var/log/istio/istio.log",
  errorLog: "/var/log/istio/istio.err.log",
} as const;

/** One file the package runtime writes, with the owner and mode the package expects. */
export interface PackageFileSpec {
  path: string;
  owner: string;
  group: string;
  mode: string;
  /** A token or key: travels only on a secret stdin, its digest (never its content) may be shown. */
  secret: boolean;
  /** Whether a change needs the agent restarted (the token it re-reads by itself; the rest it reads at start). */
  restartsProxy: boolean;
}

/**
 * The four files. Readable by the agent only where it matters: the token is 0600 to istio-proxy (the agent's
 * own), the rest 0644 as the package's own files are. All owned by istio-proxy, as the VM guide's
 * `chown -R istio-proxy` leaves them.
 */
export const packageFiles = {
  clusterEnv: { path: packagePaths.clusterEnv, mode: "0644", secret: false, restartsProxy: true },
  meshConfig: { path: packagePaths.meshConfig, mode: "0644", secret: false, restartsProxy: true },
  rootCert: { path: packagePaths.rootCert, mode: "0644", secret: false, restartsProxy: true },
  token: { path: packagePaths.token, mode: "0600", secret: true, restartsProxy: false },
} satisfies Record<string, Omit<PackageFileSpec, "owner" | "group">>;

export function packageFileSpec(which: keyof typeof packageFiles): PackageFileSpec {
  return { ...packageFiles[which], owner: PROXY_USER, group: PROXY_USER };
}
