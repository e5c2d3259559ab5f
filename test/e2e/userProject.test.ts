// A user's own Pulumi TypeScript project, for real: a new project in a temp dir outside the repository with its
// own package.json and its own @pulumi/pulumi, `npm install` of the tarball `npm pack` makes from a fresh checkout
// (from the npm registry, as a user installs), then `pulumi preview`, `up` and `destroy` of a MeshVm with `host`
// through the CLI against the test bed. npm must keep one copy of each Pulumi SDK: mesh-vm shares the project's.
//
// The project pins the SDKs at the repository's lock versions, as a user pins what their CLI and plugins are: the
// test bed has exactly those provider plugins (the engine takes only an exact version, and nothing is downloaded).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { after, before, describe, it } from "node:test";
import { repoRoot, type CliEvent, type CliProject } from "../../scripts/testbed/cli";
import { startCliVm, type CliVm } from "../../scripts/testbed/cliVm";
import type { TestCluster } from "../../scripts/testbed/cluster";
import type { TestHost } from "../../scripts/testbed/hosts";
import { LABELS, NS, PROXY_IMAGE, SA, proxyContainerOf } from "../../scripts/testbed/meshVmStack";
import { lockedVersion, packFreshCheckout, type PackResult } from "../../scripts/testbed/tarball";
import { toolchainEnv } from "../../scripts/testbed/toolchain";

const SDKS = ["@pulumi/pulumi", "@pulumi/kubernetes", "@pulumi/command", "@pulumi/tls"];

/** The user's program: written for this project, importing the installed package by its name. */
const PROGRAM = `import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { MeshVm } from "mesh-vm";

const config = new pulumi.Config();
const kubeconfig = config.requireSecret("kubeconfig");
const cluster = new k8s.Provider("cluster", { kubeconfig });

const ratings = new MeshVm(
  "ratings",
  {
    namespace: "${NS}",
    address: config.require("address"),
    serviceAccount: "${SA}",
    labels: ${JSON.stringify({ app: LABELS.app, version: LABELS.version })},
    ports: [{ name: "http", number: 9080 }],
    sshPort: config.requireNumber("sshPort"),
    host: {
      hostKey: config.require("hostKey"),
      prepare: { admin: { user: config.require("adminUser"), privateKey: config.requireSecret("adminPrivateKey") } },
      kubeconfig,
      proxyImage: config.require("proxyImage"),
    },
  },
  { providers: [cluster] },
);

export const spiffeId = ratings.spiffeId;
export const workloadEntry = ratings.workloadEntryName;
export const containerState = ratings.proxy.apply((p) => p?.containerState);
`;

