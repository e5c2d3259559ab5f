// The root filesystem build runs dpkg's maintainer scripts chrooted: the caller's TMPDIR, HOME, locale and proxy
// variables must not reach them (a suite's TMPDIR made every post-install `mktemp` fail, issue #22). The full
// proof is the from-scratch build in CI (scripts/lib.sh check_testbed_from_scratch); this is its fast guard.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { resolve } from "node:path";
import { test } from "node:test";

const script = resolve(__dirname, "../../../scripts/testbed/rootfs.sh");

function buildEnvironment(callerEnv: Record<string, string>): Record<string, string> {
  const out = execFileSync("bash", [script, "env"], { encoding: "utf8", env: callerEnv });
  const env: Record<string, string> = {};
  for (const line of out.split("\n")) {
    const i = line.indexOf("=");
    if (i > 0) env[line.slice(0, i)] = line.slice(i + 1);
  }
  return env;
}

test("the root filesystem build sees only its own variables, whatever the caller has", () => {
  const env = buildEnvironment({
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    TMPDIR: "/machine/only/suite-tmp",
    HOME: "/machine/only/home",
    LANG: "xx_XX.UTF-8",
    LC_ALL: "xx_XX.UTF-8",
    http_proxy: "http://127.0.0.1:9",
    HTTPS_PROXY: "http://127.0.0.1:9",
    NODE_OPTIONS: "--import tsx",
    MESH_VM_CACHE: "/var/cache/example-mesh-vm",
    MESH_VM_APT_PROXY: "http://proxy.example:3128",
  });
  // PWD, SHLVL and _ are bash's own.
  const bashOwn = new Set(["PWD", "OLDPWD", "SHLVL", "_"]);
  assert.deepEqual(
    Object.keys(env)
      .filter((k) => !bashOwn.has(k))
      .sort(),
    ["HOME", "LANG", "MESH_VM_APT_PROXY", "MESH_VM_CACHE", "MESH_VM_ROOTFS_ENV", "PATH"],
  );
  assert.equal(env.HOME, "/root");
  assert.equal(env.LANG, "C");
  assert.equal(env.PATH, "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  // What the caller chose on purpose still arrives: the cache to build into, and an explicit apt proxy.
  assert.equal(env.MESH_VM_CACHE, "/var/cache/example-mesh-vm");
  assert.equal(env.MESH_VM_APT_PROXY, "http://proxy.example:3128");
});

test("a test that needs the tree only looks it up, and names the set-up command when it is missing", () => {
  let message = "";
  try {
    execFileSync("bash", [script, "path"], {
      encoding: "utf8",
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", MESH_VM_CACHE: "/nonexistent/mesh-vm-cache" },
      stdio: ["ignore", "pipe", "pipe"],
    });
  } catch (error) {
    const e = error as { status: number; stderr: string };
    assert.equal(e.status, 3);
    message = e.stderr;
  }
  assert.match(message, /root filesystem is not built .*run the set-up first: scripts\/test\.sh setup/);
});
