// The workload certificate of a VM that runs a plain Envoy (runtime `envoy`): issued by the mesh's own CA,
// istiod, exactly as Istio's agent asks for one: a TokenRequest token of audience `istio-ca` for the VM's
// ServiceAccount, then gRPC `istio.v1.auth.IstioCertificateService/CreateCertificate` on istiod's port 15012
// over TLS verified with the mesh root. A small fixed Node program does both, run by `local.Command` at `up`
// (never at preview); everything it needs arrives on stdin as one secret JSON document, so the cluster
// credentials and the token are never on a command line, in a log or in state (the token lives only inside
// the program). It prints the certificate chain, which is public.
//
// Why node:http2 and not @grpc/grpc-js: the program runs as `node -e` in the user's project, where mesh-vm's
// own dependencies are not resolvable, and a unary gRPC call is one HTTP/2 POST with a 5-byte frame header;
// the request (csr = 1, validity_duration = 3) and answer (cert_chain = 1) of istio/api's ca.proto are three
// protobuf fields, encoded and decoded here.
import { MINT_TOKEN_PROGRAM, TokenRequestInput } from "./tokenRequest";

/** The stdin document of the certificate program. */
export interface CertificateRequestInput {
  /** How to mint the token (the minting program's own input; audiences normally ["istio-ca"]). */
  tokenRequest: TokenRequestInput;
  /** PEM CSR (istiod signs the token's identity, whatever SANs the CSR asks for). */
  csrPem: string;
  /** Requested lifetime; istiod refuses more than its maximum (90 days by default). */
  validitySeconds: number;
  /** `host:port` the machine running Pulumi dials (istiod's 15012, directly or through the gateway). */
  caAddress: string;
  /** The name istiod's serving certificate holds (`istiod.istio-system.svc`): TLS SNI and name check. */
  caServerName: string;
  /** The mesh root (PEM): istiod's certificate and the issued chain must verify against it. */
  rootPem: string;
  /** The SPIFFE id the issued certificate must carry (`spiffe://<td>/ns/<ns>/sa/<sa>`). */
  spiffeId: string;
}

/** What the program prints. */
export interface IssuedCertificate {
  /** Leaf first, then intermediates (without the root): Envoy's certificate_chain. */
  certChain: string;
  /** The leaf's notAfter, RFC 3339. */
  notAfter: string;
  spiffeId: string;
}

/**
 * The program, run as `node -e <text>`. Error messages name the step, istiod's address and gRPC status, and
 * istiod's own message with the token scrubbed from it; never the token or the credentials.
 */
