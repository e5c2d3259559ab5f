// Checks of tctl's bootstrap settings (mesh/annotations.ts): written as sidecar-bootstrap.istio.io/*
// annotations and used by the host half, so they must be values tctl and a shell accept.
import type { PlainMeshVmArgs } from "../meshVmArgs";
import { isHostname, isIpAddress } from "../rules/addresses";
import { FieldName, issue, ValidationIssue } from "../rules/issues";
import {
  absolutePathProblem,
  containerNameProblem,
  dedicatedDirectoryProblem,
  excerpt,
  imageRepositoryProblem,
  posixNameProblem,
  textProblem,
} from "../rules/values";
import { checkPort, isString } from "./fields";

export function bootstrapIssues(args: PlainMeshVmArgs, field: FieldName): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  if (
    args.proxyInstanceIp !== undefined &&
    (!isString(args.proxyInstanceIp) || !isIpAddress(args.proxyInstanceIp))
  ) {
    out.push(
      issue(
        field("proxyInstanceIp"),
        `${excerpt(args.proxyInstanceIp)} is not an IP address`,
        'use the IP of the VM interface that receives inbound traffic, e.g. "10.128.0.2"',
      ),
    );
  }
  if (
    args.sshHost !== undefined &&
    (textProblem(args.sshHost) !== undefined || !(isIpAddress(args.sshHost) || isHostname(args.sshHost)))
  ) {
    out.push(
      issue(
        field("sshHost"),
        `${excerpt(args.sshHost)} is neither an IP address nor a host name`,
        "use the address the deployment machine reaches the VM's sshd on",
      ),
    );
  }
  if (args.sshPort !== undefined) checkPort(out, field("sshPort"), args.sshPort);
  const checks: [keyof PlainMeshVmArgs, (v: unknown) => string | undefined, string][] = [
    ["sshUser", posixNameProblem, 'use a user name by useradd\'s rules, such as "istio-proxy"'],
    [
      "proxyConfigDir",
      dedicatedDirectoryProblem,
      'use a directory of its own, e.g. "/etc/istio-proxy" (root makes it the proxy user\'s, mode 775)',
    ],
    ["scpPath", absolutePathProblem, 'use e.g. "/usr/bin/scp"'],
    ["proxyImageHub", imageRepositoryProblem, 'use a registry/organisation such as "docker.io/tetrate"'],
    [
      "proxyContainerName",
      containerNameProblem,
      "use letters, digits, '_', '.' and '-', e.g. \"istio-proxy\"",
    ],
  ];
  for (const [key, problem, fix] of checks) {
    const v = args[key];
    if (v === undefined) continue;
    const p = problem(v);
    if (p !== undefined) out.push(issue(field(key), p, fix));
  }
  return out;
}
