/**
 * docs/embedding.md shows the C host's code as it is: every C block of the page is lines of one file of host/c/,
 * in their order, and the build line it gives is the one the tests build with.
 */
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { C_FLAGS, C_HOST_DIR } from "./support/c-host.js";

const page = readFileSync("docs/embedding.md", "utf8");
const blocks = [...page.matchAll(/```c\n([\s\S]*?)```/g)].map((m) => m[1].split("\n").filter((line) => line.trim() !== ""));
const files = readdirSync(C_HOST_DIR).map((name) => ({ name, lines: readFileSync(join(C_HOST_DIR, name), "utf8").split("\n") }));

/** Whether `lines` occur in `file`, in order, other lines between them allowed. */
function inOrder(lines: string[], file: string[]): boolean {
  let at = 0;
  for (const line of file) if (at < lines.length && line === lines[at]) at++;
  return at === lines.length;
}

describe("docs/embedding.md", () => {
  it("has C blocks", () => {
    expect(blocks.length).toBeGreaterThanOrEqual(3);
  });

  it.each(blocks.map((lines) => [lines[0], lines] as const))("shows host/c/'s code: %s", (_, lines) => {
    expect(files.filter((f) => inOrder(lines, f.lines)).map((f) => f.name)).not.toEqual([]);
  });

  it("gives the build line the tests build with", () => {
    expect(page).toContain(`gcc ${C_FLAGS.join(" ")} -Ihost/c host/c/*.c`);
  });
});
