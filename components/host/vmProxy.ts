// VmProxy: the proxy on one VM (MeshVm's host half, usable on its own), delivered over SSH. Everything
// `tctl x sidecar-bootstrap --start-istio-proxy` does on a VM, plus the runbooks' manual preparation, as Pulumi
// resources: preview shows each step with its rendered scripts, `up` converges, a second `up` runs nothing,
// destroy undoes it. The chosen runtime (runtime/registry.ts) renders a RuntimePlan from the bootstrap material
// (token, CA roots); VmProxy runs it in at most two SSH sessions (docs/architecture.md): `<name>-host` (as root:
// preparation, generated key, hosts block) and `<name>-proxy` (the files from a secret stdin, then start).
import { warnOnProxySkew } from "./controlPlaneProxy";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { throwIfIssues } from "../rules/issues";
import { clearedAtBootProblem, dedicatedDirectoryProblem, formatInteger } from "../rules/values";
import { materialInputs, withoutKeys, type RuntimeInputs } from "../runtime/inputs";
import { publicPlanOf, sha256, type PlannedHostsBlock, type RuntimePlan } from "../runtime/plan";
import { renderRuntimePlan } from "../runtime/registry";
import type { ContainerPlan } from "../runtime/container";
import { MintedToken, createTokenMint } from "./bootstrapMaterial";
import { CaRoots, readCaRoots } from "./meshRoots";
import { numberBounds, renewBeforeSecondsFor, sshDefaults, tokenDefaults, vmProxyDefaults } from "./defaults";
import { renderHostsBlock } from "./hostsBlock";
import { driftCheckCommand, proxyProbeOf } from "./driftCheck";
import { DriftCheck, runsAsComponentProvider } from "./driftResource";
import {
  HostStepSpec,
  fileBundle,
  fileEntriesOf,
  hostStepScripts,
  hostStepStdin,
  proxyStepScripts,
} from "./remoteSteps";
import { MeshSettings, WorkloadIdentity } from "./sidecarEnv";
import { afterCheck, bastionHostKeyCheck } from "./bastionCheck";
import { toConnection } from "./sshConnection";
import { tokenRotationWindow } from "./tokenRequest";
import { EnvoyCertificateMaterial, createEnvoyWorkloadCertificate } from "./workloadCertificate";
import type { EnvoyPlan } from "../runtime/envoy";
import { envoySettingsWithoutMaterial } from "../runtime/envoyArgs";
import { envoyForwardWarnings } from "../runtime/envoyValidation";
import { validateVmProxyArgs } from "./vmProxyValidation";
import { createPackageCopy, localPackageOf, type PackageCopy } from "./packageCopy";

import type { VmProxyArgs } from "./vmProxyArgs";
export type { BootstrapTokenArgs, HostPreparationArgs, Inputs, VmProxyArgs } from "./vmProxyArgs";

/** What every step shares: the component as parent, retention, the workload and the owner tag. */
interface ProxyStepContext {
  name: string;
  parent: { parent: pulumi.Resource };
  /** `retainOnDelete` when the host is gone. */
  retain: { retainOnDelete?: boolean };
  /**
   * Options of every remote step: a replaced step is undone before it is done again. The engine's default,
   * create-before-delete, would run the old step's delete after the new create, and the delete (by name or
   * path) undoes what the create just did: `pulumi up --replace <proxy step>` would end without a container.
   */
  remote: { parent: pulumi.Resource; retainOnDelete?: boolean; deleteBeforeReplace: true };
  warn: (message: string) => void;
  sshUser: pulumi.Output<string>;
  configDir: pulumi.Output<string>;
  workload: pulumi.Output<WorkloadIdentity>;
  mesh: pulumi.Output<MeshSettings>;
  /** `<namespace>/<name>` of the workload: names the container, the key comment and the hosts block. */
  owner: pulumi.Output<string>;
}

type Connection = command.types.input.remote.ConnectionArgs;

/** The SSH connections, built once: as the proxy user, and as the admin when the host is prepared. */
interface SshAccess {
  proxy: Connection;
  admin?: Connection;
  /** The key generated for the proxy user when the caller gave none. */
  generatedKey?: tls.PrivateKey;
}

