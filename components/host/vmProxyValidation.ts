// VmProxy's rules on the inputs known when it is constructed: pinned host keys, a way to log in, a usable token
// lifetime, ... Each check takes the names of the fields it reads, so MeshVm's host validation reuses them with
// its own input names (validation/meshVmHostArgs.ts). Values that are still Outputs are checked where they are used.
import * as pulumi from "@pulumi/pulumi";
import { isHostname, isIpAddress } from "../rules/addresses";
import { FieldName, fieldNames, issue, ValidationIssue } from "../rules/issues";
import {
  byteLength,
  containerNameProblem,
  dedicatedDirectoryProblem,
  depthOf,
  excerpt,
  imageReferenceProblem,
  imageRepositoryProblem,
  imageTagProblem,
  inputLimits,
  integerProblem,
  posixNameProblem,
  textProblem,
  urlPathProblem,
} from "../rules/values";
import { numberBounds, readinessDefaults, tokenDefaults } from "./defaults";
import { runtimeIssues } from "../runtime/registry";
import { packageLoginIssues } from "../runtime/package/settings";
import { gatewayAddressProblem } from "./proxyContainer";
import { providedIdentityProblem, type ProvidedIdentityArgs } from "./providedCertificate";
import type { BastionArgs } from "./sshConnection";
import { caRootIssues } from "./meshRoots";
import type { BootstrapTokenArgs, HostPreparationArgs, VmProxyArgs } from "./vmProxyArgs";

const authorizedKeyPattern = /^(ssh-|ecdsa-|sk-)\S+ \S+/;

/** True when `value` is a pulumi.Input that is not known yet (checked later, where it is used). */
function pending(value: unknown): boolean {
  return pulumi.Output.isInstance(value) || value instanceof Promise;
}

/** Pushes an issue when `value` is known and `problem` finds one in it. */
function checkKnown(
  out: ValidationIssue[],
  field: string,
  value: unknown,
  problem: (v: unknown) => string | undefined,
  fix: string,
): void {
  if (value === undefined || pending(value)) return;
  const p = problem(value);
  if (p !== undefined) out.push(issue(field, p, fix));
}

/** One rule over one field: its issue, if the value is known and breaks it. */
function knownIssues(
  field: string,
  value: unknown,
  problem: (v: unknown) => string | undefined,
  fix: string,
): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  checkKnown(out, field, value, problem, fix);
  return out;
}

/** An IP address or a DNS name, on one line. */
export function hostProblem(v: unknown): string | undefined {
  const t = textProblem(v);
  if (t !== undefined) return t;
  const s = v as string;
  return isIpAddress(s) || isHostname(s)
    ? undefined
    : `${excerpt(s)} is neither an IP address nor a host name`;
}

/** `host:port` (or `[ipv6]:port`) with a port in 1-65535. */
export function hostPortProblem(v: unknown): string | undefined {
  const t = textProblem(v);
  if (t !== undefined) return t;
  const s = v as string;
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(s);
  if (m === null) return `${excerpt(s)} is not host:port`;
  const host = m[1] ?? m[2]!;
  if (m[1] !== undefined ? !isIpAddress(host) : hostProblem(host) !== undefined)
    return `${excerpt(s)} does not start with an IP address or a host name`;
  return integerProblem(Number(m[3]), 1, 65535) === undefined
    ? undefined
    : `${excerpt(s)} has a port outside 1-65535`;
}
/** The host keys: pinned (and in authorized_keys format) unless `insecureIgnoreHostKey`. */
export function hostKeyIssues(
  ssh: { hostKey?: pulumi.Input<string>; insecureIgnoreHostKey?: boolean; bastion?: BastionArgs },
  field: { hostKey: string; bastionHostKey: string; insecureIgnoreHostKey: string },
): ValidationIssue[] {
  if (ssh.insecureIgnoreHostKey === true) return [];
  const out: ValidationIssue[] = [];
  if (ssh.hostKey === undefined) {
    out.push(
      issue(
        field.hostKey,
        "the VM's SSH host key is not pinned",
        "hostKey is required: set it to the VM's public host key (the content of /etc/ssh/ssh_host_ed25519_key.pub, " +
          "or `ssh-keyscan -t ed25519 HOST` checked out of band), or set insecureIgnoreHostKey: true to skip the check",
      ),
    );
  } else if (
    typeof ssh.hostKey === "string" &&
    (textProblem(ssh.hostKey.trim(), 16384) !== undefined || !authorizedKeyPattern.test(ssh.hostKey.trim()))
  ) {
    out.push(
      issue(
        field.hostKey,
        "not an authorized_keys-format public key",
        'use "<type> <base64>", e.g. "ssh-ed25519 AAAAC3Nza..." (no host name prefix as in known_hosts)',
      ),
    );
  }
  if (ssh.bastion !== undefined && ssh.bastion.hostKey === undefined) {
    out.push(
      issue(
        field.bastionHostKey,
        "the bastion's SSH host key is not pinned",
        `set it to the bastion's public host key, or set ${field.insecureIgnoreHostKey}: true`,
      ),
    );
  }
  return out;
}