/** Runs a command in the project with the toolchain's environment (its node and npm, PULUMI_HOME). */
function run(
  cmd: string,
  args: string[],
  cwd: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      cmd,
      args,
      { cwd, env: { ...process.env, ...toolchainEnv() }, timeout: 15 * 60_000, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) =>
        done({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

/** A new Pulumi TypeScript project outside the repository: its own package.json, tsconfig, Pulumi.yaml, program. */
function newProject(): string {
  const dir = mkdtempSync(join(tmpdir(), "mesh-vm-user-project-"));
  const pin = (p: string) => [p, lockedVersion(p)];
  writeFileSync(
    join(dir, "package.json"),
    JSON.stringify(
      {
        name: "my-mesh-vms",
        private: true,
        main: "index.ts",
        dependencies: Object.fromEntries(SDKS.map(pin)),
        devDependencies: Object.fromEntries(["typescript", "ts-node", "@types/node"].map(pin)),
      },
      null,
      2,
    ),
  );
  writeFileSync(
    join(dir, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "es2022",
        module: "commonjs",
        strict: true,
        esModuleInterop: true,
        skipLibCheck: true,
      },
      include: ["index.ts"],
    }),
  );
  writeFileSync(
    join(dir, "Pulumi.yaml"),
    "name: my-mesh-vms\nruntime: nodejs\ndescription: A user's project onboarding one VM with mesh-vm.\n",
  );
  writeFileSync(join(dir, "index.ts"), PROGRAM);
  return dir;
}

/** Every installed copy of a package in the project (`npm ls --all --parseable`: one path per copy). */
async function copies(dir: string, pkg: string): Promise<string[]> {
  const r = await run("npm", ["ls", pkg, "--all", "--parseable"], dir);
  assert.equal(r.code, 0, `npm ls ${pkg}: ${r.stdout}\n${r.stderr}`);
  return [...new Set(r.stdout.split("\n").filter(Boolean))].map((p) => relative(dir, p));
}

describe("a user's own Pulumi project installing the npm tarball", { timeout: 30 * 60_000 }, () => {
  let pack: PackResult;
  let project: string;
  let vm: CliVm | undefined;
  let cluster: TestCluster;
  let host: TestHost;
  let cli: CliProject;
  const wePath = `/apis/networking.istio.io/v1/namespaces/${NS}/workloadentries/ratings`;

  before(async () => {
    pack = packFreshCheckout();
    project = newProject();
    assert.ok(
      !relative(repoRoot, project).match(/^[^.]/),
      `the project (${project}) is outside the repository`,
    );
    const install = await run("npm", ["install", "--no-audit", "--no-fund", pack.tarball], project);
    assert.equal(install.code, 0, `npm install of the tarball:\n${install.stdout}\n${install.stderr}`);
    vm = await startCliVm({
      namespace: NS,
      serviceAccount: SA,
      hostName: "user-project",
      project: {
        from: project,
        files: ["Pulumi.yaml", "index.ts", "package.json", "tsconfig.json"],
        nodeModules: join(project, "node_modules"),
      },
      config: (h) => ({
        address: h.address,
        sshPort: String(h.sshPort),
        hostKey: h.hostKey,
        adminUser: h.adminUser,
        proxyImage: PROXY_IMAGE,
      }),
    });
    ({ cluster, host, cli } = vm);
  });

  after(async () => {
    await vm?.stop();
    if (project) rmSync(project, { recursive: true, force: true });
    pack?.dispose();
  });

  it("installs the tarball's package with one copy of each Pulumi SDK, the project's own", async () => {
    const manifest = JSON.parse(readFileSync(join(project, "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
    };
    assert.match(
      manifest.dependencies["mesh-vm"] ?? "",
      /^file:.*mesh-vm-0\.1\.0\.tgz$/,
      "npm recorded the tarball",
    );
    const installed = join(project, "node_modules", "mesh-vm");
    assert.ok(
      existsSync(join(installed, "bin", "components", "index.js")),
      "the built JavaScript is installed",
    );
    assert.ok(!existsSync(join(installed, "test")), "no tests are installed");
    for (const sdk of SDKS) {
      assert.deepEqual(await copies(project, sdk), [`node_modules/${sdk}`], `one copy of ${sdk}`);
      const version = (
        JSON.parse(readFileSync(join(project, "node_modules", sdk, "package.json"), "utf8")) as {
          version: string;
        }
      ).version;
      assert.equal(version, lockedVersion(sdk), `${sdk} is the project's pinned version`);
    }
  });

  it("pulumi preview plans the VM's objects and host steps and creates nothing", async () => {
    const r = await cli.withEvents(["preview", "--diff"]);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    const planned = r.events
      .map((e: CliEvent) => e.resourcePreEvent?.metadata)
      .filter((m) => m && !["same", "read"].includes(m.op))
      .map((m) => `${m!.op} ${m!.urn.split("::").pop()}`);
    for (const s of ["create ratings", "create ratings-workloadentry", "create ratings-proxy-proxy"]) {
      assert.ok(planned.includes(s), `planned "${s}": ${planned.join(", ")}`);
    }
    assert.equal((await cluster.request("GET", wePath)).status, 404);
    assert.equal(proxyContainerOf(await host.containers()), undefined);
  });

  it("pulumi up registers the WorkloadEntry and runs the proxy on the host; the outputs come back", async () => {
    const r = await cli.pulumi(["up", "--yes", "--skip-preview"]);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    const we = await cluster.request("GET", wePath);
    assert.equal(we.status, 200);
    assert.equal(we.body.spec.address, host.address);
    assert.equal(proxyContainerOf(await host.containers())?.state, "running");
    const outputs = JSON.parse((await cli.ok(["stack", "output", "--json"])).stdout) as Record<
      string,
      unknown
    >;
    assert.deepEqual(outputs, {
      spiffeId: `spiffe://cluster.local/ns/${NS}/sa/${SA}`,
      workloadEntry: "ratings",
      containerState: "running",
    });
  });

  it("pulumi destroy removes the WorkloadEntry and the proxy", async () => {
    const r = await cli.pulumi(["destroy", "--yes", "--skip-preview"]);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.equal((await cluster.request("GET", wePath)).status, 404);
    assert.equal(proxyContainerOf(await host.containers()), undefined);
  });
});
