// MeshVmArgs.boot validation (boot-time delivery), before anything registers. The token lifetime is the
// trade-off boot-time delivery adds: see components/boot/token.ts.
import { BOOT_TOKEN_MAX_SECONDS, BOOT_TOKEN_MIN_SECONDS, bootReadyCheckDefaults } from "../boot/token";
import type { MeshVmBootArgs } from "../meshVmArgs";
import { runtimeIssues } from "../runtime/registry";
import {
  deregistrationDelayIssues,
  egressHostnamesIssues,
  gatewayAddressIssues,
  kubeconfigIssues,
  meshSettingsIssues,
  posixNameIssues,
  readinessIssues,
  tokenRequestIssues,
} from "../host/validation";
import { FieldName, fieldNames, issue, ValidationIssue } from "../rules/issues";
import { excerpt, integerProblem, textProblem } from "../rules/values";
import { imageIssues } from "./host";

function tokenLifetimeIssues(boot: MeshVmBootArgs, field: FieldName): ValidationIssue[] {
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

/** The settings boot-time delivery shares with `host`: image, mesh, names, readiness, local paths. */
function sharedIssues(boot: MeshVmBootArgs, field: FieldName): ValidationIssue[] {
  const out: ValidationIssue[] = [
    ...runtimeIssues(boot as unknown as Record<string, unknown>, field),
    ...(boot.runtime === "envoy"
      ? [
          issue(
            field("runtime"),
            '"envoy" is delivered over SSH only in this version (its certificate is issued at up, not at first boot)',
            'onboard the VM with host: { runtime: "envoy", envoy: {...} }, or use runtime "container" at boot',
          ),
        ]
      : []),
    ...imageIssues(boot, field),
    ...gatewayAddressIssues(boot.gatewayAddress, field),
    ...meshSettingsIssues(boot.mesh, (p) => field(p === "" ? "mesh" : `mesh.${p}`)),
    ...readinessIssues(boot.readiness, (p) => field(p === "" ? "readiness" : `readiness.${p}`)),
    ...posixNameIssues(boot.dockerGroup, field("dockerGroup"), 'use a group name such as "docker"'),
    ...egressHostnamesIssues(boot.egressHostnames, (p) => field(`egressHostnames${p}`)),
  ];
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
 * Validates the boot inputs whose values are known now. `hostToo`: MeshVm's `host` is set as well (one
 * delivery only). `field` names the inputs in the messages (default `MeshVmArgs.boot.<path>`).
 */
export function validateMeshVmBootArgs(
  boot: MeshVmBootArgs,
  hostToo: boolean,
  field: FieldName = fieldNames("MeshVmArgs.boot"),
): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  if (hostToo) {
    out.push(
      issue(
        field(""),
        "host and boot are both set",
        "choose one delivery: host (SSH steps from the machine running Pulumi) or boot (cloud-init user data / offline bundle, no SSH)",
      ),
    );
  }
  out.push(...kubeconfigIssues(boot.kubeconfig, field("kubeconfig")));
  out.push(...tokenRequestIssues(boot.token, (p) => field(`token.${p}`)));
  return [
    ...out,
    ...tokenLifetimeIssues(boot, field),
    ...wholeNumberIssues(
      boot.readyCheck?.timeoutSeconds,
      1,
      bootReadyCheckDefaults.maxTimeoutSeconds,
      field("readyCheck.timeoutSeconds"),
      `allow for creating and booting the VM, e.g. ${bootReadyCheckDefaults.timeoutSeconds}`,
    ),
    ...deregistrationDelayIssues(boot.deregistrationDelaySeconds, field("deregistrationDelaySeconds")),
    ...sharedIssues(boot, field),
  ];
}
