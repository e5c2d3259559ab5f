// fromManifests: turns the YAML a tctl user already has (a WorkloadEntry with sidecar-bootstrap.istio.io/*
// annotations, optionally a Sidecar, ServiceEntry, WorkloadGroup, ServiceAccount) into MeshVmArgs that render
// the same objects. Every tctl annotation is honoured; absent ones keep tctl's defaults (MeshVmArgs leaves them
// unset); unknown ones are refused so a typo cannot silently fall back to a default.
import { parseAllDocuments } from "yaml";
import {
  bootstrapDefaults,
  bootstrapAnnotations,
  bootstrapSettingFor,
  meshExpansionConfigMapAnnotation,
  sidecarBootstrapPrefix,
} from "./mesh/annotations";
import { normaliseNetworkingApiVersion } from "./mesh/apiVersion";
import type { MeshVmEgressArgs, MeshVmPortArgs, PlainMeshVmArgs } from "./meshVmArgs";
import type * as pulumi from "@pulumi/pulumi";

type PlainPort = pulumi.Unwrap<MeshVmPortArgs>;
type PlainEgress = pulumi.Unwrap<MeshVmEgressArgs>;
import { issue, throwIfIssues, ValidationIssue } from "./rules/issues";

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

interface Doc {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
  metadata: Obj;
  spec: Obj;
  where: string;
}

const oldPrefix = "sidecar-bootstrap.istioctl.istio.io/";

function allowedKeys(out: ValidationIssue[], where: string, o: Obj, allowed: string[], what: string): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) {
      out.push(
        issue(
          `${where}.${k}`,
          `${what} field "${k}" is not supported by MeshVm`,
          `remove it, or manage this object outside MeshVm`,
        ),
      );
    }
  }
}

/**
 * Parses tctl-style YAML into MeshVmArgs. Throws MeshVmValidationError listing every problem (unknown
 * annotations, unsupported fields, objects that do not belong together).
 */
