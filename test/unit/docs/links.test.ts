// The README is the landing page and docs/ holds the rest: every local link in README.md and docs/*.md must lead
// somewhere (the file exists; an #anchor is a heading of the target page, slugged as GitHub renders it), every
// docs page is reachable from the README, and the README stays a landing page.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, it } from "node:test";
import { repoRoot } from "../../../scripts/testbed/cli";

const pages = [
  join(repoRoot, "README.md"),
  ...readdirSync(join(repoRoot, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => join(repoRoot, "docs", f)),
];

/** The text outside fenced code blocks, with inline code spans blanked (they may hold `](`). */
function prose(markdown: string): string[] {
  let fenced = false;
  return markdown.split("\n").map((line) => {
    if (/^\s*```/.test(line)) {
      fenced = !fenced;
      return "";
    }
    return fenced ? "" : line.replace(/`[^`]*`/g, "``");
  });
}

/** Heading anchors as GitHub makes them: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchors(file: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  let fenced = false;
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (/^\s*```/.test(line)) fenced = !fenced;
    const m = fenced ? null : /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = m[1]!
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, "")
      .replace(/\s/g, "-");
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** Every [text](target) of a page whose target is local (no scheme). */
function localLinks(file: string): { line: number; target: string }[] {
  return prose(readFileSync(file, "utf8")).flatMap((text, i) =>
    [...text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)]
      .map((m) => m[1]!)
      .filter((t) => !/^[a-z][a-z0-9+.-]*:/i.test(t))
      .map((target) => ({ line: i + 1, target })),
  );
}

describe("README and docs/ links", () => {
  it("finds the pages and their links", () => {
    assert.ok(
      pages.length >= 8,
      `README.md and the docs pages: ${pages.map((p) => relative(repoRoot, p)).join(", ")}`,
    );
    assert.ok(localLinks(join(repoRoot, "README.md")).length >= 10, "the README links its docs pages");
  });

  for (const page of pages) {
    it(`every local link of ${relative(repoRoot, page)} resolves`, () => {
      const broken: string[] = [];
      for (const { line, target } of localLinks(page)) {
        const [path, anchor] = target.split("#", 2) as [string, string | undefined];
        const file = path === "" ? page : resolve(dirname(page), decodeURIComponent(path));
        const where = `${relative(repoRoot, page)}:${line} → ${target}`;
        if (!existsSync(file)) {
          broken.push(`${where}: no such file`);
          continue;
        }
        if (anchor === undefined) continue;
        if (!statSync(file).isFile() || !file.endsWith(".md")) {
          broken.push(`${where}: an anchor into something that is not a Markdown page`);
        } else if (!anchors(file).has(anchor)) {
          broken.push(`${where}: no heading with that anchor in ${relative(repoRoot, file)}`);
        }
      }
      assert.deepEqual(broken, []);
    });
  }

  it("every docs page is linked from the README", () => {
    const linked = new Set(
      localLinks(join(repoRoot, "README.md")).map((l) => resolve(repoRoot, l.target.split("#")[0]!)),
    );
    const orphans = pages.filter((p) => !p.endsWith("README.md") && !linked.has(p));
    assert.deepEqual(
      orphans.map((p) => relative(repoRoot, p)),
      [],
    );
  });

  it("the README is a landing page of at most 250 lines", () => {
    const lines = readFileSync(join(repoRoot, "README.md"), "utf8").trimEnd().split("\n").length;
    assert.ok(lines <= 250, `README.md has ${lines} lines`);
  });

  it("the anchor rule matches GitHub's on the headings this repo has", () => {
    const sandbox = anchors(join(repoRoot, "docs", "sandbox.md"));
    assert.ok(sandbox.has("with-a-real-istiod-up---istiod"), [...sandbox].join(", "));
    assert.ok(anchors(join(repoRoot, "README.md")).has("two-deliveries-over-ssh-or-at-first-boot"));
  });
});
