// The drift check (components/host/driftCheck.ts) run for real in a sandbox (sh, coreutils, awk; a stub `docker` and
// `systemctl` first on PATH), and the drift resource's provider logic that turns a refresh's findings into repair
// markers (components/host/driftResource.ts). The end-to-end proof through the CLI is test/e2e/drift.test.ts.
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, writeFileSync, appendFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { driftCheckCommand, type DriftCheckSpec } from "../../../components/host/driftCheck";
import { driftProvider, runsAsComponentProvider } from "../../../components/host/driftResource";
import { renderHostsBlock } from "../../../components/host/hostsBlock";
import {
  fileEntriesOf,
  hostStepScripts,
  proxyStepScripts,
  repairLines,
} from "../../../components/host/remoteSteps";
import type { PlannedFile, RuntimePlan } from "../../../components/runtime/plan";
import { freshDir, run } from "./scriptSandbox";

function setUp(containerState: string | undefined) {
  const dir = freshDir();
  const bin = join(dir, "bin");
  mkdirSync(bin);
  // docker inspect answers the container's state, or fails as for a missing container.
  writeFileSync(
    join(bin, "docker"),
    containerState === undefined
      ? "#!/bin/sh\necho 'Error: no such object' >&2; exit 125\n"
      : `#!/bin/sh\necho ${containerState}\n`,
  );
  chmodSync(join(bin, "docker"), 0o755);
  writeFileSync(join(bin, "systemctl"), "#!/bin/sh\necho inactive; exit 3\n");
  chmodSync(join(bin, "systemctl"), 0o755);
  const files: PlannedFile[] = [
    { path: join(dir, "etc/sidecar.env"), content: "A=1\n", mode: "0644", secret: false },
    { path: join(dir, "etc/istio-token"), content: "TOKEN", mode: "0600", secret: true },
  ].map((f) => ({ ...f, owner: "x", group: "x", restartsProxy: !f.secret }));
  mkdirSync(join(dir, "etc"));
  for (const f of files) writeFileSync(f.path, f.content, { mode: Number.parseInt(f.mode, 8) });
  const block = renderHostsBlock({
    owner: "bookinfo/ratings-vm",
    address: "127.0.0.2",
    hostnames: ["a.b.svc"],
  });
  const hostsFile = join(dir, "hosts");
  writeFileSync(hostsFile, `127.0.0.1 localhost\n${block}::1 localhost\n`);
  const spec: DriftCheckSpec = {
    vm: "ratings-vm",
    probe: { container: "istio-proxy" },
    files: fileEntriesOf(files),
    hostsBlock: { owner: "bookinfo/ratings-vm", text: block },
    hostsFile,
  };
  const check = (s: DriftCheckSpec = spec) => {
    const r = run(driftCheckCommand(s, "user"), "", { PATH: `${bin}:${process.env.PATH}` });
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.split("\n").filter(Boolean);
  };
  return { dir, files, hostsFile, spec, check };
}

