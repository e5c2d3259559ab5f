// Hostile and malformed input, tried as an attacker or a careless user would: every value below goes through
// MeshVm's validation (MeshVmArgs, .host, .boot), VmProxy's, fromManifests or the stack configuration, and must
// be refused at preview with an issue that names the input path, quotes at most a short escaped excerpt, and
// never a secret. A second table lists values that must still be accepted, so the allow-lists stay usable.
// Table-driven; the case count is printed by the test runner (`node --import tsx --test test/unit/hostile/`).
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fromManifests } from "../../../components/manifests";
import { validateVmProxyArgs } from "../../../components/host/vmProxyValidation";
import type { VmProxyArgs } from "../../../components/host/vmProxyArgs";
import type {
  MeshVmArgs,
  MeshVmBootArgs,
  MeshVmHostArgs,
  PlainMeshVmArgs,
} from "../../../components/meshVmArgs";
import { formatIssue, MeshVmValidationError, ValidationIssue } from "../../../components/rules/issues";
import { parseStackConfig, StackConfigError } from "../../../components/stack/config";
import { meshVmInputIssues } from "../../../components/validation/meshVmInputs";
import { ratingsVmArgs, seedSidecarYaml, seedWorkloadEntryYaml } from "../fixtures/ratings";

const MiB = 1024 * 1024;
const huge = "a".repeat(MiB);
const SECRET = "CANARY-SECRET-7f3a";

// ---- building inputs ---------------------------------------------------------------------------------------

function baseArgs(delivery: "host" | "boot" | "none" = "host"): MeshVmArgs {
  const args = structuredClone(ratingsVmArgs) as MeshVmArgs;
  if (delivery === "host") {
    args.host = {
      hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKey",
      prepare: { admin: { user: "root", privateKey: SECRET } },
      kubeconfig: SECRET,
    } as MeshVmHostArgs;
  } else if (delivery === "boot") {
    args.boot = { kubeconfig: SECRET } as MeshVmBootArgs;
  }
  return args;
}

/** Sets `path` (`host.readiness.path`, `egress[0].hosts[1]`) in `o`, creating objects on the way. */
function setPath(o: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.match(/[^.[\]]+/g)!;
  let cur: Record<string, unknown> = o;
  keys.forEach((k, i) => {
    if (i === keys.length - 1) {
      cur[k] = value;
      return;
    }
    if (cur[k] === undefined || cur[k] === null) cur[k] = /^\d+$/.test(keys[i + 1]!) ? [] : {};
    cur = cur[k] as Record<string, unknown>;
  });
}

/** Every issue MeshVm reports before registering for `args` (the one list MeshVm and the stack config call). */
function meshVmIssues(args: MeshVmArgs): ValidationIssue[] {
  const { host, boot, ...mesh } = args;
  return meshVmInputIssues(mesh as PlainMeshVmArgs, { host, boot });
}

/** The message checks every refusal must pass: bounded, one line, no secret, no long run of the value. */
function assertSafeMessages(issues: ValidationIssue[], value?: unknown): void {
  for (const i of issues) {
    const text = formatIssue(i);
    assert.ok(text.length <= 1300, `message of ${text.length} characters: ${text.slice(0, 200)}`);
    assert.ok(!/[\n\r]/.test(text) && !text.includes("\u0000"), "a message stays on one line");
    assert.ok(!text.includes(SECRET), `a secret is quoted: ${text.slice(0, 200)}`);
    if (typeof value === "string" && value.length > 100) {
      assert.ok(!text.includes(value.slice(0, 100)), "at most a short excerpt of the value is quoted");
    }
  }
}

function assertRefused(issues: ValidationIssue[], field: string, value: unknown): void {
  const fields = issues.map((i) => i.field);
  assert.ok(
    fields.some((f) => f === field || f.startsWith(`${field}[`) || f.startsWith(`${field}.`)),
    `expected an issue naming ${field}, got ${JSON.stringify(issues.map(formatIssue)).slice(0, 600)}`,
  );
  assertSafeMessages(issues, value);
}

// ---- hostile values ----------------------------------------------------------------------------------------

/** Strings that become options, shell code, extra lines or other hosts where they land. */
const injections: [string, string][] = [
  ["a docker option", "--privileged"],
  ["a mount option", "-v/:/host"],
  ["a pid namespace option", "--pid=host"],
  ["an entrypoint option", "--entrypoint=/bin/sh"],
  ["getent's help", "--help"],
  ["a short option", "-f"],
  ["command substitution", "$(touch /tmp/canary)"],
  ["backticks", "`touch /tmp/canary`"],
  ["a command separator", "x; touch /tmp/canary"],
  ["a quote breaking out", "x' ; touch /tmp/canary; '"],
  ["a line break", "x\ntouch /tmp/canary"],
  ["a carriage return", "x\rtouch"],
  ["a NUL byte", "x\u0000y"],
  ["white space", "a b"],
  ["empty", ""],
  ["1 MiB", huge],
];

