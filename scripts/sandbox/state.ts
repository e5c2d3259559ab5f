// Where the local sandbox keeps everything it makes: one directory (default `<repo>/.sandbox`,
// override with MESH_VM_SANDBOX_DIR), holding state.json (what runs: cluster PIDs/ports/dirs, host
// ids/addresses; with --istiod, istiod's PID/ports/dir, the agent image and the package host's istio-sidecar
// file), the kubeconfig, each host's known_hosts and admin key, the Pulumi project dir with the `sandbox` stack
// file, the file backend and the secrets passphrase. `down` removes all of it.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { ClusterRecord } from "../testbed/cluster";
import type { IstiodRecord } from "../testbed/istiod";

export const repoRoot = resolve(__dirname, "../..");

/** One VM host of the sandbox, as the stack config and the printed guide need it. */
export interface SandboxHost {
  /** Harness id (netns `mvm-<id>`). */
  id: string;
  name: string;
  netns: string;
  /** The addresses the host has, by test network. */
  addresses: Record<string, string>;
  /** SSH host key (authorized_keys format), pinned. */
  hostKey: string;
  adminUser: string;
  sshPort: number;
  /** Present on the systemd host of `up --istiod`: onboarded with the package runtime (Istio's istio-sidecar). */
  sidecarPackage?: SandboxSidecarPackage;
}

/** The istio-sidecar package the set-up built, placed on the package host as a user's file. */
export interface SandboxSidecarPackage {
  /** Its path on the host (`host.sidecarPackage.file`). */
  file: string;
  /** Its version as dpkg reports it (`host.sidecarPackage.version`). */
  version: string;
}

export interface SandboxState {
  /** When `up` started the test bed (ISO). */
  createdAt: string;
  /** Started with a real istiod and the real Istio agent on the hosts (`up --istiod`); kept for its lifetime. */
  withIstiod?: boolean;
  cluster?: ClusterRecord;
  /** The detached istiod (withIstiod), recorded as soon as it is ready. */
  istiod?: IstiodRecord;
  /** The agent image imported into both hosts' podman (withIstiod). */
  agentImage?: string;
  hosts: SandboxHost[];
}

export class SandboxPaths {
  readonly dir: string;
  constructor(dir = process.env.MESH_VM_SANDBOX_DIR || join(repoRoot, ".sandbox")) {
    this.dir = resolve(dir);
  }
  get state(): string {
    return join(this.dir, "state.json");
  }
  get kubeconfig(): string {
    return join(this.dir, "kubeconfig");
  }
  get knownHosts(): string {
    return join(this.dir, "known_hosts");
  }
  get clusterDir(): string {
    return join(this.dir, "cluster");
  }
  /** CA of the API server's certificate. */
  get clusterCa(): string {
    return join(this.clusterDir, "pki", "cluster-ca.crt");
  }
  /** `Authorization: Bearer ...` header for `curl -H @file` (0600): the token stays off command lines. */
  get apiAuthHeader(): string {
    return join(this.dir, "api-auth.header");
  }
  /** Pulumi project dir of the sandbox stack (Pulumi.yaml running the root program, node_modules link, Pulumi.sandbox.yaml). */
  get projectDir(): string {
    return join(this.dir, "project");
  }
  get stackFile(): string {
    return join(this.projectDir, "Pulumi.sandbox.yaml");
  }
  /** File backend (pulumi login file://...). */
  get backendDir(): string {
    return join(this.dir, "backend");
  }
  get passphrase(): string {
    return join(this.dir, "passphrase");
  }
  hostDir(name: string): string {
    return join(this.dir, name);
  }
  adminKey(name: string): string {
    return join(this.hostDir(name), "admin_key");
  }
}

export function readState(paths: SandboxPaths): SandboxState | undefined {
  if (!existsSync(paths.state)) return undefined;
  return JSON.parse(readFileSync(paths.state, "utf8")) as SandboxState;
}

/** Writes state.json atomically (a crash leaves the old or the new one, never half of one). */
export function writeState(paths: SandboxPaths, state: SandboxState): void {
  mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
  const temp = `${paths.state}.tmp`;
  writeFileSync(temp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  renameSync(temp, paths.state);
}
