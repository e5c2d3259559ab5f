// What tests see of a test VM host (see ../hosts.ts).
/**
 * Documentation ranges (RFC 5737) and the benchmarking range (RFC 2544): never routed on the internet, so test
 * traffic cannot leave the machine. Not 192.0.2.0/24: machines of this workplace sit on it (eth0 192.0.2.2,
 * gateway 192.0.2.1), and a bridge holding 192.0.2.1 would capture their default route. createHosts refuses a
 * range any other interface of the machine is on.
 */
export const NETWORKS = {
  /** The "VM network" of the seeds. */
  vm: { prefix: "198.51.100", bridge: "mvmbr-vm" },
  /** A second network (e.g. a proxy instance address apart from the SSH address). */
  second: { prefix: "203.0.113", bridge: "mvmbr-second" },
  /** A third network (e.g. SSH over an address apart from the workload's). */
  third: { prefix: "198.18.0", bridge: "mvmbr-third" },
} as const;
export type NetworkName = keyof typeof NETWORKS;

export interface HostSpec {
  /** Host name (also the hostname inside the host); unique within one createHosts call. */
  name: string;
  /** Networks to attach, first one is the primary address (default ["vm"]). */
  networks?: NetworkName[];
  /**
   * The host's init. "shell" (default): sshd and podman behind `docker`, no service manager (the Docker
   * runtime's hosts). "systemd": systemd as PID 1 of the host's PID namespace, sshd as its unit, the root
   * filesystem of scripts/testbed/rootfs-systemd.sh (no podman); createHosts then returns SystemdHosts.
   */
  init?: "shell" | "systemd";
}

export interface CreateHostsOptions {
  /**
   * Detached hosts outlive this process (the local sandbox): no exit hook of this process tears them
   * down, and other runs leave them alone while the `keeper` file exists. Stop them with
   * destroyDetachedHosts(ids) from any process.
   */
  detached?: { keeper: string };
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** Data written to the command's standard input. */
  input?: string;
  /** Reject when the command exits non-zero (default true). */
  check?: boolean;
  /** Pin this key instead of the host's own (authorized_keys format), e.g. to prove a wrong pin fails. */
  hostKey?: string;
  timeoutMs?: number;
}

export interface FileStat {
  type: "file" | "directory" | "symlink" | "other";
  owner: string;
  group: string;
  uid: number;
  gid: number;
  /** Permission bits, e.g. 0o640. */
  mode: number;
  size: number;
}

export interface ContainerMount {
  source: string;
  destination: string;
  readOnly: boolean;
}

export interface ContainerInfo {
  id: string;
  name: string;
  image: string;
  /** "running", "exited", "created", ... */
  state: string;
  exitCode: number;
  /** Docker restart policy name: "no", "always", "unless-stopped", "on-failure". */
  restartPolicy: string;
  networkMode: string;
  mounts: ContainerMount[];
  env: Record<string, string>;
  args: string[];
  /** Main process id as seen from the host (0 when not running). */
  pid: number;
}

export interface RebootResult {
  /** Containers the boot started again. */
  restarted: string[];
  /**
   * Containers the boot tried and failed to start, with podman's error: e.g. a bind-mount source
   * under /tmp is gone after the reboot. Docker's daemon logs these too and boots on.
   */
  failed: { name: string; error: string }[];
}

export interface TestHost {
  /** The harness's id of the host (its record, netns `mvm-<id>`). */
  readonly id: string;
  readonly name: string;
  /** Primary address (first network). */
  readonly address: string;
  readonly addresses: Partial<Record<NetworkName, string>>;
  readonly sshPort: number;
  /** The host's public host key in authorized_keys format (`ssh-ed25519 AAAA...`): the key to pin. */
  readonly hostKey: string;
  readonly adminUser: string;
  /** OpenSSH-format private key of adminUser (unencrypted). Keep it out of logs. */
  readonly adminPrivateKey: string;
  readonly adminPrivateKeyPath: string;
  /** known_hosts file pinning this host's key for its addresses. */
  readonly knownHostsPath: string;
  readonly netns: string;
  /** Command over SSH as adminUser, host key pinned (StrictHostKeyChecking=yes). */
  exec(command: string, options?: ExecOptions): Promise<ExecResult>;
  /**
   * The shell command line that boots the host for the first time from cloud-init user data, as a cloud VM
   * does: the user data on its stdin becomes the NoCloud seed, then cloud-init's four boot stages run inside
   * the host (scripts/testbed/prepare-host.sh, mesh-vm-first-boot). Run as root on the machine, e.g. by a
   * `local.Command` standing in for a cloud's instance resource; no SSH. Exits non-zero when a stage fails.
   */
  firstBootCommand(instanceId: string): string;
  /** Command as root inside the host, without SSH (not visible in the sshd log). */
  run(command: string, options?: { input?: string; check?: boolean }): Promise<ExecResult>;
  stat(path: string): Promise<FileStat | undefined>;
  readFile(path: string): Promise<string>;
  exists(path: string): Promise<boolean>;
  /** Users in the host's /etc/passwd. */
  users(): Promise<string[]>;
  containers(): Promise<ContainerInfo[]>;
  containerLogs(name: string): Promise<string>;
  etcHosts(): Promise<string>;
  /** The host's sshd log (LogLevel VERBOSE). */
  sshdLog(): Promise<string>;
  /** Number of SSH logins accepted so far ("Accepted publickey" lines in the sshd log). */
  sshLogins(): Promise<number>;
  stopSshd(): Promise<void>;
  startSshd(): Promise<void>;
  /**
   * Every sshd process of the host dies (SIGKILL, as in a crash of the daemon): the listener and every open
   * session, so connections drop mid-command. The commands the sessions ran go on as orphans. Start it again
   * with startSshd().
   */
  killSshd(): Promise<void>;
  /**
   * A rebuilt host's new identity: a fresh ED25519 host key, sshd restarted with it; `hostKey` and the
   * known_hosts file follow. Returns the new key (authorized_keys format).
   */
  rekey(): Promise<string>;
  /** Takes the host's links down (`ip link set <veth> down` on the machine's side of each), or up again. */
  setLinks(state: "up" | "down"): Promise<void>;
  /**
   * The container's main process dies (SIGKILL from outside, as a crash or the OOM killer would):
   * its restart policy applies, so `unless-stopped` brings it back. Unlike `docker kill`, which
   * podman counts as stopped by the user (no restart).
   */
  killContainer(name: string): Promise<void>;
  /** `docker stop` as a user would: no restart, not even at the next boot for `unless-stopped`. */
  stopContainer(name: string): Promise<void>;
  /**
   * Simulated reboot: every process in the host dies at once (containers too, not "stopped by the
   * user"), /run and /tmp start empty, sshd starts again, then containers are started the way Docker
   * does at boot: restart policy `always`, and `unless-stopped` unless a user had stopped it. Podman
   * has no daemon to do that (Debian runs podman-restart.service for `always` only), so this does.
   */
  reboot(): Promise<RebootResult>;
  destroy(): Promise<void>;
}
