// The root scripts of the package runtime on the VM: install the istio-sidecar package only when that version
// is absent (deb or rpm, detected on the host), run Istio's unit, and undo exactly what was done — the package
// only when mesh-vm installed it, never one that was there before. POSIX sh; idempotent; nothing secret.
import { shellQuote } from "../../host/shell";
import { packagePaths, PROXY_USER } from "./layout";

/**
 * Where the package comes from: a URL the VM fetches, a file already on the VM, a file mesh-vm copied into the
 * login's home (`copied`: sidecarPackage.localFile, checked against its sha256), or the VM's repositories.
 */
export type PackageSource =
  | { kind: "url"; url: string; sha256?: string }
  | { kind: "file"; path: string }
  | { kind: "copied"; sha256: string }
  | { kind: "repository" };

export interface PackageScriptSettings {
  /** The package name (Istio's: istio-sidecar). */
  name: string;
  /** The version the package manager reports once installed (dpkg's Version, rpm's VERSION-RELEASE). */
  version: string;
  source: PackageSource;
}

/** mesh-vm's own record on the VM: whether the package was there before it, and the running config's digest. */
export const PACKAGE_STATE_DIR = "/var/lib/mesh-vm/istio-sidecar";

const UNIT = packagePaths.unit;

/**
 * Where the SSH delivery copies sidecarPackage.localFile: relative to the login's home (SFTP's start directory), a
 * dot file named after the package. The host step moves it into PACKAGE_STATE_DIR before it checks it.
 */
export function packageCopyPath(name: string): string {
  return `.mesh-vm-${name}.pkg`;
}

/** The copied package, kept (root's, 0600) for a repair of the host step: removed by undo with the state. */
const KEPT_COPY = `${PACKAGE_STATE_DIR}/package.pkg`;

/**
 * Shell lines setting `$copy` to the copied file in the login's home: sudo's invoking user's home, or root's own
 * when the step logged in as root.
 */
function copyPathLines(name: string): string[] {
  return [
    'if [ -n "${SUDO_USER:-}" ]; then home=$(getent passwd "$SUDO_USER" | cut -d: -f6); else home=${HOME:-/root}; fi',
    `copy="$home/"${shellQuote(packageCopyPath(name))}`,
  ];
}

/**
 * A copied package (sidecarPackage.localFile): a new copy moves out of the login's reach into the state directory
 * (root's, 0600) at every run, so none stays in the home; it is kept for a later repair of the host step.
 */
function stageCopyLines(name: string): string[] {
  return [
    ...copyPathLines(name),
    `if [ -f "$copy" ]; then install -m 0600 -o root -g root "$copy" ${shellQuote(KEPT_COPY)}; rm -f "$copy"; fi`,
  ];
}

/** The package's own directories that exist on a host before it (and that dpkg -P would take along). */
const PACKAGE_DIRS = ["/usr/local/bin", "/lib/systemd/system", "/var/lib"];

/** Shell function `installed`: the installed version of the package, or nothing (deb or rpm). */
function installedFunction(name: string): string {
  const q = shellQuote(name);
  return [
    "if command -v dpkg-query >/dev/null 2>&1; then kind=deb",
    "elif command -v rpm >/dev/null 2>&1; then kind=rpm",
    `else echo "mesh-vm: this host has neither dpkg nor rpm: the ${name} package needs one of them" >&2; exit 3; fi`,
    "installed() {",
    `  if [ "$kind" = deb ]; then dpkg-query -W -f='\${db:Status-Status} \${Version}\\n' ${q} 2>/dev/null | awk '$1 == "installed" { print $2 }'`,
    `  else rpm -q --qf '%{VERSION}-%{RELEASE}\\n' ${q} 2>/dev/null | grep -v 'is not installed' || true; fi`,
    "}",
  ].join("\n");
}

