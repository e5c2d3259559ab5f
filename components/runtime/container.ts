// The `container` runtime (the default): tctl's `docker run` of the proxy image, run by the proxy account. The
// plan is rendered from the host/ renderers every delivery already used (sidecar.env, the container's
// arguments, mounts and digest label, the readiness wait, the host preparation): this file only composes them.
import { posix } from "node:path";
import { PROXY_CONFIG_FILES } from "../host/configFiles";
import { vmProxyDefaults } from "../host/defaults";
import { prepareHostScript, unprepareHostScript } from "../host/prepareHost";
import {
  ContainerSpec,
  addHostsOf,
  containerDigest,
  dockerRunArgs,
  proxyArgsOf,
  proxyImageOf,
} from "../host/proxyContainer";
import { readinessUrl, removeProxyScript, runProxyScript } from "../host/proxyScripts";
import { shellJoin } from "../host/shell";
import { renderSidecarEnv } from "../host/sidecarEnv";
import { readinessDefaults } from "../host/defaults";
import { dedicatedDirectoryProblem } from "../rules/values";
import type { BootstrapMaterial, RuntimeInputs } from "./inputs";
import type { PlannedFile, RuntimePlan } from "./plan";

/** The container runtime's plan, with what its outputs show (`dockerRunCommand`, `proxyImage`, `sidecarEnv`). */
export interface ContainerPlan extends RuntimePlan {
  runtime: "container";
  container: ContainerSpec;
  sidecarEnv: string;
  /** `docker run …` as the proxy is started. */
  dockerRunCommand: string;
}

/** proxyConfigDir, without a trailing slash; a system directory is refused (validation says so at preview). */
export function proxyConfigDirOf(inputs: Pick<RuntimeInputs, "proxyConfigDir">): string {
  const dir = inputs.proxyConfigDir ?? vmProxyDefaults.proxyConfigDir;
  const p = dedicatedDirectoryProblem(dir);
  if (p !== undefined) throw new Error(`proxyConfigDir: ${p}`);
  return dir.replace(/(.)\/$/, "$1");
}

/** The proxy's account and the workload's owner tag, as every runtime names them. */
export function accountOf(inputs: RuntimeInputs): { user: string; owner: string } {
  return {
    user: inputs.sshUser ?? vmProxyDefaults.sshUser,
    owner: `${inputs.workload.namespace}/${inputs.workload.name}`,
  };
}

/** The hosts block when egress names are given (an empty list is a block to remove: "no names"). */
export function hostsBlockOf(inputs: RuntimeInputs, owner: string): RuntimePlan["hostsBlock"] {
  if (inputs.egressHostnames === undefined) return undefined;
  return {
    owner,
    hostnames: inputs.egressHostnames,
    address: inputs.egressBindAddress ?? vmProxyDefaults.egressBindAddress,
  };
}

/** Renders the container runtime: four files in proxyConfigDir, `docker run` with the digest label. */
export function renderContainerPlan(inputs: RuntimeInputs, material: BootstrapMaterial): ContainerPlan {
  const mesh = inputs.mesh ?? {};
  const configDir = proxyConfigDirOf(inputs);
  const { user, owner } = accountOf(inputs);
  const sidecarEnv = renderSidecarEnv(inputs.workload, mesh, inputs.autoRegisterGroup);
  const contents = { ...material, sidecarEnv };
  const container: ContainerSpec = {
    name: inputs.proxyContainerName ?? vmProxyDefaults.proxyContainerName,
    image: proxyImageOf(inputs, inputs.workload),
    args: proxyArgsOf(inputs.workload, mesh, inputs.proxyArgs ?? {}, inputs.controlPlaneProxy),
    configDir,
    addHosts: addHostsOf(inputs.workload, mesh, inputs.gatewayAddress),
    owner,
  };
  const digest = containerDigest(container, contents);
  const dockerGroup = inputs.dockerGroup ?? vmProxyDefaults.dockerGroup;
  const files: PlannedFile[] = PROXY_CONFIG_FILES.map((f) => ({
    path: posix.join(configDir, f.name),
    owner: user,
    group: user,
    mode: f.mode,
    content: contents[f.content],
    secret: f.secret,
    // The token's directory is mounted (proxyMounts), so a new token reaches the running proxy.
    restartsProxy: f.content !== "token",
  }));
  const readiness = inputs.readiness ?? {};
  const hostsBlock = hostsBlockOf(inputs, owner);
  return {
    runtime: "container",
    owner,
    describe: {
      proxy: `the istio-proxy of ${owner} (${container.image})`,
      starting: `starting the proxy container ${container.name} and waiting until it is ready`,
    },
    account: { user, groups: [dockerGroup] },
    runsAs: "account",
    prepare: {
      apply: prepareHostScript({ user, configDir, dockerGroup: inputs.dockerGroup }),
      undo: unprepareHostScript({ user, configDir }),
    },
    files,
    start: runProxyScript(container, digest, readiness),
    stop: removeProxyScript(container),
    configDigest: digest,
    readiness: {
      url: readinessUrl(readiness),
      timeoutSeconds: readiness.timeoutSeconds ?? readinessDefaults.timeoutSeconds,
    },
    ...(hostsBlock ? { hostsBlock } : {}),
    container,
    sidecarEnv,
    dockerRunCommand: `docker ${shellJoin(dockerRunArgs(container, digest))}`,
  };
}