/** A login for the proxy user: its own key or agent, or `prepare` (which generates and installs a key). */
export function loginIssues(
  ownCredentials: boolean,
  prepare: HostPreparationArgs | undefined,
  field: { login: string; prepareAdmin: string },
  words: { privateKey: string; agentSocketPath: string; user: string },
): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  if (!ownCredentials && prepare === undefined) {
    out.push(
      issue(
        field.login,
        "no way to log in as the proxy user",
        `set ${words.privateKey} or ${words.agentSocketPath} for ${words.user}, or set prepare.admin so that a ` +
          "key is generated and installed for it",
      ),
    );
  }
  if (prepare !== undefined) {
    const admin = prepare.admin;
    if (admin === undefined || (admin.privateKey === undefined && admin.agentSocketPath === undefined)) {
      out.push(
        issue(
          field.prepareAdmin,
          "host preparation needs a privileged login",
          "set prepare.admin.privateKey (or agentSocketPath), and prepare.admin.user unless it is root",
        ),
      );
    }
  }
  return out;
}

/**
 * The kubeconfig the token is minted with: present, a string, at most a manifest's size. It is a secret, so a
 * message never quotes it, not even an excerpt.
 */
export function kubeconfigIssues(kubeconfig: unknown, field: string): ValidationIssue[] {
  if (kubeconfig === undefined || kubeconfig === "")
    return [
      issue(
        field,
        "the bootstrap token cannot be minted without cluster credentials",
        "pass the kubeconfig (contents) the token is requested with; it is kept secret",
      ),
    ];
  if (pending(kubeconfig)) return [];
  if (typeof kubeconfig !== "string")
    return [
      issue(field, "is not a string", "pass the kubeconfig's contents (YAML text), not a path or an object"),
    ];
  const limit = inputLimits.documentBytes;
  if (byteLength(kubeconfig) > limit)
    return [
      issue(
        field,
        `is larger than ${limit} bytes`,
        "pass a kubeconfig holding only the cluster, user and context the token is requested with",
      ),
    ];
  return [];
}

/** Audiences and the rotation trigger, which every delivery's token takes. */
export function tokenRequestIssues(
  token: { rotation?: unknown; audiences?: unknown } | undefined,
  field: FieldName,
): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  checkKnown(
    out,
    field("rotation"),
    token?.rotation,
    (v) => textProblem(v),
    'use a short single-line value, e.g. the date of the rotation ("2026-11-27")',
  );
  const audiences: unknown = token?.audiences;
  if (audiences !== undefined && !pending(audiences)) {
    if (!Array.isArray(audiences) || audiences.length === 0 || audiences.length > 16) {
      out.push(issue(field("audiences"), "is not a list of 1 to 16 audiences", 'use e.g. ["istio-ca"]'));
    } else {
      audiences.forEach((a: unknown, i) =>
        checkKnown(out, field(`audiences[${i}]`), a, (v) => textProblem(v), 'use e.g. "istio-ca"'),
      );
    }
  }
  return out;
}

