// VmProxy: the proxy on one VM (MeshVm's host half, usable on its own). Everything `tctl x sidecar-bootstrap --start-istio-proxy` does on a VM,
// plus the runbooks' manual preparation, as Pulumi resources: preview shows each step with its rendered
// content, `up` converges, a second `up` runs nothing, destroy undoes it. The constructor is a list of named
// steps (ssh access, preparation, token, CA roots, config files, container, hosts block, gate); each step's
// remote scripts are rendered by its own `*Scripts` function.
import { createHash } from "node:crypto";
import { posix } from "node:path";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { deprecationWarnings, withCurrentNames } from "../rules/aliases";
import { throwIfIssues } from "../rules/issues";
import { vmProxyAliases } from "./aliases";
import { clearedAtBootProblem, dedicatedDirectoryProblem, formatInteger } from "../rules/values";
import { numberBounds, renewBeforeSecondsFor, sshDefaults, tokenDefaults, vmProxyDefaults } from "./defaults";
import { PROXY_CONFIG_FILES } from "./configFiles";
import { removeFileScript, writeFileScript } from "./fileScripts";
import { applyHostsBlockScript, removeHostsBlockScript, renderHostsBlock } from "./hostsBlock";
import { prepareHostScript, unprepareHostScript } from "./prepareHost";
import {
  CONFIG_FILES,
  ContainerSpec,
  ProxyArgsSettings,
  ProxyImageChoice,
  addHostsOf,
  containerDigest,
  dockerRunArgs,
  proxyArgsOf,
  proxyImageOf,
} from "./proxyContainer";
import { ReadinessSettings, removeProxyScript, runProxyScript } from "./proxyScripts";
import { shellJoin, wrapScript } from "./shell";
import { MeshSettings, WorkloadIdentity, renderSidecarEnv } from "./sidecarEnv";
import { afterCheck, bastionHostKeyCheck } from "./bastionCheck";
import { toConnection } from "./sshConnection";
import { validateVmProxyArgs } from "./validation";
import { tokenRotationWindow } from "./tokenRequest";
import { CaRoots, createTokenMint, readCaRoots } from "./bootstrapMaterial";

