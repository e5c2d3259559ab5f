// The `/etc/hosts` block that points the mesh names a VM calls at the proxy's egress bind address
// (`127.0.0.2 reviews.bookinfo.svc`), as one marked block owned by one MeshVm: replaced where it stands,
// never duplicated, removed on destroy, and lines outside it are left alone.
import { isIP } from "node:net";
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
  if (/\s/.test(spec.owner)) {
    throw new Error(`hosts block owner must not contain white space: "${spec.owner}"`);
  }
  if (spec.hostnames.length === 0) {
    return "";
  }
  if (isIP(spec.address) === 0) {
    throw new Error(`egress bind address "${spec.address}" is not an IP address`);
  }
  const names = [...new Set(spec.hostnames)];
  for (const name of names) {
    if (!/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(name)) {
      throw new Error(`"${name}" is not a host name usable in /etc/hosts`);
    }
  }
  const { begin, end } = hostsBlockMarkers(spec.owner);
  return [begin, ...names.map((name) => `${spec.address} ${name}`), end, ""].join("\n");
}

/**
 * Replaces the owner's block in place (or appends it; or, with an empty block, removes it). Writes only when
 * the file changes, by rename when possible and in place when the file is a bind mount (containers).
 * Prints `unchanged` or `updated`.
 */
function hostsScript(owner: string, block: string, hostsFile: string, lockFile: string): string {
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
    `printf '%s' ${shellQuote(block)} > "$block"`,
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

export function applyHostsBlockScript(spec: HostsBlockSpec): string {
  return hostsScript(
    spec.owner,
    renderHostsBlock(spec),
    spec.hostsFile ?? "/etc/hosts",
    spec.lockFile ?? DEFAULT_LOCK,
  );
}

export function removeHostsBlockScript(
  spec: Pick<HostsBlockSpec, "owner" | "hostsFile" | "lockFile">,
): string {
  return hostsScript(spec.owner, "", spec.hostsFile ?? "/etc/hosts", spec.lockFile ?? DEFAULT_LOCK);
}
