/**
 * The microcontroller builds' contract (build/phasor-mcu.wasm, build/phasor-mcu-int8.wasm and
 * build/phasor-mcu-learn.wasm, docs/embedding.md, "Exports"), for the code that drives them from JavaScript:
 * `phasor export-c`, which runs its init on a model, and the tests. Their status codes are the modules' own
 * (assembly/contract/calls.ts).
 */
import { E_CAPACITY, E_MODEL } from "../../assembly/contract/calls.js";
import { HEADER_BYTES, HEADER_LAYER_COUNT, LAYER_DESC_BYTES, LAYER_FLAGS, LAYER_INT8 } from "../../assembly/contract/plsm.js";
import type { ExportedFunctions } from "./wasm-source.js";

/** The inference builds: each runs the fixed engine of one weight width, as the 8 KB budget holds one set of its
 * written-out multiply-accumulates (docs/embedding.md). */
export const MCU_BUILD = "phasor-mcu.wasm";
export const MCU_INT8_BUILD = "phasor-mcu-int8.wasm";

/** Whether a .plsm image has int8 gate weights in any layer (its layer flags, docs/plsm.md): what the C host's
 * phasor_plsm_int8 reads, to pick the build that runs it. Reads only inside the image. */
export function imageHasInt8(image: Uint8Array): boolean {
  if (image.length < HEADER_BYTES) return false;
  const view = new DataView(image.buffer, image.byteOffset, image.length);
  const layers = view.getUint32(HEADER_LAYER_COUNT, true);
  for (let n = 0; n < layers && HEADER_BYTES + (n + 1) * LAYER_DESC_BYTES <= image.length; n++) {
    if (view.getUint32(HEADER_BYTES + n * LAYER_DESC_BYTES + LAYER_FLAGS, true) & LAYER_INT8) return true;
  }
  return false;
}

/** The inference build that runs an image: the int8 one for int8 weights. */
export function mcuBuildFor(image: Uint8Array): string {
  return imageHasInt8(image) ? MCU_INT8_BUILD : MCU_BUILD;
}

/** init: the image is rejected (not a fixed-point .plsm, corrupted, out of range). */
export const MCU_REJECTED = E_MODEL;
/** init: the image and what init lays out after it do not fit the arena (arenaNeeded() says how much would). */
export const MCU_TOO_BIG = E_CAPACITY;

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

/** The functions of McuExports, which requireExports checks a module for. */
export const MCU_FUNCTIONS: ExportedFunctions<McuExports> = {
  modelBuffer: true,
  arenaBytes: true,
  arenaUsed: true,
  arenaNeeded: true,
  init: true,
  inputBuffer: true,
  push: true,
  output: true,
  reset: true,
};

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

/** The functions of McuLearningExports, which requireExports checks the learning module for. */
export const MCU_LEARNING_FUNCTIONS: ExportedFunctions<McuLearningExports> = {
  ...MCU_FUNCTIONS,
  learn: true,
  targetBuffer: true,
  readoutBuffer: true,
  readoutSize: true,
  readoutSave: true,
  readoutLoad: true,
  readoutReset: true,
};
