// The bastion's host key, checked before any step connects through it. @pulumi/command reports a wrong bastion key
// exactly as a wrong VM key ("proxy: after N failed attempts: ssh: handshake failed: ssh: host key mismatch", after
// spending every dial attempt), so a user cannot tell which of the two pins to fix. This check asks the bastion
// for its host key (SSH key exchange only: no login, no session, nothing in its auth log but a closed connection)
// and refuses a key other than the pinned one with a message naming `bastion.hostKey`. It runs when the bastion's
// address or pinned key changes, never on a no-op `up`; every step's connection waits for it.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { BastionArgs } from "./sshConnection";
import { sshDefaults } from "./defaults";

/**
 * A fixed Node program (`node -e`), run on the machine running Pulumi. Reads MESH_VM_BASTION_HOST, _PORT,
 * _HOST_KEY (authorized_keys format) and MESH_VM_DIAL_TIMEOUT (seconds). Speaks SSH up to the server's key
 * exchange reply (curve25519, host key algorithm = the pinned key's type), takes the host key from it and
 * compares. Exit 0 when it matches, or when the bastion cannot be asked (unreachable, booting: the steps' own
 * dial limits apply then and report it); exit 1 naming `bastion.hostKey` and the fix when it presents another key.
 * The signature is not verified: a match proves nothing by itself, which is why the steps still pin the key.
 */
export const BASTION_HOST_KEY_CHECK_PROGRAM = `"use strict";
const net = require("node:net"), crypto = require("node:crypto");
const host = process.env.MESH_VM_BASTION_HOST, port = Number(process.env.MESH_VM_BASTION_PORT || "22");
const pinned = (process.env.MESH_VM_BASTION_HOST_KEY || "").trim().split(/\\s+/);
const timeout = Number(process.env.MESH_VM_DIAL_TIMEOUT || "10") * 1000;
const where = host + ":" + port;
const fp = (b64) => "SHA256:" + crypto.createHash("sha256").update(Buffer.from(b64, "base64")).digest("base64").replace(/=+$/, "");
function done(result) { process.stdout.write(JSON.stringify(Object.assign({ bastion: where }, result))); process.exit(0); }
function refuse(presented) {
  process.stderr.write("mesh-vm: the bastion " + where + " presents the host key " + presented +
    ", not the key pinned in bastion.hostKey (" + pinned[0] + " " + fp(pinned[1]) + "); nothing connected through it. " +
    "If the bastion was rebuilt, set bastion.hostKey (MeshVm: host.bastion.hostKey, VmProxy: ssh.bastion.hostKey) to " +
    "the bastion's new public host key, read on the bastion itself (/etc/ssh/ssh_host_*_key.pub) or from its provider, never " +
    "from this connection; if it was not, something else answers at " + where + ": do not connect through it\\n");
  process.exit(1);
}
const str = (v) => { const b = Buffer.isBuffer(v) ? v : Buffer.from(v); const l = Buffer.alloc(4); l.writeUInt32BE(b.length); return Buffer.concat([l, b]); };
function packet(payload) {
  let pad = 8 - ((5 + payload.length) % 8);
  if (pad < 4) pad += 8;
  const head = Buffer.alloc(5); head.writeUInt32BE(1 + payload.length + pad); head[4] = pad;
  return Buffer.concat([head, payload, crypto.randomBytes(pad)]);
}
const hostKeyAlgorithms = pinned[0] === "ssh-rsa" ? "rsa-sha2-512,rsa-sha2-256,ssh-rsa" : pinned[0];
const ciphers = "chacha20-poly1305@openssh.com,aes128-ctr,aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com";
const macs = "hmac-sha2-256-etm@openssh.com,hmac-sha2-256,hmac-sha2-512,hmac-sha1";
const kexinit = Buffer.concat([Buffer.from([20]), crypto.randomBytes(16),
  str("curve25519-sha256,curve25519-sha256@libssh.org"), str(hostKeyAlgorithms), str(ciphers), str(ciphers),
  str(macs), str(macs), str("none"), str("none"), str(""), str(""), Buffer.alloc(5)]);
const q = Buffer.from(crypto.generateKeyPairSync("x25519").publicKey.export({ format: "jwk" }).x, "base64url");
const sock = net.connect({ host, port, timeout });
sock.on("timeout", () => { sock.destroy(); done({ hostKey: "unchecked", reason: "no answer in " + timeout / 1000 + "s" }); });
sock.on("error", (e) => done({ hostKey: "unchecked", reason: e.code || e.message }));
sock.on("close", () => done({ hostKey: "unchecked", reason: "closed before the key exchange" }));
sock.on("connect", () => sock.write("SSH-2.0-mesh-vm-host-key-check\\r\\n"));
let buf = Buffer.alloc(0), banner = false;
sock.on("data", (d) => {
  buf = Buffer.concat([buf, d]);
  while (!banner) {
    const i = buf.indexOf(10);
    if (i < 0) return;
    const line = buf.subarray(0, i).toString();
    buf = buf.subarray(i + 1);
    if (line.startsWith("SSH-")) { banner = true; sock.write(packet(kexinit)); }
  }
  while (buf.length >= 5) {
    const len = buf.readUInt32BE(0);
    if (len > 262144) done({ hostKey: "unchecked", reason: "not an SSH server" });
    if (buf.length < 4 + len) return;
    const payload = buf.subarray(5, 4 + len - buf[4]);
    buf = buf.subarray(4 + len);
    if (payload[0] === 20) {
      // The server's host key types (its KEXINIT's second name-list): none of the pinned type is a mismatch too.
      const skip = 21 + payload.readUInt32BE(17);
      const offered = payload.subarray(skip + 4, skip + 4 + payload.readUInt32BE(skip)).toString().split(",");
      if (!hostKeyAlgorithms.split(",").some((a) => offered.includes(a)))
        refuse("types " + offered.join(", ") + " only, no " + pinned[0] + " key");
      sock.write(packet(Buffer.concat([Buffer.from([30]), str(q)])));
    }
    if (payload[0] === 1) {
      const reason = payload.subarray(9, 9 + payload.readUInt32BE(5)).toString();
      done({ hostKey: "unchecked", reason });
    }
    if (payload[0] === 31) {
      const blob = payload.subarray(5, 5 + payload.readUInt32BE(1));
      const type = blob.subarray(4, 4 + blob.readUInt32BE(0)).toString();
      const key = blob.toString("base64");
      if (type !== pinned[0] || key !== pinned[1]) refuse(type + " " + fp(key));
      sock.removeAllListeners("close");
      sock.destroy();
      done({ hostKey: "matches" });
    }
  }
});
`;

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
      create: BASTION_HOST_KEY_CHECK_PROGRAM,
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
