// The SSH delivery's two remote steps per VM, rendered from a RuntimePlan (docs/architecture.md):
// - `<name>-host`, as root (the admin account when prepared): the runtime's preparation, the generated key and
//   the `/etc/hosts` block; its stdin carries the public key and the block, one base64 line each;
// - `<name>-proxy`, as the account the plan runs as: every file of the plan in one bundle on a secret stdin (one
//   `<sha256> <base64>` line per file), written only when its sha256, mode or owner differs, atomically; then the
//   runtime's `start`, which restarts the proxy only when its config digest changed. The script lists each file
//   as `# <path> sha256=<digest>`, so a preview names the file that changes. A secret's line names it without a
//   digest: a token is minted at `up`, so its digest is unknown at preview, and a script carrying it would be
//   unknown at every preview before a mint; its change shows as the step's (secret) stdin changing.
// Nothing secret is ever part of a script: contents travel on stdin only.
import type { PlannedFile, PlannedHostsBlock, RuntimePlan } from "../runtime/plan";
import { fileDirectoriesOf, sha256 } from "../runtime/plan";
import { excerpt } from "../rules/values";
import { applyHostsBlockScript, removeHostsBlockScript, renderHostsBlock } from "./hostsBlock";
import { authorizedKeyScript, removeAuthorizedKeyScript } from "./prepareHost";
import { shellQuote, wrapScript } from "./shell";

/** `create`/`delete` of a remote step. */
export interface StepScripts {
  create: string;
  delete: string;
}

/**
 * A file as the proxy step's script names it: everything but its content; the sha256 of a non-secret one, and
 * the lines of a small non-secret text file (sidecar.env, cluster.env, mesh.yaml), so `pulumi preview --diff`
 * shows what changes in it, not only that its digest did.
 */
export type FileEntry = Omit<PlannedFile, "content"> & { sha256?: string; shown?: string[] };

/** Non-secret files up to this size, with no certificate in them, are shown in the script as comments. */
const SHOWN_MAX_BYTES = 8192;

function shownLines(content: string): string[] | undefined {
  if (Buffer.byteLength(content) > SHOWN_MAX_BYTES || content.includes("-----BEGIN ")) return undefined;
  // Each line becomes one comment line: control characters (a carriage return among them) are escaped.
  return content
    .replace(/\n$/, "")
    .split("\n")
    .map((l) => [...l].map((c) => (c < " " || c === "\u007f" ? "?" : c)).join(""));
}

/** The script's view of the plan's files: a secret's content and digest stay out. */
export function fileEntriesOf(files: readonly PlannedFile[]): FileEntry[] {
  return files.map(({ content, ...f }) => {
    if (f.secret) return f;
    const shown = shownLines(content);
    return { ...f, sha256: sha256(content), ...(shown ? { shown } : {}) };
  });
}

const base64 = (text: string) => Buffer.from(text, "utf8").toString("base64");

/** A sub-script in its own subshell: its variables and `set` options stay its own; a failure still stops all. */
const subshell = (script: string) => `(\n${script}\n)`;

function checkEntry(f: FileEntry): void {
  if (!f.path.startsWith("/") || f.path.endsWith("/") || f.path.split("/").includes("..")) {
    throw new Error(`planned file path must be absolute: ${excerpt(f.path)}`);
  }
  if (!/^0?[0-7]{3}$/.test(f.mode)) throw new Error(`file mode must be octal like 0644: ${excerpt(f.mode)}`);
  if (f.sha256 !== undefined && !/^[0-9a-f]{64}$/.test(f.sha256)) {
    throw new Error(`${f.path}: not a sha256 digest`);
  }
  if (f.secret === (f.sha256 !== undefined))
    throw new Error(`${f.path}: a digest goes with a non-secret file`);
}

/** The proxy step's stdin: `<sha256> <base64>` per file, in the order of the plan (secret: it holds the token). */
export function fileBundle(files: readonly PlannedFile[]): string {
  return files.map((f) => `${sha256(f.content)} ${base64(f.content)}\n`).join("");
}

/**
 * Reads one `<sha256> <base64>` line per entry from stdin (the digest must be the script's, when it names one)
 * and writes the file when its content (by sha256), mode or (as root) owner differs: temp file in the same
 * directory, checked against the digest, chmod, chown, rename. Prints `written <path>` or `unchanged <path>`.
 */
export function writeFilesScript(entries: readonly FileEntry[]): string {
  entries.forEach(checkEntry);
  const lines = [
    "set -eu",
    `as_root=no; if [ "$(id -u)" = 0 ]; then as_root=yes; fi`,
    `tmp=`,
    `trap 'rm -f "$tmp"' EXIT`,
    `put() {`,
    `  dst=$1; mode=$2; owner=$3; group=$4; named=\${5:-}`,
    `  IFS=' ' read -r want b64 || { echo "mesh-vm: the files on stdin end before $dst" >&2; exit 1; }`,
    `  if [ -n "$named" ] && [ "$named" != "$want" ]; then`,
    `    echo "mesh-vm: $dst: the file on stdin is not the one this script names" >&2; exit 1`,
    `  fi`,
    `  if [ -f "$dst" ] && [ "$(sha256sum < "$dst" | cut -d ' ' -f 1)" = "$want" ] && [ "$(stat -c %a "$dst")" = "$mode" ] &&`,
    `    { [ "$as_root" = no ] || [ "$(stat -c %U:%G "$dst")" = "$owner:$group" ]; }; then`,
    `    echo "unchanged $dst"; return 0`,
    `  fi`,
    `  dir=$(dirname "$dst")`,
    `  mkdir -p "$dir"`,
    `  tmp=$(mktemp "$dir/.mesh-vm.XXXXXX")`,
    // printf is the shell's own: the content is never an argument of a process.
    `  printf '%s' "$b64" | base64 -d > "$tmp"`,
    `  if [ "$(sha256sum < "$tmp" | cut -d ' ' -f 1)" != "$want" ]; then`,
    `    echo "mesh-vm: $dst: the content on stdin does not match its digest" >&2; exit 1`,
    `  fi`,
    `  chmod "$mode" "$tmp"`,
    `  if [ "$as_root" = yes ]; then chown "$owner:$group" "$tmp"; fi`,
    `  mv -f "$tmp" "$dst"; tmp=`,
    `  echo "written $dst"`,
    `}`,
  ];
  for (const f of entries) {
    const mode = f.mode.replace(/^0(?=[0-7]{3}$)/, "");
    const words = [f.path, mode, f.owner, f.group, ...(f.sha256 ? [f.sha256] : [])];
    lines.push(`put ${words.map(shellQuote).join(" ")}`);
  }
  return lines.join("\n");
}

