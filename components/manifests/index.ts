// fromManifests: turns the YAML a tctl user already has (a WorkloadEntry with sidecar-bootstrap.istio.io/*
// annotations, optionally a Sidecar, ServiceEntry, WorkloadGroup, ServiceAccount) into MeshVmArgs that render
// the same objects. One reader per kind, each the inverse of its renderer in mesh/.
import type { PlainMeshVmArgs } from "../meshVmArgs";
import { issue, throwIfIssues, ValidationIssue } from "../rules/issues";
import { agreementIssues, atMostOne, readDocuments } from "./documents";
import { readServiceEntry } from "./serviceEntry";
import { readSidecar } from "./sidecar";
import { argsFromWorkloadEntry, readApiVersion, readWorkloadEntryBody } from "./workloadEntry";
import { readServiceAccount, readWorkloadGroup } from "./workloadGroup";

/**
 * Parses tctl-style YAML into MeshVmArgs. Throws MeshVmValidationError listing every problem (unknown
 * annotations, unsupported fields, objects that do not belong together).
 */
export function fromManifests(yamlText: string): PlainMeshVmArgs {
  const owner = "fromManifests";
  const out: ValidationIssue[] = [];
  const docs = readDocuments(yamlText, out);
  const wes = docs.filter((d) => d.kind === "WorkloadEntry");
  if (wes.length !== 1) {
    out.push(
      issue(
        "WorkloadEntry",
        `expected exactly one WorkloadEntry, found ${wes.length}`,
        "pass the manifests of one VM at a time",
      ),
    );
    throwIfIssues(owner, out);
  }
  const we = wes[0]!;
  const args = argsFromWorkloadEntry(we, out);
  readApiVersion(args, we, out);
  out.push(...agreementIssues(docs, we));
  const wePorts = readWorkloadEntryBody(args, we, out);
  const sidecar = atMostOne(out, docs, "Sidecar", "keep the VM's Sidecar only");
  readSidecar(args, sidecar, wePorts, we, out);
  const serviceEntry = atMostOne(out, docs, "ServiceEntry", "keep the VM service's ServiceEntry only");
  readServiceEntry(args, serviceEntry, out);
  readWorkloadGroup(args, docs);
  readServiceAccount(args, docs, out);
  throwIfIssues(owner, out);
  return args;
}
