// Boot-time delivery, pure renderers: the same host steps the SSH path runs (../host: prepareHost,
// fileScripts, proxyScripts, hostsBlock, configFiles), composed for a VM that onboards itself as it boots:
// - `renderCloudConfig`: a `#cloud-config` document (cloud-init user data): the proxy user and group,
//   `write_files` with the config files (owner, mode), and one `runcmd` running the start steps;
// - `renderBundle`: tctl's `--output-dir` layout (`etc/…`, `bin/start-istio-proxy.sh`) for other transports.
// Both start the container with the same arguments and digest label, and wait for readiness, exactly as the
// SSH path's proxy step does; nothing here reads the clock or the environment.
import { posix } from "node:path";
import { stringify } from "yaml";
import { vmProxyDefaults } from "../host/defaults";
import { writeFileScript } from "../host/fileScripts";
import { applyHostsBlockScript, renderHostsBlock } from "../host/hostsBlock";
import { shellQuote } from "../host/shell";
import { excerpt } from "../rules/values";
import type { ContainerPlan } from "../runtime/container";
import type { BootstrapMaterial, RuntimeInputs } from "../runtime/inputs";
import { fileDirectoriesOf, type RuntimePlan } from "../runtime/plan";
import { renderRuntimePlan } from "../runtime/registry";

/** Everything a VM needs to start its proxy by itself: the runtime's plan, as the SSH delivery runs it. */
export type BootPlan = RuntimePlan;

/** What a boot plan is made from: MeshVm's settings for one VM, and the minted token and fetched roots. */
export interface BootPlanInputs extends RuntimeInputs, BootstrapMaterial {}

/** The plan, rendered by the chosen runtime exactly as VmProxy renders it (same renderer, same defaults). */
export function buildBootPlan(given: BootPlanInputs): BootPlan {
  const { token, meshRootCert, kubernetesRootCert, workloadCertificate, ...inputs } = given;
  const configDir = posix
    .normalize(inputs.proxyConfigDir ?? vmProxyDefaults.proxyConfigDir)
    .replace(/\/$/, "");
  if (!posix.isAbsolute(configDir) || configDir === "/") {
    throw new Error(
      `proxyConfigDir must be an absolute directory other than /: ${excerpt(inputs.proxyConfigDir)}`,
    );
  }
  return renderRuntimePlan(
    { ...inputs, proxyConfigDir: configDir, egressHostnames: inputs.egressHostnames ?? [] },
    { token, meshRootCert, kubernetesRootCert, ...(workloadCertificate ? { workloadCertificate } : {}) },
  );
}

/** The `docker run` command line the plan starts the proxy with (as the SSH path shows it). */
export function bootDockerRunCommand(plan: BootPlan): string {
  return plan.runtime === "container" ? (plan as ContainerPlan).dockerRunCommand : "";
}

/** One file of a delivery: path (absolute on the VM, or relative in a bundle), mode, owner, content. */
export interface DeliveredFile {
  path: string;
  mode: string;
  /** `user:group`, or undefined for the bundle (the start script sets owners when it installs the files). */
  owner?: string;
  content: string;
  secret: boolean;
}

/** The config files as they land on the VM: `<configDir>/<name>`, owned by the proxy user and its group. */
export function vmConfigFiles(plan: BootPlan): DeliveredFile[] {
  return plan.files.map((f) => ({
    path: f.path,
    mode: f.mode,
    owner: `${f.owner}:${f.group}`,
    content: f.content,
    secret: f.secret,
  }));
}

/** The bundle's start script, relative to the bundle directory (tctl's name). */
export const BUNDLE_START_SCRIPT = "bin/start-istio-proxy.sh";

/** The start script of a plan's bundle: tctl's name for Istio's proxy, `bin/start-envoy.sh` for a plain Envoy. */
export function bundleStartScriptOf(plan: BootPlan): string {
  return plan.runtime === "envoy" ? "bin/start-envoy.sh" : BUNDLE_START_SCRIPT;
}

/** Where a config file sits in the bundle (tctl's `etc/`). */
export function bundlePathOf(name: string): string {
  return `etc/${name}`;
}

const USER_PATTERN = /^[a-z_][a-z0-9_-]*[$]?$/;

function checkPlan(plan: BootPlan): void {
  if (!USER_PATTERN.test(plan.account.user)) {
    throw new Error(`${excerpt(plan.account.user)} is not a valid user name`);
  }
}

/**
 * The start steps as one POSIX sh script, run as root: prepare the host (proxy user in the docker group,
 * config directory 0775), optionally install the config files from `<bundle>/etc` (as the proxy user, with
 * the SSH path's atomic write script), start the container as the proxy user and wait until ready, then
 * apply the `/etc/hosts` block. Each step is the SSH path's script, unchanged.
 */
