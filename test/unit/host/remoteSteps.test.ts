// The SSH delivery's two remote steps, rendered from a plan and run for real in the script sandbox (sh,
// coreutils): the proxy step writes only the files whose content changed, refuses a bundle its script does not
// name, never carries content on its command line, and removes what it wrote; the host step reads the key and
// the hosts block from stdin in that order.
import assert from "node:assert/strict";
import { existsSync, readFileSync, statSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  fileBundle,
  fileEntriesOf,
  hostStepScripts,
  hostStepStdin,
  proxyStepScripts,
  removeFilesScript,
  writeFilesScript,
} from "../../../components/host/remoteSteps";
import type { PlannedFile, RuntimePlan } from "../../../components/runtime/plan";
import { freshDir, mode, run } from "./scriptSandbox";

const me = userInfo().username;

function files(dir: string, token: string, env = "A=1\n"): PlannedFile[] {
  return [
    {
      path: join(dir, "sidecar.env"),
      owner: me,
      group: me,
      mode: "0644",
      content: env,
      secret: false,
      restartsProxy: true,
    },
    {
      path: join(dir, "istio-token"),
      owner: me,
      group: me,
      mode: "0640",
      content: token,
      secret: true,
      restartsProxy: false,
    },
  ];
}

describe("the proxy step's file bundle", () => {
  it("writes the files, then only those whose content changed, each with its mode", () => {
    const dir = join(freshDir(), "etc");
    const write = (f: PlannedFile[]) =>
      run(`sh -c '${writeFilesScript(fileEntriesOf(f)).replace(/'/g, `'\\''`)}'`, fileBundle(f));
    let r = write(files(dir, "t1"));
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split("\n"), [
      `written ${dir}/sidecar.env`,
      `written ${dir}/istio-token`,
    ]);
    assert.equal(readFileSync(join(dir, "istio-token"), "utf8"), "t1");
    assert.equal(mode(join(dir, "istio-token")), "640");
    const inode = statSync(join(dir, "sidecar.env")).ino;
    r = write(files(dir, "t2"));
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split("\n"), [
      `unchanged ${dir}/sidecar.env`,
      `written ${dir}/istio-token`,
    ]);
    assert.equal(statSync(join(dir, "sidecar.env")).ino, inode, "not rewritten");
    assert.equal(readFileSync(join(dir, "istio-token"), "utf8"), "t2");
  });

  it("refuses a bundle whose file the script does not name, writing nothing", () => {
    const dir = join(freshDir(), "etc");
    const script = writeFilesScript(fileEntriesOf(files(dir, "t1")));
    const r = run(`sh -c '${script.replace(/'/g, `'\\''`)}'`, fileBundle(files(dir, "t1", "A=2\n")));
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /sidecar\.env: the file on stdin is not the one this script names/);
    assert.equal(existsSync(join(dir, "sidecar.env")), false);
  });

  it("names every file in the script with a non-secret digest and shows a small config file, never a secret's content or digest", () => {
    const plan = {
      runtime: "container",
      runsAs: "account",
      start: "echo start",
      stop: "echo stop",
      configDigest: "d",
    } as RuntimePlan;
    const f = files("/etc/istio-proxy", "SECRET-TOKEN");
    const { create, delete: del } = proxyStepScripts(plan, fileEntriesOf(f));
    assert.match(create, /^# \/etc\/istio-proxy\/sidecar\.env sha256=[0-9a-f]{64}$/m);
    assert.match(create, /^# \/etc\/istio-proxy\/istio-token secret$/m);
    assert.ok(!create.includes("SECRET-TOKEN"), "no secret in the script");
    // sidecar.env's lines as comments under its digest, so preview --diff shows what changes in it.
    assert.match(create, /^# \/etc\/istio-proxy\/sidecar\.env sha256=[0-9a-f]{64}\n# {3}A=1$/m);
    assert.ok(create.indexOf("echo start") > create.indexOf("put "), "files first, then start");
    assert.ok(del.indexOf("echo stop") < del.indexOf("rm -f"), "stop first, then the files");
  });

  it("removes the files and their emptied directory", () => {
    const dir = join(freshDir(), "etc");
    const f = files(dir, "t1");
    assert.equal(
      run(`sh -c '${writeFilesScript(fileEntriesOf(f)).replace(/'/g, `'\\''`)}'`, fileBundle(f)).code,
      0,
    );
    const r = run(`sh -c '${removeFilesScript(fileEntriesOf(f)).replace(/'/g, `'\\''`)}'`);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(existsSync(dir), false);
  });
});

describe("the host step", () => {
  it("reads the key and then the hosts block from stdin; a step without a key reads only the block", () => {
    const block = { owner: "bookinfo/ratings-vm", address: "127.0.0.2", hostnames: ["reviews.bookinfo.svc"] };
    const stdin = hostStepStdin("ssh-ed25519 AAAAkey comment\n", block).split("\n");
    assert.equal(Buffer.from(stdin[0]!, "base64").toString(), "ssh-ed25519 AAAAkey comment");
    assert.match(Buffer.from(stdin[1]!, "base64").toString(), /^127\.0\.0\.2 reviews\.bookinfo\.svc$/m);
    const withKey = hostStepScripts({
      key: { user: "istio-proxy", keyOwner: "bookinfo/ratings-vm" },
      hostsBlock: block,
    });
    assert.ok(withKey.create.indexOf("read -r key_b64") < withKey.create.indexOf("read -r hosts_b64"));
    const blockOnly = hostStepScripts({ hostsBlock: block });
    assert.ok(!blockOnly.create.includes("key_b64"));
    assert.equal(hostStepStdin(undefined, block).split("\n").length, 2, "one line and its end");
    // Delete depends on the owner only: a changed name list never changes how the block is removed.
    assert.equal(
      hostStepScripts({ hostsBlock: { ...block, address: "127.0.0.3" } }).delete,
      blockOnly.delete,
    );
  });
});
