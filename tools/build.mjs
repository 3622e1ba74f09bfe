// Builds everything `npm ci` must leave ready: the SIMD and scalar wasm from one AssemblyScript source, then
// the host and CLI from TypeScript into dist/. Plain JavaScript so it needs nothing built before it.
import { execFileSync } from "node:child_process";
import { mkdirSync, chmodSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import asc from "assemblyscript/asc";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
process.chdir(root);
mkdirSync("build", { recursive: true });

// asc merges ./asconfig.json into any build called without --config: always name it (toolchain.md).
for (const target of ["simd", "scalar"]) {
  const { error, stderr } = await asc.main(["assembly/index.ts", "--config", "asconfig.json", "--target", target]);
  if (error) {
    process.stderr.write(stderr.toString());
    throw new Error(`asc failed for target ${target}: ${error.message}`);
  }
}

execFileSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json"], { stdio: "inherit" });
chmodSync("dist/tools/phasor.js", 0o755);