/** String inputs of MeshVmArgs (path below MeshVmArgs; delivery) that reach a script, an argv or a file. */
const stringInputs: [string, "host" | "boot" | "none"][] = [
  ["host.proxyImage", "host"],
  ["host.proxyImageTag", "host"],
  ["host.prepare.dockerGroup", "host"],
  ["host.prepare.admin.user", "host"],
  ["host.readiness.host", "host"],
  ["host.readiness.path", "host"],
  ["host.mesh.discoveryAddress", "host"],
  ["host.mesh.caAddress", "host"],
  ["host.mesh.istioNamespace", "host"],
  ["host.mesh.trustDomain", "host"],
  ["host.gatewayAddress", "host"],
  ["host.egressHostnames[0]", "host"],
  ["host.bastion.host", "host"],
  ["boot.proxyImage", "boot"],
  ["boot.dockerGroup", "boot"],
  ["boot.readiness.path", "boot"],
  ["boot.mesh.discoveryAddress", "boot"],
  ["boot.egressHostnames[0]", "boot"],
  ["sshUser", "none"],
  ["sshHost", "none"],
  ["proxyConfigDir", "none"],
  ["scpPath", "none"],
  ["proxyContainerName", "none"],
  ["proxyImageHub", "none"],
  ["proxyInstanceIp", "none"],
];

describe("hostile strings are refused, naming the input", () => {
  for (const [path, delivery] of stringInputs) {
    for (const [what, value] of injections) {
      it(`${path}: ${what}`, () => {
        const args = baseArgs(delivery);
        if (path.startsWith("host.bastion"))
          setPath(args as never, "host.bastion.hostKey", "ssh-ed25519 AAAA");
        setPath(args as never, path, value);
        assertRefused(meshVmIssues(args), `MeshVmArgs.${path.replace(/\[0\]$/, "")}`, value);
      });
    }
  }
});

/** Values a JavaScript caller (or `as any`) can pass to a number input. */
const badNumbers: [string, unknown][] = [
  ["shell code in a string", "1; touch /tmp/canary"],
  ["a numeric string", "120"],
  ["a fraction", 1.5],
  ["a negative number", -1],
  ["1e21 (an integer to Number.isInteger)", 1e21],
  ["NaN", NaN],
  ["Infinity", Infinity],
  ["a boolean", true],
  ["an object", { valueOf: () => 5 }],
];

const numberInputs: [string, "host" | "boot" | "none"][] = [
  ["host.readiness.timeoutSeconds", "host"],
  ["host.readiness.logLines", "host"],
  ["host.readiness.port", "host"],
  ["host.deregistrationDelaySeconds", "host"],
  ["host.token.expirationSeconds", "host"],
  ["host.token.renewBeforeSeconds", "host"],
  ["host.dialErrorLimit", "host"],
  ["host.perDialTimeout", "host"],
  ["boot.readiness.timeoutSeconds", "boot"],
  ["boot.readiness.logLines", "boot"],
  ["boot.deregistrationDelaySeconds", "boot"],
  ["boot.readyCheck.timeoutSeconds", "boot"],
  ["sshPort", "none"],
  ["weight", "none"],
];

describe("bad numbers are refused at preview, for JavaScript callers too", () => {
  for (const [path, delivery] of numberInputs) {
    for (const [what, value] of badNumbers) {
      if (path === "weight" && what === "a negative number") continue; // covered below with -1 too
      it(`${path}: ${what}`, () => {
        const args = baseArgs(delivery);
        setPath(args as never, path, value);
        assertRefused(meshVmIssues(args), `MeshVmArgs.${path}`, value);
      });
    }
  }
  it("ports[].number: a fraction is refused by the port's name", () => {
    const args = baseArgs("none");
    args.ports = [{ name: "http", number: 9080.5 }];
    assertRefused(meshVmIssues(args), 'MeshVmArgs.ports["http"].number', 9080.5);
  });
  it("deregistrationDelaySeconds above an hour", () => {
    const args = baseArgs();
    args.host!.deregistrationDelaySeconds = 3601;
    assertRefused(meshVmIssues(args), "MeshVmArgs.host.deregistrationDelaySeconds", 3601);
  });
});

// ---- specific classes ----------------------------------------------------------------------------------------

const systemDirs = [
  "/",
  "/etc",
  "/etc/",
  "/etc/.",
  "/etc/./ssl",
  "/etc/../root",
  "//etc",
  "/etc//istio-proxy",
  "/usr/local/bin",
  "/usr/local",
  "/usr/bin",
  "/etc/ssl",
  "/etc/ssl/certs",
  "/etc/ssh",
  "/etc/sudoers.d",
  "/etc/systemd/system",
  "/etc/cron.d",
  "/tmp",
  "/var/tmp",
  "/var/lib",
  "/var/lib/docker",
  "/var/log",
  "/root",
  "/root/.ssh",
  "/home",
  "/home/admin/.ssh",
  "/opt",
  "/proc/self",
  "/sys/kernel",
  "/dev/shm",
  "/boot/grub",
  "/run/lock",
  "relative/dir",
  "/etc/istio proxy",
  "/etc/-rf",
];