import type { HostPreparationArgs, VmProxyArgs } from "./vmProxyArgs";
export type { BootstrapTokenArgs, HostPreparationArgs, Inputs, VmProxyArgs } from "./vmProxyArgs";

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/** What every step shares: the component as parent, retention, the workload and the owner tag. */
interface StepContext {
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

/** `create`/`delete` of a remote step, rendered from its settings. */
interface StepScripts {
  create: string;
  delete: string;
}

/** proxyConfigDir once known (validation checks it at preview when it is plain): a dedicated directory. */
function normaliseConfigDir(dir: string): string {
  const p = dedicatedDirectoryProblem(dir);
  if (p !== undefined) throw new Error(`proxyConfigDir: ${p}`);
  return dir.replace(/(.)\/$/, "$1");
}

// --- ssh access ---------------------------------------------------------------------------------------------

function createSshAccess(ctx: StepContext, args: VmProxyArgs): SshAccess {
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

// --- host preparation ---------------------------------------------------------------------------------------

interface PrepareSpec {
  user: string;
  configDir: string;
  /** Set when a generated key is installed (it goes in on stdin: the scripts stay known at preview). */
  keyOwner: string | undefined;
  dockerGroup: string | undefined;
}

function prepareHostScripts(spec: PrepareSpec): StepScripts {
  return {
    create: wrapScript(prepareHostScript(spec), "root"),
    delete: wrapScript(unprepareHostScript(spec), "root"),
  };
}

function createHostPreparation(
  ctx: StepContext,
  prepare: HostPreparationArgs,
  ssh: SshAccess,
): command.remote.Command {
  const installsKey = ssh.generatedKey !== undefined;
  const spec = pulumi
    .all([ctx.owner, prepare.dockerGroup, ctx.sshUser, ctx.configDir])
    .apply(([who, dockerGroup, user, dir]): PrepareSpec => ({
      user,
      configDir: dir,
      keyOwner: installsKey ? who : undefined,
      dockerGroup,
    }));
  const scripts = spec.apply(prepareHostScripts);
  return new command.remote.Command(
    `${ctx.name}-prepare-host`,
    {
      connection: ssh.admin!,
      create: scripts.create,
      delete: scripts.delete,
      // The public half of the generated key (not secret); a new key re-runs the step, which replaces the old one.
      ...(ssh.generatedKey ? { stdin: ssh.generatedKey.publicKeyOpenssh.apply((k) => k.trim()) } : {}),
      addPreviousOutputInEnv: false,
    },
    ctx.remote,
  );
}

// --- bootstrap token ----------------------------------------------------------------------------------------

interface BootstrapToken {
  token: pulumi.Output<string>;
  expiry: pulumi.Output<string>;
}

function createBootstrapToken(ctx: StepContext, args: VmProxyArgs): BootstrapToken {
  const tokenArgs = args.token ?? {};
  const expirationSeconds = tokenArgs.expirationSeconds ?? tokenDefaults.expirationSeconds;
  const renewBeforeSeconds = tokenArgs.renewBeforeSeconds ?? renewBeforeSecondsFor(expirationSeconds);
  // A new token only for a new identity, lifetime, explicit rotation, or rotation window.
  const { token, expiry } = createTokenMint(ctx.name, ctx.parent, {
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
  return { token, expiry };
}

// --- CA roots -----------------------------------------------------------------------------------------------

/** The given roots, else the ConfigMaps Istio and Kubernetes publish in the workload namespace. */
function readVmCaRoots(ctx: StepContext, args: VmProxyArgs): CaRoots {
  return readCaRoots(ctx.name, ctx.parent, ctx.workload, args);
}

// --- config files -------------------------------------------------------------------------------------------

interface FileSpec {
  path: string;
  mode: string;
}

function configFileScripts(file: FileSpec): StepScripts {
  return { create: wrapScript(writeFileScript(file)), delete: wrapScript(removeFileScript(file)) };
}

interface ConfigFileContents extends CaRoots {
  sidecarEnv: pulumi.Output<string>;
  token: pulumi.Output<string>;
}

/** The four files in proxyConfigDir, written as the proxy user; the token's content stays secret. */
function createConfigFiles(
  ctx: StepContext,
  connection: Connection,
  contents: ConfigFileContents,
  after: pulumi.Resource[],
): command.remote.Command[] {
  const writeFile = (
    key: string,
    fileName: string,
    mode: string,
    content: pulumi.Input<string>,
    secret: boolean,
  ): command.remote.Command => {
    const scripts = ctx.configDir.apply((dir) =>
      configFileScripts({ path: posix.join(dir, fileName), mode }),
    );
    return new command.remote.Command(
      `${ctx.name}-${key}`,
      {
        connection,
        create: scripts.create,
        delete: scripts.delete,
        stdin: secret ? pulumi.secret(content) : content,
        addPreviousOutputInEnv: false,
        ...(secret ? { logging: "none" as const } : {}),
      },
      { ...ctx.remote, dependsOn: after },
    );
  };
  // One list of files, names and modes for every delivery (configFiles.ts; boot-time delivery writes the same).
  return PROXY_CONFIG_FILES.map((f) => writeFile(f.key, f.name, f.mode, contents[f.content], f.secret));
}

function fileDigestsOf(contents: ConfigFileContents): pulumi.Output<Record<string, string>> {
  return pulumi
    .all([
      contents.sidecarEnv,
      contents.meshRootCert,
      contents.kubernetesRootCert,
      pulumi.unsecret(contents.token.apply(sha256)),
    ])
    .apply(([env, root, k8sRoot, tokenDigest]): Record<string, string> => ({
      [CONFIG_FILES.sidecarEnv]: sha256(env),
      [CONFIG_FILES.meshRootCert]: sha256(root),
      [CONFIG_FILES.kubernetesRootCert]: sha256(k8sRoot),
      [CONFIG_FILES.token]: tokenDigest,
    }));
}

// --- proxy container ----------------------------------------------------------------------------------------

interface Container {
  spec: ContainerSpec;
  digest: string;
}

function proxyContainerScripts(c: Container, readiness: ReadinessSettings | undefined): StepScripts {
  return {
    create: wrapScript(runProxyScript(c.spec, c.digest, readiness)),
    delete: wrapScript(removeProxyScript(c.spec)),
  };
}

/** The container's spec and digest: image, arguments, mounts, --add-host entries, and the files it reads. */
function declareContainer(
  ctx: StepContext,
  args: VmProxyArgs,
  contents: ConfigFileContents,
): pulumi.Output<Container> {
  const settings = pulumi.all([
    ctx.workload,
    ctx.mesh,
    pulumi.output({
      proxyImage: args.proxyImage,
      proxyImageHub: args.proxyImageHub,
      proxyImageName: args.proxyImageName,
      proxyImageTag: args.proxyImageTag,
    }) as pulumi.Output<ProxyImageChoice>,
    pulumi.output(args.proxyArgs ?? {}) as pulumi.Output<ProxyArgsSettings>,
    pulumi.output(args.proxyContainerName ?? vmProxyDefaults.proxyContainerName),
    pulumi.output(args.gatewayAddress) as pulumi.Output<string | undefined>,
    ctx.owner,
    ctx.configDir,
  ]);
  const files = pulumi.all([contents.sidecarEnv, contents.meshRootCert, contents.kubernetesRootCert]);
  return pulumi
    .all([settings, files])
    .apply(([[w, m, image, proxyArgs, containerName, gateway, who, dir], [env, root, k8sRoot]]) => {
      const spec: ContainerSpec = {
        name: containerName,
        image: proxyImageOf(image, w),
        args: proxyArgsOf(w, m, proxyArgs),
        configDir: dir,
        addHosts: addHostsOf(w, m, gateway),
        owner: who,
      };
      const digest = containerDigest(spec, {
        sidecarEnv: env,
        meshRootCert: root,
        kubernetesRootCert: k8sRoot,
      });
      return { spec, digest };
    });
}

function createProxyContainer(
  ctx: StepContext,
  connection: Connection,
  container: pulumi.Output<Container>,
  readiness: ReadinessSettings | undefined,
  files: command.remote.Command[],
): command.remote.Command {
  const scripts = container.apply((c) => proxyContainerScripts(c, readiness));
  return new command.remote.Command(
    `${ctx.name}-proxy-container`,
    {
      connection,
      create: scripts.create,
      delete: scripts.delete,
      addPreviousOutputInEnv: false,
    },
    { ...ctx.remote, dependsOn: files },
  );
}

// --- /etc/hosts block ---------------------------------------------------------------------------------------

interface HostsBlock {
  owner: string;
  hostnames: string[];
  address: string;
}

/** Depends on the owner and address only: the block travels on stdin (a long list would not fit a command line). */
function hostsBlockCreateScript(block: HostsBlock): string {
  return wrapScript(applyHostsBlockScript({ owner: block.owner, address: block.address }), "root");
}

/** Depends on the owner only, so a changed name list never changes how the block is removed. */
function hostsBlockDeleteScript(owner: string): string {
  return wrapScript(removeHostsBlockScript({ owner }), "root");
}

/** The names the applications call, pointed at the egress bind address; edited as root (admin when prepared). */
function createHostsBlock(
  ctx: StepContext,
  ssh: SshAccess,
  block: pulumi.Output<HostsBlock>,
  proxy: command.remote.Command,
): command.remote.Command {
  return new command.remote.Command(
    `${ctx.name}-egress-hosts`,
    {
      connection: ssh.admin ?? ssh.proxy,
      create: block.apply(hostsBlockCreateScript),
      delete: ctx.owner.apply(hostsBlockDeleteScript),
      stdin: block.apply(renderHostsBlock),
      addPreviousOutputInEnv: false,
    },
    { ...ctx.remote, dependsOn: [proxy] },
  );
}

// --- registration gate --------------------------------------------------------------------------------------

/**
 * Created once the proxy is ready; deleted (after the mesh objects depending on it) by waiting the propagation
 * delay, before the proxy and the hosts block go.
 */
function createRegistrationGate(
  ctx: StepContext,
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
  /** When the current bootstrap token expires (RFC 3339). */
  public readonly tokenExpiry: pulumi.Output<string>;
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
    // Old input names are read once, here; everything below sees only the current ones.
    const current = withCurrentNames(args, vmProxyAliases);
    const ctx = this.stepContext(name, current);
    for (const warning of deprecationWarnings(args, vmProxyAliases)) ctx.warn(warning);

    const ssh = createSshAccess(ctx, current);
    const prepared = current.prepare ? createHostPreparation(ctx, current.prepare, ssh) : undefined;
    const token = createBootstrapToken(ctx, current);
    this.tokenExpiry = token.expiry;
    const roots = readVmCaRoots(ctx, current);
    this.sidecarEnv = pulumi.all([ctx.workload, ctx.mesh]).apply(([w, m]) => renderSidecarEnv(w, m));
    const contents: ConfigFileContents = { ...roots, sidecarEnv: this.sidecarEnv, token: token.token };

    const files = createConfigFiles(ctx, ssh.proxy, contents, prepared ? [prepared] : []);
    this.fileDigests = fileDigestsOf(contents);

    const container = declareContainer(ctx, current, contents);
    this.proxyImage = container.apply((c) => c.spec.image);
    this.containerConfigDigest = container.apply((c) => c.digest);
    this.dockerRunCommand = container.apply((c) => `docker ${shellJoin(dockerRunArgs(c.spec, c.digest))}`);
    const proxy = createProxyContainer(ctx, ssh.proxy, container, current.readiness, files);
    const run = pulumi.unsecret(proxy.stdout).apply(parseRunOutput);
    this.containerId = run.apply((r) => r.containerId);
    this.containerState = run.apply((r) => r.state);

    const egressHostnames = current.egressHostnames;
    let hostsStep: command.remote.Command | undefined;
    if (egressHostnames !== undefined) {
      const block = pulumi
        .all([
          ctx.owner,
          pulumi.output(egressHostnames),
          current.egressBindAddress ?? vmProxyDefaults.egressBindAddress,
        ])
        .apply(([who, hostnames, address]): HostsBlock => ({ owner: who, hostnames, address }));
      this.hostsBlock = block.apply(renderHostsBlock);
      hostsStep = createHostsBlock(ctx, ssh, block, proxy);
    } else {
      this.hostsBlock = pulumi.output("");
    }

    const delay = current.deregistrationDelaySeconds ?? vmProxyDefaults.deregistrationDelaySeconds;
    this.registrationGate = createRegistrationGate(ctx, delay, hostsStep ? [proxy, hostsStep] : [proxy]);

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
      hostsBlock: this.hostsBlock,
      sshIdentity: this.sshIdentity,
    });
  }

  private stepContext(name: string, args: VmProxyArgs): StepContext {
    const warn = (message: string) => pulumi.log.warn(message, this);
    if (args.hostGone) {
      warn(`hostGone is set: destroying ${name} will not contact the VM or undo anything on it`);
    }
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
