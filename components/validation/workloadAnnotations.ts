// Checks of the standard Istio annotations tctl reads from the WorkloadEntry (mesh/annotations.ts,
// `workloadProxyAnnotations`): the host half applies them to the proxy, so a value it could not use fails
// preview here, named by its annotation, instead of failing deep in `up`.
import { componentLogLevelProblem, logLevelProblem } from "../host/proxyContainer";
import { proxyConfigAnnotationProblem } from "../host/sidecarEnv";
import { workloadProxyAnnotations } from "../mesh/annotations";
import type { PlainMeshVmArgs } from "../meshVmArgs";
import { FieldName, issue, ValidationIssue } from "../rules/issues";
import { excerpt } from "../rules/values";

/** ProxyConfig's InterceptionMode values, which the annotation takes. */
const interceptionModes = ["REDIRECT", "TPROXY", "NONE"];

/**
 * `proxy.istio.io/config`: a ProxyConfig YAML map the proxy's sidecar.env and arguments can carry;
 * `sidecar.istio.io/logLevel` and `componentLogLevel`: levels the proxy knows.
 */
export function workloadProxyAnnotationIssues(args: PlainMeshVmArgs, field: FieldName): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  const annotations = args.annotations ?? {};
  const levels = [
    [workloadProxyAnnotations.logLevel, logLevelProblem, '"info"'],
    [workloadProxyAnnotations.componentLogLevel, componentLogLevelProblem, '"misc:info,upstream:debug"'],
  ] as const;
  for (const [key, problemOf, example] of levels) {
    const value = annotations[key];
    const p = typeof value === "string" ? problemOf(value) : undefined;
    if (p !== undefined) out.push(issue(field(`annotations["${key}"]`), p, `use e.g. ${example}`));
  }
  // ISTIO_META_INTERCEPTION_MODE, as written: one of Istio's modes (NONE on a VM without iptables).
  const mode = annotations[workloadProxyAnnotations.interceptionMode];
  if (typeof mode === "string" && !interceptionModes.includes(mode)) {
    out.push(
      issue(
        field(`annotations["${workloadProxyAnnotations.interceptionMode}"]`),
        `${excerpt(mode)} is not an Istio interception mode`,
        `use one of ${interceptionModes.join(", ")} (NONE, the default, for a VM without iptables), or remove it`,
      ),
    );
  }
  const proxyConfig = annotations[workloadProxyAnnotations.proxyConfig];
  if (typeof proxyConfig === "string") {
    const p = proxyConfigAnnotationProblem(proxyConfig);
    if (p !== undefined) {
      out.push(
        issue(
          field(`annotations["${workloadProxyAnnotations.proxyConfig}"]`),
          p,
          'give ProxyConfig fields as YAML, e.g. "concurrency: 2\\nproxyMetadata:\\n  KEY: value"',
        ),
      );
    }
  }
  return out;
}