/** Fetches (url) or names (file) the package file into $pkg; for a repository, installs from it directly. */
function installCommands(settings: PackageScriptSettings): string[] {
  const { name, version, source } = settings;
  const install = [
    'if [ "$kind" = deb ]; then DEBIAN_FRONTEND=noninteractive dpkg --force-confold -i "$pkg" >"$tmp/install.log" 2>&1',
    'else rpm -U --oldpackage --replacepkgs "$pkg" >"$tmp/install.log" 2>&1; fi || { cat "$tmp/install.log" >&2; exit 4; }',
  ];
  switch (source.kind) {
    case "url":
      return [
        `pkg="$tmp/${name}.$kind"`,
        `curl -fsSL --retry 3 -o "$pkg" ${shellQuote(source.url)} || { echo "mesh-vm: cannot download ${name} from ${source.url.replace(/[^\w:/.@%+=,-]/g, "?")}" >&2; exit 4; }`,
        ...(source.sha256
          ? [
              `echo ${shellQuote(`${source.sha256}  `)}"$pkg" | sha256sum -c --status || { echo "mesh-vm: the downloaded ${name} package does not have sha256 ${source.sha256}" >&2; exit 4; }`,
            ]
          : []),
        ...install,
      ];
    case "file":
      return [`pkg=${shellQuote(source.path)}`, ...install];
    case "copied":
      // Checked as root, after the move: the content of the local file the plan was rendered from.
      return [
        `pkg=${shellQuote(KEPT_COPY)}`,
        `echo ${shellQuote(`${source.sha256}  `)}"$pkg" | sha256sum -c --status 2>/dev/null || { echo "mesh-vm: the ${name} package copied to this host is missing or does not have the sha256 of sidecarPackage.localFile (${source.sha256}): copy it again with pulumi up --replace on the VM's <name>-package-copy resource" >&2; exit 4; }`,
        ...install,
      ];
    case "repository":
      return [
        `if [ "$kind" = deb ]; then DEBIAN_FRONTEND=noninteractive apt-get install -y -q --allow-downgrades ${shellQuote(`${name}=${version}`)} >"$tmp/install.log" 2>&1`,
        `elif command -v dnf >/dev/null 2>&1; then dnf install -y ${shellQuote(`${name}-${version}`)} >"$tmp/install.log" 2>&1`,
        `else yum install -y ${shellQuote(`${name}-${version}`)} >"$tmp/install.log" 2>&1; fi || { cat "$tmp/install.log" >&2; exit 4; }`,
      ];
  }
}

/**
 * prepare.apply: records once whether the package was there before mesh-vm, installs the wanted version when
 * another (or none) is installed, and enables Istio's unit (the package does not) so a reboot starts it.
 */
export function packagePrepareScript(settings: PackageScriptSettings): string {
  const state = shellQuote(PACKAGE_STATE_DIR);
  return [
    "set -eu",
    installedFunction(settings.name),
    `want=${shellQuote(settings.version)}`,
    `install -d -m 0755 ${state}`,
    "have=$(installed)",
    // Once, before mesh-vm installs anything: destroy removes only a package it installed.
    `if [ ! -e ${state}/installed-by ]; then`,
    `  if [ -n "$have" ]; then echo preinstalled; else echo mesh-vm; fi >${state}/installed-by`,
    // dpkg -P removes the package's directories once empty, /usr/local/bin too: undo puts back those that were here.
    `  for d in ${PACKAGE_DIRS.join(" ")}; do [ -d "$d" ] && echo "$d"; done >${state}/dirs-before || true`,
    "fi",
    ...(settings.source.kind === "copied" ? stageCopyLines(settings.name) : []),
    'if [ "$have" != "$want" ]; then',
    "  tmp=$(mktemp -d)",
    "  trap 'rm -rf \"$tmp\"' EXIT",
    ...installCommands(settings).map((l) => `  ${l}`),
    "  now=$(installed)",
    `  [ "$now" = "$want" ] || { echo "mesh-vm: ${settings.name} $now is installed, not $want: the package's version is not the one in sidecarPackage.version" >&2; exit 4; }`,
    '  echo "installed ${want} (was: ${have:-none})"',
    "fi",
    `systemctl enable ${UNIT} >/dev/null 2>&1`,
  ].join("\n");
}

