// Inputs of VmProxy. Types only: the defaults live in defaults.ts, the rules in validation.ts.
import * as pulumi from "@pulumi/pulumi";
import type { ProxyArgsSettings, ProxyImageSettings } from "./proxyContainer";
import type { ReadinessSettings } from "./proxyScripts";
import type { MeshSettings, WorkloadIdentity } from "./sidecarEnv";
import type { SshConnectionArgs, SshCredentialsArgs } from "./sshConnection";

/** Every field may be an Input. */
export type Inputs<T> = { [K in keyof T]: pulumi.Input<T[K]> };

/** Bootstrap token settings. */
export interface BootstrapTokenArgs {
  /**
   * Requested token lifetime in seconds (tctl's 24 h), at least 600. Changing it re-mints the token only.
   * @default 86400
   */
  expirationSeconds?: number;
  /**
   * An `up` re-mints when the token could be this close to expiry (at most a quarter of the lifetime). Tokens
   * are re-minted at the first `up` of each (lifetime − renewBefore) window; see `tokenRotationWindow`.
   * @default 3600
   */
  renewBeforeSeconds?: number;
  /** Change this value (any string) to force a new token at the next `up`. */
  rotation?: pulumi.Input<string>;
  /**
   * Token audiences.
   * @default ["istio-ca"]
   */
  audiences?: string[];
}

/** Optional host preparation, done as a privileged user (root, or a user with password-less sudo). */
export interface HostPreparationArgs {
  /** Credentials of the privileged user; host, port, host key and bastion are those of `ssh`. */
  admin: SshCredentialsArgs;
  /**
   * Group that may use docker.
   * @default "docker"
   */
  dockerGroup?: pulumi.Input<string>;
}

export interface VmProxyArgs {
  /** How to reach the VM as the proxy user. Without `privateKey`/`agentSocketPath`, `prepare` must be set: an ED25519 key is generated and installed for that user. */
  ssh: SshConnectionArgs;
  /** Create the proxy user, docker group membership, config directory and SSH key as an admin first. */
  prepare?: HostPreparationArgs;
  /**
   * The proxy's account on the VM (tctl's `ssh-user`, MeshVm's `sshUser`): the SSH login of the proxy steps
   * unless `ssh.user` says otherwise, owner of the config directory, runs docker.
   * @default "istio-proxy"
   */
  sshUser?: pulumi.Input<string>;
  /** @deprecated Use `sshUser` (the same account, MeshVm's and tctl's name). */
  proxyUser?: pulumi.Input<string>;
  /**
   * The WorkloadEntry identity and addresses (name, namespace, serviceAccount, address, proxyInstanceIp, network,
   * labels, annotations). Pass a created ServiceAccount's `metadata.name` as `serviceAccount` so that the token
   * is minted after it exists.
   */
  workload: pulumi.Input<WorkloadIdentity>;
  /** Mesh settings for sidecar.env and the proxy arguments. */
  mesh?: pulumi.Input<MeshSettings>;
  /**
   * kubeconfig (YAML or JSON) used to mint the token; kept secret. Its credentials travel with the request, so a
   * change of them also re-mints: a kubeconfig embedding a short-lived token would re-mint at every `up` (use a
   * client certificate, a long-lived token or an exec plugin, which the minting program runs itself).
   */
  kubeconfig: pulumi.Input<string>;
  /** kubeconfig context (default: its current-context). */
  kubeContext?: pulumi.Input<string>;
  /** Bootstrap token lifetime and rotation. */
  token?: BootstrapTokenArgs;
  /** Mesh root certificate PEM; default: `root-cert.pem` of ConfigMap `istio-ca-root-cert` in the workload namespace. */
  meshRootCert?: pulumi.Input<string>;
  /** Kubernetes root CA PEM; default: `ca.crt` of ConfigMap `kube-root-ca.crt` in the workload namespace. */
  kubernetesRootCert?: pulumi.Input<string>;
  /**
   * Directory for the bootstrap files on the VM (tctl's `/tmp` would not survive a reboot). Several proxies on
   * one host need distinct directories and container names.
   * @default "/etc/istio-proxy"
   */
  proxyConfigDir?: pulumi.Input<string>;
  /**
   * Container name (unique per proxy on a host).
   * @default "istio-proxy"
   */
  proxyContainerName?: pulumi.Input<string>;
  /** Full proxy image reference; wins over the three below. */
  proxyImage?: pulumi.Input<string>;
  /**
   * Registry of the proxy image (Tetrate's builds: `docker.io/tetrate`).
   * @default "docker.io/istio"
   */
  proxyImageHub?: pulumi.Input<string>;
  /**
   * Image name under the hub.
   * @default "proxyv2"
   */
  proxyImageName?: pulumi.Input<string>;
  /**
   * Image tag.
   * @default "latest"
   */
  proxyImageTag?: pulumi.Input<string>;
  /** @deprecated Use `proxyImage`, `proxyImageHub`, `proxyImageName` and `proxyImageTag` (for `image`, `hub`, `imageName`, `tag`). */
  image?: pulumi.Input<ProxyImageSettings>;
  /** Proxy command-line settings. */
  proxyArgs?: pulumi.Input<ProxyArgsSettings>;
  /** Gateway IP istiod is reached through (adds `--add-host` entries for istiod's cluster-local names). */
  gatewayAddress?: pulumi.Input<string>;
  /** Mesh host names the VM's applications call; kept as one `/etc/hosts` block pointing at `egressBindAddress`. */
  egressHostnames?: pulumi.Input<pulumi.Input<string>[]>;
  /** @deprecated Use `egressHostnames` (MeshVm's name for the same list). */
  egressHosts?: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * The Sidecar egress listener's bind address.
   * @default "127.0.0.2"
   */
  egressBindAddress?: pulumi.Input<string>;
  /** Readiness wait after (re)starting the proxy. */
  readiness?: ReadinessSettings;
  /**
   * Seconds to wait on destroy between deregistration (resources depending on `registrationGate`) and stopping
   * the proxy.
   * @default 5
   */
  deregistrationDelaySeconds?: number;
  /**
   * The VM no longer exists: host steps are kept out of `destroy` (Pulumi `retainOnDelete`). Set it, run
   * `pulumi up` once (no host is contacted: no host input changes), then `pulumi destroy` finishes. The `up` is
   * needed because the engine decides from the state, not the program, whether to retain (pulumi/pulumi#13428).
   * Nothing on the VM is undone; the mesh objects are still removed.
   */
  hostGone?: boolean;
}
