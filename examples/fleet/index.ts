// A larger stack: VM onboarding enabled on the cluster (MeshExpansion, istio flavor: istiod through the
// east-west gateway) and a fleet of three ratings VMs behind one Sidecar and one ServiceEntry.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { MeshExpansion } from "mesh-vm";
import { VmFleet, VmFleetInstance } from "./vmFleet";

const config = new pulumi.Config();
const kubeconfig = config.requireSecret("kubeconfig");
const provider = new k8s.Provider("cluster", { kubeconfig });

const expansion = new MeshExpansion(
  "mesh-expansion",
  { flavor: "istio", gatewayAddress: config.require("gatewayAddress") },
  { providers: [provider] },
);

const ratings = new VmFleet(
  "ratings-vms",
  {
    namespace: "bookinfo",
    serviceAccount: "bookinfo-ratings",
    createServiceAccount: true,
    labels: { app: "ratings", version: "v3" },
    ports: [{ name: "http", number: 9080 }],
    // name, address and hostKey of each VM, e.g. from your inventory.
    instances: config.requireObject<VmFleetInstance[]>("instances"),
    host: {
      prepare: { admin: { user: "root", privateKey: config.requireSecret("adminPrivateKey") } },
      kubeconfig,
      gatewayAddress: config.require("gatewayAddress"),
      proxyImageTag: config.require("proxyImageTag"),
    },
    // A new proxyImageTag reaches one VM at a time, each after the one before is ready and registered.
    rollout: { maxUnavailable: config.getNumber("maxUnavailable") ?? 1 },
  },
  { providers: [provider], dependsOn: [expansion] },
);

export const serviceHost = ratings.serviceHost;
export const firewallPorts = expansion.firewallPorts;
export const vms = pulumi
  .all(ratings.vms.map((vm) => pulumi.all([vm.workloadEntryName, vm.proxy])))
  .apply((list) => list.map(([name, proxy]) => ({ name, proxy: proxy?.containerState ?? null })));
