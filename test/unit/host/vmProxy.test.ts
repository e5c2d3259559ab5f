// The VmProxy resource graph under Pulumi mocks: which steps exist, where they run, what they run, that no
// secret is ever part of a command line, and what triggers a new token.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";

import {
  GENERATED_KEY,
  KUBE_CLIENT_KEY,
  TOKEN,
  isSecretValue,
  mockState,
  registrations,
} from "../helpers/pulumiMocks";
import { VmProxy, VmProxyArgs as Args } from "../../../components/host/vmProxy";

const kubeconfig = `apiVersion: v1
kind: Config
current-context: test
contexts: [{ name: test, context: { cluster: c, user: u } }]
clusters: [{ name: c, cluster: { server: "https://127.0.0.1:6443", certificate-authority-data: ${Buffer.from("CA").toString("base64")} } }]
users: [{ name: u, user: { client-certificate-data: ${Buffer.from("CERT").toString("base64")}, client-key-data: ${Buffer.from(KUBE_CLIENT_KEY).toString("base64")} } }]
`;

function baseArgs(overrides: Partial<Args> = {}): Args {
  return {
    ssh: { host: "203.0.113.10", hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKey" },
    prepare: { admin: { privateKey: "ADMIN-PRIVATE-KEY-SECRET" } },
    workload: {
      name: "ratings-vm",
      namespace: "bookinfo",
      serviceAccount: "bookinfo-ratings",
      address: "203.0.113.10",
      proxyInstanceIp: "198.51.100.10",
      labels: { app: "ratings", class: "vm", version: "v3" },
    },
    kubeconfig,
    proxyImageHub: "docker.io/tetrate",
    proxyImageTag: "1.8.6",
    egressHostnames: ["reviews.bookinfo.svc"],
    ...overrides,
  };
}

function valueOf<T>(o: pulumi.Output<T>): Promise<T> {
  return (o as unknown as { promise(): Promise<T> }).promise();
}

async function settle(): Promise<void> {
  for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
}

async function build(name: string, args: Args) {
  const start = registrations.length;
  const vm = new VmProxy(name, args);
  await valueOf(vm.containerId);
  await valueOf(vm.hostsBlock);
  await settle();
  const mine = registrations.slice(start).filter((r) => r.name.startsWith(`${name}-`));
  const byName = (suffix: string) => {
    const found = mine.find((r) => r.name === `${name}-${suffix}`);
    assert.ok(found, `${name}-${suffix} registered`);
    return found;
  };
  return { vm, mine, byName };
}

describe("VmProxy resource graph", () => {
  it("declares each host step, the token and the key, and renders what preview shows", async () => {
    const { vm, mine, byName } = await build("g1", baseArgs());
    assert.deepEqual(mine.map((r) => `${r.type} ${r.name}`).sort(), [
      "command:local:Command g1-bootstrap-token",
      "command:local:Command g1-registration-gate",
      "command:remote:Command g1-host",
      "command:remote:Command g1-proxy",
      "kubernetes:core/v1:ConfigMap g1-istio-ca-root-cert",
      "kubernetes:core/v1:ConfigMap g1-kube-root-ca",
      "pulumi-nodejs:dynamic:Resource g1-drift",
      "tls:index/privateKey:PrivateKey g1-ssh-key",
    ]);
    assert.equal(byName("ssh-key").inputs.algorithm, "ED25519");

    // Where each step runs: preparation, key and /etc/hosts as the admin; files and container as the proxy user.
    const connection = (suffix: string) => byName(suffix).inputs.connection as Record<string, unknown>;
    assert.equal(connection("host").user, "root");
    assert.equal(connection("host").privateKey, "ADMIN-PRIVATE-KEY-SECRET");
    assert.equal(connection("proxy").user, "istio-proxy");
    assert.equal(connection("proxy").privateKey, GENERATED_KEY);
    for (const step of ["host", "proxy"]) {
      assert.equal(connection(step).hostKey, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKey");
      assert.equal(connection(step).host, "203.0.113.10");
      assert.equal(connection(step).dialErrorLimit, 20);
      assert.equal(connection(step).perDialTimeout, 10);
      assert.equal(byName(step).inputs.addPreviousOutputInEnv, false);
      assert.equal(byName(step).inputs.environment, undefined, "no environment: sshd would refuse it");
      assert.ok(isSecretValue(byName(step).raw.connection), `${step}: the connection is secret`);
    }
    // The generated key and the hosts block go in on stdin (base64 lines); the script, known at preview, marks
    // the key's line.
    const hostStdin = String(byName("host").inputs.stdin).split("\n");
    assert.equal(
      Buffer.from(hostStdin[0]!, "base64").toString(),
      "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGeneratedPublicKey",
    );
    assert.equal(Buffer.from(hostStdin[1]!, "base64").toString(), await valueOf(vm.hostsBlock));
    assert.match(String(byName("host").inputs.create), / mesh-vm:bookinfo\/ratings-vm/);
    assert.doesNotMatch(String(byName("host").inputs.create), /GeneratedPublicKey/);

    // Content travels on the proxy step's secret stdin, one base64 line per file; the script names each file
    // with its digest, so a preview says which file changes.
    const sidecarEnv = await valueOf(vm.sidecarEnv);
    assert.match(sidecarEnv, /^INSTANCE_IP=198\.51\.100\.10$/m);
    const bundle = String(byName("proxy").inputs.stdin)
      .trimEnd()
      .split("\n")
      .map((l) => Buffer.from(l.split(" ")[1]!, "base64").toString());
    assert.deepEqual(bundle, [sidecarEnv, "MESH ROOT PEM", "K8S ROOT PEM", TOKEN]);
    assert.ok(isSecretValue(byName("proxy").raw.stdin), "the bundle (with the token) is a secret input");
    const proxyCreate = String(byName("proxy").inputs.create);
    const digests = await valueOf(vm.fileDigests);
    for (const [name, digest] of Object.entries(digests)) {
      // The token is minted at `up`: its line names it without a digest, so the script is known at preview.
      const line =
        name === "istio-token"
          ? `# /etc/istio-proxy/${name} secret`
          : `# /etc/istio-proxy/${name} sha256=${digest}`;
      assert.ok(proxyCreate.includes(line), name);
    }
    assert.match(proxyCreate, /^put \/etc\/istio-proxy\/istio-token 640 istio-proxy istio-proxy$/m);
    assert.match(
      proxyCreate,
      /^put \/etc\/istio-proxy\/sidecar\.env 644 istio-proxy istio-proxy [0-9a-f]{64}$/m,
    );

    const run = await valueOf(vm.dockerRunCommand);
    assert.match(run, /^docker run -d --name istio-proxy --restart unless-stopped --network host /);
    assert.match(
      run,
      / docker\.io\/tetrate\/proxyv2:1\.8\.6 proxy sidecar --serviceCluster ratings\.bookinfo /,
    );
    assert.ok(proxyCreate.includes(run.replace(/^docker /, "")));
    assert.equal(await valueOf(vm.containerId), "abc123");
    assert.equal(await valueOf(vm.containerState), "running");
    assert.equal(await valueOf(vm.tokenExpiry), "2026-11-23T05:00:00Z");
    assert.equal(
      await valueOf(vm.hostsBlock),
      "# BEGIN mesh-vm bookinfo/ratings-vm\n127.0.0.2 reviews.bookinfo.svc\n# END mesh-vm bookinfo/ratings-vm\n",
    );
    assert.deepEqual(Object.keys(digests).sort(), [
      "istio-ca.pem",
      "istio-token",
      "k8s-ca.pem",
      "sidecar.env",
    ]);
    assert.equal(await pulumi.isSecret(vm.fileDigests), false, "digests are plain outputs");
    assert.deepEqual(await valueOf(vm.sshIdentity), {
      user: "istio-proxy",
      host: "203.0.113.10",
      port: 22,
      publicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGeneratedPublicKey",
    });
    assert.equal(byName("registration-gate").inputs.delete, "sleep 5");

    // A value threaded through afterProxyReady carries the dependency on the gate.
    const threaded = vm.afterProxyReady("203.0.113.10");
    assert.equal(await valueOf(threaded), "203.0.113.10");
    const deps = await (
      threaded as unknown as { allResources(): Promise<Set<pulumi.Resource>> }
    ).allResources();
    assert.ok(deps.has(vm.registrationGate), "depends on the registration gate");
  });

  it("never puts a secret into a command line, interpreter or trigger", async () => {
    const { mine } = await build("g2", baseArgs());
    const secrets = [
      TOKEN,
      "SECRET-TOKEN-PAYLOAD",
      // Key bodies (as JSON would carry them), and the kubeconfig's client key as it travels there (base64).
      KUBE_CLIENT_KEY.split("\n")[1]!,
      Buffer.from(KUBE_CLIENT_KEY).toString("base64"),
      GENERATED_KEY.split("\n")[1]!,
      "ADMIN-PRIVATE-KEY-SECRET",
    ];
    for (const r of mine) {
      for (const field of ["create", "update", "delete", "interpreter", "triggers", "environment"]) {
        const text = JSON.stringify(r.inputs[field] ?? "");
        for (const secret of secrets) {
          assert.ok(!text.includes(secret), `${r.name}.${field} contains a secret`);
        }
      }
    }
  });

  it("mints with a constant program, the request on stdin, and triggers on identity, lifetime, rotation and window", async () => {
    const { byName } = await build(
      "g3",
      baseArgs({ token: { expirationSeconds: 7200, renewBeforeSeconds: 600, rotation: "r1" } }),
    );
    const mint = byName("bootstrap-token").inputs;
    assert.deepEqual(mint.interpreter, ["node", "-e"]);
    assert.equal(mint.logging, "none");
    assert.ok(isSecretValue(byName("bootstrap-token").raw.stdin), "cluster credentials on stdin are secret");
    assert.equal(mint.addPreviousOutputInEnv, false);
    const request = JSON.parse(String(mint.stdin)) as Record<string, unknown>;
    assert.deepEqual(
      { ...request, access: undefined },
      {
        access: undefined,
        namespace: "bookinfo",
        serviceAccount: "bookinfo-ratings",
        audiences: ["istio-ca"],
        expirationSeconds: 7200,
      },
    );
    assert.equal((request.access as Record<string, string>).server, "https://127.0.0.1:6443");
    const triggers = mint.triggers as unknown[];
    assert.deepEqual(triggers.slice(0, 4), ["bookinfo/bookinfo-ratings", "istio-ca", 7200, "r1"]);
    assert.equal(triggers[4], Math.floor(Date.now() / 1000 / (7200 - 600)));

    const other = await build("g3b", baseArgs());
    assert.equal(
      String(other.byName("bootstrap-token").inputs.create),
      String(mint.create),
      "program text is constant",
    );
  });

  it("a lifetime change touches the token only; an image change touches the proxy step only; a rotation one line", async () => {
    const a = await build("g4", baseArgs());
    const b = await build("g4", baseArgs({ token: { expirationSeconds: 3600 } }));
    const c = await build("g4", baseArgs({ proxyImageTag: "1.8.7" }));
    for (const step of ["host", "proxy"]) {
      assert.equal(
        JSON.stringify(b.byName(step).inputs.create),
        JSON.stringify(a.byName(step).inputs.create),
        step,
      );
    }
    assert.notDeepEqual(
      b.byName("bootstrap-token").inputs.triggers,
      a.byName("bootstrap-token").inputs.triggers,
    );
    assert.equal(
      JSON.stringify(c.byName("host").inputs.create),
      JSON.stringify(a.byName("host").inputs.create),
    );
    assert.notEqual(c.byName("proxy").inputs.create, a.byName("proxy").inputs.create);
    // A new token (another mint) changes the token's line of the secret stdin, nothing else: same script.
    mockState.token = "eyJhbGciOiJSUzI1NiJ9.ROTATED.sig";
    try {
      const d = await build("g4", baseArgs());
      assert.equal(d.byName("proxy").inputs.create, a.byName("proxy").inputs.create);
      const lines = (r: typeof d) => String(r.byName("proxy").inputs.stdin).split("\n");
      const changed = lines(d).map((l, i) => (l === lines(a)[i] ? "same" : "changed"));
      assert.deepEqual(changed, ["same", "same", "same", "changed", "same"]);
    } finally {
      mockState.token = undefined;
    }
  });

  it("refuses an unpinned host key unless explicitly opted out, and needs some credential", async () => {
    assert.throws(
      () => new VmProxy("g5", baseArgs({ ssh: { host: "203.0.113.10" } })),
      /hostKey is required/,
    );
    assert.throws(
      () =>
        new VmProxy("g6", baseArgs({ prepare: undefined, ssh: { host: "h", hostKey: "ssh-ed25519 AAAA" } })),
      /ssh\.privateKey or ssh\.agentSocketPath/,
    );
    const { byName } = await build(
      "g7",
      baseArgs({ ssh: { host: "203.0.113.10", insecureIgnoreHostKey: true } }),
    );
    assert.equal((byName("proxy").inputs.connection as Record<string, unknown>).hostKey, undefined);
  });

  it("uses the caller's key and a bastion without preparation", async () => {
    const { mine, byName } = await build(
      "g8",
      baseArgs({
        prepare: undefined,
        egressHostnames: undefined,
        ssh: {
          host: "10.0.0.5",
          user: "proxy",
          privateKey: "USER-KEY",
          hostKey: "ssh-ed25519 AAAAvm",
          bastion: {
            host: "203.0.113.1",
            user: "jump",
            privateKey: "JUMP-KEY",
            hostKey: "ssh-ed25519 AAAAbastion",
          },
        },
      }),
    );
    assert.ok(!mine.some((r) => r.name === "g8-host" || r.name === "g8-ssh-key"));
    const connection = byName("proxy").inputs.connection as Record<string, unknown>;
    assert.equal(connection.user, "proxy");
    assert.equal(connection.privateKey, "USER-KEY");
    assert.deepEqual(connection.proxy, {
      host: "203.0.113.1",
      port: 22,
      user: "jump",
      privateKey: "JUMP-KEY",
      hostKey: "ssh-ed25519 AAAAbastion",
      dialErrorLimit: 20,
      perDialTimeout: 10,
    });
  });

  it("undoes a replaced host step before doing it again, so `up --replace` keeps what the new step did", async () => {
    // The engine's default (create the replacement, then delete the old one) would run the old step's delete after
    // the new create: `docker rm --force istio-proxy` right after the new container started (seen on the test bed).
    for (const hostGone of [false, true]) {
      const options = new Map<string, pulumi.ResourceOptions>();
      const vm = new VmProxy(`dbr-${hostGone}`, baseArgs({ hostGone }), {
        transformations: [
          (a) => {
            options.set(`${a.type} ${a.name}`, a.opts);
            return undefined;
          },
        ],
      });
      await valueOf(vm.containerId);
      await settle();
      const remote = [...options].filter(([k]) => k.startsWith("command:remote:Command "));
      assert.equal(remote.length, 2, remote.map(([k]) => k).join(", "));
      for (const [k, o] of remote) {
        assert.equal((o as pulumi.CustomResourceOptions).deleteBeforeReplace, true, k);
        assert.equal(
          o.retainOnDelete,
          hostGone ? true : undefined,
          `${k}: retained only when the host is gone`,
        );
      }
    }
  });
});
