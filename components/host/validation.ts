// VmProxy's rules on the inputs known when it is constructed: pinned host keys, a way to log in, a usable token
// lifetime, ... Each check takes the names of the fields it reads, so MeshVm's host validation reuses them with
// its own input names (validation/host.ts). Values that are still Outputs are checked where they are used.
import * as pulumi from "@pulumi/pulumi";
import { FieldName, fieldNames, issue, ValidationIssue } from "../rules/issues";
import { tokenDefaults } from "./defaults";
import type { BastionArgs } from "./sshConnection";
import type { BootstrapTokenArgs, HostPreparationArgs, VmProxyArgs } from "./vmProxyArgs";

const authorizedKeyPattern = /^(ssh-|ecdsa-|sk-)\S+ \S+/;
const hostnamePattern = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i;

/** True when `value` is a pulumi.Input that is not known yet (checked later, where it is used). */
function pending(value: unknown): boolean {
  return pulumi.Output.isInstance(value) || value instanceof Promise;
}

/** The host keys: pinned (and in authorized_keys format) unless `insecureIgnoreHostKey`. */
export function hostKeyIssues(
  ssh: { hostKey?: pulumi.Input<string>; insecureIgnoreHostKey?: boolean; bastion?: BastionArgs },
  field: { hostKey: string; bastionHostKey: string; insecureIgnoreHostKey: string },
): ValidationIssue[] {
  if (ssh.insecureIgnoreHostKey === true) return [];
  const out: ValidationIssue[] = [];
  if (ssh.hostKey === undefined) {
    out.push(
      issue(
        field.hostKey,
        "the VM's SSH host key is not pinned",
        "hostKey is required: set it to the VM's public host key (the content of /etc/ssh/ssh_host_ed25519_key.pub, " +
          "or `ssh-keyscan -t ed25519 HOST` checked out of band), or set insecureIgnoreHostKey: true to skip the check",
      ),
    );
  } else if (typeof ssh.hostKey === "string" && !authorizedKeyPattern.test(ssh.hostKey.trim())) {
    out.push(
      issue(
        field.hostKey,
        "not an authorized_keys-format public key",
        'use "<type> <base64>", e.g. "ssh-ed25519 AAAAC3Nza..." (no host name prefix as in known_hosts)',
      ),
    );
  }
  if (ssh.bastion !== undefined && ssh.bastion.hostKey === undefined) {
    out.push(
      issue(
        field.bastionHostKey,
        "the bastion's SSH host key is not pinned",
        `set it to the bastion's public host key, or set ${field.insecureIgnoreHostKey}: true`,
      ),
    );
  }
  return out;
}

/** A login for the proxy user: its own key or agent, or `prepare` (which generates and installs a key). */
export function loginIssues(
  ownCredentials: boolean,
  prepare: HostPreparationArgs | undefined,
  field: { credentials: string; prepareAdmin: string },
  words: { credentials: string; user: string },
): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  if (!ownCredentials && prepare === undefined) {
    out.push(
      issue(
        field.credentials,
        "no way to log in as the proxy user",
        `set ${words.credentials}.privateKey or agentSocketPath for ${words.user}, or set prepare.admin so that a ` +
          "key is generated and installed for it",
      ),
    );
  }
  if (prepare !== undefined) {
    const admin = prepare.admin;
    if (admin === undefined || (admin.privateKey === undefined && admin.agentSocketPath === undefined)) {
      out.push(
        issue(
          field.prepareAdmin,
          "host preparation needs a privileged login",
          "set prepare.admin.privateKey (or agentSocketPath), and prepare.admin.user unless it is root",
        ),
      );
    }
  }
  return out;
}

export function kubeconfigIssues(
  kubeconfig: pulumi.Input<string> | undefined,
  field: string,
): ValidationIssue[] {
  if (kubeconfig !== undefined && kubeconfig !== "") return [];
  return [
    issue(
      field,
      "the bootstrap token cannot be minted without cluster credentials",
      "pass the kubeconfig (contents) the token is requested with; it is kept secret",
    ),
  ];
}

