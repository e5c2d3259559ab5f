// The inputs VmProxy (over SSH) and VmBoot (at first boot) share: who the workload is, how its proxy is
// configured and started, and where the bootstrap material comes from. Each component's Args extend this and
// add its delivery's own fields (VmProxy: ssh, prepare (with its dockerGroup), token, deregistration delay,
// hostGone; VmBoot: token, dockerGroup, readyCheck, bundleDir, deregistration delay), and the part of them
// MeshVm's deliveries take as they are (meshVmDeliverySettingKeys).
import type * as pulumi from "@pulumi/pulumi";
import type { ProxyArgsSettings } from "./proxyContainer";
import type { ReadinessSettings } from "./proxyScripts";
import type { MeshSettings, WorkloadIdentity } from "./sidecarEnv";
import type { EnvoyRuntimeArgs } from "../runtime/envoyArgs";
import type { ControlPlaneProxy } from "./controlPlaneProxy";

/**
 * Where and as whom the proxy runs on the VM: tctl's sidecar-bootstrap settings that MeshVm takes at its top level
 * (written as `sidecar-bootstrap.istio.io/*` annotations when set) and VmProxy and VmBoot take beside the others.
 */
export interface ProxyPlacementArgs {
  /**
   * The proxy's account on the VM (tctl's `ssh-user`, whose default is the local user; here the user the TSB guide
   * creates): owns the config directory and runs docker without sudo. The SSH delivery logs in as it (VmProxy unless
   * `ssh.user` says otherwise); the boot delivery creates it at boot.
   * @default "istio-proxy"
   */
  sshUser?: pulumi.Input<string>;
  /**
   * Directory on the VM for sidecar.env, istio-ca.pem, istio-token and the agent's certificates: the seeds' (it
   * survives reboots; tctl's `/tmp/istio-proxy` does not). Several proxies on one host need distinct directories
   * and container names. MeshVm writes it as an annotation when set and when it differs from tctl's default.
   * @default "/etc/istio-proxy" (`/tmp/istio-proxy` with MeshVm's `tctlDefaults`)
   */
  proxyConfigDir?: pulumi.Input<string>;
  /**
   * Container name (unique per proxy on a host; tctl's default).
   * @default "istio-proxy"
   */
  proxyContainerName?: pulumi.Input<string>;
  /**
   * Registry of the proxy image (Tetrate's builds: `docker.io/tetrate`; tctl's default: the mesh's hub, else this).
   * @default the control plane's hub with `controlPlaneProxy`, else "docker.io/istio"
   */
  proxyImageHub?: pulumi.Input<string>;
}

/**
 * The proxy settings MeshVm's deliveries (`host`, `boot`) take as they are; MeshVm's own inputs give the others
 * (ProxyPlacementArgs, the workload). A real interface rather than a Pick: Pulumi's component analyzer types a
 * Pick's fields as Any in the multi-language schema.
 */
export interface MeshVmDeliverySettings {
  /**
   * What runs on the VM: `container` (tctl's `docker run` of the proxy image). A plain string, checked at preview
   * against the runtimes this version implements (runtime/registry.ts); docs/architecture.md names the others.
   * @default "container"
   */
  runtime?: string;
  /**
   * The `envoy` runtime's settings (seed 003: a plain Envoy, a static config, a workload certificate from istiod):
   * the mesh services the VM calls and the east-west gateway's AUTO_PASSTHROUGH address. Only with
   * `runtime: "envoy"`; refused with another runtime. Plain values: they decide the files on the VM.
   */
  envoy?: EnvoyRuntimeArgs;
  /**
   * The `package` runtime's settings: the istio-sidecar version, where the VM gets it (url, file or repository)
   * and the capture mode (docs/package-runtime.md). Refused with another runtime.
   */
  sidecarPackage?: pulumi.Input<SidecarPackageSettings>;
  /** Mesh settings for sidecar.env and the proxy arguments (under MeshVm, the trust domain defaults to MeshVm's). */
  mesh?: pulumi.Input<MeshSettings>;
  /**
   * kubeconfig (YAML or JSON) used to mint the token; kept secret. Its credentials travel with the request, so a
   * change of them also re-mints: a kubeconfig embedding a short-lived token would re-mint at every `up` (use a
   * client certificate, a long-lived token or an exec plugin, which the minting program runs itself).
   */
  kubeconfig: pulumi.Input<string>;
  /** kubeconfig context (default: its current-context). */
  kubeContext?: pulumi.Input<string>;
  /** Mesh root certificate PEM; default: `root-cert.pem` of ConfigMap `istio-ca-root-cert` in the workload namespace. */
  meshRootCert?: pulumi.Input<string>;
  /** Kubernetes root CA PEM; default: `ca.crt` of ConfigMap `kube-root-ca.crt` in the workload namespace. */
  kubernetesRootCert?: pulumi.Input<string>;
  /** Full proxy image reference; wins over `proxyImageHub`, `proxyImageName` and `proxyImageTag`. */
  proxyImage?: pulumi.Input<string>;
  /**
   * Image tag.
   * @default the control plane's tag with `controlPlaneProxy`, else "latest"
   */
  proxyImageTag?: pulumi.Input<string>;
  /** Gateway IP istiod is reached through (adds `--add-host` entries for istiod's cluster-local names). */
  gatewayAddress?: pulumi.Input<string>;
  /**
   * Mesh host names the VM's applications call; kept as one `/etc/hosts` block pointing at `egressBindAddress`
   * (under MeshVm: the first egress listener's bind).
   */
  egressHostnames?: pulumi.Input<pulumi.Input<string>[]>;
  /** Readiness wait on the VM after (re)starting the proxy (120 s by default). */
  readiness?: ReadinessSettings;
  /**
   * The proxy the control plane would inject (readControlPlaneProxy: istiod's injector values, as tctl reads them):
   * an unset image hub, name, tag and log levels follow it, so an upgrade of istiod upgrades the VM at the next
   * `up`. A pinned version outside Istio's supported skew from it warns at preview.
   */
  controlPlaneProxy?: pulumi.Input<ControlPlaneProxy>;
}

