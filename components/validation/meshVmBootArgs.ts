// MeshVmArgs.boot validation (boot-time delivery), before anything registers: VmBoot's rules
// (boot/vmBootValidation.ts) under MeshVm's field names, plus what only MeshVm has (one delivery, one image input).
import { validateVmBootArgs } from "../boot/vmBootValidation";
import type { VmBootArgs } from "../boot/vmBootArgs";
import type { MeshVmBootArgs } from "../meshVmArgs";
import { FieldName, fieldNames, issue, ValidationIssue } from "../rules/issues";
import { imageExclusionIssues } from "./meshVmHostArgs";

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
  return [
    ...out,
    ...validateVmBootArgs(boot as Partial<VmBootArgs>, field),
    ...imageExclusionIssues(boot, field),
  ];
}
