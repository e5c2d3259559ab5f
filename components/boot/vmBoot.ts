// VmBoot: boot-time delivery of the host half. Instead of SSH steps, it renders what the VM needs to start
// its proxy by itself, from the same renderers VmProxy uses: cloud-init user data (`userData`, secret) for the
// VM resource in the same program, and tctl's offline bundle (`bundle`, optionally written to `bundleDir`).
// Nothing here opens an SSH session. The bootstrap token is minted by the same local program as VmProxy's.
import { warnOnProxySkew } from "../host/controlPlaneProxy";
import { createHash } from "node:crypto";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { readinessUrl } from "../host/proxyScripts";
import type { MeshSettings, WorkloadIdentity } from "../host/sidecarEnv";
import { createEnvoyWorkloadCertificate, type EnvoyCertificateMaterial } from "../host/workloadCertificate";
import { MintedToken, createTokenMint } from "../host/bootstrapMaterial";
import { CaRoots, readCaRoots } from "../host/meshRoots";
import { numberBounds, vmProxyDefaults } from "../host/defaults";
import { localProgram } from "../localProgram";
import {
  BootPlan,
  BootPlanInputs,
  bootDockerRunCommand,
  bundleStartScriptOf,
  bootHostsBlock,
  buildBootPlan,
  renderBundle,
  renderCloudConfig,
} from "./render";
import { throwIfIssues } from "../rules/issues";
import { clearedAtBootProblem, formatInteger } from "../rules/values";
import type { ContainerPlan } from "../runtime/container";
import type { EnvoyPlan } from "../runtime/envoy";
import { envoySettingsWithoutMaterial } from "../runtime/envoyArgs";
import { materialInputs, withoutKeys } from "../runtime/inputs";
import { validateVmBootArgs } from "./vmBootValidation";
import { bootReadyCheckDefaults, bootTokenDefaults } from "./token";
import type { BootBundleFile, VmBootArgs } from "./vmBootArgs";
import { envoyForwardWarnings } from "../runtime/envoyValidation";

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/** What the steps share. */
interface BootStepContext {
  name: string;
  parent: { parent: pulumi.Resource };
  args: VmBootArgs;
  workload: pulumi.Output<WorkloadIdentity>;
  mesh: pulumi.Output<MeshSettings>;
}

/**
 * The token: the same minting program as VmProxy's; re-minted only for a new identity, lifetime, audiences or
 * an explicit rotation. Never by time: the user data is read once, at first boot, and a new token would change
 * it (and so the VM resource) at every window.
 */
function mintToken(ctx: BootStepContext): MintedToken {
  const { expirationSeconds, audiences } = bootTokenDefaults(ctx.args.token);
  return createTokenMint(ctx.name, ctx.parent, {
    kubeconfig: ctx.args.kubeconfig,
    kubeContext: ctx.args.kubeContext,
    workload: ctx.workload,
    audiences,
    expirationSeconds,
    moreTriggers: [ctx.args.token?.rotation ?? ""],
  });
}

/** The mesh and Kubernetes roots: given, or read from the namespace's ConfigMaps (as VmProxy does). */
function caRoots(ctx: BootStepContext): CaRoots {
  return readCaRoots(ctx.name, ctx.parent, ctx.workload, ctx.args);
}

/**
 * The envoy runtime's certificate: issued by istiod at `up` like VmProxy's, but never renewed by time (see
 * `renewByTime`): it is part of the user data, read once at first boot.
 */
function issueCertificate(ctx: BootStepContext, roots: CaRoots): EnvoyCertificateMaterial {
  const { args } = ctx;
  return createEnvoyWorkloadCertificate(
    ctx.name,
    ctx.parent,
    { envoy: args.envoy!, kubeconfig: args.kubeconfig, kubeContext: args.kubeContext },
    { workload: ctx.workload, mesh: ctx.mesh, meshRootCert: roots.meshRootCert },
    false,
  );
}

type CertMaterial = { certChain: string; key: string } | undefined;

/** The plan for a token (and, runtime envoy, certificate) value: every setting resolved, rendered by buildBootPlan. */
function planFor(
  ctx: BootStepContext,
  roots: { meshRootCert: pulumi.Input<string>; kubernetesRootCert: pulumi.Input<string> },
): (token: pulumi.Input<string>, cert?: pulumi.Input<CertMaterial>) => pulumi.Output<BootPlan> {
  const { args } = ctx;
  const delivery = ["token", "readyCheck", "bundleDir", "deregistrationDelaySeconds"] as const;
  // VmBoot's proxy settings as they are (the renderer applies the defaults), the roots as material.
  const settings = pulumi.output({
    ...withoutKeys(args, [...materialInputs, ...delivery]),
    envoy: envoySettingsWithoutMaterial(args.envoy),
    workload: ctx.workload,
    meshRootCert: roots.meshRootCert,
    kubernetesRootCert: roots.kubernetesRootCert,
  }) as unknown as pulumi.Output<Omit<BootPlanInputs, "token">>;
  return (token, cert) =>
    pulumi
      .all([settings, token, cert])
      .apply(([s, t, c]) => buildBootPlan({ ...s, token: t, ...(c ? { workloadCertificate: c } : {}) }));
}

