// How MeshVm feeds VmProxy and VmBoot: the bootstrap settings MeshVm resolves (tctl's annotations and defaults)
// and its rendered WorkloadEntry become the proxy settings both deliveries share (identity, mesh, account,
// config dir, container name, image hub, egress bind address), beside the delivery's own proxy settings, taken
// as they are (MeshVmDeliverySettings, defined once in host/proxySettings.ts). The SSH-only inputs (keys, host
// key, token, ...) come from MeshVm's host inputs as they are. Lives beside MeshVm so that host/ and boot/
// know nothing of MeshVm.
import * as pulumi from "@pulumi/pulumi";
import { vmProxyDefaults } from "./host/defaults";
import {
  meshVmDeliverySettingKeys,
  type MeshVmDeliverySettings,
  type ProxySettingsArgs,
} from "./host/proxySettings";
import type { MeshSettings } from "./host/sidecarEnv";
import type { VmProxyArgs } from "./host/vmProxyArgs";
import { WorkloadEntryLike, workloadIdentityFromWorkloadEntry } from "./host/workloadIdentity";
import type { ResolvedMeshVm } from "./mesh/settings";
import { autoRegisteredEntryNameOf } from "./mesh/workloadGroup";
import type { MeshVmHostArgs } from "./meshVmArgs";

/**
 * With auto-registration, the WorkloadEntry name istiod will give the VM (its agent reports the mesh settings'
 * default network when the VM has none, except the package runtime's, which istioctl gives the group's only).
 */
export function autoRegisteredEntryNameFor(
  settings: pulumi.Output<ResolvedMeshVm>,
  delivery: Pick<MeshVmDeliverySettings, "mesh" | "runtime"> | undefined,
): pulumi.Output<string | undefined> {
  return pulumi
    .all([settings, pulumi.output(delivery?.mesh ?? {}), pulumi.output(delivery?.runtime)])
    .apply(([s, m, runtime]) =>
      s.workloadGroup.autoRegister
        ? autoRegisteredEntryNameOf(s, runtime === "package" ? undefined : (m as MeshSettings).defaultNetwork)
        : undefined,
    );
}

/**
 * The proxy settings of a MeshVm's delivery: `delivery`'s own (runtime, kubeconfig, mesh, image, gateway,
 * egress names, readiness) and MeshVm's (the rest). `serviceAccountName`, when MeshVm creates the
 * ServiceAccount, should be that resource's `metadata.name` so that the token is minted after it exists.
 */
export function proxySettingsFromMeshVm(
  settings: pulumi.Output<ResolvedMeshVm>,
  workloadEntry: pulumi.Output<WorkloadEntryLike>,
  delivery: MeshVmDeliverySettings,
  serviceAccountName?: pulumi.Input<string>,
): ProxySettingsArgs {
  const mesh = pulumi
    .all([settings, pulumi.output(delivery.mesh ?? {})])
    .apply(([s, m]) => ({ trustDomain: s.trustDomain, ...(m as MeshSettings) }));
  const workload = pulumi
    .all([settings, workloadEntry, serviceAccountName, autoRegisteredEntryNameFor(settings, delivery)])
    .apply(([s, we, sa, autoName]) => ({
      ...workloadIdentityFromWorkloadEntry(we, s.bootstrap.proxyInstanceIp),
      ...(sa ? { serviceAccount: sa } : {}),
      // POD_NAME and ISTIO_META_OWNER name the entry istiod makes.
      ...(autoName !== undefined ? { name: autoName } : {}),
    }));
  return {
    ...Object.fromEntries(meshVmDeliverySettingKeys.map((k) => [k, delivery[k]])),
    kubeconfig: delivery.kubeconfig,
    workload,
    mesh,
    // An Output of undefined without auto-registration: the renderers see the setting unset.
    autoRegisterGroup: settings.apply((s) =>
      s.workloadGroup.autoRegister ? s.workloadGroup.name : undefined,
    ) as pulumi.Output<string>,
    sshUser: settings.apply((s) => s.bootstrap.sshUser),
    proxyConfigDir: settings.apply((s) => s.bootstrap.proxyConfigDir),
    proxyContainerName: settings.apply((s) => s.bootstrap.proxyContainerName),
    // A full proxyImage wins over the hub and tag, as in VmProxy. An unset hub is the control plane's when given
    // (tctl: the annotation, then values.global.hub, then docker.io/istio).
    proxyImageHub: pulumi
      .all([settings, delivery.controlPlaneProxy])
      .apply(([s, cp]) => s.explicitBootstrap.proxyImageHub ?? cp?.hub ?? s.bootstrap.proxyImageHub),
    // The hosts block points at the first egress listener that binds an address.
    egressBindAddress: settings.apply(
      (s) => s.egress.find((e) => e.bind)?.bind ?? vmProxyDefaults.egressBindAddress,
    ),
  };
}

/** VmProxyArgs for a MeshVm: its proxy settings (proxySettingsFromMeshVm) and the SSH delivery's inputs. */
export function vmProxyArgsFromMeshVm(
  settings: pulumi.Output<ResolvedMeshVm>,
  workloadEntry: pulumi.Output<WorkloadEntryLike>,
  host: MeshVmHostArgs,
  serviceAccountName?: pulumi.Input<string>,
): VmProxyArgs {
  return {
    ...proxySettingsFromMeshVm(settings, workloadEntry, host, serviceAccountName),
    ssh: {
      host: settings.apply((s) => s.bootstrap.sshHost ?? s.address ?? ""),
      port: settings.apply((s) => s.bootstrap.sshPort),
      user: settings.apply((s) => s.bootstrap.sshUser),
      privateKey: host.privateKey,
      privateKeyPassword: host.privateKeyPassword,
      agentSocketPath: host.agentSocketPath,
      hostKey: host.hostKey,
      insecureIgnoreHostKey: host.insecureIgnoreHostKey,
      bastion: host.bastion,
      dialErrorLimit: host.dialErrorLimit,
      perDialTimeout: host.perDialTimeout,
    },
    prepare: host.prepare,
    token: host.token,
    deregistrationDelaySeconds: host.deregistrationDelaySeconds,
    hostGone: host.hostGone,
    ...(host.driftCheck !== undefined ? { driftCheck: host.driftCheck } : {}),
  };
}
