// The bastion's host key check, run by local.Command as `node -e <text>` on the machine running Pulumi (see
// ../localProgram.ts and ../host/bastionCheck.ts). Reads MESH_VM_BASTION_HOST, _PORT, _HOST_KEY (authorized_keys
// format) and MESH_VM_DIAL_TIMEOUT (seconds). Speaks SSH up to the server's key exchange reply (curve25519, host
// key algorithm = the pinned key's type), takes the host key from it and compares. Exit 0 when it matches, or when
// the bastion cannot be asked (unreachable, booting: the steps' own dial limits apply then and report it); exit 1
// naming `bastion.hostKey` and the fix when it presents another key. The signature is not verified: a match proves
// nothing by itself, which is why the steps still pin the key.
import { createHash, generateKeyPairSync, randomBytes } from "node:crypto";
import { connect } from "node:net";

const host = process.env.MESH_VM_BASTION_HOST;
const port = Number(process.env.MESH_VM_BASTION_PORT || "22");
const pinned = (process.env.MESH_VM_BASTION_HOST_KEY || "").trim().split(/\s+/);
const timeout = Number(process.env.MESH_VM_DIAL_TIMEOUT || "10") * 1000;
const where = host + ":" + port;

const fp = (b64: string): string =>
  "SHA256:" + createHash("sha256").update(Buffer.from(b64, "base64")).digest("base64").replace(/=+$/, "");

function done(result: Record<string, string>): never {
  process.stdout.write(JSON.stringify(Object.assign({ bastion: where }, result)));
  process.exit(0);
}

function refuse(presented: string): never {
  process.stderr.write(
    "mesh-vm: the bastion " +
      where +
      " presents the host key " +
      presented +
      ", not the key pinned in bastion.hostKey (" +
      pinned[0] +
      " " +
      fp(pinned[1] ?? "") +
      "); nothing connected through it. " +
      "If the bastion was rebuilt, set bastion.hostKey (MeshVm: host.bastion.hostKey, VmProxy: ssh.bastion.hostKey) to " +
      "the bastion's new public host key, read on the bastion itself (/etc/ssh/ssh_host_*_key.pub) or from its provider, never " +
      "from this connection; if it was not, something else answers at " +
      where +
      ": do not connect through it\n",
  );
  process.exit(1);
}

/** An SSH string: uint32 length, then the bytes. */
const str = (v: Buffer | string): Buffer => {
  const b = Buffer.isBuffer(v) ? v : Buffer.from(v);
  const l = Buffer.alloc(4);
  l.writeUInt32BE(b.length);
  return Buffer.concat([l, b]);
};

/** An unencrypted SSH binary packet around `payload`. */
function packet(payload: Buffer): Buffer {
  let pad = 8 - ((5 + payload.length) % 8);
  if (pad < 4) pad += 8;
  const head = Buffer.alloc(5);
  head.writeUInt32BE(1 + payload.length + pad);
  head[4] = pad;
  return Buffer.concat([head, payload, randomBytes(pad)]);
}

const hostKeyAlgorithms = pinned[0] === "ssh-rsa" ? "rsa-sha2-512,rsa-sha2-256,ssh-rsa" : (pinned[0] ?? "");
const ciphers =
  "chacha20-poly1305@openssh.com,aes128-ctr,aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com";
const macs = "hmac-sha2-256-etm@openssh.com,hmac-sha2-256,hmac-sha2-512,hmac-sha1";
const kexinit = Buffer.concat([
  Buffer.from([20]),
  randomBytes(16),
  str("curve25519-sha256,curve25519-sha256@libssh.org"),
  str(hostKeyAlgorithms),
  str(ciphers),
  str(ciphers),
  str(macs),
  str(macs),
  str("none"),
  str("none"),
  str(""),
  str(""),
  Buffer.alloc(5),
]);
const q = Buffer.from(generateKeyPairSync("x25519").publicKey.export({ format: "jwk" }).x ?? "", "base64url");

/** Handles one packet's payload from the server. */
function onPayload(payload: Buffer): void {
  if (payload[0] === 20) {
    // The server's host key types (its KEXINIT's second name-list): none of the pinned type is a mismatch too.
    const skip = 21 + payload.readUInt32BE(17);
    const offered = payload
      .subarray(skip + 4, skip + 4 + payload.readUInt32BE(skip))
      .toString()
      .split(",");
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

const sock = connect({ host: host ?? "", port, timeout });
sock.on("timeout", () => {
  sock.destroy();
  done({ hostKey: "unchecked", reason: "no answer in " + timeout / 1000 + "s" });
});
sock.on("error", (e: NodeJS.ErrnoException) => done({ hostKey: "unchecked", reason: e.code || e.message }));
sock.on("close", () => done({ hostKey: "unchecked", reason: "closed before the key exchange" }));
sock.on("connect", () => sock.write("SSH-2.0-mesh-vm-host-key-check\r\n"));
let buf = Buffer.alloc(0);
let banner = false;
sock.on("data", (d: Buffer) => {
  buf = Buffer.concat([buf, d]);
  while (!banner) {
    const i = buf.indexOf(10);
    if (i < 0) return;
    const line = buf.subarray(0, i).toString();
    buf = buf.subarray(i + 1);
    if (line.startsWith("SSH-")) {
      banner = true;
      sock.write(packet(kexinit));
    }
  }
  while (buf.length >= 5) {
    const len = buf.readUInt32BE(0);
    if (len > 262144) done({ hostKey: "unchecked", reason: "not an SSH server" });
    if (buf.length < 4 + len) return;
    const payload = buf.subarray(5, 4 + len - buf[4]!);
    buf = buf.subarray(4 + len);
    onPayload(payload);
  }
});
