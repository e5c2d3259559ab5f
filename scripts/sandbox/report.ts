// What the sandbox prints: what was created (objects read back from the API server, each proxy's
// readiness read from its host, each WorkloadEntry's registration; with istiod, istiod's listing of each
// VM, each agent's certificate and the package host's istio.service), where to look and how to tear down.
// Commands shown carry no secret: the API token and the passphrase are read from files.
import { relative } from "node:path";
import type { TestCluster } from "../testbed/cluster";
import { agentCertificate, certChainPath, packageUnit, SPIFFE_ID, waitIstiodListing } from "./meshTruth";
import { NAMESPACE, readinessUrl, SERVICE_ACCOUNT, sandboxVms, type SandboxVm } from "./stackConfig";
import { repoRoot, type SandboxPaths, type SandboxState } from "./state";

const RULE = "=".repeat(100);
/** Istio's files on the package host (docs/package-runtime.md), as `ls -l` shows their owners and modes. */
const ISTIO_FILES = ["/var/lib/istio/envoy/cluster.env", "/etc/istio/config/mesh", "/etc/certs"];

/** A path as the user types it from the repo root. */
export function shown(path: string): string {
  const rel = relative(repoRoot, path);
  return rel.startsWith("..") ? path : rel;
}

/** Mesh objects of the sandbox namespace, as the API server lists them ("Kind/name"). */
export async function meshObjects(cluster: TestCluster): Promise<string[]> {
  const out: string[] = [];
  for (const [kind, plural] of [
    ["WorkloadEntry", "workloadentries"],
    ["ServiceEntry", "serviceentries"],
    ["Sidecar", "sidecars"],
    ["WorkloadGroup", "workloadgroups"],
  ] as const) {
    const r = await cluster.request("GET", `/apis/networking.istio.io/v1/namespaces/${NAMESPACE}/${plural}`);
    for (const item of (r.body.items ?? []) as { metadata: { name: string } }[])
      out.push(`${kind}/${item.metadata.name}`);
  }
  return out;
}

/** GET the proxy's readiness URL (see readinessUrl) as a user would check it. */
export async function proxyReady(url: string): Promise<boolean> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(5_000) });
    return r.ok;
  } catch {
    return false;
  }
}

export interface Guide {
  paths: SandboxPaths;
  state: SandboxState;
  cluster: TestCluster;
  /** Seconds `up` took. */
  seconds: number;
  reused: boolean;
}

/** The WorkloadEntry `name` of the sandbox namespace as registered (its address), or undefined. */
export async function workloadEntryAddress(cluster: TestCluster, name: string): Promise<string | undefined> {
  const r = await cluster.request(
    "GET",
    `/apis/networking.istio.io/v1/namespaces/${NAMESPACE}/workloadentries/${name}`,
  );
  return r.status === 200 ? String(r.body.spec?.address ?? "") : undefined;
}

