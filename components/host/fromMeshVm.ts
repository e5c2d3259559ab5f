// How MeshVm feeds VmProxy: the bootstrap settings MeshVm resolves (tctl's annotations and defaults) and its
// rendered WorkloadEntry become VmProxy's connection, identity and container settings; the SSH-only inputs
// (keys, host key, token, ...) come from MeshVm's host inputs as they are.
import * as pulumi from "@pulumi/pulumi";
import type { ResolvedMeshVm } from "../meshVmArgs";
import type { ProxyImageSettings } from "./proxyContainer";
import type { BastionArgs } from "./sshConnection";
import type { BootstrapTokenArgs, HostPreparationArgs, VmProxyArgs } from "./vmProxy";
import type { MeshSettings } from "./sidecarEnv";
import type { ReadinessSettings } from "./proxyScripts";
import { WorkloadEntryLike, workloadIdentityFromWorkloadEntry } from "./workloadIdentity";

/** How the proxy user (`sshUser`) logs in. */
export interface MeshVmHostCredentialsArgs {
  /** OpenSSH/PEM private key (kept secret). */
  privateKey?: pulumi.Input<string>;
  privateKeyPassword?: pulumi.Input<string>;
  /** ssh-agent socket, instead of a key. */
  agentSocketPath?: pulumi.Input<string>;
}

/**
 * The host half's inputs of MeshVm (everything not already a tctl bootstrap setting: host, port, user, config
 * dir, image hub, instance IP and container name come from MeshVm's `sshHost`, `sshPort`, ... inputs).
 */
export interface MeshVmHostArgs {
  /** The VM's SSH host key (authorized_keys format), pinned for every connection. */
  hostKey?: pulumi.Input<string>;
  /** Connect without checking the host key (warns). */
  insecureIgnoreHostKey?: boolean;
  /** Credentials of the proxy user (`sshUser`); without them `prepare` generates and installs a key. */
  credentials?: MeshVmHostCredentialsArgs;
  /** Optional bastion. */
  bastion?: BastionArgs;
  /** Bounded dialing (defaults: 20 attempts, 10 s each). */
  dialErrorLimit?: pulumi.Input<number>;
  perDialTimeout?: pulumi.Input<number>;
  /** Prepare the host as an admin (user, docker group, directory, key). */
  prepare?: HostPreparationArgs;
  /** kubeconfig for the TokenRequest (secret). */
  kubeconfig: pulumi.Input<string>;
  kubeContext?: pulumi.Input<string>;
  token?: BootstrapTokenArgs;
  /** Mesh settings for sidecar.env and the proxy arguments (trust domain defaults to MeshVm's). */
  mesh?: MeshSettings;
  /** Full proxy image, or a tag for `<proxyImageHub>/proxyv2`. */
  proxyImage?: pulumi.Input<string>;
  proxyImageTag?: pulumi.Input<string>;
  /** Gateway IP istiod is reached through (docker --add-host). */
  gatewayAddress?: pulumi.Input<string>;
  /** Mesh names the VM's applications call, kept in /etc/hosts pointing at the first egress listener's bind. */
  egressHostnames?: pulumi.Input<pulumi.Input<string>[]>;
  readiness?: ReadinessSettings;
  deregistrationDelaySeconds?: number;
  hostGone?: boolean;
}

/**
 * VmProxyArgs for a MeshVm. `settings` and `workloadEntry` are MeshVm's resolved settings and rendered
 * WorkloadEntry; `serviceAccountName`, when MeshVm creates the ServiceAccount, should be that resource's
 * `metadata.name` so that the token is minted after it exists.
 */
export function vmProxyArgsFromMeshVm(
  settings: pulumi.Output<ResolvedMeshVm>,
  workloadEntry: pulumi.Output<WorkloadEntryLike>,
  host: MeshVmHostArgs,
  serviceAccountName?: pulumi.Input<string>,
): VmProxyArgs {
  const workload = pulumi.all([settings, workloadEntry, serviceAccountName]).apply(([s, we, sa]) => ({
    ...workloadIdentityFromWorkloadEntry(we, s.bootstrap.proxyInstanceIp),
    ...(sa ? { serviceAccount: sa } : {}),
  }));
  const image = pulumi
    .all([settings, host.proxyImage, host.proxyImageTag])
    .apply(([s, full, tag]): ProxyImageSettings =>
      full ? { image: full } : { hub: s.bootstrap.proxyImageHub, tag },
    );
  const mesh = pulumi
    .all([settings, pulumi.output(host.mesh ?? {})])
    .apply(([s, m]) => ({ trustDomain: s.trustDomain, ...(m as MeshSettings) }));
  return {
    ssh: {
      host: settings.apply((s) => s.bootstrap.sshHost ?? s.address ?? ""),
      port: settings.apply((s) => s.bootstrap.sshPort),
      user: settings.apply((s) => s.bootstrap.sshUser),
      ...host.credentials,
      hostKey: host.hostKey,
      insecureIgnoreHostKey: host.insecureIgnoreHostKey,
      bastion: host.bastion,
      dialErrorLimit: host.dialErrorLimit,
      perDialTimeout: host.perDialTimeout,
    },
    prepare: host.prepare,
    proxyUser: settings.apply((s) => s.bootstrap.sshUser),
    workload,
    mesh,
    kubeconfig: host.kubeconfig,
    kubeContext: host.kubeContext,
    token: host.token,
    proxyConfigDir: settings.apply((s) => s.bootstrap.proxyConfigDir),
    proxyContainerName: settings.apply((s) => s.bootstrap.proxyContainerName),
    image,
    gatewayAddress: host.gatewayAddress,
    egressHosts: host.egressHostnames,
    egressBindAddress: settings.apply((s) => s.egress.find((e) => e.bind)?.bind ?? "127.0.0.2"),
    readiness: host.readiness,
    deregistrationDelaySeconds: host.deregistrationDelaySeconds,
    hostGone: host.hostGone,
  };
}
