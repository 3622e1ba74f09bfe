// Builds everything `npm ci` must leave ready: the SIMD and scalar wasm of the engines and of the trainer, the
// microcontroller build and the WASI command, then the host and CLI from TypeScript into dist/. Plain JavaScript so it needs nothing built before it.
import { execFileSync } from "node:child_process";
import { mkdirSync, chmodSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import asc from "assemblyscript/asc";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
process.chdir(root);
mkdirSync("build", { recursive: true });

// asc merges ./asconfig.json into any build called without --config: always name it (toolchain.md).
// Two entries, each for both targets: the engines (assembly/index.ts) and the trainer (assembly/train.ts), which
// reuses the targets' settings and only renames the output files.
const entries = [
  { source: "assembly/index.ts", name: "phasor" },
  { source: "assembly/train.ts", name: "phasor-train" },
];
for (const { source, name } of entries) {
  for (const target of ["simd", "scalar"]) {
    const out = `build/${name}-${target}`;
    await compile(source, "asconfig.json", target, ["--outFile", `${out}.wasm`, "--textFile", `${out}.wat`]);
  }
}
// The microcontroller profile: the fixed engine alone, no imports, static memory (docs/embedding.md); and the same
// with the readout's fine-tuning (docs/on-device-learning.md), a module of its own so the first keeps its size; and
// the one for models with int8 weights (docs/embedding.md), whose multiply-accumulates replace the int16 ones;
await compile("assembly/mcu.ts", "asconfig.mcu.json", "mcu");
await compile("assembly/mcu.ts", "asconfig.mcu.json", "mcu-int8");
// and the int8 one in a single 64 KiB page of linear memory (docs/embedding.md, "One 64 KiB page")
await compile("assembly/mcu.ts", "asconfig.mcu.json", "mcu-int8-page");
await compile("assembly/mcu-learn.ts", "asconfig.mcu.json", "mcu-learn");
// The WASI command, build/phasor-wasi.wasm (SIMD) and build/phasor-wasi-scalar.wasm (docs/wasi.md). Its config
// extends @assemblyscript/wasi-shim's, whose settings stay in effect for later asc.main() builds in this process
// (toolchain.md): these two come last.
for (const target of ["simd", "scalar"]) await compile("assembly/wasi.ts", "asconfig.wasi.json", target);

async function compile(source, config, target, extra = []) {
  const { error, stderr } = await asc.main([source, "--config", config, "--target", target, ...extra]);
  if (error) {
    process.stderr.write(stderr.toString());
    throw new Error(`asc failed for ${source}, target ${target}: ${error.message}`);
  }
}

// dist/ from scratch: what `npm pack` ships is the package's `files` (dist/, build/, docs/), and a file that was
// moved, removed or left out of tsconfig.json (the experiments) must not linger there from an earlier build.
rmSync("dist", { recursive: true, force: true });
execFileSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json"], { stdio: "inherit" });
chmodSync("dist/tools/cli/phasor.js", 0o755);
