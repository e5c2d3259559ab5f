// The proxy follows the control plane: the injector's install values parsed as tctl reads them, the image and log
// levels taken from them where the VM pins none, and a pinned version outside Istio's skew warned about.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  controlPlaneProxyOf,
  injectorConfigMapName,
  proxySkewWarning,
  proxyVersionSkewProblem,
} from "../../../components/host/controlPlaneProxy";
import { proxyArgsOf, proxyImageOf } from "../../../components/host/proxyContainer";

const VALUES = JSON.stringify({
  global: {
    hub: "docker.io/tetrate",
    tag: "1.24.2",
    jwtPolicy: "third-party-jwt",
    proxy: { image: "proxyv2", logLevel: "warning", componentLogLevel: "misc:error" },
  },
});

describe("controlPlaneProxyOf: the injector's values", () => {
  it("reads hub, image, tag and log levels from values.global", () => {
    assert.deepEqual(controlPlaneProxyOf(VALUES, "ConfigMap istio-system/istio-sidecar-injector"), {
      hub: "docker.io/tetrate",
      image: "proxyv2",
      tag: "1.24.2",
      logLevel: "warning",
      componentLogLevel: "misc:error",
    });
  });

  it("leaves out what the values lack, and reads a numeric tag as text", () => {
    assert.deepEqual(controlPlaneProxyOf(JSON.stringify({ global: { tag: 1.24, hub: "" } }), "cm"), {
      tag: "1.24",
    });
    assert.deepEqual(controlPlaneProxyOf("{}", "cm"), {});
  });

  it("refuses values that are not a JSON object, naming the ConfigMap", () => {
    assert.throws(
      () => controlPlaneProxyOf("global: {}", "ConfigMap istio-system/x"),
      /ConfigMap istio-system\/x: key "values" is not JSON/,
    );
    assert.throws(() => controlPlaneProxyOf("[1]", "ConfigMap istio-system/x"), /is not a JSON object/);
  });

  it("names the injector ConfigMap of a revision as istioctl does", () => {
    assert.equal(injectorConfigMapName(), "istio-sidecar-injector");
    assert.equal(injectorConfigMapName("default"), "istio-sidecar-injector");
    assert.equal(injectorConfigMapName("1-24-2"), "istio-sidecar-injector-1-24-2");
  });
});

describe("the proxy image and arguments follow the control plane where unset", () => {
  const cp = controlPlaneProxyOf(VALUES, "cm");
  const workload = { name: "vm", namespace: "ns", serviceAccount: "sa", address: "10.0.0.1" };

  it("takes hub, image and tag from the control plane", () => {
    assert.equal(proxyImageOf({ controlPlaneProxy: cp }), "docker.io/tetrate/proxyv2:1.24.2");
    assert.equal(
      proxyImageOf({}),
      "docker.io/istio/proxyv2:latest",
      "without it: Istio's defaults, as before",
    );
  });

  it("lets the VM's own hub, tag, full image and the WorkloadEntry's annotation win", () => {
    assert.equal(
      proxyImageOf({ controlPlaneProxy: cp, proxyImageTag: "1.24.1" }),
      "docker.io/tetrate/proxyv2:1.24.1",
    );
    assert.equal(proxyImageOf({ controlPlaneProxy: cp, proxyImageHub: "r.local" }), "r.local/proxyv2:1.24.2");
    assert.equal(proxyImageOf({ controlPlaneProxy: cp, proxyImage: "r.local/p:1" }), "r.local/p:1");
    const annotated = { ...workload, annotations: { "sidecar.istio.io/proxyImage": "a.local/p:2" } };
    assert.equal(proxyImageOf({ controlPlaneProxy: cp }, annotated), "a.local/p:2");
  });

  it("takes the log levels from the control plane unless the VM sets them", () => {
    const args = proxyArgsOf(workload, {}, {}, cp);
    assert.equal(args[args.indexOf("--proxyLogLevel") + 1], "warning");
    assert.equal(args[args.indexOf("--proxyComponentLogLevel") + 1], "misc:error");
    const own = proxyArgsOf(workload, {}, { logLevel: "debug" }, cp);
    assert.equal(own[own.indexOf("--proxyLogLevel") + 1], "debug");
    const none = proxyArgsOf(workload, {}, {});
    assert.equal(none[none.indexOf("--proxyLogLevel") + 1], "info");
  });
});

describe("the supported skew (the control plane may be one minor ahead; the proxy never ahead)", () => {
  const cases: [string, string, RegExp | undefined][] = [
    ["1.24.2", "1.24.0", undefined],
    ["1.23.5", "1.24.2", undefined],
    ["1.8.6-p1-a924eb8aa1-distroless", "1.8.6", undefined],
    ["1.22.0", "1.24.2", /2 minor versions behind/],
    ["1.25.0", "1.24.2", /newer than the control plane's/],
    ["2.0.0", "1.24.2", /differ in major version/],
    ["latest", "1.24.2", undefined],
    ["1.24.2", "master-abcdef", undefined],
  ];
  for (const [proxy, cp, want] of cases) {
    it(`${proxy} against ${cp}: ${want ? "outside" : "inside or unknown"}`, () => {
      const got = proxyVersionSkewProblem(proxy, cp);
      if (want) assert.match(got ?? "", want);
      else assert.equal(got, undefined);
    });
  }

  it("warns about the pinned field of each runtime, with the fix", () => {
    const controlPlaneProxy = { tag: "1.24.2" };
    assert.match(
      proxySkewWarning({ proxyImageTag: "1.22.1", controlPlaneProxy }) ?? "",
      /^proxyImageTag: proxy 1.22.1 is 2 minor versions behind .*unset it to follow the control plane/,
    );
    assert.match(
      proxySkewWarning({ proxyImage: "r.local:5000/proxyv2:1.26.0", controlPlaneProxy }) ?? "",
      /^proxyImage: proxy 1.26.0 is newer/,
    );
    assert.equal(
      proxySkewWarning({ proxyImage: "r.local/proxyv2@sha256:abc", controlPlaneProxy }),
      undefined,
    );
    assert.match(
      proxySkewWarning({ runtime: "package", sidecarPackage: { version: "1.21.0" }, controlPlaneProxy }) ??
        "",
      /^sidecarPackage.version: proxy 1.21.0 is 3 minor versions behind/,
    );
    assert.equal(
      proxySkewWarning({ runtime: "envoy", proxyImageTag: "1.10.0", controlPlaneProxy }),
      undefined,
    );
    assert.equal(
      proxySkewWarning({ proxyImageTag: "1.10.0" }),
      undefined,
      "no control plane read: nothing to compare",
    );
    assert.equal(proxySkewWarning({ controlPlaneProxy }), undefined, "nothing pinned: it follows");
  });
});
