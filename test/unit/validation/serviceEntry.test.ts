// validateMeshVmArgs, the ServiceEntry checks (validation/serviceEntry.ts).
import { describe } from "node:test";
import { rejectsEach, Row } from "./meshVmRows";

const rows: Row[] = [
  {
    what: "ServiceEntry host *",
    args: { serviceEntry: { hosts: ["*"] } },
    expect: [
      'MeshVmArgs.serviceEntry.hosts[0]: host "*" is not allowed in a ServiceEntry; use the service\'s host name, e.g. "ratings-vm.bookinfo.svc.cluster.local"',
    ],
  },
  {
    what: "ServiceEntry without ports",
    args: { ports: [] },
    expect: [
      "MeshVmArgs.ports: a ServiceEntry needs at least one port; declare the VM's ports, or set MeshVmArgs.serviceEntry.enabled to false",
    ],
  },
];

describe("validateMeshVmArgs: ServiceEntry", () => {
  rejectsEach(rows);
});
