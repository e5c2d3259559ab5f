// MeshVm with Pulumi mocks: the seeds' ratings example, rebuilt and compared field by field with the seed.
import "./helpers/pulumiMocks";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { describe, it } from "node:test";
import { parse, parseAllDocuments } from "yaml";
import { MeshVm } from "../../components";
import { ratingsVmArgs, seedSidecarYaml, seedWorkloadEntryYaml } from "./fixtures/ratings";
import { readTsbOnboardingSeed } from "./fixtures/seeds";
import { registered, settle, valueOf } from "./helpers/pulumiMocks";

/** Every `key: value` line of a fixture must occur in the seed (the seed text lost its indentation). */
function assertFixtureMatchesSeed(fixture: string): void {
  const seedLines = new Set(
    readTsbOnboardingSeed()
      .split("\n")
      .map((l) => l.trim()),
  );
  for (const line of fixture.split("\n")) {
    const t = line.trim();
    if (t === "") continue;
    assert.ok(seedLines.has(t), `fixture line "${t}" is not in the seed`);
  }
}

describe("MeshVm: the seeds' ratings example", () => {
  const vm = new MeshVm("ratings", ratingsVmArgs);

  it("fixtures are the seed's text", () => {
    assertFixtureMatchesSeed(seedWorkloadEntryYaml);
    assertFixtureMatchesSeed(seedSidecarYaml);
  });

  it("registers the WorkloadEntry exactly as the seed's", async () => {
    await valueOf(vm.objects);
    await settle();
    const [we] = registered("ratings-workloadentry");
    assert.ok(we);
    assert.equal(we.type, "kubernetes:networking.istio.io/v1beta1:WorkloadEntry");
    assert.deepStrictEqual(we.inputs, parse(seedWorkloadEntryYaml));
  });

  it("registers the Sidecar exactly as the seed's", async () => {
    await settle();
    const [sc] = registered("ratings-sidecar");
    assert.ok(sc);
    assert.equal(sc.type, "kubernetes:networking.istio.io/v1beta1:Sidecar");
    assert.deepStrictEqual(sc.inputs, parse(seedSidecarYaml));
  });

  it("registers a MESH_INTERNAL STATIC ServiceEntry selecting the WorkloadEntry labels", async () => {
    await settle();
    const [se] = registered("ratings-serviceentry");
    assert.ok(se);
    assert.equal(se.type, "kubernetes:networking.istio.io/v1beta1:ServiceEntry");
    assert.deepStrictEqual(se.inputs, {
      apiVersion: "networking.istio.io/v1beta1",
      kind: "ServiceEntry",
      metadata: { name: "ratings-vm", namespace: "bookinfo" },
      spec: {
        hosts: ["ratings-vm.bookinfo.svc.cluster.local"],
        location: "MESH_INTERNAL",
        ports: [{ name: "http", number: 9080, protocol: "HTTP" }],
        resolution: "STATIC",
        workloadSelector: { labels: { app: "ratings", class: "vm", version: "v3" } },
      },
    });
  });

  it("creates no ServiceAccount or WorkloadGroup unless asked", async () => {
    await settle();
    assert.equal(registered("ratings-serviceaccount").length, 0);
    assert.equal(registered("ratings-workloadgroup").length, 0);
  });

  it("outputs names, identity and tctl settings with tctl defaults", async () => {
    assert.equal(await valueOf(vm.workloadEntryName), "ratings-vm");
    assert.equal(await valueOf(vm.sidecarName), "bookinfo-ratings-no-iptables");
    assert.equal(await valueOf(vm.serviceEntryName), "ratings-vm");
    assert.equal(await valueOf(vm.workloadGroupName), undefined);
    assert.equal(await valueOf(vm.serviceAccountName), "bookinfo-ratings");
    assert.equal(await valueOf(vm.namespace), "bookinfo");
    assert.equal(await valueOf(vm.spiffeId), "spiffe://cluster.local/ns/bookinfo/sa/bookinfo-ratings");
    const docs = parseAllDocuments(await valueOf(vm.manifests)).map((d) => d.toJS() as { kind: string });
    assert.deepStrictEqual(
      docs.map((d) => d.kind),
      ["WorkloadEntry", "Sidecar", "ServiceEntry"],
    );
    assert.deepStrictEqual(docs[0], parse(seedWorkloadEntryYaml));
    assert.deepStrictEqual(docs[1], parse(seedSidecarYaml));
    const s = await valueOf(vm.settings);
    assert.deepStrictEqual(s.bootstrap, {
      sshHost: "35.194.38.142",
      sshPort: 22,
      sshUser: "istio-proxy",
      scpPath: "/usr/bin/scp",
      proxyConfigDir: "/etc/istio-proxy",
      proxyImageHub: "docker.io/tetrate",
      proxyInstanceIp: "10.128.0.2",
      proxyContainerName: "istio-proxy",
    });
  });

  it("aliases every other served apiVersion so switching versions is not a replacement", async () => {
    // SDK-side transformations see each child's final options, including the aliases the engine matches
    // old state against (the mock monitor does not receive aliases).
    const seen = new Map<string, unknown[]>();
    const v1 = new MeshVm(
      "ratings-v1",
      { ...ratingsVmArgs, apiVersion: "v1" },
      {
        transformations: [
          (a) => {
            seen.set(a.name, [...(a.opts.aliases ?? [])]);
            return undefined;
          },
        ],
      },
    );
    await valueOf(v1.objects);
    await settle();
    const [we] = registered("ratings-v1-workloadentry");
    assert.ok(we);
    assert.equal(we.type, "kubernetes:networking.istio.io/v1:WorkloadEntry");
    assert.equal((we.inputs as { apiVersion: string }).apiVersion, "networking.istio.io/v1");
    for (const kind of ["WorkloadEntry", "Sidecar", "ServiceEntry"]) {
      assert.deepStrictEqual(seen.get(`ratings-v1-${kind.toLowerCase()}`), [
        { type: `kubernetes:networking.istio.io/v1beta1:${kind}` },
        { type: `kubernetes:networking.istio.io/v1alpha3:${kind}` },
      ]);
    }
  });
});