/** Token lifetime (the API server's minimum) and the re-mint margin (below the lifetime). */
export function tokenIssues(token: BootstrapTokenArgs | undefined, field: FieldName): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  const minimum = tokenDefaults.minimumExpirationSeconds;
  const lifetime = token?.expirationSeconds;
  const maximum = numberBounds.maxTokenExpirationSeconds;
  if (lifetime !== undefined && integerProblem(lifetime, minimum, maximum) !== undefined) {
    out.push(
      issue(
        field("expirationSeconds"),
        `${excerpt(lifetime)} is not a whole number of seconds >= ${minimum} and <= ${maximum}`,
        `use at least ${minimum} (the API server's minimum); tctl's default is ${tokenDefaults.expirationSeconds}`,
      ),
    );
  }
  const renew = token?.renewBeforeSeconds;
  const limit = lifetime ?? tokenDefaults.expirationSeconds;
  if (renew !== undefined && integerProblem(renew, 0, Number(limit) - 1) !== undefined) {
    out.push(
      issue(
        field("renewBeforeSeconds"),
        `${excerpt(renew)} is not a whole number of seconds below the token lifetime`,
        `use a margin smaller than token.expirationSeconds, e.g. ${tokenDefaults.renewBeforeSeconds}`,
      ),
    );
  }
  out.push(...tokenRequestIssues(token, field));
  return out;
}

export function deregistrationDelayIssues(delay: unknown, field: string): ValidationIssue[] {
  return knownIssues(
    field,
    delay,
    (v) => integerProblem(v, 0, numberBounds.maxDeregistrationDelaySeconds),
    "use the seconds istiod needs to push the removal to clients, e.g. 5",
  );
}

/** Names for the /etc/hosts block; an Output is not an array, so only plain lists are checked here. */
export function egressHostnamesIssues(hostnames: unknown, field: FieldName): ValidationIssue[] {
  if (hostnames === undefined || pending(hostnames)) return [];
  if (!Array.isArray(hostnames))
    return [
      issue(field(""), `${excerpt(hostnames)} is not a list`, 'use a list such as ["reviews.bookinfo.svc"]'),
    ];
  const out: ValidationIssue[] = [];
  const limit = inputLimits.egressHostnames;
  if (hostnames.length > limit) {
    out.push(
      issue(
        field(""),
        `${hostnames.length} names exceed the limit of ${limit}`,
        "list the names the VM calls",
      ),
    );
    return out;
  }
  hostnames.forEach((h: unknown, i) => {
    checkKnown(
      out,
      field(`[${i}]`),
      h,
      (v) => {
        const t = textProblem(v);
        if (t !== undefined) return t;
        return isHostname(v as string) && !(v as string).endsWith(".")
          ? undefined
          : `${excerpt(v)} is not a host name`;
      },
      'use a mesh service name the VM calls, e.g. "reviews.bookinfo.svc"',
    );
  });
  return out;
}

/** proxyConfigDir, when known: a directory the proxy user may own (never a system directory). */
export function configDirIssues(dir: unknown, field: string): ValidationIssue[] {
  return knownIssues(
    field,
    dir,
    dedicatedDirectoryProblem,
    'use a directory of its own, e.g. "/etc/istio-proxy" (root makes it the proxy user\'s, mode 775)',
  );
}

/** The readiness wait: host, port, path and numbers, all of which reach the proxy step's script. */
export function readinessIssues(readiness: unknown, field: FieldName): ValidationIssue[] {
  if (readiness === undefined) return [];
  if (typeof readiness !== "object" || readiness === null || Array.isArray(readiness))
    return [
      issue(
        field(""),
        `${excerpt(readiness)} is not a map`,
        "set readiness.{host, port, path, timeoutSeconds, logLines}",
      ),
    ];
  const r = readiness as Record<string, unknown>;
  const out: ValidationIssue[] = [];
  const d = readinessDefaults;
  checkKnown(
    out,
    field("host"),
    r["host"],
    hostProblem,
    `use the address the proxy answers on from the VM itself, e.g. "${d.host}"`,
  );
  checkKnown(
    out,
    field("port"),
    r["port"],
    (v) => integerProblem(v, 1, 65535),
    `use the proxy's status port, e.g. ${d.port}`,
  );
  checkKnown(out, field("path"), r["path"], urlPathProblem, `use a path starting with "/", e.g. "${d.path}"`);
  checkKnown(
    out,
    field("timeoutSeconds"),
    r["timeoutSeconds"],
    (v) => integerProblem(v, 1, d.maxTimeoutSeconds),
    `use whole seconds, e.g. ${d.timeoutSeconds}`,
  );
  checkKnown(
    out,
    field("logLines"),
    r["logLines"],
    (v) => integerProblem(v, 0, d.maxLogLines),
    `use a whole number of lines, e.g. ${d.logLines}`,
  );
  return out;
}

