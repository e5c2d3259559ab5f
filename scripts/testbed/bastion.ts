// A VM host behind a jump host, as most production VMs sit: the VM's sshd answers only the bastion. Both are
// ordinary test hosts on the VM network; a rule in the VM host's own network namespace (its firewall, not the
// machine's) resets every SSH connection that does not come from the bastion's address, so the machine running
// Pulumi can reach the VM's SSH port only by going through the bastion.
import { run } from "./hosts/process";
import { sshOptions } from "./hosts/netnsHost";
import type { ExecResult, TestHost } from "./hosts";

/**
 * From now on `vm`'s sshd accepts connections only from `bastion`'s primary address; everything else gets a TCP
 * reset (a fast, unambiguous refusal, as a host firewall's `reject` gives).
 */
export async function sshOnlyThrough(vm: TestHost, bastion: TestHost): Promise<void> {
  await run("ip", [
    "netns",
    "exec",
    vm.netns,
    "iptables",
    "-A",
    "INPUT",
    "-p",
    "tcp",
    "--dport",
    String(vm.sshPort),
    "!",
    "-s",
    bastion.address,
    "-j",
    "REJECT",
    "--reject-with",
    "tcp-reset",
  ]);
}

/**
 * `command` on `vm` as its admin, over SSH from this machine: directly, or through `bastion` (`ssh -J`, both host
 * keys pinned, the bastion's admin key for the jump) when given.
 */
export function sshFromMachine(
  vm: TestHost,
  command: string,
  bastion?: TestHost,
  timeoutMs = 30_000,
): Promise<ExecResult> {
  const jump = bastion
    ? [
        "-o",
        // The jump's own ssh: its key and known_hosts, no config; the VM's options follow for the second hop.
        `ProxyCommand=ssh ${sshOptions(bastion.adminPrivateKeyPath, bastion.knownHostsPath).join(" ")} -p ${bastion.sshPort} -W %h:%p ${bastion.adminUser}@${bastion.address}`,
      ]
    : [];
  return run(
    "ssh",
    [
      ...sshOptions(vm.adminPrivateKeyPath, vm.knownHostsPath),
      ...jump,
      "-p",
      String(vm.sshPort),
      `${vm.adminUser}@${vm.address}`,
      "--",
      command,
    ],
    { check: false, timeoutMs },
  );
}

/** Source addresses of the logins `host`'s sshd accepted (its log's `Accepted publickey … from <address>`). */
export async function loginSources(host: TestHost): Promise<string[]> {
  return (await host.sshdLog())
    .split("\n")
    .flatMap((l) => /Accepted publickey for \S+ from (\S+)/.exec(l)?.[1] ?? []);
}
