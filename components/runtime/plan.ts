// What a runtime renders and every delivery consumes (docs/architecture.md): the files a VM needs, where they go
// and who owns them, how the host is prepared, and how the proxy is started, stopped and checked. A runtime is
// a pure function to this shape; the SSH delivery (host/vmProxy.ts) runs it in two remote steps and the boot
// delivery (boot/render.ts) writes it as cloud-init user data or an offline bundle. Types and pure helpers only.
import { createHash } from "node:crypto";
import { posix } from "node:path";

/** The runtimes a VM can run (`runtime` input; runtime/registry.ts says which are implemented). */
export type RuntimeName = "container" | "package" | "envoy";

/** One file of the plan, as it lands on the VM. */
export interface PlannedFile {
  /** Absolute path on the VM. */
  path: string;
  /** Owner and group (names), e.g. "istio-proxy". */
  owner: string;
  group: string;
  /** Octal mode, e.g. "0640". */
  mode: string;
  /** Rendered text. */
  content: string;
  /** Token, private key: travels only on a secret stdin (or secret user data), never on a command line. */
  secret: boolean;
  /** False for material the proxy re-reads by itself (token, SDS certificate files): no restart when it changes. */
  restartsProxy: boolean;
}

/** The account that owns the proxy's files and runs it, created before the files are written (at boot: cloud-init `users`). */
export interface ProxyAccount {
  user: string;
  /** Supplementary groups, e.g. the docker group. */
  groups: string[];
  /**
   * The account is the one `prepare` makes (a package's own, with its home and directories): at boot `prepare`
   * then runs before the files are written (cloud-init `bootcmd`, once per instance), and cloud-init makes no
   * account of its own.
   */
  madeByPrepare?: boolean;
}

/** The managed `/etc/hosts` block: the mesh names the VM calls, pointed at the egress bind address. */
export interface PlannedHostsBlock {
  /** `<namespace>/<name>` of the workload: names the block's markers. */
  owner: string;
  address: string;
  hostnames: string[];
  /**
   * The proxy itself resolves these names (the control plane's, the package runtime's istiod line): the boot
   * start script writes the block before it starts the proxy, as the SSH delivery's host step does, not once
   * the proxy is ready (names that lead to the proxy).
   */
  beforeStart?: boolean;
}

export interface RuntimePlan {
  runtime: RuntimeName;
  /** `<namespace>/<name>` of the workload: names the container, the key comment and the hosts block. */
  owner: string;
  /** What the start script says it starts (`the istio-proxy of <owner> (<image>)`) and how (`starting …`). */
  describe: { proxy: string; starting: string };
  account: ProxyAccount;
  /**
   * Who writes the files and runs `start`/`stop`: the proxy `account` itself (the container runtime: docker as
   * that user), or root (a systemd unit). The SSH delivery logs in as the proxy user and adds `sudo -n` for root.
   */
  runsAs: "account" | "root";
  /** Root scripts: users, groups, directories, packages; and their undo (what only this proxy made). */
  prepare: { apply: string; undo: string };
  files: PlannedFile[];
  /** Idempotent: starts the proxy, restarts it only when `configDigest` changed, waits for readiness. */
  start: string;
  /** Stops and removes what `start` made (not the files: the delivery removes those). */
  stop: string;
  /** sha256 over everything that needs a restart (never over secrets in plain). */
  configDigest: string;
  /** Where the proxy answers ready, probed from the VM itself. */
  readiness?: { url: string; timeoutSeconds: number };
  hostsBlock?: PlannedHostsBlock;
}

export const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex");

/** sha256 of each file, by path: what the SSH delivery's script lists and VmProxy's `fileDigests` shows. */
export function fileDigestsOf(files: readonly PlannedFile[]): Record<string, string> {
  return Object.fromEntries(files.map((f) => [f.path, sha256(f.content)]));
}

/** The files' directories, deepest first (removed when empty after the files go). */
export function fileDirectoriesOf(files: readonly PlannedFile[]): string[] {
  const dirs = new Set(files.map((f) => posix.dirname(f.path)));
  return [...dirs].sort((a, b) => b.split("/").length - a.split("/").length || a.localeCompare(b));
}

/** The plan with every secret file's content replaced by `placeholder`: shown at preview, never secret. */
export function publicPlanOf<P extends RuntimePlan>(plan: P, placeholder = "<secret>"): P {
  return { ...plan, files: plan.files.map((f) => (f.secret ? { ...f, content: placeholder } : f)) };
}
