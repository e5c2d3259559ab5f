// Boot-time delivery, pure renderers: the same host steps the SSH path runs (../host: prepareHost,
// fileScripts, proxyScripts, hostsBlock, configFiles), composed for a VM that onboards itself as it boots:
// - `renderCloudConfig`: a `#cloud-config` document (cloud-init user data): the proxy user and group,
//   `write_files` with the config files (owner, mode), and one `runcmd` running the start steps;
// - `renderBundle`: tctl's `--output-dir` layout (`etc/…`, `bin/start-istio-proxy.sh`) for other transports.
// Both start the container with the same arguments and digest label, and wait for readiness, exactly as the
// SSH path's proxy step does; nothing here reads the clock or the environment.
import { posix } from "node:path";
import { stringify } from "yaml";
import { vmBootAliases } from "../host/aliases";
import { ConfigContents, PROXY_CONFIG_FILES } from "../host/configFiles";
import { vmProxyDefaults } from "../host/defaults";
import { writeFileScript } from "../host/fileScripts";
import { applyHostsBlockScript, HostsBlockSpec, renderHostsBlock } from "../host/hostsBlock";
import { prepareHostScript } from "../host/prepareHost";
import {
  addHostsOf,
  ContainerSpec,
  containerDigest,
  dockerRunArgs,
  ProxyArgsSettings,
  ProxyImageChoice,
  ProxyImageSettings,
  proxyArgsOf,
  proxyImageOf,
} from "../host/proxyContainer";
import { ReadinessSettings, runProxyScript } from "../host/proxyScripts";
import { shellJoin, shellQuote } from "../host/shell";
import { MeshSettings, renderSidecarEnv, WorkloadIdentity } from "../host/sidecarEnv";
import { aliasIssues, InputAlias, withCurrentNames } from "../rules/aliases";
import { fieldNames, throwIfIssues } from "../rules/issues";
import { excerpt } from "../rules/values";

/** Everything a VM needs to start its proxy by itself. */
export interface BootPlan {
  /** Proxy user (owns proxyConfigDir and its files, runs docker). */
  user: string;
  /** Group that may use docker (default `docker`). */
  dockerGroup?: string;
  /** The container (its `configDir` is proxyConfigDir). */
  container: ContainerSpec;
  /** Its `mesh-vm.config-digest` label (containerDigest). */
  digest: string;
  /** The files' contents. */
  contents: ConfigContents;
  /** Readiness wait on the VM after starting the container. */
  readiness?: ReadinessSettings;
  /** The managed `/etc/hosts` block, when the VM calls mesh names. */
  hostsBlock?: HostsBlockSpec;
}

/**
 * What a boot plan is made from: MeshVm's settings for one VM, and the minted token and fetched roots. Field names
 * are VmBootArgs' (README, "Names"); the deprecated ones still work.
 */
export interface BootPlanInputs extends ProxyImageChoice {
  workload: WorkloadIdentity;
  mesh?: MeshSettings;
  proxyArgs?: ProxyArgsSettings;
  /** Default `istio-proxy`. */
  proxyContainerName?: string;
  /** Default `/etc/istio-proxy`. */
  proxyConfigDir?: string;
  /** The proxy's account (tctl's `ssh-user`). Default `istio-proxy`. */
  sshUser?: string;
  dockerGroup?: string;
  gatewayAddress?: string;
  readiness?: ReadinessSettings;
  /** Mesh names for the `/etc/hosts` block. */
  egressHostnames?: string[];
  /** Default 127.0.0.2. */
  egressBindAddress?: string;
  meshRootCert: string;
  kubernetesRootCert: string;
  token: string;
  /** @deprecated Use `proxyImage`, `proxyImageHub`, `proxyImageName` and `proxyImageTag`. */
  image?: ProxyImageSettings;
  /** @deprecated Use `proxyContainerName`. */
  containerName?: string;
  /** @deprecated Use `proxyConfigDir`. */
  configDir?: string;
  /** @deprecated Use `sshUser`. */
  user?: string;
  /** @deprecated Use `egressHostnames`. */
  egressHosts?: string[];
}

