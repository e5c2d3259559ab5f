// Reads a WorkloadEntry back into MeshVmArgs: the inverse of mesh/workloadEntry.ts. Every tctl annotation is
// honoured; absent ones keep tctl's defaults (MeshVmArgs leaves them unset); unknown ones are refused so a typo
// cannot silently fall back to a default.
import {
  bootstrapAnnotations,
  bootstrapSettingFor,
  meshExpansionConfigMapAnnotation,
  sidecarBootstrapPrefix,
} from "../mesh/annotations";
import { normaliseNetworkingApiVersion } from "../mesh/apiVersion";
import type { PlainMeshVmArgs } from "../meshVmArgs";
import { issue, ValidationIssue } from "../rules/issues";
import { excerpt, setOwn } from "../rules/values";
import { allowedKeys, Doc, isObj, str } from "./documents";

const oldPrefix = "sidecar-bootstrap.istioctl.istio.io/";

/** Splits the annotations into extra ones and tctl's bootstrap settings (by MeshVmArgs field). */
function readAnnotations(
  we: Doc,
  out: ValidationIssue[],
): { annotations: Record<string, string>; bootstrap: Record<string, string> } {
  const annotations: Record<string, string> = {};
  const bootstrap: Record<string, string> = {};
  const raw = isObj(we.metadata["annotations"]) ? we.metadata["annotations"] : {};
  for (const [k, v] of Object.entries(raw)) {
    const field = `${we.where}.metadata.annotations[${excerpt(k)}]`;
    if (typeof v !== "string") {
      // Kubernetes annotations are strings: an empty `ssh-user:` is null, and would become the user "null".
      out.push(
        issue(
          field,
          `the value is ${v === null ? "empty (null)" : "not a string"}`,
          'write the value as a quoted string, e.g. "istio-proxy", or remove the annotation',
        ),
      );
      continue;
    }
    const value = v;
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
      setOwn(annotations, k, value);
    }
  }
  return { annotations, bootstrap };
}

/** The bootstrap settings as MeshVmArgs fields. */
function applyBootstrap(
  args: PlainMeshVmArgs,
  we: Doc,
  bootstrap: Record<string, string>,
  out: ValidationIssue[],
) {
  if (bootstrap["sshHost"] !== undefined) args.sshHost = bootstrap["sshHost"];
  if (bootstrap["sshPort"] !== undefined) {
    if (!/^\d+$/.test(bootstrap["sshPort"])) {
      out.push(
        issue(
          `${we.where}.metadata.annotations["${bootstrapAnnotations.sshPort}"]`,
          `${excerpt(bootstrap["sshPort"])} is not a port number`,
          'use a number such as "22"',
        ),
      );
    } else {
      args.sshPort = Number(bootstrap["sshPort"]);
    }
  }
  if (bootstrap["sshUser"] !== undefined) args.sshUser = bootstrap["sshUser"];
  if (bootstrap["scpPath"] !== undefined) args.scpPath = bootstrap["scpPath"];
  // Without the annotation tctl used its own default: keep that directory (MeshVm's default differs), and keep
  // the object without the annotation. With it, the annotation is rendered as written, even tctl's default.
  if (bootstrap["proxyConfigDir"] !== undefined) args.proxyConfigDir = bootstrap["proxyConfigDir"];
  else args.tctlDefaults = true;
  if (bootstrap["proxyImageHub"] !== undefined) args.proxyImageHub = bootstrap["proxyImageHub"];
  if (bootstrap["proxyContainerName"] !== undefined)
    args.proxyContainerName = bootstrap["proxyContainerName"];
  if (bootstrap["proxyInstanceIp"] !== undefined) args.proxyInstanceIp = bootstrap["proxyInstanceIp"];
}

/** The MeshVmArgs a WorkloadEntry starts: its name and namespace. */
export function argsFromWorkloadEntry(we: Doc, out: ValidationIssue[]): PlainMeshVmArgs {
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
  return args;
}

/** The API version every networking object must share. */
export function readApiVersion(args: PlainMeshVmArgs, we: Doc, out: ValidationIssue[]): void {
  const apiVersion = normaliseNetworkingApiVersion(we.apiVersion);
  if (apiVersion === undefined) {
    out.push(
      issue(
        `${we.where}.apiVersion`,
        `${excerpt(we.apiVersion)} is not supported`,
        "use networking.istio.io/v1, v1beta1 or v1alpha3",
      ),
    );
  } else {
    args.apiVersion = apiVersion;
  }
}

/**
 * metadata (annotations) and spec of the WorkloadEntry; returns its `ports` map (port name to VM port), which
 * the Sidecar reader turns into `targetPort`s.
 */
export function readWorkloadEntryBody(
  args: PlainMeshVmArgs,
  we: Doc,
  out: ValidationIssue[],
): Record<string, number> {
  allowedKeys(
    out,
    `${we.where}.metadata`,
    we.metadata,
    ["name", "namespace", "labels", "annotations"],
    "metadata",
  );
  if (isObj(we.metadata["labels"])) {
    args.metadataLabels = Object.fromEntries(
      Object.entries(we.metadata["labels"]).map(([k, v]) => [k, String(v)]),
    );
  }
  const { annotations, bootstrap } = readAnnotations(we, out);
  if (Object.keys(annotations).length > 0) args.annotations = annotations;
  applyBootstrap(args, we, bootstrap, out);

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
  else if (s["weight"] !== undefined && s["weight"] !== null)
    out.push(
      issue(`${we.where}.spec.weight`, "is not a number", "write the weight as an unquoted integer, e.g. 10"),
    );
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(isObj(s["labels"]) ? s["labels"] : {})) setOwn(labels, k, String(v));
  args.labels = labels;
  // Keep the labels exactly as written: add no `class` label the user did not have.
  if (labels["class"] === undefined) args.vmClassLabel = "";
  const wePorts: Record<string, number> = {};
  for (const [k, v] of Object.entries(isObj(s["ports"]) ? s["ports"] : {})) setOwn(wePorts, k, Number(v));
  return wePorts;
}