/** The proxy image: a full reference, or hub + name + tag; none of them may become a `docker run` option. */
export function imageIssues(
  image: { proxyImage?: unknown; proxyImageHub?: unknown; proxyImageName?: unknown; proxyImageTag?: unknown },
  field: FieldName,
): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  checkKnown(
    out,
    field("proxyImage"),
    image.proxyImage,
    imageReferenceProblem,
    'use an image reference such as "docker.io/istio/proxyv2:1.30.3"',
  );
  checkKnown(
    out,
    field("proxyImageHub"),
    image.proxyImageHub,
    imageRepositoryProblem,
    'use a registry/organisation such as "docker.io/tetrate"',
  );
  checkKnown(
    out,
    field("proxyImageName"),
    image.proxyImageName,
    (v) => imageRepositoryProblem(v),
    'use a repository name such as "proxyv2"',
  );
  checkKnown(out, field("proxyImageTag"), image.proxyImageTag, imageTagProblem, 'use a tag such as "1.30.3"');
  return out;
}

/** A user or group name for useradd/groupadd (shadow-utils' rules): never an option, never invalid at `up`. */
export function posixNameIssues(v: unknown, field: string, fix: string): ValidationIssue[] {
  return knownIssues(field, v, posixNameProblem, fix);
}

export function containerNameIssues(v: unknown, field: string): ValidationIssue[] {
  return knownIssues(
    field,
    v,
    containerNameProblem,
    "use letters, digits, '_', '.' and '-', e.g. \"istio-proxy\"",
  );
}

/**
 * The gateway's address must be an IP: the proxy reaches istiod's cluster-local names through docker
 * `--add-host`. tctl rewrote the addresses to a DNS gateway's name instead (with SNIs only Tetrate's proxy builds
 * use); `mesh.discoveryAddress: <gateway-name>:15012` does the same for istiod, so the fix points there (`field`
 * names the delivery's inputs).
 */
export function gatewayAddressIssues(v: unknown, field: FieldName): ValidationIssue[] {
  if (v === undefined || pending(v)) return [];
  const p = textProblem(v) ?? gatewayAddressProblem(v as string);
  if (p === undefined) return [];
  const fix =
    textProblem(v) === undefined
      ? `set it to the gateway's IP; or, for tctl's behaviour with a DNS gateway, remove it and set ${field("mesh.discoveryAddress")} to "${v as string}:15012"`
      : 'use the east-west gateway\'s IP, e.g. "203.0.113.7"';
  return [issue(field("gatewayAddress"), p, fix)];
}

/** The settings that become sidecar.env variables and PROXY_CONFIG: one line each, sized, proxyConfig bounded. */
export function meshSettingsIssues(mesh: unknown, field: FieldName): ValidationIssue[] {
  if (mesh === undefined || pending(mesh)) return [];
  if (typeof mesh !== "object" || mesh === null || Array.isArray(mesh))
    return [
      issue(field(""), `${excerpt(mesh)} is not a map`, "set mesh.{istioNamespace, discoveryAddress, ...}"),
    ];
  const m = mesh as Record<string, unknown>;
  const out: ValidationIssue[] = [];
  checkKnown(
    out,
    field("istioNamespace"),
    m["istioNamespace"],
    (v) => {
      const t = textProblem(v, 63);
      return (
        t ??
        (/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(v as string)
          ? undefined
          : `${excerpt(v)} is not a namespace name`)
      );
    },
    'use the namespace istiod runs in, e.g. "istio-system"',
  );
  for (const key of ["discoveryAddress", "caAddress"]) {
    checkKnown(
      out,
      field(key),
      m[key],
      hostPortProblem,
      'use host:port, e.g. "istiod.istio-system.svc:15012"',
    );
  }
  for (const key of ["clusterId", "defaultNetwork", "meshId"]) {
    checkKnown(out, field(key), m[key], (v) => textProblem(v), "use a short name on one line");
  }
  checkKnown(
    out,
    field("trustDomain"),
    m["trustDomain"],
    (v) => {
      const t = textProblem(v);
      return t ?? (isHostname(v as string) ? undefined : `${excerpt(v)} is not a DNS name`);
    },
    'use the mesh trust domain, e.g. "cluster.local"',
  );
  out.push(...proxyConfigIssues(m["proxyConfig"], (p) => field(`proxyConfig${p}`)));
  return out;
}

