// Issues the envoy runtime's workload certificate as Istio's agent asks for one, run by local.Command as
// `node -e <text>` on the machine running Pulumi (see ../localProgram.ts): a TokenRequest token of audience
// istio-ca (the minting program, run as its own `node -e`), then gRPC
// `istio.v1.auth.IstioCertificateService/CreateCertificate` to istiod over TLS verified with the mesh root. Reads a
// CertificateRequestInput on stdin and prints an IssuedCertificate. Error messages name the step, istiod's address
// and gRPC status, and istiod's own message with the token scrubbed from it; never the token or the credentials.
//
// node:http2 and not @grpc/grpc-js: mesh-vm's dependencies are not resolvable here, and a unary gRPC call is one
// HTTP/2 POST with a 5-byte frame header; the request (csr = 1, validity_duration = 3) and answer (cert_chain = 1)
// of istio/api's ca.proto are three protobuf fields, encoded and decoded here.
import { spawnSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { connect, type IncomingHttpHeaders } from "node:http2";
import type { CertificateRequestInput, IssuedCertificate } from "../host/certificateProgram";

/** The minting program's text, which localProgram puts before this one (./mintToken.ts). */
declare const MINT_TOKEN_PROGRAM: string;

/** gRPC status codes by number. */
const codes = [
  "OK",
  "CANCELLED",
  "UNKNOWN",
  "INVALID_ARGUMENT",
  "DEADLINE_EXCEEDED",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED",
  "FAILED_PRECONDITION",
  "ABORTED",
  "OUT_OF_RANGE",
  "UNIMPLEMENTED",
  "INTERNAL",
  "UNAVAILABLE",
  "DATA_LOSS",
  "UNAUTHENTICATED",
];

let token = "";

function scrub(s: unknown): string {
  return token ? String(s).split(token).join("<token>") : String(s);
}

function fail(message: string): never {
  process.stderr.write("mesh-vm certificate: " + scrub(message) + "\n");
  process.exit(1);
}

function varint(n: number | bigint): Buffer {
  const out: number[] = [];
  let v = BigInt(n);
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  return Buffer.from(out);
}

function field(tag: number, bytes: Buffer): Buffer {
  return Buffer.concat([varint(tag), varint(bytes.length), bytes]);
}

function readVarint(buf: Buffer, pos: number): [bigint, number] {
  let v = 0n;
  let shift = 0n;
  for (;;) {
    if (pos >= buf.length) throw new Error("truncated varint");
    const b = buf[pos++]!;
    v |= BigInt(b & 0x7f) << shift;
    shift += 7n;
    if (!(b & 0x80)) return [v, pos];
  }
}

/** The cert_chain strings (field 1) of an IstioCertificateResponse. */
function certChainOf(msg: Buffer): string[] {
  const out: string[] = [];
  let pos = 0;
  while (pos < msg.length) {
    let key: bigint;
    [key, pos] = readVarint(msg, pos);
    const fieldNo = Number(key >> 3n);
    const wire = Number(key & 7n);
    if (wire === 2) {
      let len: bigint;
      [len, pos] = readVarint(msg, pos);
      const end = pos + Number(len);
      if (end > msg.length) throw new Error("truncated field");
      if (fieldNo === 1) out.push(msg.subarray(pos, end).toString("utf8"));
      pos = end;
    } else if (wire === 0) [, pos] = readVarint(msg, pos);
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else throw new Error("unexpected wire type " + wire);
  }
  return out;
}

/** The token, minted by the minting program with the document's own tokenRequest. */
function mintToken(input: CertificateRequestInput): string {
  const minted = spawnSync(process.execPath, ["-e", MINT_TOKEN_PROGRAM], {
    input: JSON.stringify(input.tokenRequest),
    encoding: "utf8",
    timeout: 60000,
  });
  if (minted.status !== 0) fail((minted.stderr || "token minting failed").trim());
  let answer = "";
  try {
    answer = (JSON.parse(minted.stdout) as { token?: string }).token ?? "";
  } catch {
    fail("token minting printed something other than its JSON answer");
  }
  if (!answer) fail("token minting returned no token");
  return answer;
}

/** The answer's chain, checked: for the SPIFFE id asked, each link signed by the next, ending at the mesh root. */
function checkedChain(input: CertificateRequestInput, where: string, body: Buffer): IssuedCertificate {
  if (body.length < 5) fail(where + " sent no certificate");
  let chain: string[] = [];
  try {
    chain = certChainOf(body.subarray(5, 5 + body.readUInt32BE(1)));
  } catch (e) {
    fail("cannot read the answer of " + where + ": " + (e as Error).message);
  }
  let certs: X509Certificate[] = [];
  let meshRoot: X509Certificate | undefined;
  try {
    certs = chain.map((p) => new X509Certificate(p));
    meshRoot = new X509Certificate(input.rootPem);
  } catch (e) {
    fail("the answer of " + where + " holds no valid certificate: " + (e as Error).message);
  }
  if (certs.length === 0 || meshRoot === undefined) fail(where + " sent an empty certificate chain");
  const root = meshRoot;
  const sans = String(certs[0]!.subjectAltName || "").split(", ");
  if (!sans.includes("URI:" + input.spiffeId))
    fail("the certificate from " + where + " is for " + sans.join(", ") + ", not " + input.spiffeId);
  for (let i = 0; i + 1 < certs.length; i++)
    if (!certs[i]!.verify(certs[i + 1]!.publicKey))
      fail("the certificate chain from " + where + " is broken at link " + i);
  const top = certs[certs.length - 1]!;
  if (!(top.fingerprint256 === root.fingerprint256 || top.verify(root.publicKey)))
    fail("the certificate chain from " + where + " does not chain to the mesh root given");
  const own = certs
    .filter((c) => c.fingerprint256 !== root.fingerprint256)
    .map((c) => c.toString().trim() + "\n");
  return {
    certChain: own.join(""),
    notAfter: new Date(certs[0]!.validTo).toISOString(),
    spiffeId: input.spiffeId,
  };
}

/** CreateCertificate on istiod, the token as bearer. */
function createCertificate(input: CertificateRequestInput): void {
  const csr = Buffer.from(input.csrPem, "utf8");
  const msg = Buffer.concat([field(0x0a, csr), varint(0x18), varint(input.validitySeconds)]);
  const frame = Buffer.alloc(5);
  frame.writeUInt32BE(msg.length, 1);
  const where = "istiod at " + input.caAddress + " (" + input.caServerName + ")";
  const timer = setTimeout(() => fail("CreateCertificate to " + where + " timed out after 30s"), 30000);
  const session = connect("https://" + input.caAddress, {
    ca: input.rootPem,
    servername: input.caServerName,
    ALPNProtocols: ["h2"],
  });
  session.on("error", (e) => fail("cannot reach " + where + ": " + e.message));
  const req = session.request({
    ":method": "POST",
    ":path": "/istio.v1.auth.IstioCertificateService/CreateCertificate",
    "content-type": "application/grpc",
    te: "trailers",
    authorization: "Bearer " + token,
    "grpc-timeout": "30S",
  });
  const chunks: Buffer[] = [];
  let status: number | undefined;
  let grpcStatus: number | undefined;
  let grpcMessage = "";
  const takeStatus = (h: IncomingHttpHeaders): void => {
    if (h["grpc-status"] === undefined) return;
    grpcStatus = Number(h["grpc-status"]);
    try {
      grpcMessage = decodeURIComponent(String(h["grpc-message"] || ""));
    } catch {
      grpcMessage = String(h["grpc-message"] || "");
    }
  };
  req.on("response", (h) => {
    status = h[":status"];
    takeStatus(h);
  });
  req.on("trailers", takeStatus);
  req.on("data", (d: Buffer) => chunks.push(d));
  req.on("error", (e) => fail("CreateCertificate to " + where + " failed: " + e.message));
  req.on("end", () => {
    clearTimeout(timer);
    session.close();
    if (status !== 200) fail(where + " answered HTTP " + status + ", not gRPC");
    if (grpcStatus !== 0) {
      const code = codes[grpcStatus ?? -1] || String(grpcStatus);
      const hint =
        grpcStatus === 16
          ? "; the token must be a TokenRequest token of audience istio-ca for the VM's ServiceAccount"
          : "";
      fail(where + " refused CreateCertificate: " + code + ": " + grpcMessage + hint);
    }
    process.stdout.write(JSON.stringify(checkedChain(input, where, Buffer.concat(chunks))));
  });
  req.end(Buffer.concat([frame, msg]));
}

let text = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (d: string) => {
  text += d;
});
process.stdin.on("end", () => {
  let input: CertificateRequestInput;
  try {
    input = JSON.parse(text) as CertificateRequestInput;
  } catch {
    return fail("stdin is not a certificate request document");
  }
  token = mintToken(input);
  createCertificate(input);
});