/**
 * prepare.undo: the package, its user and its directories go only when mesh-vm installed it; the unit is
 * disabled either way (stop already stopped it).
 */
export function packageUndoScript(settings: Pick<PackageScriptSettings, "name">): string {
  const state = shellQuote(PACKAGE_STATE_DIR);
  const name = shellQuote(settings.name);
  return [
    "set -eu",
    installedFunction(settings.name),
    `systemctl disable --now ${UNIT} >/dev/null 2>&1 || true`,
    `if [ "$(cat ${state}/installed-by 2>/dev/null)" = mesh-vm ] && [ -n "$(installed)" ]; then`,
    `  if [ "$kind" = deb ]; then DEBIAN_FRONTEND=noninteractive dpkg -P ${name} >/dev/null; else rpm -e ${name} >/dev/null; fi`,
    // The package's postinst made these; it has no postrm that removes them.
    `  userdel ${PROXY_USER} 2>/dev/null || true`,
    `  groupdel ${PROXY_USER} 2>/dev/null || true`,
    "  [ -L /etc/istio ] && rm -f /etc/istio",
    "  rm -rf /var/lib/istio /var/log/istio",
    "  rmdir /etc/certs 2>/dev/null || true",
    `  while read -r d; do install -d -m 0755 "$d"; done <${state}/dirs-before`,
    "fi",
    // A copy of sidecarPackage.localFile a failed step left in the login's home.
    ...copyPathLines(settings.name),
    'rm -f "$copy"',
    `rm -rf ${state}`,
    `rmdir ${shellQuote(PACKAGE_STATE_DIR.replace(/\/[^/]+$/, ""))} 2>/dev/null || true`,
  ].join("\n");
}

/** The cluster.env the running agent was started with (its rules are those to remove before the next start). */
const RUNNING_ENV = `${PACKAGE_STATE_DIR}/cluster.env.running`;

/**
 * Removes the rules the running (or last) agent's istio-iptables set, from the cluster.env it was started with:
 * istio-iptables cleans only the rules its current config would make, and the unit's own `istio-start.sh clean`
 * (ExecStopPost) reads the cluster.env already replaced — new ports, or capture off — and would leave the old
 * ones behind.
 */
const cleanPreviousRules = [
  `if [ -r ${shellQuote(RUNNING_ENV)} ]; then (cd / && ISTIO_CLUSTER_CONFIG=${shellQuote(RUNNING_ENV)} /usr/local/bin/istio-start.sh clean) >/dev/null 2>&1 || true; fi`,
].join("\n");

/**
 * Keeps the SSH session that starts the unit alive through Istio's capture (docs/package-runtime.md, "SSH and
 * Istio's capture"). While no netfilter rule needs connection tracking (a host without a firewall; an empty nat
 * table is not enough) the kernel tracks no connection. Istio's REDIRECT rules turn tracking on, and a live
 * connection is then picked up mid-stream from whichever packet comes first: when that is one the host sends
 * (sshd's output on this very session), it is taken for a new outbound connection, ISTIO_OUTPUT redirects it to
 * Envoy's 15001 and the session dies without an exit status. Port 22 in ISTIO_LOCAL_EXCLUDE_PORTS exempts only
 * connections tracked from their first packet, to port 22. So, before the unit starts, a rule that only counts
 * (`-m conntrack`, no target) turns tracking on, a packet of this session (a line on stderr) goes out while no
 * Istio rule exists, and the rule goes again: the session's entry stays in the table, untranslated, for its
 * whole life, and sessions opened once Istio's rules are in are tracked from their SYN.
 */
