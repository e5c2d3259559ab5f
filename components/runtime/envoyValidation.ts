// Checks of the `envoy` runtime's settings (`envoy: {...}`), at preview, each naming the field and the fix. A
// mistake here would otherwise surface only on the VM (Envoy refusing its config) or, worse, as a call that the
// gateway silently drops (a short host makes an SNI no filter chain matches).
import { EnvoyRuntimeArgs, envoyUpstreamProtocols, namespaceOfHost, upstreamProtocolOf } from "./envoyArgs";
import { isIP } from "node:net";
import { cidrNetwork, cidrProblem, isHostname, isIpAddress } from "../rules/addresses";
import { FieldName, issue, ValidationIssue } from "../rules/issues";
import {
  dns1123LabelProblem,
  dns1123SubdomainProblem,
  labelKeyProblem,
  labelValueProblem,
} from "../rules/names";
import {
  containerNameProblem,
  dedicatedDirectoryProblem,
  excerpt,
  imageReferenceProblem,
  integerProblem,
  textProblem,
} from "../rules/values";
import { workloadCertificateDefaults } from "../host/workloadCertificate";
import { providedCertificateProblems } from "../host/providedCertificate";

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

function portIssues(out: ValidationIssue[], field: string, v: unknown, required: boolean): void {
  if (v === undefined) {
    if (required) out.push(issue(field, "is required", `set ${field} to a port between 1 and 65535`));
    return;
  }
  const p = integerProblem(v, 1, 65535);
  if (p !== undefined) out.push(issue(field, `port ${p}`, "use a port between 1 and 65535"));
}

function upstreamIssues(u: unknown, at: FieldName): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  if (!isObject(u)) {
    return [issue(at(""), `${excerpt(u)} is not a map`, "give host, port, serviceAccount and localPort")];
  }
  const host = u.host;
  if (typeof host !== "string" || host === "") {
    out.push(
      issue(
        at("host"),
        "is required",
        "set it to the service's full name, e.g. reviews.bookinfo.svc.cluster.local",
      ),
    );
  } else if (
    textProblem(host) !== undefined ||
    !isHostname(host) ||
    host.endsWith(".") ||
    host.includes("*")
  ) {
    out.push(
      issue(
        at("host"),
        `${excerpt(host)} is not a service host name`,
        "use the service's full name, e.g. reviews.bookinfo.svc.cluster.local",
      ),
    );
  } else if (host.split(".").length < 3 || host.endsWith(".svc")) {
    // The SNI must carry the name the mesh knows the service by: a short name matches no gateway filter chain.
    out.push(
      issue(
        at("host"),
        `${excerpt(host)} is not fully qualified: the gateway routes on the SNI outbound_.<port>_._.<full host>, and a short name matches nothing`,
        "use the service's full name, e.g. reviews.bookinfo.svc.cluster.local",
      ),
    );
  }
  portIssues(out, at("port"), u.port, true);
  portIssues(out, at("localPort"), u.localPort, true);
  if (
    u.protocol !== undefined &&
    (typeof u.protocol !== "string" || upstreamProtocolOf(u.protocol) === undefined)
  ) {
    out.push(
      issue(
        at("protocol"),
        `protocol ${excerpt(u.protocol)} is not supported`,
        `use one of ${envoyUpstreamProtocols.join(", ")}`,
      ),
    );
  }
  if (typeof u.serviceAccount !== "string" || u.serviceAccount === "") {
    out.push(
      issue(
        at("serviceAccount"),
        "is required: the server certificate is checked against the destination's SPIFFE id",
        "set it to the destination's ServiceAccount, e.g. bookinfo-reviews",
      ),
    );
  } else {
    const p = dns1123SubdomainProblem(u.serviceAccount);
    if (p !== undefined)
      out.push(issue(at("serviceAccount"), p, "use the destination's ServiceAccount name"));
  }
  if (u.namespace !== undefined) {
    const p =
      typeof u.namespace === "string"
        ? dns1123LabelProblem(u.namespace)
        : `${excerpt(u.namespace)} is not a string`;
    if (p !== undefined)
      out.push(issue(at("namespace"), p, "use the destination's namespace, e.g. bookinfo"));
  } else if (typeof host === "string" && namespaceOfHost(host) === undefined && out.length === 0) {
    out.push(
      issue(
        at("namespace"),
        `cannot be derived from host ${excerpt(host)} (not <service>.<namespace>.svc.<domain>)`,
        "set namespace to the destination's namespace (its SPIFFE id names it)",
      ),
    );
  }
  if (u.subset !== undefined) {
    const p =
      typeof u.subset === "string" ? dns1123LabelProblem(u.subset) : `${excerpt(u.subset)} is not a string`;
    if (p !== undefined) out.push(issue(at("subset"), p, "use the DestinationRule subset's name, e.g. v1"));
  }
  out.push(...authorizeIssues(u.authorize, (k) => at(k === "" ? "authorize" : `authorize.${k}`)));
  const keys = [
    "host",
    "port",
    "protocol",
    "serviceAccount",
    "namespace",
    "localPort",
    "subset",
    "authorize",
  ];
  for (const k of Object.keys(u)) {
    if (!keys.includes(k)) {
      out.push(issue(at(k), `unknown key ${excerpt(k)}`, `remove it (keys: ${keys.join(", ")})`));
    }
  }
  return out;
}

