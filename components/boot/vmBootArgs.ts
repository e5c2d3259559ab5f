// The inputs of VmBoot (boot-time delivery), types only.
import type * as pulumi from "@pulumi/pulumi";
import type { ProxyArgsSettings, ProxyImageSettings } from "../host/proxyContainer";
import type { ReadinessSettings } from "../host/proxyScripts";
import type { MeshSettings, WorkloadIdentity } from "../host/sidecarEnv";

/** Bootstrap token of a VM that onboards itself at boot. */
export interface BootTokenArgs {
  /**
   * Token lifetime in seconds: it must outlive the time until the VM first starts its proxy (default 3600,
   * at least 600, at most 86400). After that first start the agent keeps its issued certificate in
   * `<proxyConfigDir>/certs` and renews it itself; the token is no longer used. Changing it re-mints.
   */
  expirationSeconds?: number;
  /** Change this value (any string) to mint a new token, and so new user data, at the next `up`. */
  rotation?: pulumi.Input<string>;
  /** Token audiences (default `["istio-ca"]`). */
  audiences?: string[];
}

/** How `up` observes that a booted VM's proxy is ready, before the registration objects are created. */
export interface BootReadyCheckArgs {
  /**
   * Wait for readiness before registering (default true). With false, the WorkloadEntry and ServiceEntry are
   * created as soon as the user data is rendered, possibly before the VM has booted.
   */
  enabled?: boolean;
  /**
   * URL polled from the machine running Pulumi until it answers 200 (default
   * `http://<address>:<readiness.port|15021><readiness.path|/healthz/ready>`: the proxy's status port).
   */
  url?: pulumi.Input<string>;
  /** Seconds to wait for the VM to be created, boot and start its proxy (default 900). */
  timeoutSeconds?: number;
}

export interface VmBootArgs {
  /** The WorkloadEntry identity and addresses (as for VmProxy). */
  workload: pulumi.Input<WorkloadIdentity>;
  /** Mesh settings for sidecar.env and the proxy arguments. */
  mesh?: pulumi.Input<MeshSettings>;
  /** kubeconfig used to mint the token (secret). */
  kubeconfig: pulumi.Input<string>;
  kubeContext?: pulumi.Input<string>;
  token?: BootTokenArgs;
  /** Mesh root certificate PEM; default: ConfigMap `istio-ca-root-cert` in the workload namespace. */
  meshRootCert?: pulumi.Input<string>;
  /** Kubernetes root CA PEM; default: ConfigMap `kube-root-ca.crt` in the workload namespace. */
  kubernetesRootCert?: pulumi.Input<string>;
  /** The proxy's account (tctl's `ssh-user`, MeshVm's `sshUser`; default `istio-proxy`), created at boot. */
  sshUser?: pulumi.Input<string>;
  /** @deprecated Use `sshUser` (the same account, MeshVm's and tctl's name). */
  proxyUser?: pulumi.Input<string>;
  /** Group that may use docker (default `docker`). */
  dockerGroup?: pulumi.Input<string>;
  proxyConfigDir?: pulumi.Input<string>;
  proxyContainerName?: pulumi.Input<string>;
  /** Full proxy image reference; wins over the three below. */
  proxyImage?: pulumi.Input<string>;
  /** Registry of the proxy image (default `docker.io/istio`). */
  proxyImageHub?: pulumi.Input<string>;
  /** Image name under the hub (default `proxyv2`). */
  proxyImageName?: pulumi.Input<string>;
  /** Image tag (default `latest`). */
  proxyImageTag?: pulumi.Input<string>;
  /** @deprecated Use `proxyImage`, `proxyImageHub`, `proxyImageName` and `proxyImageTag` (for `image`, `hub`, `imageName`, `tag`). */
  image?: pulumi.Input<ProxyImageSettings>;
  proxyArgs?: pulumi.Input<ProxyArgsSettings>;
  gatewayAddress?: pulumi.Input<string>;
  egressHostnames?: pulumi.Input<pulumi.Input<string>[]>;
  egressBindAddress?: pulumi.Input<string>;
  /** Readiness wait on the VM after it starts the container (default 120 s, as over SSH). */
  readiness?: ReadinessSettings;
  /** Readiness as observed by `up` (gates registration). */
  readyCheck?: BootReadyCheckArgs;
  /** Write the offline bundle to this local directory at `up` (removed on destroy). */
  bundleDir?: pulumi.Input<string>;
  /** Seconds to wait on destroy between deregistration and the gate's removal (default 5). */
  deregistrationDelaySeconds?: number;
}

/** One file of the offline bundle. */
export interface BootBundleFile {
  /** Relative path in the bundle (`etc/istio-token`, `bin/start-istio-proxy.sh`). */
  path: string;
  /** Octal mode. */
  mode: string;
  content: string;
}
