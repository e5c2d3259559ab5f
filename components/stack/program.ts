// The root program: one Kubernetes provider from the stack configuration, MeshExpansion when configured, one
// MeshVm per configured VM, and stack outputs that summarise each VM. The root index.ts exports this; inline
// Automation API programs (the sandbox, the tests) call the same function.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { readControlPlaneProxy, type ControlPlaneProxy } from "../host/controlPlaneProxy";
import { readMeshRoots, type MeshRoots } from "../host/meshRoots";
import { istioFirewallPorts, tsbFirewallPorts } from "../mesh/expansion";
import { MeshExpansion } from "../meshExpansion";
import { MeshVm } from "../meshVm";
import type { MeshVmArgs } from "../meshVmArgs";
import { declareInWaves } from "../rollout/declare";
import { readStackConfig, StackConfig } from "./config";
import type { BootBundleFile } from "../boot/vmBootArgs";

export interface OnboardOptions {
  /** The configuration to use instead of the stack's (already parsed with parseStackConfig). */
  config?: StackConfig;
  /** Directory manifest files and a kubeconfig path are relative to (default: the cwd, the project dir). */
  baseDir?: string;
}

/** The proxy part of a VM's summary. */
export interface ProxySummary {
  containerState: string;
  containerId: string;
  proxyImage: string;
}

/** What the stack outputs for each VM. */
export interface VmSummary {
  /** `spiffe://<trust-domain>/ns/<namespace>/sa/<serviceAccount>`. */
  spiffeId: string;
  /** WorkloadEntry name; null for runtime `envoy`, which has none. */
  workloadEntry: string | null;
  namespace: string;
  /** Ports the VM must accept from the mesh (pods and gateways), for its firewall. */
  inboundPorts: number[];
  /** The proxy on the host; null without `host`. */
  proxy: ProxySummary | null;
  /** The managed /etc/hosts block on the VM; null without `host`. */
  hostsBlock: string | null;
  /** When the bootstrap token expires (RFC 3339); null without `host`. */
  tokenExpiry: string | null;
}

/** The waves of `mesh-vm:rollout`, as the stack output `rollout` shows them. */
export interface RolloutSummary {
  maxUnavailable: number;
  /** VM names, wave by wave, in the order each wave runs. */
  waves: string[][];
}

export interface OnboardOutputs {
  /** VM name → summary. */
  vms: pulumi.Output<Record<string, VmSummary>>;
  /** TCP ports VMs must reach on the gateway (from MeshExpansion, else the flavor's list). */
  firewallPorts: pulumi.Output<number[]>;
  /** istiod's host name VMs map to the gateway, when MeshExpansion is configured. */
  istiodHost?: pulumi.Output<string>;
  /**
   * VM name → its offline bundle (`etc/…`, `bin/start-*.sh`), for the VMs with `boot`; secret. A developer's
   * laptop takes its bundle from here: `pulumi stack output --show-secrets --json bundles`.
   */
  bundles?: pulumi.Output<Record<string, BootBundleFile[]>>;
  /** The rollout's waves, when `mesh-vm:rollout` is set. */
  rollout?: pulumi.Output<RolloutSummary>;
}

/**
 * Onboards the VMs of the stack configuration. Throws StackConfigError (naming each bad key and the stack file)
 * before registering anything when the configuration is invalid.
 */
export function onboardFromConfig(options: OnboardOptions = {}): OnboardOutputs {
  const config =
    options.config ?? readStackConfig(options.baseDir !== undefined ? { baseDir: options.baseDir } : {});

  // clusterIdentifier keeps a changed kubeconfig (new credentials, same cluster) from replacing every object.
  const provider = new k8s.Provider("kubernetes", {
    ...(config.kubeconfig !== undefined ? { kubeconfig: config.kubeconfig } : {}),
    ...(config.kubeContext !== undefined ? { context: config.kubeContext } : {}),
    ...(config.clusterIdentifier !== undefined ? { clusterIdentifier: config.clusterIdentifier } : {}),
  });
  const opts: pulumi.ComponentResourceOptions = { providers: [provider] };

  const expansion =
    config.meshExpansion === undefined
      ? undefined
      : new MeshExpansion("mesh-expansion", config.meshExpansion, opts);

  // VMs onboard once the cluster accepts VMs (the ControlPlane patch or istiod's gateway exists); with a
  // rollout, each wave of VMs after the wave before it is ready and registered (also on the first onboarding).
  const summaries: Record<string, pulumi.Output<VmSummary>> = {};
  const bundles: Record<string, pulumi.Output<BootBundleFile[]>> = {};
  const roots = sharedRoots(provider);
  // One read of the control plane's proxy for the fleet (an istiod upgrade moves every unpinned VM at the next up).
  const controlPlane =
    config.followControlPlane === undefined
      ? undefined
      : readControlPlaneProxy("control-plane", config.followControlPlane, { provider });
  const { names } = declareInWaves(
    config.vms,
    config.rollout,
    (vm, dependsOn) => {
      const meshVm = new MeshVm(vm.name, withControlPlane(withRoots(vm.args, roots), controlPlane), {
        ...opts,
        ...(dependsOn.length > 0 ? { dependsOn } : {}),
      });
      summaries[vm.name] = summarise(meshVm, vm.args);
      if (vm.args.boot !== undefined) bundles[vm.name] = meshVm.bootBundle.apply((b) => b ?? []);
      return meshVm;
    },
    { nameOf: (vm) => vm.name, ...(expansion ? { dependsOn: [expansion] } : {}) },
  );

  return {
    vms: pulumi.output(summaries) as pulumi.Output<Record<string, VmSummary>>,
    firewallPorts:
      expansion?.firewallPorts ??
      pulumi.output(config.flavor === "tsb" ? [...tsbFirewallPorts] : [...istioFirewallPorts]),
    ...(expansion ? { istiodHost: expansion.istiodHost } : {}),
    ...(config.rollout
      ? { rollout: pulumi.output({ maxUnavailable: config.rollout.maxUnavailable, waves: names }) }
      : {}),
    ...(Object.keys(bundles).length > 0
      ? { bundles: pulumi.secret(pulumi.output(bundles) as pulumi.Output<Record<string, BootBundleFile[]>>) }
      : {}),
  };
}