/**
 * `upstreams[i].authorize`: the selector becomes the policy's `matchLabels`, which Istio's CRD refuses empty or
 * with a wildcard (an empty one would select the whole namespace and shut out every other caller).
 */
function authorizeIssues(a: unknown, at: FieldName): ValidationIssue[] {
  if (a === undefined) return [];
  const fix = 'give the destination\'s pod labels, e.g. { selector: { app: "reviews" } }';
  if (!isObject(a)) return [issue(at(""), `${excerpt(a)} is not a map`, fix)];
  const out: ValidationIssue[] = [];
  for (const k of Object.keys(a)) {
    if (k !== "selector" && k !== "name")
      out.push(issue(at(k), `unknown key ${excerpt(k)}`, "remove it (keys: selector, name)"));
  }
  const sel = a.selector;
  if (!isObject(sel) || Object.keys(sel).length === 0) {
    out.push(
      issue(
        at("selector"),
        sel === undefined ? "is required" : `${excerpt(sel)} is not a non-empty map of labels`,
        fix,
      ),
    );
  } else {
    for (const [k, v] of Object.entries(sel)) {
      const p =
        labelKeyProblem(k) ??
        (typeof v !== "string"
          ? `${excerpt(v)} is not a string`
          : v.includes("*")
            ? `label value ${excerpt(v)} has a wildcard, which Istio refuses in a selector`
            : labelValueProblem(v));
      if (p !== undefined) out.push(issue(at(`selector["${k}"]`), p, fix));
    }
  }
  if (a.name !== undefined) {
    const p =
      typeof a.name === "string" ? dns1123SubdomainProblem(a.name) : `${excerpt(a.name)} is not a string`;
    if (p !== undefined) out.push(issue(at("name"), p, "use an object name, e.g. allow-dev-laptop"));
  }
  return out;
}

/** Two upstreams on one local port would be two listeners on one socket; one SNI twice, one cluster twice. */
function upstreamClashIssues(upstreams: unknown[], adminPort: unknown, field: FieldName): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  const byLocal = new Map<unknown, number>();
  const bySni = new Map<string, number>();
  upstreams.forEach((u, i) => {
    if (!isObject(u)) return;
    const other = byLocal.get(u.localPort);
    if (u.localPort !== undefined && other !== undefined) {
      out.push(
        issue(
          field(`upstreams[${i}].localPort`),
          `port ${excerpt(u.localPort)} is also upstreams[${other}]'s`,
          "give each upstream its own localPort",
        ),
      );
    } else byLocal.set(u.localPort, i);
    const key = `${String(u.host)}:${String(u.port)}:${String(u.subset ?? "")}`;
    const dup = bySni.get(key);
    if (dup !== undefined) {
      out.push(
        issue(
          field(`upstreams[${i}]`),
          `calls the same service port${u.subset ? " and subset" : ""} as upstreams[${dup}]`,
          "remove one of the two (one local port per service port)",
        ),
      );
    } else bySni.set(key, i);
    if (u.localPort !== undefined && u.localPort === (adminPort ?? 15000)) {
      out.push(
        issue(
          field(`upstreams[${i}].localPort`),
          `port ${excerpt(u.localPort)} is Envoy's admin port`,
          "choose another localPort, or set adminPort",
        ),
      );
    }
  });
  return out;
}

