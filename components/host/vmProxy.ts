// VmProxy: the host half of MeshVm. Everything `tctl x sidecar-bootstrap --start-istio-proxy` does on a VM,
// plus the runbooks' manual preparation, as Pulumi resources: preview shows each step with its rendered
// content, `up` converges, a second `up` runs nothing, destroy undoes it.
import { createHash } from "node:crypto";
import { posix } from "node:path";
import * as command from "@pulumi/command";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { ConfigContents, PROXY_CONFIG_FILES } from "./configFiles";
import { removeFileScript, writeFileScript } from "./fileScripts";
import { applyHostsBlockScript, removeHostsBlockScript, renderHostsBlock } from "./hostsBlock";
import { prepareHostScript, unprepareHostScript } from "./prepareHost";
import {
  CONFIG_FILES,
  ContainerSpec,
  ProxyArgsSettings,
  ProxyImageSettings,
  addHostsOf,
  containerDigest,
  dockerRunArgs,
  proxyArgsOf,
  proxyImageOf,
} from "./proxyContainer";
import { ReadinessSettings, removeProxyScript, runProxyScript } from "./proxyScripts";
import { shellJoin, wrapScript } from "./shell";
import { MeshSettings, WorkloadIdentity, renderSidecarEnv } from "./sidecarEnv";
import { SshConnectionArgs, SshCredentialsArgs, toConnection } from "./sshConnection";
import {
  MINT_TOKEN_PROGRAM,
  TokenRequestInput,
  apiServerAccessFromKubeconfig,
  parseMintedToken,
  tokenRotationWindow,
} from "./tokenRequest";

/** Every field may be an Input. */
export type Inputs<T> = { [K in keyof T]: pulumi.Input<T[K]> };

/** Bootstrap token settings. */
export interface BootstrapTokenArgs {
  /** Requested token lifetime in seconds (default 86400, tctl's 24 h). Changing it re-mints the token only. */
  expirationSeconds?: number;
  /**
   * An `up` re-mints when the token could be this close to expiry (default 3600 s, at most a quarter of the
   * lifetime). Tokens are re-minted at the first `up` of each (lifetime − renewBefore) window; see `tokenRotationWindow`.
   */
  renewBeforeSeconds?: number;
  /** Change this value (any string) to force a new token at the next `up`. */
  rotation?: pulumi.Input<string>;
  /** Token audiences (default `["istio-ca"]`). */
  audiences?: string[];
}

/** Optional host preparation, done as a privileged user (root, or a user with password-less sudo). */
export interface HostPreparationArgs {
  /** Credentials of the privileged user; host, port, host key and bastion are those of `ssh`. */
  admin: SshCredentialsArgs;
  /** Group that may use docker (default `docker`). */
  dockerGroup?: pulumi.Input<string>;
}

