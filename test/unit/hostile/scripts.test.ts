// The second layer of the hostile-input suite: the rendered host scripts run for real, in a throwaway directory
// with stub commands first on PATH (docker, useradd, groupadd, getent, usermod, id, install, chown, curl) that
// log their argv, one argument per line. The assertions: no canary file appears (nothing ran as shell code), every
// stubbed command got exactly the arguments expected (no extra option; the image right after `--`), and the hosts
// file and config files hold exactly the lines given, no extra line. The renderers also refuse, on their own,
// the values validation refuses at preview (defence in depth for callers that skip it).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { writeFileScript } from "../../../components/host/fileScripts";
import { applyHostsBlockScript, renderHostsBlock } from "../../../components/host/hostsBlock";
import { prepareHostScript } from "../../../components/host/prepareHost";
import { ContainerSpec, dockerRunArgs, proxyImageOf } from "../../../components/host/proxyContainer";
import { readinessUrl, runProxyScript } from "../../../components/host/proxyScripts";
import { wrapScript } from "../../../components/host/shell";
import { formatInteger } from "../../../components/rules/values";

const root = mkdtempSync(join(tmpdir(), "mesh-vm-hostile-run-"));
after(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;

/** Shell code in a value: if any of it ran, the canary file would exist. */
const canaryCode = (dir: string) => [
  `$(touch ${dir}/canary)`,
  `\`touch ${dir}/canary\``,
  `x; touch ${dir}/canary`,
  `x' ; touch ${dir}/canary; '`,
  `x" ; touch ${dir}/canary; "`,
  `--entrypoint=/bin/sh`,
  `-v/:/host`,
  `$HOME\${IFS}touch\${IFS}${dir}/canary`,
];

/** A throwaway root: stub commands that log argv to `<dir>/log/<command>`, and a home for the proxy user. */
function sandbox() {
  const dir = join(root, `run-${++counter}`);
  const bin = join(dir, "bin");
  mkdirSync(bin, { recursive: true });
  mkdirSync(join(dir, "log"));
  mkdirSync(join(dir, "home"));
  mkdirSync(join(dir, "etc", "istio-proxy"), { recursive: true });
  writeFileSync(join(dir, "etc", "istio-proxy", "istio-ca.pem"), "root\n");
  const stub = (name: string, body: string) => {
    writeFileSync(
      join(bin, name),
      `#!/bin/sh\n{ echo "--- ${name}"; for a in "$@"; do printf '%s\\n' "$a"; done; } >> "${dir}/log/${name}"\n${body}\n`,
    );
    chmodSync(join(bin, name), 0o755);
  };
  stub(
    "docker",
    [
      `case "$1" in`,
      `  inspect) case "$3" in *.Id*) echo cid ;; *.State.Status*) echo running ;; *) exit 1 ;; esac ;;`,
      `  logs) echo "log line" ;;`,
      `esac`,
      `exit 0`,
    ].join("\n"),
  );
  stub(
    "id",
    [
      `if [ "$#" = 1 ] && [ "$1" = -u ]; then echo 0; exit 0; fi`,
      `case "$1" in -u) [ -e "${dir}/user-created" ] || exit 1; echo 1000 ;; -gn) echo proxygroup ;; -nG) echo proxygroup ;; esac`,
    ].join("\n"),
  );
  stub("useradd", `touch "${dir}/user-created"`);
  stub("usermod", "exit 0");
  stub("groupadd", "exit 0");
  stub("getent", `case "$1" in passwd) echo "u:x:1000:1000::${dir}/home:/bin/sh" ;; *) exit 2 ;; esac`);
  // install: the real one, without changing owners (the test need not be root).
  stub(
    "install",
    [
      `args=""; skip=""`,
      `for a in "$@"; do if [ -n "$skip" ]; then skip=""; continue; fi; case "$a" in -o|-g) skip=1 ;; *) args="$args '$a'" ;; esac; done`,
      `eval "/usr/bin/install $args"`,
    ].join("\n"),
  );
  stub("chown", "exit 0");
  stub("flock", "exit 0");
  stub("curl", `[ -e "${dir}/not-ready" ] && exit 7; exit 0`);
  const run = (commandLine: string, stdin = "") => {
    const r = spawnSync("sh", ["-c", commandLine], {
      input: stdin,
      encoding: "utf8",
      env: { PATH: `${bin}:/usr/bin:/bin`, HOME: dir },
      timeout: 20_000,
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  /** The argv of each call of `name`, as lists. */
  const calls = (name: string): string[][] => {
    const file = join(dir, "log", name);
    if (!existsSync(file)) return [];
    return readFileSync(file, "utf8")
      .split(`--- ${name}\n`)
      .slice(1)
      .map((c) => c.replace(/\n$/, "").split("\n"));
  };
  const assertNoCanary = () => assert.ok(!existsSync(join(dir, "canary")), "no value ran as shell code");
  return { dir, run, calls, assertNoCanary };
}

function containerSpec(dir: string, over: Partial<ContainerSpec> = {}): ContainerSpec {
  return {
    name: "istio-proxy",
    image: "docker.io/istio/proxyv2:1.30.3",
    args: ["proxy", "sidecar"],
    configDir: join(dir, "etc", "istio-proxy"),
    addHosts: [],
    owner: "bookinfo/ratings-vm",
    ...over,
  };
}

describe("docker run: the image right after --, every argument exactly as given", () => {
  const images = [
    "docker.io/istio/proxyv2:1.30.3",
    "localhost/mesh-vm-standin-proxy:test",
    "localhost:5000/proxy@sha256:" + "a".repeat(64),
    "registry.example.com:443/team__x/proxy-v2:v1.2_3",
  ];
  for (const image of images) {
    it(`image ${image.slice(0, 50)}`, () => {
      const s = sandbox();
      const spec = containerSpec(s.dir, { image });
      const r = s.run(wrapScript(runProxyScript(spec, "digest", { timeoutSeconds: 2 })));
      assert.equal(r.code, 0, r.stderr);
      const run = s.calls("docker").find((c) => c[0] === "run")!;
      assert.deepEqual(run, dockerRunArgs(spec, "digest"));
      assert.equal(run[run.indexOf("--") + 1], image);
      assert.deepEqual(run.slice(run.indexOf("--") + 2), spec.args);
      s.assertNoCanary();
    });
  }
  for (const [i, value] of canaryCode("CANARYDIR").entries()) {
    it(`a proxy argument holding shell code #${i + 1} stays one literal argument`, () => {
      const s = sandbox();
      const arg = value.replace(/CANARYDIR/g, s.dir);
      const spec = containerSpec(s.dir, { args: ["proxy", "sidecar", arg] });
      const r = s.run(wrapScript(runProxyScript(spec, "digest", { timeoutSeconds: 2 })));
      assert.equal(r.code, 0, r.stderr);
      const run = s.calls("docker").find((c) => c[0] === "run")!;
      assert.deepEqual(run.slice(run.indexOf("--") + 1), [spec.image, "proxy", "sidecar", arg]);
      const beforeImage = run.slice(0, run.indexOf("--"));
      assert.ok(!beforeImage.includes(arg), "never among the options");
      s.assertNoCanary();
    });
  }
  for (const path of ["/healthz/ready", "/healthz/ready?full=1&x=y", "/a%20b", "/x:y@z", "/~user/-dash"]) {
    it(`readiness path ${path} reaches curl as one URL`, () => {
      const s = sandbox();
      const readiness = { path, timeoutSeconds: 2 };
      const r = s.run(wrapScript(runProxyScript(containerSpec(s.dir), "digest", readiness)));
      assert.equal(r.code, 0, r.stderr);
      const curl = s.calls("curl")[0]!;
      assert.equal(curl.at(-1), `http://127.0.0.1:15021${path}`);
      assert.equal(curl.at(-1), readinessUrl(readiness));
      assert.deepEqual(curl.slice(0, -1), ["-fsS", "-o", "/dev/null", "--max-time", "2"]);
      s.assertNoCanary();
    });
  }
  it("a failed readiness wait passes the formatted line count to docker logs", () => {
    const s = sandbox();
    writeFileSync(join(s.dir, "not-ready"), "");
    const r = s.run(
      wrapScript(runProxyScript(containerSpec(s.dir), "digest", { timeoutSeconds: 1, logLines: 7 })),
    );
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /not ready .* after 1s/);
    assert.deepEqual(
      s.calls("docker").find((c) => c[0] === "logs"),
      ["logs", "--tail", "7", "istio-proxy"],
    );
  });
});

describe("host preparation: names after --, no option, no shell code", () => {
  const cases: [string, string][] = [
    ["istio-proxy", "docker"],
    ["_svc", "_docker"],
    ["machine$", "docker-ce"],
    ["a".repeat(32), "g".repeat(32)],
  ];
  for (const [user, group] of cases) {
    it(`user ${user.slice(0, 12)}, group ${group.slice(0, 12)}`, () => {
      const s = sandbox();
      const configDir = join(s.dir, "etc", "istio-proxy");
      const r = s.run(
        wrapScript(
          prepareHostScript({ user, configDir, dockerGroup: group, keyOwner: "bookinfo/vm" }),
          "root",
        ),
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKey comment",
      );
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(s.calls("useradd")[0], [
        "--create-home",
        "--user-group",
        "--shell",
        "/bin/sh",
        "--",
        user,
      ]);
      assert.deepEqual(s.calls("groupadd")[0], ["--system", "--", group]);
      assert.deepEqual(s.calls("usermod").at(-1), ["-aG", group, "--", user]);
      for (const c of s.calls("getent")) assert.equal(c[1], "--", `getent ${c.join(" ")}`);
      assert.deepEqual(
        s.calls("install").find((c) => c.includes(configDir)),
        ["-d", "-m", "775", "-o", user, "-g", "proxygroup", "--", configDir],
      );
      const keys = readFileSync(join(s.dir, "home", ".ssh", "authorized_keys"), "utf8");
      assert.equal(
        keys,
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKey mesh-vm:bookinfo/vm\n",
        "exactly one line",
      );
      s.assertNoCanary();
    });
  }
  for (const [i, value] of canaryCode("CANARYDIR").entries()) {
    it(`a key on stdin holding shell code #${i + 1} is refused, not run`, () => {
      const s = sandbox();
      const key = `ssh-ed25519 AAAA ${value.replace(/CANARYDIR/g, s.dir)}\nssh-ed25519 BBBB second`;
      const r = s.run(
        wrapScript(
          prepareHostScript({ user: "istio-proxy", configDir: join(s.dir, "d", "p"), keyOwner: "ns/vm" }),
          "root",
        ),
        key,
      );
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /not one public key line/);
      s.assertNoCanary();
    });
  }
  it("a symbolic link planted at the directory is refused", () => {
    const s = sandbox();
    const configDir = join(s.dir, "tmp", "istio-proxy");
    mkdirSync(join(s.dir, "tmp"));
    spawnSync("ln", ["-s", "/etc", configDir]);
    const r = s.run(wrapScript(prepareHostScript({ user: "istio-proxy", configDir }), "root"));
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /symbolic link/);
    assert.ok(!s.calls("install").some((c) => c.includes(configDir)), "nothing installed over the link");
  });
});

describe("files and the hosts block arrive on stdin, verbatim, with no extra line", () => {
  for (const [i, value] of canaryCode("CANARYDIR").entries()) {
    it(`file content holding shell code #${i + 1}`, () => {
      const s = sandbox();
      const content = `KEY=${value.replace(/CANARYDIR/g, s.dir)}\nX=1`;
      const path = join(s.dir, "etc", "istio-proxy", "sidecar.env");
      const r = s.run(wrapScript(writeFileScript({ path, mode: "0644" })), content);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(readFileSync(path, "utf8"), content);
      s.assertNoCanary();
    });
  }
  const owner = "bookinfo/ratings-vm";
  it("1,000 names: a short command line, exactly the block in the file", () => {
    const s = sandbox();
    const hostsFile = join(s.dir, "hosts");
    writeFileSync(hostsFile, "127.0.0.1 localhost\n");
    const spec = {
      owner,
      address: "127.0.0.2",
      hostnames: Array.from({ length: 1000 }, (_, i) => `s${i}.svc`),
      hostsFile,
    };
    const script = wrapScript(applyHostsBlockScript(spec), "root");
    assert.ok(script.length < 8192, `the command line stays small (${script.length})`);
    const r = s.run(script, renderHostsBlock(spec));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(hostsFile, "utf8"), "127.0.0.1 localhost\n" + renderHostsBlock(spec));
  });
  const smuggled: [string, (block: string) => string][] = [
    ["an extra line after the block", (b) => b + "6.6.6.6 evil.example\n"],
    ["an extra line inside the block", (b) => b.replace("\n127.0.0.2", "\n6.6.6.6 bank.example\n127.0.0.2")],
    [
      "a second BEGIN marker",
      (b) => b.replace("\n127.0.0.2", "\n# BEGIN mesh-vm bookinfo/ratings-vm\n127.0.0.2"),
    ],
    ["another owner's markers", (b) => b.replace(/bookinfo\/ratings-vm/g, "bookinfo/other")],
    ["shell code as a line", (b) => b.replace("\n127.0.0.2", "\n$(touch CANARY)\n127.0.0.2")],
    ["a line with three words", (b) => b.replace("127.0.0.2 a.svc", "127.0.0.2 a.svc evil")],
    ["a comment line", (b) => b.replace("\n127.0.0.2", "\n# note\n127.0.0.2")],
    ["no END marker", (b) => b.replace(/# END.*\n/, "")],
  ];
  for (const [what, tamper] of smuggled) {
    it(`refuses stdin with ${what}, leaving the file alone`, () => {
      const s = sandbox();
      const hostsFile = join(s.dir, "hosts");
      writeFileSync(hostsFile, "127.0.0.1 localhost\n");
      const spec = { owner, address: "127.0.0.2", hostnames: ["a.svc", "b.svc"], hostsFile };
      const r = s.run(
        wrapScript(applyHostsBlockScript(spec), "root"),
        tamper(renderHostsBlock(spec)).replace("CANARY", join(s.dir, "canary")),
      );
      assert.notEqual(r.code, 0, "refused");
      assert.equal(readFileSync(hostsFile, "utf8"), "127.0.0.1 localhost\n");
      s.assertNoCanary();
    });
  }
});

describe("the renderers refuse on their own what validation refuses", () => {
  const spec = containerSpec("/srv/x");
  const throwsCases: [string, () => unknown][] = [
    ["image --privileged", () => dockerRunArgs({ ...spec, image: "--privileged" }, "d")],
    ["image -v/:/host", () => dockerRunArgs({ ...spec, image: "-v/:/host" }, "d")],
    ["image --pid=host", () => dockerRunArgs({ ...spec, image: "--pid=host" }, "d")],
    ["image --entrypoint", () => dockerRunArgs({ ...spec, image: "--entrypoint=/bin/sh" }, "d")],
    [
      "hub --privileged",
      () => dockerRunArgs({ ...spec, image: proxyImageOf({ proxyImageHub: "--privileged" }) }, "d"),
    ],
    ["container name --rm", () => dockerRunArgs({ ...spec, name: "--rm" }, "d")],
    ["timeoutSeconds as shell code", () => runProxyScript(spec, "d", { timeoutSeconds: "1; id" as never })],
    ["timeoutSeconds 1.5", () => runProxyScript(spec, "d", { timeoutSeconds: 1.5 })],
    ["logLines 1e21", () => runProxyScript(spec, "d", { logLines: 1e21 })],
    ["logLines as shell code", () => runProxyScript(spec, "d", { logLines: "40; id" as never })],
    ["readiness path @evil", () => runProxyScript(spec, "d", { path: "@evil.example/x" })],
    ["readiness host with a path", () => runProxyScript(spec, "d", { host: "evil.example/x" })],
    ["readiness port 0", () => runProxyScript(spec, "d", { port: 0 })],
    ["readiness port as a string", () => runProxyScript(spec, "d", { port: "80 -o x" as never })],
    [
      "docker group --help",
      () => prepareHostScript({ user: "u", configDir: "/srv/p", dockerGroup: "--help" }),
    ],
    ["docker group -f", () => prepareHostScript({ user: "u", configDir: "/srv/p", dockerGroup: "-f" })],
    ["user -f", () => prepareHostScript({ user: "-f", configDir: "/srv/p" })],
    ["configDir /etc", () => prepareHostScript({ user: "u", configDir: "/etc" })],
    ["configDir /etc/.", () => prepareHostScript({ user: "u", configDir: "/etc/." })],
    ["configDir /usr/local/bin", () => prepareHostScript({ user: "u", configDir: "/usr/local/bin" })],
    ["configDir /tmp", () => prepareHostScript({ user: "u", configDir: "/tmp" })],
    [
      "hosts block of 20,000 names",
      () =>
        renderHostsBlock({
          owner: "a/b",
          address: "127.0.0.2",
          hostnames: Array.from({ length: 20000 }, (_, i) => `s${i}.svc`),
        }),
    ],
    [
      "hosts block owner with a newline",
      () => applyHostsBlockScript({ owner: "a/b\n1.2.3.4 x", address: "127.0.0.2" }),
    ],
    [
      "hosts block address that is not an IP",
      () => applyHostsBlockScript({ owner: "a/b", address: "127.0.0.2 evil" }),
    ],
    ["a delay of 1e21", () => formatInteger(1e21, 0, 3600, "deregistrationDelaySeconds")],
    ["a delay as shell code", () => formatInteger("5; id", 0, 3600, "deregistrationDelaySeconds")],
  ];
  for (const [what, f] of throwsCases) {
    it(what, () => {
      assert.throws(f, (e: Error) => e.message.length < 600 && !e.message.includes("\n"));
    });
  }
});
