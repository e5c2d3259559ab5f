// What the sandbox prints: the skipped host half (prominently, at the start and the end), what was
// created (objects read back from the API server, proxies' readiness read from the hosts), where to
// look and how to tear down. Commands shown carry no secret: the API token is read from a file.
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

export function hostHalfSkipped(missing: string[]): string {
  return [
    RULE,
    "HOST HALF SKIPPED: the stack declares the mesh side only (WorkloadEntry, Sidecar, ServiceEntry);",
    "no SSH step runs and no proxy is started on the two VM hosts.",
    `Why: the provider plugin(s) ${missing.join(" and ")} are missing from the toolchain: the Go module`,
    "proxy this machine reaches does not serve their source, and plugin downloads are off.",
    "On a machine that has them (e.g. a normal Pulumi install: scripts/toolchain.sh then uses the `pulumi`",
    "on PATH and the plugins are downloaded) the same command onboards both hosts: host key pinned, proxy",
    "user and files prepared over SSH, bootstrap token minted, stand-in proxy container started and ready.",
    RULE,
  ].join("\n");
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
  onboardHosts: boolean;
  missing: string[];
  /** Seconds `up` took. */
  seconds: number;
  reused: boolean;
}

export async function printGuide(g: Guide): Promise<void> {
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
  if (g.onboardHosts) {
    for (const vm of vms) {
      const at = vm.proxyInstanceIp ?? vm.address;
      say(
        `  proxy on ${vm.name}: ${(await proxyReady(at)) ? "READY" : "NOT READY"} (http://${at}:15021/healthz/ready)`,
      );
    }
  } else {
    say("  proxies: none (host half skipped, see below)");
  }
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
  say("  stack outputs and config (pulumi CLI from the toolchain):");
  say(
    `    eval "$(scripts/toolchain.sh env)"; PULUMI_CONFIG_PASSPHRASE_FILE=${shown(paths.passphrase)} pulumi -C ${shown(paths.projectDir)} stack output --stack sandbox`,
  );
  say(`  stack file: ${shown(paths.stackFile)}; logs: ${shown(paths.clusterDir)}/{etcd,kube-apiserver}.log`);
  say();
  say("Tear down (stops every process, removes namespaces, mounts and " + shown(paths.dir) + "/):");
  say("  scripts/sandbox.sh down        # or: npm run sandbox:down");
  say(RULE);
  if (!g.onboardHosts) lines.push(hostHalfSkipped(g.missing));
  console.log(lines.join("\n"));
}