describe("proxyConfigDir must be a dedicated directory", () => {
  for (const dir of systemDirs) {
    it(`refuses ${JSON.stringify(dir)} (MeshVmArgs)`, () => {
      const args = baseArgs("none");
      args.proxyConfigDir = dir;
      assertRefused(meshVmIssues(args), "MeshVmArgs.proxyConfigDir", dir);
    });
  }
  for (const dir of ["/etc", "/etc/.", "/usr/local/bin", "/tmp", "/etc/ssl"]) {
    it(`refuses ${JSON.stringify(dir)} (VmProxyArgs)`, () => {
      const issues = validateVmProxyArgs({ ...vmProxyBase(), proxyConfigDir: dir });
      assertRefused(issues, "VmProxyArgs.proxyConfigDir", dir);
    });
  }
  for (const dir of [
    "/etc/istio-proxy",
    "/opt/istio-proxy",
    "/tmp/istio-proxy",
    "/var/lib/istio-proxy/vm-2",
    "/srv/mesh/ratings",
  ]) {
    it(`accepts ${dir}`, () => {
      const args = baseArgs("none");
      args.proxyConfigDir = dir;
      assert.deepEqual(meshVmIssues(args).map(formatIssue), []);
    });
  }
});

describe("sidecar.selectorLabelKeys: own labels only (no prototype lookups)", () => {
  for (const key of [
    "__proto__",
    "constructor",
    "toString",
    "hasOwnProperty",
    "valueOf",
    "isPrototypeOf",
    "__defineGetter__",
  ]) {
    it(`refuses ${key}, naming the input`, () => {
      const args = baseArgs("none");
      args.sidecar = { selectorLabelKeys: [key] };
      assertRefused(meshVmIssues(args), "MeshVmArgs.sidecar.selectorLabelKeys[0]", key);
    });
  }
  it("refuses a non-string key", () => {
    const args = baseArgs("none");
    args.sidecar = { selectorLabelKeys: [7 as unknown as string] };
    assertRefused(meshVmIssues(args), "MeshVmArgs.sidecar.selectorLabelKeys[0]", 7);
  });
});

describe("protocols compare in ASCII (no Unicode case folding)", () => {
  for (const p of [
    "httpſ",
    "HTTPſ",
    "ｈｔｔｐ",
    "http\u0000",
    "HTTP ",
    "tcp\n",
    "ʜttp",
    "grpc-web",
    "K\u212a",
  ]) {
    it(`refuses ${JSON.stringify(p)}`, () => {
      const args = baseArgs("none");
      args.ports = [{ name: "http", number: 9080, protocol: p }];
      assertRefused(meshVmIssues(args), 'MeshVmArgs.ports["http"].protocol', p);
    });
  }
  for (const p of ["http", "HTTPS", "Grpc", "tcp", "tls", "http2", "mongo"]) {
    it(`accepts ${p}`, () => {
      const args = baseArgs("none");
      args.ports = [{ name: "http", number: 9080, protocol: p }];
      assert.deepEqual(meshVmIssues(args).map(formatIssue), []);
    });
  }
});

describe("image references by the OCI grammar", () => {
  const bad = [
    "--privileged",
    "-v/:/host",
    "docker.io/istio/proxyv2:1.30.3 --privileged",
    "docker.io/Istio/proxyv2",
    "proxyv2:",
    "proxyv2:-tag",
    ":tag",
    "proxyv2@sha256:xyz",
    "a//b",
    "a/b/",
    `${"a".repeat(300)}:1`,
    "proxyv2:" + "t".repeat(129),
    "proxy\u200bv2",
  ];
  for (const image of bad) {
    it(`refuses ${JSON.stringify(image.slice(0, 40))}`, () => {
      const args = baseArgs();
      args.host!.proxyImage = image;
      assertRefused(meshVmIssues(args), "MeshVmArgs.host.proxyImage", image);
    });
  }
  const good = [
    "docker.io/istio/proxyv2:1.30.3",
    "localhost/mesh-vm-standin-proxy:test",
    "localhost:5000/proxy@sha256:" + "a".repeat(64),
    "gcr.io/istio-release/proxyv2:1.22.0-distroless",
    "proxyv2",
    "registry.example.com:443/team__x/proxy-v2:v1.2_3",
    "[::1]:5000/proxyv2:1",
  ];
  for (const image of good) {
    it(`accepts ${image.slice(0, 50)}`, () => {
      const args = baseArgs();
      args.host!.proxyImage = image;
      assert.deepEqual(meshVmIssues(args).map(formatIssue), []);
    });
  }
  for (const tag of ["--privileged", "1.30 ", "1.30\n", ".hidden", "a:b", "a/b"]) {
    it(`refuses tag ${JSON.stringify(tag)}`, () => {
      const args = baseArgs();
      args.host!.proxyImageTag = tag;
      assertRefused(meshVmIssues(args), "MeshVmArgs.host.proxyImageTag", tag);
    });
  }
});

describe("user and group names by shadow-utils' rules", () => {
  const bad = [
    "-f",
    "--help",
    "Docker",
    "1docker",
    "dock er",
    "dock$er",
    "a".repeat(33),
    "root\n",
    "ünïcode",
    ".",
    "..",
  ];
  for (const name of bad) {
    it(`refuses dockerGroup ${JSON.stringify(name)}`, () => {
      const args = baseArgs();
      args.host!.prepare!.dockerGroup = name;
      assertRefused(meshVmIssues(args), "MeshVmArgs.host.prepare.dockerGroup", name);
    });
    it(`refuses sshUser ${JSON.stringify(name)}`, () => {
      const args = baseArgs("none");
      args.sshUser = name;
      assertRefused(meshVmIssues(args), "MeshVmArgs.sshUser", name);
    });
  }
  for (const name of ["docker", "_docker", "istio-proxy", "svc_1", "machine$", "a".repeat(32)]) {
    it(`accepts ${name.slice(0, 20)}`, () => {
      const args = baseArgs();
      args.host!.prepare!.dockerGroup = name;
      assert.deepEqual(meshVmIssues(args).map(formatIssue), []);
    });
  }
});

