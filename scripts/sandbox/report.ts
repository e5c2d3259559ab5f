// What the sandbox prints: what was created (objects read back from the API server, each proxy's
// readiness read from its host, each WorkloadEntry's registration), where to look and how to tear down.
// Commands shown carry no secret: the API token and the passphrase are read from files.
import { relative } from "node:path";
import type { TestCluster } from "../../test/harness/cluster";
import { NAMESPACE, SERVICE_ACCOUNT, sandboxVms } from "./stackConfig";
import { repoRoot, type SandboxPaths, type SandboxState } from "./state";

const RULE = "=".repeat(100);

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

/** GET http://ADDRESS:15021/healthz/ready: the proxy's readiness as a user would check it. */
export async function proxyReady(address: string): Promise<boolean> {
  try {
    const r = await fetch(`http://${address}:15021/healthz/ready`, { signal: AbortSignal.timeout(5_000) });
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
    say(`  VM host ${vm.name}: ${parts.join(", ")}`);
  }
  say(`  stack "sandbox" (root program): ${objects.length ? objects.join(", ") : "NO mesh objects found"}`);
  let onboarded = true;
  for (const vm of vms) {
    const at = vm.proxyInstanceIp ?? vm.address;
    const ready = await proxyReady(at);
    const registered = await workloadEntryAddress(cluster, vm.name);
    onboarded &&= ready && registered !== undefined;
    say(`  proxy on ${vm.name}: ${ready ? "READY" : "NOT READY"} (http://${at}:15021/healthz/ready)`);
    say(
      `  WorkloadEntry ${NAMESPACE}/${vm.name}: ${registered !== undefined ? `registered (address ${registered})` : "NOT registered"}`,
    );
  }
  say(
    onboarded
      ? `  both VMs onboarded: proxies ready, WorkloadEntries registered`
      : "  NOT every VM is onboarded (see above)",
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
    say(`  ${vm.name}: ${ssh} sudo docker ps`);
    say(
      `  ${" ".repeat(vm.name.length)}  curl -s http://${vm.proxyInstanceIp ?? vm.address}:15021/healthz/ready`,
    );
  }
  // The passphrase file's path absolute: `pulumi -C` reads it after changing into the project dir.
  say("  the stack with the pulumi CLI (the toolchain's; the root program runs through it):");
  say(`    eval "$(scripts/toolchain.sh env)"; export PULUMI_CONFIG_PASSPHRASE_FILE=${paths.passphrase}`);
  say(`    pulumi -C ${shown(paths.projectDir)} stack output --stack sandbox`);
  say(`    pulumi -C ${shown(paths.projectDir)} preview --stack sandbox     # the dry run: no changes`);
  say(`  stack file: ${shown(paths.stackFile)}; logs: ${shown(paths.clusterDir)}/{etcd,kube-apiserver}.log`);
  say();
  say("Tear down (stops every process, removes namespaces, mounts and " + shown(paths.dir) + "/):");
  say("  scripts/sandbox.sh down        # or: npm run sandbox:down");
  say(RULE);
  console.log(lines.join("\n"));
  return onboarded;
}
