// What the sandbox with istiod (`up --istiod`) checks and reports beyond the stand-in's readiness: the real
// istiod lists each VM (its /debug/endpointShardz holds the WorkloadEntry's address with the VM's SPIFFE
// identity), and the real Istio agent on each host holds a certificate for that identity signed by istiod's
// root; on the package host, Istio's istio.service runs from the installed istio-sidecar. Read from istiod's
// loopback debug port, from the host's filesystem (its root is mounted on this machine; only the certificate
// chain is read, never the key) and inside the host (systemctl, dpkg: no SSH session).
import { X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { firstCertificatePem } from "../testbed/certs";
import type { TestCluster } from "../testbed/cluster";
import { runInHost } from "../testbed/hosts/netnsHost";
import { readRecord } from "../testbed/hosts/registry";
import { addressesOf, endpointsOf, istiodDebug, type IstiodRecord } from "../testbed/istiod";
import { NAMESPACE, SERVICE_ACCOUNT, type SandboxVm } from "./stackConfig";

/** The identity istiod and the agent give both VMs (trust domain cluster.local). */
export const SPIFFE_ID = `spiffe://cluster.local/ns/${NAMESPACE}/sa/${SERVICE_ACCOUNT}`;
/** MeshVm's default proxyConfigDir (the sandbox sets none): the agent writes its certificates under it. */
export const PROXY_CONFIG_DIR = "/etc/istio-proxy";
export const CERT_CHAIN = `${PROXY_CONFIG_DIR}/certs/cert-chain.pem`;
/** The package runtime's agent writes them beside its root, in Istio's /etc/certs (cluster.env's OUTPUT_CERTS). */
export const PACKAGE_CERT_CHAIN = "/etc/certs/cert-chain.pem";

/** Where the VM's agent keeps its certificate chain: the container runtime's, or the package runtime's. */
export function certChainPath(vm: SandboxVm): string {
  return vm.host.sidecarPackage ? PACKAGE_CERT_CHAIN : CERT_CHAIN;
}

export interface IstiodListing {
  /** The VM's address as istiod lists it, or undefined when istiod does not list it. */
  address?: string;
  serviceAccount?: string;
}

/** The VM as istiod lists it in /debug/endpointShardz (by its WorkloadEntry address). */
export async function istiodListing(istiod: IstiodRecord, vm: SandboxVm): Promise<IstiodListing> {
  const r = await istiodDebug(istiod.httpPort, "/debug/endpointShardz");
  const endpoint = endpointsOf(r.body).find((e) => addressesOf(e).includes(vm.address));
  if (!endpoint) return {};
  return {
    address: vm.address,
    serviceAccount: String(endpoint.ServiceAccount ?? endpoint.serviceAccount ?? ""),
  };
}

/** Polls istiodListing until istiod lists the VM with its identity (it learns WorkloadEntries by watch). */
export async function waitIstiodListing(
  istiod: IstiodRecord,
  vm: SandboxVm,
  timeoutMs = 30_000,
): Promise<IstiodListing> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const listing = await istiodListing(istiod, vm).catch((): IstiodListing => ({}));
    if (listing.serviceAccount === SPIFFE_ID || Date.now() > deadline) return listing;
    await new Promise((r) => setTimeout(r, 500));
  }
}

export interface AgentCertificate {
  /** e.g. `URI:spiffe://cluster.local/ns/bookinfo/sa/bookinfo-ratings`. */
  subjectAltName: string;
  /** Whether istiod's root (istio-ca-root-cert as istiod published it) signed it. */
  signedByIstiod: boolean;
  validTo: string;
}

/** The leaf of the agent's cert-chain.pem (certChainPath) on the VM's host, or undefined when there is none. */
export async function agentCertificate(
  cluster: TestCluster,
  vm: SandboxVm,
): Promise<AgentCertificate | undefined> {
  const record = readRecord(vm.host.id);
  if (!record) return undefined;
  const chain = await readFile(join(record.root, certChainPath(vm)), "utf8").catch(() => "");
  const leafPem = firstCertificatePem(chain);
  if (!leafPem) return undefined;
  const leaf = new X509Certificate(leafPem);
  const cm = await cluster.request("GET", `/api/v1/namespaces/${NAMESPACE}/configmaps/istio-ca-root-cert`);
  const rootPem = cm.status === 200 ? String(cm.body.data?.["root-cert.pem"] ?? "") : "";
  const root = rootPem ? new X509Certificate(rootPem) : undefined;
  return {
    subjectAltName: leaf.subjectAltName ?? "",
    signedByIstiod: !!root && leaf.checkIssued(root) && leaf.verify(root.publicKey),
    validTo: leaf.validTo,
  };
}

export interface PackageUnit {
  /** `systemctl is-active istio.service` on the host, e.g. "active". */
  state: string;
  /** The installed istio-sidecar's version (dpkg), or "" when it is not installed. */
  version: string;
  /**
   * The iptables command whose nat table holds Istio's chains: istio-iptables picks the backend (legacy or nft)
   * by itself, and plain `iptables` on Debian only hints at the other one.
   */
  iptables: "iptables" | "iptables-legacy";
}

/** Istio's unit and package on the package host, read inside the host (no SSH session). */
export async function packageUnit(vm: SandboxVm): Promise<PackageUnit | undefined> {
  const record = readRecord(vm.host.id);
  if (!record?.initPid) return undefined;
  const r = await runInHost(
    record.initPid,
    [
      "systemctl is-active istio.service",
      "iptables-legacy-save -t nat 2>/dev/null | grep -q '^:ISTIO_' && echo iptables-legacy || echo iptables",
      "dpkg-query -W -f='${Version}' istio-sidecar 2>/dev/null",
    ].join("; "),
    { check: false },
  );
  const [state = "", iptables = "", version = ""] = r.stdout.split("\n").map((l) => l.trim());
  return { state, version, iptables: iptables === "iptables-legacy" ? iptables : "iptables" };
}
