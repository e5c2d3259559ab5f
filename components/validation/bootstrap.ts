// Checks of tctl's bootstrap settings (mesh/annotations.ts): written as sidecar-bootstrap.istio.io/*
// annotations and used by the host half, so they must be values tctl and a shell accept.
import type { PlainMeshVmArgs } from "../meshVmArgs";
import { isHostname, isIpAddress } from "../rules/addresses";
import { FieldName, issue, ValidationIssue } from "../rules/issues";
import { checkPort, isString } from "./fields";

const posixUserRe = /^[a-z_][a-z0-9_-]{0,31}$/;
const absolutePathRe = /^\/[A-Za-z0-9._/-]*$/;
const imageRepositoryRe = /^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(\/[a-z0-9]+([._-][a-z0-9]+)*)*$/;
const containerNameRe = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export function bootstrapIssues(args: PlainMeshVmArgs, field: FieldName): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  if (
    args.proxyInstanceIp !== undefined &&
    (!isString(args.proxyInstanceIp) || !isIpAddress(args.proxyInstanceIp))
  ) {
    out.push(
      issue(
        field("proxyInstanceIp"),
        `${JSON.stringify(args.proxyInstanceIp)} is not an IP address`,
        'use the IP of the VM interface that receives inbound traffic, e.g. "10.128.0.2"',
      ),
    );
  }
  if (
    args.sshHost !== undefined &&
    (!isString(args.sshHost) || !(isIpAddress(args.sshHost) || isHostname(args.sshHost)))
  ) {
    out.push(
      issue(
        field("sshHost"),
        `${JSON.stringify(args.sshHost)} is neither an IP address nor a host name`,
        "use the address the deployment machine reaches the VM's sshd on",
      ),
    );
  }
  if (args.sshPort !== undefined) checkPort(out, field("sshPort"), args.sshPort);
  if (args.sshUser !== undefined && (!isString(args.sshUser) || !posixUserRe.test(args.sshUser))) {
    out.push(
      issue(
        field("sshUser"),
        `${JSON.stringify(args.sshUser)} is not a valid user name`,
        'use a POSIX user name such as "istio-proxy"',
      ),
    );
  }
  for (const key of ["proxyConfigDir", "scpPath"] as const) {
    const v = args[key];
    if (v !== undefined && (!isString(v) || !absolutePathRe.test(v) || v.split("/").includes(".."))) {
      out.push(
        issue(
          field(key),
          `${JSON.stringify(v)} is not an absolute path of letters, digits, '.', '_', '-' and '/'`,
          key === "proxyConfigDir" ? 'use e.g. "/etc/istio-proxy"' : 'use e.g. "/usr/bin/scp"',
        ),
      );
    }
  }
  if (args.proxyImageHub !== undefined) {
    const hub = isString(args.proxyImageHub) ? args.proxyImageHub.replace(/\/+$/, "") : "";
    if (!imageRepositoryRe.test(hub)) {
      out.push(
        issue(
          field("proxyImageHub"),
          `${JSON.stringify(args.proxyImageHub)} is not an image repository prefix`,
          'use e.g. "docker.io/tetrate"',
        ),
      );
    }
  }
  if (
    args.proxyContainerName !== undefined &&
    (!isString(args.proxyContainerName) || !containerNameRe.test(args.proxyContainerName))
  ) {
    out.push(
      issue(
        field("proxyContainerName"),
        `${JSON.stringify(args.proxyContainerName)} is not a valid container name`,
        "use letters, digits, '_', '.' and '-', e.g. \"istio-proxy\"",
      ),
    );
  }
  return out;
}