const TRACK_RULE = `INPUT -m conntrack --ctstate NEW,ESTABLISHED -m comment --comment ${shellQuote("mesh-vm: track connections before Istio's capture")}`;
export const TRACK_SESSION = [
  `for t in iptables ip6tables; do if command -v $t >/dev/null 2>&1; then $t -w -A ${TRACK_RULE} 2>/dev/null || true; fi; done`,
  'echo "mesh-vm: connections tracked before Istio\'s capture" >&2',
  "sleep 1",
  `for t in iptables ip6tables; do if command -v $t >/dev/null 2>&1; then while $t -w -D ${TRACK_RULE} 2>/dev/null; do :; done; fi; done`,
].join("\n");

/**
 * start: Istio's unit, restarted only when the config digest changed (a token renewal does not change it),
 * started when it does not run. Before either, the previous agent's rules go (cleanPreviousRules) and, with
 * capture on, this session is made safe from the rules the unit sets (TRACK_SESSION); after, the digest and the
 * cluster.env the agent now runs with are kept beside the installed-by record.
 */
export function packageStartScript(
  configDigest: string,
  readiness?: { url: string; timeoutSeconds: number },
  capture: "iptables" | "none" = "iptables",
): string {
  const state = shellQuote(PACKAGE_STATE_DIR);
  const mark = shellQuote(`${PACKAGE_STATE_DIR}/config-digest`);
  const beforeStart = capture === "iptables" ? [cleanPreviousRules, TRACK_SESSION] : [cleanPreviousRules];
  const indented = beforeStart.join("\n").replace(/^/gm, "  ");
  return [
    "set -eu",
    `digest=${shellQuote(configDigest)}`,
    `if ! systemctl is-active --quiet ${UNIT}; then`,
    indented,
    `  systemctl start ${UNIT}; echo started`,
    `elif [ "$(cat ${mark} 2>/dev/null)" != "$digest" ]; then`,
    `  systemctl stop ${UNIT}`,
    indented,
    `  systemctl start ${UNIT}; echo restarted`,
    "else echo unchanged; fi",
    `install -d -m 0755 ${state}`,
    `cp ${shellQuote(packagePaths.clusterEnv)} ${shellQuote(RUNNING_ENV)}`,
    `echo "$digest" >${mark}`,
    ...(readiness ? readinessWait(readiness) : []),
  ].join("\n");
}

/** Waits for the agent's readiness; on a timeout, fails with the unit's journal and the agent's last lines. */
function readinessWait(readiness: { url: string; timeoutSeconds: number }): string[] {
  return [
    `deadline=$(( $(date +%s) + ${Math.max(1, Math.floor(readiness.timeoutSeconds))} ))`,
    `until [ "$(curl -s -o /dev/null -w '%{http_code}' ${shellQuote(readiness.url)} 2>/dev/null)" = 200 ]; do`,
    '  if [ "$(date +%s)" -ge "$deadline" ]; then',
    `    echo "mesh-vm: ${UNIT} not ready at ${readiness.url.replace(/[^\w:/.-]/g, "?")} after ${readiness.timeoutSeconds}s; its journal and the agent's last lines:" >&2`,
    `    journalctl -u ${UNIT} -n 20 --no-pager -o cat 2>&1 | sed 's/^/| /' >&2 || true`,
    `    tail -n 20 ${shellQuote(packagePaths.log)} 2>&1 | sed 's/^/| /' >&2 || true`,
    "    exit 1",
    "  fi",
    "  sleep 1",
    "done",
  ];
}

/**
 * stop: the unit stops (its ExecStopPost, `istio-start.sh clean`, removes Istio's iptables chains; so does
 * cleanPreviousRules, for the config the agent ran with) and is disabled; the certificate and key the agent was
 * issued into /etc/certs go with it.
 */
export function packageStopScript(): string {
  return [
    "set -eu",
    `systemctl disable --now ${UNIT} >/dev/null 2>&1 || true`,
    cleanPreviousRules,
    `rm -f /etc/certs/cert-chain.pem /etc/certs/key.pem ${shellQuote(`${PACKAGE_STATE_DIR}/config-digest`)} ${shellQuote(RUNNING_ENV)}`,
  ].join("\n");
}
