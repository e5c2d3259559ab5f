// The runtimes a VM can run, by the name the `runtime` input takes: each is a pure renderer to a RuntimePlan
// plus, when it has a settings block of its own, that block's field and validator. Adding a runtime is one
// entry here (and its renderer file); both deliveries, MeshVm and the stack configuration read this list.
import { issue, type ValidationIssue } from "../rules/issues";
import { dns1123SubdomainProblem } from "../rules/names";
import { excerpt } from "../rules/values";
import { renderContainerPlan } from "./container";
import { renderEnvoyPlan } from "./envoy";
import { envoyRuntimeIssues } from "./envoyValidation";
import { renderPackagePlan } from "./package";
import { sidecarPackageIssues } from "./package/settings";
import type { BootstrapMaterial, RuntimeInputs } from "./inputs";
import type { RuntimePlan } from "./plan";

export interface RuntimeDefinition {
  /** Renders the plan; pure (no resources, clock or environment). */
  render(inputs: RuntimeInputs, material: BootstrapMaterial): RuntimePlan;
  /** The input holding this runtime's own settings (`sidecarPackage`, `envoy`), refused for another runtime. */
  settingsField?: string;
  /** The block must be given with this runtime (it holds what the runtime cannot default: envoy's upstreams). */
  settingsRequired?: boolean;
  /** Issues of that settings block, known values only; `field` names its paths (`""` names the block). */
  settingsIssues?(settings: unknown, field: (path: string) => string): ValidationIssue[];
  /** Runs Istio's agent, which connects to istiod: only then can istiod auto-register the VM. */
  runsIstioAgent?: boolean;
}

/** The implemented runtimes. */
export const runtimes: Readonly<Record<string, RuntimeDefinition>> = {
  container: { render: renderContainerPlan, runsIstioAgent: true },
  envoy: {
    render: renderEnvoyPlan,
    settingsField: "envoy",
    settingsRequired: true,
    settingsIssues: envoyRuntimeIssues,
  },
  package: {
    render: renderPackagePlan,
    settingsField: "sidecarPackage",
    settingsIssues: sidecarPackageIssues,
    runsIstioAgent: true,
  },
};

export const defaultRuntime = "container";

/** The runtime named `name` (default `container`); throws for an unknown name (validation says so at preview). */
export function runtimeDefinition(name: string | undefined): RuntimeDefinition {
  const key = name ?? defaultRuntime;
  const found = Object.hasOwn(runtimes, key) ? runtimes[key] : undefined;
  if (found === undefined) {
    throw new Error(`runtime ${excerpt(key)} is not one of ${Object.keys(runtimes).join(", ")}`);
  }
  return found;
}

/** Renders the plan of the runtime `inputs.runtime` names. */
export function renderRuntimePlan(inputs: RuntimeInputs, material: BootstrapMaterial): RuntimePlan {
  return runtimeDefinition(inputs.runtime).render(inputs, material);
}

/**
 * Auto-registration asked for (`autoRegisterField`) with a runtime that runs no Istio agent (`envoy`): istiod
 * never hears from the VM, so it would never create the WorkloadEntry. A runtime still unknown passes.
 */
export function autoRegistrationIssues(
  runtime: unknown,
  autoRegisterField: string,
  runtimeField: string,
): ValidationIssue[] {
  const name = runtime === undefined ? defaultRuntime : runtime;
  if (typeof name !== "string" || !Object.hasOwn(runtimes, name) || runtimes[name]!.runsIstioAgent) return [];
  const agents = Object.keys(runtimes).filter((n) => runtimes[n]!.runsIstioAgent);
  return [
    issue(
      autoRegisterField,
      `auto-registration needs Istio's agent connected to istiod, which ${runtimeField} "${name}" does not run`,
      `remove ${autoRegisterField} (mesh-vm then declares the WorkloadEntry), or set ${runtimeField} to ${agents.map((n) => `"${n}"`).join(" or ")}`,
    ),
  ];
}

/**
 * Issues of the `runtime` input and of the runtimes' settings blocks in `args` (known values only): an unknown
 * name, and a block set for another runtime than the chosen one. `field` names the inputs (`runtime`, `envoy`).
 */
export function runtimeIssues(
  args: Record<string, unknown>,
  field: (path: string) => string,
  registry: Readonly<Record<string, RuntimeDefinition>> = runtimes,
): ValidationIssue[] {
  const name: unknown = args["runtime"];
  const names = Object.keys(registry);
  if (name !== undefined && !(typeof name === "object" && name !== null)) {
    if (typeof name !== "string" || !Object.hasOwn(registry, name)) {
      return [
        issue(
          field("runtime"),
          `${excerpt(name)} is not a runtime`,
          `use one of ${names.map((n) => `"${n}"`).join(", ")} (default "${defaultRuntime}")`,
        ),
      ];
    }
  }
  // Not a plain string yet (an Output): the blocks are checked once the name is known, where it is used.
  const chosen = typeof name === "string" ? name : name === undefined ? defaultRuntime : undefined;
  const out: ValidationIssue[] = [];
  const group: unknown = args["autoRegisterGroup"];
  if (group !== undefined && (typeof group !== "object" || group === null)) {
    const p = typeof group === "string" && group !== "" ? dns1123SubdomainProblem(group) : "is empty";
    if (typeof group !== "string" || p !== undefined)
      out.push(
        issue(
          field("autoRegisterGroup"),
          `${excerpt(group)} is not a WorkloadGroup name: ${p ?? "not a string"}`,
          `set ${field("autoRegisterGroup")} to the name of the WorkloadGroup in the workload's namespace`,
        ),
      );
    out.push(...autoRegistrationIssues(name, field("autoRegisterGroup"), field("runtime")));
  }
  for (const [runtime, def] of Object.entries(registry)) {
    if (def.settingsField === undefined) continue;
    if (args[def.settingsField] === undefined) {
      if (def.settingsRequired && chosen === runtime) {
        out.push(
          issue(
            field(def.settingsField),
            `is required with ${field("runtime")} "${runtime}"`,
            `set ${field(def.settingsField)} (see docs/${runtime}-runtime.md), or choose another runtime`,
          ),
        );
      }
      continue;
    }
    if (chosen !== undefined && chosen !== runtime) {
      out.push(
        issue(
          field(def.settingsField),
          `is set but ${field("runtime")} is "${chosen}"`,
          `set ${field("runtime")} to "${runtime}", or remove ${field(def.settingsField)}`,
        ),
      );
    } else if (def.settingsIssues) {
      out.push(
        ...def.settingsIssues(args[def.settingsField], (p) =>
          field(p === "" ? def.settingsField! : `${def.settingsField}.${p}`),
        ),
      );
    }
  }
  return out;
}
