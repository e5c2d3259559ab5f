// What every runtime renderer is given: the proxy settings resolved to plain values (defaults still open where
// the renderer applies them) and the bootstrap material the deliveries make as resources. The settings are
// ProxySettingsArgs (host/proxySettings.ts) unwrapped, so the deliveries pass their inputs as they are.
import type * as pulumi from "@pulumi/pulumi";
import type { ProxySettingsArgs } from "../host/proxySettings";

/** The delivery-only inputs of ProxySettingsArgs: cluster access and material, never part of a plan's settings. */
export const materialInputs = ["kubeconfig", "kubeContext", "meshRootCert", "kubernetesRootCert"] as const;

/**
 * Every proxy setting (ProxySettingsArgs, defined once in host/proxySettings.ts) as a plain value, plus the docker
 * group (VmBoot's input, VmProxy's `prepare.dockerGroup`). `runtime` picks the renderer (runtime/registry.ts).
 */
export type RuntimeInputs = pulumi.Unwrap<Omit<ProxySettingsArgs, (typeof materialInputs)[number]>> & {
  /** Group that may use docker. Default `docker`. */
  dockerGroup?: string;
  /**
   * The sha256 of `sidecarPackage.localFile`, read by the SSH delivery that copies it (host/packageCopy.ts): the
   * renderer reads no file.
   */
  sidecarPackageCopy?: { sha256: string };
};

/** `args` without the keys listed: the settings a delivery passes to the renderer as they are. */
export function withoutKeys<T extends object, K extends keyof T>(args: T, keys: readonly K[]): Omit<T, K> {
  const out = { ...args };
  for (const k of keys) delete out[k];
  return out;
}

/** The material a VM's proxy starts from, made once per VM by its own resources (host/bootstrapMaterial.ts). */
export interface BootstrapMaterial {
  /** The bootstrap token (`container`, `package`); "" for a runtime that needs none (`envoy`). */
  token: string;
  /** The workload certificate issued by istiod (`envoy`): chain (leaf first) and its PEM key. */
  workloadCertificate?: { certChain: string; key: string };
  meshRootCert: string;
  kubernetesRootCert: string;
}