export interface VmProxyArgs {
  /** How to reach the VM as the proxy user. Without `privateKey`/`agentSocketPath`, `prepare` must be set: an ED25519 key is generated and installed for that user. */
  ssh: SshConnectionArgs;
  /** Create the proxy user, docker group membership, config directory and SSH key as an admin first. */
  prepare?: HostPreparationArgs;
  /** Proxy user (default `istio-proxy`): owns the config directory, runs docker. Also the SSH user unless `ssh.user` says otherwise. */
  proxyUser?: pulumi.Input<string>;
  /**
   * The WorkloadEntry identity and addresses (name, namespace, serviceAccount, address, proxyInstanceIp, network,
   * labels, annotations). Pass a created ServiceAccount's `metadata.name` as `serviceAccount` so that the token
   * is minted after it exists.
   */
  workload: pulumi.Input<Inputs<WorkloadIdentity>>;
  /** Mesh settings for sidecar.env and the proxy arguments. */
  mesh?: pulumi.Input<Inputs<MeshSettings>>;
  /**
   * kubeconfig (YAML or JSON) used to mint the token; kept secret. Its credentials travel with the request, so a
   * change of them also re-mints: a kubeconfig embedding a short-lived token would re-mint at every `up` (use a
   * client certificate, a long-lived token or an exec plugin, which the minting program runs itself).
   */
  kubeconfig: pulumi.Input<string>;
  /** kubeconfig context (default: its current-context). */
  kubeContext?: pulumi.Input<string>;
  /** Bootstrap token lifetime and rotation. */
  token?: BootstrapTokenArgs;
  /** Mesh root certificate PEM; default: `root-cert.pem` of ConfigMap `istio-ca-root-cert` in the workload namespace. */
  meshRootCert?: pulumi.Input<string>;
  /** Kubernetes root CA PEM; default: `ca.crt` of ConfigMap `kube-root-ca.crt` in the workload namespace. */
  kubernetesRootCert?: pulumi.Input<string>;
  /**
   * Directory for the bootstrap files on the VM (default `/etc/istio-proxy`; tctl's `/tmp` would not survive a
   * reboot). Several proxies on one host need distinct directories and container names.
   */
  proxyConfigDir?: pulumi.Input<string>;
  /** Container name (default `istio-proxy`; unique per proxy on a host). */
  proxyContainerName?: pulumi.Input<string>;
  /** Proxy image: full `image`, or `hub` + `imageName` + `tag`. */
  image?: pulumi.Input<Inputs<ProxyImageSettings>>;
  /** Proxy command-line settings. */
  proxyArgs?: pulumi.Input<Inputs<ProxyArgsSettings>>;
  /** Gateway IP istiod is reached through (adds `--add-host` entries for istiod's cluster-local names). */
  gatewayAddress?: pulumi.Input<string>;
  /** Mesh host names the VM's applications call; kept as one `/etc/hosts` block pointing at `egressBindAddress`. */
  egressHosts?: pulumi.Input<pulumi.Input<string>[]>;
  /** The Sidecar egress listener's bind address (default 127.0.0.2). */
  egressBindAddress?: pulumi.Input<string>;
  /** Readiness wait after (re)starting the proxy. */
  readiness?: ReadinessSettings;
  /** Seconds to wait on destroy between deregistration (resources depending on `registrationGate`) and stopping the proxy (default 5). */
  deregistrationDelaySeconds?: number;
  /**
   * The VM no longer exists: host steps are kept out of `destroy` (Pulumi `retainOnDelete`). Set it, run
   * `pulumi up` once (no host is contacted: no host input changes), then `pulumi destroy` finishes. The `up` is
   * needed because the engine decides from the state, not the program, whether to retain (pulumi/pulumi#13428).
   * Nothing on the VM is undone; the mesh objects are still removed.
   */
  hostGone?: boolean;
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

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
  public readonly sshIdentity: pulumi.Output<{
    user: string;
    host: string;
    port: number;
    publicKey?: string;
  }>;

  /**
   * `value`, carrying a dependency on the ready proxy (known at preview). Resources whose inputs go through it
   * are created after the proxy is ready and deleted before it stops, like `dependsOn: [registrationGate]`,
   * also when they are created by another component that does not take `dependsOn` to its children.
   */
  public afterProxyReady<T>(value: pulumi.Input<T>): pulumi.Output<T> {
    return pulumi.all([this.registrationGate.urn, value]).apply(([, v]) => v as T);
  }

