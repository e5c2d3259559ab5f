// VmProxy, a self-contained package: SSH provisioning of the istio-proxy container and its bootstrap material.
// It knows nothing of MeshVm (meshVmHost.ts maps MeshVm's settings onto VmProxyArgs).
export { VmProxy } from "./vmProxy";
export type { VmProxyArgs, BootstrapTokenArgs, HostPreparationArgs, Inputs } from "./vmProxyArgs";
export { validateVmProxyArgs } from "./vmProxyValidation";
export { vmProxyDefaults, sshDefaults, tokenDefaults, proxyImageDefaults } from "./defaults";
export type { SshConnectionArgs, SshCredentialsArgs, SshHostArgs, BastionArgs } from "./sshConnection";
export type { WorkloadIdentity, MeshSettings } from "./sidecarEnv";
export type { ProxyImageChoice, ProxyArgsSettings } from "./proxyContainer";
export type { ReadinessSettings } from "./proxyScripts";
export type { ProxySettingsArgs } from "./proxySettings";
export { renderSidecarEnv, sidecarEnvEntries } from "./sidecarEnv";
export { proxyImageOf } from "./proxyContainer";
export { workloadIdentityFromWorkloadEntry } from "./workloadIdentity";
export type { WorkloadEntryLike } from "./workloadIdentity";
