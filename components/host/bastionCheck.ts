// The bastion's host key, checked before any step connects through it. @pulumi/command reports a wrong bastion key
// exactly as a wrong VM key ("proxy: after N failed attempts: ssh: handshake failed: ssh: host key mismatch", after
// spending every dial attempt), so a user cannot tell which of the two pins to fix. This check asks the bastion
// for its host key (SSH key exchange only: no login, no session, nothing in its auth log but a closed connection)
// and refuses a key other than the pinned one with a message naming `bastion.hostKey`. It runs when the bastion's
// address or pinned key changes, never on a no-op `up`; every step's connection waits for it. The program is
// ../programs/bastionHostKeyCheck.ts, run by `local.Command` on the machine running Pulumi.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { localProgram } from "../localProgram";
import type { BastionArgs } from "./sshConnection";
import { sshDefaults } from "./defaults";

/**
 * The check for one connection's bastion, or undefined without a bastion or without a pinned bastion key
 * (`insecureIgnoreHostKey`). Its `stdout` is what the connections wait for.
 */
export function bastionHostKeyCheck(
  name: string,
  bastion: BastionArgs | undefined,
  perDialTimeout: pulumi.Input<number> | undefined,
  insecureIgnoreHostKey: boolean | undefined,
  opts: pulumi.CustomResourceOptions,
): command.local.Command | undefined {
  if (bastion === undefined || bastion.hostKey === undefined || insecureIgnoreHostKey) return undefined;
  return new command.local.Command(
    `${name}-bastion-host-key`,
    {
      interpreter: ["node", "-e"],
      create: localProgram("bastionHostKeyCheck"),
      // Public values only (address, port, public key), in the environment: no quoting, no command line.
      environment: {
        MESH_VM_BASTION_HOST: bastion.host,
        MESH_VM_BASTION_PORT: pulumi.output(bastion.port ?? sshDefaults.port).apply(String),
        MESH_VM_BASTION_HOST_KEY: pulumi.output(bastion.hostKey).apply((k) => k.trim()),
        MESH_VM_DIAL_TIMEOUT: pulumi.output(perDialTimeout ?? sshDefaults.perDialTimeout).apply(String),
      },
      addPreviousOutputInEnv: false,
    },
    opts,
  );
}

/** `host`, available only once `check` ran: every connection built from it waits for the check. */
export function afterCheck(
  host: pulumi.Input<string>,
  check: command.local.Command | undefined,
): pulumi.Input<string> {
  return check === undefined ? host : pulumi.all([check.stdout, host]).apply(([, h]) => h);
}