const bootPlanAliases: readonly InputAlias[] = [
  ...vmBootAliases,
  { old: "containerName", new: "proxyContainerName" },
  { old: "configDir", new: "proxyConfigDir" },
  { old: "user", new: "sshUser" },
  { old: "egressHosts", new: "egressHostnames" },
];

/** The plan, derived exactly as VmProxy derives its steps (same renderers, same defaults). */
export function buildBootPlan(given: BootPlanInputs): BootPlan {
  throwIfIssues("buildBootPlan", aliasIssues(given, bootPlanAliases, fieldNames("BootPlanInputs")));
  const inputs = withCurrentNames(given, bootPlanAliases);
  const mesh = inputs.mesh ?? {};
  const configDir = posix
    .normalize(inputs.proxyConfigDir ?? vmProxyDefaults.proxyConfigDir)
    .replace(/\/$/, "");
  if (!posix.isAbsolute(configDir) || configDir === "/") {
    throw new Error(
      `proxyConfigDir must be an absolute directory other than /: ${excerpt(inputs.proxyConfigDir)}`,
    );
  }
  const owner = `${inputs.workload.namespace}/${inputs.workload.name}`;
  const contents: ConfigContents = {
    sidecarEnv: renderSidecarEnv(inputs.workload, mesh),
    meshRootCert: inputs.meshRootCert,
    kubernetesRootCert: inputs.kubernetesRootCert,
    token: inputs.token,
  };
  const container: ContainerSpec = {
    name: inputs.proxyContainerName ?? vmProxyDefaults.proxyContainerName,
    image: proxyImageOf(inputs, inputs.workload),
    args: proxyArgsOf(inputs.workload, mesh, inputs.proxyArgs ?? {}),
    configDir,
    addHosts: addHostsOf(inputs.workload, mesh, inputs.gatewayAddress),
    owner,
  };
  const digest = containerDigest(container, contents);
  return {
    user: inputs.sshUser ?? vmProxyDefaults.sshUser,
    dockerGroup: inputs.dockerGroup,
    container,
    digest,
    contents,
    readiness: inputs.readiness,
    hostsBlock:
      inputs.egressHostnames && inputs.egressHostnames.length > 0
        ? {
            owner,
            hostnames: inputs.egressHostnames,
            address: inputs.egressBindAddress ?? vmProxyDefaults.egressBindAddress,
          }
        : undefined,
  };
}

/** The `docker run` command line the plan starts the proxy with (as the SSH path shows it). */
export function bootDockerRunCommand(plan: BootPlan): string {
  return `docker ${shellJoin(dockerRunArgs(plan.container, plan.digest))}`;
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
  return PROXY_CONFIG_FILES.map((f) => ({
    path: posix.join(plan.container.configDir, f.name),
    mode: f.mode,
    owner: `${plan.user}:${plan.user}`,
    content: plan.contents[f.content],
    secret: f.secret,
  }));
}

/** The bundle's start script, relative to the bundle directory (tctl's name). */
export const BUNDLE_START_SCRIPT = "bin/start-istio-proxy.sh";

/** Where a config file sits in the bundle (tctl's `etc/`). */
export function bundlePathOf(name: string): string {
  return `etc/${name}`;
}

const USER_PATTERN = /^[a-z_][a-z0-9_-]*[$]?$/;

