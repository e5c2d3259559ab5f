// Fleets run as several stacks (shards) through the Automation API. Not part of a Pulumi program: a driver script
// or a CI job imports it (`mesh-vm/fleet` once built, or `mesh-vm`'s index).
export {
  fleetFailure,
  formatFleetSummary,
  runShardedFleet,
  shardOf,
  splitIntoShards,
  stackWorkDir,
} from "./shards";
export type { FleetOperation, FleetStack, FleetStackResult, ShardedFleetOptions } from "./shards";
