/**
 * The microcontroller build (build/phasor-mcu.wasm, docs/embedding.md) driven from node the way a C host drives
 * it: the image written at modelBuffer(), init, then per event x at inputBuffer(), push(t) and output().
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { McuExports, McuLearningExports } from "../../host/engine/mcu.js";

export const MCU_FILE = "build/phasor-mcu.wasm";
export const MCU_INT8_FILE = "build/phasor-mcu-int8.wasm";
export const MCU_INT8_PAGE_FILE = "build/phasor-mcu-int8-page.wasm";
export const MCU_LEARN_FILE = "build/phasor-mcu-learn.wasm";

export type { McuExports, McuLearningExports };

/** An instance of the inference module, int16 weights (build/phasor-mcu.wasm) or, with `file`, another. */
export async function mcuInstance(file = MCU_FILE): Promise<McuExports> {
  const { instance } = await WebAssembly.instantiate(readFileSync(file), {});
  return instance.exports as unknown as McuExports;
}

export async function mcuInt8Instance(file = MCU_INT8_FILE): Promise<McuExports> {
  return mcuInstance(file);
}

/** An instance of the learning module, from build/ or from the bytes given. */
export async function mcuLearningInstance(bytes: Uint8Array<ArrayBuffer> = readFileSync(MCU_LEARN_FILE)): Promise<McuLearningExports> {
  const instance = await WebAssembly.instantiate(await WebAssembly.compile(bytes), {});
  return instance.exports as unknown as McuLearningExports;
}

/** Writes the image and runs init; returns init's status. */
export function mcuLoad(mcu: McuExports, image: Uint8Array): number {
  new Uint8Array(mcu.memory.buffer, mcu.modelBuffer(), image.length).set(image);
  return mcu.init(image.length);
}

/**
 * Runs events (t, x event-major with inputSize values each), starting a new sequence at every index in `starts`,
 * and returns y after every event (outputSize values each). A refused event throws.
 */
export function mcuRun(mcu: McuExports, t: ArrayLike<number>, x: ArrayLike<number>, inputSize: number, outputSize: number, starts: Set<number>): Float64Array {
  const y = new Float64Array(t.length * outputSize);
  for (let e = 0; e < t.length; e++) {
    if (starts.has(e)) mcu.reset();
    new Float32Array(mcu.memory.buffer, mcu.inputBuffer(), inputSize).set(Array.from({ length: inputSize }, (_, i) => x[e * inputSize + i]));
    const status = mcu.push(t[e]);
    if (status !== 0) throw new Error(`push refused event ${e} with status ${status}`);
    y.set(new Float64Array(mcu.memory.buffer, mcu.output(), outputSize), e * outputSize);
  }
  return y;
}

const PAGE_BYTES = 65536;

/** The switches of each microcontroller build (asconfig.mcu.json) beside PHASOR_MCU=1. */
const BUILD_SWITCHES = { inference: [], int8: ["PHASOR_INT8=1"], learning: ["PHASOR_LEARN=1"], page: ["PHASOR_INT8=1", "PHASOR_MCU_PAGE=1"] };

/**
 * The MCU build (or the int8 one, the learning one, or the one-page int8 one) compiled again with a larger arena (`--use
 * PHASOR_MCU_ARENA=n`, docs/embedding.md) and memory to hold it, into `dir`: what a model that does not fit the
 * standard build would take is then what its init uses.
 */
export async function mcuBuildWithArena(arenaBytes: number, dir: string, build: keyof typeof BUILD_SWITCHES = "inference"): Promise<Uint8Array<ArrayBuffer>> {
  const { default: asc } = await import("assemblyscript/asc");
  const pages = String(Math.ceil(arenaBytes / PAGE_BYTES) + 1);
  const name = `phasor-mcu-${build}-arena`;
  const out = join(dir, `${name}.wasm`);
  const { error, stderr } = await asc.main([
    build === "learning" ? "assembly/mcu-learn.ts" : "assembly/mcu.ts", "--config", "asconfig.mcu.json", "--target", build === "learning" ? "mcu-learn" : "mcu",
    "--outFile", out, "--textFile", join(dir, `${name}.wat`), "--initialMemory", pages, "--maximumMemory", pages,
    "--use", "abort=", "--use", "PHASOR_MCU=1", ...BUILD_SWITCHES[build].flatMap((s) => ["--use", s]), "--use", `PHASOR_MCU_ARENA=${arenaBytes}`,
  ]);
  if (error) throw new Error(`asc failed: ${error.message}\n${stderr.toString()}`);
  return new Uint8Array(readFileSync(out));
}
