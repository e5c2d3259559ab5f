// One project, two roles. `mesh`: the cluster-wide objects, once. `shard`: a slice of the VMs; it reads what it
// needs from the mesh stack through a StackReference, so the mesh stack's outputs are the contract between them.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { MeshExpansion, MeshVm } from "mesh-vm";

interface InventoryVm {
  name: string;
  address: string;
  hostKey: string;
  sshPort?: number;
}
interface Service {
  namespace: string;
  serviceAccount: string;
  app: string;
  port: number;
  adminUser: string;
  proxyImage?: string;
}

const config = new pulumi.Config();
const role = config.require("role");
const provider = new k8s.Provider("cluster", { kubeconfig: config.requireSecret("kubeconfig") });

let expansion: MeshExpansion | undefined;
const spiffeIds: Record<string, pulumi.Output<string>> = {};
if (role === "mesh") {
  expansion = new MeshExpansion(
    "mesh-expansion",
    { flavor: "istio", gatewayAddress: config.require("gatewayAddress") },
    { providers: [provider] },
  );
} else if (role === "shard") {
  const mesh = new pulumi.StackReference("mesh", { name: config.require("meshStack") });
  const gatewayAddress = mesh.requireOutput("gatewayAddress") as pulumi.Output<string>;
  const service = config.requireObject<Service>("service");
  for (const vm of config.requireObject<InventoryVm[]>("vms")) {
    const meshVm = new MeshVm(
      vm.name,
      {
        namespace: service.namespace,
        address: vm.address,
        serviceAccount: service.serviceAccount,
        labels: { app: service.app, class: "vm" },
        ports: [{ name: "http", number: service.port }],
        ...(vm.sshPort !== undefined ? { sshPort: vm.sshPort } : {}),
        host: {
          hostKey: vm.hostKey,
          prepare: {
            admin: { user: service.adminUser, privateKey: config.requireSecret("adminPrivateKey") },
          },
          kubeconfig: config.requireSecret("kubeconfig"),
          gatewayAddress,
          ...(service.proxyImage ? { proxyImage: service.proxyImage } : {}),
        },
      },
      { providers: [provider] },
    );
    spiffeIds[vm.name] = meshVm.spiffeId;
  }
} else {
  throw new Error(`vm-fleet:role must be mesh or shard, not "${role}"`);
}

// The mesh stack's outputs are what shards read (StackReference); a shard's, each VM's SPIFFE id.
export const gatewayAddress = expansion?.gatewayAddress;
export const istiodHost = expansion?.istiodHost;
export const vms = role === "shard" ? pulumi.output(spiffeIds) : undefined;
