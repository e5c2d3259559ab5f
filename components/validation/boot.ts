// MeshVmArgs.boot validation (boot-time delivery), before anything registers. The token lifetime is the
// trade-off boot-time delivery adds: see components/boot/token.ts.
import { BOOT_TOKEN_MAX_SECONDS, BOOT_TOKEN_MIN_SECONDS } from "../boot/token";
import type { MeshVmBootArgs } from "../meshVmArgs";
import { FieldName, fieldNames, issue, ValidationIssue } from "../rules/issues";

function tokenLifetimeIssues(boot: MeshVmBootArgs, field: FieldName): ValidationIssue[] {
  const lifetime = boot.token?.expirationSeconds;
  if (
    lifetime === undefined ||
    (Number.isInteger(lifetime) && lifetime >= BOOT_TOKEN_MIN_SECONDS && lifetime <= BOOT_TOKEN_MAX_SECONDS)
  )
    return [];
  return [
    issue(
      field("token.expirationSeconds"),
      `${JSON.stringify(lifetime)} is not a whole number of seconds from ${BOOT_TOKEN_MIN_SECONDS} to ${BOOT_TOKEN_MAX_SECONDS}`,
      "the token only has to outlive the time until the VM first starts its proxy (default 3600); after that " +
        "the agent renews its own certificate. For a VM that boots later than a day after `up`, change " +
        "token.rotation at that time instead of lengthening the token",
    ),
  ];
}

function wholeNumberIssues(
  value: number | undefined,
  min: number,
  name: string,
  fix: string,
): ValidationIssue[] {
  if (value === undefined || (Number.isInteger(value) && value >= min)) return [];
  return [issue(name, `${JSON.stringify(value)} is not a whole number >= ${min}`, fix)];
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
  if (boot.kubeconfig === undefined || boot.kubeconfig === "") {
    out.push(
      issue(
        field("kubeconfig"),
        "the bootstrap token cannot be minted without cluster credentials",
        "pass the kubeconfig (contents) the token is requested with; it is kept secret",
      ),
    );
  }
  if (boot.proxyImage !== undefined && boot.proxyImageTag !== undefined) {
    out.push(
      issue(
        field("proxyImageTag"),
        "proxyImage and proxyImageTag are both set",
        "set a full proxyImage, or proxyImageTag to use <proxyImageHub>/proxyv2:<tag>, not both",
      ),
    );
  }
  return [
    ...out,
    ...tokenLifetimeIssues(boot, field),
    ...wholeNumberIssues(
      boot.readyCheck?.timeoutSeconds,
      1,
      field("readyCheck.timeoutSeconds"),
      "allow for creating and booting the VM, e.g. 900",
    ),
    ...wholeNumberIssues(
      boot.deregistrationDelaySeconds,
      0,
      field("deregistrationDelaySeconds"),
      "use the seconds istiod needs to push the removal to clients, e.g. 5",
    ),
  ];
}