/** proxyConfigDir once known (validation checks it at preview when it is plain): a dedicated directory. */
function normaliseConfigDir(dir: string): string {
  const p = dedicatedDirectoryProblem(dir);
  if (p !== undefined) throw new Error(`proxyConfigDir: ${p}`);
  return dir.replace(/(.)\/$/, "$1");
}

// --- ssh access ---------------------------------------------------------------------------------------------

function createSshAccess(ctx: ProxyStepContext, args: VmProxyArgs): SshAccess {
  // A wrong bastion key is refused by name before any step dials through the bastion (see bastionCheck.ts).
  const check = bastionHostKeyCheck(
    ctx.name,
    args.ssh.bastion,
    args.ssh.perDialTimeout,
    args.ssh.insecureIgnoreHostKey,
    ctx.parent,
  );
  const ssh = { ...args.ssh, host: afterCheck(args.ssh.host, check) };
  const ownCredentials = args.ssh.privateKey !== undefined || args.ssh.agentSocketPath !== undefined;
  const generatedKey = ownCredentials
    ? undefined
    : new tls.PrivateKey(`${ctx.name}-ssh-key`, { algorithm: "ED25519" }, ctx.parent);
  const proxy = toConnection(
    ssh,
    {
      user: args.ssh.user ?? ctx.sshUser,
      privateKey: generatedKey ? generatedKey.privateKeyOpenssh : args.ssh.privateKey,
      privateKeyPassword: args.ssh.privateKeyPassword,
      agentSocketPath: args.ssh.agentSocketPath,
    },
    ctx.warn,
  );
  const admin = args.prepare
    ? toConnection(
        ssh,
        { ...args.prepare.admin, user: args.prepare.admin.user ?? vmProxyDefaults.adminUser },
        () => undefined, // already warned for the proxy connection
      )
    : undefined;
  return { proxy, ...(admin ? { admin } : {}), ...(generatedKey ? { generatedKey } : {}) };
}

// --- bootstrap token ----------------------------------------------------------------------------------------

function createBootstrapToken(ctx: ProxyStepContext, args: VmProxyArgs): MintedToken {
  const tokenArgs = args.token ?? {};
  const expirationSeconds = tokenArgs.expirationSeconds ?? tokenDefaults.expirationSeconds;
  const renewBeforeSeconds = tokenArgs.renewBeforeSeconds ?? renewBeforeSecondsFor(expirationSeconds);
  // A new token only for a new identity, lifetime, explicit rotation, or rotation window.
  return createTokenMint(ctx.name, ctx.parent, {
    kubeconfig: args.kubeconfig,
    kubeContext: args.kubeContext,
    workload: ctx.workload,
    audiences: tokenArgs.audiences ?? [...tokenDefaults.audiences],
    expirationSeconds,
    moreTriggers: [
      tokenArgs.rotation ?? "",
      tokenRotationWindow(Date.now(), expirationSeconds, renewBeforeSeconds),
    ],
  });
}

// --- runtime plan -------------------------------------------------------------------------------------------

/** The settings the runtime renders from: VmProxy's proxy settings as they are, with the context's resolved ones. */
function runtimeInputsOf(
  ctx: ProxyStepContext,
  args: VmProxyArgs,
  copy?: PackageCopy,
): pulumi.Output<RuntimeInputs> {
  const delivery = [
    "ssh",
    "prepare",
    "token",
    "deregistrationDelaySeconds",
    "hostGone",
    "driftCheck",
  ] as const;
  return pulumi.output({
    ...withoutKeys(args, [...materialInputs, ...delivery]),
    envoy: envoySettingsWithoutMaterial(args.envoy),
    workload: ctx.workload,
    mesh: ctx.mesh,
    proxyConfigDir: ctx.configDir,
    sshUser: ctx.sshUser,
    dockerGroup: args.prepare?.dockerGroup,
    ...(copy ? { sidecarPackageCopy: { sha256: copy.sha256 } } : {}),
  }) as pulumi.Output<RuntimeInputs>;
}

/** The plan with the material (secret: its files travel on stdin) and with placeholders (shown at preview). */
interface Plans {
  plan: pulumi.Output<RuntimePlan>;
  publicPlan: pulumi.Output<RuntimePlan>;
}

