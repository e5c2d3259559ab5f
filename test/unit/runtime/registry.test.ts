// The runtime registry and the container runtime's plan: an unknown `runtime` is refused at preview naming the
// field and the runtimes there are, wherever it is given (VmProxy, VmBoot, MeshVm host and boot); a settings
// block for another runtime than the chosen one is refused naming both; the container plan is what every
// delivery runs (its config digest never covers the token).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fieldNames } from "../../../components/rules/issues";
import { renderContainerPlan } from "../../../components/runtime/container";
import {
  runtimeIssues,
  runtimeDefinition,
  type RuntimeDefinition,
} from "../../../components/runtime/registry";
import { validateVmProxyArgs } from "../../../components/host/vmProxyValidation";
import { validateMeshVmHostArgs } from "../../../components/validation/meshVmHostArgs";
import { validateMeshVmBootArgs } from "../../../components/validation/meshVmBootArgs";
import { VmBoot } from "../../../components/boot/vmBoot";

const workload = {
  name: "ratings-vm",
  namespace: "bookinfo",
  serviceAccount: "bookinfo-ratings",
  address: "203.0.113.10",
};
const material = { token: "TOKEN", meshRootCert: "MESH", kubernetesRootCert: "K8S" };

describe("runtime input", () => {
  it("an unknown runtime is refused naming the field and the runtimes there are", () => {
    const cases = [
      validateVmProxyArgs({
        runtime: "podman",
        ssh: { host: "h", hostKey: "ssh-ed25519 AAAA", privateKey: "k" },
        workload,
        kubeconfig: "x",
      }),
      validateMeshVmHostArgs({
        runtime: "podman",
        kubeconfig: "x",
        hostKey: "ssh-ed25519 AAAA",
        privateKey: "k",
      }),
      validateMeshVmBootArgs({ runtime: "podman", kubeconfig: "x" }, false),
    ];
    const fields = ["VmProxyArgs.runtime", "MeshVmArgs.host.runtime", "MeshVmArgs.boot.runtime"];
    for (const [i, issues] of cases.entries()) {
      const found = issues.find((x) => x.field === fields[i]);
      assert.ok(found, `${fields[i]}: ${JSON.stringify(issues)}`);
      assert.match(found.problem, /"podman" is not a runtime/);
      assert.match(found.fix, /"container"/);
    }
    assert.deepEqual(runtimeIssues({ runtime: "container" }, fieldNames("X")), []);
    assert.deepEqual(runtimeIssues({}, fieldNames("X")), []);
    assert.throws(() => runtimeDefinition("podman"), /runtime "podman" is not one of container/);
  });

  it("a runtime's settings block is refused for another runtime and checked by its own validator otherwise", () => {
    const registry: Record<string, RuntimeDefinition> = {
      container: { render: renderContainerPlan },
      envoy: {
        render: renderContainerPlan,
        settingsField: "envoy",
        settingsIssues: (v, field) =>
          (v as { port?: unknown }).port === 0 ? [{ field: field("port"), problem: "0", fix: "a port" }] : [],
      },
    };
    const f = fieldNames("MeshVmArgs.host");
    const other = runtimeIssues({ envoy: {} }, f, registry);
    assert.equal(other.length, 1);
    assert.equal(other[0]!.field, "MeshVmArgs.host.envoy");
    assert.match(other[0]!.problem, /MeshVmArgs\.host\.runtime is "container"/);
    assert.deepEqual(
      runtimeIssues({ runtime: "envoy", envoy: { port: 0 } }, f, registry).map((x) => x.field),
      ["MeshVmArgs.host.envoy.port"],
    );
    assert.match(runtimeIssues({ runtime: "x" }, f, registry)[0]!.fix, /"container", "envoy"/);
  });
});

describe("container runtime plan", () => {
  it("four files in proxyConfigDir as the proxy account, the token re-read (no restart), digest without the token", () => {
    const plan = renderContainerPlan({ workload, egressHostnames: ["reviews.bookinfo.svc"] }, material);
    assert.equal(plan.runtime, "container");
    assert.equal(plan.runsAs, "account");
    assert.deepEqual(plan.account, { user: "istio-proxy", groups: ["docker"] });
    assert.deepEqual(
      plan.files.map((f) => [f.path, f.mode, f.owner, f.secret, f.restartsProxy]),
      [
        ["/etc/istio-proxy/sidecar.env", "0644", "istio-proxy", false, true],
        ["/etc/istio-proxy/istio-ca.pem", "0644", "istio-proxy", false, true],
        ["/etc/istio-proxy/k8s-ca.pem", "0644", "istio-proxy", false, true],
        ["/etc/istio-proxy/istio-token", "0640", "istio-proxy", true, false],
      ],
    );
    assert.equal(
      renderContainerPlan({ workload }, { ...material, token: "OTHER" }).configDigest,
      plan.configDigest,
    );
    assert.notEqual(
      renderContainerPlan({ workload }, { ...material, meshRootCert: "M2" }).configDigest,
      plan.configDigest,
    );
    assert.ok(plan.start.includes(plan.configDigest), "start compares the container's digest label");
    assert.ok(
      !plan.start.includes("TOKEN") && !plan.prepare.apply.includes("TOKEN"),
      "no secret in a script",
    );
    assert.deepEqual(plan.hostsBlock, {
      owner: "bookinfo/ratings-vm",
      address: "127.0.0.2",
      hostnames: ["reviews.bookinfo.svc"],
    });
    assert.equal(renderContainerPlan({ workload }, material).hostsBlock, undefined);
    assert.equal(plan.readiness?.url, "http://127.0.0.1:15021/healthz/ready");
  });
});

describe("a standalone VmBoot", () => {
  it("is validated like VmProxy before it registers: a bad account, container name and config dir are refused", () => {
    assert.throws(
      () =>
        new VmBoot("vb-bad", {
          workload,
          kubeconfig: "x",
          sshUser: "Bad User",
          proxyContainerName: "-x",
          proxyConfigDir: "/etc",
          runtime: "podman",
        }),
      (e: Error) =>
        [
          "VmBootArgs.sshUser",
          "VmBootArgs.proxyContainerName",
          "VmBootArgs.proxyConfigDir",
          "VmBootArgs.runtime",
        ].every((f) => e.message.includes(f)),
    );
  });
});
