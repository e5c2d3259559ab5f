// Runs the rendered host scripts for real (sh, coreutils, awk) inside a temporary sandbox directory,
// with fake `docker` and `curl` commands where a daemon or a proxy would be needed.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import {
  chmodSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  existsSync,
  readdirSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { removeFileScript, writeFileScript } from "../../../components/host/fileScripts";
import {
  applyHostsBlockScript,
  HostsBlockSpec,
  removeHostsBlockScript,
  renderHostsBlock,
} from "../../../components/host/hostsBlock";
import { prepareHostScript } from "../../../components/host/prepareHost";
import { ContainerSpec, containerDigest, proxyMounts } from "../../../components/host/proxyContainer";
import { removeProxyScript, runProxyScript } from "../../../components/host/proxyScripts";
import { wrapScript } from "../../../components/host/shell";

const sandbox = mkdtempSync(join(tmpdir(), "mesh-vm-host-"));
after(() => rmSync(sandbox, { recursive: true, force: true }));

let counter = 0;
function freshDir(): string {
  const dir = join(sandbox, `case-${++counter}`);
  spawnSync("mkdir", ["-p", dir]);
  return dir;
}

/** Runs a rendered command line the way sshd would: `sh -c <command>`, stdin piped. */
function run(commandLine: string, stdin = "", env: Record<string, string> = {}) {
  const result = spawnSync("sh", ["-c", commandLine], {
    input: stdin,
    encoding: "utf8",
    env: { ...process.env, ...env },
    timeout: 30_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);

describe("writeFileScript", () => {
  it("writes stdin atomically with the mode, and only when content or mode differ", () => {
    const dir = join(freshDir(), "etc", "istio-proxy");
    const file = { path: join(dir, "istio-token"), mode: "0640" };
    const content = "header.payload.signature with 'quotes' $HOME `ticks`\nand no trailing newline";
    const first = run(wrapScript(writeFileScript(file)), content);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /^written [0-9a-f]{64}\n$/);
    assert.equal(readFileSync(file.path, "utf8"), content);
    assert.equal(mode(file.path), "640");
    const inode = statSync(file.path).ino;

    const second = run(wrapScript(writeFileScript(file)), content);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.stdout, first.stdout.replace("written", "unchanged"));
    assert.equal(statSync(file.path).ino, inode, "unchanged content is not rewritten");

    chmodSync(file.path, 0o666);
    const third = run(wrapScript(writeFileScript(file)), content);
    assert.match(third.stdout, /^written /, "a drifted mode is repaired");
    assert.equal(mode(file.path), "640");
    assert.notEqual(statSync(file.path).ino, inode, "replaced by rename, not rewritten in place");

    const fourth = run(wrapScript(writeFileScript(file)), "new token");
    assert.match(fourth.stdout, /^written /);
    assert.equal(readFileSync(file.path, "utf8"), "new token");
    assert.deepEqual(
      readdirSync(dir).filter((n) => n.startsWith(".mesh-vm")),
      [],
      "no temporary files left behind",
    );

    const removed = run(wrapScript(removeFileScript(file)));
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(existsSync(file.path), false);
    assert.equal(existsSync(dir), false, "the emptied directory is removed too");
    assert.equal(run(wrapScript(removeFileScript(file))).code, 0, "removing twice is fine");
  });

  it("never carries the content on the command line", () => {
    const script = wrapScript(writeFileScript({ path: "/etc/istio-proxy/istio-token", mode: "0640" }));
    assert.doesNotMatch(script, /header\.payload/);
    assert.match(script, /cat > "\$tmp"/);
  });
});

/** Applies a hosts block as VmProxy does: the script on the command line, the block on stdin. */
function applyHosts(spec: HostsBlockSpec) {
  return run(wrapScript(applyHostsBlockScript(spec), "root"), renderHostsBlock(spec));
}