/** tctl's offline bundle on local disk (`bundleDir`): written from a secret stdin, removed on destroy. */
function writeBundle(
  ctx: BootStepContext,
  bundle: pulumi.Output<BootBundleFile[]>,
): command.local.Command | undefined {
  if (ctx.args.bundleDir === undefined) return undefined;
  const dir = pulumi.output(ctx.args.bundleDir);
  return new command.local.Command(
    `${ctx.name}-bundle`,
    {
      interpreter: ["node", "-e"],
      create: localProgram("writeBundle"),
      delete: localProgram("removeBundle"),
      stdin: pulumi.secret(
        pulumi.all([dir, bundle]).apply(([d, files]) => JSON.stringify({ dir: d, files })),
      ),
      environment: {
        MESH_VM_BUNDLE_DIR: dir,
        MESH_VM_BUNDLE_FILES: bundle.apply((files) => JSON.stringify(files.map((f) => f.path))),
      },
      logging: "none",
      addPreviousOutputInEnv: false,
    },
    ctx.parent,
  );
}

/**
 * Created once `up` observes the booted VM's proxy ready on its status port (or at once without the ready
 * check); deleted after the registration objects, waiting the deregistration delay.
 */
function registrationGate(
  ctx: BootStepContext,
  userData: pulumi.Output<string>,
  after: pulumi.Resource[],
): command.local.Command {
  const { args } = ctx;
  const delay = formatInteger(
    args.deregistrationDelaySeconds ?? vmProxyDefaults.deregistrationDelaySeconds,
    0,
    numberBounds.maxDeregistrationDelaySeconds,
    "deregistrationDelaySeconds",
  );
  const check = args.readyCheck ?? {};
  // A plain Envoy serves its readiness on the VM's loopback only (admin on 127.0.0.1): nothing to poll unless a
  // URL is given, and nothing of the mesh waits for it (no WorkloadEntry routes to a VM that only calls out).
  const waitForReady = check.enabled ?? (args.runtime !== "envoy" || check.url !== undefined);
  const url = pulumi
    .all([check.url, ctx.workload])
    .apply(([u, w]) => u ?? readinessUrl({ ...(args.readiness ?? {}), host: w.address }));
  return new command.local.Command(
    `${ctx.name}-registration-gate`,
    {
      interpreter: ["node", "-e"],
      create: waitForReady ? localProgram("readyCheck") : "",
      delete: localProgram("sleep"),
      environment: {
        MESH_VM_READY_URL: waitForReady ? url : "",
        MESH_VM_READY_TIMEOUT: String(check.timeoutSeconds ?? bootReadyCheckDefaults.timeoutSeconds),
        MESH_VM_DELAY: delay,
      },
      // New user data is a new boot (the VM resource is replaced or re-created with it): wait again.
      triggers: [pulumi.unsecret(userData.apply(sha256))],
      addPreviousOutputInEnv: false,
    },
    { ...ctx.parent, dependsOn: after },
  );
}

/**
 * Boot-time delivery for one VM: `userData` (cloud-init, secret) and the offline `bundle`. Resources that
 * register the VM should depend on `registrationGate` (or go through `afterProxyReady`): with the ready check
 * on, it is created once the booted VM's proxy answers ready. Knows nothing of MeshVm.
 */
export class VmBoot extends pulumi.ComponentResource {
  /** `#cloud-config` user data: the proxy user, the config files, and a runcmd starting the proxy. Secret. */
  public readonly userData: pulumi.Output<string>;
  /** The offline bundle (tctl `--output-dir` layout plus the start script). Secret: it holds the token. */
  public readonly bundle: pulumi.Output<BootBundleFile[]>;
  /** The bundle's `bin/start-istio-proxy.sh` (no secret in it); the user data runs the same steps. */
  public readonly startScript: pulumi.Output<string>;
  /** Where the bundle was written (`bundleDir`), or "". */
  public readonly bundleDir: pulumi.Output<string>;
  public readonly sidecarEnv: pulumi.Output<string>;
  public readonly dockerRunCommand: pulumi.Output<string>;
  public readonly proxyImage: pulumi.Output<string>;
  public readonly containerConfigDigest: pulumi.Output<string>;
  public readonly fileDigests: pulumi.Output<Record<string, string>>;
  /** When the token in the user data expires (RFC 3339); "" for runtime `envoy`. */
  public readonly tokenExpiry: pulumi.Output<string>;
  /** Runtime `envoy`: when the workload certificate in the user data and bundle expires (RFC 3339); "" otherwise. */
  public readonly certificateExpiry: pulumi.Output<string>;
  public readonly hostsBlock: pulumi.Output<string>;
  /** Created once the proxy is observed ready (or at once without the ready check). */
  public readonly registrationGate: command.local.Command;