  constructor(name: string, args: VmProxyArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mesh-vm:index:VmProxy", name, {}, opts);
    const parent = { parent: this };
    const warn = (message: string) => pulumi.log.warn(message, this);
    const proxyUser = pulumi.output(args.proxyUser ?? "istio-proxy");
    const configDir = pulumi.output(args.proxyConfigDir ?? "/etc/istio-proxy").apply((dir) => {
      if (!posix.isAbsolute(dir) || posix.normalize(dir) === "/") {
        throw new Error(`proxyConfigDir must be an absolute directory other than /: "${dir}"`);
      }
      return posix.normalize(dir).replace(/\/$/, "");
    });
    const retain = args.hostGone ? { retainOnDelete: true } : {};
    if (args.hostGone) {
      warn(`hostGone is set: destroying ${name} will not contact the VM or undo anything on it`);
    }
    const workload = pulumi.output(args.workload) as pulumi.Output<WorkloadIdentity>;
    const mesh = pulumi.output(args.mesh ?? {}) as pulumi.Output<MeshSettings>;
    const owner = workload.apply((w) => `${w.namespace}/${w.name}`);

    // --- SSH identities ---------------------------------------------------------------------------
    const ownCredentials = args.ssh.privateKey !== undefined || args.ssh.agentSocketPath !== undefined;
    if (!ownCredentials && !args.prepare) {
      throw new Error(
        "ssh needs a privateKey or agentSocketPath, or set prepare to generate and install a key",
      );
    }
    const generatedKey = ownCredentials
      ? undefined
      : new tls.PrivateKey(`${name}-ssh-key`, { algorithm: "ED25519" }, parent);
    const proxyConnection = toConnection(
      args.ssh,
      {
        user: args.ssh.user ?? proxyUser,
        privateKey: generatedKey ? generatedKey.privateKeyOpenssh : args.ssh.privateKey,
        privateKeyPassword: args.ssh.privateKeyPassword,
        agentSocketPath: args.ssh.agentSocketPath,
      },
      warn,
    );

    let prepared: command.remote.Command | undefined;
    if (args.prepare) {
      const adminConnection = toConnection(
        { ...args.ssh, insecureIgnoreHostKey: args.ssh.insecureIgnoreHostKey },
        { ...args.prepare.admin, user: args.prepare.admin.user ?? "root" },
        () => undefined, // already warned for the proxy connection
      );
      const spec = pulumi
        .all([generatedKey?.publicKeyOpenssh, owner, args.prepare.dockerGroup, proxyUser, configDir])
        .apply(([publicKey, who, dockerGroup, user, dir]) => ({
          user,
          configDir: dir,
          authorizedKey: publicKey ? `${publicKey.trim()} mesh-vm:${who}` : undefined,
          dockerGroup,
        }));
      prepared = new command.remote.Command(
        `${name}-prepare-host`,
        {
          connection: adminConnection,
          create: spec.apply((s) => wrapScript(prepareHostScript(s), "root")),
          delete: spec.apply((s) => wrapScript(unprepareHostScript(s), "root")),
          addPreviousOutputInEnv: false,
        },
        { ...parent, ...retain },
      );
    }
    const afterPrepare = prepared ? [prepared] : [];

    // --- Bootstrap material ----------------------------------------------------------------------
    const tokenArgs = args.token ?? {};
    const expirationSeconds = tokenArgs.expirationSeconds ?? 86400;
    const renewBeforeSeconds =
      tokenArgs.renewBeforeSeconds ?? Math.min(3600, Math.floor(expirationSeconds / 4));
    const audiences = tokenArgs.audiences ?? ["istio-ca"];
    const rotationWindow = tokenRotationWindow(Date.now(), expirationSeconds, renewBeforeSeconds);
    const tokenRequest = pulumi
      .all([pulumi.secret(args.kubeconfig), args.kubeContext, workload])
      .apply(([kubeconfig, context, w]) => {
        const input: TokenRequestInput = {
          access: apiServerAccessFromKubeconfig(kubeconfig, context),
          namespace: w.namespace,
          serviceAccount: w.serviceAccount,
          audiences,
          expirationSeconds,
        };
        return JSON.stringify(input);
      });
    const mint = new command.local.Command(
      `${name}-bootstrap-token`,
      {
        interpreter: ["node", "-e"],
        create: MINT_TOKEN_PROGRAM,
        stdin: pulumi.secret(tokenRequest),
        // A new token only for a new identity, lifetime, explicit rotation, or rotation window.
        triggers: [
          workload.apply((w) => `${w.namespace}/${w.serviceAccount}`),
          audiences.join(","),
          expirationSeconds,
          tokenArgs.rotation ?? "",
          rotationWindow,
        ],
        logging: "none",
        addPreviousOutputInEnv: false,
      },
      { ...parent, additionalSecretOutputs: ["stdout", "stderr"] },
    );
    const minted = mint.stdout.apply(parseMintedToken);
    const token = pulumi.secret(minted.apply((m) => m.token));
    this.tokenExpiry = pulumi.unsecret(minted.apply((m) => m.expirationTimestamp));

    const meshRootCert =
      args.meshRootCert ??
      k8s.core.v1.ConfigMap.get(
        `${name}-istio-ca-root-cert`,
        workload.apply((w) => `${w.namespace}/istio-ca-root-cert`),
        parent,
      ).data.apply((d) => requireKey(d, "istio-ca-root-cert", "root-cert.pem"));
    const kubernetesRootCert =
      args.kubernetesRootCert ??
      k8s.core.v1.ConfigMap.get(
        `${name}-kube-root-ca`,
        workload.apply((w) => `${w.namespace}/kube-root-ca.crt`),
        parent,
      ).data.apply((d) => requireKey(d, "kube-root-ca.crt", "ca.crt"));

    this.sidecarEnv = pulumi.all([workload, mesh]).apply(([w, m]) => renderSidecarEnv(w, m));

    // --- Files -----------------------------------------------------------------------------------
    const writeFile = (
      key: string,
      fileName: string,
      mode: string,
      content: pulumi.Input<string>,
      secret: boolean,
    ): command.remote.Command => {
      const file = configDir.apply((dir) => ({ path: posix.join(dir, fileName), mode }));
      return new command.remote.Command(
        `${name}-${key}`,
        {
          connection: proxyConnection,
          create: file.apply((f) => wrapScript(writeFileScript(f))),
          delete: file.apply((f) => wrapScript(removeFileScript(f))),
          stdin: secret ? pulumi.secret(content) : content,
          addPreviousOutputInEnv: false,
          ...(secret ? { logging: "none" as const } : {}),
        },
        { ...parent, ...retain, dependsOn: afterPrepare },
      );
    };
    const contentOf: { [K in keyof ConfigContents]: pulumi.Input<string> } = {
      sidecarEnv: this.sidecarEnv,
      meshRootCert,
      kubernetesRootCert,
      token,
    };
    const files = PROXY_CONFIG_FILES.map((f) =>
      writeFile(f.key, f.name, f.mode, contentOf[f.content], f.secret),
    );
    this.fileDigests = pulumi
      .all([this.sidecarEnv, meshRootCert, kubernetesRootCert, pulumi.unsecret(token.apply(sha256))])
      .apply(([env, root, k8sRoot, tokenDigest]): Record<string, string> => ({
        [CONFIG_FILES.sidecarEnv]: sha256(env),
        [CONFIG_FILES.meshRootCert]: sha256(root),
        [CONFIG_FILES.kubernetesRootCert]: sha256(k8sRoot),
        [CONFIG_FILES.token]: tokenDigest,
      }));

    // --- Container -------------------------------------------------------------------------------
    const settings = pulumi.all([
      workload,
      mesh,
      pulumi.output(args.image ?? {}) as pulumi.Output<ProxyImageSettings>,
      pulumi.output(args.proxyArgs ?? {}) as pulumi.Output<ProxyArgsSettings>,
      pulumi.output(args.proxyContainerName ?? "istio-proxy"),
      pulumi.output(args.gatewayAddress) as pulumi.Output<string | undefined>,
      owner,
      configDir,
    ]);
    const contents = pulumi.all([this.sidecarEnv, meshRootCert, kubernetesRootCert]);
    const container = pulumi
      .all([settings, contents])
      .apply(([[w, m, image, proxyArgs, containerName, gateway, who, dir], [env, root, k8sRoot]]) => {
        const spec: ContainerSpec = {
          name: containerName,
          image: proxyImageOf(image),
          args: proxyArgsOf(w, m, proxyArgs),
          configDir: dir,
          addHosts: addHostsOf(m, gateway),
          owner: who,
        };
        const digest = containerDigest(spec, {
          sidecarEnv: env,
          meshRootCert: root,
          kubernetesRootCert: k8sRoot,
        });
        return { spec, digest };
      });
    this.proxyImage = container.apply((c) => c.spec.image);
    this.containerConfigDigest = container.apply((c) => c.digest);
    this.dockerRunCommand = container.apply((c) => `docker ${shellJoin(dockerRunArgs(c.spec, c.digest))}`);
    const proxy = new command.remote.Command(
      `${name}-proxy-container`,
      {
        connection: proxyConnection,
        create: container.apply((c) => wrapScript(runProxyScript(c.spec, c.digest, args.readiness))),
        delete: container.apply((c) => wrapScript(removeProxyScript(c.spec))),
        addPreviousOutputInEnv: false,
      },
      { ...parent, ...retain, dependsOn: files },
    );
    const run = pulumi.unsecret(proxy.stdout).apply(parseRunOutput);
    this.containerId = run.apply((r) => r.containerId);
    this.containerState = run.apply((r) => r.state);

    // --- /etc/hosts block ------------------------------------------------------------------------
    let hostsStep: command.remote.Command | undefined;
    if (args.egressHosts !== undefined) {
      const block = pulumi
        .all([owner, pulumi.output(args.egressHosts), args.egressBindAddress ?? "127.0.0.2"])
        .apply(([who, hostnames, address]) => ({ owner: who, hostnames, address }));
      this.hostsBlock = block.apply(renderHostsBlock);
      const hostsConnection = args.prepare
        ? toConnection(
            args.ssh,
            { ...args.prepare.admin, user: args.prepare.admin.user ?? "root" },
            () => undefined,
          )
        : proxyConnection;
      hostsStep = new command.remote.Command(
        `${name}-egress-hosts`,
        {
          connection: hostsConnection,
          create: block.apply((b) => wrapScript(applyHostsBlockScript(b), "root")),
          delete: owner.apply((who) => wrapScript(removeHostsBlockScript({ owner: who }), "root")),
          addPreviousOutputInEnv: false,
        },
        { ...parent, ...retain, dependsOn: [proxy] },
      );
    } else {
      this.hostsBlock = pulumi.output("");
    }

    // --- Registration gate -----------------------------------------------------------------------
    // Created once the proxy is ready; deleted (after the mesh objects depending on it) by waiting the
    // propagation delay, before the proxy and the hosts block go.
    const delay = args.deregistrationDelaySeconds ?? 5;
    if (!(Number.isInteger(delay) && delay >= 0)) {
      throw new Error(`deregistrationDelaySeconds must be a whole number >= 0 (got ${delay})`);
    }
    const gate = new command.local.Command(
      `${name}-registration-gate`,
      { create: "true", delete: `sleep ${delay}`, addPreviousOutputInEnv: false },
      { ...parent, ...retain, dependsOn: hostsStep ? [proxy, hostsStep] : [proxy] },
    );
    this.registrationGate = gate;

    this.sshIdentity = pulumi
      .all([proxyConnection.user, args.ssh.host, args.ssh.port ?? 22, generatedKey?.publicKeyOpenssh])
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
}

function requireKey(data: Record<string, string> | undefined, configMap: string, key: string): string {
  const value = data?.[key];
  if (!value) {
    throw new Error(`ConfigMap ${configMap} has no "${key}"; is the namespace part of the mesh?`);
  }
  return value;
}

function parseRunOutput(stdout: string): { action: string; containerId: string; state: string } {
  const line = stdout.trim().split("\n").pop() ?? "";
  try {
    return JSON.parse(line) as { action: string; containerId: string; state: string };
  } catch {
    throw new Error(`unexpected output from the proxy step: ${line.slice(0, 200)}`);
  }
}
