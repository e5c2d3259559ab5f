// VmFleet: several VMs serving one service, as one component. Each VM is a MeshVm (its WorkloadEntry and, with
// `host`, its proxy); the Sidecar and the ServiceEntry are the service's, so the fleet creates them once,
// rendered by mesh-vm's own renderers from the settings every VM shares. A VM can then join or leave without
// taking the shared objects along, and their workloadSelector (the shared labels) matches every VM.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { declareInWaves, MeshVm, renderMeshVmObjects, resolveMeshVmArgs } from "mesh-vm";
import type { MeshVmHostArgs, PlainMeshVmArgs, RolloutArgs } from "mesh-vm";

/** One VM of the fleet. */
export interface VmFleetInstance {
  /** WorkloadEntry name, e.g. `ratings-vm-1`. */
  name: string;
  /** Address pods reach it at. */
  address: string;
  /** Where SSH reaches it, when not at `address`. */
  sshHost?: string;
  /** Its SSH host key (authorized_keys format), pinned. */
  hostKey: pulumi.Input<string>;
}

export interface VmFleetArgs {
  namespace: string;
  serviceAccount: string;
  /** Create the ServiceAccount (once, for the whole fleet). */
  createServiceAccount?: boolean;
  /** Labels of every VM (`app` required); the Sidecar and ServiceEntry select on them. */
  labels: Record<string, string>;
  /** The service's ports (Sidecar ingress and ServiceEntry ports). */
  ports: NonNullable<PlainMeshVmArgs["ports"]>;
  /** Host name of the service. Default `<name>.<namespace>.svc.cluster.local`. */
  serviceHost?: string;
  instances: VmFleetInstance[];
  /** SSH and proxy settings every VM shares (admin key, kubeconfig, image); each VM's host key is its own. */
  host: Omit<MeshVmHostArgs, "hostKey">;
  /**
   * Upgrade the VMs in waves of at most `maxUnavailable`, in the order of `instances`: a new `proxyImageTag` then
   * reaches the next wave only once the wave before runs it, ready and registered. Default: all at once.
   */
  rollout?: RolloutArgs;
}

export class VmFleet extends pulumi.ComponentResource {
  public readonly vms: MeshVm[];
  public readonly serviceHost: string;

  constructor(name: string, args: VmFleetArgs, opts?: pulumi.ComponentResourceOptions) {
    super("examples:index:VmFleet", name, {}, opts);
    this.serviceHost = args.serviceHost ?? `${name}.${args.namespace}.svc.cluster.local`;

    // The service's Sidecar and ServiceEntry, rendered as one VM of the fleet would render them.
    const shared = renderMeshVmObjects(
      resolveMeshVmArgs(name, {
        name,
        namespace: args.namespace,
        serviceAccount: args.serviceAccount,
        labels: args.labels,
        ports: args.ports,
        serviceEntry: { hosts: [this.serviceHost] },
      }),
    );
    const sidecarObject = shared.sidecar!;
    const serviceEntryObject = shared.serviceEntry!;

    const before: pulumi.Resource[] = [];
    if (args.createServiceAccount) {
      before.push(
        new k8s.core.v1.ServiceAccount(
          `${name}-serviceaccount`,
          { metadata: { name: args.serviceAccount, namespace: args.namespace } },
          { parent: this },
        ),
      );
    }
    // The Sidecar shapes every proxy's listeners, so it exists before any proxy starts.
    before.push(new k8s.apiextensions.CustomResource(`${name}-sidecar`, sidecarObject, { parent: this }));

    // Each wave waits for the one before (and for the Sidecar and ServiceAccount); without a rollout, one wave.
    const { waves } = declareInWaves(
      args.instances,
      args.rollout,
      (vm, dependsOn) =>
        new MeshVm(
          vm.name,
          {
            name: vm.name,
            namespace: args.namespace,
            address: vm.address,
            sshHost: vm.sshHost,
            serviceAccount: args.serviceAccount,
            labels: args.labels,
            ports: args.ports,
            sidecar: { enabled: false },
            serviceEntry: { enabled: false },
            host: { ...args.host, hostKey: vm.hostKey },
          },
          { parent: this, dependsOn },
        ),
      { nameOf: (vm) => vm.name, dependsOn: before },
    );
    this.vms = waves.flat();

    // Registered once every proxy is ready, removed before any proxy stops.
    const spec = this.vms.reduce((s, vm) => vm.afterProxyReady(s), pulumi.output(serviceEntryObject.spec));
    new k8s.apiextensions.CustomResource(
      `${name}-serviceentry`,
      { ...serviceEntryObject, spec },
      { parent: this },
    );

    this.registerOutputs({ serviceHost: this.serviceHost });
  }
}