export function fromManifests(yamlText: string): PlainMeshVmArgs {
  const out: ValidationIssue[] = [];
  const owner = "fromManifests";
  const docs: Doc[] = [];
  parseAllDocuments(yamlText).forEach((d, i) => {
    if (d.errors.length > 0) {
      out.push(
        issue(`document ${i + 1}`, `is not valid YAML: ${d.errors[0]!.message}`, "fix the YAML syntax"),
      );
      return;
    }
    const o: unknown = d.toJS();
    if (o === null || o === undefined) return;
    if (!isObj(o) || !isObj(o["metadata"])) {
      out.push(
        issue(`document ${i + 1}`, "is not a Kubernetes object", "give it apiVersion, kind and metadata"),
      );
      return;
    }
    const metadata = o["metadata"];
    const name = str(metadata["name"]) ?? "";
    const kind = str(o["kind"]) ?? "";
    docs.push({
      apiVersion: str(o["apiVersion"]) ?? "",
      kind,
      name,
      namespace: str(metadata["namespace"]),
      metadata,
      spec: isObj(o["spec"]) ? o["spec"] : {},
      where: `${kind} ${name}`,
    });
  });

  const byKind = (k: string) => docs.filter((d) => d.kind === k);
  for (const d of docs) {
    if (!["WorkloadEntry", "Sidecar", "ServiceEntry", "WorkloadGroup", "ServiceAccount"].includes(d.kind)) {
      out.push(
        issue(
          d.where,
          `kind "${d.kind}" is not part of a MeshVm`,
          "pass only the WorkloadEntry and its Sidecar, ServiceEntry, WorkloadGroup or ServiceAccount",
        ),
      );
    }
  }
  const wes = byKind("WorkloadEntry");
  if (wes.length !== 1) {
    out.push(
      issue(
        "WorkloadEntry",
        `expected exactly one WorkloadEntry, found ${wes.length}`,
        "pass the manifests of one VM at a time",
      ),
    );
    throwIfIssues(owner, out);
  }
  const we = wes[0]!;
  const args: PlainMeshVmArgs = { namespace: we.namespace ?? "", serviceAccount: "", labels: {} };
  if (we.name !== "") args.name = we.name;
  if (we.namespace === undefined) {
    out.push(
      issue(
        `${we.where}.metadata.namespace`,
        "namespace is required",
        "set metadata.namespace (tctl would take it from -n)",
      ),
    );
  }

  // API version: every networking object must agree, since MeshVm renders them all with one version.
  const apiVersion = normaliseNetworkingApiVersion(we.apiVersion);
  if (apiVersion === undefined) {
    out.push(
      issue(
        `${we.where}.apiVersion`,
        `"${we.apiVersion}" is not supported`,
        "use networking.istio.io/v1 or networking.istio.io/v1beta1",
      ),
    );
  } else {
    args.apiVersion = apiVersion;
  }
  for (const d of docs) {
    if (d.kind !== "ServiceAccount" && d.kind !== "WorkloadEntry" && d.apiVersion !== we.apiVersion) {
      out.push(
        issue(
          `${d.where}.apiVersion`,
          `"${d.apiVersion}" differs from the WorkloadEntry's "${we.apiVersion}"`,
          "use one networking API version for all objects",
        ),
      );
    }
    if (d.kind !== "WorkloadEntry" && d.namespace !== we.namespace) {
      out.push(
        issue(
          `${d.where}.metadata.namespace`,
          `"${d.namespace ?? ""}" differs from the WorkloadEntry's namespace`,
          "put all objects in the WorkloadEntry's namespace",
        ),
      );
    }
  }

  // --- WorkloadEntry metadata: annotations ---
  allowedKeys(out, `${we.where}.metadata`, we.metadata, ["name", "namespace", "annotations"], "metadata");
  const annotations: Record<string, string> = {};
  const rawAnnotations = isObj(we.metadata["annotations"]) ? we.metadata["annotations"] : {};
  const bootstrap: Record<string, string> = {};
  for (const [k, v] of Object.entries(rawAnnotations)) {
    const field = `${we.where}.metadata.annotations["${k}"]`;
    const value = typeof v === "string" ? v : String(v);
    if (k.startsWith(oldPrefix)) {
      out.push(
        issue(
          field,
          `annotation uses the pre-rename prefix ${oldPrefix}`,
          `rename it to ${sidecarBootstrapPrefix}${k.slice(oldPrefix.length)}`,
        ),
      );
    } else if (k === meshExpansionConfigMapAnnotation) {
      out.push(
        issue(
          field,
          "tctl reads this annotation from the Istio system Namespace, not from a WorkloadEntry",
          "move it to the istio-system Namespace",
        ),
      );
    } else if (k.startsWith(sidecarBootstrapPrefix)) {
      const setting = bootstrapSettingFor(k);
      if (setting === undefined) {
        out.push(
          issue(
            field,
            "unknown sidecar-bootstrap annotation",
            `use one of ${Object.values(bootstrapAnnotations).join(", ")}`,
          ),
        );
      } else {
        bootstrap[setting] = value;
      }
    } else {
      annotations[k] = value;
    }
  }
  if (Object.keys(annotations).length > 0) args.annotations = annotations;
  if (bootstrap["sshHost"] !== undefined) args.sshHost = bootstrap["sshHost"];
  if (bootstrap["sshPort"] !== undefined) {
    const n = Number(bootstrap["sshPort"]);
    if (!/^\d+$/.test(bootstrap["sshPort"])) {
      out.push(
        issue(
          `${we.where}.metadata.annotations["${bootstrapAnnotations.sshPort}"]`,
          `"${bootstrap["sshPort"]}" is not a port number`,
          'use a number such as "22"',
        ),
      );
    } else {
      args.sshPort = n;
    }
  }
  if (bootstrap["sshUser"] !== undefined) args.sshUser = bootstrap["sshUser"];
  if (bootstrap["scpPath"] !== undefined) args.scpPath = bootstrap["scpPath"];
  // Without the annotation tctl used its own default: keep that directory (MeshVm's default differs).
  args.proxyConfigDir = bootstrap["proxyConfigDir"] ?? bootstrapDefaults.proxyConfigDir;
  if (bootstrap["proxyImageHub"] !== undefined) args.proxyImageHub = bootstrap["proxyImageHub"];
  if (bootstrap["proxyContainerName"] !== undefined)
    args.proxyContainerName = bootstrap["proxyContainerName"];
  if (bootstrap["proxyInstanceIp"] !== undefined) args.proxyInstanceIp = bootstrap["proxyInstanceIp"];

  // --- WorkloadEntry spec ---
  const s = we.spec;
  allowedKeys(
    out,
    `${we.where}.spec`,
    s,
    ["address", "labels", "ports", "serviceAccount", "network", "locality", "weight"],
    "spec",
  );
  if (str(s["address"]) !== undefined) args.address = str(s["address"]);
  args.serviceAccount = str(s["serviceAccount"]) ?? "";
  if (str(s["network"]) !== undefined) args.network = str(s["network"]);
  if (str(s["locality"]) !== undefined) args.locality = str(s["locality"]);
  if (typeof s["weight"] === "number") args.weight = s["weight"];
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(isObj(s["labels"]) ? s["labels"] : {})) labels[k] = String(v);
  args.labels = labels;
  // Keep the labels exactly as written: add no `class` label the user did not have.
  if (labels["class"] === undefined) args.vmClassLabel = "";
  const wePorts: Record<string, number> = {};
  for (const [k, v] of Object.entries(isObj(s["ports"]) ? s["ports"] : {})) wePorts[k] = Number(v);

  // --- Sidecar ---
  const sidecars = byKind("Sidecar");
  if (sidecars.length > 1)
    out.push(
      issue(
        "Sidecar",
        `expected at most one Sidecar, found ${sidecars.length}`,
        "keep the VM's Sidecar only",
      ),
    );
  const ports: PlainPort[] = [];
  const sc = sidecars[0];
  if (sc === undefined) {
    args.sidecar = { enabled: false };
    for (const [name, number] of Object.entries(wePorts)) ports.push({ name, number, targetPort: number });
  } else {
    allowedKeys(
      out,
      `${sc.where}.spec`,
      sc.spec,
      ["workloadSelector", "ingress", "egress", "outboundTrafficPolicy"],
      "spec",
    );
    args.sidecar = { name: sc.name };
    const selector =
      isObj(sc.spec["workloadSelector"]) && isObj(sc.spec["workloadSelector"]["labels"])
        ? sc.spec["workloadSelector"]["labels"]
        : {};
    const keys = Object.keys(selector);
    for (const k of keys) {
      if (labels[k] !== String(selector[k])) {
        out.push(
          issue(
            `${sc.where}.spec.workloadSelector.labels["${k}"]`,
            `"${String(selector[k])}" does not match the WorkloadEntry label "${labels[k] ?? "(absent)"}"`,
            "select the VM with its WorkloadEntry labels",
          ),
        );
      }
    }
    args.sidecar.selectorLabelKeys = keys;
    const otp = sc.spec["outboundTrafficPolicy"];
    if (isObj(otp) && str(otp["mode"]) !== undefined)
      args.sidecar.outboundTrafficPolicyMode = str(otp["mode"]);
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
    for (const name of Object.keys(wePorts)) {
      if (!ports.some((p) => p.name === name)) {
        out.push(
          issue(
            `${we.where}.spec.ports["${name}"]`,
            "no Sidecar ingress listener has this port name",
            "name WorkloadEntry ports like the Sidecar's ingress ports",
          ),
        );
      }
    }
    const egress = Array.isArray(sc.spec["egress"]) ? (sc.spec["egress"] as unknown[]) : [];
    args.egress = egress.map((l, i): PlainEgress => {
      const where = `${sc.where}.spec.egress[${i}]`;
      if (!isObj(l)) return { hosts: [] };
      allowedKeys(out, where, l, ["bind", "hosts", "port", "captureMode"], "egress listener");
      const e: PlainEgress = {
        hosts: Array.isArray(l["hosts"]) ? (l["hosts"] as unknown[]).map(String) : [],
      };
      if (str(l["bind"]) !== undefined) e.bind = str(l["bind"]);
      if (str(l["captureMode"]) !== undefined) e.captureMode = str(l["captureMode"]);
      if (isObj(l["port"])) {
        const p = l["port"];
        e.port = { number: Number(p["number"]) };
        if (str(p["protocol"]) !== undefined) e.port.protocol = str(p["protocol"]);
        if (str(p["name"]) !== undefined) e.port.name = str(p["name"]);
      }
      return e;
    });
  }
  args.ports = ports;

  // --- ServiceEntry ---
  const ses = byKind("ServiceEntry");
  if (ses.length > 1)
    out.push(
      issue(
        "ServiceEntry",
        `expected at most one ServiceEntry, found ${ses.length}`,
        "keep the VM service's ServiceEntry only",
      ),
    );
  const se = ses[0];
  if (se === undefined) {
    args.serviceEntry = { enabled: false };
  } else {
    const sp = se.spec;
    if (sp["endpoints"] !== undefined && sp["workloadSelector"] !== undefined) {
      out.push(
        issue(
          `${se.where}.spec`,
          "only one of workloadSelector or endpoints may be set",
          "select the WorkloadEntry with workloadSelector and drop endpoints",
        ),
      );
    } else if (sp["endpoints"] !== undefined) {
      out.push(
        issue(
          `${se.where}.spec.endpoints`,
          "inline endpoints are not supported by MeshVm",
          "select the WorkloadEntry with workloadSelector instead",
        ),
      );
    }
    allowedKeys(
      out,
      `${se.where}.spec`,
      sp,
      ["hosts", "location", "ports", "resolution", "workloadSelector", "endpoints"],
      "spec",
    );
    if (sp["location"] !== "MESH_INTERNAL")
      out.push(
        issue(
          `${se.where}.spec.location`,
          `"${String(sp["location"])}" is not MESH_INTERNAL`,
          "use location: MESH_INTERNAL for a VM inside the mesh",
        ),
      );
    if (sp["resolution"] !== "STATIC")
      out.push(
        issue(
          `${se.where}.spec.resolution`,
          `"${String(sp["resolution"])}" is not STATIC`,
          "use resolution: STATIC with the VM's IP address",
        ),
      );
    args.serviceEntry = {
      name: se.name,
      hosts: Array.isArray(sp["hosts"]) ? (sp["hosts"] as unknown[]).map(String) : [],
    };
  }

  // --- WorkloadGroup / ServiceAccount ---
  const wgs = byKind("WorkloadGroup");
  if (wgs.length > 0) args.workloadGroup = { enabled: true, name: wgs[0]!.name };
  const sas = byKind("ServiceAccount");
  if (sas.length > 0) {
    if (sas[0]!.name !== args.serviceAccount) {
      out.push(
        issue(
          `${sas[0]!.where}.metadata.name`,
          `differs from the WorkloadEntry serviceAccount "${args.serviceAccount}"`,
          "pass the ServiceAccount the VM runs as",
        ),
      );
    }
    args.createServiceAccount = true;
  }

  throwIfIssues(owner, out);
  return args;
}
