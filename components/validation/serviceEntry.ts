// Checks of the inputs that make the ServiceEntry (mesh/serviceEntry.ts). CEL: hosts 1-256 and not "*";
// webhook: at least one port.
import { meshVmDefaults } from "../mesh/settings";
import type { PlainMeshVmArgs } from "../meshVmArgs";
import { wildcardDomainProblem } from "../rules/hosts";
import { FieldName, issue, ValidationIssue } from "../rules/issues";
import { isString, nameIssues } from "./fields";

export function serviceEntryIssues(args: PlainMeshVmArgs, field: FieldName): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  if (!(args.serviceEntry?.enabled ?? meshVmDefaults.serviceEntryEnabled)) return out;
  if (args.serviceEntry?.name !== undefined)
    out.push(...nameIssues(field("serviceEntry.name"), args.serviceEntry.name, "name"));
  if ((args.ports ?? []).length === 0) {
    out.push(
      issue(
        field("ports"),
        "a ServiceEntry needs at least one port",
        `declare the VM's ports, or set ${field("serviceEntry.enabled")} to false`,
      ),
    );
  }
  const hosts = args.serviceEntry?.hosts;
  if (hosts === undefined) return out;
  if (hosts.length === 0 || hosts.length > 256)
    out.push(
      issue(
        field("serviceEntry.hosts"),
        `needs 1-256 hosts, got ${hosts.length}`,
        "list the service's host names",
      ),
    );
  hosts.forEach((h, i) => {
    const f = field(`serviceEntry.hosts[${i}]`);
    if (h === "*") {
      out.push(
        issue(
          f,
          'host "*" is not allowed in a ServiceEntry',
          'use the service\'s host name, e.g. "ratings-vm.bookinfo.svc.cluster.local"',
        ),
      );
      return;
    }
    const p = isString(h) ? wildcardDomainProblem(h) : "host is not a string";
    if (p !== undefined) out.push(issue(f, p, "use a DNS name"));
  });
  return out;
}