describe("the drift check script", () => {
  it("prints nothing when the VM is as applied", () => {
    assert.deepEqual(setUp("running").check(), []);
  });

  it("names each drifted part, prefixed with the step that repairs it and the VM", () => {
    const { dir, files, hostsFile, check } = setUp(undefined);
    appendFileSync(files[0]!.path, "EXTRA=1\n");
    rmSync(files[1]!.path);
    writeFileSync(hostsFile, "127.0.0.1 localhost\n");
    assert.deepEqual(check(), [
      `proxy ratings-vm: ${dir}/etc/sidecar.env changed`,
      `proxy ratings-vm: ${dir}/etc/istio-token missing`,
      "proxy ratings-vm: proxy container istio-proxy missing",
      `host ratings-vm: hosts block missing in ${hostsFile}`,
    ]);
  });

  it("a stopped container, a mode change, an edited block; a secret file's content is not compared", () => {
    const { files, hostsFile, check } = setUp("exited");
    chmodSync(files[0]!.path, 0o666);
    writeFileSync(files[1]!.path, "ANOTHER TOKEN", { mode: 0o600 });
    writeFileSync(
      hostsFile,
      "# BEGIN mesh-vm bookinfo/ratings-vm\n127.0.0.9 a.b.svc\n# END mesh-vm bookinfo/ratings-vm\n",
    );
    assert.deepEqual(
      check().map((l) => l.replace(/^(\w+) ratings-vm: .*\/etc\//, "$1 ratings-vm: …/")),
      [
        "proxy ratings-vm: …/sidecar.env mode changed",
        "proxy ratings-vm: proxy container istio-proxy exited",
        `host ratings-vm: hosts block changed in ${hostsFile}`,
      ],
    );
  });

  it("the package runtime's unit by systemctl", () => {
    const { spec, check } = setUp("running");
    assert.deepEqual(check({ ...spec, files: [], probe: { unit: "istio.service" } }), [
      "proxy ratings-vm: proxy unit istio.service inactive",
    ]);
  });
});

describe("repair markers", () => {
  const check = (olds: object, news: object) =>
    driftProvider.check!(olds, news) as Promise<{ inputs: Record<string, unknown> }>;

  it("drift recorded by a refresh becomes the repairing step's next marker, then is cleared", async () => {
    const { inputs } = await check(
      {
        proxyDrift: ["ratings-vm: proxy container istio-proxy missing"],
        hostDrift: [],
        proxyRepair: "",
        hostRepair: "",
      },
      { vm: "ratings-vm" },
    );
    assert.equal(inputs.proxyRepair, "1: ratings-vm: proxy container istio-proxy missing");
    assert.equal(inputs.hostRepair, "", "the host step is not re-run");
    assert.deepEqual([inputs.proxyDrift, inputs.hostDrift], [[], []]);
  });

  it("without drift the markers stay (a no-op up changes nothing); the same drift again gets a new number", async () => {
    const kept = await check({ proxyDrift: [], hostDrift: [], proxyRepair: "1: x", hostRepair: "" }, {});
    assert.deepEqual([kept.inputs.proxyRepair, kept.inputs.hostRepair], ["1: x", ""]);
    const again = await check(
      { proxyDrift: ["x"], hostDrift: ["y"], proxyRepair: "1: x", hostRepair: "" },
      {},
    );
    assert.deepEqual([again.inputs.proxyRepair, again.inputs.hostRepair], ["2: x", "1: y"]);
    const first = await check({}, {});
    assert.deepEqual([first.inputs.proxyRepair, first.inputs.hostRepair], ["", ""]);
  });

  it("diff: changes only when something differs", async () => {
    const state = { vm: "v", command: "c", proxyDrift: [], hostDrift: [], proxyRepair: "", hostRepair: "" };
    assert.equal((await driftProvider.diff!("id", state, { ...state })).changes, false);
    assert.equal((await driftProvider.diff!("id", { ...state, proxyDrift: ["x"] }, state)).changes, true);
  });

  it("a marker is one comment line in the step's script; none before the first repair", () => {
    const plan = {
      runtime: "container",
      runsAs: "account",
      configDigest: "d",
      files: [],
      start: "true",
      stop: "true",
    } as unknown as RuntimePlan;
    assert.doesNotMatch(proxyStepScripts(plan, []).create, /repair/);
    assert.match(
      proxyStepScripts(plan, [], "1: ratings-vm: x\nrm -rf /").create,
      /# mesh-vm repair 1: ratings-vm: x\?rm -rf \/\n/,
    );
    assert.match(hostStepScripts({ repair: "2: y" }).create, /# mesh-vm repair 2: y\n/);
    assert.deepEqual(repairLines(""), []);
  });
});

describe("where the drift check is on by default", () => {
  it("in a Node.js program (cmd/run); not in the package's component provider (cmd/run-plugin: YAML and others)", () => {
    const sdk = "/p/node_modules/@pulumi/pulumi/cmd";
    assert.equal(runsAsComponentProvider(["node", `${sdk}/run`, "."]), false);
    assert.equal(runsAsComponentProvider(["node", `${sdk}/run-plugin`, "/pkg"]), true);
    assert.equal(runsAsComponentProvider(["node", `${sdk}/run-plugin/index.js`, "/pkg"]), true);
  });
});

describe("the drift check's read", () => {
  it("a VM that cannot be reached fails the refresh naming the VM and the dial error; hostGone contacts nothing", async () => {
    const props = {
      vm: "ratings-vm",
      // Port 1 on loopback: refused at once (ssh2 is loaded and dials for real).
      connection: { host: "127.0.0.1", port: 1, user: "u", privateKey: "unused", dialErrorLimit: 1 },
      command: "true",
      hostGone: false,
      proxyDrift: [],
      hostDrift: [],
      proxyRepair: "",
      hostRepair: "",
    };
    // A key ssh2 cannot parse is refused before dialling; the message does not quote it.
    await assert.rejects(driftProvider.read!("id", props), (e: Error) => {
      assert.match(
        e.message,
        /^ratings-vm: the drift check could not run over SSH: after 1 failed attempts: /,
      );
      assert.doesNotMatch(e.message, /unused/, "no credential in the message");
      return true;
    });
    const viaAgent = {
      ...props,
      connection: { ...props.connection, privateKey: undefined, agentSocketPath: "/x" },
    };
    await assert.rejects(driftProvider.read!("id", viaAgent), (e: Error) => {
      assert.match(
        e.message,
        /^ratings-vm: the drift check could not run over SSH: after 1 failed attempts: .*ECONNREFUSED/,
      );
      return true;
    });
    const gone = await driftProvider.read!("id", { ...props, hostGone: true });
    assert.deepEqual(gone.props, { ...props, hostGone: true });
  });
});
