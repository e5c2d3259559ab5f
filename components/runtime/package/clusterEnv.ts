// cluster.env: the variables istio-start.sh (the istio-sidecar package's start script) sources before it
// starts the agent. First exactly what `istioctl x workload entry configure` writes for the same
// WorkloadGroup and flags (istioctl/pkg/workload createClusterEnv), then the few settings mesh-vm adds for the
// package runtime, each named in clusterEnvAdditions.
import { groupProxyConfigOf } from "./proxyConfig";
import {
  isRevisioned,
  istiodAddress,
  serviceAccountOf,
  type ConfigureOptions,
  type WorkloadGroupSource,
} from "./workloadGroupSource";

/**
 * istioctl's value quoting (Istio's pkg/util/shellescape.Quote, a port of Python's shellescape): empty is '',
 * anything with a character outside its safe set is single-quoted. Istio writes the set as a raw Go string
 * `[^\\w@%+=:,./-]`, so the safe set is a backslash, the letter w and @%+=:,./- — nearly every value comes out
 * quoted (its goldens: ISTIO_INBOUND_PORTS='*', CANONICAL_REVISION='latest'). Reproduced as it is, so the file
 * is byte for byte istioctl's; the shell that sources it reads both forms the same.
 */
export function istioShellQuote(value: string): string {
  if (value.length === 0) return "''";
  if (/[^\\w@%+=:,./-]/.test(value)) return `'${value.replace(/'/g, `'"'"'`)}'`;
  return value;
}

/** `KEY=value` lines, sorted as whole lines (istioctl sorts the lines, not the keys), newline-terminated. */
export function envFileOf(variables: Record<string, string>): string {
  const lines = Object.entries(variables).map(([key, value]) => `${key}=${istioShellQuote(value)}`);
  lines.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return `${lines.join("\n")}\n`;
}

/** The status port istioctl keeps out of inbound capture besides 22, 15090 and 15021. */
function statusPortOf(config: Record<string, unknown>): number {
  const port = Number(config.statusPort ?? 0);
  return port || 15020;
}

/** Every variable `istioctl x workload entry configure` writes into cluster.env for these inputs. */
export function istioctlClusterEnv(
  group: WorkloadGroupSource,
  options: ConfigureOptions,
): Record<string, string> {
  const config = groupProxyConfigOf(group, options);
  const ports = Object.values(group.spec.template.ports ?? {}).map(String);
  // 22 keeps SSH to the VM out of capture; 15090 Prometheus, 15021 and the status port the agent's own.
  const status = statusPortOf(config);
  const excludePorts = [22, 15090, 15021, ...(status !== 15090 && status !== 15021 ? [status] : [])].join(
    ",",
  );
  const overrides: Record<string, string> = {
    ISTIO_INBOUND_PORTS: ports.length > 0 ? ports.join(",") : "*",
    ISTIO_NAMESPACE: group.namespace,
    ISTIO_SERVICE: `${group.name}.${group.namespace}`,
    ISTIO_SERVICE_CIDR: "*",
    ISTIO_LOCAL_EXCLUDE_PORTS: excludePorts,
    SERVICE_ACCOUNT: serviceAccountOf(group),
  };
  if (isRevisioned(options.revision)) overrides.CA_ADDR = istiodAddress(options);
  if (options.internalIp) overrides.ISTIO_SVC_IP = options.internalIp;
  else if (options.externalIp) {
    overrides.ISTIO_SVC_IP = options.externalIp;
    overrides.REWRITE_PROBE_LEGACY_LOCALHOST_DESTINATION = "true";
  }
  return { ...(config.proxyMetadata as Record<string, string>), ...overrides };
}

/** Where the agent keeps its provisioning and issued certificates: the package's /etc/certs (a disk, not tmpfs). */
export const PACKAGE_CERTS_DIR = "/etc/certs";

/** What mesh-vm adds to istioctl's cluster.env for the package runtime. */
export interface ClusterEnvAdditions {
  /**
   * istiod's xDS and CA address when it is not `istiod.<ns>.svc:15012` (istio-start.sh otherwise exports that
   * default as CA_ADDR, and the agent would ask the wrong port for its certificate).
   */
  discoveryAddress?: string;
  /**
   * Traffic capture: "iptables" (Istio's default: istio-start.sh sets the rules from ISTIO_INBOUND_PORTS,
   * ISTIO_SERVICE_CIDR, ISTIO_LOCAL_EXCLUDE_PORTS) or "none" (ISTIO_CUSTOM_IP_TABLES=true: no rules; the agent
   * runs with interception mode NONE, as the Docker runtime's proxy does).
   */
  capture: "iptables" | "none";
}

/**
 * The variables mesh-vm adds, and why each: PROV_CERT and OUTPUT_CERTS both /etc/certs, so the certificate
 * istiod issued is written to disk and used as the provisioning certificate — a restarted agent renews with it
 * after its token expired or vanished with a reboot (istio/istio#27691, #33203, #35343). istio-start.sh's own
 * default is the same place relative to its working directory; written out so a sidecar.env cannot move it.
 */
export function clusterEnvAdditions(
  options: ConfigureOptions,
  additions: ClusterEnvAdditions,
): Record<string, string> {
  const out: Record<string, string> = { PROV_CERT: PACKAGE_CERTS_DIR, OUTPUT_CERTS: PACKAGE_CERTS_DIR };
  const standard = istiodAddress(options);
  if (additions.discoveryAddress && additions.discoveryAddress !== standard) {
    out.CA_ADDR = additions.discoveryAddress;
  }
  if (additions.capture === "none") {
    out.ISTIO_CUSTOM_IP_TABLES = "true";
    out.ISTIO_META_INTERCEPTION_MODE = "NONE";
  }
  return out;
}

/** cluster.env as the package runtime writes it: istioctl's variables, then mesh-vm's additions over them. */
export function renderClusterEnv(
  group: WorkloadGroupSource,
  options: ConfigureOptions,
  additions: ClusterEnvAdditions,
): string {
  return envFileOf({ ...istioctlClusterEnv(group, options), ...clusterEnvAdditions(options, additions) });
}
