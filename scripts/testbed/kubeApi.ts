// The test cluster's API answers, as the cluster (./cluster.ts) and istiod (./istiod.ts) both read them.

export interface ApiResponse {
  status: number;
  // Parsed JSON body (a Kubernetes object or Status).
  body: KubeObject;
}

// A loosely typed Kubernetes object: tests read the fields they assert on.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type KubeObject = Record<string, any>;
