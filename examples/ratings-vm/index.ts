// The seeds' ratings example (TSB "Onboarding VMs"): the VM with internal IP 10.128.0.2 and external IP
// 35.194.38.142 on network vm-us-central1-a serves ratings on 127.0.0.1:9080. One MeshVm declares its
// WorkloadEntry, Sidecar and ServiceEntry and, with `host`, prepares the VM over SSH and runs the proxy.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { MeshVm } from "mesh-vm";

const config = new pulumi.Config();
const optional = (key: string) => config.get(key) || undefined;
const kubeconfig = config.requireSecret("kubeconfig");
const hostKey = optional("hostKey");
const proxyImage = optional("proxyImage");

const provider = new k8s.Provider("cluster", { kubeconfig });

const ratings = new MeshVm(
  "ratings-vm",
  {
    namespace: "bookinfo",
    address: config.require("address"),
    network: optional("network"),
    serviceAccount: "bookinfo-ratings",
    labels: { app: "ratings", version: "v3" },
    ports: [{ name: "http", number: 9080 }],
    // tctl's sidecar-bootstrap settings, as the seeds' WorkloadEntry annotations set them.
    sshHost: optional("sshHost"),
    sshUser: "istio-proxy",
    proxyConfigDir: "/etc/istio-proxy",
    proxyImageHub: "docker.io/tetrate",
    proxyInstanceIp: config.require("proxyInstanceIp"),
    // Without a host key only the mesh objects are created (while another tool still runs the proxy).
    host:
      hostKey === undefined
        ? undefined
        : {
            hostKey,
            // Creates the istio-proxy user (docker group, config dir) and installs a generated key for it.
            prepare: {
              admin: {
                user: config.require("adminUser"),
                privateKey: config.requireSecret("adminPrivateKey"),
              },
            },
            kubeconfig,
            ...(proxyImage ? { proxyImage } : { proxyImageTag: optional("proxyImageTag") }),
          },
  },
  { providers: [provider] },
);

export const spiffeId = ratings.spiffeId;
export const workloadEntry = ratings.workloadEntryName;
export const proxy = ratings.proxy.apply(
  (p) => p && { containerState: p.containerState, image: p.proxyImage },
);
export const tokenExpiry = ratings.proxy.apply((p) => p?.tokenExpiry);
export const manifests = ratings.manifests;
