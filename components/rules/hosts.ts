// Host names in Istio configuration: Sidecar egress `namespace/dnsName` and ServiceEntry hosts.
import { excerpt } from "./values";
import { dns1123LabelProblem } from "./names";

const fqdnLabelRe = /^[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?$/;

/** Istio ValidateWildcardDomain: `*`, `*.suffix` or a DNS name; returns a problem or undefined. */
export function wildcardDomainProblem(host: string): string | undefined {
  if (host.length === 0) return "host must not be empty";
  if (host.length > 255) return `${excerpt(host)} is longer than 255 characters`;
  if (host === "*") return undefined;
  const rest = host.startsWith("*.") ? host.slice(2) : host;
  const labels = rest.split(".");
  for (const l of labels) {
    if (l.length === 0 || l.length > 63 || !fqdnLabelRe.test(l)) {
      return `${excerpt(host)} is not a DNS name, optionally prefixed with "*." (bad part ${excerpt(l)})`;
    }
  }
  return undefined;
}

/**
 * Sidecar egress host `namespace/dnsName` (Istio validateSidecarOrGatewayHostnamePart): namespace is `*`, `.`,
 * `~` or a namespace name; dnsName is a wildcard domain.
 */
export function egressHostProblem(host: string): string | undefined {
  const parts = host.split("/");
  if (parts.length !== 2)
    return `${excerpt(host)} is not in namespace/dnsName form (for example "./*" or "istio-system/*")`;
  const [ns, dns] = parts as [string, string];
  if (ns !== "*" && ns !== "." && ns !== "~") {
    const p = dns1123LabelProblem(ns);
    if (p !== undefined) return `namespace part of ${excerpt(host)}: ${p}`;
  }
  return wildcardDomainProblem(dns);
}
