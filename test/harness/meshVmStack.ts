// The seeds' ratings VM as a MeshVm program with `host` (over SSH), for the end-to-end suites that onboard test
// hosts through the Automation API (onboard, faults): the settings they share, and the knobs a test turns
// between runs.
import * as command from "@pulumi/command";
import * as tls from "@pulumi/tls";
import { MeshVm } from "../../components";
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

/** The knobs a test turns between runs. */
export interface Knobs {
  port: number;
  tokenLifetime: number;
  hostGone: boolean;
  /** `host.token.rotation` (unset by default). */
  tokenRotation?: string;
}

export function proxyContainerOf(containers: ContainerInfo[]): ContainerInfo | undefined {
  return containers.find((c) => c.name === "istio-proxy");
}

/** One MeshVm with `host` per VM (providers shared), with the outputs the tests read. */
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
      const mesh = new MeshVm(
        vm.name,
        {
          namespace: NS,
          address: vm.address,
          serviceAccount: SA,
          network: vm.network,
          labels: LABELS,
          ports: [{ name: "http", number: knobs.port }],
          sshHost: vm.sshHost === vm.address ? undefined : vm.sshHost,
          sshPort: vm.host.sshPort,
          sshUser: "istio-proxy",
          proxyConfigDir: CONFIG_DIR,
          proxyInstanceIp: vm.proxyInstanceIp,
          serviceEntry: { name: `${vm.name}-svc` },
          sidecar: { name: `${vm.name}-no-iptables` },
          // The host half: MeshVm registers the WorkloadEntry and ServiceEntry only once this proxy is ready.
          host: {
            hostKey: vm.hostKey ?? vm.host.hostKey,
            prepare: { admin: { user: vm.host.adminUser, privateKey: vm.host.adminPrivateKey } },
            kubeconfig: cluster.kubeconfig,
            token: {
              expirationSeconds: knobs.tokenLifetime,
              ...(knobs.tokenRotation !== undefined ? { rotation: knobs.tokenRotation } : {}),
            },
            proxyImage: PROXY_IMAGE,
            egressHostnames: ["reviews.bookinfo.svc", "details.bookinfo.svc"],
            readiness: { timeoutSeconds: 60 },
            deregistrationDelaySeconds: 2,
            hostGone: knobs.hostGone,
          },
        },
        { providers: { kubernetes: k8sProvider, command: commandProvider, tls: tlsProvider } },
      );
      const proxy = mesh.proxy.apply((p) => p!);
      outputs[`${vm.name}.workloadEntry`] = mesh.workloadEntryName;
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