function checkPlan(plan: BootPlan): void {
  if (!USER_PATTERN.test(plan.user)) {
    throw new Error(`${excerpt(plan.user)} is not a valid user name`);
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
  const configDir = plan.container.configDir;
  const lines = [
    "#!/bin/sh",
    `# mesh-vm: start the istio-proxy of ${plan.container.owner} (${plan.container.image}); run as root.`,
    from === "bundle"
      ? "# Installs the files of this bundle's etc/ into the proxy config directory first (tctl --output-dir layout)."
      : "# The config files were written by cloud-init (write_files) before this runs.",
    "set -eu",
    `[ "$(id -u)" = 0 ] || { echo "mesh-vm: run this as root (e.g. with sudo)" >&2; exit 1; }`,
    `user=${shellQuote(plan.user)}`,
    // The proxy user's steps run as that user, as over SSH: the files and certs/ are then its own.
    `as_user() {`,
    `  if [ "$user" = root ]; then sh -c "$1"`,
    `  elif command -v runuser >/dev/null 2>&1; then runuser -u "$user" -- sh -c "$1"`,
    `  else su -s /bin/sh -c "$1" "$user"; fi`,
    `}`,
    `echo "mesh-vm: preparing the host (user $user, ${configDir})"`,
    `sh -c ${shellQuote(prepareHostScript({ user: plan.user, configDir, dockerGroup: plan.dockerGroup }))}`,
  ];
  if (from === "bundle") {
    lines.push(`bundle=$(cd "$(dirname "$0")/.." && pwd)`);
    for (const f of PROXY_CONFIG_FILES) {
      const script = writeFileScript({ path: posix.join(configDir, f.name), mode: f.mode });
      // An assignment, not an echo argument: `set -e` then stops at a failed write.
      lines.push(
        `out=$(as_user ${shellQuote(script)} < "$bundle/${bundlePathOf(f.name)}")`,
        `echo "mesh-vm: ${f.name}: $out"`,
      );
    }
  }
  lines.push(
    `echo "mesh-vm: starting the proxy container ${plan.container.name} and waiting until it is ready"`,
    `as_user ${shellQuote(runProxyScript(plan.container, plan.digest, plan.readiness))}`,
  );
  if (plan.hostsBlock && plan.hostsBlock.hostnames.length > 0) {
    lines.push(
      // The block on stdin, as over SSH; printf is the shell's own, so its size meets no argv limit.
      `out=$(printf '%s' ${shellQuote(renderHostsBlock(plan.hostsBlock))} | sh -c ${shellQuote(applyHostsBlockScript(plan.hostsBlock))})`,
      `echo "mesh-vm: /etc/hosts block: $out"`,
    );
  }
  lines.push(`echo "mesh-vm: the proxy of ${plan.container.owner} is ready"`);
  return lines.join("\n") + "\n";
}

/**
 * cloud-init user data (`#cloud-config`). Module order on a cloud image (cloud-init >= 21.4): `users` (init
 * stage) creates the proxy user and its missing groups (docker's too) before the `write_files` entries marked
 * `defer` are written (final stage, `write_files_deferred`), which is before `runcmd` runs (final stage,
 * `scripts_user`). `users` starts with `default` so the image's default user is still created. Contains the
 * token: treat it as a secret.
 */
export function renderCloudConfig(plan: BootPlan): string {
  checkPlan(plan);
  const dockerGroup = plan.dockerGroup ?? "docker";
  const doc = {
    // cloud-init creates the user's missing groups itself (the docker group, before docker.io is installed).
    users: [
      "default",
      {
        name: plan.user,
        primary_group: plan.user,
        groups: [dockerGroup],
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
    runcmd: [["sh", "-c", startScript(plan, "in-place"), "mesh-vm-start-istio-proxy"]],
  };
  return `#cloud-config\n${stringify(doc, { lineWidth: 0 })}`;
}

/** The offline bundle: tctl's `--output-dir` files plus the k8s root CA and a start script (mode 0755). */
export function renderBundle(plan: BootPlan): DeliveredFile[] {
  const files: DeliveredFile[] = PROXY_CONFIG_FILES.map((f) => ({
    path: bundlePathOf(f.name),
    mode: f.mode,
    content: plan.contents[f.content],
    secret: f.secret,
  }));
  files.push({
    path: BUNDLE_START_SCRIPT,
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
