// A VM running Istio's istio-sidecar package under systemd (`host.runtime: "package"`), onboarded by MeshVm
// against the test cluster's real istiod: the MeshVm arguments the package-runtime suites share
// (packageRuntime, autoRegistration), with the knobs they turn between runs.
import * as command from "@pulumi/command";
import * as tls from "@pulumi/tls";
import type * as pulumi from "@pulumi/pulumi";
import type { MeshVmArgs } from "../../components";
import type { TestCluster } from "./cluster";
import type { SystemdHost } from "./hosts";
import { kubernetesProvider } from "./pulumi";

/** The workload one package VM runs (its namespace and ServiceAccount exist in the cluster). */
export interface PackageWorkload {
  namespace: string;
  serviceAccount: string;
  labels: Record<string, string>;
  port: number;
}

/** What a suite turns between runs; the program reads them at every run. */
export interface PackageKnobs {
  /**
   * The package: the stand-in's version and its file on the VM (placeSidecarPackage), or a whole
   * `sidecarPackage` source (`file` on the VM, or `localFile` on this machine, copied over SSH).
   */
  source: { version: string; file: string } | { version: string; localFile: string };
  capture?: "iptables" | "none";
  /** `host.token.rotation`. */
  rotation?: string;
  /** `workloadGroup` (e.g. `{ name, autoRegister: true }`); unset: none. */
  workloadGroup?: MeshVmArgs["workloadGroup"];
}

/** The MeshVm arguments of a package VM on `host`, reaching istiod as a VM does (its names → the gateway). */
export function packageVmArgs(
  cluster: TestCluster,
  host: SystemdHost,
  workload: PackageWorkload,
  knobs: PackageKnobs,
): MeshVmArgs {
  const istiod = cluster.istiod;
  if (!istiod) throw new Error("a package VM needs a cluster started with istiod (startCluster({ istiod }))");
  return {
    namespace: workload.namespace,
    address: host.address,
    serviceAccount: workload.serviceAccount,
    labels: workload.labels,
    ports: [{ name: "http", number: workload.port }],
    ...(knobs.workloadGroup !== undefined ? { workloadGroup: knobs.workloadGroup } : {}),
    sshPort: host.sshPort,
    // Istio's unit runs as root: the proxy step logs in as the admin and uses sudo -n.
    sshUser: host.adminUser,
    host: {
      runtime: "package",
      // istioctl's --capture-dns=false: with DNS capture the agent is ready only once istiod's DNS table came
      // over Envoy's stream, and this package's Envoy is a stand-in.
      sidecarPackage: {
        ...knobs.source,
        captureDns: false,
        capture: knobs.capture ?? "iptables",
      },
      hostKey: host.hostKey,
      privateKey: host.adminPrivateKey,
      prepare: { admin: { user: host.adminUser, privateKey: host.adminPrivateKey } },
      kubeconfig: cluster.kubeconfig,
      mesh: { discoveryAddress: istiod.discoveryAddress },
      gatewayAddress: istiod.address,
      egressHostnames: [],
      ...(knobs.rotation !== undefined ? { token: { rotation: knobs.rotation } } : {}),
      // Without Envoy the agent's own status port says when it is ready.
      readiness: { port: 15020, path: "/healthz/ready", timeoutSeconds: 120 },
      deregistrationDelaySeconds: 0,
    },
  };
}

/** The providers a MeshVm program on the test cluster uses. */
export function meshVmProviders(cluster: TestCluster): Record<string, pulumi.ProviderResource> {
  return {
    kubernetes: kubernetesProvider("cluster", cluster.kubeconfig),
    command: new command.Provider("command", {}),
    tls: new tls.Provider("tls", {}),
  };
}
