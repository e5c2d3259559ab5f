// The `sandbox` stack's configuration (the root program's `mesh-vm:` keys, see Pulumi.yaml) for the
// sandbox's test bed: the seeds' ratings example on two VMs. Pure: the values to write, with the
// secrets apart so they are set encrypted (`pulumi config set --secret --path`) and never in plain text.
import type { SandboxHost, SandboxSidecarPackage } from "./state";

/** The seeds' ratings example: its namespace and ServiceAccount (the test bed creates both). */
export const NAMESPACE = "bookinfo";
export const SERVICE_ACCOUNT = "bookinfo-ratings";
/** The stand-in proxy image every test host has (scripts/testbed/prepare-host.sh imports it). */
export const STANDIN_PROXY_IMAGE = "localhost/mesh-vm-standin-proxy:test";
/** Where the stand-in proxy answers readiness (Envoy's readiness port, as the real proxy). */
export const STANDIN_READINESS_PORT = 15021;
/** Without Envoy nothing serves 15021: the Istio agent's own status port says it is ready (it has certificates). */
export const AGENT_READINESS_PORT = 15020;
export const READINESS_PATH = "/healthz/ready";

/** Fixed, so a new sandbox cluster (new port, new kubeconfig) is the same cluster to the provider. */
export const CLUSTER_IDENTIFIER = "mesh-vm-sandbox";

export interface SandboxVm {
  name: string;
  host: SandboxHost;
  /** Where pods reach the VM (WorkloadEntry address). */
  address: string;
  /** Where the proxy binds its inbound listeners, when not `address`. */
  proxyInstanceIp?: string;
  /** Where SSH goes, when not `address`. */
  sshHost?: string;
  network?: string;
}

/** The two sandbox VMs: same network (address = VM IP), and segregated (as test/e2e/onboard.test.ts). */
export function sandboxVms(hosts: SandboxHost[]): SandboxVm[] {
  const byName = (name: string): SandboxHost => {
    const h = hosts.find((x) => x.name === name);
    if (!h) throw new Error(`the sandbox has no host ${name}`);
    return h;
  };
  const a = byName("ratings-vm");
  const b = byName("ratings-vm-2");
  return [
    { name: "ratings-vm", host: a, address: a.addresses.vm! },
    {
      name: "ratings-vm-2",
      host: b,
      address: b.addresses.second!,
      proxyInstanceIp: b.addresses.vm!,
      // SSH over a third address, apart from the public and the private one.
      sshHost: b.addresses.third!,
      network: "vm-network",
    },
  ];
}

/** The real istiod of `up --istiod`, as the VMs' proxies need it. */
export interface SandboxIstiod {
  /** istiod's xDS/CA address on a test network's gateway (the VMs' `host.gatewayAddress`). */
  address: string;
  /** `istiod.istio-system.svc:<port>`: the name in istiod's certificate (`host.mesh.discoveryAddress`). */
  discoveryAddress: string;
  /** The real Istio agent image, imported into each host's podman. */
  agentImage: string;
}

export interface StackConfig {
  /** Plain values by full key (`mesh-vm:vms` holds the whole list; secrets are left out of it). */
  plain: Record<string, unknown>;
  /** Secret values by `--path` key, e.g. `mesh-vm:vms[0].host.prepare.admin.privateKey`. */
  secrets: { key: string; value: string }[];
}

/**
 * The stack config. Each VM gets a `host` (pinned host key, preparation as the host's admin with its
 * key as a secret, the stand-in proxy image), so `pulumi up` onboards the hosts too: proxy user and
 * files prepared over SSH, bootstrap token minted, proxy started and ready, then the WorkloadEntry.
 * With `istiod`, each host runs the real agent instead, as test/e2e/istiod.test.ts does: istiod's names
 * mapped to its gateway address (as through an east-west gateway), readiness on the agent's status port; the
 * host holding a `sidecarPackage` (the systemd one) runs it with the package runtime, logging in as its admin
 * with the admin's key (`host.privateKey`), as test/e2e/packageRuntime.test.ts does.
 */
