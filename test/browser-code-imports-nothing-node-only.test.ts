// host/ is browser-safe except the files whose header says "Node-only" and the node entry (README, Layout): what
// the browser entry and the demo page load never reaches one of them or a node: module, and a file that imports
// node: or a node-only file says so itself. The worker threads of training (host/training/parallel.ts) reach the
// library only through host/node.ts, which installs them into host/training/threads.ts.
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const root = resolve(dirname(new URL(import.meta.url).pathname), "..");

function sources(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts") ? [path] : [];
  });
}

/** Static and dynamic imports: node: modules by name, relative ones as repository paths of their .ts source. */
function imports(file: string): { node: string[]; local: string[] } {
  const text = readFileSync(join(root, file), "utf8");
  const specifiers = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^"';]*?["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1] ?? m[2]);
  return {
    node: specifiers.filter((s) => s.startsWith("node:")),
    local: specifiers.filter((s) => s.startsWith(".")).map((s) => relative(root, resolve(root, dirname(file), s)).replace(/\.js$/, ".ts")),
  };
}

/** The file's opening comment says it is node-only. */
function declaredNodeOnly(file: string): boolean {
  const opening = /^\s*(\/\*[\s\S]*?\*\/|(\/\/[^\n]*\n)+)/.exec(readFileSync(join(root, file), "utf8"));
  return opening !== null && /node-only/i.test(opening[0]);
}

const HOST = sources("host").filter((file) => !file.startsWith("host/c/"));
const NODE_ENTRY = "host/node.ts";

describe("browser-safe code", () => {
  it("finds the imports it checks (the check itself works)", () => {
    expect(imports(NODE_ENTRY).local).toContain("host/training/parallel.ts");
    expect(imports("host/training/parallel.ts").node).toContain("node:worker_threads");
    expect(declaredNodeOnly("host/training/parallel.ts")).toBe(true);
    expect(declaredNodeOnly("host/training/threads.ts")).toBe(false);
  });

  it("is every host file that imports neither node: nor a node-only file; the others say they are node-only", () => {
    const undeclared = HOST.filter((file) => file !== NODE_ENTRY && !declaredNodeOnly(file)).filter((file) => {
      const { node, local } = imports(file);
      return node.length > 0 || local.some((l) => l === NODE_ENTRY || declaredNodeOnly(l));
    });
    expect(undeclared).toEqual([]);
  });

  it("is all that the browser entry and the demo page load", () => {
    const seen = new Set<string>();
    const pending = ["host/index.ts", ...sources("web")];
    while (pending.length > 0) {
      const file = pending.pop() as string;
      if (seen.has(file)) continue;
      seen.add(file);
      pending.push(...imports(file).local);
    }
    expect(seen).toContain("host/engine/create.ts");
    expect(seen).toContain("host/training/tasks.ts");
    const nodeOnly = [...seen].filter((file) => file === NODE_ENTRY || declaredNodeOnly(file) || imports(file).node.length > 0);
    expect(nodeOnly).toEqual([]);
  });
});