/** The upstream list: each entry, and what two entries must not share. */
function upstreamListIssues(a: Record<string, unknown>, field: FieldName): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  const upstreams: unknown = a.upstreams;
  if (!Array.isArray(upstreams)) {
    out.push(
      issue(
        field("upstreams"),
        upstreams === undefined ? "is required" : `${excerpt(upstreams)} is not a list`,
        "list the mesh services the VM calls: [{ host, port, serviceAccount, localPort }]",
      ),
    );
  } else {
    if (upstreams.length === 0 && a.inbound === undefined) {
      out.push(
        issue(
          field("upstreams"),
          "is empty and there is no inbound listener: Envoy would have nothing to do",
          "list the mesh services the VM calls, or set inbound",
        ),
      );
    }
    if (upstreams.length > 256)
      out.push(
        issue(
          field("upstreams"),
          `${upstreams.length} upstreams exceed the limit of 256`,
          "split the VM's upstreams",
        ),
      );
    upstreams.forEach((u, i) =>
      out.push(...upstreamIssues(u, (k) => field(k === "" ? `upstreams[${i}]` : `upstreams[${i}].${k}`))),
    );
    out.push(...upstreamClashIssues(upstreams, a.adminPort, field));
  }
  return out;
}

/** Gateway, ports, bind address and directory. */
function endpointIssues(a: Record<string, unknown>, field: FieldName): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  const gw = a.gatewayAddress;
  if (gw === undefined || gw === "") {
    out.push(
      issue(
        field("gatewayAddress"),
        "is required",
        "set it to the east-west gateway's address as the VM reaches it (MeshExpansion's gatewayAddress output)",
      ),
    );
  } else if (
    typeof gw !== "string" ||
    textProblem(gw) !== undefined ||
    (!isIpAddress(gw) && !isHostname(gw))
  ) {
    out.push(
      issue(
        field("gatewayAddress"),
        `${excerpt(gw)} is neither an IP address nor a DNS name`,
        "use the east-west gateway's IP or DNS name",
      ),
    );
  }
  portIssues(out, field("gatewayPort"), a.gatewayPort, false);
  portIssues(out, field("adminPort"), a.adminPort, false);
  if (a.bind !== undefined && (typeof a.bind !== "string" || !isIpAddress(a.bind))) {
    out.push(
      issue(
        field("bind"),
        `${excerpt(a.bind)} is not an IP address`,
        "use a loopback address such as 127.0.0.1",
      ),
    );
  }
  if (a.configDir !== undefined) {
    const p = dedicatedDirectoryProblem(a.configDir);
    if (p !== undefined)
      out.push(issue(field("configDir"), p, "use a directory of its own, e.g. /etc/envoy"));
  }
  return out;
}

