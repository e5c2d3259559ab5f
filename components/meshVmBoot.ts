// How MeshVm feeds VmBoot (boot-time delivery): the same proxy settings as for VmProxy
// (proxySettingsFromMeshVm), plus the boot delivery's own inputs. Lives beside MeshVm so that boot/ (the VmBoot
// package) knows nothing of MeshVm.
import type * as pulumi from "@pulumi/pulumi";
import type { VmBootArgs } from "./boot/vmBootArgs";
import type { WorkloadEntryLike } from "./host/workloadIdentity";
import type { ResolvedMeshVm } from "./mesh/settings";
import type { MeshVmBootArgs } from "./meshVmArgs";
import { proxySettingsFromMeshVm } from "./meshVmHost";

/** VmBootArgs for a MeshVm (see proxySettingsFromMeshVm for `settings`, `workloadEntry`, `serviceAccountName`). */
export function vmBootArgsFromMeshVm(
  settings: pulumi.Output<ResolvedMeshVm>,
  workloadEntry: pulumi.Output<WorkloadEntryLike>,
  boot: MeshVmBootArgs,
  serviceAccountName?: pulumi.Input<string>,
): VmBootArgs {
  return {
    ...proxySettingsFromMeshVm(settings, workloadEntry, boot, serviceAccountName),
    token: boot.token,
    dockerGroup: boot.dockerGroup,
    readyCheck: boot.readyCheck,
    bundleDir: boot.bundleDir,
    deregistrationDelaySeconds: boot.deregistrationDelaySeconds,
  };
}
