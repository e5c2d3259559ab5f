// Inputs of VmProxy: the shared proxy settings (proxySettings.ts) and the SSH delivery's own. Types only: the
// defaults live in defaults.ts, the rules in vmProxyValidation.ts.
import * as pulumi from "@pulumi/pulumi";
import type { ProxySettingsArgs } from "./proxySettings";
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

/** The SSH delivery's host-step settings beside the connection; MeshVm's `host` takes them as they are. */
export interface ProxyHostStepArgs {
  /** Create the proxy user, docker group membership, config directory and SSH key as an admin first. */
  prepare?: HostPreparationArgs;
  /** Bootstrap token lifetime and rotation. */
  token?: BootstrapTokenArgs;
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
  /**
   * Check the VM for drift on `pulumi refresh` (one SSH session per VM; docs/reliability.md, Drift): a stopped or
   * removed proxy, a changed or missing file, a changed or missing hosts block, repaired by the next `up`. Default on
   * in Node.js programs; off when the package runs as a component provider for another language (YAML, Python, …),
   * where the engine starts the check's dynamic provider in the program's directory, which does not resolve
   * `@pulumi/pulumi` (pulumi/pulumi#5455): set it to true there and run `pulumi` with `NODE_PATH` naming a
   * `node_modules` that holds `@pulumi/pulumi` and `ssh2` (mesh-vm's own).
   */
  driftCheck?: boolean;
}

export interface VmProxyArgs extends ProxySettingsArgs, ProxyHostStepArgs {
  /** How to reach the VM as the proxy user. Without `privateKey`/`agentSocketPath`, `prepare` must be set: an ED25519 key is generated and installed for that user. */
  ssh: SshConnectionArgs;
}
