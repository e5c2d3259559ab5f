// Runs the rendered /etc/hosts block scripts for real inside a temporary sandbox, several owners at once too.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  applyHostsBlockScript,
  HostsBlockSpec,
  removeHostsBlockScript,
  renderHostsBlock,
} from "../../../components/host/hostsBlock";
import { wrapScript } from "../../../components/host/shell";
import { freshDir, mode, run } from "./scriptSandbox";

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
    assert.equal(applyHosts({ owner, address: "127.0.0.2", hostnames: ["b.svc"], hostsFile }).code, 0);
    assert.match(
      readFileSync(hostsFile, "utf8"),
      /# BEGIN mesh-vm bookinfo\/ratings-vm\n127\.0\.0\.2 b\.svc\n/,
    );
    assert.equal(run(wrapScript(removeHostsBlockScript({ owner, hostsFile }), "root")).code, 0);
    assert.equal(readFileSync(hostsFile, "utf8"), other);

    writeFileSync(hostsFile, "# BEGIN mesh-vm bookinfo/ratings-vm\n127.0.0.2 x.svc\n");
    const result = applyHosts({ owner, address: "127.0.0.2", hostnames: ["b.svc"], hostsFile });
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /damaged block/);
    assert.equal(readFileSync(hostsFile, "utf8"), "# BEGIN mesh-vm bookinfo/ratings-vm\n127.0.0.2 x.svc\n");
  });
});
