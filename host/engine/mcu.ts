/**
 * The microcontroller builds' contract (build/phasor-mcu.wasm and build/phasor-mcu-learn.wasm, docs/embedding.md,
 * "Exports"), for the code that drives them from JavaScript: `phasor export-c`, which runs its init on a model, and the tests.
 */

/** init: the image is rejected (not a fixed-point .plsm, corrupted, out of range). */
export const MCU_REJECTED = -1;
/** init: the image and what init lays out after it do not fit the arena (arenaNeeded() says how much would). */
export const MCU_TOO_BIG = -4;

export interface McuExports {
  memory: WebAssembly.Memory;
  modelBuffer(): number;
  arenaBytes(): number;
  arenaUsed(): number;
  arenaNeeded(): number;
  init(length: number): number;
  inputBuffer(): number;
  push(t: number): number;
  output(): number;
  reset(): void;
}

/** The learning build's exports besides (build/phasor-mcu-learn.wasm, docs/on-device-learning.md, "The calls"). */
export interface McuLearningExports extends McuExports {
  learn(label: number, eta: number, c: number): number;
  targetBuffer(): number;
  readoutBuffer(): number;
  readoutSize(): number;
  readoutSave(): number;
  readoutLoad(): number;
  readoutReset(): void;
}
