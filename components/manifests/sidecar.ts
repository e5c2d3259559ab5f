// Reads the Sidecar back into MeshVmArgs (`sidecar`, `ports`, `egress`): the inverse of mesh/sidecar.ts.
import type * as pulumi from "@pulumi/pulumi";
import type { MeshVmEgressArgs, MeshVmPortArgs, PlainMeshVmArgs } from "../meshVmArgs";
import { issue, ValidationIssue } from "../rules/issues";
import { selectionLabels } from "../mesh/settings";
import { excerpt } from "../rules/values";
import { allowedKeys, Doc, isObj, Obj, str } from "./documents";

type PlainPort = pulumi.Unwrap<MeshVmPortArgs>;
type PlainEgress = pulumi.Unwrap<MeshVmEgressArgs>;

function readSelector(args: PlainMeshVmArgs, sc: Doc, out: ValidationIssue[]): string[] {
  const workloadSelector = sc.spec["workloadSelector"];
  const selector =
    isObj(workloadSelector) && isObj(workloadSelector["labels"]) ? workloadSelector["labels"] : {};
  // Istio selects a WorkloadEntry by its spec.labels and metadata.labels together.
  const labels = selectionLabels(args.labels, args.metadataLabels);
  for (const k of Object.keys(selector)) {
    if (labels[k] !== String(selector[k])) {
      out.push(
        issue(
          `${sc.where}.spec.workloadSelector.labels[${excerpt(k)}]`,
          `${excerpt(selector[k])} does not match the WorkloadEntry label ${labels[k] === undefined ? "(absent)" : excerpt(labels[k])}`,
          "select the VM with its WorkloadEntry labels",
        ),
      );
    }
  }
  return Object.keys(selector);
}

/** Ingress listeners become ports; the WorkloadEntry's `ports` map gives their `targetPort`. */
function readIngress(sc: Doc, wePorts: Record<string, number>, out: ValidationIssue[]): PlainPort[] {
  const ports: PlainPort[] = [];
  const ingress = Array.isArray(sc.spec["ingress"]) ? (sc.spec["ingress"] as unknown[]) : [];
  ingress.forEach((l, i) => {
    const where = `${sc.where}.spec.ingress[${i}]`;
    if (!isObj(l) || !isObj(l["port"])) {
      out.push(
        issue(where, "ingress listener without a port", "give it port.name, port.number and port.protocol"),
      );
      return;
    }
    allowedKeys(out, where, l, ["port", "defaultEndpoint"], "ingress listener");
    const p = l["port"];
    const port: PlainPort = { name: str(p["name"]) ?? "", number: Number(p["number"]) };
    if (str(p["protocol"]) !== undefined) port.protocol = str(p["protocol"]);
    if (str(l["defaultEndpoint"]) !== undefined) port.defaultEndpoint = str(l["defaultEndpoint"]);
    const target = wePorts[port.name];
    if (target !== undefined) port.targetPort = target;
    ports.push(port);
  });
  return ports;
}

function readEgressListener(l: unknown, where: string, out: ValidationIssue[]): PlainEgress {
  if (!isObj(l)) return { hosts: [] };
  allowedKeys(out, where, l, ["bind", "hosts", "port", "captureMode"], "egress listener");
  const e: PlainEgress = { hosts: Array.isArray(l["hosts"]) ? (l["hosts"] as unknown[]).map(String) : [] };
  if (str(l["bind"]) !== undefined) e.bind = str(l["bind"]);
  if (str(l["captureMode"]) !== undefined) e.captureMode = str(l["captureMode"]);
  if (isObj(l["port"])) {
    const p: Obj = l["port"];
    e.port = { number: Number(p["number"]) };
    if (str(p["protocol"]) !== undefined) e.port.protocol = str(p["protocol"]);
    if (str(p["name"]) !== undefined) e.port.name = str(p["name"]);
  }
  return e;
}

/**
 * `sidecar`, `ports` and `egress` from the Sidecar. Without one, the Sidecar is disabled and the ports come from
 * the WorkloadEntry's `ports` map alone.
 */
export function readSidecar(
  args: PlainMeshVmArgs,
  sc: Doc | undefined,
  wePorts: Record<string, number>,
  we: Doc,
  out: ValidationIssue[],
): void {
  if (sc === undefined) {
    args.sidecar = { enabled: false };
    args.ports = Object.entries(wePorts).map(([name, number]) => ({ name, number, targetPort: number }));
    return;
  }
  allowedKeys(
    out,
    `${sc.where}.spec`,
    sc.spec,
    ["workloadSelector", "ingress", "egress", "outboundTrafficPolicy"],
    "spec",
  );
  args.sidecar = { name: sc.name };
  args.sidecar.selectorLabelKeys = readSelector(args, sc, out);
  const otp = sc.spec["outboundTrafficPolicy"];
  if (isObj(otp) && str(otp["mode"]) !== undefined) args.sidecar.outboundTrafficPolicyMode = str(otp["mode"]);
  const ports = readIngress(sc, wePorts, out);
  for (const name of Object.keys(wePorts)) {
    if (!ports.some((p) => p.name === name)) {
      out.push(
        issue(
          `${we.where}.spec.ports[${excerpt(name)}]`,
          "no Sidecar ingress listener has this port name",
          "name WorkloadEntry ports like the Sidecar's ingress ports",
        ),
      );
    }
  }
  const egress = Array.isArray(sc.spec["egress"]) ? (sc.spec["egress"] as unknown[]) : [];
  args.egress = egress.map((l, i) => readEgressListener(l, `${sc.where}.spec.egress[${i}]`, out));
  args.ports = ports;
}
