// Reads the proxy's identity from a rendered WorkloadEntry, the way tctl reads it from the cluster object.
import { bootstrapAnnotations } from "../mesh/annotations";
import { WorkloadIdentity } from "./sidecarEnv";

/** The fields of a WorkloadEntry the host half uses. */
export interface WorkloadEntryLike {
  metadata: {
    name: string;
    namespace: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec: {
    address?: string;
    serviceAccount?: string;
    network?: string;
    labels?: Record<string, string>;
    ports?: Record<string, number>;
  };
}

/** WorkloadIdentity of a WorkloadEntry; `proxyInstanceIp` wins over the WE's proxy-instance-ip annotation. */
export function workloadIdentityFromWorkloadEntry(
  we: WorkloadEntryLike,
  proxyInstanceIp?: string,
): WorkloadIdentity {
  const { name, namespace } = we.metadata;
  if (!we.spec.address) {
    throw new Error(`WorkloadEntry ${namespace}/${name} has no address; the proxy needs one`);
  }
  if (!we.spec.serviceAccount) {
    throw new Error(
      `WorkloadEntry ${namespace}/${name} has no serviceAccount; the bootstrap token needs one`,
    );
  }
  const identity: WorkloadIdentity = {
    name,
    namespace,
    serviceAccount: we.spec.serviceAccount,
    address: we.spec.address,
    labels: we.spec.labels ?? {},
    metadataLabels: we.metadata.labels ?? {},
    annotations: we.metadata.annotations ?? {},
  };
  const instanceIp = proxyInstanceIp || we.metadata.annotations?.[bootstrapAnnotations.proxyInstanceIp];
  if (instanceIp) identity.proxyInstanceIp = instanceIp;
  if (we.spec.network) identity.network = we.spec.network;
  if (we.spec.ports && Object.keys(we.spec.ports).length > 0) identity.ports = { ...we.spec.ports };
  return identity;
}