// Every key of MeshVmDeliverySettings, listed once: the Record type refuses a missing or an unknown key, and the
// stack configuration's schema is checked against this list by a unit test.
const deliverySettingKeyRecord: Record<keyof MeshVmDeliverySettings, true> = {
  runtime: true,
  envoy: true,
  sidecarPackage: true,
  kubeconfig: true,
  kubeContext: true,
  mesh: true,
  proxyImage: true,
  proxyImageTag: true,
  gatewayAddress: true,
  egressHostnames: true,
  readiness: true,
  meshRootCert: true,
  kubernetesRootCert: true,
  controlPlaneProxy: true,
};
export const meshVmDeliverySettingKeys = Object.keys(
  deliverySettingKeyRecord,
) as (keyof MeshVmDeliverySettings)[];

export interface ProxySettingsArgs extends ProxyPlacementArgs, MeshVmDeliverySettings {
  /**
   * The WorkloadEntry identity and addresses (name, namespace, serviceAccount, address, proxyInstanceIp, network,
   * labels, annotations). Pass a created ServiceAccount's `metadata.name` as `serviceAccount` so that the token
   * is minted after it exists.
   */
  workload: pulumi.Input<WorkloadIdentity>;
  /**
   * Image name under the hub.
   * @default the control plane's image with `controlPlaneProxy`, else "proxyv2"
   */
  proxyImageName?: pulumi.Input<string>;
  /** Proxy command-line settings. */
  proxyArgs?: pulumi.Input<ProxyArgsSettings>;
  /**
   * The Sidecar egress listener's bind address.
   * @default "127.0.0.2"
   */
  egressBindAddress?: pulumi.Input<string>;
  /**
   * Auto-registration (istioctl's `--autoregister`): the WorkloadGroup in the workload's namespace the agent names
   * in ISTIO_META_AUTO_REGISTER_GROUP; istiod then creates the VM's WorkloadEntry `<group>-<instance IP>[-<network>]`
   * from the group's template when the agent connects and deletes it after its grace period once the agent is gone.
   * Runtimes `container` and `package` (Istio's agent); refused with `envoy`, which does not connect to istiod.
   */
  autoRegisterGroup?: pulumi.Input<string>;
}

/** The `package` runtime's settings block (runtime/package/settings.ts checks it at preview). */
export interface SidecarPackageSettings {
  /**
   * The package version the package manager reports once installed (dpkg's Version, rpm's VERSION-RELEASE):
   * installed when absent, upgraded (and the unit restarted) when another is installed.
   */
  version: string;
  /** A URL the VM fetches the .deb or .rpm from (one of url, file, localFile, repository). */
  url?: string;
  /** sha256 of the file at `url`, checked on the VM before it is installed. */
  sha256?: string;
  /** A package file already on the VM (one of url, file, localFile, repository). */
  file?: string;
  /**
   * A package file on the machine that runs Pulumi (one of url, file, localFile, repository): VmProxy copies it to
   * the VM over SSH (SFTP, as the host step's login) when its content changed, and the host step checks its
   * sha256 and installs it. Read at preview: a missing or unreadable file fails naming this field.
   */
  localFile?: string;
  /** Install `name` at `version` from the repositories the VM already has (apt, dnf or yum). */
  repository?: boolean;
  /** @default "istio-sidecar" */
  name?: string;
  /**
   * Traffic capture: `iptables` (Istio's default: istio-start.sh sets the rules from cluster.env) or `none`.
   * @default "iptables"
   */
  capture?: string;
  /** istioctl's --capture-dns (the agent's DNS proxy). @default true */
  captureDns?: boolean;
  /** The cluster id (ISTIO_META_CLUSTER_ID); default the mesh settings' clusterId, else `Kubernetes`. */
  clusterId?: string;
}