describe("readiness: the probed host never changes", () => {
  const badPaths = [
    "@evil.example/x",
    "healthz/ready",
    "//evil.example/x",
    "/x#frag",
    "/x y",
    "/%zz",
    "/x\\y",
    '/x"y',
    "/x'$(id)'",
    "/" + "a".repeat(3000),
  ];
  for (const path of badPaths) {
    it(`refuses path ${JSON.stringify(path.slice(0, 30))}`, () => {
      const args = baseArgs();
      args.host!.readiness = { path };
      assertRefused(meshVmIssues(args), "MeshVmArgs.host.readiness.path", path);
    });
  }
  for (const host of ["evil.example/x", "127.0.0.1:15021", "[::1]", "127.0.0.1@evil", "http://x", "-x"]) {
    it(`refuses host ${JSON.stringify(host)}`, () => {
      const args = baseArgs();
      args.host!.readiness = { host };
      assertRefused(meshVmIssues(args), "MeshVmArgs.host.readiness.host", host);
    });
  }
  for (const port of [0, 65536, 15021.5, "15021"]) {
    it(`refuses port ${JSON.stringify(port)}`, () => {
      const args = baseArgs();
      args.host!.readiness = { port: port as number };
      assertRefused(meshVmIssues(args), "MeshVmArgs.host.readiness.port", port);
    });
  }
  for (const r of [{ path: "/healthz/ready?full=1" }, { host: "::1", port: 15020 }, { host: "localhost" }]) {
    it(`accepts ${JSON.stringify(r)}`, () => {
      const args = baseArgs();
      args.host!.readiness = r;
      assert.deepEqual(meshVmIssues(args).map(formatIssue), []);
    });
  }
});

describe("sizes within Kubernetes' and the command line's limits", () => {
  it("a 1 MiB annotation value", () => {
    const args = baseArgs("none");
    args.annotations = { "example.com/big": huge };
    assertRefused(meshVmIssues(args), "MeshVmArgs.annotations", huge);
  });
  it("annotations of 300 KiB in total", () => {
    const args = baseArgs("none");
    args.annotations = Object.fromEntries(
      Array.from({ length: 3 }, (_, i) => [`example.com/a${i}`, "x".repeat(100 * 1024)]),
    );
    assertRefused(meshVmIssues(args), "MeshVmArgs.annotations", undefined);
  });
  it("20,000 egress host names", () => {
    const args = baseArgs();
    args.host!.egressHostnames = Array.from({ length: 20000 }, (_, i) => `s${i}.bookinfo.svc`);
    assertRefused(meshVmIssues(args), "MeshVmArgs.host.egressHostnames", undefined);
  });
  it("1,000 egress host names are fine", () => {
    const args = baseArgs();
    args.host!.egressHostnames = Array.from({ length: 1000 }, (_, i) => `s${i}.bookinfo.svc`);
    assert.deepEqual(meshVmIssues(args).map(formatIssue), []);
  });
  for (const path of [
    "name",
    "namespace",
    "serviceAccount",
    "address",
    "network",
    "locality",
    "labels.app",
    "vmClassLabel",
    "sidecar.name",
    "serviceEntry.name",
  ]) {
    it(`a 1 MiB ${path}`, () => {
      const args = baseArgs("none");
      setPath(args as never, path, huge);
      const issues = meshVmIssues(args);
      assert.ok(issues.length > 0, "refused");
      assertSafeMessages(issues, huge);
    });
  }
  it("a 1 MiB label key", () => {
    const args = baseArgs("none");
    args.labels = { ...args.labels, [huge]: "x" };
    const issues = meshVmIssues(args);
    assert.ok(issues.length > 0);
    assertSafeMessages(issues, huge);
  });
  it("proxyConfig nested 200,000 deep", () => {
    let deep: Record<string, unknown> = {};
    for (let i = 0; i < 200000; i++) deep = { a: deep };
    const args = baseArgs();
    args.host!.mesh = { proxyConfig: deep };
    assertRefused(meshVmIssues(args), "MeshVmArgs.host.mesh.proxyConfig", undefined);
  });
  it("proxyConfig of 100 KiB", () => {
    const args = baseArgs();
    args.host!.mesh = { proxyConfig: { proxyMetadata: { BIG: "x".repeat(100 * 1024) } } };
    assertRefused(meshVmIssues(args), "MeshVmArgs.host.mesh.proxyConfig", undefined);
  });
  for (const [what, md] of [
    ["a variable name with '='", { "A=B": "x" }],
    ["a value with a line break", { A: "x\nB=y" }],
    ["a name starting with a digit", { "1A": "x" }],
    ["a nested value", { A: { b: 1 } }],
  ] as const) {
    it(`proxyMetadata: ${what}`, () => {
      const args = baseArgs();
      args.host!.mesh = { proxyConfig: { proxyMetadata: md } };
      assertRefused(meshVmIssues(args), "MeshVmArgs.host.mesh.proxyConfig.proxyMetadata", undefined);
    });
  }
});

