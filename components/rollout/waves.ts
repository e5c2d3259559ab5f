// Rolling upgrades, the pure half: a fleet's VMs split into waves of at most `maxUnavailable` (Kubernetes'
// `rollingUpdate.maxUnavailable`, for VMs), in the order given, so that a change of proxy image or proxy
// configuration across many VMs reaches them one wave at a time. rollout/declare.ts makes each wave's resources
// wait for the wave before it; nothing here creates resources.
import { FieldName, issue, ValidationIssue } from "../rules/issues";
import { excerpt, integerProblem } from "../rules/values";

/** A rollout of many VMs in waves. */
export interface RolloutArgs {
  /**
   * The most VMs changed at once. The VMs are split, in the order given, into waves of at most this many; each
   * wave starts only once every resource of the wave before it is done: its proxies ready again (the proxy
   * step waited for readiness) and registered (WorkloadEntry, ServiceEntry). A whole number from 1 to 10,000.
   */
  maxUnavailable: number;
}

/** The largest `maxUnavailable` accepted (a fleet this size in one stack is far beyond one engine's reach). */
export const maxUnavailableLimit = 10_000;

/** Problems with a rollout's inputs, each naming the field as `field` calls it; [] when it is fine. */
export function rolloutIssues(rollout: unknown, field: FieldName): ValidationIssue[] {
  if (typeof rollout !== "object" || rollout === null || Array.isArray(rollout)) {
    return [
      issue(
        field(""),
        `${excerpt(rollout)} is not a map`,
        "give { maxUnavailable: N }, N the most VMs changed at once",
      ),
    ];
  }
  const unknown = Object.keys(rollout).filter((k) => k !== "maxUnavailable");
  const issues = unknown.map((k) =>
    issue(field(k), `unknown key ${excerpt(k)}`, "the only key of a rollout is maxUnavailable"),
  );
  const value = (rollout as Record<string, unknown>)["maxUnavailable"];
  const problem =
    value === undefined ? "maxUnavailable is required" : integerProblem(value, 1, maxUnavailableLimit);
  if (problem !== undefined) {
    issues.push(
      issue(
        field("maxUnavailable"),
        problem,
        `set it to the most VMs whose proxies may be upgraded at once, a whole number from 1 to ${maxUnavailableLimit} (1: one VM at a time)`,
      ),
    );
  }
  return issues;
}

/**
 * `items` in waves of at most `maxUnavailable`, in the order given: [a, b, c, d, e] with 2 is [[a, b], [c, d],
 * [e]]. Stable: a VM keeps its wave as long as the VMs before it stay, so a preview and the `up` after it agree.
 */
export function rolloutWaves<T>(items: readonly T[], maxUnavailable: number): T[][] {
  const p = integerProblem(maxUnavailable, 1, maxUnavailableLimit);
  if (p !== undefined) throw new Error(`maxUnavailable: ${p}`);
  const waves: T[][] = [];
  for (let i = 0; i < items.length; i += maxUnavailable) waves.push(items.slice(i, i + maxUnavailable));
  return waves;
}

/** The line preview and `up` print for one wave (1-based `index`), naming its VMs. */
export function describeWave(
  names: readonly string[],
  index: number,
  count: number,
  maxUnavailable: number,
): string {
  const after = index === 1 ? "first" : `after wave ${index - 1} is ready and registered`;
  return `rollout wave ${index} of ${count} (maxUnavailable ${maxUnavailable}, ${after}): ${names.join(", ")}`;
}
