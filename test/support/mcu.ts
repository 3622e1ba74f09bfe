/**
 * The microcontroller build (build/phasor-mcu.wasm, docs/embedding.md) driven from node the way a C host drives
 * it: the image written at modelBuffer(), init, then per event x at inputBuffer(), push(t) and output().
 */
import { readFileSync } from "node:fs";

export const MCU_FILE = "build/phasor-mcu.wasm";

export interface McuExports {
  memory: WebAssembly.Memory;
  modelBuffer(): number;
  arenaBytes(): number;
  arenaUsed(): number;
  init(length: number): number;
  inputBuffer(): number;
  push(t: number): number;
  output(): number;
  reset(): void;
}

export async function mcuInstance(): Promise<McuExports> {
  const { instance } = await WebAssembly.instantiate(readFileSync(MCU_FILE), {});
  return instance.exports as unknown as McuExports;
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
