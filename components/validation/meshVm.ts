// MeshVmArgs validation: the Istio CRDs' CEL rules and istiod's validating-webhook rules
// (pkg/config/validation) for WorkloadEntry, Sidecar, ServiceEntry and WorkloadGroup, checked on the inputs
// so that mistakes surface in `pulumi preview`, each naming the input field and the fix.
import { sidecarBootstrapPrefix } from "../mesh/annotations";
import { normaliseNetworkingApiVersion, supportedNetworkingApiVersions } from "../mesh/apiVersion";
import { captureModes, meshFlavors, outboundTrafficPolicyModes, sidecarProtocols } from "../mesh/settings";
import type { PlainMeshVmArgs } from "../meshVmArgs";
import {
  bindProblem,
  defaultEndpointProblem,
  isHostname,
  isIpAddress,
  unixAddressPrefix,
  unixAddressProblem,
} from "../rules/addresses";
import { egressHostProblem, wildcardDomainProblem } from "../rules/hosts";
import { issue, ValidationIssue } from "../rules/issues";
import {
  dns1123LabelProblem,
  dns1123SubdomainProblem,
  isIntInRange,
  labelKeyProblem,
  labelValueProblem,
} from "../rules/names";

const A = "MeshVmArgs";

function isString(v: unknown): v is string {
  return typeof v === "string";
}

function checkName(out: ValidationIssue[], field: string, v: unknown, what: string, label = false): void {
  if (!isString(v) || v === "") {
    out.push(
      issue(
        field,
        `${what} is required`,
        `set ${field} to a ${label ? "DNS-1123 label" : "DNS-1123 subdomain"}`,
      ),
    );
    return;
  }
  const p = label ? dns1123LabelProblem(v) : dns1123SubdomainProblem(v);
  if (p !== undefined)
    out.push(
      issue(
        field,
        p,
        `use lower-case letters, digits and '-'${label ? "" : " (and '.')"}, e.g. "${what === "namespace" ? "bookinfo" : "ratings-vm"}"`,
      ),
    );
}

function checkPort(out: ValidationIssue[], field: string, v: unknown): boolean {
  if (!isIntInRange(v, 1, 65535)) {
    out.push(
      issue(field, `port ${JSON.stringify(v)} is out of range 1-65535`, "use a port between 1 and 65535"),
    );
    return false;
  }
  return true;
}

function checkProtocol(out: ValidationIssue[], field: string, v: unknown): void {
  if (v === undefined) return;
  if (!isString(v) || !sidecarProtocols.includes(v.toUpperCase())) {
    out.push(
      issue(
        field,
        `protocol ${JSON.stringify(v)} is not supported`,
        `use one of ${sidecarProtocols.join(", ")}`,
      ),
    );
  }
}

function checkLabels(out: ValidationIssue[], field: string, labels: Record<string, unknown>): void {
  const keys = Object.keys(labels);
  if (keys.length > 256)
    out.push(issue(field, `${keys.length} labels exceed the limit of 256`, "remove labels"));
  for (const k of keys) {
    const kp = labelKeyProblem(k);
    if (kp !== undefined)
      out.push(issue(`${field}["${k}"]`, kp, "use a key like app, version or example.com/name"));
    const v = labels[k];
    if (!isString(v)) {
      out.push(
        issue(`${field}["${k}"]`, `value ${JSON.stringify(v)} is not a string`, "quote the label value"),
      );
      continue;
    }
    const vp = labelValueProblem(v);
    if (vp !== undefined)
      out.push(issue(`${field}["${k}"]`, vp, "use at most 63 letters, digits, '-', '_' or '.'"));
  }
}

