// The structural schema check (the CRD schemas), on cases the seeds do not cover.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { renderMeshVmObjects, resolveMeshVmArgs } from "../../../components";
import { schemaIssues } from "../../../components/validation/schema";
import { formatIssue } from "../../../components/rules/issues";
import { cartVmArgs as base } from "../fixtures/cart";

describe("structural schema check", () => {
  it("the structural schema check catches what the CRD schema forbids", async () => {
    const issues = await schemaIssues("test", [
      {
        apiVersion: "networking.istio.io/v1",
        kind: "Sidecar",
        metadata: { name: "s", namespace: "shop" },
        spec: { egress: [{ bind: "127.0.0.2" }] },
      },
      {
        apiVersion: "networking.istio.io/v1beta1",
        kind: "WorkloadEntry",
        metadata: { name: "w", namespace: "shop" },
        spec: { address: "192.0.2.1", ports: { http: "80" } },
      },
    ]);
    const text = issues.map(formatIssue);
    assert.equal(text.length, 2, text.join("\n"));
    assert.match(
      text[0]!,
      /^test Sidecar shop\/s: does not match the networking\.istio\.io\/v1 Sidecar schema: .*hosts/,
    );
    assert.match(text[1]!, /WorkloadEntry shop\/w: .*ports\/http must be integer/);
    const ok = renderMeshVmObjects(resolveMeshVmArgs("cart-vm", base));
    assert.deepStrictEqual(
      await schemaIssues("test", [ok.workloadEntry, ok.sidecar!, ok.serviceEntry!]),
      [],
      "rendered objects pass",
    );
  });
});
