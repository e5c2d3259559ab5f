// The test bed's Envoy validator (scripts/testbed/envoy-validate, Envoy's API rules from go-control-plane) is
// a real part: it accepts a rendered config and refuses each kind of mistake Envoy would refuse at load time.
// A validator that accepted everything would make every rendered-variant test vacuous; these cases stop that.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse, stringify } from "yaml";
import { envoyPaths } from "../../../components/runtime/envoyArgs";
import {
  envoyValidatorPath,
  validateEnvoyConfig,
  validateEnvoyFiles,
  VmFile,
} from "../../../scripts/testbed/envoyValidator";
import { renderedFiles, selfSignedWorkload, settingsOf } from "./envoyFixtures";

const s = settingsOf({
  upstreams: [
    {
      host: "reviews.bookinfo.svc.cluster.local",
      port: 9080,
      serviceAccount: "bookinfo-reviews",
      localPort: 9080,
    },
    {
      host: "mysql.db.svc.cluster.local",
      port: 3306,
      protocol: "TCP",
      serviceAccount: "mysql",
      localPort: 3306,
    },
  ],
});
const p = envoyPaths(s.configDir);

/** The rendered files with the config (or another file) changed by `edit` on its parsed YAML. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function edited(edit: (doc: any) => void, path = p.config): VmFile[] {
  return renderedFiles(s).map((f) => {
    if (f.path !== path) return f;
    const doc = parse(f.content);
    edit(doc);
    return { ...f, content: stringify(doc) };
  });
}

function refused(files: VmFile[], pattern: RegExp): void {
  const r = validateEnvoyFiles(files, p.config);
  assert.equal(r.ok, false, "the validator must refuse this config");
  assert.ok(
    r.problems.some((l) => pattern.test(l)),
    `a problem matching ${pattern} in:\n${r.problems.join("\n")}`,
  );
}

describe("envoy-validate (test bed part)", () => {
  it("is built by the set-up phase, and a missing build fails naming the set-up command", () => {
    assert.match(envoyValidatorPath(), /envoy-validate\/[0-9a-f]{16}\/envoy-validate$/);
    const saved = process.env.MESH_VM_CACHE;
    process.env.MESH_VM_CACHE = "/nonexistent/mesh-vm-cache";
    try {
      assert.throws(
        () => envoyValidatorPath(),
        /is missing\); run scripts\/test\.sh unit .*ensure_envoy_validator/,
      );
    } finally {
      if (saved === undefined) delete process.env.MESH_VM_CACHE;
      else process.env.MESH_VM_CACHE = saved;
    }
  });

  it("accepts the rendered config with its SDS and PEM files and lists what it defines", () => {
    const r = validateEnvoyFiles(renderedFiles(s), p.config);
    assert.deepEqual(r.problems, []);
    assert.deepEqual(r.summary!.clusters, [
      "outbound_.9080_._.reviews.bookinfo.svc.cluster.local",
      "outbound_.3306_._.mysql.db.svc.cluster.local",
    ]);
    assert.deepEqual(r.summary!.secrets, ["ROOTCA", "default"]);
    assert.deepEqual(r.summary!.files, [p.certChain, p.key, p.root].sort());
  });

  it("refuses an unknown field (a typo Envoy would refuse)", () => {
    refused(
      edited((d) => (d.static_resources.listeners[0].address.socket_address.port = 9080)),
      /unknown field "port"/,
    );
  });

  it("refuses a port above 65535 (a proto rule)", () => {
    refused(
      edited((d) => (d.static_resources.listeners[0].address.socket_address.port_value = 70000)),
      /PortValue/,
    );
  });

  it("refuses a broken typed_config found only by unpacking the Any (empty stat_prefix)", () => {
    refused(
      edited(
        (d) => (d.static_resources.listeners[1].filter_chains[0].filters[0].typed_config.stat_prefix = ""),
      ),
      /TcpProxy\.StatPrefix/,
    );
  });

  it("refuses a typed_config of an unknown type", () => {
    refused(
      edited(
        (d) =>
          (d.static_resources.listeners[1].filter_chains[0].filters[0].typed_config["@type"] =
            "type.googleapis.com/envoy.NoSuchFilter"),
      ),
      /unable to resolve|not a valid Bootstrap/,
    );
  });

  it("refuses a reference to a cluster that is not defined", () => {
    refused(
      edited((d) => d.static_resources.clusters.splice(1, 1)),
      /cluster "outbound_\.3306_\._\.mysql\.db\.svc\.cluster\.local" is not defined/,
    );
  });

  it("refuses an HTTP route to a cluster that is not defined", () => {
    refused(
      edited(
        (d) =>
          (d.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes[0].route.cluster =
            "nope"),
      ),
      /cluster "nope" is not defined/,
    );
  });

  it("refuses an HTTP filter chain that does not end in the router", () => {
    refused(
      edited((d) => {
        const hcm = d.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
        hcm.http_filters.push({
          name: "x",
          typed_config: {
            "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
          },
        });
      }),
      /last HTTP filter "x" is not the router/,
    );
  });

  it("refuses a DNS name in a STATIC cluster", () => {
    refused(
      edited(
        (d) =>
          (d.static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address =
            "gw.example.com"),
      ),
      /STATIC cluster .* non-IP address/,
    );
  });

  it("refuses two listeners on one socket", () => {
    refused(
      edited((d) => (d.static_resources.listeners[1].address.socket_address.port_value = 9080)),
      /binds 127\.0\.0\.1:9080/,
    );
  });

  it("refuses a missing SDS file, a secret of another name, and a key that is not the certificate's", () => {
    refused(
      renderedFiles(s).filter((f) => f.path !== p.rootSds),
      /SDS file "\/etc\/envoy\/certs\/root-ca\.yaml" does not exist/,
    );
    refused(
      edited((d) => (d.resources[0].name = "other"), p.certificateSds),
      /has no secret named "default"/,
    );
    const other = selfSignedWorkload();
    refused(
      renderedFiles(s).map((f) => (f.path === p.key ? { ...f, content: other.key } : f)),
      /private key does not belong/,
    );
    refused(
      renderedFiles(s).filter((f) => f.path !== p.root),
      /file "\/etc\/envoy\/certs\/root-cert\.pem" does not exist/,
    );
  });

  it("reads a config alone without file checks", () => {
    const config = renderedFiles(s).find((f) => f.path === p.config)!.content;
    assert.equal(validateEnvoyConfig(config).ok, true);
    assert.equal(validateEnvoyConfig(config.replace("stat_prefix", "stat_prefixx")).ok, false);
  });
});
