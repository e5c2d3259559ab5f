// Scripts that put one file into the proxy's config directory and take it out again. The content always
// arrives on stdin, so it never appears on a command line, in the process list or in a command's error text.
import { posix } from "node:path";
import { excerpt } from "../rules/values";
import { shellQuote } from "./shell";

export interface RemoteFile {
  /** Absolute path on the host. */
  path: string;
  /** Octal mode, e.g. "0644". */
  mode: string;
}

function checkFile(file: RemoteFile): void {
  if (!posix.isAbsolute(file.path) || file.path.endsWith("/")) {
    throw new Error(`remote file path must be absolute: ${excerpt(file.path)}`);
  }
  if (!/^0?[0-7]{3}$/.test(file.mode)) {
    throw new Error(`file mode must be octal like 0644: ${excerpt(file.mode)}`);
  }
}

/**
 * Writes stdin to `path` atomically (temp file in the same directory, chmod, rename) and only when the content
 * or mode differs; prints `written <sha256>` or `unchanged <sha256>`. Creates the directory if missing.
 */
export function writeFileScript(file: RemoteFile): string {
  checkFile(file);
  const mode = file.mode.replace(/^0(?=[0-7]{3}$)/, "");
  return [
    "set -eu",
    `dst=${shellQuote(file.path)}`,
    `dir=$(dirname "$dst")`,
    `mkdir -p "$dir"`,
    `tmp=$(mktemp "$dir/.mesh-vm.XXXXXX")`,
    `trap 'rm -f "$tmp"' EXIT`,
    `cat > "$tmp"`,
    `if [ -f "$dst" ] && cmp -s "$tmp" "$dst" && [ "$(stat -c %a "$dst")" = ${mode} ]; then`,
    "  state=unchanged",
    "else",
    `  chmod ${mode} "$tmp"`,
    `  mv -f "$tmp" "$dst"`,
    "  state=written",
    "fi",
    `printf '%s %s\\n' "$state" "$(sha256sum < "$dst" | cut -d ' ' -f 1)"`,
  ].join("\n");
}

/** Removes the file, then its directory if that is now empty (a prepared directory is removed by its owner step). */
export function removeFileScript(file: RemoteFile): string {
  checkFile(file);
  return [
    "set -eu",
    `dst=${shellQuote(file.path)}`,
    `rm -f "$dst"`,
    `rmdir "$(dirname "$dst")" 2>/dev/null || true`,
  ].join("\n");
}
