/**
 * The demo server (tools/build/serve-web.mjs, `npm run demo:web`) serves web/, dist/ and build/ and nothing else:
 * not through "..", and not through a symbolic link inside them that leads out (issue 12, item 5). It runs here
 * from a copy in a scratch tree, so that the links it is tried on never touch the repository.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { get } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";

let tree = "";
let server: ChildProcess | undefined;
let address = "";

function status(path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get(address + path, (response) => {
      let body = "";
      response.on("data", (chunk: Buffer) => (body += chunk.toString()));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
    }).on("error", reject);
  });
}

beforeAll(async () => {
  tree = mkdtempSync(join(tmpdir(), "phasor-serve-"));
  for (const folder of ["tools/build", "web", "dist/web", "dist/host", "build", "elsewhere"]) mkdirSync(join(tree, folder), { recursive: true });
  copyFileSync("tools/build/serve-web.mjs", join(tree, "tools/build/serve-web.mjs"));
  // what the server checks for at start, and a page
  for (const file of ["dist/web/demo.js", "dist/host/index.js", "build/phasor-simd.wasm", "build/phasor-scalar.wasm"]) writeFileSync(join(tree, file), "");
  writeFileSync(join(tree, "web/index.html"), "the page");
  writeFileSync(join(tree, "package.json"), "the repository's own file");
  writeFileSync(join(tree, "elsewhere/secret.txt"), "a secret");
  symlinkSync("../package.json", join(tree, "web/repo-file.json"));
  symlinkSync(join(tree, "elsewhere"), join(tree, "web/outside"));
  symlinkSync("/etc", join(tree, "web/etc"));
  symlinkSync("..", join(tree, "build/up"));
  symlinkSync("../../web/index.html", join(tree, "dist/web/page.html"));
  symlinkSync("index.html", join(tree, "web/same-folder.html"));

  const child = spawn(process.execPath, [join(tree, "tools/build/serve-web.mjs"), "--port", "0"], { stdio: ["ignore", "pipe", "pipe"] });
  server = child;
  address = await new Promise<string>((resolve, reject) => {
    let stdout = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      const url = /http:\/\/localhost:\d+/.exec(stdout)?.[0];
      if (url) resolve(url);
    });
    child.on("exit", (code) => reject(new Error(`the demo server exited (${code}): ${stdout}`)));
  });
});

afterAll(() => {
  server?.kill();
  rmSync(tree, { recursive: true, force: true });
});

it("serves the files of its folders, and links that stay inside the folder they are in", async () => {
  expect(await status("/web/")).toEqual({ status: 200, body: "the page" });
  expect(await status("/web/same-folder.html")).toEqual({ status: 200, body: "the page" });
});

it.each([
  ["a link to a repository file", "/web/repo-file.json"],
  ["a link to a folder outside", "/web/outside/secret.txt"],
  ["a link to /etc", "/web/etc/passwd"],
  ["a link to the repository's root", "/build/up/package.json"],
  ["a link from one served folder into another", "/dist/web/page.html"],
  ["an escaped ..", "/web/%2e%2e/package.json"],
  ["a folder that is not served", "/elsewhere/secret.txt"],
])("refuses %s with 404 (issue 12, item 5)", async (_what, path) => {
  const response = await status(path);
  expect(response.status).toBe(404);
  expect(response.body).not.toMatch(/a secret|repository.s own file|root:/);
});
