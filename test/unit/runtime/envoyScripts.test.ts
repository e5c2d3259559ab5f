// The envoy runtime's container scripts: `docker run` of the Envoy image with the config directory read-only at
// its own path, host networking, the digest and owner labels and the account's uid; readiness on admin /ready;
// the scripts parse as POSIX sh.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import {
  envoyDockerRunArgs,
  envoyReadinessUrl,
  envoyStartScript,
  envoyStopScript,
  type EnvoyContainerSpec,
} from "../../../components/runtime/envoyScripts";

const spec: EnvoyContainerSpec = {
  name: "mesh-envoy",
  image: "docker.io/envoyproxy/envoy:v1.37.0",
  configDir: "/etc/envoy",
  configPath: "/etc/envoy/envoy.yaml",
  owner: "vms/dev-laptop",
  adminPort: 15000,
  readinessTimeoutSeconds: 120,
};

describe("envoy runtime: container scripts", () => {
  it("runs the image with the config dir read-only at its path, host network, labels, then -c the config", () => {
    assert.deepEqual(envoyDockerRunArgs(spec, "abc"), [
      "run",
      "-d",
      "--name",
      "mesh-envoy",
      "--restart",
      "unless-stopped",
      "--network",
      "host",
      "--label",
      "mesh-vm.config-digest=abc",
      "--label",
      "mesh-vm.owner=vms/dev-laptop",
      "-v",
      "/etc/envoy:/etc/envoy:ro",
      "--",
      "docker.io/envoyproxy/envoy:v1.37.0",
      "-c",
      "/etc/envoy/envoy.yaml",
    ]);
    assert.equal(envoyReadinessUrl(15000), "http://127.0.0.1:15000/ready");
  });

  it("starts Envoy as the account's uid and waits on /ready; restarts only on a new digest", () => {
    const s = envoyStartScript(spec, "abc");
    assert.match(
      s,
      /-e ENVOY_UID="\$\(id -u\)" -e ENVOY_GID="\$\(id -g\)" -- docker\.io\/envoyproxy\/envoy:v1\.37\.0 -c \/etc\/envoy\/envoy\.yaml/,
    );
    assert.match(s, /^url=http:\/\/127\.0\.0\.1:15000\/ready$/m);
    assert.match(s, /if \[ -n "\$current" \] && \[ "\$current" = "\$want" \]; then/);
    for (const script of [s, envoyStopScript(spec)]) {
      const r = spawnSync("sh", ["-n", "-c", script], { encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
    }
  });

  it("refuses an image or container name that is not one", () => {
    assert.throws(
      () => envoyDockerRunArgs({ ...spec, image: "--privileged" }, "abc"),
      /envoy container: .* is not an image reference/,
    );
    assert.throws(
      () => envoyDockerRunArgs({ ...spec, name: "-x" }, "abc"),
      /envoy container: .* is not a container name/,
    );
  });
});
