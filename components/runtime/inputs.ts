// What every runtime renderer is given: the proxy settings resolved to plain values (defaults still open where
// the renderer applies them) and the bootstrap material the deliveries make as resources. Field names are
// VmProxyArgs' and VmBootArgs' (host/proxySettings.ts), so the deliveries pass their settings as they are.
import type { ProxyArgsSettings, ProxyImageChoice } from "../host/proxyContainer";
import type { ReadinessSettings } from "../host/proxyScripts";
import type { MeshSettings, WorkloadIdentity } from "../host/sidecarEnv";
import type { EnvoyRuntimeArgs } from "./envoyArgs";
import type { SidecarPackageSettings } from "./package/settings";

export interface RuntimeInputs extends ProxyImageChoice {
  /** Which runtime renders the plan (runtime/registry.ts); default `container`. */
  runtime?: string;
  /** The `envoy` runtime's settings block. */
  envoy?: EnvoyRuntimeArgs;
  workload: WorkloadIdentity;
  mesh?: MeshSettings;
  proxyArgs?: ProxyArgsSettings;
  /** Default `istio-proxy`. */
  proxyContainerName?: string;
  /** Default `/etc/istio-proxy`. */
  proxyConfigDir?: string;
  /** The proxy's account (tctl's `ssh-user`). Default `istio-proxy`. */
  sshUser?: string;
  /** Group that may use docker. Default `docker`. */
  dockerGroup?: string;
  gatewayAddress?: string;
  readiness?: ReadinessSettings;
  /** Mesh names for the `/etc/hosts` block (undefined: no block is managed). */
  egressHostnames?: string[];
  /** Default 127.0.0.2. */
  egressBindAddress?: string;
  /** The package runtime's settings (runtime "package"). */
  sidecarPackage?: SidecarPackageSettings;
}

/** The material a VM's proxy starts from, made once per VM by its own resources (host/bootstrapMaterial.ts). */
export interface BootstrapMaterial {
  /** The bootstrap token (`container`); "" for a runtime that needs none (`envoy`). */
  token: string;
  /** The workload certificate issued by istiod (`envoy`): chain (leaf first) and its PEM key. */
  workloadCertificate?: { certChain: string; key: string };
  meshRootCert: string;
  kubernetesRootCert: string;
}
