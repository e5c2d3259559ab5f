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

/** The address as a number (IPv4: 32 bits, IPv6: 128 bits); the address must pass isIpAddress. */
function addressBits(address: string): { bits: bigint; width: number } {
  if (isIP(address) === 4) {
    return { bits: address.split(".").reduce((n, o) => (n << 8n) | BigInt(o), 0n), width: 32 };
  }
  // An embedded IPv4 tail (::ffff:10.0.0.1) is two more groups.
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(address);
  const text = v4
    ? address.slice(0, v4.index) +
      [Number(v4[1]) * 256 + Number(v4[2]), Number(v4[3]) * 256 + Number(v4[4])]
        .map((g) => g.toString(16))
        .join(":")
    : address;
  const [head, tail] = text.split("::");
  const groups = (part: string | undefined) => (part ? part.split(":") : []);
  const missing = 8 - groups(head).length - groups(tail).length;
  const all =
    tail === undefined
      ? groups(head)
      : [...groups(head), ...Array<string>(missing).fill("0"), ...groups(tail)];
  return { bits: all.reduce((n, g) => (n << 16n) | BigInt(`0x${g}`), 0n), width: 128 };
}

/**
 * Problem with a CIDR (`10.0.1.0/24`, `2001:db8::/64`), as Envoy's CidrRange takes it: an IP address, a prefix
 * length for its family, and no bits set past the prefix (`10.0.1.5/24` is refused: it reads as one host).
 */
export function cidrProblem(cidr: string): string | undefined {
  const m = /^([^/\s]+)\/(\d{1,3})$/.exec(cidr);
  if (m === null || isIP(m[1]!) === 0) return `${excerpt(cidr)} is not a CIDR (<address>/<prefix length>)`;
  const { bits, width } = addressBits(m[1]!);
  const len = Number(m[2]);
  if (len > width) return `${excerpt(cidr)} has a prefix length above ${width}`;
  const host = (1n << BigInt(width - len)) - 1n;
  if ((bits & host) !== 0n) {
    return `${excerpt(cidr)} has address bits set past its /${len} prefix`;
  }
  return undefined;
}

/** The network of `address/len`, for a fix that names the intended range (`10.0.1.5/24` → `10.0.1.0/24`). */
export function cidrNetwork(cidr: string): string | undefined {
  const m = /^([^/\s]+)\/(\d{1,3})$/.exec(cidr);
  if (m === null || isIP(m[1]!) === 0) return undefined;
  const { bits, width } = addressBits(m[1]!);
  const len = Number(m[2]);
  if (len > width) return undefined;
  const net = bits & ~((1n << BigInt(width - len)) - 1n);
  if (width === 32) {
    const octets = [24n, 16n, 8n, 0n].map((s) => String((net >> s) & 255n));
    return `${octets.join(".")}/${len}`;
  }
  const groups = Array.from({ length: 8 }, (_, i) => ((net >> BigInt(112 - 16 * i)) & 0xffffn).toString(16));
  return `${groups.join(":").replace(/(^|:)0(:0)+(:|$)/, "::")}/${len}`;
}
