// The seeds' ratings VM as a MeshVm program with `host` (over SSH), the one every end-to-end suite that onboards
// test hosts through the Automation API runs (onboard, faults, istiod, outages): the settings they share, and the
// knobs a suite sets or turns between runs (config dir, stand-in proxy or the real agent against istiod, token).
import * as command from "@pulumi/command";
import * as tls from "@pulumi/tls";
import { MeshVm, type MeshVmArgs } from "../../components";
import type { TestCluster } from "./cluster";
import type { ContainerInfo, TestHost } from "./hosts";
import { kubernetesProvider } from "./pulumi";

export const NS = "bookinfo";
export const SA = "bookinfo-ratings";
export const PROXY_IMAGE = "localhost/mesh-vm-standin-proxy:test";
export const CONFIG_DIR = "/etc/istio-proxy";
export const LABELS = { app: "ratings", class: "vm", version: "v3" };

export interface Vm {
  name: string;
  host: TestHost;
  address: string;
  proxyInstanceIp?: string;
  sshHost: string;
  network?: string;
  /** The host key pinned in the program (default: the host's own). */
  hostKey?: string;
}

/** A VM on its test host's own address, reached over SSH there. */
export function vmOn(name: string, host: TestHost): Vm {
  return { name, host, address: host.address, sshHost: host.address };
}

// Without Envoy nothing serves 15021 (Envoy's readiness listener); the Istio agent's own status port is 15020.
export const AGENT_READINESS = { port: 15020, path: "/healthz/ready" };

/** The knobs a test sets or turns between runs (the program reads them at every run). */
export interface Knobs {
  /** The one port (default 9080). */
  port?: number;
  /** `host.token.expirationSeconds` (unset: MeshVm's default). */
  tokenLifetime?: number;
  /** `host.token.rotation` (unset by default): the documented way to force a new token. */
  tokenRotation?: string;
  /** `host.token.audiences` (unset: MeshVm's default). */
  tokenAudiences?: string[];
  hostGone?: boolean;
  /** `proxyConfigDir` (default CONFIG_DIR). */
  configDir?: string;
  /** The real Istio agent's image (`installAgentImage`) against the cluster's istiod, instead of the stand-in. */
  agentImage?: string;
  /** `host.readiness.timeoutSeconds` (default 60 with the stand-in, 120 with the agent: it waits for its certificate). */
  readinessTimeoutSeconds?: number;
  /** `workloadGroup` (e.g. `{ name, autoRegister: true }` with the real agent); unset: none. */
  workloadGroup?: MeshVmArgs["workloadGroup"];
}

export function proxyContainerOf(containers: ContainerInfo[]): ContainerInfo | undefined {
  return containers.find((c) => c.name === "istio-proxy");
}

/** The proxy image and readiness check: the stand-in, or the real agent reaching the cluster's istiod. */
function proxySettings(cluster: TestCluster, knobs: Knobs): Partial<NonNullable<MeshVmArgs["host"]>> {
  if (knobs.agentImage === undefined) {
    return { proxyImage: PROXY_IMAGE, readiness: { timeoutSeconds: knobs.readinessTimeoutSeconds ?? 60 } };
  }
  const istiod = cluster.istiod;
  if (!istiod)
    throw new Error("knobs.agentImage needs a cluster started with istiod (startCluster({ istiod }))");
  return {
    // istiod as a VM reaches it through the east-west gateway: its names mapped to one address.
    mesh: { discoveryAddress: istiod.discoveryAddress },
    gatewayAddress: istiod.address,
    proxyImage: knobs.agentImage,
    readiness: { ...AGENT_READINESS, timeoutSeconds: knobs.readinessTimeoutSeconds ?? 120 },
  };
}

/** The MeshVm arguments of one VM (token keys a test leaves unset stay unset: MeshVm's defaults apply). */
export function vmArgs(cluster: TestCluster, vm: Vm, knobs: Knobs): MeshVmArgs {
  const token = {
    ...(knobs.tokenLifetime !== undefined ? { expirationSeconds: knobs.tokenLifetime } : {}),
    ...(knobs.tokenRotation !== undefined ? { rotation: knobs.tokenRotation } : {}),
    ...(knobs.tokenAudiences !== undefined ? { audiences: knobs.tokenAudiences } : {}),
  };
  return {
    namespace: NS,
    address: vm.address,
    serviceAccount: SA,
    network: vm.network,
    labels: LABELS,
    ports: [{ name: "http", number: knobs.port ?? 9080 }],
    sshHost: vm.sshHost === vm.address ? undefined : vm.sshHost,
    sshPort: vm.host.sshPort,
    sshUser: "istio-proxy",
    proxyConfigDir: knobs.configDir ?? CONFIG_DIR,
    proxyInstanceIp: vm.proxyInstanceIp,
    serviceEntry: { name: `${vm.name}-svc` },
    sidecar: { name: `${vm.name}-no-iptables` },
    ...(knobs.workloadGroup !== undefined ? { workloadGroup: knobs.workloadGroup } : {}),
    // The host half: MeshVm registers the WorkloadEntry and ServiceEntry only once this proxy is ready.
    host: {
      hostKey: vm.hostKey ?? vm.host.hostKey,
      prepare: { admin: { user: vm.host.adminUser, privateKey: vm.host.adminPrivateKey } },
      kubeconfig: cluster.kubeconfig,
      ...(Object.keys(token).length > 0 ? { token } : {}),
      ...proxySettings(cluster, knobs),
      egressHostnames: ["reviews.bookinfo.svc", "details.bookinfo.svc"],
      deregistrationDelaySeconds: 2,
      hostGone: knobs.hostGone,
    },
  };
}

/** One MeshVm with `host` per VM (providers shared), with the outputs the tests read, named `<vm>.<output>`. */
export function meshVmProgram(
  cluster: TestCluster,
  vms: Vm[],
  knobs: Knobs,
): () => Promise<Record<string, unknown>> {
  return async () => {
    const k8sProvider = kubernetesProvider("cluster", cluster.kubeconfig);
    const commandProvider = new command.Provider("command", {});
    const tlsProvider = new tls.Provider("tls", {});
    const outputs: Record<string, unknown> = {};
    for (const vm of vms) {
      const mesh = new MeshVm(vm.name, vmArgs(cluster, vm, knobs), {
        providers: { kubernetes: k8sProvider, command: commandProvider, tls: tlsProvider },
      });
      const proxy = mesh.proxy.apply((p) => p!);
      outputs[`${vm.name}.workloadEntry`] = mesh.workloadEntryName;
      outputs[`${vm.name}.spiffeId`] = mesh.spiffeId;
      outputs[`${vm.name}.containerId`] = proxy.containerId;
      outputs[`${vm.name}.tokenExpiry`] = proxy.tokenExpiry;
      outputs[`${vm.name}.fileDigests`] = proxy.fileDigests;
      outputs[`${vm.name}.hostsBlock`] = proxy.hostsBlock;
      outputs[`${vm.name}.sshIdentity`] = proxy.sshIdentity;
      outputs[`${vm.name}.dockerRunCommand`] = proxy.dockerRunCommand;
    }
    return outputs;
  };
}
