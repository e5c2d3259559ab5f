// The VM preparation the runbooks ask an admin to do by hand, as one idempotent script run with root:
// docker present, the proxy user (with a home) in the docker group, the config directory, and the proxy
// user's authorized key. Undo removes the key and the (empty) directory; the user and group stay.
// The key arrives on standard input, not in the script: a generated key is only known once it exists, and the
// script must be known at preview so that the dry run shows it. Its line is marked `mesh-vm:<owner>`, so undo
// and a rotated key find it without knowing the key itself.
import { dedicatedDirectoryProblem, excerpt, posixNameProblem } from "../rules/values";
import { vmProxyDefaults } from "./defaults";
import { shellQuote } from "./shell";

export interface PrepareHostSpec {
  /** The user the proxy is run and managed as (default in MeshVm: istio-proxy). */
  user: string;
  /** proxyConfigDir; created mode 775, owned by the user. */
  configDir: string;
  /**
   * Install the public key read from standard input (`ssh-ed25519 AAAA…`, one line) for the user, marked
   * `mesh-vm:<keyOwner>` (replacing an earlier key of that owner); undefined leaves keys alone.
   */
  keyOwner?: string;
  /** Group that may use the docker daemon (default `docker`). */
  dockerGroup?: string;
}

// The renderer's own checks (validation refuses these at preview, naming the input): a name that is an option
// or a system directory never reaches the script.
function checkSpec(spec: Omit<PrepareHostSpec, "configDir"> & { configDir?: string }): void {
  const user = posixNameProblem(spec.user);
  if (user !== undefined)
    throw new Error(`sshUser (the proxy user): ${user}; use a name such as "istio-proxy"`);
  const group = spec.dockerGroup === undefined ? undefined : posixNameProblem(spec.dockerGroup);
  if (group !== undefined)
    throw new Error(`prepare.dockerGroup: ${group}; use the group of docker's socket, e.g. "docker"`);
  const dir = spec.configDir === undefined ? undefined : dedicatedDirectoryProblem(spec.configDir);
  if (dir !== undefined) throw new Error(`proxyConfigDir: ${dir}`);
  if (spec.keyOwner !== undefined && !/^[A-Za-z0-9._/-]+$/.test(spec.keyOwner)) {
    throw new Error(`${excerpt(spec.keyOwner)} is not a valid key owner (namespace/name)`);
  }
}

// `mark` ends the key line we install; `markre` finds it (at the end of a line, so that owner `ns/a` does not
// match `ns/a-2`).
function markOf(owner: string): string[] {
  return [
    `mark=${shellQuote(` mesh-vm:${owner}`)}`,
    `markre=${shellQuote(` mesh-vm:${owner.replace(/\./g, "\\.")}$`)}`,
  ];
}

// Proxies sharing a host share its user and authorized_keys: their preparations run one at a time.
const LOCK = [
  `lock=/run/lock/mesh-vm-prepare.lock; [ -d /run/lock ] || lock=/tmp/mesh-vm-prepare.lock`,
  `if command -v flock >/dev/null 2>&1; then exec 9>>"$lock"; flock -w 120 9; fi`,
];

// Installs the one public key read from stdin for `$user` (home and group looked up), marked with the owner.
function keyLines(keyOwner: string): string[] {
  return [
    ...markOf(keyOwner),
    `group=$(id -gn -- "$user")`,
    `home=$(getent passwd -- "$user" | cut -d: -f6)`,
    // One public key on stdin; anything else (a second line, options, a private key) is refused.
    `key=$(head -c 16384)`,
    `if [ "$(printf '%s' "$key" | wc -l)" -ne 0 ] || ! printf '%s\\n' "$key" | grep -qxE '(ssh-[a-z0-9-]+|ecdsa-sha2-[a-z0-9-]+|sk-[a-z0-9@.-]+) [A-Za-z0-9+/]+=*( [^[:space:]]*)?'; then`,
    `  echo "mesh-vm: the authorized key on stdin is not one public key line" >&2; exit 3`,
    "fi",
    `line="$(printf '%s' "$key" | cut -d' ' -f1,2)$mark"`,
    `install -d -m 700 -o "$user" -g "$group" "$home/.ssh"`,
    `ak="$home/.ssh/authorized_keys"`,
    `[ -f "$ak" ] || install -m 600 -o "$user" -g "$group" /dev/null "$ak"`,
    `chmod 600 "$ak"; chown "$user:$group" "$ak"`,
    // An earlier key of this owner (a replaced key) goes; keys of other owners stay.
    `if grep -v -xF "$line" "$ak" | grep -q -- "$markre"; then`,
    `  { grep -v -- "$markre" "$ak" || true; printf '%s\\n' "$line"; } > "$ak.mesh-vm.tmp"`,
    `  cat "$ak.mesh-vm.tmp" > "$ak"; rm -f "$ak.mesh-vm.tmp"`,
    `elif ! grep -qxF "$line" "$ak"; then printf '%s\\n' "$line" >> "$ak"; fi`,
  ];
}

