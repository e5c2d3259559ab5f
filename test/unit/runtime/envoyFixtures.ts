// Fixtures of the envoy runtime's tests: resolved settings of the variants, and a workload certificate with
// its key (openssl, as the harness's certs.ts: Node's crypto cannot issue X.509 certificates) so the
// validator loads the PEM files as Envoy would.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  EnvoyRuntimeArgs,
  envoyPaths,
  EnvoySettings,
  resolveEnvoySettings,
} from "../../../components/runtime/envoyArgs";
import { envoyBootstrapYaml } from "../../../components/runtime/envoyBootstrap";
import { certificateSdsYaml, rootSdsYaml } from "../../../components/runtime/envoySds";
import type { VmFile } from "../../../scripts/testbed/envoyValidator";

export const vm = {
  trustDomain: "cluster.local",
  namespace: "vms",
  name: "dev-laptop",
  serviceAccount: "dev-laptop",
};

export const reviews = {
  host: "reviews.bookinfo.svc.cluster.local",
  port: 9080,
  serviceAccount: "bookinfo-reviews",
  localPort: 9080,
};

export function settingsOf(args: Partial<EnvoyRuntimeArgs> = {}): EnvoySettings {
  return resolveEnvoySettings({ gatewayAddress: "192.0.2.10", upstreams: [reviews], ...args }, vm);
}

/** A self-signed P-256 certificate with a SPIFFE URI SAN, and its key (PEM). */
export function selfSignedWorkload(
  spiffe = `spiffe://${vm.trustDomain}/ns/${vm.namespace}/sa/${vm.serviceAccount}`,
): {
  cert: string;
  key: string;
} {
  const dir = mkdtempSync(join(tmpdir(), "envoy-fixture-"));
  try {
    execFileSync(
      "openssl",
      ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        .concat(["-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")])
        .concat(["-subj", "/O=mesh-vm test", "-days", "1", "-addext", `subjectAltName=URI:${spiffe}`]),
      { stdio: "ignore" },
    );
    return {
      cert: readFileSync(join(dir, "cert.pem"), "utf8"),
      key: readFileSync(join(dir, "key.pem"), "utf8"),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

let material: { cert: string; key: string } | undefined;

/** Every file of the rendered config as it lands on the VM: config, SDS files, chain, key, root. */
export function renderedFiles(s: EnvoySettings, pem = (material ??= selfSignedWorkload())): VmFile[] {
  const p = envoyPaths(s.configDir);
  return [
    { path: p.config, content: envoyBootstrapYaml(s) },
    { path: p.certificateSds, content: certificateSdsYaml(p) },
    { path: p.rootSds, content: rootSdsYaml(p) },
    { path: p.certChain, content: pem.cert },
    { path: p.key, content: pem.key },
    { path: p.root, content: pem.cert },
  ];
}
