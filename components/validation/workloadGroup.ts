// Checks of the inputs that make the WorkloadGroup (mesh/workloadGroup.ts) and, with `autoRegister`, what istiod
// needs to make the VM's WorkloadEntry from it.
import { autoRegisteredEntryName } from "../mesh/workloadGroup";
import type { PlainMeshVmArgs } from "../meshVmArgs";
import { isIpAddress } from "../rules/addresses";
import { issue, type FieldName, type ValidationIssue } from "../rules/issues";
import { excerpt } from "../rules/values";
import { nameIssues } from "./fields";

function autoRegisterIssues(args: PlainMeshVmArgs, field: FieldName): ValidationIssue[] {
  const group = args.workloadGroup;
  if (group?.autoRegister !== true) return [];
  const at = field("workloadGroup.autoRegister");
  if (group.enabled === false) {
    return [
      issue(
        field("workloadGroup.enabled"),
        `is false while ${at} is true: istiod makes the VM's WorkloadEntry from this WorkloadGroup`,
        `remove ${field("workloadGroup.enabled")}, or ${at}`,
      ),
    ];
  }
  const address = args.address ?? "";
  if (!isIpAddress(address)) {
    return [
      issue(
        field("address"),
        `${address === "" ? "is not set" : `${excerpt(address)} is not an IP address`}, but ${at} needs one: istiod gives the WorkloadEntry the proxy's IP (INSTANCE_IP), which is the address`,
        `set ${field("address")} to the VM's IP, or remove ${at}`,
      ),
    ];
  }
  const out: ValidationIssue[] = [];
  if (args.proxyInstanceIp && args.proxyInstanceIp !== address) {
    out.push(
      issue(
        field("proxyInstanceIp"),
        `${excerpt(args.proxyInstanceIp)} differs from ${field("address")} (${address}): with ${at} istiod registers the proxy's instance IP, so pods would call ${excerpt(args.proxyInstanceIp)} (istio/istio#39519)`,
        `remove ${field("proxyInstanceIp")}, or ${at}`,
      ),
    );
  }
  // A WorkloadEntry of this name from before the switch would be adopted by istiod, then deleted by the update.
  if (args.name !== undefined && group.name !== undefined) {
    const auto = autoRegisteredEntryName(group.name, address, args.network);
    if (auto === args.name) {
      out.push(
        issue(
          field("name"),
          `"${args.name}" is the name istiod gives the auto-registered WorkloadEntry; the update that switches ${at} on deletes mesh-vm's entry of that name`,
          `choose another ${field("name")} or ${field("workloadGroup.name")}`,
        ),
      );
    }
  }
  return out;
}

export function workloadGroupIssues(args: PlainMeshVmArgs, field: FieldName): ValidationIssue[] {
  const enabled = args.workloadGroup?.enabled ?? args.workloadGroup?.autoRegister === true;
  return [
    ...(enabled && args.workloadGroup?.name !== undefined
      ? nameIssues(field("workloadGroup.name"), args.workloadGroup.name, "name")
      : []),
    ...autoRegisterIssues(args, field),
  ];
}
