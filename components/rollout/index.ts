// Rolling upgrades: VMs in waves of at most `maxUnavailable`, each wave after the one before is ready and
// registered. The root program takes it from `mesh-vm:rollout`; programs that make MeshVms themselves call
// declareInWaves.
export { declareInWaves } from "./declare";
export type { DeclaredWaves, DeclareInWavesOptions } from "./declare";
export { describeWave, maxUnavailableLimit, rolloutIssues, rolloutWaves } from "./waves";
export type { RolloutArgs } from "./waves";
