// Checks of the inputs that make the Sidecar (mesh/sidecar.ts): egress listeners and the Sidecar's own settings
// (istiod's webhook rules: one port-less listener, last; no empty Sidecar; a selector that matches the VM).
import { excerpt } from "../rules/values";
import {
  captureModes,
  meshVmDefaults,
  outboundTrafficPolicyModes,
  selectionLabels,
  withVmClassLabel,
} from "../mesh/settings";
import type { PlainMeshVmArgs } from "../meshVmArgs";
import { bindProblem } from "../rules/addresses";
import { egressHostProblem } from "../rules/hosts";
import { FieldName, issue, ValidationIssue } from "../rules/issues";
import { dns1123LabelProblem, labelKeyProblem } from "../rules/names";
import { ownValue } from "../rules/values";
import { checkPort, isString, nameIssues, protocolIssues } from "./fields";

type PlainEgress = NonNullable<PlainMeshVmArgs["egress"]>[number];

function egressHostsIssues(e: PlainEgress, f: FieldName): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  const hosts = e.hosts ?? [];
  if (hosts.length === 0)
    out.push(
      issue(
        f("hosts"),
        "an egress listener needs at least one host",
        'add a host in namespace/dnsName form, e.g. "./*"',
      ),
    );
  hosts.forEach((h, j) => {
    const p = isString(h) ? egressHostProblem(h) : "host is not a string";
    if (p !== undefined)
      out.push(issue(f(`hosts[${j}]`), p, 'use namespace/dnsName, e.g. "./*" or "istio-system/*"'));
    if (h === "*/*" && hosts.length > 1)
      out.push(
        issue(
          f(`hosts[${j}]`),
          '"*/*" selects every host and must stand alone',
          'remove the other hosts or "*/*"',
        ),
      );
  });
  return out;
}

/** Egress listeners: hosts, bind, capture mode, ports (unique per bind address, at most one omitted, last). */
export function egressIssues(args: PlainMeshVmArgs, field: FieldName): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  const egress = args.egress ?? [];
  let portless = -1;
  const bound = new Set<string>();
  egress.forEach((e, i) => {
    const listener = field(`egress[${i}]`);
    const f: FieldName = (path) => field(`egress[${i}].${path}`);
    out.push(...egressHostsIssues(e, f));
    if (e.bind !== undefined) {
      const p = isString(e.bind) ? bindProblem(e.bind) : "bind is not a string";
      if (p !== undefined)
        out.push(
          issue(f("bind"), p, `use an IP such as ${excerpt(meshVmDefaults.egressBind)} or unix:///path`),
        );
    }
    if (e.captureMode !== undefined && !captureModes.includes(e.captureMode)) {
      out.push(
        issue(
          f("captureMode"),
          `capture mode ${excerpt(e.captureMode)} is not supported`,
          `use one of ${captureModes.join(", ")}`,
        ),
      );
    }
    if (e.port === undefined) {
      if (portless >= 0)
        out.push(
          issue(
            listener,
            `only one egress listener may omit the port (${field(`egress[${portless}]`)} already does)`,
            "give this listener a port",
          ),
        );
      portless = i;
      return;
    }
    if (checkPort(out, f("port.number"), e.port.number)) {
      const key = `${e.bind ?? ""}:${e.port.number}`;
      if (bound.has(key))
        out.push(
          issue(
            f("port.number"),
            `port ${e.port.number} is already bound on ${excerpt(e.bind ?? "")} by another egress listener`,
            "use a different port or bind address",
          ),
        );
      bound.add(key);
    }
    out.push(...protocolIssues(f("port.protocol"), e.port.protocol));
    if (e.port.name !== undefined) {
      const np = dns1123LabelProblem(e.port.name);
      if (np !== undefined) out.push(issue(f("port.name"), `port name ${np}`, "use a DNS-1123 label"));
    }
  });
  if (portless >= 0 && portless !== egress.length - 1) {
    out.push(
      issue(
        field(`egress[${portless}]`),
        "the egress listener without a port must be the last one",
        "move it to the end of the list",
      ),
    );
  }
  return out;
}

/** The Sidecar: name, not empty, selector keys among the workload labels, outbound policy mode. */
export function sidecarIssues(args: PlainMeshVmArgs, field: FieldName): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  if (!(args.sidecar?.enabled ?? meshVmDefaults.sidecarEnabled)) return out;
  if (args.sidecar?.name !== undefined)
    out.push(...nameIssues(field("sidecar.name"), args.sidecar.name, "name"));
  const egressCount = args.egress === undefined ? 1 : args.egress.length;
  if (
    (args.ports ?? []).length === 0 &&
    egressCount === 0 &&
    args.sidecar?.outboundTrafficPolicyMode === undefined
  ) {
    out.push(
      issue(
        field("sidecar"),
        "the Sidecar would be empty (no ingress, egress or outbound policy), which Istio rejects",
        `declare ${field("ports")} or ${field("egress")}, or set ${field("sidecar.enabled")} to false`,
      ),
    );
  }
  const keys = args.sidecar?.selectorLabelKeys ?? meshVmDefaults.sidecarSelectorLabelKeys;
  if (keys.length === 0)
    out.push(
      issue(
        field("sidecar.selectorLabelKeys"),
        "an empty workloadSelector would apply the Sidecar to every workload in the namespace",
        `select on VM-only labels such as [${meshVmDefaults.sidecarSelectorLabelKeys.map((k) => excerpt(k)).join(", ")}]`,
      ),
    );
  const labels = selectionLabels<unknown>(
    withVmClassLabel<unknown>({ ...(args.labels ?? {}) }, args.vmClassLabel),
    args.metadataLabels,
  );
  if (!Array.isArray(keys) || keys.length > 64) {
    out.push(
      issue(
        field("sidecar.selectorLabelKeys"),
        "is not a list of at most 64 label keys",
        'use e.g. ["app", "class"]',
      ),
    );
    return out;
  }
  keys.forEach((k: unknown, i) => {
    const kp = typeof k === "string" ? labelKeyProblem(k) : `${excerpt(k)} is not a string`;
    if (kp !== undefined) {
      out.push(
        issue(field(`sidecar.selectorLabelKeys[${i}]`), kp, 'use a label key of the workload, e.g. "app"'),
      );
      return;
    }
    // An own label only: `labels["__proto__"]` or `labels["constructor"]` would come from Object.prototype.
    if (ownValue(labels, k as string) === undefined)
      out.push(
        issue(
          field(`sidecar.selectorLabelKeys[${i}]`),
          `label ${excerpt(k)} is not among the workload labels`,
          `add ${excerpt(k)} to ${field("labels")} (or ${field("metadataLabels")}) or remove it from the selector`,
        ),
      );
  });
  const mode = args.sidecar?.outboundTrafficPolicyMode;
  if (mode !== undefined && !outboundTrafficPolicyModes.includes(mode)) {
    out.push(
      issue(
        field("sidecar.outboundTrafficPolicyMode"),
        `mode ${excerpt(mode)} is not supported`,
        `use one of ${outboundTrafficPolicyModes.join(", ")}`,
      ),
    );
  }
  return out;
}
