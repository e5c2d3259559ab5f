// `mesh-vm:kubeconfig`: contents (which must be a secret in the stack file) or a path, else the ambient
// kubeconfig kubectl would use. The provider gets it as given; the hosts' bootstrap tokens need the contents,
// read once and only when a VM has `host` (the mesh objects need no token).
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import type { ValidationIssue } from "../rules/issues";
import { configNamespace } from "./schema";

const key = `${configNamespace}:kubeconfig`;

/** kubeconfig contents (YAML or JSON) rather than a path. */
export function isKubeconfigContents(value: string): boolean {
  return value.includes("\n") || /^\s*[{]/.test(value) || /^\s*apiVersion\s*:/.test(value);
}

function expandHome(p: string): string {
  return p === "~" || p.startsWith("~/") ? join(homedir(), p.slice(1)) : p;
}

/** The kubeconfig kubectl would use: the first `KUBECONFIG` entry, else ~/.kube/config. */
function ambientKubeconfigPath(env: Record<string, string | undefined>): string {
  const first = (env["KUBECONFIG"] ?? "").split(":").find((p) => p !== "");
  return first ?? join(homedir(), ".kube", "config");
}

function setKubeconfigUsage(usage: string): string {
  return `pulumi config set --secret ${key} ${usage}`;
}

function readKubeconfig(path: string, issues: ValidationIssue[], what: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    issues.push({
      field: key,
      problem: `the hosts' bootstrap tokens need cluster credentials, but ${what} cannot be read (${(e as NodeJS.ErrnoException).code ?? "error"})`,
      fix: `set it: ${setKubeconfigUsage("< path/to/kubeconfig")}, or a readable path`,
    });
    return undefined;
  }
}

export interface ConfiguredKubeconfig {
  /** For the Kubernetes provider: contents (secret) or a path; undefined means the ambient kubeconfig. */
  provider?: pulumi.Output<string>;
  /** The contents for the hosts' token requests (secret), read on first use; undefined when unreadable. */
  forHosts(): pulumi.Output<string> | undefined;
}

/** Where the kubeconfig comes from; problems (plain-text contents, an unreadable file) go to `issues`. */
export function configureKubeconfig(
  value: string | undefined,
  options: {
    isSecret: boolean;
    stackFile: string;
    baseDir: string;
    env: Record<string, string | undefined>;
    issues: ValidationIssue[];
  },
): ConfiguredKubeconfig {
  const { issues } = options;
  let provider: pulumi.Output<string> | undefined;
  let contents: () => string | undefined;
  if (value !== undefined && isKubeconfigContents(value)) {
    if (!options.isSecret) {
      issues.push({
        field: key,
        problem: `the kubeconfig contents are stored in plain text in ${options.stackFile}`,
        fix: `store them encrypted: ${setKubeconfigUsage("< path/to/kubeconfig")} (or set a path instead)`,
      });
    }
    provider = pulumi.secret(value);
    contents = () => value;
  } else if (value !== undefined) {
    const path = resolve(options.baseDir, expandHome(value));
    provider = pulumi.secret(path);
    contents = () => readKubeconfig(path, issues, `the file ${path}`);
  } else {
    const path = ambientKubeconfigPath(options.env);
    contents = () =>
      readKubeconfig(path, issues, `the ambient kubeconfig ${path} (${configNamespace}:kubeconfig is unset)`);
  }
  let forHosts: { value?: pulumi.Output<string> } | undefined;
  return {
    ...(provider ? { provider } : {}),
    forHosts() {
      if (forHosts === undefined) {
        const text = contents();
        forHosts = text === undefined ? {} : { value: pulumi.secret(text) };
      }
      return forHosts.value;
    },
  };
}