/** The CA roots, read once per namespace (`mesh-roots-<namespace>-…`) for the VMs that do not give them. */
function sharedRoots(provider: k8s.Provider): (namespace: string) => MeshRoots {
  const read = new Map<string, MeshRoots>();
  return (namespace) => {
    let roots = read.get(namespace);
    if (roots === undefined) {
      roots = readMeshRoots(`mesh-roots-${namespace}`, { namespace }, { provider });
      read.set(namespace, roots);
    }
    return roots;
  };
}

function withRoots(args: MeshVmArgs, roots: (namespace: string) => MeshRoots): MeshVmArgs {
  const delivery = args.host ?? args.boot;
  // The stack configuration's namespace is plain text; a VM that gives both roots reads none.
  if (delivery === undefined || typeof args.namespace !== "string") return args;
  if (delivery.meshRootCert !== undefined && delivery.kubernetesRootCert !== undefined) return args;
  const { meshRootCert, kubernetesRootCert } = roots(args.namespace);
  const filled = {
    ...delivery,
    meshRootCert: delivery.meshRootCert ?? meshRootCert,
    kubernetesRootCert: delivery.kubernetesRootCert ?? kubernetesRootCert,
  };
  return args.host !== undefined ? { ...args, host: { ...args.host, ...filled } } : { ...args, boot: filled };
}

function withControlPlane(
  args: MeshVmArgs,
  controlPlane: pulumi.Output<ControlPlaneProxy> | undefined,
): MeshVmArgs {
  const delivery = args.host ?? args.boot;
  if (controlPlane === undefined || delivery === undefined || delivery.controlPlaneProxy !== undefined)
    return args;
  return args.host !== undefined
    ? { ...args, host: { ...args.host, controlPlaneProxy: controlPlane } }
    : { ...args, boot: { ...delivery, controlPlaneProxy: controlPlane } };
}

function summarise(vm: MeshVm, args: MeshVmArgs): pulumi.Output<VmSummary> {
  // Runtime envoy: the mesh reaches the VM only on its inbound listener, if it has one.
  const envoy = args.host ?? args.boot;
  const envoyInbound =
    envoy?.runtime === "envoy"
      ? envoy.envoy?.inbound === undefined
        ? []
        : [envoy.envoy.inbound.port]
      : undefined;
  // Only these proxy fields are summarised, none of them secret; unsecret so that the summary stays readable
  // (`pulumi stack output vms`) should any other field of the proxy state carry a secret.
  const proxy = pulumi.unsecret(
    vm.proxy.apply((p) =>
      p === undefined
        ? undefined
        : {
            containerState: p.containerState,
            containerId: p.containerId,
            proxyImage: p.proxyImage,
            hostsBlock: p.hostsBlock,
            tokenExpiry: p.tokenExpiry,
          },
    ),
  );
  return pulumi
    .all([vm.spiffeId, vm.workloadEntryName, vm.namespace, vm.settings, proxy])
    .apply(([spiffeId, workloadEntry, namespace, settings, p]) => ({
      spiffeId,
      workloadEntry: workloadEntry ?? null,
      namespace,
      inboundPorts: envoyInbound ?? settings.ports.map((port) => port.targetPort ?? port.number),
      proxy:
        p === undefined
          ? null
          : { containerState: p.containerState, containerId: p.containerId, proxyImage: p.proxyImage },
      hostsBlock: p === undefined ? null : p.hostsBlock,
      tokenExpiry: p === undefined ? null : p.tokenExpiry,
    }));
}
