// Seed 003's simpler onboarding: the VM only calls mesh services (reviews and ratings of bookinfo). It runs a
// plain Envoy with a static config, one loopback listener per service, each an mTLS cluster through the
// east-west gateway's AUTO_PASSTHROUGH port to the destination's sidecar; its workload certificate is issued by
// istiod's CA at `up` (renewed by a later `up` inside the renewal window, not by an agent). The VM never talks
// to istiod. The mesh decides what the VM may call: `authorize` declares an AuthorizationPolicy admitting the
// VM's SPIFFE id to the destination's pods. See docs/envoy-runtime.md for when to choose this runtime.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { MeshExpansion, MeshVm } from "mesh-vm";

const config = new pulumi.Config();
const kubeconfig = config.requireSecret("kubeconfig");
const gatewayAddress = config.require("gatewayAddress");
const provider = new k8s.Provider("cluster", { kubeconfig });

// The AUTO_PASSTHROUGH Gateway (Istio's cross-network-gateway); leave `passthroughGateway` out when the cluster
// has one already (Istio's multi-network install). The Gateway and VirtualService of mesh expansion expose
// istiod's 15012, which is where `up` asks for the VM's certificate.
const mesh = new MeshExpansion(
  "mesh",
  { flavor: "istio", gatewayAddress, passthroughGateway: {} },
  { providers: [provider] },
);

const laptop = new MeshVm(
  "build-agent",
  {
    namespace: "vms",
    address: config.require("address"),
    serviceAccount: "build-agent",
    createServiceAccount: true,
    labels: { app: "build-agent" },
    // No WorkloadEntry, Sidecar or ServiceEntry for runtime envoy: its Envoy never talks to istiod, and nothing
    // in the mesh calls this VM (an `envoy.inbound` listener would add a ServiceEntry pointing at it).
    host: {
      hostKey: config.require("hostKey"),
      prepare: {
        admin: { user: config.require("adminUser"), privateKey: config.requireSecret("adminPrivateKey") },
      },
      kubeconfig,
      runtime: "envoy",
      envoy: {
        gatewayAddress,
        upstreams: [
          // The VM's applications call http://127.0.0.1:9080 and reach reviews with mTLS.
          {
            host: "reviews.bookinfo.svc.cluster.local",
            port: 9080,
            serviceAccount: "bookinfo-reviews",
            localPort: 9080,
            // Admits spiffe://cluster.local/ns/vms/sa/build-agent to the reviews pods. ALLOW policies add
            // up: where none selected reviews before, it now refuses every other caller.
            authorize: { selector: { app: "reviews" } },
          },
          {
            host: "ratings.bookinfo.svc.cluster.local",
            port: 9080,
            serviceAccount: "bookinfo-ratings",
            localPort: 9081,
            protocol: "HTTP2",
          },
        ],
        // 24 h certificates, re-issued by the first `up` of each 16 h window.
        certificate: { lifetimeSeconds: 86400 },
      },
    },
  },
  { providers: [provider], dependsOn: [mesh] },
);

export const identity = laptop.spiffeId;
export const authorizationPolicies = laptop.authorizationPolicyNames;
export const passthroughPort = mesh.passthroughPort;
export const certificateExpiry = laptop.proxy.apply((p) => p?.certificateExpiry);
