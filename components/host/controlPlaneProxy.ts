// The proxy the control plane would inject: hub, image, tag and log levels from the install values istiod's injector
// publishes (ConfigMap `istio-sidecar-injector[-<revision>]`, key `values`, JSON), as tctl reads them. A VM that
// pins none of these follows the control plane: an upgrade of istiod changes the VMs' proxy at the next `up`. Read
// once per cluster (readControlPlaneProxy, as the stack program does) and passed to every VM.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { istioDefaults } from "../mesh/settings";

/** The proxy settings of a control plane's install values (`values.global…`); each absent when the values lack it. */
export interface ControlPlaneProxy {
  /** `global.hub`: the registry of the proxy image. */
  hub?: string;
  /** `global.proxy.image`: the image name under the hub (Istio's `proxyv2`). */
  image?: string;
  /** `global.tag`: the image tag, Istio's version (e.g. `1.24.2`, `1.24.2-distroless`). */
  tag?: string;
  /** `global.proxy.logLevel`. */
  logLevel?: string;
  /** `global.proxy.componentLogLevel`. */
  componentLogLevel?: string;
}

function stringAt(values: unknown, ...path: string[]): string | undefined {
  let v: unknown = values;
  for (const key of path) {
    if (typeof v !== "object" || v === null || Array.isArray(v)) return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  // A tag written as a YAML number (1.24) reaches the JSON as a number.
  if (typeof v === "number") return String(v);
  return typeof v === "string" && v !== "" ? v : undefined;
}

/** The proxy settings of an injector's `values` JSON; `source` names the ConfigMap in the error. */
export function controlPlaneProxyOf(valuesJson: string, source: string): ControlPlaneProxy {
  let values: unknown;
  try {
    values = JSON.parse(valuesJson);
  } catch {
    throw new Error(`${source}: key "values" is not JSON; is it Istio's injector ConfigMap?`);
  }
  if (typeof values !== "object" || values === null || Array.isArray(values)) {
    throw new Error(`${source}: key "values" is not a JSON object; is it Istio's injector ConfigMap?`);
  }
  const out: ControlPlaneProxy = {
    hub: stringAt(values, "global", "hub"),
    image: stringAt(values, "global", "proxy", "image"),
    tag: stringAt(values, "global", "tag"),
    logLevel: stringAt(values, "global", "proxy", "logLevel"),
    componentLogLevel: stringAt(values, "global", "proxy", "componentLogLevel"),
  };
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined)) as ControlPlaneProxy;
}

export interface ReadControlPlaneProxyArgs {
  /** The control plane's namespace. @default "istio-system" */
  istioNamespace?: pulumi.Input<string>;
  /** The istiod revision (canary upgrades): reads `istio-sidecar-injector-<revision>`. */
  revision?: string;
}

/** The injector ConfigMap's name for a revision, as istioctl names it. */
export function injectorConfigMapName(revision?: string): string {
  return revision && revision !== "default" ? `istio-sidecar-injector-${revision}` : "istio-sidecar-injector";
}

/**
 * Reads the control plane's proxy settings at preview as one resource, `<name>-istio-sidecar-injector`. Pass the
 * result as `controlPlaneProxy` to every VM's `host`/`boot` (or VmProxy/VmBoot): one read for the fleet.
 */
export function readControlPlaneProxy(
  name: string,
  args: ReadControlPlaneProxyArgs = {},
  opts: pulumi.CustomResourceOptions = {},
): pulumi.Output<ControlPlaneProxy> {
  const configMap = injectorConfigMapName(args.revision);
  const id = pulumi.interpolate`${args.istioNamespace ?? istioDefaults.istioNamespace}/${configMap}`;
  return pulumi
    .all([id, k8s.core.v1.ConfigMap.get(`${name}-${configMap}`, id, opts).data])
    .apply(([source, d]) => {
      const values = d?.["values"];
      if (!values)
        throw new Error(`ConfigMap ${source} has no "values"; is Istio installed there (istioctl, helm)?`);
      return controlPlaneProxyOf(values, `ConfigMap ${source}`);
    });
}

