// VmBoot's input rules (boot-time delivery), before anything registers: VmProxy's rules for the settings both
// share (host/vmProxyValidation.ts) and the boot delivery's own (token lifetime, ready check, bundle directory). A
// standalone VmBoot and MeshVm's `boot` (validation/meshVmBootArgs.ts) both call validateVmBootArgs. The token lifetime
// is the trade-off boot-time delivery adds: see token.ts.
import {
  configDirIssues,
  containerNameIssues,
  deregistrationDelayIssues,
  egressHostnamesIssues,
  gatewayAddressIssues,
  imageIssues,
  kubeconfigIssues,
  meshSettingsIssues,
  posixNameIssues,
  providedIdentityIssues,
  readinessIssues,
  tokenRequestIssues,
} from "../host/vmProxyValidation";
import { caRootIssues } from "../host/meshRoots";
import { FieldName, fieldNames, issue, ValidationIssue } from "../rules/issues";
import { excerpt, integerProblem, textProblem } from "../rules/values";
import { runtimeIssues } from "../runtime/registry";
import { bootPackageSourceIssues } from "../runtime/package/settings";
import { BOOT_TOKEN_MAX_SECONDS, BOOT_TOKEN_MIN_SECONDS, bootReadyCheckDefaults } from "./token";
import type { VmBootArgs } from "./vmBootArgs";

function tokenLifetimeIssues(boot: Pick<VmBootArgs, "token">, field: FieldName): ValidationIssue[] {
  const lifetime = boot.token?.expirationSeconds;
  if (
    lifetime === undefined ||
    integerProblem(lifetime, BOOT_TOKEN_MIN_SECONDS, BOOT_TOKEN_MAX_SECONDS) === undefined
  )
    return [];
  return [
    issue(
      field("token.expirationSeconds"),
      `${excerpt(lifetime)} is not a whole number of seconds from ${BOOT_TOKEN_MIN_SECONDS} to ${BOOT_TOKEN_MAX_SECONDS}`,
      "the token only has to outlive the time until the VM first starts its proxy (default 3600); after that " +
        "the agent renews its own certificate. For a VM that boots later than a day after `up`, change " +
        "token.rotation at that time instead of lengthening the token",
    ),
  ];
}

function wholeNumberIssues(
  value: unknown,
  min: number,
  max: number,
  name: string,
  fix: string,
): ValidationIssue[] {
  if (value === undefined) return [];
  const p = integerProblem(value, min, max);
  return p === undefined ? [] : [issue(name, p, fix)];
}

/** The ready check's URL and the bundle directory: local settings of the machine running Pulumi. */
function localIssues(boot: Partial<VmBootArgs>, field: FieldName): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  const url: unknown = boot.readyCheck?.url;
  if (typeof url === "string" || (url !== undefined && typeof url !== "object")) {
    const t = textProblem(url, 2048);
    const bad =
      t ??
      (/^https?:\/\/[^\s/?#@]+(\/[^\s#]*)?$/.test(url as string)
        ? undefined
        : `${excerpt(url)} is not an http(s) URL without credentials`);
    if (bad !== undefined)
      out.push(issue(field("readyCheck.url"), bad, 'use e.g. "http://10.128.0.2:15021/healthz/ready"'));
  }
  const dir: unknown = boot.bundleDir;
  if (typeof dir === "string" || (dir !== undefined && typeof dir !== "object")) {
    const t = textProblem(dir, 4096) ?? (dir === "" ? "is empty" : undefined);
    if (t !== undefined) out.push(issue(field("bundleDir"), t, 'use a local directory, e.g. "./bundle"'));
  }
  return out;
}

/**
 * Validates the VmBootArgs known now; returns every issue (empty when valid). Fields a caller does not have
 * (MeshVm's `boot` has no `workload` or `sshUser`: they are MeshVm's own) are simply absent. `field` names the
 * inputs (default `VmBootArgs.<path>`).
 */
export function validateVmBootArgs(
  boot: Partial<VmBootArgs>,
  field: FieldName = fieldNames("VmBootArgs"),
): ValidationIssue[] {
  return [
    ...kubeconfigIssues(boot.kubeconfig, field("kubeconfig")),
    ...tokenRequestIssues(boot.token, (p) => field(`token.${p}`)),
    ...tokenLifetimeIssues(boot, field),
    ...wholeNumberIssues(
      boot.readyCheck?.timeoutSeconds,
      1,
      bootReadyCheckDefaults.maxTimeoutSeconds,
      field("readyCheck.timeoutSeconds"),
      `allow for creating and booting the VM, e.g. ${bootReadyCheckDefaults.timeoutSeconds}`,
    ),
    ...deregistrationDelayIssues(boot.deregistrationDelaySeconds, field("deregistrationDelaySeconds")),
    ...runtimeIssues(boot as Record<string, unknown>, field),
    ...bootPackageSourceIssues(boot.sidecarPackage, (p) => field(`sidecarPackage.${p}`)),
    ...providedIdentityIssues(boot as Parameters<typeof providedIdentityIssues>[0], field),
    ...imageIssues(boot, field),
    ...gatewayAddressIssues(boot.gatewayAddress, field),
    ...meshSettingsIssues(boot.mesh, (p) => field(p === "" ? "mesh" : `mesh.${p}`)),
    ...readinessIssues(boot.readiness, (p) => field(p === "" ? "readiness" : `readiness.${p}`)),
    ...posixNameIssues(boot.dockerGroup, field("dockerGroup"), 'use a group name such as "docker"'),
    ...egressHostnamesIssues(boot.egressHostnames, (p) => field(`egressHostnames${p}`)),
    ...posixNameIssues(boot.sshUser, field("sshUser"), 'use a user name such as "istio-proxy"'),
    ...containerNameIssues(boot.proxyContainerName, field("proxyContainerName")),
    ...configDirIssues(boot.proxyConfigDir, field("proxyConfigDir")),
    ...localIssues(boot, field),
    ...caRootIssues(boot, field),
  ];
}