export function sandboxStackConfig(opts: {
  vms: SandboxVm[];
  kubeconfig: string;
  adminKeys: Record<string, string>;
  istiod?: SandboxIstiod;
}): StackConfig {
  const secrets: StackConfig["secrets"] = [{ key: "mesh-vm:kubeconfig", value: opts.kubeconfig }];
  const vms = opts.vms.map((vm, i) => {
    const entry: Record<string, unknown> = {
      name: vm.name,
      namespace: NAMESPACE,
      address: vm.address,
      serviceAccount: SERVICE_ACCOUNT,
      labels: { app: "ratings", version: "v3" },
      ports: [{ name: "http", number: 9080 }],
      ...(vm.network ? { network: vm.network } : {}),
      ...(vm.sshHost ? { sshHost: vm.sshHost } : {}),
      ...(vm.proxyInstanceIp ? { proxyInstanceIp: vm.proxyInstanceIp } : {}),
      // Both VMs run the same app with the same labels: one Sidecar (the seeds' bookinfo-ratings-no-iptables)
      // selects both, so only the first declares it.
      ...(i > 0 ? { sidecar: { enabled: false } } : {}),
    };
    const adminKey = opts.adminKeys[vm.host.name];
    if (!adminKey) throw new Error(`no admin key for host ${vm.host.name}`);
    const pkg = vm.host.sidecarPackage;
    if (pkg && !opts.istiod)
      throw new Error(`host ${vm.host.name} runs the package runtime: it needs istiod`);
    const prepare = { admin: { user: vm.host.adminUser } };
    if (pkg) {
      // Istio's unit runs as root: both steps log in as the admin (sudo -n), with its key.
      entry.sshUser = vm.host.adminUser;
      entry.host = { ...packageHost(pkg), hostKey: vm.host.hostKey, prepare, ...istiodHost(opts.istiod!) };
      secrets.push({ key: `mesh-vm:vms[${i}].host.privateKey`, value: adminKey });
    } else {
      entry.host = {
        hostKey: vm.host.hostKey,
        prepare,
        proxyImage: opts.istiod?.agentImage ?? STANDIN_PROXY_IMAGE,
        ...(opts.istiod ? istiodHost(opts.istiod) : {}),
      };
    }
    secrets.push({ key: `mesh-vm:vms[${i}].host.prepare.admin.privateKey`, value: adminKey });
    return entry;
  });
  return {
    plain: {
      "mesh-vm:flavor": "istio",
      "mesh-vm:clusterIdentifier": CLUSTER_IDENTIFIER,
      "mesh-vm:vms": vms,
    },
    secrets,
  };
}

/**
 * The package runtime's `host` keys (docs/package-runtime.md): Istio's istio-sidecar deb, already on the VM.
 * Capture stays on (Istio's iptables rules); DNS capture off, as istioctl's --capture-dns=false: with it the
 * agent is ready only once istiod's DNS table came over Envoy's stream, and the test bed's Envoy is a stand-in.
 */
function packageHost(pkg: SandboxSidecarPackage): Record<string, unknown> {
  return {
    runtime: "package",
    sidecarPackage: { version: pkg.version, file: pkg.file, captureDns: false },
  };
}

/** The `host` keys that point a VM's agent at the real istiod. */
function istiodHost(istiod: SandboxIstiod): Record<string, unknown> {
  return {
    mesh: { discoveryAddress: istiod.discoveryAddress },
    gatewayAddress: istiod.address,
    readiness: { port: AGENT_READINESS_PORT, path: READINESS_PATH },
  };
}

/** Where a sandbox VM's proxy answers readiness, from this machine (its address on the VM network). */
export function readinessUrl(vm: SandboxVm, withIstiod: boolean): string {
  const port = withIstiod ? AGENT_READINESS_PORT : STANDIN_READINESS_PORT;
  return `http://${vm.proxyInstanceIp ?? vm.address}:${port}${READINESS_PATH}`;
}
