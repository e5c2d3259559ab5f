// Checks across MeshVm's mesh inputs and its delivery (`host` or `boot`): what the proxy on the VM takes from
// the WorkloadEntry must agree with the delivery's own settings. Values that are still Outputs are checked
// where they are used.
import { workloadProxyAnnotations } from "../mesh/annotations";
import type { MeshVmBootArgs, MeshVmHostArgs, PlainMeshVmArgs } from "../meshVmArgs";
import { FieldName, issue, ValidationIssue } from "../rules/issues";
import { providedIdentityIssues } from "../host/vmProxyValidation";
import { envoyMeshObjectIssues } from "./envoyMeshObjects";
import { autoRegistrationIssues } from "../runtime/registry";

/** The delivery settings these checks read (`host` and `boot` share them). */
type Delivery = Pick<
  MeshVmHostArgs & MeshVmBootArgs,
  "proxyImage" | "proxyImageTag" | "gatewayAddress" | "envoy" | "meshRootCert" | "runtime"
>;

/** `sidecar.istio.io/proxyImage` names the whole image (tctl): a delivery image setting would be ignored. */
function proxyImageIssues(
  args: PlainMeshVmArgs,
  delivery: Delivery,
  field: FieldName,
  deliveryField: FieldName,
): ValidationIssue[] {
  const key = workloadProxyAnnotations.proxyImage;
  const annotated = args.annotations?.[key];
  if (annotated === undefined) return [];
  return (["proxyImage", "proxyImageTag"] as const)
    .filter((k) => delivery[k] !== undefined)
    .map((k) =>
      issue(
        deliveryField(k),
        `${k} is set while ${field(`annotations["${key}"]`)} names the whole image ("${annotated}"), which wins as in tctl`,
        `remove ${deliveryField(k)}, or the annotation`,
      ),
    );
}

/**
 * The proxy on the VM needs the WorkloadEntry address (tctl: IDENTITY_IP, HOST_IP, the default SSH host), which
 * Istio lets a WorkloadEntry with a `network` omit.
 */
function proxyAddressIssues(
  args: PlainMeshVmArgs,
  field: FieldName,
  deliveryField: FieldName,
): ValidationIssue[] {
  if (args.address !== undefined && args.address !== "") return [];
  return [
    issue(
      field("address"),
      `the proxy on the VM (${deliveryField("")}) needs the WorkloadEntry address (spec.address: IDENTITY_IP, HOST_IP and the default SSH host)`,
      `set ${field("address")} to the address pods reach the VM on, e.g. its IP`,
    ),
  ];
}

/**
 * Validates what the delivery takes from the mesh inputs; `field` names the mesh inputs, `deliveryField` those
 * of `host` or `boot`.
 */
export function deliveryIssues(
  args: PlainMeshVmArgs,
  delivery: Delivery,
  field: FieldName,
  deliveryField: FieldName,
): ValidationIssue[] {
  // A certificate handed in (runtime envoy) must be for the identity MeshVm gives the VM.
  const workload = { namespace: args.namespace, serviceAccount: args.serviceAccount };
  return [
    ...proxyAddressIssues(args, field, deliveryField),
    ...proxyImageIssues(args, delivery, field, deliveryField),
    ...(args.workloadGroup?.autoRegister === true
      ? autoRegistrationIssues(
          delivery.runtime,
          field("workloadGroup.autoRegister"),
          deliveryField("runtime"),
        )
      : []),
    ...providedIdentityIssues(
      {
        envoy: delivery.envoy,
        workload,
        mesh: { trustDomain: args.trustDomain ?? "cluster.local" },
        meshRootCert: delivery.meshRootCert,
      },
      deliveryField,
    ),
    ...envoyMeshObjectIssues(args, delivery, field, deliveryField),
  ];
}