describe("messages name the input, not the rendered file", () => {
  for (const [key, value] of [
    ["discoveryAddress", "istiod.istio-system.svc:15012\nEVIL=1"],
    ["caAddress", "istiod:15012\r"],
    ["clusterId", "Kubernetes\nX=1"],
    ["meshId", "m\n"],
    ["defaultNetwork", "n\nX=1"],
  ] as const) {
    it(`a line break in mesh.${key}`, () => {
      const args = baseArgs();
      args.host!.mesh = { [key]: value };
      const issues = meshVmIssues(args);
      assertRefused(issues, `MeshVmArgs.host.mesh.${key}`, value);
      assert.ok(!issues.some((i) => /sidecar\.env/.test(i.problem)), "named by the input, not sidecar.env");
    });
  }
  it("a line break in network is refused at the input", () => {
    const args = baseArgs("none");
    args.network = "vm\nX=1";
    assertRefused(meshVmIssues(args), "MeshVmArgs.network", args.network);
  });
  it("a secret never appears: a bad kubeconfig or key is named, not quoted", () => {
    const args = baseArgs();
    args.host!.hostKey = `${SECRET}\nnot a key`;
    assertRefused(meshVmIssues(args), "MeshVmArgs.host.hostKey", args.host!.hostKey);
  });
});

// ---- token and cluster credentials -------------------------------------------------------------------------

describe("the token's rotation and audiences, and the kubeconfig, are checked for both deliveries", () => {
  const textBreakers: [string, unknown][] = [
    ["a line break", "2026-11-27\nX=1"],
    ["a NUL byte", "x\u0000y"],
    ["1 MiB", huge],
    ["a number", 7],
    ["an object", { toString: () => "x" }],
  ];
  for (const delivery of ["host", "boot"] as const) {
    for (const [what, value] of textBreakers) {
      it(`${delivery}.token.rotation: ${what}`, () => {
        const args = baseArgs(delivery);
        setPath(args as never, `${delivery}.token.rotation`, value);
        assertRefused(meshVmIssues(args), `MeshVmArgs.${delivery}.token.rotation`, value);
      });
      it(`${delivery}.token.audiences[0]: ${what}`, () => {
        const args = baseArgs(delivery);
        setPath(args as never, `${delivery}.token.audiences`, [value]);
        assertRefused(meshVmIssues(args), `MeshVmArgs.${delivery}.token.audiences[0]`, value);
      });
    }
    it(`${delivery}.token.audiences: an empty list or 17 audiences`, () => {
      for (const value of [[], Array.from({ length: 17 }, (_, i) => `aud-${i}`)]) {
        const args = baseArgs(delivery);
        setPath(args as never, `${delivery}.token.audiences`, value);
        assertRefused(meshVmIssues(args), `MeshVmArgs.${delivery}.token.audiences`, value);
      }
    });
    it(`${delivery}.token.rotation: any short single-line value is accepted (it is only a trigger)`, () => {
      for (const value of ["2026-11-27", "--privileged", "rotate me #2"]) {
        const args = baseArgs(delivery);
        setPath(args as never, `${delivery}.token.rotation`, value);
        assert.deepEqual(meshVmIssues(args).map(formatIssue), []);
      }
    });
    it(`${delivery}.kubeconfig: 2 MiB or not a string is refused, never quoted`, () => {
      for (const value of [`${SECRET}\n${"a".repeat(2 * MiB)}`, 42, { kubeconfig: SECRET }]) {
        const args = baseArgs(delivery);
        setPath(args as never, `${delivery}.kubeconfig`, value);
        const issues = meshVmIssues(args);
        assertRefused(issues, `MeshVmArgs.${delivery}.kubeconfig`, value);
        assert.ok(
          !issues.some((i) => formatIssue(i).includes("aaaa")),
          "no excerpt of a kubeconfig is quoted",
        );
      }
    });
  }
});

// ---- VmProxy on its own ----------------------------------------------------------------------------------------

function vmProxyBase(): VmProxyArgs {
  return {
    ssh: { host: "10.0.0.1", hostKey: "ssh-ed25519 AAAA", privateKey: SECRET },
    workload: { name: "vm", namespace: "ns", serviceAccount: "sa", address: "10.0.0.1" },
    kubeconfig: SECRET,
  };
}

