// The `sidecarPackage` settings block of the package runtime (runtime "package"): which istio-sidecar package,
// from where, and how its proxy captures traffic. Plain values; checked at preview by sidecarPackageIssues.
import { accessSync, constants, statSync } from "node:fs";
import { issue, type ValidationIssue } from "../../rules/issues";
import { excerpt } from "../../rules/values";

// The block's type lives with the other input types (host/proxySettings.ts), below the runtimes.
export type { SidecarPackageSettings } from "../../host/proxySettings";

export const sidecarPackageDefaults = {
  name: "istio-sidecar",
  capture: "iptables",
  captureDns: true,
} as const;

/** Why `localFile` cannot be copied (read now, at preview, on the machine that runs Pulumi), or undefined. */
function localFileProblem(path: unknown): string | undefined {
  // eslint-disable-next-line no-control-regex
  if (typeof path !== "string" || path === "" || /[\0-\x1f]/.test(path))
    return `${excerpt(path)} is not a path`;
  try {
    if (!statSync(path).isFile()) return `${excerpt(path)} is not a file`;
    accessSync(path, constants.R_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return `${excerpt(path)} cannot be read here (${code === "ENOENT" ? "no such file" : (code ?? "error")})`;
  }
  return undefined;
}

/**
 * The package runtime's steps run as root, logged in as `sshUser` with the login's own key or agent: Istio's
 * package makes its own istio-proxy account, so a key mesh-vm would generate (without privateKey or
 * agentSocketPath) would be installed for istio-proxy, which no step logs in as. Known values only: a runtime
 * still an Output is checked where it is used.
 */
export function packageLoginIssues(
  runtime: unknown,
  ownCredentials: boolean,
  field: { privateKey: string; agentSocketPath: string },
): ValidationIssue[] {
  if (runtime !== "package" || ownCredentials) return [];
  return [
    issue(
      field.privateKey,
      'is required with runtime "package" (its steps run as root, logged in as sshUser)',
      `set ${field.privateKey} (or ${field.agentSocketPath}) for sshUser, a login with sudo -n (or root)`,
    ),
  ];
}

/** Issues of a `sidecarPackage` block (known values only): version, exactly one source, capture. */
export function sidecarPackageIssues(settings: unknown, field: (path: string) => string): ValidationIssue[] {
  if (settings === null || typeof settings !== "object" || Array.isArray(settings)) {
    return [issue(field(""), "is not a map", "give { version, and one of url, file, repository }")];
  }
  const s = settings as Record<string, unknown>;
  const out: ValidationIssue[] = [];
  if (typeof s.version !== "string" || !/^[0-9A-Za-z.+~:_-]{1,128}$/.test(s.version)) {
    out.push(
      issue(field("version"), `${excerpt(s.version)} is not a package version`, 'set it, e.g. "1.31.2"'),
    );
  }
  const sources = ["url", "file", "localFile", "repository"].filter(
    (k) => s[k] !== undefined && s[k] !== false,
  );
  if (sources.length !== 1) {
    out.push(
      issue(
        field(""),
        sources.length === 0 ? "names no package source" : `names ${sources.length} package sources`,
        "set exactly one of url (the VM fetches it), file (already on the VM), localFile (copied to the VM over SSH), repository: true",
      ),
    );
  }
  if (s.url !== undefined && (typeof s.url !== "string" || !/^https?:\/\/[^\s'"]+$/.test(s.url))) {
    out.push(
      issue(field("url"), `${excerpt(s.url)} is not an http(s) URL`, "give the package's download URL"),
    );
  }
  if (s.sha256 !== undefined && (typeof s.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(s.sha256))) {
    out.push(issue(field("sha256"), "is not 64 lower-case hex digits", "give the file's sha256sum"));
  }
  if (s.file !== undefined && (typeof s.file !== "string" || !/^\/[^\s'"]*$/.test(s.file))) {
    out.push(
      issue(field("file"), `${excerpt(s.file)} is not an absolute path`, "give the package's path on the VM"),
    );
  }
  if (s.localFile !== undefined) {
    const problem = localFileProblem(s.localFile);
    if (problem !== undefined)
      out.push(
        issue(
          field("localFile"),
          problem,
          "give the path of the package file (.deb or .rpm) on the machine that runs Pulumi, readable by it",
        ),
      );
  }
  if (s.name !== undefined && (typeof s.name !== "string" || !/^[a-z0-9][a-z0-9+.-]*$/.test(s.name))) {
    out.push(
      issue(field("name"), `${excerpt(s.name)} is not a package name`, 'leave it unset for "istio-sidecar"'),
    );
  }
  if (s.repository !== undefined && typeof s.repository !== "boolean") {
    out.push(
      issue(field("repository"), `${excerpt(s.repository)} is not true or false`, "set repository: true"),
    );
  }
  if (s.captureDns !== undefined && typeof s.captureDns !== "boolean") {
    out.push(
      issue(field("captureDns"), `${excerpt(s.captureDns)} is not true or false`, "set true or false"),
    );
  }
  if (
    s.clusterId !== undefined &&
    (typeof s.clusterId !== "string" || !/^[\w.-]{1,253}$/.test(s.clusterId))
  ) {
    out.push(
      issue(
        field("clusterId"),
        `${excerpt(s.clusterId)} is not a cluster id`,
        'e.g. "Kubernetes", or leave it unset',
      ),
    );
  }
  if (s.capture !== undefined && s.capture !== "iptables" && s.capture !== "none") {
    out.push(
      issue(field("capture"), `${excerpt(s.capture)} is not a capture mode`, 'use "iptables" or "none"'),
    );
  }
  return out;
}

/** The boot delivery has no SSH session to copy `localFile` over: refused at preview, naming the other sources. */
export function bootPackageSourceIssues(
  settings: unknown,
  field: (path: string) => string,
): ValidationIssue[] {
  const s = settings as { localFile?: unknown } | undefined;
  if (s === null || typeof s !== "object" || s.localFile === undefined) return [];
  return [
    issue(
      field("localFile"),
      "is copied to the VM over SSH, and the boot delivery opens no SSH session",
      "give url (the VM fetches it) or file (already in the VM's image), or use the host delivery",
    ),
  ];
}