describe("hosts block", () => {
  const owner = "bookinfo/ratings-vm";
  it("adds, updates in place, keeps other lines, is idempotent, and is removed", () => {
    const hostsFile = join(freshDir(), "hosts");
    const before = "127.0.0.1 localhost\n::1 localhost ip6-localhost\n";
    writeFileSync(hostsFile, before);
    const apply = (hostnames: string[]) => applyHosts({ owner, address: "127.0.0.2", hostnames, hostsFile });

    let result = apply(["reviews.bookinfo.svc", "www.example.org"]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "updated\n");
    assert.equal(
      readFileSync(hostsFile, "utf8"),
      before +
        "# BEGIN mesh-vm bookinfo/ratings-vm\n127.0.0.2 reviews.bookinfo.svc\n127.0.0.2 www.example.org\n" +
        "# END mesh-vm bookinfo/ratings-vm\n",
    );
    assert.equal(apply(["reviews.bookinfo.svc", "www.example.org"]).stdout, "unchanged\n");

    // Someone appends a line after our block; an update must stay where the block is.
    writeFileSync(hostsFile, readFileSync(hostsFile, "utf8") + "10.0.0.9 db.internal\n");
    result = apply(["details.bookinfo.svc"]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(
      readFileSync(hostsFile, "utf8"),
      before +
        "# BEGIN mesh-vm bookinfo/ratings-vm\n127.0.0.2 details.bookinfo.svc\n# END mesh-vm bookinfo/ratings-vm\n" +
        "10.0.0.9 db.internal\n",
    );
    assert.equal(mode(hostsFile), "644");

    result = run(wrapScript(removeHostsBlockScript({ owner, hostsFile }), "root"));
    assert.equal(result.code, 0, result.stderr);
    assert.equal(readFileSync(hostsFile, "utf8"), before + "10.0.0.9 db.internal\n");
    assert.equal(run(wrapScript(removeHostsBlockScript({ owner, hostsFile }), "root")).stdout, "unchanged\n");
  });

  it("keeps every block when several owners update the file at the same time", async () => {
    const dir = freshDir();
    const hostsFile = join(dir, "hosts");
    const lockFile = join(dir, "hosts.lock");
    writeFileSync(hostsFile, "127.0.0.1 localhost\n");
    const owners = Array.from({ length: 6 }, (_, i) => `bookinfo/vm-${i}`);
    const runAsync = (commandLine: string, block: string) =>
      new Promise<number | null>((resolve) => {
        const child = spawn("sh", ["-c", commandLine], { stdio: ["pipe", "ignore", "ignore"] });
        child.stdin.end(block);
        child.on("close", resolve);
      });
    for (let round = 0; round < 3; round++) {
      const codes = await Promise.all(
        owners.map((o, i) =>
          runAsync(
            wrapScript(
              applyHostsBlockScript({ owner: o, address: "127.0.0.2", hostsFile, lockFile }),
              "root",
            ),
            renderHostsBlock({ owner: o, address: "127.0.0.2", hostnames: [`s${i}-${round}.svc`] }),
          ),
        ),
      );
      assert.deepEqual(
        codes,
        owners.map(() => 0),
      );
      const text = readFileSync(hostsFile, "utf8");
      for (const [i, o] of owners.entries()) {
        assert.ok(
          text.includes(`# BEGIN mesh-vm ${o}\n127.0.0.2 s${i}-${round}.svc\n`),
          `${o} kept in round ${round}`,
        );
      }
    }
  });

  it("leaves other owners' blocks alone and refuses a damaged block", () => {
    const hostsFile = join(freshDir(), "hosts");
    const other = "# BEGIN mesh-vm bookinfo/other\n127.0.0.2 a.svc\n# END mesh-vm bookinfo/other\n";
    writeFileSync(hostsFile, other);
    applyHosts({ owner, address: "127.0.0.2", hostnames: ["b.svc"], hostsFile });
    run(wrapScript(removeHostsBlockScript({ owner, hostsFile }), "root"));
    assert.equal(readFileSync(hostsFile, "utf8"), other);

    writeFileSync(hostsFile, "# BEGIN mesh-vm bookinfo/ratings-vm\n127.0.0.2 x.svc\n");
    const result = applyHosts({ owner, address: "127.0.0.2", hostnames: ["b.svc"], hostsFile });
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /damaged block/);
    assert.equal(readFileSync(hostsFile, "utf8"), "# BEGIN mesh-vm bookinfo/ratings-vm\n127.0.0.2 x.svc\n");
  });
});

