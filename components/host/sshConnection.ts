// SSH connection settings for the host steps, turned into `@pulumi/command` connections with safe defaults:
// pinned host key (opting out is explicit and warns), bounded dialing that still rides out a booting host.
import * as pulumi from "@pulumi/pulumi";
import type * as command from "@pulumi/command";
import { sshDefaults } from "./defaults";

/** A key or an agent to log in with (the names are @pulumi/command's connection fields). */
export interface SshKeyArgs {
  /** OpenSSH/PEM private key (kept secret). */
  privateKey?: pulumi.Input<string>;
  /** Password of `privateKey` (kept secret). */
  privateKeyPassword?: pulumi.Input<string>;
  /** ssh-agent socket, instead of a key. */
  agentSocketPath?: pulumi.Input<string>;
}

/** How to log in: the user and a key or an agent (the VM's proxy user, its admin, or a bastion's user). */
export interface SshCredentialsArgs extends SshKeyArgs {
  /** Default root (a non-root user needs password-less sudo); the proxy steps log in as the proxy user. */
  user?: pulumi.Input<string>;
}

/** The host key every connection to a host is pinned to. */
export interface SshHostKeyArgs {
  /**
   * The host's public key in authorized_keys format (`ssh-ed25519 AAAA…`), pinned for every connection. Required
   * unless `insecureIgnoreHostKey`.
   */
  hostKey?: pulumi.Input<string>;
}

/** A host to dial and log in to: the VM itself, or a bastion in front of it. */
export interface SshHostArgs extends SshCredentialsArgs, SshHostKeyArgs {
  /** Host name or IP the SSH client dials (MeshVm default for the VM: the workload address). */
  host: pulumi.Input<string>;
  /** @default 22 */
  port?: pulumi.Input<number>;
}

/** A jump host the connection goes through (SSH `direct-tcpip`). */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- its own name in the docs and the component schema
export interface BastionArgs extends SshHostArgs {}

/** How the VM is dialed: the host-key opt-out, a bastion, and how long to retry. */
export interface SshDialArgs {
  /** Set to true to connect without checking the host key (prints a warning). Never the default. */
  insecureIgnoreHostKey?: boolean;
  /** Optional bastion. */
  bastion?: BastionArgs;
  /**
   * Failed dials before giving up (about a minute with backoff: enough for a booting host).
   * @default 20
   */
  dialErrorLimit?: pulumi.Input<number>;
  /**
   * Seconds per dial attempt.
   * @default 10
   */
  perDialTimeout?: pulumi.Input<number>;
}

/** Where and how to reach the VM over SSH. */
export interface SshConnectionArgs extends SshHostArgs, SshDialArgs {}

function secretIfSet(value: pulumi.Input<string> | undefined): pulumi.Input<string> | undefined {
  return value === undefined ? undefined : pulumi.secret(value);
}

function hostKeyOrFail(
  hostKey: pulumi.Input<string> | undefined,
  insecure: boolean | undefined,
  what: string,
): pulumi.Input<string> | undefined {
  if (insecure) {
    return undefined;
  }
  if (hostKey === undefined) {
    throw new Error(
      `${what} is required to pin the SSH host key (authorized_keys format, e.g. the content of ` +
        `/etc/ssh/ssh_host_ed25519_key.pub); set insecureIgnoreHostKey: true to connect without checking it`,
    );
  }
  return pulumi.output(hostKey).apply((key) => {
    if (!/^(ssh-|ecdsa-|sk-)\S+ \S+/.test(key.trim())) {
      throw new Error(
        // No excerpt: a private key pasted here by mistake must not reach the message.
        `${what}: the value is not an authorized_keys-format public key; use the public host key as ` +
          'sshd has it, e.g. "ssh-ed25519 AAAA…" (the content of /etc/ssh/ssh_host_ed25519_key.pub)',
      );
    }
    return key.trim();
  });
}

/**
 * Builds a `remote.Command` connection. Throws when neither a host key nor the explicit opt-out is given;
 * `warn` is called once when the opt-out is used.
 */
export function toConnection(
  args: SshConnectionArgs,
  credentials: SshCredentialsArgs & { user: pulumi.Input<string> },
  warn: (message: string) => void,
): command.types.input.remote.ConnectionArgs {
  if (args.insecureIgnoreHostKey) {
    warn(
      `SSH host key checking is disabled for ${typeof args.host === "string" ? args.host : "the host"} ` +
        `(insecureIgnoreHostKey): anyone able to intercept the connection receives the bootstrap token`,
    );
  }
  if (!credentials.privateKey && !credentials.agentSocketPath) {
    throw new Error("SSH connection needs a privateKey or an agentSocketPath");
  }
  // The VM and its bastion are dialed alike: same defaults, same retries, each with its own pinned key.
  const hop = (h: SshHostArgs, user: pulumi.Input<string> | undefined, hostKeyField: string) => ({
    host: h.host,
    port: h.port ?? sshDefaults.port,
    user,
    privateKey: secretIfSet(h.privateKey),
    privateKeyPassword: secretIfSet(h.privateKeyPassword),
    agentSocketPath: h.agentSocketPath,
    hostKey: hostKeyOrFail(h.hostKey, args.insecureIgnoreHostKey, hostKeyField),
    dialErrorLimit: args.dialErrorLimit ?? sshDefaults.dialErrorLimit,
    perDialTimeout: args.perDialTimeout ?? sshDefaults.perDialTimeout,
  });
  // The VM: its address from `args`, the login from `credentials` (the proxy user's or the admin's).
  const vm: SshHostArgs = {
    host: args.host,
    port: args.port,
    hostKey: args.hostKey,
    privateKey: credentials.privateKey,
    privateKeyPassword: credentials.privateKeyPassword,
    agentSocketPath: credentials.agentSocketPath,
  };
  const connection: command.types.input.remote.ConnectionArgs = hop(vm, credentials.user, "hostKey");
  if (args.bastion) {
    connection.proxy = compact(
      hop(args.bastion, args.bastion.user ?? sshDefaults.bastionUser, "bastion.hostKey"),
    );
  }
  return compact(connection);
}

/** Drops undefined fields: the provider rejects unknown or empty connection fields, and they would show as diffs. */
function compact<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