  public afterProxyReady<T>(value: pulumi.Input<T>): pulumi.Output<T> {
    return pulumi.all([this.registrationGate.urn, value]).apply(([, v]) => v as T);
  }

  constructor(name: string, args: VmBootArgs, opts?: pulumi.ComponentResourceOptions) {
    // Checked like VmProxy, before registering: a bad input fails preview with nothing created.
    throwIfIssues(`VmBoot "${name}"`, validateVmBootArgs(args));
    super("mesh-vm:index:VmBoot", name, {}, opts);
    const current = args;
    pulumi.output(current.proxyConfigDir ?? vmProxyDefaults.proxyConfigDir).apply((dir) => {
      const volatile = clearedAtBootProblem(dir);
      if (volatile !== undefined) pulumi.log.warn(volatile, this);
    });
    warnOnProxySkew(current, (message) => pulumi.log.warn(message, this));
    if (current.runtime === "envoy")
      for (const w of envoyForwardWarnings(current.envoy, "envoy")) pulumi.log.warn(w, this);
    const ctx: BootStepContext = {
      name,
      parent: { parent: this },
      args: current,
      workload: pulumi.output(current.workload) as pulumi.Output<WorkloadIdentity>,
      mesh: pulumi.output(current.mesh ?? {}) as pulumi.Output<MeshSettings>,
    };
    const roots = caRoots(ctx);
    // The envoy runtime gets a workload certificate instead of a bootstrap token (its VM never talks to istiod).
    const envoy = current.runtime === "envoy";
    const minted = envoy ? undefined : mintToken(ctx);
    const certificate = envoy ? issueCertificate(ctx, roots) : undefined;
    this.tokenExpiry = minted ? minted.expiry : pulumi.output("");
    this.certificateExpiry = certificate ? certificate.notAfter : pulumi.output("");
    const planWith = planFor(ctx, roots);
    // The token and the certificate shape nothing but their own files: placeholders render the public parts, so
    // they are shown (and known) at preview, and never carry the secret flag.
    const publicPlan = planWith(
      "<token>",
      certificate ? { certChain: "<certificate>", key: "<key>" } : undefined,
    );
    const plan = planWith(
      minted ? minted.token : "",
      certificate &&
        pulumi
          .all([certificate.certChain, certificate.keyPem])
          .apply(([certChain, key]) => ({ certChain, key })),
    );
    const material = minted ? [minted.mint] : certificate!.resources;

    this.userData = pulumi.secret(plan.apply(renderCloudConfig));
    this.bundle = pulumi.secret(
      plan.apply((p) => renderBundle(p).map((f) => ({ path: f.path, mode: f.mode, content: f.content }))),
    );
    this.startScript = publicPlan.apply(
      (p) => renderBundle(p).find((f) => f.path === bundleStartScriptOf(p))!.content,
    );
    // The container runtime's own outputs ("" for a runtime without a container).
    const container = publicPlan.apply((p) => (p.runtime === "container" ? (p as ContainerPlan) : undefined));
    this.sidecarEnv = container.apply((c) => c?.sidecarEnv ?? "");
    this.dockerRunCommand = publicPlan.apply(bootDockerRunCommand);
    this.proxyImage = pulumi
      .all([publicPlan, container])
      .apply(([p, c]) =>
        p.runtime === "envoy" ? (p as EnvoyPlan).container.image : (c?.container.image ?? ""),
      );
    this.containerConfigDigest = publicPlan.apply((p) => p.configDigest);
    this.hostsBlock = publicPlan.apply(bootHostsBlock);
    // Digests only leave the secret plan.
    this.fileDigests = pulumi.unsecret(
      plan.apply((p) =>
        Object.fromEntries(
          p.files.map((f) => [f.path.slice(f.path.lastIndexOf("/") + 1), sha256(f.content)]),
        ),
      ),
    );

    const bundleStep = writeBundle(ctx, this.bundle);
    this.bundleDir = bundleStep
      ? bundleStep.environment.apply((e) => e?.MESH_VM_BUNDLE_DIR ?? "")
      : pulumi.output("");
    this.registrationGate = registrationGate(
      ctx,
      this.userData,
      bundleStep ? [...material, bundleStep] : material,
    );

    this.registerOutputs({
      userData: this.userData,
      bundle: this.bundle,
      startScript: this.startScript,
      bundleDir: this.bundleDir,
      sidecarEnv: this.sidecarEnv,
      dockerRunCommand: this.dockerRunCommand,
      proxyImage: this.proxyImage,
      containerConfigDigest: this.containerConfigDigest,
      fileDigests: this.fileDigests,
      tokenExpiry: this.tokenExpiry,
      certificateExpiry: this.certificateExpiry,
      hostsBlock: this.hostsBlock,
    });
  }
}