function renderPlans(
  inputs: pulumi.Output<RuntimeInputs>,
  token: pulumi.Output<string>,
  roots: CaRoots,
  certificate?: EnvoyCertificateMaterial,
): Plans {
  const rootsOut = pulumi.all([roots.meshRootCert, roots.kubernetesRootCert]);
  type Cert = { certChain: string; key: string } | undefined;
  const render = (t: pulumi.Input<string>, c: pulumi.Input<Cert>) =>
    pulumi.all([inputs, rootsOut, t, c]).apply(([i, [meshRootCert, kubernetesRootCert], tok, cert]) =>
      renderRuntimePlan(i, {
        token: tok,
        meshRootCert,
        kubernetesRootCert,
        ...(cert ? { workloadCertificate: cert } : {}),
      }),
    );
  const cert: pulumi.Input<Cert> = certificate
    ? pulumi
        .all([certificate.certChain, certificate.keyPem])
        .apply(([certChain, key]) => ({ certChain, key }))
    : undefined;
  const placeholder = certificate ? { certChain: "<certificate>", key: "<key>" } : undefined;
  // The token and the certificate shape nothing but their own files: placeholders render the public parts,
  // known at preview.
  return {
    plan: render(token, cert),
    publicPlan: render("<token>", placeholder).apply((p) => publicPlanOf(p)),
  };
}

// --- workload certificate (runtime envoy) --------------------------------------------------------------------

/** The envoy runtime's material: a workload certificate from istiod's CA, instead of a bootstrap token. */
function createEnvoyCertificate(
  ctx: ProxyStepContext,
  args: VmProxyArgs,
  roots: CaRoots,
): EnvoyCertificateMaterial {
  return createEnvoyWorkloadCertificate(
    ctx.name,
    ctx.parent,
    { envoy: args.envoy!, kubeconfig: args.kubeconfig, kubeContext: args.kubeContext },
    { workload: ctx.workload, mesh: ctx.mesh, meshRootCert: roots.meshRootCert },
  );
}

// --- host step ----------------------------------------------------------------------------------------------

/**
 * The `/etc/hosts` block the host step writes: the egress names when `egressHostnames` is given, and always the
 * names the proxy itself resolves (`beforeStart`: the package runtime's istiod line, without which its agent never
 * reaches istiod).
 */
function managedHostsBlock(args: VmProxyArgs, p: RuntimePlan): PlannedHostsBlock | undefined {
  if (p.hostsBlock === undefined) return undefined;
  return args.egressHostnames !== undefined || p.hostsBlock.beforeStart === true ? p.hostsBlock : undefined;
}

/**
 * `<name>-host`, as root (the admin when prepared): the runtime's preparation and the generated key when
 * `prepare` is given, the `/etc/hosts` block when `egressHostnames` is or the runtime needs one (managedHostsBlock).
 * Undefined when there is neither.
 */
function createHostStep(
  ctx: ProxyStepContext,
  args: VmProxyArgs,
  ssh: SshAccess,
  publicPlan: pulumi.Output<RuntimePlan>,
  repair: pulumi.Output<string>,
  copy?: PackageCopy,
): command.remote.Command | undefined {
  const prepares = args.prepare !== undefined;
  const managesHosts = args.egressHostnames !== undefined || args.runtime === "package";
  if (!prepares && !managesHosts) return undefined;
  const installsKey = prepares && ssh.generatedKey !== undefined;
  const spec = pulumi.all([publicPlan, ctx.owner, repair]).apply(([p, who, r]): HostStepSpec => ({
    ...(r ? { repair: r } : {}),
    ...(prepares ? { prepare: p.prepare } : {}),
    ...(installsKey ? { key: { user: p.account.user, keyOwner: who } } : {}),
    ...(managedHostsBlock(args, p)
      ? { hostsBlock: { owner: p.hostsBlock!.owner, address: p.hostsBlock!.address } }
      : {}),
  }));
  const scripts = spec.apply(hostStepScripts);
  // The public half of the generated key and the block (neither secret); a new key re-runs the step.
  const stdin = pulumi
    .all([publicPlan, installsKey ? ssh.generatedKey!.publicKeyOpenssh : undefined])
    .apply(([p, key]) => hostStepStdin(key, managedHostsBlock(args, p)));
  return new command.remote.Command(
    `${ctx.name}-host`,
    {
      connection: ssh.admin ?? ssh.proxy,
      create: scripts.create,
      delete: scripts.delete,
      stdin,
      addPreviousOutputInEnv: false,
    },
    copy ? { ...ctx.remote, dependsOn: [copy.resource] } : ctx.remote,
  );
}

