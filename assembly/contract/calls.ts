// The numbers that pass through the engines' exports (assembly/index.ts, assembly/mcu.ts) and that the hosts
// (host/engine/wasm.ts, host/engine/mcu.ts, the C host's phasor_mcu.c) read: status codes, the reasons an event
// is refused, time policies and modelInfo's keys. The export names themselves are checked against each build
// when the host instantiates it (host/engine/wasm-source.ts, requireExports).
//
// Compiled twice: by asc into every module, and by tsc into dist/assembly/contract/ for the host. So this file
// holds plain `export const` numbers only, which mean the same in AssemblyScript (i32) and TypeScript.

// Status codes of the exported calls: 0 is success.
/** The model bytes are rejected. */
export const E_MODEL = -1;
/** An event is refused; the stream is untouched. */
export const E_INPUT = -2;
/** A snapshot or call that does not fit this stream; in the microcontroller build, a push before a successful init. */
export const E_STATE = -3;
/** Microcontroller build: the image and what init lays out after it do not fit the arena. */
export const E_CAPACITY = -4;

// Why an event was refused (refusalReason()): host/errors.ts's EVENT_REFUSALS names them at these indices.
/** t, or an input as a 32-bit float, is not finite. */
export const REASON_NON_FINITE = 1;
/** t is earlier than the stream's previous event (policy reject). */
export const REASON_TIME_BACKWARDS = 2;
/** The stream would run longer than its clock counts. */
export const REASON_TIME_RANGE = 3;

// What a learning step answers (learn(), docs/on-device-learning.md), when it is not a status code above.
/** The step was eta. */
export const LEARN_STEPPED = 0;
/** The cap was smaller than eta, and the step was the cap. */
export const LEARN_CAPPED = 1;

// An event earlier than the previous one: refused, or run at the previous one's time.
export const POLICY_REJECT = 0;
export const POLICY_CLAMP = 1;

// What modelInfo(model, key) answers.
export const INFO_KIND = 0;
export const INFO_INPUT_SIZE = 1;
export const INFO_OUTPUT_SIZE = 2;
export const INFO_LAYER_COUNT = 3;
export const INFO_STREAM_BYTES = 4;
export const INFO_SCRATCH_BYTES = 5;
/** the model's bytes in the module: its image, in the scalar builds the copies of U and W in row pairs
 * (fixed/sums.ts), and in the SIMD builds the dense time gate's timing, 12 bytes a unit in groups of 8
 * (fixed/step.ts, storeDenseTiming) */
export const INFO_MODEL_BYTES = 6;
export const INFO_READOUT_MODE = 7;
export const INFO_TOTAL_UNITS = 8;
/** the fixed engine's layer-0 input format, its fractional bits (x is held as round(x 2^frac) in i16, saturated to
 * +-32767); nothing for a float model */
export const INFO_INPUT_FRAC = 9;
/** bytes each stream keeps beside its block (INFO_STREAM_BYTES, what a snapshot holds): in the SIMD builds, the dense
 * time gate's base phases of a fixed model, 4 bytes a unit in groups of 8 and 16 a layer (fixed/step.ts, denseBases),
 * derived again from the block whenever they are missing; 0 elsewhere */
export const INFO_STREAM_CACHE_BYTES = 10;
