// Workload identity as Istio's CA issues it: the URI SAN of the workload certificate.

/** `spiffe://<trust-domain>/ns/<namespace>/sa/<serviceAccount>`. */
export function spiffeId(trustDomain: string, namespace: string, serviceAccount: string): string {
  return `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}
