// Resolution: MeshVm's plain inputs with every default applied (the defaults themselves are in
// mesh/settings.ts and mesh/annotations.ts). Public, so that other programs can render what a MeshVm would
// (the fleet example renders one Sidecar and ServiceEntry for several VMs).
import { ownValue, setOwn } from "./rules/values";
import { bootstrapDefaults } from "./mesh/annotations";
import { normaliseNetworkingApiVersion } from "./mesh/apiVersion";
import {
  defaultEgress,
  defaultEndpointFor,
  defaultServiceEntryHost,
  defaultSidecarName,
  ExplicitBootstrapSettings,
  meshVmDefaults,
  ResolvedBootstrap,
  ResolvedEgress,
  ResolvedMeshVm,
  ResolvedPort,
  withVmClassLabel,
  selectionLabels,
} from "./mesh/settings";
import type { PlainMeshVmArgs } from "./meshVmArgs";
import { isIpAddress } from "./rules/addresses";

function defined<T>(v: T | undefined | null): v is T {
  return v !== undefined && v !== null;
}

function omitUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

function resolvePorts(args: PlainMeshVmArgs): ResolvedPort[] {
  return (args.ports ?? []).map((p) =>
    omitUndefined({
      name: p.name,
      number: p.number,
      protocol: p.protocol ?? meshVmDefaults.portProtocol,
      defaultEndpoint: p.defaultEndpoint ?? defaultEndpointFor(p.number),
      targetPort: p.targetPort,
    }),
  );
}

function resolveEgress(args: PlainMeshVmArgs): ResolvedEgress[] {
  return (args.egress ?? defaultEgress()).map((e) =>
    omitUndefined({
      bind: e.bind,
      hosts: [...e.hosts],
      port: e.port === undefined ? undefined : omitUndefined({ ...e.port }),
      captureMode: e.captureMode,
    }),
  );
}

function selectorLabels(args: PlainMeshVmArgs, labels: Record<string, string>): Record<string, string> {
  const keys = args.sidecar?.selectorLabelKeys ?? meshVmDefaults.sidecarSelectorLabelKeys;
  const out: Record<string, string> = {};
  for (const k of keys) {
    const v = ownValue(labels, k);
    if (defined(v)) setOwn(out, k, v);
  }
  return out;
}

/** The bootstrap settings the user set: only these become annotations. */
function explicitBootstrapOf(args: PlainMeshVmArgs, proxyConfigDir: string): ExplicitBootstrapSettings {
  return omitUndefined({
    sshHost: args.sshHost,
    sshPort: args.sshPort,
    sshUser: args.sshUser,
    scpPath: args.scpPath,
    // A directory given is written, even tctl's own (objects from fromManifests stay as they were); a default
    // only when tctl, reading the object, would not use the same directory.
    proxyConfigDir:
      args.proxyConfigDir !== undefined || proxyConfigDir !== bootstrapDefaults.proxyConfigDir
        ? proxyConfigDir
        : undefined,
    proxyImageHub: args.proxyImageHub,
    proxyContainerName: args.proxyContainerName,
    proxyInstanceIp: args.proxyInstanceIp,
  });
}

/** The bootstrap settings with tctl's defaults: what the host half uses. */
function bootstrapOf(args: PlainMeshVmArgs, proxyConfigDir: string): ResolvedBootstrap {
  const addressIsIp = args.address !== undefined && isIpAddress(args.address);
  return omitUndefined({
    sshHost: args.sshHost ?? args.address,
    sshPort: args.sshPort ?? bootstrapDefaults.sshPort,
    sshUser: args.sshUser ?? bootstrapDefaults.sshUser,
    scpPath: args.scpPath ?? bootstrapDefaults.scpPath,
    proxyConfigDir,
    proxyImageHub: (args.proxyImageHub ?? bootstrapDefaults.proxyImageHub).replace(/\/+$/, ""),
    proxyInstanceIp: args.proxyInstanceIp ?? (addressIsIp ? args.address : undefined),
    proxyContainerName: args.proxyContainerName ?? bootstrapDefaults.proxyContainerName,
  });
}

/**
 * Applies every default. Assumes `validateMeshVmArgs(args)` returned no issues; `defaultName` is the
 * component's resource name.
 */
export function resolveMeshVmArgs(defaultName: string, args: PlainMeshVmArgs): ResolvedMeshVm {
  const name = args.name ?? defaultName;
  const labels = withVmClassLabel(args.labels ?? {}, args.vmClassLabel);
  const app = selectionLabels(labels, args.metadataLabels)["app"] ?? name;
  const proxyConfigDir =
    args.proxyConfigDir ??
    ((args.tctlDefaults ?? meshVmDefaults.tctlDefaults)
      ? bootstrapDefaults.proxyConfigDir
      : meshVmDefaults.proxyConfigDir);

  return omitUndefined({
    name,
    namespace: args.namespace,
    address: args.address,
    serviceAccount: args.serviceAccount,
    createServiceAccount: args.createServiceAccount ?? meshVmDefaults.createServiceAccount,
    network: args.network,
    labels,
    metadataLabels:
      args.metadataLabels === undefined || Object.keys(args.metadataLabels).length === 0
        ? undefined
        : { ...args.metadataLabels },
    locality: args.locality,
    weight: args.weight,
    annotations: { ...(args.annotations ?? {}) },
    ports: resolvePorts(args),
    egress: resolveEgress(args),
    sidecar: omitUndefined({
      enabled: args.sidecar?.enabled ?? meshVmDefaults.sidecarEnabled,
      name: args.sidecar?.name ?? defaultSidecarName(args.namespace, app),
      selectorLabels: selectorLabels(args, selectionLabels(labels, args.metadataLabels)),
      outboundTrafficPolicyMode: args.sidecar?.outboundTrafficPolicyMode,
    }),
    serviceEntry: {
      enabled: args.serviceEntry?.enabled ?? meshVmDefaults.serviceEntryEnabled,
      name: args.serviceEntry?.name ?? name,
      hosts: [...(args.serviceEntry?.hosts ?? [defaultServiceEntryHost(name, args.namespace)])],
    },
    workloadGroup: {
      enabled:
        args.workloadGroup?.enabled ??
        (args.workloadGroup?.autoRegister || meshVmDefaults.workloadGroupEnabled),
      name: args.workloadGroup?.name ?? name,
      autoRegister: args.workloadGroup?.autoRegister ?? false,
    },
    apiVersion: normaliseNetworkingApiVersion(args.apiVersion) ?? meshVmDefaults.apiVersion,
    flavor: args.flavor ?? meshVmDefaults.flavor,
    trustDomain: args.trustDomain ?? meshVmDefaults.trustDomain,
    explicitBootstrap: explicitBootstrapOf(args, proxyConfigDir),
    bootstrap: bootstrapOf(args, proxyConfigDir),
  });
}
