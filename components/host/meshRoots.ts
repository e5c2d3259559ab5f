// The two CA roots every VM's proxy trusts: the mesh root (istiod's, ConfigMap `istio-ca-root-cert`, key
// `root-cert.pem`) and the Kubernetes API server's (ConfigMap `kube-root-ca.crt`, key `ca.crt`). Both are the same
// in every namespace of a cluster, so a fleet reads them once (readMeshRoots, as the stack program does per
// namespace) and passes them to each VM; a VM given none reads its own pair (readCaRoots).
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { FieldName, issue, ValidationIssue } from "../rules/issues";
import type { WorkloadIdentity } from "./sidecarEnv";

export interface CaRoots {
  meshRootCert: pulumi.Input<string>;
  kubernetesRootCert: pulumi.Input<string>;
}

/** The two roots, read from a namespace's ConfigMaps. */
export interface MeshRoots {
  /** `root-cert.pem` of ConfigMap `istio-ca-root-cert` (istiod publishes it in every namespace it watches). */
  meshRootCert: pulumi.Output<string>;
  /** `ca.crt` of ConfigMap `kube-root-ca.crt` (Kubernetes publishes it in every namespace). */
  kubernetesRootCert: pulumi.Output<string>;
}

function configMapKey(
  resourceName: string,
  namespace: pulumi.Input<string>,
  configMap: string,
  key: string,
  opts: pulumi.CustomResourceOptions,
): pulumi.Output<string> {
  const id = pulumi.interpolate`${namespace}/${configMap}`;
  return k8s.core.v1.ConfigMap.get(resourceName, id, opts).data.apply((d) => {
    const value = d?.[key];
    if (!value) throw new Error(`ConfigMap ${configMap} has no "${key}"; is the namespace part of the mesh?`);
    return value;
  });
}

/**
 * Reads both roots from `namespace` as two resources, `<name>-istio-ca-root-cert` and `<name>-kube-root-ca`. Read
 * once per cluster (or namespace) and pass the result to every MeshVm's `host`/`boot` (`meshRootCert`,
 * `kubernetesRootCert`): two reads instead of two per VM on every `up`.
 */
export function readMeshRoots(
  name: string,
  args: { namespace: pulumi.Input<string> },
  opts: pulumi.CustomResourceOptions = {},
): MeshRoots {
  return {
    meshRootCert: configMapKey(
      `${name}-istio-ca-root-cert`,
      args.namespace,
      "istio-ca-root-cert",
      "root-cert.pem",
      opts,
    ),
    kubernetesRootCert: configMapKey(
      `${name}-kube-root-ca`,
      args.namespace,
      "kube-root-ca.crt",
      "ca.crt",
      opts,
    ),
  };
}

/** The given roots, else one VM's own `<name>-istio-ca-root-cert` / `<name>-kube-root-ca` reads. */
export function readCaRoots(
  name: string,
  opts: pulumi.CustomResourceOptions,
  workload: pulumi.Output<WorkloadIdentity>,
  given: Partial<CaRoots>,
): CaRoots {
  if (given.meshRootCert !== undefined && given.kubernetesRootCert !== undefined)
    return { meshRootCert: given.meshRootCert, kubernetesRootCert: given.kubernetesRootCert };
  const namespace = workload.apply((w) => w.namespace);
  return {
    meshRootCert:
      given.meshRootCert ??
      configMapKey(`${name}-istio-ca-root-cert`, namespace, "istio-ca-root-cert", "root-cert.pem", opts),
    kubernetesRootCert:
      given.kubernetesRootCert ??
      configMapKey(`${name}-kube-root-ca`, namespace, "kube-root-ca.crt", "ca.crt", opts),
  };
}

/** A given root that is known now must be a PEM certificate (a path or a key would break the proxy at start). */
export function caRootIssues(given: { [K in keyof CaRoots]?: unknown }, field: FieldName): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  for (const key of ["meshRootCert", "kubernetesRootCert"] as const) {
    const v = given[key];
    if (v === undefined || (typeof v === "object" && v !== null)) continue; // an Output or a Promise
    if (typeof v !== "string" || !/-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----/.test(v)) {
      out.push(
        issue(
          field(key),
          "is not a PEM certificate (no -----BEGIN CERTIFICATE----- ... -----END CERTIFICATE----- block)",
          "pass the certificate's PEM text (e.g. readMeshRoots(...).meshRootCert), not a path or a key; or leave it " +
            "unset to read it from the workload namespace's ConfigMap",
        ),
      );
    }
  }
  return out;
}