/** The optional inbound listener. */
function inboundIssues(a: Record<string, unknown>, field: FieldName): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  const upstreams: unknown = a.upstreams;
  if (a.inbound !== undefined) {
    const inb: unknown = a.inbound;
    if (!isObject(inb)) {
      out.push(issue(field("inbound"), `${excerpt(inb)} is not a map`, "give port and targetPort"));
    } else {
      portIssues(out, field("inbound.port"), inb.port, true);
      portIssues(out, field("inbound.targetPort"), inb.targetPort, true);
      if (inb.address !== undefined && (typeof inb.address !== "string" || !isIpAddress(inb.address))) {
        out.push(
          issue(
            field("inbound.address"),
            `${excerpt(inb.address)} is not an IP address`,
            "use the VM's interface address, or 0.0.0.0",
          ),
        );
      }
      if (inb.port !== undefined && inb.port === inb.targetPort) {
        out.push(
          issue(
            field("inbound.port"),
            `port ${excerpt(inb.port)} is also the application's (targetPort)`,
            "let Envoy listen on another port than the application",
          ),
        );
      }
      if (Array.isArray(upstreams) && upstreams.some((u) => isObject(u) && u.localPort === inb.port)) {
        out.push(
          issue(
            field("inbound.port"),
            `port ${excerpt(inb.port)} is also an upstream's localPort`,
            "give the inbound listener its own port",
          ),
        );
      }
    }
  }
  return out;
}

const isLoopback = (a: string): boolean => a === "::1" || /^127\./.test(a);
const openToAll = (cidr: string): boolean => /^(0\.0\.0\.0|::|0:0:0:0:0:0:0:0)\/0$/.test(cidr);

/**
 * `forward`: the forwarding proxy's interface address and source ranges. An empty list is refused, not read as
 * "anyone": Envoy's filter_chain_match treats no source_prefix_ranges as matching every source.
 */
function forwardIssues(a: Record<string, unknown>, field: FieldName): ValidationIssue[] {
  const f: unknown = a.forward;
  if (f === undefined) return [];
  const at = (k: string) => field(k === "" ? "forward" : `forward.${k}`);
  const fix =
    'give address (the VM\'s interface IP) and sourceRanges, e.g. { address: "10.0.0.5", sourceRanges: ["10.0.1.0/24"] }';
  if (!isObject(f)) return [issue(at(""), `${excerpt(f)} is not a map`, fix)];
  const out: ValidationIssue[] = [];
  for (const k of Object.keys(f)) {
    if (k !== "address" && k !== "sourceRanges")
      out.push(issue(at(k), `unknown key ${excerpt(k)}`, "remove it (keys: address, sourceRanges)"));
  }
  const address = f.address;
  if (address === undefined || address === "") {
    out.push(issue(at("address"), "is required", fix));
  } else if (typeof address !== "string" || !isIpAddress(address)) {
    out.push(
      issue(
        at("address"),
        `${excerpt(address)} is not an IP address`,
        "use the VM's interface address the other VMs reach, e.g. 10.0.0.5 (or 0.0.0.0 for every interface)",
      ),
    );
  } else if (isLoopback(address)) {
    out.push(
      issue(
        at("address"),
        `${excerpt(address)} is a loopback address: no other VM can reach it`,
        "use the VM's interface address, or remove forward to serve this VM's own applications on loopback",
      ),
    );
  }
  if (a.bind !== undefined) {
    out.push(
      issue(
        field("bind"),
        "is set beside forward: the upstream listeners bind to forward.address",
        "remove bind",
      ),
    );
  }
  const ranges = f.sourceRanges;
  if (!Array.isArray(ranges) || ranges.length === 0) {
    out.push(
      issue(
        at("sourceRanges"),
        ranges === undefined
          ? "is required"
          : Array.isArray(ranges)
            ? "is empty, which Envoy reads as every source"
            : `${excerpt(ranges)} is not a list`,
        'list the CIDRs of the VMs the proxy serves, e.g. ["10.0.1.0/24"]',
      ),
    );
    return out;
  }
  const family = typeof address === "string" ? isIP(address) : 0;
  ranges.forEach((r, i) => {
    const rat = at(`sourceRanges[${i}]`);
    const p = typeof r === "string" ? cidrProblem(r) : `${excerpt(r)} is not a string`;
    if (p !== undefined) {
      const network = typeof r === "string" ? cidrNetwork(r) : undefined;
      out.push(
        issue(
          rat,
          p,
          network !== undefined
            ? `use ${network} for the network, or ${String(r).split("/")[0]}/${family === 6 || String(r).includes(":") ? 128 : 32} for one host`
            : "use a CIDR such as 10.0.1.0/24 (one host: 10.0.1.7/32)",
        ),
      );
    } else if (family !== 0 && isIP((r as string).split("/")[0]!) !== family) {
      // Envoy's listener on an IPv4 address never sees an IPv6 source, and the reverse (no dual-stack socket).
      out.push(
        issue(
          rat,
          `${excerpt(r)} is IPv${family === 4 ? 6 : 4}, forward.address is IPv${family}: no source of it can connect`,
          `use an IPv${family} range, or a forward.address of that family`,
        ),
      );
    }
  });
  return out;
}

