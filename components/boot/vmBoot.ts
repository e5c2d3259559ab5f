// VmBoot: boot-time delivery of the host half. Instead of SSH steps, it renders what the VM needs to start
// its proxy by itself, from the same renderers VmProxy uses: cloud-init user data (`userData`, secret) for the
// VM resource in the same program, and tctl's offline bundle (`bundle`, optionally written to `bundleDir`).
// Nothing here opens an SSH session. The bootstrap token is minted by the same local program as VmProxy's.
import { createHash } from "node:crypto";
import * as command from "@pulumi/command";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { Inputs } from "../host/vmProxy";
import type { ProxyArgsSettings, ProxyImageSettings } from "../host/proxyContainer";
import { readinessUrl, ReadinessSettings } from "../host/proxyScripts";
import type { MeshSettings, WorkloadIdentity } from "../host/sidecarEnv";
import {
  MINT_TOKEN_PROGRAM,
  TokenRequestInput,
  apiServerAccessFromKubeconfig,
  parseMintedToken,
} from "../host/tokenRequest";
import { PROXY_CONFIG_FILES } from "../host/configFiles";
import { READY_CHECK_PROGRAM, REMOVE_BUNDLE_PROGRAM, SLEEP_PROGRAM, WRITE_BUNDLE_PROGRAM } from "./programs";
import {
  BootPlan,
  BootPlanInputs,
  BUNDLE_START_SCRIPT,
  bootDockerRunCommand,
  bootHostsBlock,
  buildBootPlan,
  renderBundle,
  renderCloudConfig,
} from "./render";
import { bootTokenDefaults } from "./token";

/** Bootstrap token of a VM that onboards itself at boot. */
export interface BootTokenArgs {
  /**
   * Token lifetime in seconds: it must outlive the time until the VM first starts its proxy (default 3600,
   * at least 600, at most 86400). After that first start the agent keeps its issued certificate in
   * `<proxyConfigDir>/certs` and renews it itself; the token is no longer used. Changing it re-mints.
   */
  expirationSeconds?: number;
  /** Change this value (any string) to mint a new token, and so new user data, at the next `up`. */
  rotation?: pulumi.Input<string>;
  /** Token audiences (default `["istio-ca"]`). */
  audiences?: string[];
}

/** How `up` observes that a booted VM's proxy is ready, before the registration objects are created. */
export interface BootReadyCheckArgs {
  /**
   * Wait for readiness before registering (default true). With false, the WorkloadEntry and ServiceEntry are
   * created as soon as the user data is rendered, possibly before the VM has booted.
   */
  enabled?: boolean;
  /**
   * URL polled from the machine running Pulumi until it answers 200 (default
   * `http://<address>:<readiness.port|15021><readiness.path|/healthz/ready>`: the proxy's status port).
   */
  url?: pulumi.Input<string>;
  /** Seconds to wait for the VM to be created, boot and start its proxy (default 900). */
  timeoutSeconds?: number;
}

export interface VmBootArgs {
  /** The WorkloadEntry identity and addresses (as for VmProxy). */
  workload: pulumi.Input<Inputs<WorkloadIdentity>>;
  /** Mesh settings for sidecar.env and the proxy arguments. */
  mesh?: pulumi.Input<Inputs<MeshSettings>>;
  /** kubeconfig used to mint the token (secret). */
  kubeconfig: pulumi.Input<string>;
  kubeContext?: pulumi.Input<string>;
  token?: BootTokenArgs;
  /** Mesh root certificate PEM; default: ConfigMap `istio-ca-root-cert` in the workload namespace. */
  meshRootCert?: pulumi.Input<string>;
  /** Kubernetes root CA PEM; default: ConfigMap `kube-root-ca.crt` in the workload namespace. */
  kubernetesRootCert?: pulumi.Input<string>;
  /** Proxy user (default `istio-proxy`), created at boot. */
  proxyUser?: pulumi.Input<string>;
  /** Group that may use docker (default `docker`). */
  dockerGroup?: pulumi.Input<string>;
  proxyConfigDir?: pulumi.Input<string>;
  proxyContainerName?: pulumi.Input<string>;
  image?: pulumi.Input<Inputs<ProxyImageSettings>>;
  proxyArgs?: pulumi.Input<Inputs<ProxyArgsSettings>>;
  gatewayAddress?: pulumi.Input<string>;
  egressHosts?: pulumi.Input<pulumi.Input<string>[]>;
  egressBindAddress?: pulumi.Input<string>;
  /** Readiness wait on the VM after it starts the container (default 120 s, as over SSH). */
  readiness?: ReadinessSettings;
  /** Readiness as observed by `up` (gates registration). */
  readyCheck?: BootReadyCheckArgs;
  /** Write the offline bundle to this local directory at `up` (removed on destroy). */
  bundleDir?: pulumi.Input<string>;
  /** Seconds to wait on destroy between deregistration and the gate's removal (default 5). */
  deregistrationDelaySeconds?: number;
}

