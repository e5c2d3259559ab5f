// The sandbox's command line: `up --istiod` (or MESH_VM_SANDBOX_ISTIOD=1) asks for a real istiod, and a
// running sandbox keeps the mode it was started with (an `up` in the other mode refuses, naming both modes
// and the way out).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { modeConflict, parseInvocation } from "../../../scripts/sandbox/mode";
import type { SandboxState } from "../../../scripts/sandbox/state";

describe("the sandbox's command line and mode", () => {
  it("up is the default; --istiod and MESH_VM_SANDBOX_ISTIOD=1 ask for istiod", () => {
    assert.deepEqual(parseInvocation([]), { command: "up", istiod: false });
    assert.deepEqual(parseInvocation(["up"]), { command: "up", istiod: false });
    assert.deepEqual(parseInvocation(["up", "--istiod"]), { command: "up", istiod: true });
    // `npm run sandbox -- --istiod` runs `scripts/sandbox.sh up --istiod`; the flag alone means up too.
    assert.deepEqual(parseInvocation(["--istiod"]), { command: "up", istiod: true });
    assert.deepEqual(parseInvocation(["up"], { MESH_VM_SANDBOX_ISTIOD: "1" }), {
      command: "up",
      istiod: true,
    });
    assert.deepEqual(parseInvocation(["up"], { MESH_VM_SANDBOX_ISTIOD: "0" }), {
      command: "up",
      istiod: false,
    });
    assert.deepEqual(parseInvocation(["status"]), { command: "status", istiod: false });
  });

  it("refuses what it does not know, naming it", () => {
    assert.throws(() => parseInvocation(["up", "--istio"]), /unknown argument "--istio"; usage: .*--istiod/);
    assert.throws(() => parseInvocation(["up", "down"]), /unknown argument "down"/);
    assert.throws(
      () => parseInvocation(["up"], { MESH_VM_SANDBOX_ISTIOD: "yes" }),
      /MESH_VM_SANDBOX_ISTIOD must be 1/,
    );
    assert.throws(() => parseInvocation(["down", "--istiod"]), /--istiod .* is for up only: down works/);
    assert.throws(() => parseInvocation(["status"], { MESH_VM_SANDBOX_ISTIOD: "1" }), /is for up only/);
  });

  it("a running sandbox keeps its mode: the other mode is refused with the way out", () => {
    const standIn: SandboxState = { createdAt: "", hosts: [] };
    const withIstiod: SandboxState = { createdAt: "", withIstiod: true, hosts: [] };
    assert.equal(modeConflict(standIn, false), undefined);
    assert.equal(modeConflict(withIstiod, true), undefined);
    const toIstiod = modeConflict(standIn, true);
    assert.match(toIstiod ?? "", /started with the stand-in proxy \(up\); this up asks for it with istiod/);
    assert.match(toIstiod ?? "", /Nothing was changed/);
    assert.match(
      toIstiod ?? "",
      /`scripts\/sandbox\.sh down` first, then `scripts\/sandbox\.sh up --istiod`/,
    );
    const toStandIn = modeConflict(withIstiod, false);
    assert.match(
      toStandIn ?? "",
      /started with istiod \(up --istiod\); this up asks for it with the stand-in/,
    );
    assert.match(toStandIn ?? "", /Run `scripts\/sandbox\.sh up --istiod` to converge it as it is/);
  });
});
