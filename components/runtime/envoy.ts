// The `envoy` runtime (seed 003): a plain Envoy with a static config and a mesh workload certificate, no
// connection to istiod. The plan: the proxy account prepared as for the container runtime (it owns the config
// directory and may use docker), six files (envoy.yaml, the two SDS files, the certificate chain, the key, the
// mesh root), and the Envoy container started as that account. Only the config and SDS files restart Envoy: the
// certificate, key and root are re-read through SDS's watched directory when a renewal renames them into place.
import { vmProxyDefaults } from "../host/defaults";
import { prepareHostScript, unprepareHostScript } from "../host/prepareHost";
import { accountOf, hostsBlockOf } from "./container";
import { envoyPaths, resolveEnvoySettings } from "./envoyArgs";
import { envoyBootstrapYaml } from "./envoyBootstrap";
import {
  envoyContainerDefaults,
  EnvoyContainerSpec,
  envoyReadinessUrl,
  envoyStartScript,
  envoyStopScript,
} from "./envoyScripts";
import { certificateSdsYaml, rootSdsYaml } from "./envoySds";
import type { BootstrapMaterial, RuntimeInputs } from "./inputs";
import { sha256, type PlannedFile, type RuntimePlan } from "./plan";

/** The envoy runtime's plan, with what its outputs show. */
export interface EnvoyPlan extends RuntimePlan {
  runtime: "envoy";
  container: EnvoyContainerSpec;
  /** The rendered envoy.yaml (no secret in it: it names the certificate files). */
  envoyConfig: string;
}

export function renderEnvoyPlan(inputs: RuntimeInputs, material: BootstrapMaterial): EnvoyPlan {
  const envoy = inputs.envoy;
  if (envoy === undefined)
    throw new Error('runtime "envoy" needs its settings block `envoy` (upstreams, gatewayAddress)');
  const cert = material.workloadCertificate;
  if (cert === undefined)
    throw new Error('runtime "envoy" needs the workload certificate (made by the delivery)');
  const { user, owner } = accountOf(inputs);
  const w = inputs.workload;
  const s = resolveEnvoySettings(envoy, {
    trustDomain: inputs.mesh?.trustDomain ?? "cluster.local",
    namespace: w.namespace,
    name: w.name,
    serviceAccount: w.serviceAccount,
  });
  const p = envoyPaths(s.configDir);
  const envoyConfig = envoyBootstrapYaml(s);
  const file = (
    path: string,
    content: string,
    mode: string,
    secret: boolean,
    restartsProxy: boolean,
  ): PlannedFile => ({
    path,
    owner: user,
    group: user,
    mode,
    content,
    secret,
    restartsProxy,
  });
  const files: PlannedFile[] = [
    file(p.config, envoyConfig, "0640", false, true),
    file(p.certificateSds, certificateSdsYaml(p), "0640", false, true),
    file(p.rootSds, rootSdsYaml(p), "0640", false, true),
    // Issued at `up`, so unknown at preview: it travels like a secret (stdin, no digest in the script), which
    // keeps the step's script known at every preview; a renewal changes only the stdin.
    file(p.certChain, cert.certChain, "0640", true, false),
    file(p.key, cert.key, "0600", true, false),
    file(p.root, material.meshRootCert, "0640", false, false),
  ];
  const container: EnvoyContainerSpec = {
    name: envoy.containerName ?? envoyContainerDefaults.containerName,
    image: envoy.image ?? envoyContainerDefaults.image,
    configDir: s.configDir,
    configPath: p.config,
    owner,
    adminPort: s.adminPort,
    readinessTimeoutSeconds: envoy.readinessTimeoutSeconds ?? envoyContainerDefaults.readinessTimeoutSeconds,
  };
  // What a restart must follow: the container's definition and the files Envoy reads only at start.
  const configDigest = sha256(
    JSON.stringify({
      container,
      files: files.filter((f) => f.restartsProxy).map((f) => [f.path, sha256(f.content)]),
    }),
  );
  const hostsBlock = hostsBlockOf(inputs, owner);
  const dockerGroup = inputs.dockerGroup ?? vmProxyDefaults.dockerGroup;
  return {
    runtime: "envoy",
    owner,
    describe: {
      proxy: `the Envoy of ${owner} (${container.image})`,
      starting: `starting the Envoy container ${container.name} and waiting until it is ready`,
    },
    account: { user, groups: [dockerGroup] },
    runsAs: "account",
    prepare: {
      apply: prepareHostScript({ user, configDir: s.configDir, dockerGroup: inputs.dockerGroup }),
      undo: unprepareHostScript({ user, configDir: s.configDir }),
    },
    files,
    start: envoyStartScript(container, configDigest),
    stop: envoyStopScript(container),
    configDigest,
    readiness: { url: envoyReadinessUrl(s.adminPort), timeoutSeconds: container.readinessTimeoutSeconds },
    ...(hostsBlock ? { hostsBlock } : {}),
    container,
    envoyConfig,
  };
}
