// The zod schema of the `mesh-vm:*` stack configuration keys. zod checks shapes, types and unknown keys only;
// MeshVm's own validation (components/validation/) stays the source of truth for field rules.
import { z } from "zod";
import { meshFlavors } from "../mesh/settings";
import type { PlainMeshExpansionArgs } from "../meshExpansionArgs";
import type { MeshVmArgs, MeshVmBootArgs, MeshVmHostArgs } from "../meshVmArgs";

/** The configuration namespace: the root project's name. */
export const configNamespace = "mesh-vm";

// ---- value types -------------------------------------------------------------------------------------------
// `pulumi config set --path` stores `9080` and `true` as a number and a boolean, so a string field set that way
// (a label `version: 3`) is taken as its text; a hand-written `"9080"` is taken as a number.
const text = z.union([z.string(), z.number().transform(String), z.boolean().transform(String)]);
const num = z.union([
  z.number(),
  z
    .string()
    .regex(/^-?\d+$/)
    .transform(Number),
]);
const bool = z.union([z.boolean(), z.enum(["true", "false"]).transform((v) => v === "true")]);
const texts = z.array(text);
const textMap = z.record(z.string(), text);

// ---- MeshVmArgs, as plain JSON --------------------------------------------------------------------------------
const portSchema = z.strictObject({
  name: text.optional(),
  number: num.optional(),
  protocol: text.optional(),
  defaultEndpoint: text.optional(),
  targetPort: num.optional(),
});

const egressSchema = z.strictObject({
  bind: text.optional(),
  hosts: texts.optional(),
  port: z.strictObject({ number: num, protocol: text.optional(), name: text.optional() }).optional(),
  captureMode: text.optional(),
});

// The mesh half: every field optional here, so that a missing required one is reported by MeshVm's validation
// with its own explanation (e.g. "address is required unless network is set").
const meshVmShape = {
  name: text.optional(),
  namespace: text.optional(),
  address: text.optional(),
  serviceAccount: text.optional(),
  createServiceAccount: bool.optional(),
  network: text.optional(),
  labels: textMap.optional(),
  metadataLabels: textMap.optional(),
  vmClassLabel: text.optional(),
  locality: text.optional(),
  weight: num.optional(),
  annotations: textMap.optional(),
  ports: z.array(portSchema).optional(),
  egress: z.array(egressSchema).optional(),
  sidecar: z
    .strictObject({
      enabled: bool.optional(),
      name: text.optional(),
      selectorLabelKeys: texts.optional(),
      outboundTrafficPolicyMode: text.optional(),
    })
    .optional(),
  serviceEntry: z
    .strictObject({ enabled: bool.optional(), name: text.optional(), hosts: texts.optional() })
    .optional(),
  workloadGroup: z
    .strictObject({ enabled: bool.optional(), name: text.optional(), autoRegister: bool.optional() })
    .optional(),
  apiVersion: text.optional(),
  flavor: text.optional(),
  trustDomain: text.optional(),
  sshHost: text.optional(),
  sshPort: num.optional(),
  sshUser: text.optional(),
  scpPath: text.optional(),
  proxyConfigDir: text.optional(),
  tctlDefaults: bool.optional(),
  proxyImageHub: text.optional(),
  proxyInstanceIp: text.optional(),
  proxyContainerName: text.optional(),
};

// ---- MeshVmHostArgs (minus kubeconfig and kubeContext, which come from mesh-vm:kubeconfig/kubeContext) -----
const credentialsShape = {
  privateKey: text.optional(),
  privateKeyPassword: text.optional(),
  agentSocketPath: text.optional(),
};

// The proxy settings both deliveries take as they are (meshVmDeliverySettingKeys in host/proxySettings.ts, minus
// kubeconfig and kubeContext): one shape for `host` and `boot` (test/unit/stack/definitions.test.ts).
const deliveryShape = {
  runtime: text.optional(),
  // Checked key by key by the envoy runtime's own rules (runtime/envoyValidation.ts), with the same field names.
  envoy: z.record(z.string(), z.unknown()).optional(),
  // The package runtime's block: shapes here, values checked by runtime/package/settings.ts with the same names.
  sidecarPackage: z
    .strictObject({
      version: text.optional(),
      url: text.optional(),
      sha256: text.optional(),
      file: text.optional(),
      localFile: text.optional(),
      repository: bool.optional(),
      name: text.optional(),
      capture: text.optional(),
      captureDns: bool.optional(),
      clusterId: text.optional(),
    })
    .optional(),
  mesh: z
    .strictObject({
      istioNamespace: text.optional(),
      discoveryAddress: text.optional(),
      caAddress: text.optional(),
      clusterId: text.optional(),
      defaultNetwork: text.optional(),
      meshId: text.optional(),
      trustDomain: text.optional(),
      proxyConfig: z.record(z.string(), z.unknown()).optional(),
    })
    .optional(),
  proxyImage: text.optional(),
  proxyImageTag: text.optional(),
  gatewayAddress: text.optional(),
  egressHostnames: texts.optional(),
  // The control plane's proxy (host/controlPlaneProxy.ts); `mesh-vm:followControlPlane` reads it for every VM.
  controlPlaneProxy: z
    .strictObject({
      hub: text.optional(),
      image: text.optional(),
      tag: text.optional(),
      logLevel: text.optional(),
      componentLogLevel: text.optional(),
    })
    .optional(),
  // PEM text; without them the program reads both once per namespace (host/meshRoots.ts).
  meshRootCert: text.optional(),
  kubernetesRootCert: text.optional(),
  readiness: z
    .strictObject({
      host: text.optional(),
      port: num.optional(),
      path: text.optional(),
      timeoutSeconds: num.optional(),
      logLines: num.optional(),
    })
    .optional(),
};

