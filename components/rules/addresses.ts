// Address forms accepted by Istio for WorkloadEntry.address, Sidecar listeners and the tctl annotations.
import { excerpt } from "./values";
import { isIP } from "node:net";
import { isIntInRange } from "./names";

export function isIpAddress(s: string): boolean {
  return isIP(s) !== 0;
}

const hostnameRe =
  /^(?=.{1,253}$)[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*\.?$/;

/** A DNS name (FQDN or short name), as accepted for a standalone WorkloadEntry address or an SSH host. */
export function isHostname(s: string): boolean {
  return hostnameRe.test(s);
}

export const unixAddressPrefix = "unix://";

/**
 * Problem with a `unix://` address (Istio ValidateUnixAddress): the path must be absolute, or `@name` for an
 * abstract socket, and must not look like a directory.
 */
export function unixAddressProblem(address: string): string | undefined {
  const path = address.slice(unixAddressPrefix.length);
  if (path.length === 0) return `${excerpt(address)} has an empty socket path`;
  if (path.startsWith("@")) return undefined;
  if (!path.startsWith("/"))
    return `${excerpt(address)} must name an absolute path (unix:///path) or an abstract socket (unix://@name)`;
  if (path.endsWith("/")) return `${excerpt(address)} names a directory, not a socket`;
  return undefined;
}

/**
 * Sidecar ingress `defaultEndpoint`: `127.0.0.1:<port>`, `0.0.0.0:<port>`, `[::1]:<port>`, `[::]:<port>` or a
 * `unix://` socket (Istio validateSidecarIngressDefaultEndpoint). Returns a problem, or undefined when valid.
 */
export function defaultEndpointProblem(ep: string): string | undefined {
  if (ep.startsWith(unixAddressPrefix)) return unixAddressProblem(ep);
  const m = /^(127\.0\.0\.1|0\.0\.0\.0|\[::1\]|\[::\]):(\d+)$/.exec(ep);
  if (m === null) {
    return `${excerpt(ep)} is not one of 127.0.0.1:<port>, 0.0.0.0:<port>, [::1]:<port>, [::]:<port> or unix://<path>`;
  }
  if (!isIntInRange(Number(m[2]), 1, 65535)) return `${excerpt(ep)} has port ${m[2]} outside 1-65535`;
  return undefined;
}

/** Egress/ingress listener `bind`: an IP address or a unix socket. */
export function bindProblem(bind: string): string | undefined {
  if (bind.startsWith(unixAddressPrefix)) return unixAddressProblem(bind);
  if (!isIpAddress(bind)) return `${excerpt(bind)} is neither an IP address nor a unix:// socket`;
  return undefined;
}