// A docker stand-in keeping containers as files: enough of inspect/run/rm/start/logs for the scripts.
const FAKE_DOCKER = `#!/bin/sh
state="$FAKE_STATE"
echo "docker $*" >> "$state/calls"
cmd=$1; shift
case "$cmd" in
  inspect)
    fmt=$2; name=$3
    [ -d "$state/c/$name" ] || { echo "no such container: $name" >&2; exit 1; }
    case "$fmt" in
      *config-digest*) cat "$state/c/$name/digest" ;;
      *State.Running*) if [ "$(cat "$state/c/$name/status")" = running ]; then echo true; else echo false; fi ;;
      *State.Status*) cat "$state/c/$name/status" ;;
      *.Id*) cat "$state/c/$name/id" ;;
    esac ;;
  rm) name=$2; [ -d "$state/c/$name" ] || { echo "no such container" >&2; exit 1; }; rm -rf "$state/c/$name" ;;
  start) echo running > "$state/c/$1/status" ;;
  logs) echo "log line one"; echo "log line two: failed to fetch certificate" ;;
  run)
    name=; digest=
    while [ $# -gt 0 ]; do
      case "$1" in
        --name) name=$2; shift ;;
        --label) case "$2" in mesh-vm.config-digest=*) digest=\${2#mesh-vm.config-digest=} ;; esac; shift ;;
        -v) [ -e "\${2%%:*}" ] || { echo "mount source missing: \${2%%:*}" >&2; exit 125; }; shift ;;
        --restart|--network|--env-file|--add-host) shift ;;
      esac
      shift
    done
    mkdir -p "$state/c/$name"
    echo "$digest" > "$state/c/$name/digest"
    echo "\${FAKE_RUN_STATUS:-running}" > "$state/c/$name/status"
    n=$(ls "$state/c" | wc -l); echo "id$n$name" > "$state/c/$name/id"
    echo "id$n$name" ;;
esac
`;
const FAKE_CURL = `#!/bin/sh
[ -f "$FAKE_STATE/ready" ]
`;

function fakeHost() {
  const root = freshDir();
  const bin = join(root, "bin");
  const state = join(root, "state");
  spawnSync("mkdir", ["-p", bin, join(state, "c")]);
  writeFileSync(join(bin, "docker"), FAKE_DOCKER, { mode: 0o755 });
  writeFileSync(join(bin, "curl"), FAKE_CURL, { mode: 0o755 });
  const configDir = join(root, "etc", "istio-proxy");
  spawnSync("mkdir", ["-p", configDir]);
  for (const name of ["istio-ca.pem", "k8s-ca.pem", "istio-token", "sidecar.env"]) {
    writeFileSync(join(configDir, name), name);
  }
  const env = { PATH: `${bin}:${process.env.PATH}`, FAKE_STATE: state };
  const calls = () => (existsSync(join(state, "calls")) ? readFileSync(join(state, "calls"), "utf8") : "");
  return { root, configDir, state, env, calls };
}

