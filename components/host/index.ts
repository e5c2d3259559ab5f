// The host half of MeshVm: SSH provisioning of the istio-proxy container and its bootstrap material.
export { VmProxy } from "./vmProxy";
export type { VmProxyArgs, BootstrapTokenArgs, HostPreparationArgs, Inputs } from "./vmProxy";
export type { SshConnectionArgs, SshCredentialsArgs, BastionArgs } from "./sshConnection";
export type { WorkloadIdentity, MeshSettings } from "./sidecarEnv";
export type { ProxyImageSettings, ProxyArgsSettings } from "./proxyContainer";
export type { ReadinessSettings } from "./proxyScripts";
export { renderSidecarEnv, sidecarEnvEntries } from "./sidecarEnv";
export { proxyImageOf } from "./proxyContainer";
export { workloadIdentityFromWorkloadEntry } from "./workloadIdentity";
export type { WorkloadEntryLike } from "./workloadIdentity";
export { vmProxyArgsFromMeshVm } from "./fromMeshVm";
export type { MeshVmHostArgs } from "./fromMeshVm";
