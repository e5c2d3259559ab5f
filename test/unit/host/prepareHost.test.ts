// Runs the rendered host preparation script for real inside a temporary sandbox.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, it } from "node:test";
import { prepareHostScript } from "../../../components/host/prepareHost";
import { freshDir } from "./scriptSandbox";

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
