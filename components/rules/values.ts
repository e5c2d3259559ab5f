// Rules for values that reach a shell script, a command line, a file on the VM or a Kubernetes object: sizes,
// allow-lists and the way a message may quote a value. Every check returns a problem (a sentence that quotes
// at most a short, escaped excerpt of the value) or undefined when the value is acceptable; callers add the
// input's name and the fix.

/** Size limits of the inputs, one home each. */
export const inputLimits = {
  /** How many characters of a value a message quotes. */
  excerptChars: 40,
  /** A message's problem text (values excerpted before that; this is the last guard). */
  problemChars: 400,
  /** A single-line setting (addresses, names, ids). */
  shortText: 253,
  /** A longer single-line setting (hub + image reference, readiness path, network, locality). */
  longText: 2048,
  /** Kubernetes: the total size of an object's annotations (keys and values). */
  annotationsBytes: 256 * 1024,
  /** Kubernetes: an object's total size is capped by etcd at 1.5 MiB; ours stay far below. */
  objectBytes: 1024 * 1024,
  /** A list of host names, egress hosts, ServiceEntry hosts or selector keys. */
  listItems: 256,
  /** The /etc/hosts block: names pointed at the egress listener. */
  egressHostnames: 1000,
  /** Nesting depth of free-form objects (proxyConfig). */
  objectDepth: 32,
  /** A YAML manifest or free-form object, serialized. */
  documentBytes: 1024 * 1024,
  /** Docker limits nothing, but a name is also an annotation value and a label. */
  containerName: 128,
  /** shadow-utils' default LOGIN_NAME_MAX / GROUP_NAME_MAX_LENGTH. */
  posixName: 32,
  /** A path on the VM. */
  path: 256,
} as const;

/**
 * A short, escaped excerpt of a value for a message: strings are quoted with every character outside
 * printable ASCII escaped, and cut after `inputLimits.excerptChars` characters; other values by their kind.
 */
export function excerpt(v: unknown, max: number = inputLimits.excerptChars): string {
  if (typeof v === "string") {
    const chars = Array.from(v);
    const shown = chars.slice(0, max).join("");
    const escaped = shown.replace(/[^\x20-\x7e]|["\\]/gu, (c) => {
      if (c === '"' || c === "\\") return `\\${c}`;
      const cp = c.codePointAt(0)!;
      return cp <= 0xffff ? `\\u${cp.toString(16).padStart(4, "0")}` : `\\u{${cp.toString(16)}}`;
    });
    return chars.length > max ? `"${escaped}"… (${chars.length} characters)` : `"${escaped}"`;
  }
  if (typeof v === "number") return Number.isFinite(v) ? String(v) : `the number ${String(v)}`;
  if (typeof v === "boolean" || typeof v === "bigint") return String(v);
  if (v === null) return "null";
  if (v === undefined) return "nothing";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "function") return "a function";
  return "an object";
}

