// validateMeshVmArgs: the CRD CEL and webhook rules, one row per mistake with the exact message a user sees.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { PlainMeshVmArgs } from "../../../components";
import { validateMeshVmArgs } from "../../../components";
import { formatIssue } from "../../../components/rules/issues";
import { ratingsVmArgs } from "../fixtures/ratings";

const valid = ratingsVmArgs as PlainMeshVmArgs;

function messages(args: PlainMeshVmArgs): string[] {
  return validateMeshVmArgs(args).map(formatIssue);
}

interface Row {
  what: string;
  args: Partial<PlainMeshVmArgs>;
  expect: string[];
}

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
    what: "proxyInstanceIp not an IP",
    args: { proxyInstanceIp: "vm.internal" },
    expect: [
      'MeshVmArgs.proxyInstanceIp: "vm.internal" is not an IP address; use the IP of the VM interface that receives inbound traffic, e.g. "10.128.0.2"',
    ],
  },
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
    what: "missing app label",
    args: { labels: { version: "v3" }, sidecar: { selectorLabelKeys: ["class"] } },
    expect: [
      'MeshVmArgs.labels["app"]: the app label is required (Sidecar/ServiceEntry selectors and telemetry use it); add app: <service name> to MeshVmArgs.labels',
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
      'MeshVmArgs.sidecar.selectorLabelKeys[1]: label "tier" is not among the workload labels; add "tier" to MeshVmArgs.labels or remove it from the selector',
    ],
  },
  {
    what: "unsupported apiVersion",
    args: { apiVersion: "networking.istio.io/v2" },
    expect: [
      'MeshVmArgs.apiVersion: apiVersion "networking.istio.io/v2" is not supported; use one of networking.istio.io/v1, networking.istio.io/v1beta1, networking.istio.io/v1alpha3',
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
  {
    what: "bootstrap annotation given as a raw annotation",
    args: { annotations: { "sidecar-bootstrap.istio.io/ssh-user": "root" } },
    expect: [
      'MeshVmArgs.annotations["sidecar-bootstrap.istio.io/ssh-user"]: bootstrap annotations are generated from typed inputs; remove it and set the matching MeshVmArgs field (sshHost, sshPort, sshUser, scpPath, proxyConfigDir, proxyImageHub, proxyInstanceIp, proxyContainerName)',
    ],
  },
  {
    what: "unknown flavor",
    args: { flavor: "linkerd" },
    expect: ['MeshVmArgs.flavor: flavor "linkerd" is not supported; use one of istio, tsb'],
  },
  {
    what: "locality with too many parts",
    args: { locality: "a/b/c/d" },
    expect: [
      'MeshVmArgs.locality: locality "a/b/c/d" is not region/zone/subzone; use e.g. "us-central1/us-central1-a"',
    ],
  },
];

describe("validateMeshVmArgs", () => {
  it("accepts the seeds' ratings example", () => {
    assert.deepStrictEqual(messages(valid), []);
  });

  it("accepts unix sockets, IPv6 endpoints and network-only workloads without a ServiceEntry", () => {
    assert.deepStrictEqual(
      messages({
        ...valid,
        address: undefined,
        serviceEntry: { enabled: false },
        ports: [
          { name: "http", number: 9080, defaultEndpoint: "[::1]:9080" },
          { name: "grpc", number: 9090, protocol: "GRPC", defaultEndpoint: "unix:///var/run/app.sock" },
        ],
        egress: [
          {
            bind: "127.0.0.3",
            hosts: ["istio-system/*"],
            port: { number: 15012, protocol: "TLS", name: "tls" },
          },
          { bind: "127.0.0.2", hosts: ["./*", "*/reviews.bookinfo.svc.cluster.local", "~/*.example.org"] },
        ],
      }),
      [],
    );
  });

  for (const row of rows) {
    it(`rejects: ${row.what}`, () => {
      assert.deepStrictEqual(messages({ ...valid, ...row.args } as PlainMeshVmArgs), row.expect);
    });
  }
});
