// How MeshVm feeds VmBoot: the same mapping as for VmProxy (vmProxyArgsFromMeshVm: identity, mesh settings,
// image, config dir, container name, proxy user, gateway, egress), minus everything SSH.
import * as pulumi from "@pulumi/pulumi";
import type { ResolvedMeshVm } from "../meshVmArgs";
import { vmProxyArgsFromMeshVm } from "../host/fromMeshVm";
import type { ReadinessSettings } from "../host/proxyScripts";
import type { MeshSettings } from "../host/sidecarEnv";
import type { WorkloadEntryLike } from "../host/workloadIdentity";
import type { BootReadyCheckArgs, BootTokenArgs, VmBootArgs } from "./vmBoot";

/**
 * Boot-time delivery of MeshVm (instead of `host`): no SSH. MeshVm outputs `userData` (cloud-init, secret) for
 * the VM resource of the same program, and `boot.startScript`; `bundleDir` also writes tctl's offline bundle.
 */
export interface MeshVmBootArgs {
  /** kubeconfig for the TokenRequest (secret). */
  kubeconfig: pulumi.Input<string>;
  kubeContext?: pulumi.Input<string>;
  /** Token lifetime (default 3600 s, 600–86400) and rotation. */
  token?: BootTokenArgs;
  /** Mesh settings for sidecar.env and the proxy arguments (trust domain defaults to MeshVm's). */
  mesh?: MeshSettings;
  /** Full proxy image, or a tag for `<proxyImageHub>/proxyv2`. */
  proxyImage?: pulumi.Input<string>;
  proxyImageTag?: pulumi.Input<string>;
  /** Gateway IP istiod is reached through (docker --add-host). */
  gatewayAddress?: pulumi.Input<string>;
  /** Mesh names the VM's applications call, kept in /etc/hosts pointing at the first egress listener's bind. */
  egressHostnames?: pulumi.Input<pulumi.Input<string>[]>;
  /** Group that may use docker on the VM (default `docker`). */
  dockerGroup?: pulumi.Input<string>;
  /** Readiness wait on the VM, after it starts the container. */
  readiness?: ReadinessSettings;
  /** How `up` observes readiness before registering (default: poll the status port on `address`). */
  readyCheck?: BootReadyCheckArgs;
  /** Also write tctl's offline bundle (etc/…, bin/start-istio-proxy.sh) to this local directory. */
  bundleDir?: pulumi.Input<string>;
  deregistrationDelaySeconds?: number;
}

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
    workload: shared.workload,
    mesh: shared.mesh,
    kubeconfig: boot.kubeconfig,
    kubeContext: boot.kubeContext,
    token: boot.token,
    proxyUser: shared.proxyUser,
    dockerGroup: boot.dockerGroup,
    proxyConfigDir: shared.proxyConfigDir,
    proxyContainerName: shared.proxyContainerName,
    image: shared.image,
    gatewayAddress: shared.gatewayAddress,
    egressHosts: shared.egressHosts,
    egressBindAddress: shared.egressBindAddress,
    readiness: boot.readiness,
    readyCheck: boot.readyCheck,
    bundleDir: boot.bundleDir,
    deregistrationDelaySeconds: boot.deregistrationDelaySeconds,
  };
}
