// The files of proxyConfigDir, with their modes: the list the container runtime plans (runtime/container.ts),
// which every delivery writes from (VmProxy's proxy step, the boot-time user data, the offline bundle), so they
// cannot drift apart. Every file is owned by the proxy user and its primary group; the directory is prepared 0775 (prepareHost.ts) and the
// agent's `certs/` directory is made 0750 before the container starts (proxyScripts.ts).
import { CONFIG_FILES } from "./proxyContainer";

/** The contents the config files are rendered from. */
export interface ConfigContents {
  sidecarEnv: string;
  meshRootCert: string;
  kubernetesRootCert: string;
  token: string;
}

export interface ConfigFileSpec {
  /** File name inside proxyConfigDir. */
  name: string;
  /** Octal mode. */
  mode: string;
  /** Whether the content is a secret (kept out of logs and plain state). */
  secret: boolean;
  /** Which content it holds. */
  content: keyof ConfigContents;
}

export const PROXY_CONFIG_FILES: readonly ConfigFileSpec[] = [
  { name: CONFIG_FILES.sidecarEnv, mode: "0644", secret: false, content: "sidecarEnv" },
  { name: CONFIG_FILES.meshRootCert, mode: "0644", secret: false, content: "meshRootCert" },
  {
    name: CONFIG_FILES.kubernetesRootCert,
    mode: "0644",
    secret: false,
    content: "kubernetesRootCert",
  },
  { name: CONFIG_FILES.token, mode: "0640", secret: true, content: "token" },
];
