// A workload certificate from the test bed's real istiod, for a data-path test: a key and CSR (openssl, test
// side), then the certificate through the program mesh-vm runs at `up` (components/programs/issueCertificate.ts).
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseIssuedCertificate } from "../../components/host/certificateProgram";
import { apiServerAccessFromKubeconfig } from "../../components/host/tokenRequest";
import { localProgram } from "../../components/localProgram";
import type { TestCluster } from "./cluster";
import { ISTIO_NAMESPACE, type Istiod } from "./istiod";

/**
 * Key and chain (PEM) for `namespace`/`serviceAccount`, issued by istiod; the key is written under `work`.
 * Throws with the program's stderr when it fails (e.g. a token of another audience).
 */
export function issueFromIstiod(
  cluster: TestCluster,
  istiod: Istiod,
  work: string,
  namespace: string,
  serviceAccount: string,
  audiences = ["istio-ca"],
): { key: string; chain: string } {
  const dir = mkdtempSync(join(work, "csr-"));
  execFileSync(
    "openssl",
    ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"].concat([
      "-keyout",
      join(dir, "key.pem"),
      "-out",
      join(dir, "csr.pem"),
      "-subj",
      "/O=cluster.local",
    ]),
    { stdio: "ignore" },
  );
  const input = {
    tokenRequest: {
      access: apiServerAccessFromKubeconfig(cluster.kubeconfig),
      namespace,
      serviceAccount,
      audiences,
      expirationSeconds: 600,
    },
    csrPem: readFileSync(join(dir, "csr.pem"), "utf8"),
    validitySeconds: 3600,
    caAddress: `${istiod.address}:${istiod.port}`,
    caServerName: `istiod.${ISTIO_NAMESPACE}.svc`,
    rootPem: istiod.rootCertPem,
    spiffeId: `spiffe://cluster.local/ns/${namespace}/sa/${serviceAccount}`,
  };
  const r = spawnSync(process.execPath, ["-e", localProgram("issueCertificate")], {
    input: JSON.stringify(input),
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(r.stderr);
  return {
    key: readFileSync(join(dir, "key.pem"), "utf8"),
    chain: parseIssuedCertificate(r.stdout).certChain,
  };
}
