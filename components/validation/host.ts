// MeshVmArgs.host validation: the settings the host half needs before anything connects, checked before the
// component registers so a mistake fails `pulumi preview` with nothing created. Values that are still Outputs
// are checked later, where VmProxy uses them.
import type { MeshVmHostArgs } from "../meshVmArgs";
import { issue, ValidationIssue } from "../rules/issues";

const H = "MeshVmArgs.host";

// A TokenRequest below 10 minutes is refused by the API server (ValidateTokenRequest).
const minTokenSeconds = 600;

const authorizedKeyPattern = /^(ssh-|ecdsa-|sk-)\S+ \S+/;

/** Validates the host inputs whose values are known now; returns every issue found. */
export function validateMeshVmHostArgs(host: MeshVmHostArgs): ValidationIssue[] {
  const out: ValidationIssue[] = [];

  if (host.insecureIgnoreHostKey !== true) {
    if (host.hostKey === undefined) {
      out.push(
        issue(
          `${H}.hostKey`,
          "the VM's SSH host key is not pinned",
          "set it to the VM's public host key (the content of /etc/ssh/ssh_host_ed25519_key.pub, or " +
            "`ssh-keyscan -t ed25519 HOST` checked out of band), or set insecureIgnoreHostKey: true to skip the check",
        ),
      );
    } else if (typeof host.hostKey === "string" && !authorizedKeyPattern.test(host.hostKey.trim())) {
      out.push(
        issue(
          `${H}.hostKey`,
          "not an authorized_keys-format public key",
          'use "<type> <base64>", e.g. "ssh-ed25519 AAAAC3Nza..." (no host name prefix as in known_hosts)',
        ),
      );
    }
    if (host.bastion !== undefined && host.bastion.hostKey === undefined) {
      out.push(
        issue(
          `${H}.bastion.hostKey`,
          "the bastion's SSH host key is not pinned",
          "set it to the bastion's public host key, or set host.insecureIgnoreHostKey: true",
        ),
      );
    }
  }

  const ownCredentials =
    host.credentials?.privateKey !== undefined || host.credentials?.agentSocketPath !== undefined;
  if (!ownCredentials && host.prepare === undefined) {
    out.push(
      issue(
        `${H}.credentials`,
        "no way to log in as the proxy user",
        "set credentials.privateKey (or agentSocketPath) for sshUser, or set prepare.admin so that a key is " +
          "generated and installed for it",
      ),
    );
  }
  if (host.prepare !== undefined) {
    const admin = host.prepare.admin;
    if (admin === undefined || (admin.privateKey === undefined && admin.agentSocketPath === undefined)) {
      out.push(
        issue(
          `${H}.prepare.admin`,
          "host preparation needs a privileged login",
          "set prepare.admin.privateKey (or agentSocketPath), and prepare.admin.user unless it is root",
        ),
      );
    }
  }

  if (host.kubeconfig === undefined || host.kubeconfig === "") {
    out.push(
      issue(
        `${H}.kubeconfig`,
        "the bootstrap token cannot be minted without cluster credentials",
        "pass the kubeconfig (contents) the token is requested with; it is kept secret",
      ),
    );
  }

  if (host.proxyImage !== undefined && host.proxyImageTag !== undefined) {
    out.push(
      issue(
        `${H}.proxyImageTag`,
        "proxyImage and proxyImageTag are both set",
        "set a full proxyImage, or proxyImageTag to use <proxyImageHub>/proxyv2:<tag>, not both",
      ),
    );
  }

  const token = host.token;
  const lifetime = token?.expirationSeconds;
  if (lifetime !== undefined && !(Number.isInteger(lifetime) && lifetime >= minTokenSeconds)) {
    out.push(
      issue(
        `${H}.token.expirationSeconds`,
        `${JSON.stringify(lifetime)} is not a whole number of seconds >= ${minTokenSeconds}`,
        "use at least 600 (the API server's minimum); tctl's default is 86400",
      ),
    );
  }
  const renew = token?.renewBeforeSeconds;
  if (renew !== undefined && !(Number.isInteger(renew) && renew >= 0 && renew < (lifetime ?? 86400))) {
    out.push(
      issue(
        `${H}.token.renewBeforeSeconds`,
        `${JSON.stringify(renew)} is not a whole number of seconds below the token lifetime`,
        "use a margin smaller than token.expirationSeconds, e.g. 3600",
      ),
    );
  }

  const delay = host.deregistrationDelaySeconds;
  if (delay !== undefined && !(Number.isInteger(delay) && delay >= 0)) {
    out.push(
      issue(
        `${H}.deregistrationDelaySeconds`,
        `${JSON.stringify(delay)} is not a whole number >= 0`,
        "use the seconds istiod needs to push the removal to clients, e.g. 5",
      ),
    );
  }

  // An Output is not an array: only plain lists are checked here.
  const egressHostnames: unknown = host.egressHostnames;
  if (Array.isArray(egressHostnames)) {
    egressHostnames.forEach((h: unknown, i) => {
      if (
        typeof h === "string" &&
        !/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i.test(h)
      ) {
        out.push(
          issue(
            `${H}.egressHostnames[${i}]`,
            `${JSON.stringify(h)} is not a host name`,
            'use a mesh service name the VM calls, e.g. "reviews.bookinfo.svc"',
          ),
        );
      }
    });
  }
  return out;
}
