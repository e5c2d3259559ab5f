// Tetrate Service Bridge: VM onboarding enabled in the TSB ControlPlane (MeshExpansion flavor tsb patches
// spec.meshExpansion) and the ratings VM with the `version` label TSB's observability needs, its proxy from
// Tetrate's registry, reaching istiod through the VM gateway.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { MeshExpansion, MeshVm } from "mesh-vm";

const config = new pulumi.Config();
const kubeconfig = config.requireSecret("kubeconfig");
const gatewayAddress = config.require("gatewayAddress");
const provider = new k8s.Provider("cluster", { kubeconfig });

const expansion = new MeshExpansion(
  "mesh-expansion",
  { flavor: "tsb", gatewayAddress, controlPlaneName: "controlplane", istioNamespace: "istio-system" },
  { providers: [provider] },
);

const ratings = new MeshVm(
  "ratings-vm",
  {
    flavor: "tsb",
    namespace: "bookinfo",
    address: config.require("address"),
    network: "vm-us-central1-a",
    serviceAccount: "bookinfo-ratings",
    labels: { app: "ratings", version: "v3" },
    ports: [{ name: "http", number: 9080 }],
    apiVersion: "networking.istio.io/v1beta1",
    sshUser: "istio-proxy",
    proxyConfigDir: "/etc/istio-proxy",
    proxyImageHub: "docker.io/tetrate",
    proxyInstanceIp: config.require("proxyInstanceIp"),
    host: {
      hostKey: config.require("hostKey"),
      prepare: { admin: { user: "root", privateKey: config.requireSecret("adminPrivateKey") } },
      kubeconfig,
      gatewayAddress,
      proxyImageTag: config.require("proxyImageTag"),
    },
  },
  { providers: [provider], dependsOn: [expansion] },
);

export const spiffeId = ratings.spiffeId;
export const firewallPorts = expansion.firewallPorts;
export const proxyState = ratings.proxy.apply((p) => p?.containerState ?? null);