/** Validates MeshVmArgs whose values are all known. Returns every issue found (empty when valid). */
export function validateMeshVmArgs(args: PlainMeshVmArgs): ValidationIssue[] {
  const out: ValidationIssue[] = [];

  // --- names and identity ---
  if (args.name !== undefined) checkName(out, `${A}.name`, args.name, "name");
  checkName(out, `${A}.namespace`, args.namespace, "namespace", true);
  if (!isString(args.serviceAccount) || args.serviceAccount === "") {
    out.push(
      issue(
        `${A}.serviceAccount`,
        "serviceAccount is required (tctl refuses WorkloadEntries without one)",
        `set ${A}.serviceAccount to the ServiceAccount the VM runs as, e.g. "bookinfo-ratings"`,
      ),
    );
  } else {
    const p = dns1123SubdomainProblem(args.serviceAccount);
    if (p !== undefined)
      out.push(issue(`${A}.serviceAccount`, p, 'use a valid ServiceAccount name, e.g. "bookinfo-ratings"'));
  }
  if (args.trustDomain !== undefined && (!isString(args.trustDomain) || !isHostname(args.trustDomain))) {
    out.push(
      issue(
        `${A}.trustDomain`,
        `${JSON.stringify(args.trustDomain)} is not a DNS name`,
        'use the mesh trust domain, e.g. "cluster.local"',
      ),
    );
  }

  // --- flavor and API version ---
  const flavor = args.flavor ?? "istio";
  if (!meshFlavors.includes(flavor)) {
    out.push(
      issue(`${A}.flavor`, `flavor "${flavor}" is not supported`, `use one of ${meshFlavors.join(", ")}`),
    );
  }
  if (normaliseNetworkingApiVersion(args.apiVersion) === undefined) {
    out.push(
      issue(
        `${A}.apiVersion`,
        `apiVersion "${args.apiVersion}" is not supported`,
        `use one of ${supportedNetworkingApiVersions.join(", ")}`,
      ),
    );
  }

  // --- address / network (WorkloadEntry CEL + webhook) ---
  const serviceEntryEnabled = args.serviceEntry?.enabled ?? true;
  const address = args.address;
  const hasNetwork = isString(args.network) && args.network !== "";
  if (address === undefined || address === "") {
    if (!hasNetwork) {
      out.push(
        issue(
          `${A}.address`,
          "address is required unless network is set",
          `set ${A}.address to the IP pods use to reach the VM, or set ${A}.network`,
        ),
      );
    }
    if (serviceEntryEnabled) {
      out.push(
        issue(
          `${A}.address`,
          "a STATIC ServiceEntry needs an IP address for the workload",
          `set ${A}.address to the VM's IP, or set ${A}.serviceEntry.enabled to false`,
        ),
      );
    }
  } else if (!isString(address)) {
    out.push(issue(`${A}.address`, `${JSON.stringify(address)} is not a string`, "use an IP address"));
  } else if (address.length > 256) {
    out.push(
      issue(`${A}.address`, "address is longer than 256 characters", "use an IP address or a DNS name"),
    );
  } else if (address.startsWith(unixAddressPrefix)) {
    const p = unixAddressProblem(address);
    if (p !== undefined) out.push(issue(`${A}.address`, p, "use unix:///absolute/path or unix://@abstract"));
    if (serviceEntryEnabled)
      out.push(
        issue(
          `${A}.address`,
          `"${address}" is not an IP address, which a STATIC ServiceEntry needs`,
          `use the VM's IP, or set ${A}.serviceEntry.enabled to false`,
        ),
      );
  } else if (!isIpAddress(address)) {
    if (!isHostname(address)) {
      out.push(
        issue(
          `${A}.address`,
          `"${address}" is neither an IP address nor a DNS name`,
          "use the VM's IP address",
        ),
      );
    } else {
      if (serviceEntryEnabled) {
        out.push(
          issue(
            `${A}.address`,
            `"${address}" is not an IP address, which a STATIC ServiceEntry needs`,
            `use the VM's IP, or set ${A}.serviceEntry.enabled to false`,
          ),
        );
      }
      if (args.proxyInstanceIp === undefined) {
        out.push(
          issue(
            `${A}.proxyInstanceIp`,
            `required because address "${address}" is not an IP (tctl derives INSTANCE_IP from it)`,
            `set ${A}.proxyInstanceIp to the VM's IP the proxy binds to`,
          ),
        );
      }
    }
  }
  if (args.network !== undefined && (!isString(args.network) || args.network.length > 2048)) {
    out.push(
      issue(
        `${A}.network`,
        "network must be a string of at most 2048 characters",
        'use a short network name, e.g. "vm-us-central1-a"',
      ),
    );
  }
  if (args.locality !== undefined) {
    const parts = isString(args.locality) ? args.locality.split("/") : [];
    if (
      !isString(args.locality) ||
      args.locality.length > 2048 ||
      parts.length > 3 ||
      parts.some((p) => p === "")
    ) {
      out.push(
        issue(
          `${A}.locality`,
          `locality ${JSON.stringify(args.locality)} is not region/zone/subzone`,
          'use e.g. "us-central1/us-central1-a"',
        ),
      );
    }
  }
  if (args.weight !== undefined && !isIntInRange(args.weight, 0, 4294967295)) {
    out.push(
      issue(
        `${A}.weight`,
        `weight ${JSON.stringify(args.weight)} is not an integer in 0-4294967295`,
        "use a non-negative integer",
      ),
    );
  }

  // --- labels ---
  const labels: Record<string, unknown> = { ...(args.labels ?? {}) };
  checkLabels(out, `${A}.labels`, labels);
  if (!isString(labels["app"]) || labels["app"] === "") {
    out.push(
      issue(
        `${A}.labels["app"]`,
        "the app label is required (Sidecar/ServiceEntry selectors and telemetry use it)",
        `add app: <service name> to ${A}.labels`,
      ),
    );
  }
  if (flavor === "tsb" && (!isString(labels["version"]) || labels["version"] === "")) {
    out.push(
      issue(
        `${A}.labels["version"]`,
        "the version label is required for TSB observability",
        `add version: <version> (e.g. "v3") to ${A}.labels`,
      ),
    );
  }
  if (args.vmClassLabel !== undefined && args.vmClassLabel !== "") {
    const p = labelValueProblem(args.vmClassLabel);
    if (p !== undefined) out.push(issue(`${A}.vmClassLabel`, p, 'use a label value such as "vm"'));
  }

  // --- annotations ---
  for (const k of Object.keys(args.annotations ?? {})) {
    if (k.startsWith(sidecarBootstrapPrefix)) {
      out.push(
        issue(
          `${A}.annotations["${k}"]`,
          "bootstrap annotations are generated from typed inputs",
          `remove it and set the matching ${A} field (sshHost, sshPort, sshUser, scpPath, proxyConfigDir, proxyImageHub, proxyInstanceIp, proxyContainerName)`,
        ),
      );
    } else {
      const p = labelKeyProblem(k);
      if (p !== undefined)
        out.push(
          issue(
            `${A}.annotations["${k}"]`,
            p.replace("label key", "annotation key"),
            "use a key like proxy.istio.io/config",
          ),
        );
    }
  }

  // --- ports (Sidecar ingress, ServiceEntry ports, WorkloadEntry ports map) ---
  const ports = args.ports ?? [];
  if (ports.length > 128)
    out.push(issue(`${A}.ports`, `${ports.length} ports exceed the limit of 128`, "declare fewer ports"));
  const seenNames = new Map<string, number>();
  const seenNumbers = new Map<number, number>();
  ports.forEach((p, i) => {
    const f = `${A}.ports[${i}]`;
    const nameOk = isString(p.name) && p.name !== "";
    const label = nameOk ? `${A}.ports["${p.name}"]` : f;
    if (!nameOk) {
      out.push(issue(`${f}.name`, "port name is required", 'name the port, e.g. "http"'));
    } else {
      const np = dns1123LabelProblem(p.name);
      if (np !== undefined)
        out.push(
          issue(`${label}.name`, `port name ${np}`, 'use a DNS-1123 label such as "http" or "grpc-api"'),
        );
      const prev = seenNames.get(p.name);
      if (prev !== undefined)
        out.push(
          issue(
            `${label}.name`,
            `port name "${p.name}" is also used by ${A}.ports[${prev}]`,
            "give every port a unique name",
          ),
        );
      else seenNames.set(p.name, i);
    }
    if (!isIntInRange(p.number, 1, 65535)) {
      out.push(
        issue(
          `${label}.number`,
          `port ${JSON.stringify(p.number)} is out of range 1-65535`,
          "use a port between 1 and 65535",
        ),
      );
    } else {
      const prev = seenNumbers.get(p.number);
      if (prev !== undefined)
        out.push(
          issue(
            `${label}.number`,
            `port ${p.number} is also used by ${A}.ports[${prev}]`,
            "use each port number once",
          ),
        );
      else seenNumbers.set(p.number, i);
    }
    checkProtocol(out, `${label}.protocol`, p.protocol);
    if (p.defaultEndpoint !== undefined) {
      const ep = isString(p.defaultEndpoint)
        ? defaultEndpointProblem(p.defaultEndpoint)
        : "defaultEndpoint is not a string";
      if (ep !== undefined)
        out.push(
          issue(`${label}.defaultEndpoint`, ep, 'use e.g. "127.0.0.1:9080" (where the application listens)'),
        );
    }
    if (p.targetPort !== undefined) checkPort(out, `${label}.targetPort`, p.targetPort);
  });

  // --- egress listeners (Sidecar webhook rules) ---
  const egress = args.egress ?? [];
  let portless = -1;
  const bound = new Set<string>();
  egress.forEach((e, i) => {
    const f = `${A}.egress[${i}]`;
    const hosts = e.hosts ?? [];
    if (hosts.length === 0)
      out.push(
        issue(
          `${f}.hosts`,
          "an egress listener needs at least one host",
          'add a host in namespace/dnsName form, e.g. "./*"',
        ),
      );
    hosts.forEach((h, j) => {
      const p = isString(h) ? egressHostProblem(h) : "host is not a string";
      if (p !== undefined)
        out.push(issue(`${f}.hosts[${j}]`, p, 'use namespace/dnsName, e.g. "./*" or "istio-system/*"'));
      if (h === "*/*" && hosts.length > 1)
        out.push(
          issue(
            `${f}.hosts[${j}]`,
            '"*/*" selects every host and must stand alone',
            'remove the other hosts or "*/*"',
          ),
        );
    });
    if (e.bind !== undefined) {
      const p = isString(e.bind) ? bindProblem(e.bind) : "bind is not a string";
      if (p !== undefined) out.push(issue(`${f}.bind`, p, 'use an IP such as "127.0.0.2" or unix:///path'));
    }
    if (e.captureMode !== undefined && !captureModes.includes(e.captureMode)) {
      out.push(
        issue(
          `${f}.captureMode`,
          `capture mode "${e.captureMode}" is not supported`,
          `use one of ${captureModes.join(", ")}`,
        ),
      );
    }
    if (e.port === undefined) {
      if (portless >= 0)
        out.push(
          issue(
            f,
            `only one egress listener may omit the port (${A}.egress[${portless}] already does)`,
            "give this listener a port",
          ),
        );
      portless = i;
    } else {
      if (checkPort(out, `${f}.port.number`, e.port.number)) {
        const key = `${e.bind ?? ""}:${e.port.number}`;
        if (bound.has(key))
          out.push(
            issue(
              `${f}.port.number`,
              `port ${e.port.number} is already bound on "${e.bind ?? ""}" by another egress listener`,
              "use a different port or bind address",
            ),
          );
        bound.add(key);
      }
      checkProtocol(out, `${f}.port.protocol`, e.port.protocol);
      if (e.port.name !== undefined) {
        const np = dns1123LabelProblem(e.port.name);
        if (np !== undefined) out.push(issue(`${f}.port.name`, `port name ${np}`, "use a DNS-1123 label"));
      }
    }
  });
  if (portless >= 0 && portless !== egress.length - 1) {
    out.push(
      issue(
        `${A}.egress[${portless}]`,
        "the egress listener without a port must be the last one",
        "move it to the end of the list",
      ),
    );
  }

  // --- Sidecar ---
  const sidecarEnabled = args.sidecar?.enabled ?? true;
  if (sidecarEnabled) {
    if (args.sidecar?.name !== undefined) checkName(out, `${A}.sidecar.name`, args.sidecar.name, "name");
    const effectiveEgress = args.egress === undefined ? 1 : egress.length;
    if (
      ports.length === 0 &&
      effectiveEgress === 0 &&
      args.sidecar?.outboundTrafficPolicyMode === undefined
    ) {
      out.push(
        issue(
          `${A}.sidecar`,
          "the Sidecar would be empty (no ingress, egress or outbound policy), which Istio rejects",
          `declare ${A}.ports or ${A}.egress, or set ${A}.sidecar.enabled to false`,
        ),
      );
    }
    const keys = args.sidecar?.selectorLabelKeys ?? ["app", "class"];
    if (keys.length === 0)
      out.push(
        issue(
          `${A}.sidecar.selectorLabelKeys`,
          "an empty workloadSelector would apply the Sidecar to every workload in the namespace",
          'select on VM-only labels such as ["app", "class"]',
        ),
      );
    const withClass = { ...labels };
    if (withClass["class"] === undefined && (args.vmClassLabel ?? "vm") !== "")
      withClass["class"] = args.vmClassLabel ?? "vm";
    keys.forEach((k, i) => {
      if (withClass[k] === undefined)
        out.push(
          issue(
            `${A}.sidecar.selectorLabelKeys[${i}]`,
            `label "${k}" is not among the workload labels`,
            `add "${k}" to ${A}.labels or remove it from the selector`,
          ),
        );
    });
    const mode = args.sidecar?.outboundTrafficPolicyMode;
    if (mode !== undefined && !outboundTrafficPolicyModes.includes(mode)) {
      out.push(
        issue(
          `${A}.sidecar.outboundTrafficPolicyMode`,
          `mode "${mode}" is not supported`,
          `use one of ${outboundTrafficPolicyModes.join(", ")}`,
        ),
      );
    }
  }

  // --- ServiceEntry (CEL: hosts 1-256 and not "*", ports named and unique; webhook: at least one port) ---
  if (serviceEntryEnabled) {
    if (args.serviceEntry?.name !== undefined)
      checkName(out, `${A}.serviceEntry.name`, args.serviceEntry.name, "name");
    if (ports.length === 0) {
      out.push(
        issue(
          `${A}.ports`,
          "a ServiceEntry needs at least one port",
          `declare the VM's ports, or set ${A}.serviceEntry.enabled to false`,
        ),
      );
    }
    const hosts = args.serviceEntry?.hosts;
    if (hosts !== undefined) {
      if (hosts.length === 0 || hosts.length > 256)
        out.push(
          issue(
            `${A}.serviceEntry.hosts`,
            `needs 1-256 hosts, got ${hosts.length}`,
            "list the service's host names",
          ),
        );
      hosts.forEach((h, i) => {
        if (h === "*") {
          out.push(
            issue(
              `${A}.serviceEntry.hosts[${i}]`,
              'host "*" is not allowed in a ServiceEntry',
              'use the service\'s host name, e.g. "ratings-vm.bookinfo.svc.cluster.local"',
            ),
          );
          return;
        }
        const p = isString(h) ? wildcardDomainProblem(h) : "host is not a string";
        if (p !== undefined) out.push(issue(`${A}.serviceEntry.hosts[${i}]`, p, "use a DNS name"));
      });
    }
  }

  // --- WorkloadGroup ---
  if (args.workloadGroup?.enabled === true && args.workloadGroup.name !== undefined) {
    checkName(out, `${A}.workloadGroup.name`, args.workloadGroup.name, "name");
  }

  // --- tctl bootstrap settings ---
  if (
    args.proxyInstanceIp !== undefined &&
    (!isString(args.proxyInstanceIp) || !isIpAddress(args.proxyInstanceIp))
  ) {
    out.push(
      issue(
        `${A}.proxyInstanceIp`,
        `${JSON.stringify(args.proxyInstanceIp)} is not an IP address`,
        'use the IP of the VM interface that receives inbound traffic, e.g. "10.128.0.2"',
      ),
    );
  }
  if (
    args.sshHost !== undefined &&
    (!isString(args.sshHost) || !(isIpAddress(args.sshHost) || isHostname(args.sshHost)))
  ) {
    out.push(
      issue(
        `${A}.sshHost`,
        `${JSON.stringify(args.sshHost)} is neither an IP address nor a host name`,
        "use the address the deployment machine reaches the VM's sshd on",
      ),
    );
  }
  if (args.sshPort !== undefined) checkPort(out, `${A}.sshPort`, args.sshPort);
  if (
    args.sshUser !== undefined &&
    (!isString(args.sshUser) || !/^[a-z_][a-z0-9_-]{0,31}$/.test(args.sshUser))
  ) {
    out.push(
      issue(
        `${A}.sshUser`,
        `${JSON.stringify(args.sshUser)} is not a valid user name`,
        'use a POSIX user name such as "istio-proxy"',
      ),
    );
  }
  for (const key of ["proxyConfigDir", "scpPath"] as const) {
    const v = args[key];
    if (v !== undefined && (!isString(v) || !/^\/[A-Za-z0-9._/-]*$/.test(v) || v.split("/").includes(".."))) {
      out.push(
        issue(
          `${A}.${key}`,
          `${JSON.stringify(v)} is not an absolute path of letters, digits, '.', '_', '-' and '/'`,
          key === "proxyConfigDir" ? 'use e.g. "/etc/istio-proxy"' : 'use e.g. "/usr/bin/scp"',
        ),
      );
    }
  }
  if (args.proxyImageHub !== undefined) {
    const hub = isString(args.proxyImageHub) ? args.proxyImageHub.replace(/\/+$/, "") : "";
    if (!/^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(\/[a-z0-9]+([._-][a-z0-9]+)*)*$/.test(hub)) {
      out.push(
        issue(
          `${A}.proxyImageHub`,
          `${JSON.stringify(args.proxyImageHub)} is not an image repository prefix`,
          'use e.g. "docker.io/tetrate"',
        ),
      );
    }
  }
  if (
    args.proxyContainerName !== undefined &&
    (!isString(args.proxyContainerName) || !/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(args.proxyContainerName))
  ) {
    out.push(
      issue(
        `${A}.proxyContainerName`,
        `${JSON.stringify(args.proxyContainerName)} is not a valid container name`,
        "use letters, digits, '_', '.' and '-', e.g. \"istio-proxy\"",
      ),
    );
  }
  return out;
}
