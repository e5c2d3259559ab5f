// Checks of the inputs that make the WorkloadEntry (mesh/workloadEntry.ts): identity, address and network,
// labels, annotations, ports. Istio's CRD CEL rules and istiod's webhook (pkg/config/validation).
import { byteLength, excerpt, inputLimits, textProblem } from "../rules/values";
import { sidecarBootstrapPrefix } from "../mesh/annotations";
import { selectionLabels } from "../mesh/settings";
import type { PlainMeshVmArgs } from "../meshVmArgs";
import {
  defaultEndpointProblem,
  isHostname,
  isIpAddress,
  unixAddressPrefix,
  unixAddressProblem,
} from "../rules/addresses";
import { FieldName, issue, ValidationIssue } from "../rules/issues";
import {
  dns1123LabelProblem,
  dns1123SubdomainProblem,
  isIntInRange,
  labelKeyProblem,
  labelValueProblem,
} from "../rules/names";
import { isString, labelIssues, nameIssues, protocolIssues, checkPort } from "./fields";

/** name, namespace, serviceAccount, trustDomain. */
export function identityIssues(args: PlainMeshVmArgs, field: FieldName): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  if (args.name !== undefined) out.push(...nameIssues(field("name"), args.name, "name"));
  out.push(...nameIssues(field("namespace"), args.namespace, "namespace", true));
  if (!isString(args.serviceAccount) || args.serviceAccount === "") {
    out.push(
      issue(
        field("serviceAccount"),
        "serviceAccount is required (tctl refuses WorkloadEntries without one)",
        `set ${field("serviceAccount")} to the ServiceAccount the VM runs as, e.g. "bookinfo-ratings"`,
      ),
    );
  } else {
    const p = dns1123SubdomainProblem(args.serviceAccount);
    if (p !== undefined)
      out.push(issue(field("serviceAccount"), p, 'use a valid ServiceAccount name, e.g. "bookinfo-ratings"'));
  }
  if (args.trustDomain !== undefined && (!isString(args.trustDomain) || !isHostname(args.trustDomain))) {
    out.push(
      issue(
        field("trustDomain"),
        `${excerpt(args.trustDomain)} is not a DNS name`,
        'use the mesh trust domain, e.g. "cluster.local"',
      ),
    );
  }
  return out;
}

/** address (CEL: an address or a network; a STATIC ServiceEntry needs an IP), network, locality, weight. */
export function addressIssues(args: PlainMeshVmArgs, field: FieldName): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  const serviceEntryEnabled = args.serviceEntry?.enabled ?? true;
  const address = args.address;
  const hasNetwork = isString(args.network) && args.network !== "";
  const notIpForServiceEntry = (a: string) =>
    issue(
      field("address"),
      `${excerpt(a)} is not an IP address, which a STATIC ServiceEntry needs`,
      `use the VM's IP, or set ${field("serviceEntry.enabled")} to false`,
    );
  if (address === undefined || address === "") {
    if (!hasNetwork) {
      out.push(
        issue(
          field("address"),
          "address is required unless network is set",
          `set ${field("address")} to the IP pods use to reach the VM, or set ${field("network")}`,
        ),
      );
    }
    if (serviceEntryEnabled) {
      out.push(
        issue(
          field("address"),
          "a STATIC ServiceEntry needs an IP address for the workload",
          `set ${field("address")} to the VM's IP, or set ${field("serviceEntry.enabled")} to false`,
        ),
      );
    }
  } else if (!isString(address)) {
    out.push(issue(field("address"), `${excerpt(address)} is not a string`, "use an IP address"));
  } else if (address.length > 256) {
    out.push(
      issue(field("address"), "address is longer than 256 characters", "use an IP address or a DNS name"),
    );
  } else if (address.startsWith(unixAddressPrefix)) {
    const p = unixAddressProblem(address);
    if (p !== undefined)
      out.push(issue(field("address"), p, "use unix:///absolute/path or unix://@abstract"));
    if (serviceEntryEnabled) out.push(notIpForServiceEntry(address));
  } else if (!isIpAddress(address)) {
    if (!isHostname(address)) {
      out.push(
        issue(
          field("address"),
          `${excerpt(address)} is neither an IP address nor a DNS name`,
          "use the VM's IP address",
        ),
      );
    } else {
      if (serviceEntryEnabled) out.push(notIpForServiceEntry(address));
      if (args.proxyInstanceIp === undefined) {
        out.push(
          issue(
            field("proxyInstanceIp"),
            `required because address ${excerpt(address)} is not an IP (tctl derives INSTANCE_IP from it)`,
            `set ${field("proxyInstanceIp")} to the VM's IP the proxy binds to`,
          ),
        );
      }
    }
  }
  if (args.network !== undefined && textProblem(args.network, 2048) !== undefined) {
    out.push(
      issue(
        field("network"),
        "network must be one line of at most 2048 characters",
        'use a short network name, e.g. "vm-us-central1-a"',
      ),
    );
  }
  if (args.locality !== undefined) {
    const parts = isString(args.locality) ? args.locality.split("/") : [];
    if (
      !isString(args.locality) ||
      textProblem(args.locality, 2048) !== undefined ||
      parts.length > 3 ||
      parts.some((p) => p === "")
    ) {
      out.push(
        issue(
          field("locality"),
          `locality ${excerpt(args.locality)} is not region/zone/subzone`,
          'use e.g. "us-central1/us-central1-a"',
        ),
      );
    }
  }
  if (args.weight !== undefined && !isIntInRange(args.weight, 0, 4294967295)) {
    out.push(
      issue(
        field("weight"),
        `weight ${excerpt(args.weight)} is not an integer in 0-4294967295`,
        "use a non-negative integer",
      ),
    );
  }
  return out;
}

