// The sandbox's Pulumi.yaml runs the repository's root program through the real CLI: `main` is relative
// to the project dir (Pulumi joins it with it, so an absolute path does not work) and leads back to the
// repository's index.ts wherever the sandbox dir is (inside the repository by default, anywhere with
// MESH_VM_SANDBOX_DIR); the backend is pinned; the rest is the root project's.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { sandboxProject } from "../../../scripts/sandbox/stack";

const repoRoot = resolve(__dirname, "../../..");
const rootProject = parse(readFileSync(join(repoRoot, "Pulumi.yaml"), "utf8")) as Record<string, unknown>;

describe("the sandbox project (Pulumi.yaml)", () => {
  for (const [where, projectDir] of [
    ["default .sandbox/ in the repository", join(repoRoot, ".sandbox", "project")],
    ["MESH_VM_SANDBOX_DIR outside it", "/tmp/some/where/sandbox/project"],
  ] as const) {
    it(`points main at the repository's index.ts (${where})`, () => {
      const backendDir = join(projectDir, "..", "backend");
      const p = sandboxProject(rootProject, projectDir, backendDir, repoRoot);
      assert.equal(isAbsolute(String(p.main)), false, "main is relative");
      assert.equal(resolve(projectDir, String(p.main)), join(repoRoot, "index.ts"));
      assert.deepEqual(p.runtime, rootProject.runtime);
      assert.deepEqual(p.backend, { url: `file://${backendDir}` });
      // The rest is the root project's own: name and declared config keys.
      assert.equal(p.name, rootProject.name);
      assert.deepEqual(p.config, rootProject.config);
    });
  }

  it("leaves the root project as it was", () => {
    const before = structuredClone(rootProject);
    sandboxProject(rootProject, "/tmp/x/project", "/tmp/x/backend", repoRoot);
    assert.deepEqual(rootProject, before);
  });
});