export const ISSUE_CERTIFICATE_PROGRAM = `"use strict";
const http2 = require("node:http2"), cp = require("node:child_process"), crypto = require("node:crypto");
const MINT = ${JSON.stringify(MINT_TOKEN_PROGRAM)};
let token = "";
function scrub(s) { return token ? String(s).split(token).join("<token>") : String(s); }
function fail(message) { process.stderr.write("mesh-vm certificate: " + scrub(message) + "\\n"); process.exit(1); }
function varint(n) { const out = []; let v = BigInt(n); do { let b = Number(v & 0x7fn); v >>= 7n; if (v > 0n) b |= 0x80; out.push(b); } while (v > 0n); return Buffer.from(out); }
function field(tag, bytes) { return Buffer.concat([varint(tag), varint(bytes.length), bytes]); }
function readVarint(buf, pos) { let v = 0n, shift = 0n; for (;;) { if (pos >= buf.length) throw new Error("truncated varint"); const b = buf[pos++]; v |= BigInt(b & 0x7f) << shift; shift += 7n; if (!(b & 0x80)) return [v, pos]; } }
function certChainOf(msg) {
  const out = []; let pos = 0;
  while (pos < msg.length) {
    let key, len; [key, pos] = readVarint(msg, pos);
    const fieldNo = Number(key >> 3n), wire = Number(key & 7n);
    if (wire === 2) { [len, pos] = readVarint(msg, pos); const end = pos + Number(len); if (end > msg.length) throw new Error("truncated field"); if (fieldNo === 1) out.push(msg.subarray(pos, end).toString("utf8")); pos = end; }
    else if (wire === 0) { [, pos] = readVarint(msg, pos); }
    else if (wire === 1) pos += 8; else if (wire === 5) pos += 4; else throw new Error("unexpected wire type " + wire);
  }
  return out;
}
let text = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (d) => { text += d; });
process.stdin.on("end", () => {
  let input;
  try { input = JSON.parse(text); } catch { fail("stdin is not a certificate request document"); }
  const minted = cp.spawnSync(process.execPath, ["-e", MINT], { input: JSON.stringify(input.tokenRequest), encoding: "utf8", timeout: 60000 });
  if (minted.status !== 0) fail((minted.stderr || "token minting failed").trim());
  try { token = JSON.parse(minted.stdout).token; } catch { fail("token minting printed something other than its JSON answer"); }
  if (!token) fail("token minting returned no token");
  const csr = Buffer.from(input.csrPem, "utf8");
  const msg = Buffer.concat([field(0x0a, csr), varint(0x18), varint(input.validitySeconds)]);
  const frame = Buffer.alloc(5); frame.writeUInt32BE(msg.length, 1);
  const where = "istiod at " + input.caAddress + " (" + input.caServerName + ")";
  const timer = setTimeout(() => fail("CreateCertificate to " + where + " timed out after 30s"), 30000);
  const session = http2.connect("https://" + input.caAddress, { ca: input.rootPem, servername: input.caServerName, ALPNProtocols: ["h2"] });
  session.on("error", (e) => fail("cannot reach " + where + ": " + e.message));
  const req = session.request({ ":method": "POST", ":path": "/istio.v1.auth.IstioCertificateService/CreateCertificate",
    "content-type": "application/grpc", te: "trailers", authorization: "Bearer " + token, "grpc-timeout": "30S" });
  const chunks = []; let status, grpcStatus, grpcMessage = "";
  const takeStatus = (h) => { if (h["grpc-status"] !== undefined) { grpcStatus = Number(h["grpc-status"]); try { grpcMessage = decodeURIComponent(String(h["grpc-message"] || "")); } catch { grpcMessage = String(h["grpc-message"] || ""); } } };
  req.on("response", (h) => { status = h[":status"]; takeStatus(h); });
  req.on("trailers", takeStatus);
  req.on("data", (d) => chunks.push(d));
  req.on("error", (e) => fail("CreateCertificate to " + where + " failed: " + e.message));
  req.on("end", () => {
    clearTimeout(timer);
    session.close();
    const codes = ["OK","CANCELLED","UNKNOWN","INVALID_ARGUMENT","DEADLINE_EXCEEDED","NOT_FOUND","ALREADY_EXISTS","PERMISSION_DENIED","RESOURCE_EXHAUSTED","FAILED_PRECONDITION","ABORTED","OUT_OF_RANGE","UNIMPLEMENTED","INTERNAL","UNAVAILABLE","DATA_LOSS","UNAUTHENTICATED"];
    if (status !== 200) fail(where + " answered HTTP " + status + ", not gRPC");
    if (grpcStatus !== 0) {
      const code = codes[grpcStatus] || String(grpcStatus);
      const hint = grpcStatus === 16 ? "; the token must be a TokenRequest token of audience istio-ca for the VM's ServiceAccount" : "";
      fail(where + " refused CreateCertificate: " + code + ": " + grpcMessage + hint);
    }
    const body = Buffer.concat(chunks);
    if (body.length < 5) fail(where + " sent no certificate");
    let chain;
    try { chain = certChainOf(body.subarray(5, 5 + body.readUInt32BE(1))); } catch (e) { fail("cannot read the answer of " + where + ": " + e.message); }
    let certs, root;
    try { certs = chain.map((p) => new crypto.X509Certificate(p)); root = new crypto.X509Certificate(input.rootPem); }
    catch (e) { fail("the answer of " + where + " holds no valid certificate: " + e.message); }
    if (certs.length === 0) fail(where + " sent an empty certificate chain");
    const sans = String(certs[0].subjectAltName || "").split(", ");
    if (!sans.includes("URI:" + input.spiffeId)) fail("the certificate from " + where + " is for " + sans.join(", ") + ", not " + input.spiffeId);
    for (let i = 0; i + 1 < certs.length; i++)
      if (!certs[i].verify(certs[i + 1].publicKey)) fail("the certificate chain from " + where + " is broken at link " + i);
    const top = certs[certs.length - 1];
    if (!(top.fingerprint256 === root.fingerprint256 || top.verify(root.publicKey)))
      fail("the certificate chain from " + where + " does not chain to the mesh root given");
    const own = certs.filter((c) => c.fingerprint256 !== root.fingerprint256).map((c) => c.toString().trim() + "\\n");
    process.stdout.write(JSON.stringify({ certChain: own.join(""), notAfter: new Date(certs[0].validTo).toISOString(), spiffeId: input.spiffeId }));
  });
  req.end(Buffer.concat([frame, msg]));
});
`;

/** Parses the program's stdout. */
export function parseIssuedCertificate(stdout: string): IssuedCertificate {
  let parsed: Partial<IssuedCertificate>;
  try {
    parsed = JSON.parse(stdout) as Partial<IssuedCertificate>;
  } catch {
    throw new Error("certificate issue printed something other than its JSON answer");
  }
  if (typeof parsed.certChain !== "string" || !parsed.certChain.includes("BEGIN CERTIFICATE")) {
    throw new Error("certificate issue returned no certificate chain");
  }
  return {
    certChain: parsed.certChain,
    notAfter: String(parsed.notAfter ?? ""),
    spiffeId: String(parsed.spiffeId ?? ""),
  };
}
