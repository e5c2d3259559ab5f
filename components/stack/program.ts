// The root program: one Kubernetes provider from the stack configuration, MeshExpansion when configured, one
// MeshVm per configured VM, and stack outputs that summarise each VM. The root index.ts exports this; inline
// Automation API programs (the sandbox, the tests) call the same function.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { istioFirewallPorts, tsbFirewallPorts } from "../mesh/expansion";
import { MeshExpansion } from "../meshExpansion";
import { MeshVm } from "../meshVm";
import { readStackConfig, StackConfig } from "./config";

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
  /** WorkloadEntry name. */
  workloadEntry: string;
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

export interface OnboardOutputs {
  /** VM name → summary. */
  vms: pulumi.Output<Record<string, VmSummary>>;
  /** TCP ports VMs must reach on the gateway (from MeshExpansion, else the flavor's list). */
  firewallPorts: pulumi.Output<number[]>;
  /** istiod's host name VMs map to the gateway, when MeshExpansion is configured. */
  istiodHost?: pulumi.Output<string>;
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

  const summaries: Record<string, pulumi.Output<VmSummary>> = {};
  for (const vm of config.vms) {
    // VMs onboard once the cluster accepts VMs (the ControlPlane patch or istiod's gateway exists).
    const meshVm = new MeshVm(vm.name, vm.args, {
      ...opts,
      ...(expansion ? { dependsOn: [expansion] } : {}),
    });
    summaries[vm.name] = summarise(meshVm);
  }

  return {
    vms: pulumi.output(summaries) as pulumi.Output<Record<string, VmSummary>>,
    firewallPorts:
      expansion?.firewallPorts ??
      pulumi.output(config.flavor === "tsb" ? [...tsbFirewallPorts] : [...istioFirewallPorts]),
    ...(expansion ? { istiodHost: expansion.istiodHost } : {}),
  };
}

function summarise(vm: MeshVm): pulumi.Output<VmSummary> {
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
      workloadEntry,
      namespace,
      inboundPorts: settings.ports.map((port) => port.targetPort ?? port.number),
      proxy:
        p === undefined
          ? null
          : { containerState: p.containerState, containerId: p.containerId, proxyImage: p.proxyImage },
      hostsBlock: p === undefined ? null : p.hostsBlock,
      tokenExpiry: p === undefined ? null : p.tokenExpiry,
    }));
}
