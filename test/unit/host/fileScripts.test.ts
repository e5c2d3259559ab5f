// Runs the rendered file scripts (writeFileScript, removeFileScript) for real inside a temporary sandbox.
import assert from "node:assert/strict";
import { chmodSync, existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { removeFileScript, writeFileScript } from "../../../components/host/fileScripts";
import { wrapScript } from "../../../components/host/shell";
import { freshDir, mode, run } from "./scriptSandbox";

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