/** `major.minor` of an Istio version or image tag (`1.24.2`, `1.24.2-distroless`, `1.8.6-p1-…`); undefined else. */
function minorOf(version: string): { major: number; minor: number } | undefined {
  const m = /^v?(\d+)\.(\d+)(?:[.\-+_]|$)/.exec(version);
  return m ? { major: Number(m[1]), minor: Number(m[2]) } : undefined;
}

/**
 * Why a proxy version is outside Istio's supported skew from its control plane's ("the control plane can be one
 * version ahead of the data plane; the data plane cannot be ahead of the control plane", istio.io's supported
 * releases), or undefined when it is inside it or either version is not `major.minor…` (`latest`, a digest).
 */
export function proxyVersionSkewProblem(
  proxyVersion: string,
  controlPlaneVersion: string,
): string | undefined {
  const p = minorOf(proxyVersion);
  const c = minorOf(controlPlaneVersion);
  if (!p || !c) return undefined;
  if (p.major !== c.major)
    return `proxy ${proxyVersion} and control plane ${controlPlaneVersion} differ in major version`;
  if (p.minor > c.minor)
    return `proxy ${proxyVersion} is newer than the control plane's ${controlPlaneVersion}`;
  if (c.minor - p.minor > 1)
    return `proxy ${proxyVersion} is ${c.minor - p.minor} minor versions behind the control plane's ${controlPlaneVersion} (Istio supports one)`;
  return undefined;
}

/** The proxy settings the skew check reads (ProxySettingsArgs' fields, resolved). */
export interface PinnedProxy {
  runtime?: string;
  proxyImage?: string;
  proxyImageTag?: string;
  sidecarPackage?: { version?: string };
  controlPlaneProxy?: ControlPlaneProxy;
}

/** The version a VM pins: the package's, else the image tag (of `proxyImageTag` or a full `proxyImage`). */
function pinnedVersionOf(p: PinnedProxy): { field: string; version: string } | undefined {
  if (p.runtime === "package") {
    return p.sidecarPackage?.version
      ? { field: "sidecarPackage.version", version: p.sidecarPackage.version }
      : undefined;
  }
  if (p.runtime !== undefined && p.runtime !== "container") return undefined;
  if (p.proxyImageTag) return { field: "proxyImageTag", version: p.proxyImageTag };
  const tag = p.proxyImage?.includes("@") ? undefined : /:([^:/]+)$/.exec(p.proxyImage ?? "")?.[1];
  return tag ? { field: "proxyImage", version: tag } : undefined;
}

/** The preview warning for a pinned proxy version outside the supported skew from the control plane's, if any. */
export function proxySkewWarning(p: PinnedProxy): string | undefined {
  const controlPlane = p.controlPlaneProxy?.tag;
  const pinned = pinnedVersionOf(p);
  if (!controlPlane || !pinned) return undefined;
  const problem = proxyVersionSkewProblem(pinned.version, controlPlane);
  return problem
    ? `${pinned.field}: ${problem}; unset it to follow the control plane, or pin a version within one minor of it`
    : undefined;
}

/** Warns (through `warn`) once the settings are known when the pinned proxy is outside the supported skew. */
export function warnOnProxySkew(
  args: { [K in keyof PinnedProxy]?: pulumi.Input<PinnedProxy[K]> },
  warn: (message: string) => void,
): void {
  pulumi
    .all([args.runtime, args.proxyImage, args.proxyImageTag, args.sidecarPackage, args.controlPlaneProxy])
    .apply(([runtime, proxyImage, proxyImageTag, sidecarPackage, controlPlaneProxy]) => {
      const message = proxySkewWarning({
        runtime,
        proxyImage,
        proxyImageTag,
        sidecarPackage,
        controlPlaneProxy,
      });
      if (message !== undefined) warn(message);
    });
}