/** Removes the files, then their directories when empty (a prepared directory is removed by its own step). */
export function removeFilesScript(entries: readonly Pick<FileEntry, "path">[]): string {
  const lines = ["set -eu"];
  for (const f of entries) lines.push(`rm -f ${shellQuote(f.path)}`);
  for (const dir of fileDirectoriesOf(entries as PlannedFile[])) {
    lines.push(`rmdir ${shellQuote(dir)} 2>/dev/null || true`);
  }
  return lines.join("\n");
}

/** The `# <path> sha256=<digest>` lines: what a preview's diff of the proxy step names. */
export function fileDigestLines(entries: readonly FileEntry[]): string[] {
  return entries.flatMap((f) =>
    f.sha256
      ? [`# ${f.path} sha256=${f.sha256}`, ...(f.shown ?? []).map((l) => `#   ${l}`)]
      : [`# ${f.path} secret`],
  );
}

/**
 * The comment line a drift repair marker (driftCheck.ts, driftResource.ts) adds to a step's script, none before the
 * first repair: printable ASCII on one line, bounded (the marker quotes what a host printed).
 */
export function repairLines(marker: string | undefined): string[] {
  return marker ? [`# mesh-vm repair ${marker.replace(/[^\x20-\x7e]/g, "?").slice(0, 1000)}`] : [];
}

/**
 * The proxy step: files from the bundle on stdin, then `start`; delete: `stop`, then the files. `repair` (the drift
 * check's marker, driftCheck.ts) is a comment line: a new one re-runs the step after a refresh found drift.
 */
export function proxyStepScripts(
  plan: RuntimePlan,
  entries: readonly FileEntry[],
  repair?: string,
): StepScripts {
  const privilege = plan.runsAs === "root" ? "root" : "user";
  const header = [
    `# mesh-vm ${plan.runtime} proxy, config digest ${plan.configDigest}`,
    ...repairLines(repair),
    ...fileDigestLines(entries),
  ];
  return {
    create: wrapScript(
      [...header, "set -eu", subshell(writeFilesScript(entries)), subshell(plan.start)].join("\n"),
      privilege,
    ),
    delete: wrapScript(
      ["set -eu", subshell(plan.stop), subshell(removeFilesScript(entries))].join("\n"),
      privilege,
    ),
  };
}

/** What the host step does besides nothing: each part optional. */
export interface HostStepSpec {
  /** The runtime's preparation (when the host is prepared). */
  prepare?: RuntimePlan["prepare"];
  /** Install the public key read from stdin for `user`, marked with `keyOwner`. */
  key?: { user: string; keyOwner: string };
  /** The hosts block's owner and address (its lines travel on stdin, so a long list meets no argv limit). */
  hostsBlock?: Pick<PlannedHostsBlock, "owner" | "address">;
  /** The drift check's repair marker (driftCheck.ts): a new one re-runs the step. */
  repair?: string;
}

/** The host step, as root: prepare, key, hosts block; delete: hosts block, key, then the preparation's undo. */
export function hostStepScripts(spec: HostStepSpec): StepScripts {
  const create = [...repairLines(spec.repair), "set -eu"];
  if (spec.key) create.push(`IFS= read -r key_b64 || key_b64=`);
  if (spec.hostsBlock) create.push(`IFS= read -r hosts_b64 || hosts_b64=`);
  if (spec.prepare) create.push(subshell(spec.prepare.apply));
  if (spec.key) {
    create.push(`printf '%s' "$key_b64" | base64 -d | ${subshell(authorizedKeyScript(spec.key))}`);
  }
  if (spec.hostsBlock) {
    create.push(`printf '%s' "$hosts_b64" | base64 -d | ${subshell(applyHostsBlockScript(spec.hostsBlock))}`);
  }
  const remove = ["set -eu"];
  if (spec.hostsBlock) remove.push(subshell(removeHostsBlockScript({ owner: spec.hostsBlock.owner })));
  if (spec.key) remove.push(subshell(removeAuthorizedKeyScript(spec.key)));
  if (spec.prepare) remove.push(subshell(spec.prepare.undo));
  return { create: wrapScript(create.join("\n"), "root"), delete: wrapScript(remove.join("\n"), "root") };
}

/** The host step's stdin, in the order its script reads it: the public key, then the hosts block. */
export function hostStepStdin(
  publicKey: string | undefined,
  hostsBlock: PlannedHostsBlock | undefined,
): string {
  const lines: string[] = [];
  if (publicKey !== undefined) lines.push(base64(publicKey.trim()));
  if (hostsBlock !== undefined) lines.push(base64(renderHostsBlock(hostsBlock)));
  return lines.map((l) => `${l}\n`).join("");
}
