// MeshVmArgs.boot validation (boot-time delivery), before anything registers. The token lifetime is the
// trade-off boot-time delivery adds: see components/boot/token.ts.
import type { MeshVmBootArgs } from "../boot/fromMeshVm";
import { BOOT_TOKEN_MAX_SECONDS, BOOT_TOKEN_MIN_SECONDS } from "../boot/token";
import { issue, ValidationIssue } from "./issues";

const B = "MeshVmArgs.boot";

export function validateMeshVmBootArgs(boot: MeshVmBootArgs, hostToo: boolean): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  if (hostToo) {
    out.push(
      issue(
        B,
        "host and boot are both set",
        "choose one delivery: host (SSH steps from the machine running Pulumi) or boot (cloud-init user data / offline bundle, no SSH)",
      ),
    );
  }
  if (boot.kubeconfig === undefined || boot.kubeconfig === "") {
    out.push(
      issue(
        `${B}.kubeconfig`,
        "the bootstrap token cannot be minted without cluster credentials",
        "pass the kubeconfig (contents) the token is requested with; it is kept secret",
      ),
    );
  }
  if (boot.proxyImage !== undefined && boot.proxyImageTag !== undefined) {
    out.push(
      issue(
        `${B}.proxyImageTag`,
        "proxyImage and proxyImageTag are both set",
        "set a full proxyImage, or proxyImageTag to use <proxyImageHub>/proxyv2:<tag>, not both",
      ),
    );
  }
  const lifetime = boot.token?.expirationSeconds;
  if (
    lifetime !== undefined &&
    !(Number.isInteger(lifetime) && lifetime >= BOOT_TOKEN_MIN_SECONDS && lifetime <= BOOT_TOKEN_MAX_SECONDS)
  ) {
    out.push(
      issue(
        `${B}.token.expirationSeconds`,
        `${JSON.stringify(lifetime)} is not a whole number of seconds from ${BOOT_TOKEN_MIN_SECONDS} to ${BOOT_TOKEN_MAX_SECONDS}`,
        "the token only has to outlive the time until the VM first starts its proxy (default 3600); after that " +
          "the agent renews its own certificate. For a VM that boots later than a day after `up`, change " +
          "token.rotation at that time instead of lengthening the token",
      ),
    );
  }
  const timeout = boot.readyCheck?.timeoutSeconds;
  if (timeout !== undefined && !(Number.isInteger(timeout) && timeout > 0)) {
    out.push(
      issue(
        `${B}.readyCheck.timeoutSeconds`,
        `${JSON.stringify(timeout)} is not a whole number of seconds > 0`,
        "allow for creating and booting the VM, e.g. 900",
      ),
    );
  }
  const delay = boot.deregistrationDelaySeconds;
  if (delay !== undefined && !(Number.isInteger(delay) && delay >= 0)) {
    out.push(
      issue(
        `${B}.deregistrationDelaySeconds`,
        `${JSON.stringify(delay)} is not a whole number >= 0`,
        "use the seconds istiod needs to push the removal to clients, e.g. 5",
      ),
    );
  }
  return out;
}
