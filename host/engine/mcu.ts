/**
 * The microcontroller builds' contract (build/phasor-mcu.wasm and build/phasor-mcu-learn.wasm, docs/embedding.md,
 * "Exports"), for the code that drives them from JavaScript: `phasor export-c`, which runs its init on a model, and
 * the tests. Their status codes are the modules' own (assembly/contract/calls.ts).
 */
import { E_CAPACITY, E_MODEL } from "../../assembly/contract/calls.js";
import type { ExportedFunctions } from "./wasm-source.js";

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
