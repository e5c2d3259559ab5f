// The local programs (components/programs/) as local.Command receives them: JavaScript that parses, requires
// Node's own modules only (nothing else resolves where it runs), one text per name, and the certificate program
// carrying the minting program it runs. Each program's behaviour is tested where it is used (host/, boot/).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { localProgram, localProgramNames } from "../../components/localProgram";

describe("local programs", () => {
  for (const name of localProgramNames) {
    it(`${name}: strict JavaScript that requires Node's own modules only`, () => {
      const text = localProgram(name);
      assert.match(text, /^"use strict";\n/);
      assert.doesNotThrow(() => new Function("require", "exports", text));
      const required = [...text.matchAll(/\brequire\("([^"]+)"\)/g)].map((m) => m[1]!);
      assert.deepEqual(
        required.filter((r) => !r.startsWith("node:")),
        [],
      );
      assert.doesNotMatch(
        text,
        /sourceMappingURL|components\/programs/,
        "no path of this machine in the text",
      );
      assert.equal(localProgram(name), text, "the same text on every call");
    });
  }

  it("the certificate program runs the minting program's own text, declared before its code", () => {
    const mint = localProgram("mintToken");
    assert.ok(
      localProgram("issueCertificate").startsWith(
        `"use strict";\nconst MINT_TOKEN_PROGRAM = ${JSON.stringify(mint)};\n`,
      ),
    );
  });
});
