// What every delivery of a VM's bootstrap files needs from the cluster, as resources: the bootstrap token (a local
// Command running the fixed minting program, the request on stdin, outputs secret) and the two CA roots (given, or
// read from the ConfigMaps Istio and Kubernetes publish in the workload namespace). Shared by VmProxy (SSH) and
// VmBoot (first boot), which differ only in when the token is re-minted (their extra triggers).
import * as command from "@pulumi/command";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { WorkloadIdentity } from "./sidecarEnv";
import {
  MINT_TOKEN_PROGRAM,
  TokenRequestInput,
  apiServerAccessFromKubeconfig,
  parseMintedToken,
} from "./tokenRequest";

export interface TokenMintSpec {
  kubeconfig: pulumi.Input<string>;
  kubeContext?: pulumi.Input<string>;
  workload: pulumi.Output<WorkloadIdentity>;
  audiences: string[];
  expirationSeconds: number;
  /** Re-mint triggers after identity, audiences and lifetime (rotation, rotation window, …). */
  moreTriggers: pulumi.Input<string | number>[];
}

export interface MintedToken {
  mint: command.local.Command;
  token: pulumi.Output<string>;
  /** RFC 3339. */
  expiry: pulumi.Output<string>;
}

/** `<name>-bootstrap-token`: mints at create and whenever a trigger changes; preview never mints. */
export function createTokenMint(
  name: string,
  opts: pulumi.CustomResourceOptions,
  spec: TokenMintSpec,
): MintedToken {
  const { audiences, expirationSeconds } = spec;
  const tokenRequest = pulumi
    .all([pulumi.secret(spec.kubeconfig), spec.kubeContext, spec.workload])
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
        spec.workload.apply((w) => `${w.namespace}/${w.serviceAccount}`),
        audiences.join(","),
        expirationSeconds,
        ...spec.moreTriggers,
      ],
      logging: "none",
      addPreviousOutputInEnv: false,
    },
    { ...opts, additionalSecretOutputs: ["stdout", "stderr"] },
  );
  const minted = mint.stdout.apply(parseMintedToken);
  return {
    mint,
    token: pulumi.secret(minted.apply((m) => m.token)),
    expiry: pulumi.unsecret(minted.apply((m) => m.expirationTimestamp)),
  };
}

export interface CaRoots {
  meshRootCert: pulumi.Input<string>;
  kubernetesRootCert: pulumi.Input<string>;
}

/** The given roots, else `<name>-istio-ca-root-cert` / `<name>-kube-root-ca` reads of the namespace's ConfigMaps. */
export function readCaRoots(
  name: string,
  opts: pulumi.CustomResourceOptions,
  workload: pulumi.Output<WorkloadIdentity>,
  given: Partial<CaRoots>,
): CaRoots {
  const configMapKey = (configMap: string, key: string, suffix: string) =>
    k8s.core.v1.ConfigMap.get(
      `${name}-${suffix}`,
      workload.apply((w) => `${w.namespace}/${configMap}`),
      opts,
    ).data.apply((d) => {
      const value = d?.[key];
      if (!value)
        throw new Error(`ConfigMap ${configMap} has no "${key}"; is the namespace part of the mesh?`);
      return value;
    });
  return {
    meshRootCert:
      given.meshRootCert ?? configMapKey("istio-ca-root-cert", "root-cert.pem", "istio-ca-root-cert"),
    kubernetesRootCert:
      given.kubernetesRootCert ?? configMapKey("kube-root-ca.crt", "ca.crt", "kube-root-ca"),
  };
}