describe("proxy container scripts", () => {
  const specFor = (configDir: string, image = "localhost/proxy:1"): ContainerSpec => ({
    name: "istio-proxy",
    image,
    args: ["proxy", "sidecar"],
    configDir,
    addHosts: [],
    owner: "bookinfo/ratings-vm",
  });
  const contents = { sidecarEnv: "A=1", meshRootCert: "root", kubernetesRootCert: "k8s" };

  it("creates the container, keeps it when nothing changed, recreates it when the digest changes", () => {
    const host = fakeHost();
    writeFileSync(join(host.state, "ready"), "");
    const spec = specFor(host.configDir);
    const digest = containerDigest(spec, contents);
    let result = run(wrapScript(runProxyScript(spec, digest, { timeoutSeconds: 5 })), "", host.env);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), {
      action: "created",
      containerId: "id1istio-proxy",
      state: "running",
    });
    assert.match(host.calls(), /docker run -d --name istio-proxy --restart unless-stopped --network host/);
    for (const mount of proxyMounts(host.configDir)) {
      assert.ok(existsSync(mount.source), `mount source ${mount.source} exists before docker run`);
    }
    assert.equal(mode(join(host.configDir, "certs")), "750");
    assert.equal(
      readFileSync(join(host.configDir, "certs", "root-cert.pem"), "utf8"),
      "istio-ca.pem",
      "the mesh root is copied beside the issued certificates",
    );

    result = run(wrapScript(runProxyScript(spec, digest, { timeoutSeconds: 5 })), "", host.env);
    assert.equal(JSON.parse(result.stdout).action, "unchanged");
    assert.equal(host.calls().match(/docker run/g)?.length, 1, "no second docker run");

    writeFileSync(join(host.state, "c", "istio-proxy", "status"), "exited");
    result = run(wrapScript(runProxyScript(spec, digest, { timeoutSeconds: 5 })), "", host.env);
    assert.equal(
      JSON.parse(result.stdout).action,
      "started",
      "a stopped container is started, not recreated",
    );

    const changed = specFor(host.configDir, "localhost/proxy:2");
    const newDigest = containerDigest(changed, contents);
    assert.notEqual(newDigest, digest);
    result = run(wrapScript(runProxyScript(changed, newDigest, { timeoutSeconds: 5 })), "", host.env);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(JSON.parse(result.stdout).action, "created");
    assert.match(host.calls(), /docker rm --force istio-proxy/);
    assert.equal(readFileSync(join(host.state, "c", "istio-proxy", "digest"), "utf8").trim(), newDigest);

    result = run(wrapScript(removeProxyScript(changed)), "", host.env);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(existsSync(join(host.state, "c", "istio-proxy")), false);
    assert.equal(existsSync(join(host.configDir, "certs")), false, "issued certificates removed on delete");
    assert.equal(run(wrapScript(removeProxyScript(changed)), "", host.env).code, 0, "delete twice is fine");
  });

  it("fails with the container's last log lines when readiness never comes", () => {
    const host = fakeHost();
    const spec = specFor(host.configDir);
    const started = Date.now();
    const result = run(
      wrapScript(runProxyScript(spec, containerDigest(spec, contents), { timeoutSeconds: 2 })),
      "",
      host.env,
    );
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /not ready at http:\/\/127\.0\.0\.1:15021\/healthz\/ready after 2s/);
    assert.match(result.stderr, /\| log line two: failed to fetch certificate/);
    assert.ok(Date.now() - started < 15_000);
  });

  it("fails at once when the container exits", () => {
    const host = fakeHost();
    const spec = specFor(host.configDir);
    const result = run(
      wrapScript(runProxyScript(spec, containerDigest(spec, contents), { timeoutSeconds: 60 })),
      "",
      { ...host.env, FAKE_RUN_STATUS: "exited" },
    );
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /state: exited/);
  });
});

describe("prepareHostScript", () => {
  it("stops with a clear message when docker is missing", () => {
    const bin = join(freshDir(), "bin");
    spawnSync("mkdir", ["-p", bin]);
    for (const tool of ["id", "getent", "cut", "tr", "grep", "install"]) {
      const path = spawnSync("sh", ["-c", `command -v ${tool}`], { encoding: "utf8" }).stdout.trim();
      if (path) spawnSync("ln", ["-s", path, join(bin, tool)]);
    }
    const result = spawnSync(
      "/bin/sh",
      ["-c", prepareHostScript({ user: "istio-proxy", configDir: "/etc/istio-proxy" })],
      {
        encoding: "utf8",
        env: { PATH: bin },
      },
    );
    assert.equal(result.status, 3);
    assert.match(result.stderr, /docker is not installed on this host/);
  });
});
