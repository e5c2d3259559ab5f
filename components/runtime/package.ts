// The `package` runtime: Istio's istio-sidecar deb/rpm under systemd (docs/package-runtime.md). Maps the
// proxy settings every runtime gets onto what `istioctl x workload entry configure` reads (the workload as its
// WorkloadGroup, the mesh as its mesh config), renders the package plan (package/plan.ts) and names it as every
// runtime does. Pure.
import { workloadNameOf } from "../host/sidecarEnv";
import { readinessDefaults } from "../host/defaults";
import { istioDefaults } from "../mesh/settings";
import { accountOf } from "./container";
import type { BootstrapMaterial, RuntimeInputs } from "./inputs";
import { PROXY_USER } from "./package/layout";
import { packageRuntimePlan, type PackageRuntimePlan } from "./package/plan";
import type { PackageSource } from "./package/packageScripts";
import { sidecarPackageDefaults, type SidecarPackageSettings } from "./package/settings";
import type { RuntimePlan } from "./plan";

/** Where the VM gets the package, from the settings block (validation makes sure exactly one is set). */
function sourceOf(s: SidecarPackageSettings, copy: RuntimeInputs["sidecarPackageCopy"]): PackageSource {
  if (s.url !== undefined) return { kind: "url", url: s.url, ...(s.sha256 ? { sha256: s.sha256 } : {}) };
  if (s.file !== undefined) return { kind: "file", path: s.file };
  if (s.localFile !== undefined) {
    if (!copy)
      throw new Error(
        "sidecarPackage.localFile is copied to the VM over SSH (VmProxy, MeshVm's host): give url or file to this delivery",
      );
    return { kind: "copied", sha256: copy.sha256 };
  }
  return { kind: "repository" };
}

/** The workload's ports as cluster.env carries them (MeshVm's come checked; VmProxy's `workload` is not). */
function checkedPorts(ports: Record<string, number>): Record<string, number> {
  for (const [name, port] of Object.entries(ports)) {
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name) || !Number.isInteger(port) || port < 1 || port > 65535)
      throw new Error(`workload.ports: ${name}: ${port} is not a port name and number from 1 to 65535`);
  }
  return ports;
}

export function renderPackagePlan(inputs: RuntimeInputs, material: BootstrapMaterial): RuntimePlan {
  const settings = inputs.sidecarPackage;
  if (!settings)
    throw new Error('runtime "package" needs its sidecarPackage settings (version and a source)');
  const { workload } = inputs;
  const mesh = inputs.mesh ?? {};
  const { owner } = accountOf(inputs);
  const istioNamespace = mesh.istioNamespace ?? istioDefaults.istioNamespace;
  const discoveryAddress = mesh.discoveryAddress ?? `istiod.${istioNamespace}.svc:15012`;
  const name = settings.name ?? sidecarPackageDefaults.name;
  // Validation admits only these two (a plain string in the schema: other languages have no unions).
  const capture = settings.capture === "none" ? "none" : sidecarPackageDefaults.capture;
  const readiness = inputs.readiness ?? {};
  const plan: PackageRuntimePlan = packageRuntimePlan(
    {
      package: { name, version: settings.version, source: sourceOf(settings, inputs.sidecarPackageCopy) },
      capture,
      group: {
        // With auto-registration the group is the real WorkloadGroup, as istioctl reads it from the cluster.
        name: inputs.autoRegisterGroup || workloadNameOf(workload),
        namespace: workload.namespace,
        spec: {
          metadata: { labels: { ...(workload.metadataLabels ?? {}) } },
          template: {
            serviceAccount: workload.serviceAccount,
            ...(workload.network ? { network: workload.network } : {}),
            ...(workload.ports ? { ports: checkedPorts(workload.ports) } : {}),
            ...(workload.labels ? { labels: workload.labels } : {}),
          },
        },
      },
      configure: {
        clusterId: settings.clusterId ?? mesh.clusterId ?? istioDefaults.clusterId,
        istioNamespace,
        mesh: {
          trustDomain: mesh.trustDomain ?? istioDefaults.trustDomain,
          defaultConfig: { ...(mesh.proxyConfig ?? {}), discoveryAddress },
        },
        internalIp: workload.proxyInstanceIp || workload.address,
        captureDns: settings.captureDns ?? sidecarPackageDefaults.captureDns,
        ...(inputs.autoRegisterGroup ? { autoRegister: true } : {}),
      },
      discoveryAddress,
      ...(inputs.gatewayAddress ? { gatewayAddress: inputs.gatewayAddress } : {}),
      readiness: {
        // The agent's own status port: readiness without Envoy's 15021.
        port: readiness.port ?? 15020,
        path: readiness.path ?? readinessDefaults.path,
        timeoutSeconds: readiness.timeoutSeconds ?? readinessDefaults.timeoutSeconds,
      },
    },
    { token: material.token, rootCertPem: material.meshRootCert },
  );
  const { hostsBlock, ...rest } = plan;
  return {
    ...rest,
    owner,
    describe: {
      proxy: `the istio-sidecar of ${owner} (${name} ${settings.version}, capture ${capture})`,
      starting: `installing ${name} ${settings.version} if absent, starting istio.service and waiting until it is ready`,
    },
    // The package creates its own account (and /etc/istio, its directories); the unit runs as root and drops to it.
    account: { user: PROXY_USER, groups: [], madeByPrepare: true },
    runsAs: "root",
    // istiod's name: the agent needs it to start (the boot start script writes it first).
    ...(hostsBlock ? { hostsBlock: { owner, ...hostsBlock, beforeStart: true } } : {}),
  };
}