export function startScript(plan: BootPlan, from: "in-place" | "bundle"): string {
  checkPlan(plan);
  const dirs = fileDirectoriesOf(plan.files).reverse().join(", ");
  // The proxy account's steps run as that account, as over SSH; a root runtime's run as root.
  const run = plan.runsAs === "root" ? "sh -c" : "as_user";
  const lines = [
    "#!/bin/sh",
    `# mesh-vm: start ${plan.describe.proxy}; run as root.`,
    from === "bundle"
      ? "# Installs the files of this bundle's etc/ into the proxy config directory first (tctl --output-dir layout)."
      : "# The config files were written by cloud-init (write_files) before this runs.",
    "set -eu",
    `[ "$(id -u)" = 0 ] || { echo "mesh-vm: run this as root (e.g. with sudo)" >&2; exit 1; }`,
    `user=${shellQuote(plan.account.user)}`,
    // The proxy user's steps run as that user, as over SSH: the files and certs/ are then its own.
    `as_user() {`,
    `  if [ "$user" = root ]; then sh -c "$1"`,
    `  elif command -v runuser >/dev/null 2>&1; then runuser -u "$user" -- sh -c "$1"`,
    `  else su -s /bin/sh -c "$1" "$user"; fi`,
    `}`,
    `echo "mesh-vm: preparing the host (user $user, ${dirs})"`,
    `sh -c ${shellQuote(plan.prepare.apply)}`,
  ];
  if (from === "bundle") {
    lines.push(`bundle=$(cd "$(dirname "$0")/.." && pwd)`);
    for (const f of plan.files) {
      const script = writeFileScript({ path: f.path, mode: f.mode });
      const name = posix.basename(f.path);
      // An assignment, not an echo argument: `set -e` then stops at a failed write.
      lines.push(
        `out=$(${run} ${shellQuote(script)} < "$bundle/${bundlePathOf(name)}")`,
        `echo "mesh-vm: ${name}: $out"`,
      );
    }
  }
  const hosts =
    plan.hostsBlock && plan.hostsBlock.hostnames.length > 0
      ? [
          // The block on stdin, as over SSH; printf is the shell's own, so its size meets no argv limit.
          `out=$(printf '%s' ${shellQuote(renderHostsBlock(plan.hostsBlock))} | sh -c ${shellQuote(applyHostsBlockScript(plan.hostsBlock))})`,
          `echo "mesh-vm: /etc/hosts block: $out"`,
        ]
      : [];
  // Names the proxy resolves itself go first; names that lead to the proxy once it serves them.
  const first = plan.hostsBlock?.beforeStart === true;
  if (first) lines.push(...hosts);
  lines.push(`echo "mesh-vm: ${plan.describe.starting}"`, `${run} ${shellQuote(plan.start)}`);
  if (!first) lines.push(...hosts);
  lines.push(`echo "mesh-vm: the proxy of ${plan.owner} is ready"`);
  return lines.join("\n") + "\n";
}

/**
 * cloud-init user data (`#cloud-config`). Module order on a cloud image (cloud-init >= 21.4): `users` (init
 * stage) creates the proxy user and its missing groups (docker's too) before the `write_files` entries marked
 * `defer` are written (final stage, `write_files_deferred`), which is before `runcmd` runs (final stage,
 * `scripts_user`). `users` starts with `default` so the image's default user is still created. An account that
 * `prepare` makes (a package's) is left to it: `bootcmd` (init stage, before `users`) runs `prepare` once per
 * instance, so the package's own account and directories (Istio's /etc/istio link) exist before the files are
 * written into them. Contains the token: treat it as a secret.
 */
export function renderCloudConfig(plan: BootPlan): string {
  checkPlan(plan);
  const byPrepare = plan.account.madeByPrepare === true;
  const doc = {
    ...(byPrepare
      ? { bootcmd: [["cloud-init-per", "instance", "mesh-vm-prepare", "sh", "-c", plan.prepare.apply]] }
      : {}),
    // cloud-init creates the user's missing groups itself (the docker group, before docker.io is installed).
    users: byPrepare
      ? ["default"]
      : [
          "default",
          {
            name: plan.account.user,
            primary_group: plan.account.user,
            groups: plan.account.groups,
            shell: "/bin/sh",
            lock_passwd: true,
          },
        ],
    write_files: vmConfigFiles(plan).map((f) => ({
      path: f.path,
      owner: f.owner,
      permissions: f.mode,
      defer: true,
      content: f.content,
    })),
    runcmd: [
      [
        "sh",
        "-c",
        startScript(plan, "in-place"),
        `mesh-vm-${posix.basename(bundleStartScriptOf(plan), ".sh")}`,
      ],
    ],
  };
  return `#cloud-config\n${stringify(doc, { lineWidth: 0 })}`;
}

/** The offline bundle: tctl's `--output-dir` files plus the k8s root CA and a start script (mode 0755). */
export function renderBundle(plan: BootPlan): DeliveredFile[] {
  const files: DeliveredFile[] = plan.files.map((f) => ({
    path: bundlePathOf(posix.basename(f.path)),
    mode: f.mode,
    content: f.content,
    secret: f.secret,
  }));
  files.push({
    path: bundleStartScriptOf(plan),
    mode: "0755",
    content: startScript(plan, "bundle"),
    secret: false,
  });
  return files;
}

/** The hosts block text ("" when none), as both deliveries write it. */
export function bootHostsBlock(plan: BootPlan): string {
  return plan.hostsBlock ? renderHostsBlock(plan.hostsBlock) : "";
}