function proxyConfigIssues(pc: unknown, field: FieldName): ValidationIssue[] {
  if (pc === undefined || pending(pc)) return [];
  if (typeof pc !== "object" || pc === null || Array.isArray(pc))
    return [
      issue(
        field(""),
        `${excerpt(pc)} is not a map`,
        "set ProxyConfig fields, e.g. { proxyMetadata: {...} }",
      ),
    ];
  const limit = inputLimits.objectDepth;
  if (depthOf(pc, limit) > limit)
    return [issue(field(""), `is nested deeper than ${limit} levels`, "use ProxyConfig's own fields")];
  let text: string;
  try {
    text = JSON.stringify(pc);
  } catch {
    return [
      issue(
        field(""),
        "cannot be written as JSON (a cycle, a function or a big integer)",
        "use plain values",
      ),
    ];
  }
  if (byteLength(text) > 64 * 1024)
    return [issue(field(""), "is larger than 64 KiB as JSON", "keep only the fields the proxy needs")];
  const out: ValidationIssue[] = [];
  // The discovery address goes into sidecar.env as it is (CA_ADDR, PILOT_SNI); the rest only as JSON.
  const discovery = (pc as Record<string, unknown>)["discoveryAddress"];
  if (Object.hasOwn(pc, "discoveryAddress") && discovery !== undefined && discovery !== null) {
    const t =
      typeof discovery === "string" ? textProblem(discovery) : `${excerpt(discovery)} is not a string`;
    if (t !== undefined)
      out.push(
        issue(
          field(".discoveryAddress"),
          t,
          'use host:port on one line, e.g. "istiod.istio-system.svc:15012"',
        ),
      );
  }
  const md = Object.hasOwn(pc, "proxyMetadata")
    ? (pc as Record<string, unknown>)["proxyMetadata"]
    : undefined;
  if (md === undefined || md === null) return out;
  if (typeof md !== "object" || Array.isArray(md))
    return [
      issue(
        field(".proxyMetadata"),
        `${excerpt(md)} is not a map of strings`,
        'use e.g. { ISTIO_META_DNS_CAPTURE: "true" }',
      ),
    ];
  for (const [k, v] of Object.entries(md as Record<string, unknown>)) {
    const at = field(`.proxyMetadata[${excerpt(k)}]`);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) || k.length > 253)
      out.push(
        issue(
          at,
          "is not an environment variable name",
          "use letters, digits and '_', not starting with a digit",
        ),
      );
    const t =
      typeof v === "object" && v !== null ? "is not a string" : textProblem(String(v), inputLimits.longText);
    if (t !== undefined)
      out.push(issue(at, t, "use a value on one line (docker --env-file cannot carry line breaks)"));
  }
  return out;
}

/** Where an SSH connection goes and as whom (the VM's or the bastion's): address, port, login. */
function endpointIssues(
  out: ValidationIssue[],
  field: FieldName,
  endpoint: { host?: unknown; port?: unknown; user?: unknown },
  words: { host: string; user: string },
): void {
  checkKnown(out, field("host"), endpoint.host, hostProblem, words.host);
  checkKnown(
    out,
    field("port"),
    endpoint.port,
    (v) => integerProblem(v, 1, 65535),
    "use a port between 1 and 65535",
  );
  checkKnown(out, field("user"), endpoint.user, posixNameProblem, `use a user name such as "${words.user}"`);
}

