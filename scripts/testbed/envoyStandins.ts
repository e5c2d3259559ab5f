// The data-path stand-ins of the envoy suites (envoy-validate/standin: sidecar, gateway, forward), started from
// the built binary and stopped by the suite: the destination — a sidecar with istiod's certificate for a
// service account, behind a passthrough gateway that routes the rendered SNI to it.
import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { envoyStandinPath } from "./envoyValidator";

/** A free TCP port on `address` (the kernel's pick, released at once). */
export function freePort(address = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on("error", reject);
    s.listen(0, address, () => {
      const a = s.address();
      s.close(() => resolve(typeof a === "object" && a ? a.port : 0));
    });
  });
}

/**
 * Starts a stand-in (`netns`: inside that network namespace), recorded in `procs` for the suite to kill, and
 * waits until it listens; `log` sees its stderr.
 */
export async function startStandin(
  procs: ChildProcess[],
  args: string[],
  opts: { netns?: string; log?: (s: string) => void } = {},
): Promise<void> {
  const [cmd, argv] = opts.netns
    ? ["ip", ["netns", "exec", opts.netns, envoyStandinPath(), ...args]]
    : [envoyStandinPath(), args];
  const child = spawn(cmd, argv as string[], { stdio: ["ignore", "ignore", "pipe"] });
  procs.push(child);
  await new Promise<void>((resolve, reject) => {
    let err = "";
    child.once("exit", (code) => reject(new Error(`${args[0]} exited ${code}: ${err}`)));
    child.stderr!.on("data", (d: Buffer) => {
      err += d.toString();
      opts.log?.(d.toString());
      if (d.toString().includes("listening")) resolve();
    });
  });
}

/** The destination's certificate (istiodCertificate.ts) and the mesh root its sidecar trusts. */
export interface DestinationIdentity {
  chain: string;
  key: string;
  rootCertPem: string;
}

/**
 * The mesh destination: a sidecar stand-in on loopback with `identity` (mTLS, clients in cluster.local), behind
 * a passthrough gateway stand-in on `gatewayAddress` that routes `sni` to it. Returns the gateway's port.
 */
export async function startMeshDestination(
  procs: ChildProcess[],
  work: string,
  identity: DestinationIdentity,
  sni: string,
  gatewayAddress = "127.0.0.1",
): Promise<number> {
  writeFileSync(join(work, "destination-chain.pem"), identity.chain);
  writeFileSync(join(work, "destination-key.pem"), identity.key, { mode: 0o600 });
  writeFileSync(join(work, "root.pem"), identity.rootCertPem);
  const sidecarPort = await freePort();
  const gatewayPort = await freePort(gatewayAddress);
  await startStandin(procs, [
    "sidecar",
    "--listen",
    `127.0.0.1:${sidecarPort}`,
    "--cert",
    join(work, "destination-chain.pem"),
    "--key",
    join(work, "destination-key.pem"),
    "--ca",
    join(work, "root.pem"),
    "--trust-domain",
    "cluster.local",
  ]);
  await startStandin(procs, [
    "gateway",
    "--listen",
    `${gatewayAddress}:${gatewayPort}`,
    "--route",
    `${sni}=127.0.0.1:${sidecarPort}`,
  ]);
  return gatewayPort;
}
