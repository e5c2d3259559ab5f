// What the validateMeshVmArgs tests share: the seeds' ratings example (valid), the messages a user sees for a
// variant of it, and the row of one mistake.
import assert from "node:assert/strict";
import { it } from "node:test";
import type { PlainMeshVmArgs } from "../../../components";
import { validateMeshVmArgs } from "../../../components";
import { formatIssue } from "../../../components/rules/issues";
import { ratingsVmArgs } from "../fixtures/ratings";

export const valid = ratingsVmArgs as PlainMeshVmArgs;

export function messages(args: PlainMeshVmArgs): string[] {
  return validateMeshVmArgs(args).map(formatIssue);
}

export interface Row {
  what: string;
  args: Partial<PlainMeshVmArgs>;
  expect: string[];
}

/** One test per row: the seeds' example with the row's args is refused with exactly the row's messages. */
export function rejectsEach(rows: Row[]): void {
  for (const row of rows) {
    it(`rejects: ${row.what}`, () => {
      assert.deepStrictEqual(messages({ ...valid, ...row.args } as PlainMeshVmArgs), row.expect);
    });
  }
}
