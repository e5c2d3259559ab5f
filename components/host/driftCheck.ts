// Drift: what `pulumi refresh` finds changed on a VM behind Pulumi's back, and how the next `up` repairs it.
// The remote steps (`command:remote:Command`) cannot see it: pulumi-command 1.2.1 implements no Read, so a refresh
// returns what they recorded. The check resource (driftResource.ts) runs the read-only script rendered here, in one
// SSH session per VM and only on refresh; it prints one line per drifted part, tagged with the step that repairs it.
// The next `up` gives that step a new repair marker (a comment line in its script): the step's script changes, so
// the engine re-runs that step alone (remoteSteps.ts, repairLines), and its idempotent script puts back only what
// differs. Pure functions only.
import { sha256, type RuntimePlan } from "../runtime/plan";
import { hostsBlockMarkers } from "./hostsBlock";
import type { FileEntry } from "./remoteSteps";
import { shellQuote, wrapScript } from "./shell";

/** Which step repairs a part: `<vm>-host` (the hosts block) or `<vm>-proxy` (files, container, unit). */
export type DriftStep = "host" | "proxy";

/** How the proxy is seen running: a container by name, or a systemd unit. */
export type ProxyProbe = { container: string } | { unit: string };

/** What the check compares the VM with: the last applied plan's public parts. */
export interface DriftCheckSpec {
  /** The VmProxy's name (the `<vm>` of its steps): every message starts with it. */
  vm: string;
  probe: ProxyProbe;
  files: readonly FileEntry[];
  /** The managed hosts block as written (markers included), when the host step manages one. */
  hostsBlock?: { owner: string; text: string };
  /** The hosts file (default /etc/hosts; tests use a sandbox path). */
  hostsFile?: string;
}

/** The package runtime runs Istio's unit; the container runtimes name their container. */
export function proxyProbeOf(plan: RuntimePlan): ProxyProbe {
  const container = (plan as RuntimePlan & { container?: { name: string } }).container;
  return plan.runtime === "package" || container === undefined
    ? { unit: "istio.service" }
    : { container: container.name };
}

/**
 * The read-only check, as the command line the proxy step's account runs (root through `sudo -n` for a runtime that
 * runs as root). Prints `<step> <vm>: <part> …` per drift, nothing when the VM is as applied; exits 0 either way.
 */
export function driftCheckCommand(spec: DriftCheckSpec, privilege: "user" | "root"): string {
  const vm = shellQuote(spec.vm);
  const lines = [
    "set -u",
    `vm=${vm}`,
    `drift() { step=$1; shift; printf '%s %s: %s\\n' "$step" "$vm" "$*"; }`,
    // Content by sha256 (secret files: presence and mode only, their digest is not in the script), then mode.
    `file() {`,
    `  path=$1; mode=$2; want=\${3:-}`,
    `  if [ ! -e "$path" ]; then drift proxy "$path missing"; return 0; fi`,
    `  if [ -n "$want" ]; then`,
    `    got=$(sha256sum < "$path" 2>/dev/null | cut -d ' ' -f 1)`,
    `    if [ -z "$got" ]; then drift proxy "$path unreadable"; return 0; fi`,
    `    if [ "$got" != "$want" ]; then drift proxy "$path changed"; return 0; fi`,
    `  fi`,
    `  if [ "$(stat -c %a "$path")" != "$mode" ]; then drift proxy "$path mode changed"; fi`,
    `}`,
  ];
  for (const f of spec.files) {
    const mode = f.mode.replace(/^0(?=[0-7]{3}$)/, "");
    lines.push(`file ${[f.path, mode, ...(f.sha256 ? [f.sha256] : [])].map(shellQuote).join(" ")}`);
  }
  if ("container" in spec.probe) {
    const name = shellQuote(spec.probe.container);
    lines.push(
      `state=$(docker inspect --format '{{ .State.Status }}' ${name} 2>/dev/null || echo missing)`,
      `case "$state" in`,
      `  running) ;;`,
      `  missing) drift proxy "proxy container "${name}" missing" ;;`,
      `  *) drift proxy "proxy container "${name}" $state" ;;`,
      `esac`,
    );
  } else {
    const unit = shellQuote(spec.probe.unit);
    lines.push(
      `state=$(systemctl is-active ${unit} 2>/dev/null || true)`,
      `[ "$state" = active ] || drift proxy "proxy unit "${unit}" \${state:-unknown}"`,
    );
  }
  if (spec.hostsBlock) {
    const { begin, end } = hostsBlockMarkers(spec.hostsBlock.owner);
    const path = spec.hostsFile ?? "/etc/hosts";
    const file = shellQuote(path);
    // The block as it stands, markers included (awk: from the begin marker to the end marker, exact lines).
    lines.push(
      `got=$(awk -v b=${shellQuote(begin)} -v e=${shellQuote(end)} '$0 == b { on = 1 } on { print } $0 == e { on = 0 }' ${file} 2>/dev/null | sha256sum | cut -d ' ' -f 1)`,
      `if ! grep -qxF -- ${shellQuote(begin)} ${file} 2>/dev/null; then drift host ${shellQuote(`hosts block missing in ${path}`)}`,
      `elif [ "$got" != ${shellQuote(sha256(spec.hostsBlock.text))} ]; then drift host ${shellQuote(`hosts block changed in ${path}`)}; fi`,
    );
  }
  lines.push("exit 0");
  return wrapScript(lines.join("\n"), privilege);
}