// --- proxy step ---------------------------------------------------------------------------------------------

/** `<name>-proxy`: the plan's files from a secret stdin, then `start` (readiness included); delete: `stop`, files. */
function createProxyStep(
  ctx: ProxyStepContext,
  connection: Connection,
  plans: Plans,
  repair: pulumi.Output<string>,
  after: pulumi.Resource[],
): command.remote.Command {
  const scripts = pulumi
    .all([plans.publicPlan, repair])
    .apply(([p, r]) => proxyStepScripts(p, fileEntriesOf(p.files), r || undefined));
  return new command.remote.Command(
    `${ctx.name}-proxy`,
    {
      connection,
      create: scripts.create,
      delete: scripts.delete,
      stdin: pulumi.secret(plans.plan.apply((p) => fileBundle(p.files))),
      addPreviousOutputInEnv: false,
    },
    { ...ctx.remote, dependsOn: after },
  );
}

// --- drift check ---------------------------------------------------------------------------------------------

/**
 * `<name>-drift`: on refresh only, checks the VM against the last applied plan over the proxy step's connection (one
 * SSH session, as the proxy step's account) and records what drifted; its repair markers re-run the step that
 * repairs it at the next `up` (driftCheck.ts, driftResource.ts).
 */
function createDriftCheck(
  ctx: ProxyStepContext,
  args: VmProxyArgs,
  connection: Connection,
  publicPlan: pulumi.Output<RuntimePlan>,
): DriftCheck {
  // Messages name the VM as the mesh does (the workload's name), not this component.
  const vm = ctx.workload.apply((w) => w.name);
  const checkCommand = pulumi.all([publicPlan, vm]).apply(([p, name]) => {
    const managed = managedHostsBlock(args, p);
    const block = managed ? renderHostsBlock(managed) : "";
    return driftCheckCommand(
      {
        vm: name,
        probe: proxyProbeOf(p),
        files: fileEntriesOf(p.files),
        ...(block ? { hostsBlock: { owner: p.hostsBlock!.owner, text: block } } : {}),
      },
      p.runsAs === "root" ? "root" : "user",
    );
  });
  return new DriftCheck(
    `${ctx.name}-drift`,
    { vm, connection, command: checkCommand, hostGone: args.hostGone === true },
    { ...ctx.parent, ...ctx.retain },
  );
}

// --- registration gate --------------------------------------------------------------------------------------

/**
 * Created once the proxy is ready; deleted (after the mesh objects depending on it) by waiting the propagation
 * delay, before the proxy and the hosts block go. A resource of its own, not the proxy step: the mesh objects'
 * inputs depend on it, and a delete-before-replace of the proxy step (`up --replace`) would otherwise replace
 * them too — every WorkloadEntry and a fleet's shared ServiceEntry (faults e2e, "proxy container removed").
 */
function createRegistrationGate(
  ctx: ProxyStepContext,
  delaySeconds: number,
  after: command.remote.Command[],
): command.local.Command {
  return new command.local.Command(
    `${ctx.name}-registration-gate`,
    {
      create: "true",
      // Formatted here, never pasted: a string, a fraction or 1e21 never reaches the shell.
      delete: `sleep ${formatInteger(delaySeconds, 0, numberBounds.maxDeregistrationDelaySeconds, "deregistrationDelaySeconds")}`,
      addPreviousOutputInEnv: false,
    },
    { ...ctx.parent, ...ctx.retain, dependsOn: after },
  );
}

/** The SSH identity of the proxy steps (a named type: Pulumi's component analyzer needs one per output). */
export interface SshIdentity {
  user: string;
  host: string;
  port: number;
  /** The generated key's public half, when `prepare` installed one. */
  publicKey?: string;
}

/**
 * The proxy on one VM: host preparation, bootstrap token, files, container, `/etc/hosts` block.
 * Resources that register the VM in the mesh should `dependsOn: [vmProxy.registrationGate]`: they are then
 * created after the proxy is ready, and deleted before it stops, with `deregistrationDelaySeconds` between.
 */