describe("VmProxyArgs: the same rules under VmProxy's names", () => {
  const cases: [string, (a: VmProxyArgs) => void, string][] = [
    ["proxyImage", (a) => (a.proxyImage = "--privileged"), "VmProxyArgs.proxyImage"],
    ["proxyImageHub", (a) => (a.proxyImageHub = "-v/:/host"), "VmProxyArgs.proxyImageHub"],
    ["proxyImageTag", (a) => (a.proxyImageTag = "--pid=host"), "VmProxyArgs.proxyImageTag"],
    ["proxyImageName", (a) => (a.proxyImageName = "--entrypoint=x"), "VmProxyArgs.proxyImageName"],
    ["sshUser", (a) => (a.sshUser = "-f"), "VmProxyArgs.sshUser"],
    [
      "prepare.dockerGroup",
      (a) => (a.prepare = { admin: { privateKey: "k" }, dockerGroup: "--help" }),
      "VmProxyArgs.prepare.dockerGroup",
    ],
    ["proxyContainerName", (a) => (a.proxyContainerName = "--rm"), "VmProxyArgs.proxyContainerName"],
    ["gatewayAddress", (a) => (a.gatewayAddress = "1.2.3.4 --privileged"), "VmProxyArgs.gatewayAddress"],
    [
      "readiness.timeoutSeconds",
      (a) => (a.readiness = { timeoutSeconds: "1; id" as never }),
      "VmProxyArgs.readiness.timeoutSeconds",
    ],
    ["readiness.logLines", (a) => (a.readiness = { logLines: 1.5 }), "VmProxyArgs.readiness.logLines"],
    ["readiness.path", (a) => (a.readiness = { path: "@evil.example/x" }), "VmProxyArgs.readiness.path"],
    [
      "deregistrationDelaySeconds",
      (a) => (a.deregistrationDelaySeconds = 1e21),
      "VmProxyArgs.deregistrationDelaySeconds",
    ],
    ["ssh.port", (a) => (a.ssh.port = 0), "VmProxyArgs.ssh.port"],
    ["ssh.host", (a) => (a.ssh.host = "-oProxyCommand=id"), "VmProxyArgs.ssh.host"],
    ["ssh.user", (a) => (a.ssh.user = "-l"), "VmProxyArgs.ssh.user"],
    [
      "mesh.discoveryAddress",
      (a) => (a.mesh = { discoveryAddress: "x\ny" }),
      "VmProxyArgs.mesh.discoveryAddress",
    ],
    ["egressHostnames", (a) => (a.egressHostnames = ["a b"]), "VmProxyArgs.egressHostnames[0]"],
    ["token.audiences", (a) => (a.token = { audiences: ["a\nb"] }), "VmProxyArgs.token.audiences[0]"],
    [
      "token.expirationSeconds",
      (a) => (a.token = { expirationSeconds: 1e12 }),
      "VmProxyArgs.token.expirationSeconds",
    ],
  ];
  for (const [what, mutate, field] of cases) {
    it(what, () => {
      const args = vmProxyBase();
      mutate(args);
      assertRefused(validateVmProxyArgs(args), field, undefined);
    });
  }
  it("accepts the base", () => assert.deepEqual(validateVmProxyArgs(vmProxyBase()).map(formatIssue), []));
});

describe("each rule once, for every caller", () => {
  it("VmProxyArgs.gatewayAddress: a DNS name is refused at preview, pointing at mesh.discoveryAddress", () => {
    const a = vmProxyBase();
    a.gatewayAddress = "gw.example.com";
    const issues = validateVmProxyArgs(a);
    assert.deepEqual(
      issues.map((i) => i.field),
      ["VmProxyArgs.gatewayAddress"],
    );
    assert.match(formatIssue(issues[0]!), /is not an IP.*VmProxyArgs\.mesh\.discoveryAddress/);
  });
  it("VmProxyArgs.mesh: not a map is refused, as for MeshVm's host and boot", () => {
    const a = vmProxyBase();
    a.mesh = "bad" as never;
    assertRefused(validateVmProxyArgs(a), "VmProxyArgs.mesh", a.mesh);
  });
  it("boot: proxyImage with proxyImageTag is reported once", () => {
    const args = baseArgs("boot");
    args.boot!.proxyImage = "docker.io/istio/proxyv2:1.30.3";
    args.boot!.proxyImageTag = "1.30.3";
    const fields = meshVmIssues(args).map((i) => i.field);
    assert.deepEqual(
      fields.filter((f) => f === "MeshVmArgs.boot.proxyImageTag"),
      ["MeshVmArgs.boot.proxyImageTag"],
    );
  });
  it("host and boot: a DNS gateway is reported once, with the tctl fix", () => {
    for (const delivery of ["host", "boot"] as const) {
      const args = baseArgs(delivery);
      setPath(args as never, `${delivery}.gatewayAddress`, "gw.example.com");
      const issues = meshVmIssues(args).filter((i) => i.field === `MeshVmArgs.${delivery}.gatewayAddress`);
      assert.equal(issues.length, 1, JSON.stringify(issues.map(formatIssue)));
      assert.match(formatIssue(issues[0]!), /mesh\.discoveryAddress to "gw\.example\.com:15012"/);
    }
  });
});

// ---- fromManifests -----------------------------------------------------------------------------------------

/** What fromManifests refuses, then what MeshVm's validation refuses in the args it read. */
function manifestIssues(yamlText: string): ValidationIssue[] {
  try {
    return meshVmInputIssues(fromManifests(yamlText), {});
  } catch (e) {
    assert.ok(
      e instanceof MeshVmValidationError,
      `expected a validation error, got ${String(e).slice(0, 200)}`,
    );
    assert.ok(e.message.length < 5000, "the message is bounded");
    assert.ok(!e.message.includes(SECRET), "no secret in the message");
    return e.issues;
  }
}

