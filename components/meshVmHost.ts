// How MeshVm feeds VmProxy: the bootstrap settings MeshVm resolves (tctl's annotations and defaults) and its
// rendered WorkloadEntry become VmProxy's connection, identity and container settings; the SSH-only inputs
// (keys, host key, token, ...) come from MeshVm's host inputs as they are. Lives beside MeshVm so that host/
// (the VmProxy package) knows nothing of MeshVm.
import * as pulumi from "@pulumi/pulumi";
import { vmProxyDefaults } from "./host/defaults";
import type { MeshSettings } from "./host/sidecarEnv";
import type { VmProxyArgs } from "./host/vmProxyArgs";
import { WorkloadEntryLike, workloadIdentityFromWorkloadEntry } from "./host/workloadIdentity";
import type { ResolvedMeshVm } from "./mesh/settings";
import type { MeshVmHostArgs } from "./meshVmArgs";

/**
 * VmProxyArgs for a MeshVm. `settings` and `workloadEntry` are MeshVm's resolved settings and rendered
 * WorkloadEntry; `serviceAccountName`, when MeshVm creates the ServiceAccount, should be that resource's
 * `metadata.name` so that the token is minted after it exists.
 */
export function vmProxyArgsFromMeshVm(
  settings: pulumi.Output<ResolvedMeshVm>,
  workloadEntry: pulumi.Output<WorkloadEntryLike>,
  host: MeshVmHostArgs,
  serviceAccountName?: pulumi.Input<string>,
): VmProxyArgs {
  const workload = pulumi.all([settings, workloadEntry, serviceAccountName]).apply(([s, we, sa]) => ({
    ...workloadIdentityFromWorkloadEntry(we, s.bootstrap.proxyInstanceIp),
    ...(sa ? { serviceAccount: sa } : {}),
  }));
  const mesh = pulumi
    .all([settings, pulumi.output(host.mesh ?? {})])
    .apply(([s, m]) => ({ trustDomain: s.trustDomain, ...(m as MeshSettings) }));
  return {
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
    runtime: host.runtime,
    ...(host.envoy !== undefined ? { envoy: host.envoy } : {}),
    sshUser: settings.apply((s) => s.bootstrap.sshUser),
    workload,
    mesh,
    kubeconfig: host.kubeconfig,
    kubeContext: host.kubeContext,
    token: host.token,
    proxyConfigDir: settings.apply((s) => s.bootstrap.proxyConfigDir),
    proxyContainerName: settings.apply((s) => s.bootstrap.proxyContainerName),
    // A full proxyImage wins over the hub and tag, as in VmProxy.
    proxyImage: host.proxyImage,
    proxyImageHub: settings.apply((s) => s.bootstrap.proxyImageHub),
    proxyImageTag: host.proxyImageTag,
    gatewayAddress: host.gatewayAddress,
    egressHostnames: host.egressHostnames,
    // The hosts block points at the first egress listener that binds an address.
    egressBindAddress: settings.apply(
      (s) => s.egress.find((e) => e.bind)?.bind ?? vmProxyDefaults.egressBindAddress,
    ),
    readiness: host.readiness,
    deregistrationDelaySeconds: host.deregistrationDelaySeconds,
    hostGone: host.hostGone,
  };
}