export class VmProxy extends pulumi.ComponentResource {
  /** Depend on this to register only once the proxy is ready (and deregister before it stops). */
  public readonly registrationGate: command.local.Command;
  /** Rendered sidecar.env, as written to the VM. */
  public readonly sidecarEnv: pulumi.Output<string>;
  /** The `docker run` command the proxy is started with. */
  public readonly dockerRunCommand: pulumi.Output<string>;
  /** The proxy image. */
  public readonly proxyImage: pulumi.Output<string>;
  /** Digest of everything the container is created from (its `mesh-vm.config-digest` label). */
  public readonly containerConfigDigest: pulumi.Output<string>;
  /** Container id after the last run. */
  public readonly containerId: pulumi.Output<string>;
  /** Container state after the last run (`running`). */
  public readonly containerState: pulumi.Output<string>;
  /** SHA-256 of each file written to proxyConfigDir. */
  public readonly fileDigests: pulumi.Output<Record<string, string>>;
  /** When the current bootstrap token expires (RFC 3339); "" for the envoy runtime, which has none. */
  public readonly tokenExpiry: pulumi.Output<string>;
  /** When the envoy runtime's workload certificate expires (RFC 3339); "" for the other runtimes. */
  public readonly certificateExpiry: pulumi.Output<string>;
  /** The managed `/etc/hosts` block ("" when none). */
  public readonly hostsBlock: pulumi.Output<string>;
  /** The SSH identity used for the proxy steps: user, host, port, and the public key when one was generated. */
  public readonly sshIdentity: pulumi.Output<SshIdentity>;

  /**
   * `value`, carrying a dependency on the ready proxy (known at preview). Resources whose inputs go through it
   * are created after the proxy is ready and deleted before it stops, like `dependsOn: [registrationGate]`,
   * also when they are created by another component that does not take `dependsOn` to its children.
   */
  public afterProxyReady<T>(value: pulumi.Input<T>): pulumi.Output<T> {
    return pulumi.all([this.registrationGate.urn, value]).apply(([, v]) => v as T);
  }