/** One file of the offline bundle. */
export interface BootBundleFile {
  /** Relative path in the bundle (`etc/istio-token`, `bin/start-istio-proxy.sh`). */
  path: string;
  /** Octal mode. */
  mode: string;
  content: string;
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/**
 * Boot-time delivery for one VM: `userData` (cloud-init, secret) and the offline `bundle`. Resources that
 * register the VM should depend on `registrationGate` (or go through `afterProxyReady`): with the ready check
 * on, it is created once the booted VM's proxy answers ready.
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
  /** When the token in the user data expires (RFC 3339). */
  public readonly tokenExpiry: pulumi.Output<string>;
  public readonly hostsBlock: pulumi.Output<string>;
  /** Created once the proxy is observed ready (or at once without the ready check). */
  public readonly registrationGate: command.local.Command;

  public afterProxyReady<T>(value: pulumi.Input<T>): pulumi.Output<T> {
    return pulumi.all([this.registrationGate.urn, value]).apply(([, v]) => v as T);
  }

  constructor(name: string, args: VmBootArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mesh-vm:index:VmBoot", name, {}, opts);
    const parent = { parent: this };
    const workload = pulumi.output(args.workload) as pulumi.Output<WorkloadIdentity>;
    const mesh = pulumi.output(args.mesh ?? {}) as pulumi.Output<MeshSettings>;

    // --- Token: the same minting program as VmProxy; re-minted only for a new identity, lifetime,
    // audiences or an explicit rotation. Never by time: the user data is read once, at first boot, and a
    // new token would change it (and so the VM resource) at every window.
    const { expirationSeconds, audiences } = bootTokenDefaults(args.token);
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
        triggers: [
          workload.apply((w) => `${w.namespace}/${w.serviceAccount}`),
          audiences.join(","),
          expirationSeconds,
          args.token?.rotation ?? "",
        ],
        logging: "none",
        addPreviousOutputInEnv: false,
      },
      { ...parent, additionalSecretOutputs: ["stdout", "stderr"] },
    );
    const minted = mint.stdout.apply(parseMintedToken);
    const token = pulumi.secret(minted.apply((m) => m.token));
    this.tokenExpiry = pulumi.unsecret(minted.apply((m) => m.expirationTimestamp));

    const configMapKey = (configMap: string, key: string, suffix: string) =>
      k8s.core.v1.ConfigMap.get(
        `${name}-${suffix}`,
        workload.apply((w) => `${w.namespace}/${configMap}`),
        parent,
      ).data.apply((d) => {
        const value = d?.[key];
        if (!value)
          throw new Error(`ConfigMap ${configMap} has no "${key}"; is the namespace part of the mesh?`);
        return value;
      });
    const meshRootCert =
      args.meshRootCert ?? configMapKey("istio-ca-root-cert", "root-cert.pem", "istio-ca-root-cert");
    const kubernetesRootCert =
      args.kubernetesRootCert ?? configMapKey("kube-root-ca.crt", "ca.crt", "kube-root-ca");

    // --- The plan: everything but the token is known at preview, so preview shows the start script.
    const settingInputs: {
      [K in keyof Omit<BootPlanInputs, "token" | "readiness">]-?: pulumi.Input<unknown>;
    } = {
      workload,
      mesh,
      image: pulumi.output(args.image ?? {}) as pulumi.Output<ProxyImageSettings>,
      proxyArgs: pulumi.output(args.proxyArgs ?? {}) as pulumi.Output<ProxyArgsSettings>,
      containerName: pulumi.output(args.proxyContainerName ?? "istio-proxy"),
      configDir: pulumi.output(args.proxyConfigDir ?? "/etc/istio-proxy"),
      user: pulumi.output(args.proxyUser ?? "istio-proxy"),
      dockerGroup: pulumi.output(args.dockerGroup) as pulumi.Output<string | undefined>,
      gatewayAddress: pulumi.output(args.gatewayAddress) as pulumi.Output<string | undefined>,
      egressHosts: pulumi.output(args.egressHosts ?? []) as pulumi.Output<string[]>,
      egressBindAddress: pulumi.output(args.egressBindAddress ?? "127.0.0.2"),
      meshRootCert: pulumi.output(meshRootCert),
      kubernetesRootCert: pulumi.output(kubernetesRootCert),
    };
    const settings = pulumi.all(
      settingInputs as Record<string, pulumi.Input<unknown>>,
    ) as unknown as pulumi.Output<Omit<BootPlanInputs, "token">>;
    const planWith = (tokenValue: pulumi.Output<string>): pulumi.Output<BootPlan> =>
      pulumi
        .all([settings, tokenValue])
        .apply(([s, t]) => buildBootPlan({ ...s, readiness: args.readiness, token: t }));
    // The token does not shape anything but its own file: a placeholder renders the public parts, so they
    // are shown (and known) at preview, and never carry the secret flag.
    const publicPlan = planWith(pulumi.output("<token>"));
    const plan = planWith(token);

    this.userData = pulumi.secret(plan.apply(renderCloudConfig));
    this.bundle = pulumi.secret(
      plan.apply((p) => renderBundle(p).map((f) => ({ path: f.path, mode: f.mode, content: f.content }))),
    );
    this.startScript = publicPlan.apply(
      (p) => renderBundle(p).find((f) => f.path === BUNDLE_START_SCRIPT)!.content,
    );
    this.sidecarEnv = publicPlan.apply((p) => p.contents.sidecarEnv);
    this.dockerRunCommand = publicPlan.apply(bootDockerRunCommand);
    this.proxyImage = publicPlan.apply((p) => p.container.image);
    this.containerConfigDigest = publicPlan.apply((p) => p.digest);
    this.hostsBlock = publicPlan.apply(bootHostsBlock);
    const tokenDigest = pulumi.unsecret(token.apply(sha256));
    this.fileDigests = pulumi
      .all([publicPlan, tokenDigest])
      .apply(([p, t]) =>
        Object.fromEntries(
          PROXY_CONFIG_FILES.map((f) => [f.name, f.content === "token" ? t : sha256(p.contents[f.content])]),
        ),
      );

    // --- Offline bundle on local disk (optional) --------------------------------------------------
    let bundleStep: command.local.Command | undefined;
    if (args.bundleDir !== undefined) {
      const dir = pulumi.output(args.bundleDir);
      bundleStep = new command.local.Command(
        `${name}-bundle`,
        {
          interpreter: ["node", "-e"],
          create: WRITE_BUNDLE_PROGRAM,
          delete: REMOVE_BUNDLE_PROGRAM,
          stdin: pulumi.secret(
            pulumi.all([dir, this.bundle]).apply(([d, files]) => JSON.stringify({ dir: d, files })),
          ),
          environment: {
            MESH_VM_BUNDLE_DIR: dir,
            MESH_VM_BUNDLE_FILES: this.bundle.apply((files) => JSON.stringify(files.map((f) => f.path))),
          },
          logging: "none",
          addPreviousOutputInEnv: false,
        },
        parent,
      );
    }
    this.bundleDir = bundleStep
      ? bundleStep.environment.apply((e) => e?.MESH_VM_BUNDLE_DIR ?? "")
      : pulumi.output("");

    // --- Registration gate ----------------------------------------------------------------------
    const delay = args.deregistrationDelaySeconds ?? 5;
    if (!(Number.isInteger(delay) && delay >= 0)) {
      throw new Error(`deregistrationDelaySeconds must be a whole number >= 0 (got ${delay})`);
    }
    const check = args.readyCheck ?? {};
    const waitForReady = check.enabled ?? true;
    const url = pulumi
      .all([check.url, workload])
      .apply(([u, w]) => u ?? readinessUrl({ ...(args.readiness ?? {}), host: w.address }));
    this.registrationGate = new command.local.Command(
      `${name}-registration-gate`,
      {
        interpreter: ["node", "-e"],
        create: waitForReady ? READY_CHECK_PROGRAM : "",
        delete: SLEEP_PROGRAM,
        environment: {
          MESH_VM_READY_URL: waitForReady ? url : "",
          MESH_VM_READY_TIMEOUT: String(check.timeoutSeconds ?? 900),
          MESH_VM_DELAY: String(delay),
        },
        // New user data is a new boot (the VM resource is replaced or re-created with it): wait again.
        triggers: [pulumi.unsecret(this.userData.apply(sha256))],
        addPreviousOutputInEnv: false,
      },
      { ...parent, dependsOn: bundleStep ? [mint, bundleStep] : [mint] },
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
      hostsBlock: this.hostsBlock,
    });
  }
}