/** Token lifetime (the API server's minimum) and the re-mint margin (below the lifetime). */
export function tokenIssues(token: BootstrapTokenArgs | undefined, field: FieldName): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  const minimum = tokenDefaults.minimumExpirationSeconds;
  const lifetime = token?.expirationSeconds;
  if (lifetime !== undefined && !(Number.isInteger(lifetime) && lifetime >= minimum)) {
    out.push(
      issue(
        field("expirationSeconds"),
        `${JSON.stringify(lifetime)} is not a whole number of seconds >= ${minimum}`,
        `use at least ${minimum} (the API server's minimum); tctl's default is ${tokenDefaults.expirationSeconds}`,
      ),
    );
  }
  const renew = token?.renewBeforeSeconds;
  const limit = lifetime ?? tokenDefaults.expirationSeconds;
  if (renew !== undefined && !(Number.isInteger(renew) && renew >= 0 && renew < limit)) {
    out.push(
      issue(
        field("renewBeforeSeconds"),
        `${JSON.stringify(renew)} is not a whole number of seconds below the token lifetime`,
        `use a margin smaller than token.expirationSeconds, e.g. ${tokenDefaults.renewBeforeSeconds}`,
      ),
    );
  }
  return out;
}

export function deregistrationDelayIssues(delay: number | undefined, field: string): ValidationIssue[] {
  if (delay === undefined || (Number.isInteger(delay) && delay >= 0)) return [];
  return [
    issue(
      field,
      `${JSON.stringify(delay)} is not a whole number >= 0`,
      "use the seconds istiod needs to push the removal to clients, e.g. 5",
    ),
  ];
}

/** Names for the /etc/hosts block; an Output is not an array, so only plain lists are checked here. */
export function egressHostnamesIssues(hostnames: unknown, field: FieldName): ValidationIssue[] {
  if (!Array.isArray(hostnames)) return [];
  const out: ValidationIssue[] = [];
  hostnames.forEach((h: unknown, i) => {
    if (typeof h === "string" && !hostnamePattern.test(h)) {
      out.push(
        issue(
          field(`[${i}]`),
          `${JSON.stringify(h)} is not a host name`,
          'use a mesh service name the VM calls, e.g. "reviews.bookinfo.svc"',
        ),
      );
    }
  });
  return out;
}

/** proxyConfigDir, when known: an absolute directory other than `/`. */
export function configDirIssues(dir: pulumi.Input<string> | undefined, field: string): ValidationIssue[] {
  if (typeof dir !== "string" || pending(dir)) return [];
  if (dir.startsWith("/") && dir.replace(/\/+$/, "") !== "") return [];
  return [issue(field, `"${dir}" is not an absolute directory other than /`, 'use e.g. "/etc/istio-proxy"')];
}

/**
 * Validates the VmProxyArgs known now; returns every issue found (empty when valid). `field` names the inputs
 * in the messages (default `VmProxyArgs.<path>`).
 */
export function validateVmProxyArgs(
  args: VmProxyArgs,
  field: FieldName = fieldNames("VmProxyArgs"),
): ValidationIssue[] {
  const ssh = args.ssh;
  return [
    ...hostKeyIssues(ssh, {
      hostKey: field("ssh.hostKey"),
      bastionHostKey: field("ssh.bastion.hostKey"),
      insecureIgnoreHostKey: "ssh.insecureIgnoreHostKey",
    }),
    ...loginIssues(
      ssh.privateKey !== undefined || ssh.agentSocketPath !== undefined,
      args.prepare,
      { credentials: field("ssh"), prepareAdmin: field("prepare.admin") },
      { credentials: "ssh", user: "the proxy user" },
    ),
    ...kubeconfigIssues(args.kubeconfig, field("kubeconfig")),
    ...tokenIssues(args.token, (p) => field(`token.${p}`)),
    ...configDirIssues(args.proxyConfigDir, field("proxyConfigDir")),
    ...egressHostnamesIssues(args.egressHostnames ?? args.egressHosts, (p) => field(`egressHostnames${p}`)),
    ...deregistrationDelayIssues(args.deregistrationDelaySeconds, field("deregistrationDelaySeconds")),
  ];
}
