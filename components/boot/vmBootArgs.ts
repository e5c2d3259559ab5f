// The inputs of VmBoot (boot-time delivery): the shared proxy settings (host/proxySettings.ts) and the boot
// delivery's own. Types only.
import type * as pulumi from "@pulumi/pulumi";
import type { ProxySettingsArgs } from "../host/proxySettings";

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

/**
 * The boot delivery's own inputs, beside the proxy settings: the same for a standalone VmBoot and for MeshVm's
 * `boot`.
 */
export interface BootDeliveryArgs {
  /** Token lifetime and rotation (it only has to outlive the time until the VM first starts its proxy). @default { expirationSeconds: 3600 } (600 to 86400) */
  token?: BootTokenArgs;
  /** Group that may use docker on the VM, created at boot when missing. @default "docker" */
  dockerGroup?: pulumi.Input<string>;
  /** How `up` observes readiness before registering. @default polls the status port on `address` for 900 s */
  readyCheck?: BootReadyCheckArgs;
  /** Also write tctl's offline bundle (etc/…, bin/start-istio-proxy.sh) to this local directory (removed on destroy). */
  bundleDir?: pulumi.Input<string>;
  /** Seconds between deregistration and the end of destroy. @default 5 */
  deregistrationDelaySeconds?: number;
}

export interface VmBootArgs extends ProxySettingsArgs, BootDeliveryArgs {}

/** One file of the offline bundle. */
export interface BootBundleFile {
  /** Relative path in the bundle (`etc/istio-token`, `bin/start-istio-proxy.sh`). */
  path: string;
  /** Octal mode. */
  mode: string;
  content: string;
}