describe("fromManifests refuses hostile YAML with a message that names the place", () => {
  const bomb =
    "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n" +
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n";
  const cases: [string, string, RegExp][] = [
    ["an alias bomb", bomb, /alias bomb/],
    ["200,000 nested lists", "a: " + "[".repeat(200000) + "]".repeat(200000), /nested too deeply/],
    [
      "a deep map",
      "metadata:\n  x: " + "{a: ".repeat(5000) + "1" + "}".repeat(5000),
      /nested too deeply|deeper/,
    ],
    [
      "a syntax error next to a secret",
      `kind: WorkloadEntry\nmetadata: {name: x\npassword: ${SECRET}: [\n`,
      /not valid YAML at line/,
    ],
    ["2 MiB of YAML", "a: " + "x".repeat(2 * MiB), /larger than/],
    [
      "an empty ssh-user annotation",
      seedWorkloadEntryYaml.replace("ssh-user: istio-proxy", "ssh-user:"),
      /ssh-user"\]: the value is empty/,
    ],
    [
      "a numeric ssh-port annotation",
      seedWorkloadEntryYaml.replace("ssh-user: istio-proxy", "ssh-port: 22"),
      /ssh-port"\]: the value is not a string/,
    ],
    [
      "a quoted weight",
      seedWorkloadEntryYaml.replace(
        "  network: vm-us-central1-a",
        '  network: vm-us-central1-a\n  weight: "10"',
      ),
      /spec\.weight: is not a number/,
    ],
    [
      "a weight of 1e400",
      seedWorkloadEntryYaml.replace(
        "  network: vm-us-central1-a",
        "  network: vm-us-central1-a\n  weight: 1e400",
      ),
      /weight/,
    ],
    [
      "a proxy-config-dir of /etc",
      seedWorkloadEntryYaml.replace("proxy-config-dir: /etc/istio-proxy", "proxy-config-dir: /etc"),
      /proxyConfigDir/,
    ],
    [
      "a proxy-config-dir of /etc/.",
      seedWorkloadEntryYaml.replace("proxy-config-dir: /etc/istio-proxy", "proxy-config-dir: /etc/."),
      /proxyConfigDir/,
    ],
    [
      "an ssh-user that is an option",
      seedWorkloadEntryYaml.replace("ssh-user: istio-proxy", "ssh-user: --help"),
      /sshUser/,
    ],
    [
      "an image hub that is an option",
      seedWorkloadEntryYaml.replace("proxy-image-hub: docker.io/tetrate", "proxy-image-hub: --privileged"),
      /proxyImageHub/,
    ],
    [
      "a 1,000-character unknown field name (YAML's longest key)",
      seedWorkloadEntryYaml.replace(
        "  network: vm-us-central1-a",
        `  network: vm-us-central1-a\n  ${"k".repeat(1000)}: 1`,
      ),
      /is not supported by MeshVm/,
    ],
    [
      "a 100 KiB kind",
      `${seedWorkloadEntryYaml}---\napiVersion: v1\nkind: ${"K".repeat(100 * 1024)}\nmetadata: {name: x, namespace: bookinfo}\n`,
      /is not part of a MeshVm/,
    ],
    [
      "a 100 KiB apiVersion",
      seedWorkloadEntryYaml.replace(
        "networking.istio.io/v1beta1",
        `networking.istio.io/${"v".repeat(100 * 1024)}`,
      ),
      /apiVersion/,
    ],
    [
      "a 100 KiB ServiceEntry location",
      `${seedWorkloadEntryYaml}---\napiVersion: networking.istio.io/v1beta1\nkind: ServiceEntry\nmetadata: {name: ratings-vm, namespace: bookinfo}\nspec: {hosts: [r.bookinfo.svc.cluster.local], location: ${"L".repeat(100 * 1024)}, resolution: STATIC, ports: [{name: http, number: 9080, protocol: HTTP}], workloadSelector: {labels: {app: ratings}}}\n`,
      /is not MESH_INTERNAL/,
    ],
    [
      "a 100 KiB Sidecar selector value",
      `${seedWorkloadEntryYaml}---\n${seedSidecarYaml.replace("      app: ratings", `      app: ${"r".repeat(100 * 1024)}`)}`,
      /does not match the WorkloadEntry label/,
    ],
    [
      "a __proto__ label",
      seedWorkloadEntryYaml.replace("    app: ratings", "    app: ratings\n    __proto__: x"),
      /__proto__/,
    ],
  ];
  for (const [what, yamlText, expect] of cases) {
    it(what, () => {
      const issues = manifestIssues(yamlText);
      assert.ok(issues.length > 0, "refused");
      assert.match(issues.map(formatIssue).join("\n"), expect);
      assertSafeMessages(issues, yamlText);
      const long = issues.map(formatIssue).find((t) => /(.)\1{99}/.test(t));
      assert.equal(long, undefined, "no long run of a value is quoted");
    });
  }
});

// ---- the stack configuration -----------------------------------------------------------------------------------

const project = mkdtempSync(join(tmpdir(), "mesh-vm-hostile-"));
const outside = join(project, "..", `${project.split("/").pop()}-outside.yaml`);
after(() => {
  rmSync(project, { recursive: true, force: true });
  rmSync(outside, { force: true });
});
mkdirSync(join(project, "manifests"));
writeFileSync(join(project, "manifests", "ok.yaml"), seedWorkloadEntryYaml);
writeFileSync(outside, seedWorkloadEntryYaml);
symlinkSync("/etc/passwd", join(project, "manifests", "passwd.yaml"));
mkdirSync(join(project, "manifests", "dir.yaml"));