/** Escapes line breaks and control characters and caps the length: the last guard on a message's text. */
export function safeMessage(text: string, max: number = inputLimits.problemChars): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) =>
    c === "\n" ? "\\n" : `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
  return clean.length > max ? `${clean.slice(0, max)}… (message cut)` : clean;
}

/** The own property `key` of `o` (never one inherited from Object.prototype), or undefined. */
export function ownValue<V>(o: Record<string, V> | undefined | null, key: string): V | undefined {
  if (o === undefined || o === null || typeof o !== "object") return undefined;
  return Object.hasOwn(o, key) ? o[key] : undefined;
}

/** Sets an own, enumerable property, also for keys such as `__proto__` (which `o[k] = v` would not create). */
export function setOwn<V>(o: Record<string, V>, key: string, value: V): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

/** A string of printable ASCII only: the compare-safe form for keywords (no `ſ` upper-casing to `S`). */
export function isPrintableAscii(s: string): boolean {
  return /^[\x20-\x7e]*$/.test(s);
}

/** Upper-cases ASCII letters only (`"httpſ"` stays `"HTTPſ"`, so it never equals `"HTTPS"`). */
export function asciiUpper(s: string): string {
  return s.replace(/[a-z]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 32));
}

/** A single-line string of at most `max` characters (no control characters, no line breaks). */
export function textProblem(v: unknown, max: number = inputLimits.shortText): string | undefined {
  if (typeof v !== "string") return `${excerpt(v)} is not a string`;
  if (v.length > max) return `${excerpt(v)} is longer than ${max} characters`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\u2028\u2029]/.test(v))
    return `${excerpt(v)} contains a line break or control character`;
  return undefined;
}

/** An integer in [min, max], whatever the caller's language passed (strings, fractions, 1e21 are refused). */
export function integerProblem(v: unknown, min: number, max: number): string | undefined {
  if (typeof v !== "number") return `${excerpt(v)} is not a number`;
  if (!Number.isSafeInteger(v) || v < min || v > max)
    return `${excerpt(v)} is not a whole number from ${min} to ${max}`;
  return undefined;
}

/**
 * The decimal text of an integer in [min, max], for a script or a command line: the renderers format numbers
 * with it and never paste a value in. Throws (naming `what`) for anything else.
 */
export function formatInteger(v: unknown, min: number, max: number, what: string): string {
  const p = integerProblem(v, min, max);
  if (p !== undefined) throw new Error(`${what}: ${p}`);
  return String(v);
}

// The OCI / docker reference grammar (distribution/reference): [domain/]path[:tag][@digest].
const domainComponent = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const domainRe = `(?:${domainComponent}(?:\\.${domainComponent})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?`;
const pathComponent = "[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*";
const nameRe = `(?:${domainRe}/)?${pathComponent}(?:/${pathComponent})*`;
const tagRe = "[\\w][\\w.-]{0,127}";
const digestRe = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}";
const referenceRe = new RegExp(`^(${nameRe})(?::${tagRe})?(?:@${digestRe})?$`);
const repositoryRe = new RegExp(`^${nameRe}$`);
const tagOnlyRe = new RegExp(`^${tagRe}$`);

/** An image reference (`docker.io/istio/proxyv2:1.30.3`, `…@sha256:<hex>`): never an option to `docker run`. */
export function imageReferenceProblem(v: unknown): string | undefined {
  const t = textProblem(v, 512);
  if (t !== undefined) return t;
  const s = v as string;
  const m = referenceRe.exec(s);
  if (m === null) return `${excerpt(s)} is not an image reference ([registry/]repository[:tag][@digest])`;
  if (m[1]!.length > 255) return `${excerpt(s)}: the repository name is longer than 255 characters`;
  return undefined;
}

/** A registry/repository prefix without a tag (`docker.io/tetrate`). */
export function imageRepositoryProblem(v: unknown): string | undefined {
  const t = textProblem(v, 255);
  if (t !== undefined) return t;
  const s = (v as string).replace(/\/+$/, "");
  if (!repositoryRe.test(s)) return `${excerpt(v)} is not an image repository prefix ([registry/]path)`;
  return undefined;
}

/** An image tag: a word character, then at most 127 of word characters, '.' and '-'. */
export function imageTagProblem(v: unknown): string | undefined {
  const t = textProblem(v, 128);
  if (t !== undefined) return t;
  if (!tagOnlyRe.test(v as string)) return `${excerpt(v)} is not an image tag`;
  return undefined;
}

/**
 * A user or group name by shadow-utils' default rules (useradd/groupadd without --badname): a lower-case
 * letter or '_', then lower-case letters, digits, '_' and '-', optionally ending in '$'; at most 32 characters.
 */
export function posixNameProblem(v: unknown): string | undefined {
  const t = textProblem(v, inputLimits.posixName);
  if (t !== undefined) return t;
  if (!/^[a-z_][a-z0-9_-]*\$?$/.test(v as string))
    return `${excerpt(v)} is not a user or group name (a lower-case letter or '_', then lower-case letters, digits, '_' and '-')`;
  return undefined;
}

/** A docker container name: a letter or digit, then letters, digits, '_', '.' and '-' (at least 2 in all). */
export function containerNameProblem(v: unknown): string | undefined {
  const t = textProblem(v, inputLimits.containerName);
  if (t !== undefined) return t;
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(v as string))
    return `${excerpt(v)} is not a container name (a letter or digit, then letters, digits, '_', '.' and '-')`;
  return undefined;
}

/** An HTTP path for the readiness probe: `/` then URL path characters, optionally `?query`; no `#`. */
export function urlPathProblem(v: unknown): string | undefined {
  const t = textProblem(v, inputLimits.longText);
  if (t !== undefined) return t;
  const s = v as string;
  if (!s.startsWith("/")) return `${excerpt(s)} does not start with "/"`;
  if (s.startsWith("//")) return `${excerpt(s)} starts with "//", which names a host, not a path`;
  // RFC 3986 allows more (sub-delims such as ' $ ( ) ; ,); a health endpoint needs none of them.
  if (!/^\/[A-Za-z0-9._~=&+:@%/-]*(\?[A-Za-z0-9._~=&+:@%/?-]*)?$/.test(s))
    return `${excerpt(s)} contains characters that are not allowed in a URL path`;
  if (/%(?![0-9A-Fa-f]{2})/.test(s)) return `${excerpt(s)} has a '%' that is not a %XX escape`;
  return undefined;
}

/** An absolute path in canonical form: '/'-separated segments of letters, digits, '.', '_', '-'. */
export function absolutePathProblem(v: unknown): string | undefined {
  const t = textProblem(v, inputLimits.path);
  if (t !== undefined) return t;
  const s = (v as string).replace(/(.)\/$/, "$1");
  if (!s.startsWith("/")) return `${excerpt(v)} is not an absolute path`;
  if (!/^\/[A-Za-z0-9._/-]*$/.test(s))
    return `${excerpt(v)} is not an absolute path of letters, digits, '.', '_', '-' and '/'`;
  const segments = s.split("/").slice(1);
  if (s !== "/" && segments.some((p) => p === "" || p === "." || p === ".."))
    return `${excerpt(v)} is not in canonical form (no empty, "." or ".." parts)`;
  if (segments.some((p) => p.startsWith("-"))) return `${excerpt(v)} has a part starting with '-'`;
  return undefined;
}

// Directories of the operating system a proxy directory must never be (root makes it the proxy user's, mode
// 775, and destroy removes `<dir>/certs`). Every top-level directory is refused as well, as is anything below
// the kernel's and the device trees.
const systemDirectories = new Set(
  [
    "/etc/ssl /etc/ssl/certs /etc/ssl/private /etc/ssh /etc/pki /etc/sudoers.d /etc/pam.d /etc/security",
    "/etc/systemd /etc/systemd/system /etc/cron.d /etc/cron.daily /etc/cron.hourly /etc/cron.weekly",
    "/etc/cron.monthly /etc/default /etc/docker /etc/containers /etc/init.d /etc/profile.d /etc/apt",
    "/etc/yum.repos.d /etc/ld.so.conf.d /etc/modprobe.d /etc/sysctl.d /etc/network /etc/NetworkManager",
    "/etc/kubernetes /etc/cni /etc/alternatives /etc/skel /etc/logrotate.d /etc/rsyslog.d /etc/udev",
    "/etc/polkit-1 /etc/dbus-1 /etc/selinux /etc/apparmor.d /etc/cloud /etc/X11 /etc/environment.d",
    "/etc/ca-certificates /etc/opt /etc/sysconfig /etc/rc.d /etc/xdg",
    "/usr/bin /usr/sbin /usr/lib /usr/lib32 /usr/lib64 /usr/libx32 /usr/libexec /usr/include /usr/share",
    "/usr/src /usr/games /usr/local /usr/local/bin /usr/local/sbin /usr/local/lib /usr/local/share",
    "/usr/local/etc /usr/local/include /usr/local/src /usr/local/libexec",
    "/var/lib /var/log /var/run /var/tmp /var/spool /var/cache /var/mail /var/backups /var/opt /var/local",
    "/var/www /var/lib/docker /var/lib/containers /var/lib/kubelet /var/lib/dpkg /var/lib/apt /var/lib/rpm",
    "/var/lib/systemd /var/spool/cron /run/lock /run/user /run/docker /run/systemd /run/sshd /root/.ssh",
  ]
    .join(" ")
    .split(" "),
);
const systemTrees = ["/proc", "/sys", "/dev", "/boot"];

/**
 * A directory the proxy may own: absolute, canonical, below a top-level directory, and not one of the
 * operating system's (`/etc`, `/etc/ssl`, `/usr/local/bin`, `/tmp`, ...) or inside the kernel's trees.
 */
export function dedicatedDirectoryProblem(v: unknown): string | undefined {
  const p = absolutePathProblem(v);
  if (p !== undefined) return p;
  const dir = (v as string).replace(/(.)\/$/, "$1");
  if (dir === "/" || dir.split("/").length === 2)
    return `${excerpt(v)} is a top-level directory of the system, not a dedicated one`;
  if (systemDirectories.has(dir)) return `${excerpt(v)} is a system directory`;
  if (systemTrees.some((t) => dir.startsWith(`${t}/`)))
    return `${excerpt(v)} is inside ${dir.split("/", 2).join("/")}`;
  if (dir.split("/").includes(".ssh")) return `${excerpt(v)} is inside an .ssh directory`;
  return undefined;
}

/** Directories that Linux distributions empty (tmpfs or tmpfiles.d) at every boot. */
const clearedAtBootTrees = ["/tmp", "/run", "/var/run", "/dev/shm"];

/**
 * Why a proxy config directory does not survive a reboot (tctl's `/tmp/istio-proxy`), or undefined. The proxy
 * then cannot start again after a reboot, and nothing in a no-op `up` notices: worth a warning, not a refusal
 * (it is tctl's default, and a VM may never reboot).
 */
export function clearedAtBootProblem(dir: string): string | undefined {
  const tree = clearedAtBootTrees.find((t) => dir === t || dir.startsWith(`${t}/`));
  if (tree === undefined) return undefined;
  return (
    `proxyConfigDir ${excerpt(dir)} is inside ${tree}, which is emptied at every boot: after a reboot the ` +
    "token, root certificate, sidecar.env and issued certificates are gone, the proxy does not start again, and " +
    "a no-op `up` does not notice (it contacts no host). Use a persistent directory such as /etc/istio-proxy " +
    "(the default without tctlDefaults)"
  );
}

/** The nesting depth of a plain value (1 for a scalar); stops counting past `limit`, without recursion. */
export function depthOf(v: unknown, limit: number = inputLimits.objectDepth): number {
  let level: unknown[] = [v];
  let depth = 0;
  while (level.length > 0 && depth <= limit) {
    depth++;
    const next: unknown[] = [];
    for (const x of level) {
      if (typeof x !== "object" || x === null) continue;
      for (const child of Object.values(x)) next.push(child);
    }
    level = next;
  }
  return depth;
}

/** The size in bytes of a string (UTF-8). */
export function byteLength(s: string): number {
  return Buffer.byteLength(s, "utf8");
}
