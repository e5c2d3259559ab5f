// MeshVmArgs.host validation: the settings the host half needs before anything connects, checked before the
// component registers so a mistake fails `pulumi preview` with nothing created. The rules are VmProxy's own
// (host/validation.ts), applied to MeshVm's host inputs and named by their MeshVm fields. Values that are still
// Outputs are checked later, where VmProxy uses them.
import {
  deregistrationDelayIssues,
  egressHostnamesIssues,
  hostKeyIssues,
  kubeconfigIssues,
  loginIssues,
  tokenIssues,
} from "../host/validation";
import type { MeshVmHostArgs } from "../meshVmArgs";
import { FieldName, fieldNames, issue, ValidationIssue } from "../rules/issues";

function imageIssues(host: MeshVmHostArgs, field: FieldName): ValidationIssue[] {
  if (host.proxyImage === undefined || host.proxyImageTag === undefined) return [];
  return [
    issue(
      field("proxyImageTag"),
      "proxyImage and proxyImageTag are both set",
      "set a full proxyImage, or proxyImageTag to use <proxyImageHub>/proxyv2:<tag>, not both",
    ),
  ];
}

/**
 * Validates the host inputs whose values are known now; returns every issue found. `field` names the inputs in
 * the messages (default `MeshVmArgs.host.<path>`).
 */
export function validateMeshVmHostArgs(
  host: MeshVmHostArgs,
  field: FieldName = fieldNames("MeshVmArgs.host"),
): ValidationIssue[] {
  const ownCredentials =
    host.credentials?.privateKey !== undefined || host.credentials?.agentSocketPath !== undefined;
  return [
    ...hostKeyIssues(host, {
      hostKey: field("hostKey"),
      bastionHostKey: field("bastion.hostKey"),
      insecureIgnoreHostKey: "host.insecureIgnoreHostKey",
    }),
    ...loginIssues(
      ownCredentials,
      host.prepare,
      { credentials: field("credentials"), prepareAdmin: field("prepare.admin") },
      { credentials: "credentials", user: "sshUser" },
    ),
    ...kubeconfigIssues(host.kubeconfig, field("kubeconfig")),
    ...imageIssues(host, field),
    ...tokenIssues(host.token, (p) => field(`token.${p}`)),
    ...deregistrationDelayIssues(host.deregistrationDelaySeconds, field("deregistrationDelaySeconds")),
    ...egressHostnamesIssues(host.egressHostnames, (p) => field(`egressHostnames${p}`)),
  ];
}