/**
 * Warnings (not refusals) for `forward`: a range that admits every address makes the VM's identity, and so every
 * AuthorizationPolicy admitting it, available to anyone who reaches the interface.
 */
export function envoyForwardWarnings(envoy: unknown, field: string): string[] {
  if (!isObject(envoy) || !isObject(envoy.forward) || !Array.isArray(envoy.forward.sourceRanges)) return [];
  const address = String(envoy.forward.address);
  return envoy.forward.sourceRanges.flatMap((r, i) =>
    typeof r === "string" && openToAll(r)
      ? [
          `${field}.forward.sourceRanges[${i}] is ${r}: any host that reaches ${address} calls the mesh as this VM's identity; ` +
            "name the subnet of the VMs the proxy serves instead, e.g. 10.0.1.0/24",
        ]
      : [],
  );
}

/** Image, container name and readiness wait. */
function containerIssues(a: Record<string, unknown>, field: FieldName): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  if (a.image !== undefined) {
    const p = imageReferenceProblem(a.image);
    if (p !== undefined)
      out.push(issue(field("image"), p, "use an Envoy image, e.g. docker.io/envoyproxy/envoy:v1.37.0"));
  }
  if (a.containerName !== undefined) {
    const p = containerNameProblem(a.containerName);
    if (p !== undefined) out.push(issue(field("containerName"), p, "use e.g. mesh-envoy"));
  }
  if (a.readinessTimeoutSeconds !== undefined) {
    const p = integerProblem(a.readinessTimeoutSeconds, 1, 86400);
    if (p !== undefined)
      out.push(issue(field("readinessTimeoutSeconds"), p, "use a number of seconds from 1 to 86400"));
  }
  return out;
}

/** Lifetime and renewal of the workload certificate, and where istiod's CA is. */
function certificateIssues(c: unknown, at: FieldName): ValidationIssue[] {
  if (c === undefined) return [];
  if (!isObject(c))
    return [
      issue(
        at(""),
        `${excerpt(c)} is not a map`,
        "give lifetimeSeconds, renewBeforeSeconds, caAddress or caServerName",
      ),
    ];
  const out: ValidationIssue[] = [];
  const istiod = ["lifetimeSeconds", "renewBeforeSeconds", "caAddress", "caServerName", "rotation"];
  const known = [...istiod, "provided"];
  for (const k of Object.keys(c)) {
    if (!known.includes(k))
      out.push(issue(at(k), `unknown key ${excerpt(k)}`, `remove it (keys: ${known.join(", ")})`));
    else if (c.provided !== undefined && istiod.includes(k))
      out.push(
        issue(
          at(k),
          "applies to a certificate istiod issues, not to certificate.provided",
          "remove it (a provided certificate's lifetime is its own; you renew it)",
        ),
      );
  }
  if (c.provided !== undefined)
    out.push(...providedIssues(c.provided, (k) => at(k === "" ? "provided" : `provided.${k}`)));
  const max = workloadCertificateDefaults.maxLifetimeSeconds;
  const lp = c.lifetimeSeconds === undefined ? undefined : integerProblem(c.lifetimeSeconds, 600, max);
  if (lp !== undefined)
    out.push(
      issue(at("lifetimeSeconds"), lp, `use 600 to ${max} seconds (istiod refuses more than 90 days)`),
    );
  const lifetime =
    typeof c.lifetimeSeconds === "number" ? c.lifetimeSeconds : workloadCertificateDefaults.lifetimeSeconds;
  if (c.renewBeforeSeconds !== undefined) {
    const rp = integerProblem(c.renewBeforeSeconds, 0, Math.max(0, lifetime - 60));
    if (rp !== undefined)
      out.push(issue(at("renewBeforeSeconds"), rp, "use a margin below the lifetime, e.g. a third of it"));
  }
  if (c.caAddress !== undefined) {
    const a =
      typeof c.caAddress === "string" ? /^(\[[0-9a-fA-F:]+\]|[^:\s]+):(\d{1,5})$/.exec(c.caAddress) : null;
    if (
      a === null ||
      integerProblem(Number(a[2]), 1, 65535) !== undefined ||
      (!isIpAddress(a[1]!.replace(/^\[|\]$/g, "")) && !isHostname(a[1]!))
    ) {
      out.push(
        issue(
          at("caAddress"),
          `${excerpt(c.caAddress)} is not host:port`,
          "use istiod's address as this machine reaches it, e.g. 192.0.2.10:15012",
        ),
      );
    }
  }
  if (c.caServerName !== undefined && (typeof c.caServerName !== "string" || !isHostname(c.caServerName))) {
    out.push(
      issue(
        at("caServerName"),
        `${excerpt(c.caServerName)} is not a DNS name`,
        "use the name in istiod's certificate, e.g. istiod.istio-system.svc",
      ),
    );
  }
  if (c.rotation !== undefined) {
    const p = textProblem(c.rotation);
    if (p !== undefined) out.push(issue(at("rotation"), p, "use a short text, e.g. a date"));
  }
  return out;
}

