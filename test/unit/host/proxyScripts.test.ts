// Runs the rendered proxy container scripts for real inside a temporary sandbox, with fake `docker` and
// `curl` commands where a daemon or a proxy would be needed.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ContainerSpec, containerDigest, proxyMounts } from "../../../components/host/proxyContainer";
import { removeProxyScript, runProxyScript } from "../../../components/host/proxyScripts";
import { wrapScript } from "../../../components/host/shell";
import { freshDir, mode, run } from "./scriptSandbox";

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
