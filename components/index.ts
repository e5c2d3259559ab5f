// Package entry: every public component and its Args type is exported from here.
export { MeshVm, meshVmType } from "./meshVm";
export type { MeshVmBootState, MeshVmProxyState, MeshVmRenderedObjects } from "./meshVm";
export { VmBoot } from "./boot/vmBoot";
export type { BootBundleFile, BootReadyCheckArgs, BootTokenArgs, VmBootArgs } from "./boot/vmBoot";
export type { MeshVmBootArgs } from "./boot/fromMeshVm";
export { buildBootPlan, renderBundle, renderCloudConfig, startScript } from "./boot/render";
export type { BootPlan, BootPlanInputs, DeliveredFile } from "./boot/render";
export { writeOfflineBundle } from "./boot/bundle";
export { VmProxy } from "./host/vmProxy";
export type {
  BastionArgs,
  BootstrapTokenArgs,
  HostPreparationArgs,
  MeshSettings,
  MeshVmHostArgs,
  ProxyArgsSettings,
  ProxyImageSettings,
  ReadinessSettings,
  SshConnectionArgs,
  SshCredentialsArgs,
  VmProxyArgs,
} from "./host";
export { validateMeshVmHostArgs } from "./validation/host";
export type {
  MeshVmArgs,
  MeshVmEgressArgs,
  MeshVmListenerPortArgs,
  MeshVmMeshArgs,
  MeshVmPortArgs,
  MeshVmServiceEntryArgs,
  MeshVmSidecarArgs,
  MeshVmWorkloadGroupArgs,
  PlainMeshVmArgs,
  ResolvedMeshVm,
} from "./meshVmArgs";
export { resolveMeshVmArgs } from "./meshVmArgs";
export { validateMeshVmArgs } from "./validation/meshVm";
export { MeshVmValidationError } from "./validation/issues";
export type { ValidationIssue } from "./validation/issues";
export { renderMeshVmObjects } from "./mesh/render";
export type { MeshVmObjects } from "./mesh/render";
export { bootstrapAnnotations, bootstrapDefaults } from "./mesh/annotations";
export { spiffeId } from "./mesh/identity";
export { MeshExpansion, meshExpansionType, validateMeshExpansionArgs } from "./meshExpansion";
export type { MeshExpansionArgs, PlainMeshExpansionArgs } from "./meshExpansion";
export { fromManifests } from "./manifests";
// The config-driven program (the repository's root program), for projects that want the same stack
// configuration in their own Pulumi project or an Automation API program.
export { onboardFromConfig } from "./stack/program";
export type { OnboardOptions, OnboardOutputs, VmSummary, ProxySummary } from "./stack/program";
export { parseStackConfig, readStackConfig, StackConfigError } from "./stack/config";
export type { StackConfig, ConfiguredVm, RawStackConfig } from "./stack/config";
