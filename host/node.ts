/**
 * The node entry of the library: everything of host/index.ts, with the wasm read from the package's build/
 * folder instead of fetched, and training on more than one thread (worker_threads).
 */
import { readFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { setWasmSource } from "./engine/wasm-source.js";
import { parallelGradients } from "./training/parallel.js";
import { setThreadedGradients } from "./training/threads.js";

/** build/ from host/ (sources, as vitest runs them) or from dist/host/ (the compiled package). */
export function buildDirectory(): string {
  for (const up of ["../build/", "../../build/"]) {
    const dir = fileURLToPath(new URL(up, import.meta.url));
    if (existsSync(`${dir}phasor-scalar.wasm`)) return dir;
  }
  throw new Error("the wasm builds are missing: run `npm run build`");
}

setWasmSource(async (build) => WebAssembly.compile(await readFile(`${buildDirectory()}phasor-${build}.wasm`)));
// training runs and the trainer's benchmark may split their batches among worker threads
setThreadedGradients(parallelGradients);

export * from "./index.js";
