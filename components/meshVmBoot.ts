// How MeshVm feeds VmBoot (boot-time delivery): the same mapping as for VmProxy (vmProxyArgsFromMeshVm:
// identity, mesh settings, image, config dir, container name, proxy user, gateway, egress), minus everything
// SSH. Lives beside MeshVm so that boot/ (the VmBoot package) knows nothing of MeshVm.
import * as pulumi from "@pulumi/pulumi";
import type { VmBootArgs } from "./boot/vmBootArgs";
import type { WorkloadEntryLike } from "./host/workloadIdentity";
import type { ResolvedMeshVm } from "./mesh/settings";
import type { MeshVmBootArgs } from "./meshVmArgs";
import { vmProxyArgsFromMeshVm } from "./meshVmHost";

/** VmBootArgs for a MeshVm (see vmProxyArgsFromMeshVm for `settings`, `workloadEntry`, `serviceAccountName`). */
export function vmBootArgsFromMeshVm(
  settings: pulumi.Output<ResolvedMeshVm>,
  workloadEntry: pulumi.Output<WorkloadEntryLike>,
  boot: MeshVmBootArgs,
  serviceAccountName?: pulumi.Input<string>,
): VmBootArgs {
  const shared = vmProxyArgsFromMeshVm(
    settings,
    workloadEntry,
    {
      kubeconfig: boot.kubeconfig,
      mesh: boot.mesh,
      proxyImage: boot.proxyImage,
      proxyImageTag: boot.proxyImageTag,
      gatewayAddress: boot.gatewayAddress,
      egressHostnames: boot.egressHostnames,
    },
    serviceAccountName,
  );
  return {
    runtime: boot.runtime,
    workload: shared.workload,
    mesh: shared.mesh,
    kubeconfig: boot.kubeconfig,
    kubeContext: boot.kubeContext,
    token: boot.token,
    sshUser: shared.sshUser,
    dockerGroup: boot.dockerGroup,
    proxyConfigDir: shared.proxyConfigDir,
    proxyContainerName: shared.proxyContainerName,
    proxyImage: shared.proxyImage,
    proxyImageHub: shared.proxyImageHub,
    proxyImageTag: shared.proxyImageTag,
    gatewayAddress: shared.gatewayAddress,
    egressHostnames: shared.egressHostnames,
    egressBindAddress: shared.egressBindAddress,
    readiness: boot.readiness,
    readyCheck: boot.readyCheck,
    bundleDir: boot.bundleDir,
    deregistrationDelaySeconds: boot.deregistrationDelaySeconds,
  };
}
