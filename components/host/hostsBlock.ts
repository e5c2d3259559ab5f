// The `/etc/hosts` block that points the mesh names a VM calls at the proxy's egress bind address
// (`127.0.0.2 reviews.bookinfo.svc`), as one marked block owned by one MeshVm: replaced where it stands,
// never duplicated, removed on destroy, and lines outside it are left alone.
import { isIP } from "node:net";
import { excerpt, inputLimits } from "../rules/values";
import { shellQuote } from "./shell";

export interface HostsBlockSpec {
  /** `<namespace>/<name>` of the owning MeshVm; names the markers. */
  owner: string;
  /** Egress listener bind address (the Sidecar's egress `bind`), e.g. 127.0.0.2. */
  address: string;
  /** Host names to point at `address`. */
  hostnames: string[];
  /** The hosts file (default /etc/hosts; tests use a sandbox path). */
  hostsFile?: string;
  /** Lock serialising updates by several MeshVms on one host (default /run/lock/mesh-vm-hosts.lock). */
  lockFile?: string;
}

export function hostsBlockMarkers(owner: string): { begin: string; end: string } {
  return { begin: `# BEGIN mesh-vm ${owner}`, end: `# END mesh-vm ${owner}` };
}

/** The block text (markers included, trailing newline), or "" when there are no names. */
export function renderHostsBlock(spec: HostsBlockSpec): string {
  checkOwner(spec.owner);
  if (spec.hostnames.length === 0) {
    return "";
  }
  if (isIP(spec.address) === 0) {
    throw new Error(bindAddressMessage(spec.address));
  }
  const names = [...new Set(spec.hostnames)];
  if (names.length > inputLimits.egressHostnames) {
    throw new Error(
      `egressHostnames: ${names.length} names exceed the limit of ${inputLimits.egressHostnames}; ` +
        "keep the names this VM's applications call",
    );
  }
  // Validation refuses plain names at preview; a name given as an Output is only known here, at `up`.
  spec.hostnames.forEach((name, i) => {
    if (
      typeof name !== "string" ||
      name.length > 253 ||
      !/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(name)
    ) {
      throw new Error(
        `egressHostnames[${i}]: ${excerpt(name)} is not a host name usable in /etc/hosts; ` +
          'use a DNS name on one line, e.g. "reviews.bookinfo.svc"',
      );
    }
  });
  const { begin, end } = hostsBlockMarkers(spec.owner);
  return [begin, ...names.map((name) => `${spec.address} ${name}`), end, ""].join("\n");
}

/** The bind address is VmProxy's egressBindAddress, MeshVm's first `egress[].bind`. */
function bindAddressMessage(address: unknown): string {
  return (
    `egressBindAddress (MeshVm: egress[].bind): ${excerpt(address)} is not an IP address; ` +
    'use the loopback address the egress listener binds, e.g. "127.0.0.2"'
  );
}

function checkOwner(owner: string): void {
  if (!/^[a-z0-9][a-z0-9.-]*\/[a-z0-9][a-z0-9.-]*$/.test(owner) || owner.length > 320) {
    throw new Error(`hosts block owner ${excerpt(owner)} is not <namespace>/<name>`);
  }
}

/**
 * Replaces the owner's block in place (or appends it; or, without an `address`, removes it). The block
 * arrives on stdin, not in the script (a thousand names would crowd a command line), and must be the owner's
 * markers around `<address> <name>` lines. Writes only when the file changes, by rename when possible and in
 * place when the file is a bind mount (containers). Prints `unchanged` or `updated`.
 */
function hostsScript(
  owner: string,
  address: string | undefined,
  hostsFile: string,
  lockFile: string,
): string {
  checkOwner(owner);
  const fromStdin = address !== undefined;
  if (fromStdin && isIP(address) === 0) {
    throw new Error(bindAddressMessage(address));
  }
  // Every line between the markers must point at this address (IP characters: only '.' needs escaping).
  const line = `${(address ?? "").replace(/\./g, "\\.")} [A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?`;
  const { begin, end } = hostsBlockMarkers(owner);
  return [
    "set -eu",
    `file=${shellQuote(hostsFile)}`,
    // Several proxies on one host update the file in parallel: one at a time (where flock exists).
    `lock=${shellQuote(lockFile)}`,
    `[ -d "$(dirname "$lock")" ] || lock=/tmp/mesh-vm-hosts.lock`,
    `if command -v flock >/dev/null 2>&1; then exec 9>>"$lock"; flock -w 120 9; fi`,
    `begin=${shellQuote(begin)}`,
    `end=${shellQuote(end)}`,
    `[ -f "$file" ] || : > "$file"`,
    `nb=$(grep -cxF "$begin" "$file" || true)`,
    `ne=$(grep -cxF "$end" "$file" || true)`,
    `if [ "$nb" != "$ne" ] || [ "$nb" -gt 1 ]; then`,
    `  echo "mesh-vm: $file has a damaged block '$begin' ... '$end'; fix it by hand" >&2`,
    "  exit 1",
    "fi",
    `block=$(mktemp); new=$(mktemp)`,
    `trap 'rm -f "$block" "$new" "$file.mesh-vm.tmp"' EXIT`,
    fromStdin ? `head -c 1048576 > "$block"` : `: > "$block"`,
    // Only the owner's markers around address/name lines: stdin cannot smuggle other lines into /etc/hosts.
    `if [ -s "$block" ] && { [ "$(head -n 1 "$block")" != "$begin" ] || [ "$(tail -n 1 "$block")" != "$end" ] ||`,
    `  [ "$(grep -cxF -e "$begin" -e "$end" "$block")" != 2 ] ||`,
    `  grep -vxF -e "$begin" -e "$end" "$block" | grep -qvxE ${shellQuote(line)}; }; then`,
    `  echo "mesh-vm: the hosts block on stdin is not a marked block of address/name lines" >&2`,
    "  exit 1",
    "fi",
    `awk -v b="$begin" -v e="$end" -v blockfile="$block" '`,
    `  function emit(  line) { while ((getline line < blockfile) > 0) print line; close(blockfile); done = 1 }`,
    `  $0 == b { emit(); skip = 1; next }`,
    `  skip && $0 == e { skip = 0; next }`,
    `  skip { next }`,
    `  { print }`,
    `  END { if (!done) emit() }' "$file" > "$new"`,
    `if cmp -s "$new" "$file"; then echo unchanged; exit 0; fi`,
    `cat "$new" > "$file.mesh-vm.tmp"`,
    `chmod "$(stat -c %a "$file")" "$file.mesh-vm.tmp"`,
    `chown "$(stat -c %u:%g "$file")" "$file.mesh-vm.tmp" 2>/dev/null || true`,
    `mv -f "$file.mesh-vm.tmp" "$file" 2>/dev/null || cat "$new" > "$file"`,
    "echo updated",
  ].join("\n");
}

const DEFAULT_LOCK = "/run/lock/mesh-vm-hosts.lock";

/** The script that puts the block (`renderHostsBlock(spec)`, given on its stdin) in place. */
export function applyHostsBlockScript(
  spec: Pick<HostsBlockSpec, "owner" | "address" | "hostsFile" | "lockFile">,
): string {
  return hostsScript(spec.owner, spec.address, spec.hostsFile ?? "/etc/hosts", spec.lockFile ?? DEFAULT_LOCK);
}

export function removeHostsBlockScript(
  spec: Pick<HostsBlockSpec, "owner" | "hostsFile" | "lockFile">,
): string {
  return hostsScript(spec.owner, undefined, spec.hostsFile ?? "/etc/hosts", spec.lockFile ?? DEFAULT_LOCK);
}
