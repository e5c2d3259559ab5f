// Shell helpers for the scripts run on the VM. The scripts are POSIX sh (the remote login shell may be
// dash or busybox) and are always wrapped in `sh -c`, so the user's login shell does not matter.

/** Quotes one word for a POSIX shell: single quotes, with embedded single quotes spliced in. */
export function shellQuote(value: string): string {
  if (value !== "" && /^[A-Za-z0-9_@%+=:,./-]+$/.test(value)) {
    return value;
  }
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Joins words into one command line, each quoted as needed. */
export function shellJoin(words: readonly string[]): string {
  return words.map(shellQuote).join(" ");
}

/** How a host script gets root: not at all, or through `sudo -n` when the SSH user is not root. */
export type Privilege = "user" | "root";

/**
 * Wraps a script body into the command line `remote.Command` runs: `sh -c '<body>'`, prefixed with
 * `sudo -n` when root is needed and the SSH user is not root (`-n`: fail instead of prompting).
 * stdin flows through to the body.
 */
export function wrapScript(body: string, privilege: Privilege = "user"): string {
  const sh = `sh -c ${shellQuote(body)}`;
  if (privilege === "user") {
    return sh;
  }
  return `as_root=; [ "$(id -u)" = 0 ] || as_root="sudo -n"; $as_root ${sh}`;
}