/** Prints the guide; true when both proxies are ready and both WorkloadEntries registered. */
export async function printGuide(g: Guide): Promise<boolean> {
  const { paths, state, cluster } = g;
  const vms = sandboxVms(state.hosts);
  const objects = await meshObjects(cluster);
  const lines: string[] = [];
  const say = (s = ""): number => lines.push(s);
  say(RULE);
  say(
    `mesh-vm sandbox is up${g.reused ? " (test bed reused)" : ""} in ${g.seconds.toFixed(0)} s; state in ${shown(paths.dir)}/`,
  );
  say();
  say("What was created:");
  say(
    `  kube-apiserver ${cluster.server} (etcd, Istio CRDs), namespace ${NAMESPACE}, ServiceAccount ${SERVICE_ACCOUNT}`,
  );
  for (const vm of vms) {
    const parts = [`address ${vm.address}`];
    if (vm.proxyInstanceIp) parts.push(`proxy instance IP ${vm.proxyInstanceIp}`);
    parts.push(`SSH ${vm.sshHost ?? vm.address}`);
    if (vm.network) parts.push(`network ${vm.network}`);
    const pkg = vm.host.sidecarPackage;
    if (pkg) parts.push(`systemd, package runtime: istio-sidecar ${pkg.version} from ${pkg.file}`);
    else if (state.withIstiod) parts.push("container runtime: the agent image in podman");
    say(`  VM host ${vm.name}: ${parts.join(", ")}`);
  }
  say(`  stack "sandbox" (root program): ${objects.length ? objects.join(", ") : "NO mesh objects found"}`);
  const istiod = state.withIstiod ? state.istiod : undefined;
  if (istiod)
    say(
      `  istiod (pilot-discovery, PID ${istiod.pid}): xDS/CA on ${istiod.address}:${istiod.port} as ${istiod.discoveryAddress}, its own mesh root; agent image ${state.agentImage ?? "?"}`,
    );
  let onboarded = true;
  for (const vm of vms) {
    const url = readinessUrl(vm, !!state.withIstiod);
    const ready = await proxyReady(url);
    const registered = await workloadEntryAddress(cluster, vm.name);
    onboarded &&= ready && registered !== undefined;
    say(`  ${state.withIstiod ? "agent" : "proxy"} on ${vm.name}: ${ready ? "READY" : "NOT READY"} (${url})`);
    say(
      `  WorkloadEntry ${NAMESPACE}/${vm.name}: ${registered !== undefined ? `registered (address ${registered})` : "NOT registered"}`,
    );
    if (istiod) onboarded = (await meshTruth(g, vm, say)) && onboarded;
  }
  say(
    !onboarded
      ? "  NOT every VM is onboarded (see above)"
      : istiod
        ? "  both VMs onboarded: agents ready, WorkloadEntries registered, listed by istiod, certificates issued"
        : "  both VMs onboarded: proxies ready, WorkloadEntries registered",
  );
  say();
  say("Where to look:");
  say(
    `  export KUBECONFIG=${paths.kubeconfig}   # then: kubectl -n ${NAMESPACE} get workloadentries,serviceentries,sidecars -o yaml`,
  );
  say("  without kubectl (the token is read from a 0600 file, never typed):");
  say(
    `    curl -s --cacert ${shown(paths.clusterCa)} -H @${shown(paths.apiAuthHeader)} ${cluster.server}/apis/networking.istio.io/v1/namespaces/${NAMESPACE}/workloadentries`,
  );
  for (const vm of vms) {
    const ssh = `ssh -o UserKnownHostsFile=${shown(paths.knownHosts)} -o StrictHostKeyChecking=yes -i ${shown(paths.adminKey(vm.name))} ${vm.host.adminUser}@${vm.sshHost ?? vm.address}`;
    const indent = `  ${" ".repeat(vm.name.length)}  `;
    if (vm.host.sidecarPackage) {
      // Istio's own unit, its files in Istio's places, and the nat rules istio-start.sh set.
      say(`  ${vm.name}: ${ssh} sudo systemctl status istio --no-pager`);
      say(`${indent}${ssh} sudo ls -l ${ISTIO_FILES.join(" ")}`);
      const iptables = (await packageUnit(vm).catch(() => undefined))?.iptables ?? "iptables";
      say(
        `${indent}${ssh} sudo ${iptables} -t nat -S${iptables === "iptables" ? "" : "   # istio-iptables chose the legacy backend"}`,
      );
    } else say(`  ${vm.name}: ${ssh} sudo docker ps`);
    say(`${indent}curl -s ${readinessUrl(vm, !!state.withIstiod)}`);
    if (istiod)
      say(`${indent}${ssh} sudo cat ${certChainPath(vm)} | openssl x509 -noout -ext subjectAltName`);
  }
  if (istiod) {
    say(`  istiod's view of the mesh (its debug port, loopback only):`);
    say(`    curl -s http://127.0.0.1:${istiod.httpPort}/debug/endpointShardz`);
  }
  // The passphrase file's path absolute: `pulumi -C` reads it after changing into the project dir.
  say("  the stack with the pulumi CLI (the toolchain's; the root program runs through it):");
  say(`    eval "$(scripts/toolchain.sh env)"; export PULUMI_CONFIG_PASSPHRASE_FILE=${paths.passphrase}`);
  say(`    pulumi -C ${shown(paths.projectDir)} stack output --stack sandbox`);
  say(`    pulumi -C ${shown(paths.projectDir)} preview --stack sandbox     # the dry run: no changes`);
  say(`  stack file: ${shown(paths.stackFile)}; logs: ${shown(paths.clusterDir)}/{etcd,kube-apiserver}.log`);
  if (istiod) say(`  istiod's log: ${shown(istiod.dir)}/istiod.log`);
  say();
  say("Tear down (stops every process, removes namespaces, mounts and " + shown(paths.dir) + "/):");
  say("  scripts/sandbox.sh down        # or: npm run sandbox:down");
  say(RULE);
  console.log(lines.join("\n"));
  return onboarded;
}

/** With istiod: says whether istiod lists the VM and whether its agent holds its certificate; true when both. */
async function meshTruth(g: Guide, vm: SandboxVm, say: (s?: string) => number): Promise<boolean> {
  const listing = await waitIstiodListing(g.state.istiod!, vm);
  const listed = listing.serviceAccount === SPIFFE_ID;
  say(
    listed
      ? `  istiod lists ${vm.name}: endpoint ${listing.address} with identity ${listing.serviceAccount} (/debug/endpointShardz)`
      : `  istiod does NOT list ${vm.name} with ${SPIFFE_ID} (/debug/endpointShardz${listing.address ? `: found ${listing.address} as ${listing.serviceAccount}` : ""})`,
  );
  const cert = await agentCertificate(g.cluster, vm);
  const issued = !!cert && cert.subjectAltName === `URI:${SPIFFE_ID}` && cert.signedByIstiod;
  const chain = certChainPath(vm);
  say(
    cert
      ? `  agent certificate on ${vm.name} (${chain}): ${cert.subjectAltName}, ${cert.signedByIstiod ? "signed by istiod's root" : "NOT signed by istiod's root"}, valid until ${cert.validTo}`
      : `  agent certificate on ${vm.name}: NONE at ${chain}`,
  );
  return listed && issued && (await unitLine(vm, say));
}

/** On the package host: says whether Istio's unit runs from the package the stack names; true when it does. */
export async function unitLine(vm: SandboxVm, say: (s?: string) => number): Promise<boolean> {
  const pkg = vm.host.sidecarPackage;
  if (!pkg) return true;
  const unit = await packageUnit(vm).catch(() => undefined);
  const running = unit?.state === "active" && unit.version === pkg.version;
  say(
    `  istio.service on ${vm.name}: ${unit?.state || "unknown"}${running ? "" : " (NOT running)"}, istio-sidecar ${unit?.version ? `${unit.version} installed` : "NOT installed"} (systemd)`,
  );
  return running;
}