/** `certificate.provided`: both fields, and, when both are known strings, the pair itself (never quoted). */
function providedIssues(p: unknown, at: FieldName): ValidationIssue[] {
  const fix = "give certChain (PEM, leaf first) and privateKey (PEM)";
  if (!isObject(p)) return [issue(at(""), "is not a map", fix)];
  const out: ValidationIssue[] = [];
  for (const k of Object.keys(p)) {
    if (k !== "certChain" && k !== "privateKey")
      out.push(issue(at(k), `unknown key ${excerpt(k)}`, "remove it (keys: certChain, privateKey)"));
  }
  for (const k of ["certChain", "privateKey"] as const) {
    if (p[k] === undefined || p[k] === "") out.push(issue(at(k), "is required", fix));
  }
  // Outputs (a secret from Vault, a cert-manager Secret) are checked where the delivery uses them.
  if (typeof p.certChain === "string" && typeof p.privateKey === "string" && out.length === 0) {
    for (const x of providedCertificateProblems(p.certChain, p.privateKey))
      out.push(issue(at(x.at), x.problem, x.fix));
  }
  return out;
}

/** Validates `envoy: {...}`; `field` names its keys (`MeshVmArgs.envoy.upstreams[0].host`). */
export function envoyRuntimeIssues(args: unknown, field: FieldName): ValidationIssue[] {
  if (!isObject(args))
    return [issue(field(""), `${excerpt(args)} is not a map`, "give upstreams and gatewayAddress")];
  const a = args as Partial<EnvoyRuntimeArgs> & Record<string, unknown>;
  const out: ValidationIssue[] = [];
  const known = [
    "upstreams",
    "gatewayAddress",
    "gatewayPort",
    "bind",
    "adminPort",
    "configDir",
    "inbound",
    "image",
    "containerName",
    "readinessTimeoutSeconds",
    "certificate",
    "forward",
  ];
  for (const k of Object.keys(a)) {
    if (!known.includes(k))
      out.push(issue(field(k), `unknown key ${excerpt(k)}`, `remove it (keys: ${known.join(", ")})`));
  }
  out.push(
    ...upstreamListIssues(a, field),
    ...endpointIssues(a, field),
    ...inboundIssues(a, field),
    ...forwardIssues(a, field),
    ...containerIssues(a, field),
    ...certificateIssues(a.certificate, (k) => field(k === "" ? "certificate" : `certificate.${k}`)),
  );
  return out;
}
