// Rolling upgrades, the resource half: one resource per item (a MeshVm per VM), declared wave by wave, each wave
// with `dependsOn` on every resource of the wave before it. Pulumi's Node.js SDK expands a component in
// `dependsOn` into all the custom resources below it, and registers a component's children only after the
// component itself, which waits for those: so nothing of wave k (its mesh objects, proxy step, registration)
// starts before every resource of wave k-1 is done — the proxy steps waited for readiness, then the WorkloadEntry
// and ServiceEntry were registered. A failed resource of wave k fails the registration of every later wave, so
// the later VMs are not touched (with or without `--continue-on-error`).
import * as pulumi from "@pulumi/pulumi";
import { fieldNames, throwIfIssues } from "../rules/issues";
import { describeWave, rolloutIssues, rolloutWaves, type RolloutArgs } from "./waves";

/** The resources declared by {@link declareInWaves}, wave by wave, and the waves' names. */
export interface DeclaredWaves<R> {
  /** The resources, wave by wave, in the order of the items. */
  waves: R[][];
  /** The items' names, wave by wave (what preview prints and the root program outputs). */
  names: string[][];
}

/** How {@link declareInWaves} names the items and what the first wave waits for. */
export interface DeclareInWavesOptions<T> {
  /** The name an item is shown by (the MeshVm's name). */
  nameOf: (item: T) => string;
  /** What every wave waits for besides the wave before it (e.g. the MeshExpansion). */
  dependsOn?: pulumi.Resource[];
  /** Print one line per wave (`pulumi.log.info`, shown by preview and `up`). Default true with a rollout. */
  log?: boolean;
}

/**
 * Declares one resource per item with `declare(item, dependsOn)`. With `rollout`, the items are split into waves
 * of at most `rollout.maxUnavailable` in the order given, and `dependsOn` holds every resource of the wave before
 * (and `options.dependsOn`): pass it to the resource's `dependsOn`. Without `rollout`, all items form one wave,
 * declared at once as before. Throws (naming `RolloutArgs.maxUnavailable`) for a bad rollout, before declaring
 * anything.
 */
export function declareInWaves<T, R extends pulumi.Resource>(
  items: readonly T[],
  rollout: RolloutArgs | undefined,
  declare: (item: T, dependsOn: pulumi.Resource[]) => R,
  options: DeclareInWavesOptions<T>,
): DeclaredWaves<R> {
  if (rollout !== undefined) throwIfIssues("rollout", rolloutIssues(rollout, fieldNames("RolloutArgs")));
  const itemWaves = rollout === undefined ? [[...items]] : rolloutWaves(items, rollout.maxUnavailable);
  const names = itemWaves.map((wave) => wave.map(options.nameOf));
  const waves: R[][] = [];
  let before: pulumi.Resource[] = [];
  for (const wave of itemWaves) {
    const declared = wave.map((item) => declare(item, [...(options.dependsOn ?? []), ...before]));
    waves.push(declared);
    before = declared;
  }
  if (rollout !== undefined && (options.log ?? true)) {
    names.forEach((n, i) => pulumi.log.info(describeWave(n, i + 1, names.length, rollout.maxUnavailable)));
  }
  return { waves, names };
}