/** Connection settings that are known now: host, port, user, dial limits, bastion. */
export function sshSettingsIssues(
  ssh: {
    host?: unknown;
    port?: unknown;
    user?: unknown;
    dialErrorLimit?: unknown;
    perDialTimeout?: unknown;
    agentSocketPath?: unknown;
    bastion?: BastionArgs;
  },
  field: FieldName,
): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  endpointIssues(out, field, ssh, {
    host: "use the address the machine running Pulumi reaches sshd on",
    user: "istio-proxy",
  });
  checkKnown(
    out,
    field("dialErrorLimit"),
    ssh.dialErrorLimit,
    (v) => integerProblem(v, 1, numberBounds.maxDialErrorLimit),
    "use e.g. 20",
  );
  checkKnown(
    out,
    field("perDialTimeout"),
    ssh.perDialTimeout,
    (v) => integerProblem(v, 1, numberBounds.maxPerDialTimeout),
    "use seconds, e.g. 10",
  );
  checkKnown(
    out,
    field("agentSocketPath"),
    ssh.agentSocketPath,
    (v) => textProblem(v, 4096),
    "use the path of the ssh-agent socket",
  );
  const b = ssh.bastion;
  if (b !== undefined) {
    endpointIssues(out, (p) => field(`bastion.${p}`), b, {
      host: "use the bastion's address",
      user: "root",
    });
    checkKnown(
      out,
      field("bastion.hostKey"),
      b.hostKey,
      (v) => textProblem(typeof v === "string" ? v.trim() : v, 16384),
      'use "<type> <base64>" on one line',
    );
  }
  return out;
}

/** A certificate handed in (runtime envoy) for another identity or root, when both are known at preview. */
export function providedIdentityIssues(args: ProvidedIdentityArgs, field: FieldName): ValidationIssue[] {
  const p = providedIdentityProblem(args);
  return p === undefined
    ? []
    : [
        issue(
          field("envoy.certificate.provided.certChain"),
          p,
          "issue it for the VM's SPIFFE id, chaining to the mesh's root CA (istio-ca-root-cert)",
        ),
      ];
}

/**
 * Validates the VmProxyArgs known now; returns every issue found (empty when valid). `field` names the inputs
 * in the messages (default `VmProxyArgs.<path>`).
 */
export function validateVmProxyArgs(
  args: VmProxyArgs,
  field: FieldName = fieldNames("VmProxyArgs"),
): ValidationIssue[] {
  const ssh = args.ssh;
  return [
    ...runtimeIssues(args as unknown as Record<string, unknown>, field),
    ...providedIdentityIssues(args as ProvidedIdentityArgs, field),
    ...sshSettingsIssues(ssh, (p) => field(`ssh.${p}`)),
    ...posixNameIssues(args.sshUser, field("sshUser"), 'use a user name such as "istio-proxy"'),
    ...posixNameIssues(
      args.prepare?.dockerGroup,
      field("prepare.dockerGroup"),
      'use a group name such as "docker"',
    ),
    ...posixNameIssues(
      args.prepare?.admin?.user,
      field("prepare.admin.user"),
      'use a user name such as "root"',
    ),
    ...containerNameIssues(args.proxyContainerName, field("proxyContainerName")),
    ...imageIssues(args, field),
    ...gatewayAddressIssues(args.gatewayAddress, field),
    ...meshSettingsIssues(args.mesh, (p) => field(p === "" ? "mesh" : `mesh.${p}`)),
    ...readinessIssues(args.readiness, (p) => field(p === "" ? "readiness" : `readiness.${p}`)),
    ...hostKeyIssues(ssh, {
      hostKey: field("ssh.hostKey"),
      bastionHostKey: field("ssh.bastion.hostKey"),
      insecureIgnoreHostKey: "ssh.insecureIgnoreHostKey",
    }),
    ...loginIssues(
      ssh.privateKey !== undefined || ssh.agentSocketPath !== undefined,
      args.prepare,
      { login: field("ssh"), prepareAdmin: field("prepare.admin") },
      { privateKey: "ssh.privateKey", agentSocketPath: "ssh.agentSocketPath", user: "sshUser" },
    ),
    ...packageLoginIssues(args.runtime, ssh.privateKey !== undefined || ssh.agentSocketPath !== undefined, {
      privateKey: field("ssh.privateKey"),
      agentSocketPath: field("ssh.agentSocketPath"),
    }),
    ...kubeconfigIssues(args.kubeconfig, field("kubeconfig")),
    ...tokenIssues(args.token, (p) => field(`token.${p}`)),
    ...configDirIssues(args.proxyConfigDir, field("proxyConfigDir")),
    ...egressHostnamesIssues(args.egressHostnames, (p) => field(`egressHostnames${p}`)),
    ...deregistrationDelayIssues(args.deregistrationDelaySeconds, field("deregistrationDelaySeconds")),
    ...caRootIssues(args, field),
  ];
}
