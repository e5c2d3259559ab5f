// validateMeshVmArgs, the WorkloadEntry checks (validation/workloadEntry.ts): identity, address, locality,
// labels, annotations and ports, each refused naming the input and the fix.
import { describe } from "node:test";
import { rejectsEach, Row } from "./meshVmRows";

const rows: Row[] = [
  {
    what: "port out of range",
    args: { ports: [{ name: "http", number: 70000 }] },
    expect: [
      'MeshVmArgs.ports["http"].number: port 70000 is out of range 1-65535; use a port between 1 and 65535',
    ],
  },
  {
    what: "port zero",
    args: { ports: [{ name: "http", number: 0 }] },
    expect: [
      'MeshVmArgs.ports["http"].number: port 0 is out of range 1-65535; use a port between 1 and 65535',
    ],
  },
  {
    what: "port name not DNS-1123",
    args: { ports: [{ name: "Bad_Name", number: 9080 }] },
    expect: [
      'MeshVmArgs.ports["Bad_Name"].name: port name "Bad_Name" is not a DNS-1123 label (lower-case letters, digits and \'-\', starting and ending with a letter or digit); use a DNS-1123 label such as "http" or "grpc-api"',
    ],
  },
  {
    what: "duplicate port names and numbers",
    args: {
      ports: [
        { name: "http", number: 9080 },
        { name: "http", number: 9080 },
      ],
    },
    expect: [
      'MeshVmArgs.ports["http"].name: port name "http" is also used by MeshVmArgs.ports[0]; give every port a unique name',
      'MeshVmArgs.ports["http"].number: port 9080 is also used by MeshVmArgs.ports[0]; use each port number once',
    ],
  },
  {
    what: "unknown protocol",
    args: { ports: [{ name: "http", number: 9080, protocol: "QUIC" }] },
    expect: [
      'MeshVmArgs.ports["http"].protocol: protocol "QUIC" is not supported; use one of HTTP, HTTPS, GRPC, HTTP2, MONGO, TCP, TLS',
    ],
  },
  {
    what: "defaultEndpoint on a non-loopback address",
    args: { ports: [{ name: "http", number: 9080, defaultEndpoint: "10.0.0.1:9080" }] },
    expect: [
      'MeshVmArgs.ports["http"].defaultEndpoint: "10.0.0.1:9080" is not one of 127.0.0.1:<port>, 0.0.0.0:<port>, [::1]:<port>, [::]:<port> or unix://<path>; use e.g. "127.0.0.1:9080" (where the application listens)',
    ],
  },
  {
    what: "defaultEndpoint relative unix socket",
    args: { ports: [{ name: "http", number: 9080, defaultEndpoint: "unix://sock" }] },
    expect: [
      'MeshVmArgs.ports["http"].defaultEndpoint: "unix://sock" must name an absolute path (unix:///path) or an abstract socket (unix://@name); use e.g. "127.0.0.1:9080" (where the application listens)',
    ],
  },
  {
    what: "address and network both missing",
    args: { address: undefined, network: undefined, serviceEntry: { enabled: false } },
    expect: [
      "MeshVmArgs.address: address is required unless network is set; set MeshVmArgs.address to the IP pods use to reach the VM, or set MeshVmArgs.network",
    ],
  },
  {
    what: "DNS address with a STATIC ServiceEntry",
    args: { address: "ratings.example.com" },
    expect: [
      'MeshVmArgs.address: "ratings.example.com" is not an IP address, which a STATIC ServiceEntry needs; use the VM\'s IP, or set MeshVmArgs.serviceEntry.enabled to false',
    ],
  },
  {
    what: "DNS address without proxyInstanceIp",
    args: { address: "ratings.example.com", proxyInstanceIp: undefined, serviceEntry: { enabled: false } },
    expect: [
      'MeshVmArgs.proxyInstanceIp: required because address "ratings.example.com" is not an IP (tctl derives INSTANCE_IP from it); set MeshVmArgs.proxyInstanceIp to the VM\'s IP the proxy binds to',
    ],
  },
  {
    what: "missing app label",
    args: { labels: { version: "v3" }, sidecar: { selectorLabelKeys: ["class"] } },
    expect: [
      'MeshVmArgs.labels["app"]: the app label is required (Sidecar/ServiceEntry selectors and telemetry use it); add app: <service name> to MeshVmArgs.labels (or to MeshVmArgs.metadataLabels, where tctl also reads it)',
    ],
  },
  {
    what: "missing version label on TSB",
    args: { labels: { app: "ratings" } },
    expect: [
      'MeshVmArgs.labels["version"]: the version label is required for TSB observability; add version: <version> (e.g. "v3") to MeshVmArgs.labels',
    ],
  },
  {
    what: "invalid label value",
    args: { labels: { app: "ratings", version: "v3!" } },
    expect: [
      "MeshVmArgs.labels[\"version\"]: label value \"v3!\" may only contain letters, digits, '-', '_' and '.', starting and ending with a letter or digit; use at most 63 letters, digits, '-', '_' or '.'",
    ],
  },
  {
    what: "invalid serviceAccount",
    args: { serviceAccount: "Bookinfo_Ratings" },
    expect: [
      "MeshVmArgs.serviceAccount: \"Bookinfo_Ratings\" is not a DNS-1123 subdomain (lower-case letters, digits, '-' and '.', starting and ending with a letter or digit); use a valid ServiceAccount name, e.g. \"bookinfo-ratings\"",
    ],
  },
  {
    what: "missing serviceAccount",
    args: { serviceAccount: "" },
    expect: [
      'MeshVmArgs.serviceAccount: serviceAccount is required (tctl refuses WorkloadEntries without one); set MeshVmArgs.serviceAccount to the ServiceAccount the VM runs as, e.g. "bookinfo-ratings"',
    ],
  },
  {
    what: "invalid namespace",
    args: { namespace: "book.info" },
    expect: [
      "MeshVmArgs.namespace: \"book.info\" is not a DNS-1123 label (lower-case letters, digits and '-', starting and ending with a letter or digit); use lower-case letters, digits and '-', e.g. \"bookinfo\"",
    ],
  },
  {
    what: "bootstrap annotation given as a raw annotation",
    args: { annotations: { "sidecar-bootstrap.istio.io/ssh-user": "root" } },
    expect: [
      'MeshVmArgs.annotations["sidecar-bootstrap.istio.io/ssh-user"]: bootstrap annotations are generated from typed inputs; remove it and set the matching MeshVmArgs field (sshHost, sshPort, sshUser, scpPath, proxyConfigDir, proxyImageHub, proxyInstanceIp, proxyContainerName)',
    ],
  },
  {
    what: "locality with too many parts",
    args: { locality: "a/b/c/d" },
    expect: [
      'MeshVmArgs.locality: locality "a/b/c/d" is not region/zone/subzone; use e.g. "us-central1/us-central1-a"',
    ],
  },
];

describe("validateMeshVmArgs: WorkloadEntry", () => {
  rejectsEach(rows);
});
