// MeshVmArgs.host validation: the settings the host half needs before anything connects, checked before the
// component registers so a mistake fails `pulumi preview` with nothing created. The rules are VmProxy's own
// (host/vmProxyValidation.ts), applied to MeshVm's host inputs and named by their MeshVm fields. Values that are still
// Outputs are checked later, where VmProxy uses them.
import { runtimeIssues } from "../runtime/registry";
import { packageLoginIssues } from "../runtime/package/settings";
import {
  deregistrationDelayIssues,
  egressHostnamesIssues,
  gatewayAddressIssues,
  hostKeyIssues,
  imageIssues,
  kubeconfigIssues,
  loginIssues,
  meshSettingsIssues,
  posixNameIssues,
  readinessIssues,
  sshSettingsIssues,
  tokenIssues,
} from "../host/vmProxyValidation";
import { caRootIssues } from "../host/meshRoots";
import type { MeshVmHostArgs } from "../meshVmArgs";
import { FieldName, fieldNames, issue, ValidationIssue } from "../rules/issues";

/** MeshVm's two image inputs exclude each other (VmProxy's and VmBoot's let proxyImage win over the tag). */
export function imageExclusionIssues(
  host: { proxyImage?: unknown; proxyImageTag?: unknown },
  field: FieldName,
): ValidationIssue[] {
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
  const ownCredentials = host.privateKey !== undefined || host.agentSocketPath !== undefined;
  return [
    ...runtimeIssues(host as unknown as Record<string, unknown>, field),
    ...hostKeyIssues(host, {
      hostKey: field("hostKey"),
      bastionHostKey: field("bastion.hostKey"),
      insecureIgnoreHostKey: "host.insecureIgnoreHostKey",
    }),
    ...loginIssues(
      ownCredentials,
      host.prepare,
      { login: field("privateKey"), prepareAdmin: field("prepare.admin") },
      { privateKey: field("privateKey"), agentSocketPath: field("agentSocketPath"), user: "sshUser" },
    ),
    ...packageLoginIssues(host.runtime, ownCredentials, {
      privateKey: field("privateKey"),
      agentSocketPath: field("agentSocketPath"),
    }),
    ...kubeconfigIssues(host.kubeconfig, field("kubeconfig")),
    ...sshSettingsIssues(
      {
        dialErrorLimit: host.dialErrorLimit,
        perDialTimeout: host.perDialTimeout,
        agentSocketPath: host.agentSocketPath,
        bastion: host.bastion,
      },
      field,
    ),
    ...posixNameIssues(
      host.prepare?.dockerGroup,
      field("prepare.dockerGroup"),
      'use a group name such as "docker"',
    ),
    ...posixNameIssues(
      host.prepare?.admin?.user,
      field("prepare.admin.user"),
      'use a user name such as "root"',
    ),
    ...imageIssues(host, field),
    ...imageExclusionIssues(host, field),
    ...gatewayAddressIssues(host.gatewayAddress, field),
    ...meshSettingsIssues(host.mesh, (p) => field(p === "" ? "mesh" : `mesh.${p}`)),
    ...readinessIssues(host.readiness, (p) => field(p === "" ? "readiness" : `readiness.${p}`)),
    ...tokenIssues(host.token, (p) => field(`token.${p}`)),
    ...deregistrationDelayIssues(host.deregistrationDelaySeconds, field("deregistrationDelaySeconds")),
    ...egressHostnamesIssues(host.egressHostnames, (p) => field(`egressHostnames${p}`)),
    ...caRootIssues(host, field),
  ];
}