/** labels (app required; version for TSB) and the `class` label value. */
export function labelsIssues(args: PlainMeshVmArgs, field: FieldName, flavor: string): ValidationIssue[] {
  const labels: Record<string, unknown> = { ...(args.labels ?? {}) };
  const out = labelIssues(field("labels"), labels);
  if (args.metadataLabels !== undefined)
    out.push(...labelIssues(field("metadataLabels"), { ...args.metadataLabels }));
  // tctl reads app from spec.labels, else metadata.labels (where Istio merges it into the workload's labels).
  const app = selectionLabels<unknown>(labels, args.metadataLabels)["app"];
  if (!isString(app) || app === "") {
    out.push(
      issue(
        field('labels["app"]'),
        "the app label is required (Sidecar/ServiceEntry selectors and telemetry use it)",
        `add app: <service name> to ${field("labels")} (or to ${field("metadataLabels")}, where tctl also reads it)`,
      ),
    );
  }
  if (flavor === "tsb" && (!isString(labels["version"]) || labels["version"] === "")) {
    out.push(
      issue(
        field('labels["version"]'),
        "the version label is required for TSB observability",
        `add version: <version> (e.g. "v3") to ${field("labels")}`,
      ),
    );
  }
  if (args.vmClassLabel !== undefined && args.vmClassLabel !== "") {
    const p = labelValueProblem(args.vmClassLabel);
    if (p !== undefined) out.push(issue(field("vmClassLabel"), p, 'use a label value such as "vm"'));
  }
  return out;
}

/** Extra annotations: no bootstrap annotation (those come from typed inputs), valid keys. */
export function annotationsIssues(args: PlainMeshVmArgs, field: FieldName): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  const annotations: Record<string, unknown> = args.annotations ?? {};
  let bytes = 0;
  for (const [k, v] of Object.entries(annotations)) {
    bytes += byteLength(k) + (typeof v === "string" ? byteLength(v) : 0);
    if (typeof v !== "string")
      out.push(
        issue(field(`annotations[${excerpt(k)}]`), `value ${excerpt(v)} is not a string`, "quote the value"),
      );
  }
  if (bytes > inputLimits.annotationsBytes)
    out.push(
      issue(
        field("annotations"),
        `${bytes} bytes exceed Kubernetes' limit of ${inputLimits.annotationsBytes} bytes for all annotations`,
        "keep large data out of annotations (a ConfigMap, or the proxy's mesh settings)",
      ),
    );
  for (const k of Object.keys(annotations)) {
    const f = field(`annotations[${excerpt(k)}]`);
    if (k.startsWith(sidecarBootstrapPrefix)) {
      out.push(
        issue(
          f,
          "bootstrap annotations are generated from typed inputs",
          `remove it and set the matching ${field("")} field (sshHost, sshPort, sshUser, scpPath, proxyConfigDir, proxyImageHub, proxyInstanceIp, proxyContainerName)`,
        ),
      );
    } else {
      const p = labelKeyProblem(k);
      if (p !== undefined)
        out.push(issue(f, p.replace("label key", "annotation key"), "use a key like proxy.istio.io/config"));
    }
  }
  return out;
}

/** ports: Sidecar ingress, ServiceEntry ports and the WorkloadEntry ports map. A port is named by its name. */
export function portsIssues(args: PlainMeshVmArgs, field: FieldName): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  const ports = args.ports ?? [];
  if (ports.length > 128)
    out.push(issue(field("ports"), `${ports.length} ports exceed the limit of 128`, "declare fewer ports"));
  const seenNames = new Map<string, number>();
  const seenNumbers = new Map<number, number>();
  ports.forEach((p, i) => {
    const nameOk = isString(p.name) && p.name !== "";
    const at = (sub: string) => field(nameOk ? `ports[${excerpt(p.name)}].${sub}` : `ports[${i}].${sub}`);
    if (!nameOk) {
      out.push(issue(at("name"), "port name is required", 'name the port, e.g. "http"'));
    } else {
      const np = dns1123LabelProblem(p.name);
      if (np !== undefined)
        out.push(issue(at("name"), `port name ${np}`, 'use a DNS-1123 label such as "http" or "grpc-api"'));
      const prev = seenNames.get(p.name);
      if (prev !== undefined)
        out.push(
          issue(
            at("name"),
            `port name ${excerpt(p.name)} is also used by ${field(`ports[${prev}]`)}`,
            "give every port a unique name",
          ),
        );
      else seenNames.set(p.name, i);
    }
    if (checkPort(out, at("number"), p.number)) {
      const prev = seenNumbers.get(p.number);
      if (prev !== undefined)
        out.push(
          issue(
            at("number"),
            `port ${p.number} is also used by ${field(`ports[${prev}]`)}`,
            "use each port number once",
          ),
        );
      else seenNumbers.set(p.number, i);
    }
    out.push(...protocolIssues(at("protocol"), p.protocol));
    if (p.defaultEndpoint !== undefined) {
      const ep = isString(p.defaultEndpoint)
        ? defaultEndpointProblem(p.defaultEndpoint)
        : "defaultEndpoint is not a string";
      if (ep !== undefined)
        out.push(
          issue(at("defaultEndpoint"), ep, 'use e.g. "127.0.0.1:9080" (where the application listens)'),
        );
    }
    if (p.targetPort !== undefined) checkPort(out, at("targetPort"), p.targetPort);
  });
  return out;
}
