// Package entry: every public component and its Args type is exported from here.
export { MeshVm, meshVmType } from "./meshVm";
export type { MeshVmBootState, MeshVmProxyState, MeshVmRenderedObjects } from "./meshVm";
export { VmBoot } from "./boot/vmBoot";
export type { BootBundleFile, BootReadyCheckArgs, BootTokenArgs, VmBootArgs } from "./boot/vmBootArgs";
export { buildBootPlan, renderBundle, renderCloudConfig, startScript } from "./boot/render";
export type { BootPlan, BootPlanInputs, DeliveredFile } from "./boot/render";
export { writeOfflineBundle } from "./boot/bundle";
export { VmProxy } from "./host/vmProxy";
export { readMeshRoots } from "./host/meshRoots";
export {
  readControlPlaneProxy,
  type ControlPlaneProxy,
  type ReadControlPlaneProxyArgs,
} from "./host/controlPlaneProxy";
export type { MeshRoots } from "./host/meshRoots";
export type {
  BastionArgs,
  BootstrapTokenArgs,
  HostPreparationArgs,
  MeshSettings,
  ProxyArgsSettings,
  ProxyImageChoice,
  ProxySettingsArgs,
  ReadinessSettings,
  SshConnectionArgs,
  SshCredentialsArgs,
  SshHostArgs,
  VmProxyArgs,
} from "./host";
export { validateMeshVmHostArgs } from "./validation/meshVmHostArgs";
export { validateVmProxyArgs } from "./host/vmProxyValidation";
// Every default, written once; the components, their validation, the stack config and the docs read these.
export { istioDefaults, meshExpansionDefaults, meshVmDefaults } from "./mesh/settings";
export { proxyImageDefaults, sshDefaults, tokenDefaults, vmProxyDefaults } from "./host/defaults";
export type {
  MeshVmArgs,
  MeshVmEgressArgs,
  MeshVmBootArgs,
  MeshVmHostArgs,
  MeshVmListenerPortArgs,
  MeshVmMeshArgs,
  MeshVmPortArgs,
  MeshVmServiceEntryArgs,
  MeshVmSidecarArgs,
  MeshVmWorkloadGroupArgs,
  PlainMeshVmArgs,
} from "./meshVmArgs";
export type { ResolvedMeshVm } from "./mesh/settings";
export { resolveMeshVmArgs } from "./meshVmResolve";
export { validateMeshVmArgs } from "./validation/meshVm";
export { MeshVmValidationError } from "./rules/issues";
export type { FieldName, ValidationIssue } from "./rules/issues";
export { fieldNames } from "./rules/issues";
export { renderMeshVmObjects } from "./mesh/render";
export type { MeshVmDeclaredObjects, MeshVmObjects } from "./mesh/render";
export { bootstrapAnnotations, bootstrapDefaults } from "./mesh/annotations";
export { spiffeId } from "./mesh/identity";
// The envoy runtime (seed 003): its settings block, and the AuthorizationPolicy MeshVm declares per upstream.
export type {
  EnvoyCertificateArgs,
  EnvoyForwardArgs,
  EnvoyInboundArgs,
  EnvoyRuntimeArgs,
  EnvoyUpstreamArgs,
  EnvoyUpstreamAuthorizationArgs,
} from "./runtime/envoyArgs";
export { principalOf, renderVmAuthorizationPolicy } from "./mesh/authorizationPolicy";
export { upstreamAuthorizationPolicies } from "./meshVmAuthorization";
export { MeshExpansion, meshExpansionType } from "./meshExpansion";
export { validateMeshExpansionArgs } from "./validation/meshExpansion";
export type { MeshExpansionArgs, PlainMeshExpansionArgs } from "./meshExpansionArgs";
export { fromManifests } from "./manifests";
// The config-driven program (the repository's root program), for projects that want the same stack
// configuration in their own Pulumi project or an Automation API program.
export { onboardFromConfig } from "./stack/program";
// Fleets run as several stacks (shards) with the Automation API, from a driver script or a CI job.
export * from "./fleet";
// Rolling upgrades: MeshVms declared in waves of at most maxUnavailable (the root program's mesh-vm:rollout).
export * from "./rollout";
export type {
  OnboardOptions,
  OnboardOutputs,
  VmSummary,
  ProxySummary,
  RolloutSummary,
} from "./stack/program";
export { parseStackConfig, readStackConfig, StackConfigError } from "./stack/config";
export type { StackConfig, ConfiguredVm, RawStackConfig } from "./stack/config";