const hostSchema = z.strictObject({
  hostKey: text.optional(),
  insecureIgnoreHostKey: bool.optional(),
  ...credentialsShape,
  bastion: z
    .strictObject({
      host: text,
      port: num.optional(),
      user: text.optional(),
      hostKey: text.optional(),
      ...credentialsShape,
    })
    .optional(),
  dialErrorLimit: num.optional(),
  perDialTimeout: num.optional(),
  prepare: z
    .strictObject({
      admin: z.strictObject({ user: text.optional(), ...credentialsShape }),
      dockerGroup: text.optional(),
    })
    .optional(),
  token: z
    .strictObject({
      expirationSeconds: num.optional(),
      renewBeforeSeconds: num.optional(),
      rotation: text.optional(),
      audiences: texts.optional(),
    })
    .optional(),
  ...deliveryShape,
  deregistrationDelaySeconds: num.optional(),
  hostGone: bool.optional(),
  driftCheck: bool.optional(),
});

// ---- MeshVmBootArgs (boot-time delivery; kubeconfig and kubeContext from mesh-vm:kubeconfig/kubeContext) ----
const bootSchema = z.strictObject({
  ...deliveryShape,
  token: z
    .strictObject({
      expirationSeconds: num.optional(),
      rotation: text.optional(),
      audiences: texts.optional(),
    })
    .optional(),
  dockerGroup: text.optional(),
  readyCheck: z
    .strictObject({ enabled: bool.optional(), url: text.optional(), timeoutSeconds: num.optional() })
    .optional(),
  bundleDir: text.optional(),
  deregistrationDelaySeconds: num.optional(),
});

const vmSchema = z.strictObject({ ...meshVmShape, host: hostSchema.optional(), boot: bootSchema.optional() });

const manifestSchema = z.strictObject({
  file: text.optional(),
  yaml: text.optional(),
  host: hostSchema.optional(),
});

const meshExpansionSchema = z.strictObject({
  istioNamespace: text.optional(),
  gatewayAddress: text.optional(),
  controlPlaneName: text.optional(),
  fieldManager: text.optional(),
  gatewaySelector: textMap.optional(),
  revision: text.optional(),
  gatewayName: text.optional(),
  virtualServiceName: text.optional(),
  passthroughGateway: z
    .strictObject({
      enabled: z.boolean().optional(),
      name: text.optional(),
      port: z.number().optional(),
      hosts: z.array(text).optional(),
    })
    .optional(),
  apiVersion: text.optional(),
});

/** Every `mesh-vm:` key, with the schema of its (JSON) value. */
export const stackSchema = z.strictObject({
  flavor: z.enum(meshFlavors as [string, ...string[]]).optional(),
  kubeconfig: z.string().optional(),
  kubeContext: z.string().optional(),
  clusterIdentifier: z.string().optional(),
  meshExpansion: meshExpansionSchema.optional(),
  vms: z.array(vmSchema).optional(),
  manifests: z.array(manifestSchema).optional(),
  // Only the shape here; maxUnavailable's range is checked by rollout/waves.ts (rolloutIssues).
  rollout: z.strictObject({ maxUnavailable: num }).optional(),
  // Read the control plane's proxy once (host/controlPlaneProxy.ts) for the VMs that give no controlPlaneProxy.
  followControlPlane: z
    .strictObject({ istioNamespace: text.optional(), revision: text.optional() })
    .optional(),
});

// The schema must cover exactly the component inputs: adding a MeshVmArgs/MeshVmHostArgs/MeshExpansionArgs field
// without a config key (or keeping a key whose field is gone) fails the type check here.
type SameKeys<A, B> = [Exclude<A, B>, Exclude<B, A>] extends [never, never]
  ? true
  : [Exclude<A, B>, Exclude<B, A>];
const vmKeysMatch: SameKeys<keyof z.infer<typeof vmSchema>, keyof MeshVmArgs> = true;
const hostKeysMatch: SameKeys<
  keyof z.infer<typeof hostSchema>,
  Exclude<keyof MeshVmHostArgs, "kubeconfig" | "kubeContext">
> = true;
const bootKeysMatch: SameKeys<
  keyof z.infer<typeof bootSchema>,
  Exclude<keyof MeshVmBootArgs, "kubeconfig" | "kubeContext">
> = true;
const expansionKeysMatch: SameKeys<
  keyof z.infer<typeof meshExpansionSchema>,
  Exclude<keyof PlainMeshExpansionArgs, "flavor">
> = true;
void [vmKeysMatch, hostKeysMatch, bootKeysMatch, expansionKeysMatch];

export type HostConfig = z.infer<typeof hostSchema>;
export type BootConfig = z.infer<typeof bootSchema>;

/** Paths (below `host`) whose values are secrets: wrapped with pulumi.secret and never shown. */
export const secretHostPaths = [
  ["privateKey"],
  ["privateKeyPassword"],
  ["prepare", "admin", "privateKey"],
  ["prepare", "admin", "privateKeyPassword"],
  ["bastion", "privateKey"],
  ["bastion", "privateKeyPassword"],
  ["envoy", "certificate", "provided", "privateKey"],
] as const;
