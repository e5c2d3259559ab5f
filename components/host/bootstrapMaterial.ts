// What every delivery of a VM's bootstrap files needs from the cluster, as resources: the bootstrap token (a local
// Command running the fixed minting program, the request on stdin, outputs secret); the CA roots are in
// meshRoots.ts. Shared by VmProxy (SSH) and VmBoot (first boot), which differ only in when the token is re-minted
// (their extra triggers).
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { WorkloadIdentity } from "./sidecarEnv";
import { localProgram } from "../localProgram";
import { TokenRequestInput, apiServerAccessFromKubeconfig, parseMintedToken } from "./tokenRequest";

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
      create: localProgram("mintToken"),
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
