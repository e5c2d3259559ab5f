// validateMeshVmArgs, the Sidecar checks (validation/sidecar.ts): egress listeners and the workload selector.
import { describe } from "node:test";
import { rejectsEach, Row } from "./meshVmRows";

const rows: Row[] = [
  {
    what: "egress host without namespace",
    args: { egress: [{ bind: "127.0.0.2", hosts: ["reviews.bookinfo.svc.cluster.local"] }] },
    expect: [
      'MeshVmArgs.egress[0].hosts[0]: "reviews.bookinfo.svc.cluster.local" is not in namespace/dnsName form (for example "./*" or "istio-system/*"); use namespace/dnsName, e.g. "./*" or "istio-system/*"',
    ],
  },
  {
    what: "egress without hosts",
    args: { egress: [{ bind: "127.0.0.2", hosts: [] }] },
    expect: [
      'MeshVmArgs.egress[0].hosts: an egress listener needs at least one host; add a host in namespace/dnsName form, e.g. "./*"',
    ],
  },
  {
    what: "egress bind not an IP",
    args: { egress: [{ bind: "localhost", hosts: ["./*"] }] },
    expect: [
      'MeshVmArgs.egress[0].bind: "localhost" is neither an IP address nor a unix:// socket; use an IP such as "127.0.0.2" or unix:///path',
    ],
  },
  {
    what: "two portless egress listeners",
    args: {
      egress: [
        { bind: "127.0.0.2", hosts: ["./*"] },
        { bind: "127.0.0.3", hosts: ["istio-system/*"] },
      ],
    },
    expect: [
      "MeshVmArgs.egress[1]: only one egress listener may omit the port (MeshVmArgs.egress[0] already does); give this listener a port",
    ],
  },
  {
    what: "portless egress listener not last",
    args: {
      egress: [
        { bind: "127.0.0.2", hosts: ["./*"] },
        {
          bind: "127.0.0.3",
          hosts: ["istio-system/*"],
          port: { number: 8080, protocol: "HTTP", name: "http" },
        },
      ],
    },
    expect: [
      "MeshVmArgs.egress[0]: the egress listener without a port must be the last one; move it to the end of the list",
    ],
  },
  {
    what: "empty Sidecar",
    args: { ports: [], egress: [], serviceEntry: { enabled: false } },
    expect: [
      "MeshVmArgs.sidecar: the Sidecar would be empty (no ingress, egress or outbound policy), which Istio rejects; declare MeshVmArgs.ports or MeshVmArgs.egress, or set MeshVmArgs.sidecar.enabled to false",
    ],
  },
  {
    what: "Sidecar selecting on an absent label",
    args: { sidecar: { selectorLabelKeys: ["app", "tier"] } },
    expect: [
      'MeshVmArgs.sidecar.selectorLabelKeys[1]: label "tier" is not among the workload labels; add "tier" to MeshVmArgs.labels (or MeshVmArgs.metadataLabels) or remove it from the selector',
    ],
  },
];

describe("validateMeshVmArgs: Sidecar", () => {
  rejectsEach(rows);
});
