// validateMeshVmArgs, the tctl bootstrap settings (validation/bootstrap.ts).
import { describe } from "node:test";
import { rejectsEach, Row } from "./meshVmRows";

const rows: Row[] = [
  {
    what: "proxyInstanceIp not an IP",
    args: { proxyInstanceIp: "vm.internal" },
    expect: [
      'MeshVmArgs.proxyInstanceIp: "vm.internal" is not an IP address; use the IP of the VM interface that receives inbound traffic, e.g. "10.128.0.2"',
    ],
  },
  {
    what: "sshPort out of range",
    args: { sshPort: 0 },
    expect: ["MeshVmArgs.sshPort: port 0 is out of range 1-65535; use a port between 1 and 65535"],
  },
  {
    what: "proxyConfigDir relative / with shell characters",
    args: { proxyConfigDir: "etc/istio-proxy; rm -rf /" },
    expect: [
      'MeshVmArgs.proxyConfigDir: "etc/istio-proxy; rm -rf /" is not an absolute path; use a directory of its own, e.g. "/etc/istio-proxy" (root makes it the proxy user\'s, mode 775)',
    ],
  },
];

describe("validateMeshVmArgs: bootstrap settings", () => {
  rejectsEach(rows);
});