describe("MeshVm: validation before anything is created", () => {
  it("throws synchronously on plain invalid inputs, naming the field and the fix", () => {
    const before = registered("bad-sync").length;
    assert.throws(
      () =>
        new MeshVm("bad-sync", {
          ...ratingsVmArgs,
          ports: [{ name: "http", number: 70000 }],
        }),
      (e: Error) => {
        assert.equal(e.name, "MeshVmValidationError");
        assert.match(
          e.message,
          /MeshVmArgs\.ports\["http"\]\.number: port 70000 is out of range 1-65535; use a port between 1 and 65535/,
        );
        return true;
      },
    );
    assert.equal(registered("bad-sync").length, before, "nothing registered");
  });

  it("checks inputs that are Outputs once they are known, and fails the children", () => {
    // Run as a program of its own: the failed registrations end the process the way the Pulumi language
    // host would report them, which a test runner would otherwise attribute to the wrong test.
    const r = spawnSync(
      process.execPath,
      ["--import", "tsx", path.join(__dirname, "helpers", "invalidOutputProgram.ts")],
      {
        encoding: "utf8",
        timeout: 60_000,
      },
    );
    assert.notEqual(r.status, 0, "the program fails");
    assert.match(
      r.stderr,
      /MeshVmArgs\.proxyInstanceIp: "10\.128\.0\.300" is not an IP address; use the IP of the VM interface/,
    );
    assert.doesNotMatch(r.stdout, /registered bad-async-/, "no child resource was registered");
    assert.match(
      r.stdout,
      /registered bad-async mesh-vm:index:MeshVm/,
      "the component itself was registered",
    );
  });
});