/**
 * Installs the public key on stdin for an existing `user` (root), marked `mesh-vm:<keyOwner>`: the SSH
 * delivery's half of the preparation, which every runtime's own preparation runs before.
 */
export function authorizedKeyScript(spec: { user: string; keyOwner: string }): string {
  checkSpec(spec);
  return ["set -eu", ...LOCK, `user=${shellQuote(spec.user)}`, ...keyLines(spec.keyOwner)].join("\n");
}

/** Removes the key `authorizedKeyScript` installed (by its mark); other keys stay. */
export function removeAuthorizedKeyScript(spec: { user: string; keyOwner: string }): string {
  checkSpec(spec);
  return ["set -eu", ...LOCK, `user=${shellQuote(spec.user)}`, ...unkeyLines(spec.keyOwner)].join("\n");
}

function unkeyLines(keyOwner: string): string[] {
  return [
    ...markOf(keyOwner),
    `home=$(getent passwd -- "$user" | cut -d: -f6 || true)`,
    `ak="$home/.ssh/authorized_keys"`,
    `if [ -n "$home" ] && [ -f "$ak" ] && grep -q -- "$markre" "$ak"; then`,
    `  grep -v -- "$markre" "$ak" > "$ak.mesh-vm.tmp" || true`,
    `  cat "$ak.mesh-vm.tmp" > "$ak"; rm -f "$ak.mesh-vm.tmp"`,
    "fi",
  ];
}

export function prepareHostScript(spec: PrepareHostSpec): string {
  checkSpec(spec);
  const lines = [
    "set -eu",
    ...LOCK,
    `user=${shellQuote(spec.user)}`,
    `dir=${shellQuote(spec.configDir)}`,
    `docker_group=${shellQuote(spec.dockerGroup ?? vmProxyDefaults.dockerGroup)}`,
    "if ! command -v docker >/dev/null 2>&1; then",
    `  echo "mesh-vm: docker is not installed on this host (no 'docker' on PATH); install it first, e.g. 'apt-get install docker.io'" >&2`,
    "  exit 3",
    "fi",
    `if ! id -u -- "$user" >/dev/null 2>&1; then`,
    `  if command -v useradd >/dev/null 2>&1; then`,
    // A group of the same name may exist already (e.g. left by the istio-sidecar package): join it.
    `    if getent group -- "$user" >/dev/null 2>&1; then group_opt="-g $user"; else group_opt=--user-group; fi`,
    `    useradd --create-home $group_opt --shell /bin/sh -- "$user"`,
    // useradd leaves the password field "!" (locked); sshd without PAM then refuses even key logins.
    // "*" means: no password can match, but the account is not locked.
    `    usermod --password '*' -- "$user"`,
    `  else adduser -D -s /bin/sh -- "$user"; fi`,
    `  echo "created user $user"`,
    "fi",
    `group=$(id -gn -- "$user")`,
    `home=$(getent passwd -- "$user" | cut -d: -f6)`,
    `if [ -z "$home" ] || [ "$home" = / ]; then echo "mesh-vm: user $user has no home directory" >&2; exit 3; fi`,
    `[ -d "$home" ] || install -d -m 755 -o "$user" -g "$group" "$home"`,
    `getent group -- "$docker_group" >/dev/null 2>&1 || groupadd --system -- "$docker_group" 2>/dev/null || addgroup -S -- "$docker_group"`,
    `if ! id -nG -- "$user" | tr ' ' '\\n' | grep -qxF -- "$docker_group"; then`,
    `  usermod -aG "$docker_group" -- "$user" 2>/dev/null || addgroup -- "$user" "$docker_group"`,
    "fi",
    // A symlink planted at the directory's path (e.g. below /tmp) would hand its target to the proxy user.
    `if [ -L "$dir" ]; then echo "mesh-vm: $dir is a symbolic link; refusing to take it over" >&2; exit 3; fi`,
    `install -d -m 775 -o "$user" -g "$group" -- "$dir"`,
  ];
  if (spec.keyOwner !== undefined) lines.push(...keyLines(spec.keyOwner));
  lines.push(`echo "prepared $user $dir"`);
  return lines.join("\n");
}

export function unprepareHostScript(spec: PrepareHostSpec): string {
  checkSpec(spec);
  const lines = ["set -eu", ...LOCK, `user=${shellQuote(spec.user)}`, `dir=${shellQuote(spec.configDir)}`];
  if (spec.keyOwner !== undefined) lines.push(...unkeyLines(spec.keyOwner));
  // Only an empty directory goes: anything left in it is not ours to delete.
  lines.push(`rmdir "$dir" 2>/dev/null || true`);
  return lines.join("\n");
}