  constructor(name: string, args: VmProxyArgs, opts?: pulumi.ComponentResourceOptions) {
    // Inputs known now are checked before the component registers, so preview fails with nothing created.
    throwIfIssues(`VmProxy "${name}"`, validateVmProxyArgs(args));
    super("mesh-vm:index:VmProxy", name, {}, opts);
    const current = args;
    const ctx = this.stepContext(name, current);

    const ssh = createSshAccess(ctx, current);
    const roots = readCaRoots(ctx.name, ctx.parent, ctx.workload, current);
    // The envoy runtime never talks to istiod from the VM: it gets a certificate instead of a bootstrap token.
    const envoy = current.runtime === "envoy";
    const certificate = envoy ? createEnvoyCertificate(ctx, current, roots) : undefined;
    const token = envoy ? undefined : createBootstrapToken(ctx, current);
    this.tokenExpiry = token ? token.expiry : pulumi.output("");
    this.certificateExpiry = certificate ? certificate.notAfter : pulumi.output("");
    // sidecarPackage.localFile: copied over the host step's login before the host step installs it.
    const localPackage = current.runtime === "package" ? localPackageOf(current.sidecarPackage) : undefined;
    const copy = localPackage
      ? createPackageCopy(ctx.name, localPackage, ssh.admin ?? ssh.proxy, ctx.remote)
      : undefined;
    const plans = renderPlans(
      runtimeInputsOf(ctx, current, copy),
      token ? token.token : pulumi.output(""),
      roots,
      certificate,
    );
    const { publicPlan } = plans;

    const checksDrift = current.driftCheck ?? !runsAsComponentProvider();
    const drift = checksDrift ? createDriftCheck(ctx, current, ssh.proxy, publicPlan) : undefined;
    const noRepair = pulumi.output("");
    const hostStep = createHostStep(ctx, current, ssh, publicPlan, drift?.hostRepair ?? noRepair, copy);
    const proxy = createProxyStep(
      ctx,
      ssh.proxy,
      plans,
      drift?.proxyRepair ?? noRepair,
      hostStep ? [hostStep] : [],
    );
    // Digests only leave the secret plan.
    this.fileDigests = pulumi.unsecret(
      plans.plan.apply((p) =>
        Object.fromEntries(
          p.files.map((f) => [f.path.slice(f.path.lastIndexOf("/") + 1), sha256(f.content)]),
        ),
      ),
    );
    // The container runtime's own outputs ("" for a runtime without a container).
    const container = publicPlan.apply((p) => (p.runtime === "container" ? (p as ContainerPlan) : undefined));
    this.sidecarEnv = container.apply((c) => c?.sidecarEnv ?? "");
    this.proxyImage = publicPlan.apply((p) =>
      p.runtime === "envoy"
        ? (p as EnvoyPlan).container.image
        : ((p as ContainerPlan).container?.image ?? ""),
    );
    this.dockerRunCommand = container.apply((c) => c?.dockerRunCommand ?? "");
    this.containerConfigDigest = publicPlan.apply((p) => p.configDigest);
    // The container runtimes (container, envoy) end their step with the run as JSON; the package runtime's
    // step prints what it did (a systemd unit has no container).
    const run = pulumi
      .all([publicPlan, pulumi.unsecret(proxy.stdout)])
      .apply(([p, out]) =>
        p.runtime === "package" ? { action: "", containerId: "", state: "" } : parseRunOutput(out),
      );
    this.containerId = run.apply((r) => r.containerId);
    this.containerState = run.apply((r) => r.state);
    this.hostsBlock = publicPlan.apply((p) => (p.hostsBlock ? renderHostsBlock(p.hostsBlock) : ""));

    const delay = current.deregistrationDelaySeconds ?? vmProxyDefaults.deregistrationDelaySeconds;
    this.registrationGate = createRegistrationGate(ctx, delay, hostStep ? [proxy, hostStep] : [proxy]);

    this.sshIdentity = pulumi
      .all([
        ssh.proxy.user,
        current.ssh.host,
        current.ssh.port ?? sshDefaults.port,
        ssh.generatedKey?.publicKeyOpenssh,
      ])
      .apply(([user, host, port, publicKey]) => ({
        user: user as string,
        host,
        port,
        ...(publicKey ? { publicKey: publicKey.trim() } : {}),
      }));

    this.registerOutputs({
      sidecarEnv: this.sidecarEnv,
      dockerRunCommand: this.dockerRunCommand,
      proxyImage: this.proxyImage,
      containerConfigDigest: this.containerConfigDigest,
      containerId: this.containerId,
      containerState: this.containerState,
      fileDigests: this.fileDigests,
      tokenExpiry: this.tokenExpiry,
      certificateExpiry: this.certificateExpiry,
      hostsBlock: this.hostsBlock,
      sshIdentity: this.sshIdentity,
    });
  }

  private stepContext(name: string, args: VmProxyArgs): ProxyStepContext {
    const warn = (message: string) => pulumi.log.warn(message, this);
    if (args.hostGone) {
      warn(`hostGone is set: destroying ${name} will not contact the VM or undo anything on it`);
    }
    warnOnProxySkew(args, warn);
    if (args.runtime === "envoy") for (const w of envoyForwardWarnings(args.envoy, "envoy")) warn(w);
    const workload = pulumi.output(args.workload) as pulumi.Output<WorkloadIdentity>;
    return {
      name,
      parent: { parent: this },
      retain: args.hostGone ? { retainOnDelete: true } : {},
      remote: { parent: this, ...(args.hostGone ? { retainOnDelete: true } : {}), deleteBeforeReplace: true },
      warn,
      sshUser: pulumi.output(args.sshUser ?? vmProxyDefaults.sshUser),
      configDir: pulumi
        .output(args.proxyConfigDir ?? vmProxyDefaults.proxyConfigDir)
        .apply(normaliseConfigDir)
        .apply((dir) => {
          const volatile = clearedAtBootProblem(dir);
          if (volatile !== undefined) warn(volatile);
          return dir;
        }),
      workload,
      mesh: pulumi.output(args.mesh ?? {}) as pulumi.Output<MeshSettings>,
      owner: workload.apply((w) => `${w.namespace}/${w.name}`),
    };
  }
}

function parseRunOutput(stdout: string): { action: string; containerId: string; state: string } {
  const line = stdout.trim().split("\n").pop() ?? "";
  try {
    return JSON.parse(line) as { action: string; containerId: string; state: string };
  } catch {
    throw new Error(`unexpected output from the proxy step: ${line.slice(0, 200)}`);
  }
}