function stackIssues(values: Record<string, unknown>): ValidationIssue[] {
  try {
    parseStackConfig({
      stack: "dev",
      values: Object.fromEntries(Object.entries(values).map(([k, v]) => [`mesh-vm:${k}`, JSON.stringify(v)])),
      secretKeys: new Set(["mesh-vm:kubeconfig", "mesh-vm:vms"]),
      env: {},
      baseDir: project,
    });
  } catch (e) {
    assert.ok(e instanceof StackConfigError, String(e).slice(0, 300));
    assert.ok(!e.message.includes(SECRET));
    assert.ok(e.message.length < 20000, `bounded message (${e.message.length})`);
    return e.issues;
  }
  return [];
}

function stackVm(
  host: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    name: "ratings-vm",
    namespace: "bookinfo",
    address: "198.51.100.10",
    serviceAccount: "bookinfo-ratings",
    labels: { app: "ratings" },
    ports: [{ name: "http", number: 9080 }],
    host: { hostKey: "ssh-ed25519 AAAA", prepare: { admin: { privateKey: SECRET } }, ...host },
    ...extra,
  };
}

describe("the stack configuration: the same refusals, named by config key", () => {
  const hostCases: [string, Record<string, unknown>, string][] = [
    ["proxyImage --privileged", { proxyImage: "--privileged" }, "proxyImage"],
    ["proxyImage -v/:/host", { proxyImage: "-v/:/host" }, "proxyImage"],
    ["proxyImage --pid=host", { proxyImage: "--pid=host" }, "proxyImage"],
    ["proxyImage --entrypoint", { proxyImage: "--entrypoint=/bin/sh" }, "proxyImage"],
    [
      "dockerGroup --help",
      { prepare: { admin: { privateKey: SECRET }, dockerGroup: "--help" } },
      "prepare.dockerGroup",
    ],
    [
      "dockerGroup -f",
      { prepare: { admin: { privateKey: SECRET }, dockerGroup: "-f" } },
      "prepare.dockerGroup",
    ],
    ["readiness.timeoutSeconds 1.5", { readiness: { timeoutSeconds: 1.5 } }, "readiness.timeoutSeconds"],
    ["readiness.logLines 1e21", { readiness: { logLines: 1e21 } }, "readiness.logLines"],
    ["readiness.path @evil", { readiness: { path: "@evil.example/x" } }, "readiness.path"],
    ["deregistrationDelaySeconds 1e21", { deregistrationDelaySeconds: 1e21 }, "deregistrationDelaySeconds"],
    [
      "mesh.discoveryAddress with a line break",
      { mesh: { discoveryAddress: "a:1\nb" } },
      "mesh.discoveryAddress",
    ],
    ["egressHostnames with a space", { egressHostnames: ["a b"] }, "egressHostnames[0]"],
  ];
  for (const [what, host, key] of hostCases) {
    it(what, () => {
      assertRefused(stackIssues({ vms: [stackVm(host)] }), `mesh-vm:vms[0].host.${key}`, undefined);
    });
  }
  for (const dir of ["/etc", "/etc/.", "/usr/local/bin", "/etc/ssl", "/tmp"]) {
    it(`proxyConfigDir ${dir}`, () => {
      assertRefused(
        stackIssues({ vms: [stackVm({}, { proxyConfigDir: dir })] }),
        "mesh-vm:vms[0].proxyConfigDir",
        dir,
      );
    });
  }
  it("a port of 1e400 is named as too large, not 'a number, got a number'", () => {
    const raw = stackIssuesRaw(
      '[{"name":"ratings-vm","namespace":"bookinfo","address":"198.51.100.10","serviceAccount":"sa","labels":{"app":"r"},"ports":[{"name":"http","number":1e400}]}]',
    );
    const text = raw.map(formatIssue).join("\n");
    assert.match(text, /too large/);
    assert.doesNotMatch(text, /got a number$/m);
  });
  const files: [string, RegExp][] = [
    ["../../../../etc/passwd", /outside the project directory/],
    ["/etc/passwd", /absolute path/],
    ["manifests/passwd.yaml", /outside the project directory/],
    [`../${project.split("/").pop()}-outside.yaml`, /outside the project directory/],
    ["manifests/dir.yaml", /not a regular file/],
    ["manifests/missing.yaml", /ENOENT/],
    ["", /not a file name/],
    ["manifests/ok.yaml\n", /not a file name/],
  ];
  for (const [file, expect] of files) {
    it(`manifests[].file ${JSON.stringify(file)}`, () => {
      const issues = stackIssues({ manifests: [{ file }] });
      const hit = issues.find((i) => i.field === "mesh-vm:manifests[0].file");
      assert.ok(hit, JSON.stringify(issues.map(formatIssue)));
      assert.match(hit.problem, expect);
      assert.doesNotMatch(formatIssue(hit), /root:x:0:0/, "the file's content is never quoted");
    });
  }
  it("manifests[].file inside the project is read", () => {
    assert.deepEqual(stackIssues({ manifests: [{ file: "manifests/ok.yaml" }] }).map(formatIssue), []);
  });
});

/** parseStackConfig with the vms value given as raw JSON text (as the engine passes it). */
function stackIssuesRaw(vmsJson: string): ValidationIssue[] {
  try {
    parseStackConfig({
      stack: "dev",
      values: { "mesh-vm:vms": vmsJson },
      secretKeys: new Set(["mesh-vm:vms"]),
      env: {},
      baseDir: project,
    });
  } catch (e) {
    assert.ok(e instanceof StackConfigError);
    return e.issues;
  }
  return [];
}
