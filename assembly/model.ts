// A model in linear memory: the .plsm bytes (docs/plsm.md) checked once, and the layout of everything an
// engine needs computed once from them (the arena plan, TFLite Micro style). Weights are used in place: the
// file image is the weight memory.

import {
  CELL_FRAC, FRAC_MAX, FRAC_MIN, HALF_ON_MAX, HALF_ON_MIN, HEADER_BYTES, HEADER_FILE_BYTES, HEADER_INPUT_FRAC, HEADER_INPUT_SIZE, HEADER_KIND,
  HEADER_LAYER_COUNT, HEADER_OUTPUT_SIZE, HEADER_READOUT_AT, HEADER_READOUT_MODE, HEADER_TICKS_LOG2, HEADER_VERSION, INT8_LIMIT, KIND_FIXED, KIND_FLOAT,
  LAYER_DESC_BYTES, LAYER_FLAGS, LAYER_INT8, LAYER_PEEPHOLES, LAYER_HIDDEN_SIZE, LAYER_INPUT_SIZE, LAYER_P_FRAC, LAYER_W_AT,
  MAX_LAYERS, MAX_SIZE, MAX_TICKS_LOG2, MIN_OPEN_TICKS, PLSM_MAGIC, PLSM_VERSION, PRE_FRAC, READOUT_DESC_BYTES, READOUT_ROWS_AT, READOUT_V_AT,
  LANE_CHUNK_COLUMNS, ROW_BIAS, ROW_L1_LIMIT, ROW_RECORD_BYTES, ROW_V_FRAC, R_ON_MIN, TAU_MAX, TAU_MIN, TIME_HALF_ON, TIME_RECORD_BYTES, TIME_R_ON, TIME_SHIFT,
  TIME_STEP, TIME_STEP_LOW, TIME_TAU, UNIT_RECORD_BYTES, UNIT_U_FRAC, UNIT_W_FRAC,
} from "./contract/plsm";
import { crc32 } from "./crc32";
import { WIDE_SHIFT } from "./fixed/arith";
import { ROW_LIMIT_TRACKED, SUMS_BYTES } from "./fixed/sums";
import { ERROR_TEXT, E_MODEL, errFloat, errInt, errText, fail } from "./errors";
import { align16, align32, pad8 } from "./padding";
import { phaseStep, phaseStep64, phaseStepLow } from "./phase";

export {
  CELL_FRAC, KIND_FIXED, KIND_FLOAT, MAX_LAYERS, PRE_FRAC, TIME_RECORD_BYTES, UNIT_BIAS, UNIT_PEEPHOLE, UNIT_PEEPHOLE_FLOAT, UNIT_RECORD_BYTES,
  UNIT_U_FRAC, UNIT_W_FRAC,
} from "./contract/plsm";

/** Every build but the microcontroller one (`--use PHASOR_MCU=1`), which has only the fixed engine and its dense
 * input path: no float engine and no sparse-column path are compiled in. */
export const FULL_BUILD: bool = !isDefined(PHASOR_MCU);

/** The weight widths of the fixed engine the build runs: both, except in the microcontroller builds, whose 8 KB
 * budget holds one set of the written-out multiply-accumulates (fixed/sums.ts): int16 (build/phasor-mcu.wasm), or
 * int8 with `--use PHASOR_INT8=1` (build/phasor-mcu-int8.wasm). A model of the other width is rejected there. */
export const RUNS_INT16: bool = FULL_BUILD || !isDefined(PHASOR_INT8);
export const RUNS_INT8: bool = FULL_BUILD || isDefined(PHASOR_INT8);

/**
 * The one-page microcontroller build (`--use PHASOR_MCU_PAGE=1`, build/phasor-mcu-int8-page.wasm; docs/embedding.md,
 * "One 64 KiB page"), which gives a little time per event and init's image for arena: its time gate reads the file's
 * time records and divides where the other builds read derived timing (deriveTiming), an event sums and updates its
 * open units SUM_BLOCK at a time (fixed/step.ts), its scratch holds only what the fixed engine uses, and init
 * compacts the zero padding out of one-input W rows in place (assembly/mcu.ts), so the image is taken apart by it.
 */
export const PAGE: bool = isDefined(PHASOR_MCU_PAGE);

/** Open units summed and updated at a time in the one-page build: their gate sums are the per-event scratch's
 * largest part (SUMS_BYTES each), and a block of 8 loads the layer's input and h into locals once for 8 units. */
export const SUM_BLOCK: i32 = 8;

/** Whether a model of this kind runs on the fixed engine (always, where there is no float engine). */
@inline export function isFixed(kind: i32): bool {
  return !FULL_BUILD || kind == KIND_FIXED;
}

/** Whether a model runs on the fixed engine: isFixed of its kind, which the microcontroller builds do not read. */
@inline export function runsFixed(m: Model): bool {
  return !FULL_BUILD || m.kind == KIND_FIXED;
}

/**
 * Per-unit timing derived at load, so the event path never divides (but in the one-page build, PAGE, which reads the
 * file's time records and divides where this reads invHalf and period). Both engines advance a unit's phase by a
 * Q0.96 step per tick (fixed) or per wake key (float): its high 64 bits at 0, its low 32 bits at 12 (fixed) or 8
 * (float). Fixed, FIXED_TIMING_BYTES: halfOn = r_on / 2 in Q0.32 at 8, invHalf = floor(2^47 / halfOn) at 16 so
 * that k = phi * invHalf >> 32 in Q0.15, period = floor(2^64 / (step + 1)) ticks at 24 (a lower bound on the ticks
 * one period takes); in all but the microcontroller builds also the two bounds by which the time gate passes over
 * a window between two events without its phase (fixed/step.ts, passedOver): lapTicks (u32) at 32, windowTicks (u32)
 * at 36. Float, FLOAT_TIMING_BYTES: periods per wake key (2^-20 / tau) at 16, r_on at 24, wake keys per period
 * (tau 2^20) at 32, 2 / r_on at 40.
 */
export const FIXED_TIMING_BYTES: i32 = FULL_BUILD ? 40 : 32;
export const TIMING_LAP_TICKS: i32 = 32;
export const TIMING_WINDOW_TICKS: i32 = 36;
/** Where the fixed time gate (fixed/step.ts) finds a unit's step, low step bits and halfOn, records of
 * TIMING_RECORD_BYTES: in the derived timing, or in the one-page build (PAGE) in the file's time records. */
export const TIMING_RECORD_BYTES: i32 = PAGE ? TIME_RECORD_BYTES : FIXED_TIMING_BYTES;
export const TIMING_STEP: i32 = PAGE ? TIME_STEP : 0;
export const TIMING_HALF_ON: i32 = PAGE ? TIME_HALF_ON : 8;
export const TIMING_STEP_LOW: i32 = PAGE ? TIME_STEP_LOW : 12;

/** A lower bound on the ticks one period of a unit takes: the phase moves by at most step + 1 per tick when the
 * step's low bits are not 0. */
@inline export function fixedPeriod(step: u64, low: u32): u64 {
  return u64.MAX_VALUE / (step + (low != 0 ? 1 : 0));
}

/** floor(2^47 / halfOn), so that k = phi * it >> 32 in Q0.15. */
@inline export function fixedInvHalf(half: u32): u64 {
  return (<u64>1 << 47) / <u64>half;
}
export const FLOAT_TIMING_BYTES: i32 = 48;
/** Buckets of the timing wheel that schedules closed units (schedule.ts). */
export const WHEEL_BUCKETS: i32 = 64;
/** Bytes of a layer's wheel header: last bucket (i64), non-empty bitmap (u64), active count (i32). */
export const WHEEL_HEADER_BYTES: i32 = 24;
/** The float engine's wake keys count 2^-20 time units. */
export const FLOAT_KEYS_LOG2: i32 = 20;
export const FLOAT_KEYS_PER_UNIT: f64 = 1048576.0;

@unmanaged
export class Layer {
  inputSize: i32;
  hiddenSize: i32;
  inputPad: i32;
  hiddenPad: i32;
  /** fractional bits of this layer's input: the model's inputFrac for layer 0, 15 (h is Q0.15) above */
  xFrac: i32;
  /** fractional bits of the peephole weights (fixed) */
  pFrac: i32;
  hasPeephole: i32;
  /** fixed: 1 when W and U hold int8 weights (LAYER_INT8), 0 when int16; set where a build runs both widths (the
   * microcontroller ones run one) */
  int8: i32;
  /** fixed: 1 when every rounding shift of the unit arithmetic is a right shift of 1 to 32 bits (fixed/step.ts,
   * toQ24), which then needs no check per row */
  fastShifts: i32;
  /** fixed: 1 when every such shift is in (1 - WIDE_SHIFT)..32 and every row sum within the wide path's bound
   * (toQ24), which then needs no check per row either */
  wideShifts: i32;
  /** H units x 4 gates x inputPad weights, unit-major (i16, i8 or f32) */
  W: usize;
  /** H units x 4 gates x hiddenPad weights */
  U: usize;
  /** H unit records of UNIT_RECORD_BYTES: biases, row formats, peepholes */
  units: usize;
  /** H time records of TIME_RECORD_BYTES (the file's) */
  time: usize;
  /** H timing records (timingBytes) derived from them at load, so the event path never divides; in the one-page
   * build, the time records themselves (TIMING_STEP) */
  timing: usize;
  /** offsets inside a stream's state block */
  hOff: i32;
  cOff: i32;
  seedOff: i32;
  /** the unit schedule (schedule.ts): wake keys, wheel list links, bucket heads, wheel header, active list */
  keyOff: i32;
  nextOff: i32;
  headsOff: i32;
  wheelOff: i32;
  activeOff: i32;
  /** wheel bucket of a key = key >> bucketShift (derived at load so one lap spans the longest period) */
  bucketShift: i32;
  /** fixed: 1 when every U row's sum of |w_q| is within ROW_L1_LIMIT (each row's U h an exact i32), so that the
   * builds that sum by row pairs (fixed/sums.ts, PAIRED, MCU_PAIRED) split U's pairs once a row (pairsU) or once a
   * 32-column chunk (the microcontroller ones), and the SIMD build adds a row's lanes in i32 (oneColumnSimd) */
  uWithinRowLimit: i32;
  /** fixed, in the builds that sum by row pairs: U copied into them (packRows; in lane order where not pairsU), and W
   * where the input is wider than 8 (pairsW; else 0); in the microcontroller ones U's first H & ~31 columns where
   * init laid them out in the arena (mcu.ts), else 0 */
  uPairs: usize;
  wPairs: usize;
  /** fixed, in the builds with the dense time gate (fixed/step.ts, DENSE_GATE): the units' steps and open limits in
   * groups of 4 (storeDenseTiming), else 0; and the mean gap between events, in ticks, from which it is taken */
  dense: usize;
  denseGapTicks: f64;
}

// parseModel fills W to time, and hOff to activeOff, in loops over the fields' order
if (offsetof<Layer>("time") - offsetof<Layer>("W") != 3 * sizeof<usize>()) ERROR("Layer: W, U, units and time must follow each other");
if (offsetof<Layer>("activeOff") - offsetof<Layer>("hOff") != 28) ERROR("Layer: hOff to activeOff must follow each other");

@unmanaged
export class Model {
  /** not set in the microcontroller builds, which have one engine and one readout (parseModel): kind, readoutMode,
   * maxHidden */
  kind: i32;
  inputSize: i32;
  outputSize: i32;
  layerCount: i32;
  readoutMode: i32;
  /** log2 of the wake keys per time unit: the file's ticksLog2 (fixed) or FLOAT_KEYS_LOG2 (float) */
  keysLog2: i32;
  inputFrac: i32;
  maxHidden: i32;
  totalUnits: i32;
  checksum: u32;
  /** the .plsm image (owned: freed with the model) */
  bytes: usize;
  byteLength: i32;
  /** layerCount Layer records */
  layers: usize;
  /** O x hiddenPad readout weights, and O rows of {d, frac} */
  V: usize;
  readoutRows: usize;
  /** size of one stream's state block */
  streamBytes: i32;
  /** per-event scratch shared by the model's streams */
  scratch: usize;
  /** the timing records of all layers (deriveTiming) */
  timing: usize;
  scratchBytes: i32;
  xqOff: i32;
  nnzOff: i32;
  /** the float engine's new h; in the fixed engine, the open units that the dense time gate lists (fixed/step.ts,
   * timeGateDense): room for maxHidden i32 either way */
  newHOff: i32;
  newCOff: i32;
  kOff: i32;
  /** the fixed engine's gate row sums of the open units (fixed/sums.ts) */
  sumsOff: i32;
  /** readout y, computed on request (so a snapshot holds state only, never a cached output) */
  yOff: i32;
  /** bytes each stream keeps after its block, outside its snapshots: in the builds with the dense time gate, the base
   * phases of its fixed layers (fixed/step.ts, denseBases), derived from the block and the event's tick; else 0 */
  streamCacheBytes: i32;
}

// and the scratch's xqOff to yOff
if (offsetof<Model>("yOff") - offsetof<Model>("xqOff") != 24) ERROR("Model: xqOff to yOff must follow each other");

@inline export function layerAt(m: Model, n: i32): Layer {
  return changetype<Layer>(m.layers + <usize>n * offsetof<Layer>());
}

/** Bytes of one element of the weight tensors. */
@inline export function elementBytes(kind: i32): i32 {
  return isFixed(kind) ? 2 : 4;
}

/** Bytes of one unit's timing record. */
@inline export function timingBytes(kind: i32): i32 {
  return isFixed(kind) ? FIXED_TIMING_BYTES : FLOAT_TIMING_BYTES;
}

// Offsets of the stream header, the first S_HEADER_BYTES of every stream block.
export const S_STARTED: i32 = 0;
export const S_CHECKSUM: i32 = 4;
export const S_T0: i32 = 8;
export const S_LAST_T: i32 = 16;
export const S_LAST_KEY: i32 = 24;
export const S_EVENTS: i32 = 32;
export const S_UPDATES: i32 = 40;
/** Layer-0 input values the fixed engine saturated to its Q(inputFrac) range (|x| beyond 32767 / 2^inputFrac) since
 * the stream started: a stream of inputs beyond what the model was calibrated on is counted, not silently clipped.
 * Not in the microcontroller builds (no counters; stream.ts). Snapshots of engines before it hold 0 here. */
export const S_SATURATED: i32 = 48;
export const S_HEADER_BYTES: i32 = 64;

/** Whether a size (inputs, units, outputs) is in 1..MAX_SIZE: one unsigned comparison. */
@inline function isSize(n: i32): bool {
  return <u32>(n - 1) < <u32>MAX_SIZE;
}

/** Whether a fractional-bit count is one a fixed file may hold. */
@inline function isFrac(frac: i32): bool {
  // FRAC_MIN <= frac <= FRAC_MAX in one unsigned comparison
  return <u32>(frac - FRAC_MIN) <= <u32>(FRAC_MAX - FRAC_MIN);
}

/** Where the region parseModel checked last ends: the one-page build (PAGE) takes the regions only in the order
 * phasor quantize writes them (docs/plsm.md: the readout descriptor, each layer's W, U, unit and time records, V,
 * the row records), none overlapping the one before, since its init moves them (assembly/mcu.ts, compactRows). */
let regionEnd: u64 = 0;

/** Checks that [offset, offset + bytes) lies in the payload and is 16-byte aligned (and in the one-page build, that
 * it starts where the region checked before it ends or later). */
function checkRegion(fileBytes: u32, offset: u32, bytes: u64, what: string, layer: i32): bool {
  const behind = PAGE && <u64>offset < regionEnd;
  if (PAGE) regionEnd = <u64>offset + bytes;
  if ((offset & 15) != 0 || <u64>offset < <u64>HEADER_BYTES || <u64>offset + bytes > <u64>(fileBytes - 4) || behind) {
    if (ERROR_TEXT) {
      fail(E_MODEL, "plsm: ");
      if (layer >= 0) {
        errText("layer ");
        errInt(layer);
        errText(" ");
      }
      errText(what);
      errText(" at offset ");
      errInt(offset);
      errText(" with ");
      errInt(<i64>bytes);
      errText(" bytes is outside the file or misaligned");
    }
    return false;
  }
  return true;
}

function badField(what: string, value: i64): i32 {
  if (ERROR_TEXT) {
    fail(E_MODEL, "plsm: ");
    errText(what);
    errText(" (got ");
    errInt(value);
    errText(")");
  }
  return E_MODEL;
}

// What rowsProblem finds.
const ROWS_SOUND = 0;
const ROWS_PADDED = 1;
const ROWS_UNSAFE = 2;
const ROWS_RANGE = 3;

/** Whether U rows are held to the lane-chunk bound (contract/plsm.ts, LANE_CHUNK_COLUMNS): in every build but the
 * microcontroller ones. Their U h has no 32-bit partial sum (an i64 from the first column: fixed/sums.ts), so it is
 * exact whatever a U row holds, and leaving the check out keeps them within their size budgets (docs/plsm.md). */
const LANE_CHECK: bool = FULL_BUILD;

/** The row rowsProblem found wrong (for the message), and whether every row it read was within ROW_L1_LIMIT (for
 * the builds that track it, fixed/sums.ts ROW_LIMIT_TRACKED). */
let problemRow = 0;
let rowsWithinLimit = true;

/**
 * What is wrong with `rows` weight rows from `base`, each of `used` elements padded with zeros to `padded`:
 * ROWS_PADDED when a padding element is not +0 in every bit (SIMD sums read whole padded rows), ROWS_RANGE when a
 * fixed row holds -32768 (int8: a weight outside +-INT8_LIMIT), ROWS_UNSAFE when its sum of |w_q| exceeds
 * ROW_L1_LIMIT (then an i32 sum could overflow; with `lanes`, for U, only each lane-chunk's sum counts, and only
 * where LANE_CHECK: contract/plsm.ts, LANE_CHUNK_COLUMNS) or a float weight is not finite; ROWS_SOUND otherwise. The
 * row is left in problemRow.
 */
function rowsProblem(base: usize, rows: i32, used: i32, padded: i32, kind: i32, int8: bool, lanes: bool): i32 {
  const eb = int8 ? 1 : elementBytes(kind);
  const limit: i64 = int8 ? INT8_LIMIT : 32767;
  if (ROW_LIMIT_TRACKED) rowsWithinLimit = true;
  for (let r = 0; r < rows; r++) {
    if (ERROR_TEXT) problemRow = r;
    const row = base + <usize>r * <usize>padded * eb;
    let l1: i64 = 0;
    for (let i = 0; i < padded; i++) {
      if (isFixed(kind)) {
        const w = fixedWeight(row, i, int8);
        if (i >= used && w != 0) return ROWS_PADDED;
        // the most negative value is excluded so that no pair of products in a SIMD lane can reach 2^31
        if (w < -limit) return ROWS_RANGE;
        l1 += abs<i64>(w);
      } else {
        const w = load<f32>(row + (<usize>i << 2));
        if (i >= used && reinterpret<u32>(w) != 0) return ROWS_PADDED;
        if (!isFinite<f32>(w)) return ROWS_UNSAFE;
      }
    }
    // a row within the limit as a whole is within it lane-chunk by lane-chunk
    if (l1 > <i64>ROW_L1_LIMIT) {
      if (!lanes || (LANE_CHECK && laneChunkOver(row, padded, int8))) return ROWS_UNSAFE;
      if (ROW_LIMIT_TRACKED) rowsWithinLimit = false;
    }
  }
  return ROWS_SOUND;
}

/** Element i of a fixed weight row: i8 with int8 weights, i16 otherwise. */
@inline function fixedWeight(row: usize, i: i32, int8: bool): i64 {
  return int8 ? <i64>load<i8>(row + <usize>i) : <i64>load<i16>(row + (<usize>i << 1));
}

/** Whether a fixed U row of `padded` columns has a lane-chunk (contract/plsm.ts, LANE_CHUNK_COLUMNS) whose sum of
 * |w_q| exceeds ROW_L1_LIMIT: lane-chunk g starts at each g among the first 8 columns of a chunk and holds the
 * columns from g to the end of that chunk with c mod 8 in {g mod 8, g mod 8 + 1}: g, g + 1, g + 8, g + 9, ... */
function laneChunkOver(row: usize, padded: i32, int8: bool): bool {
  for (let g = 0; g < padded; g += 2) {
    if ((g & (LANE_CHUNK_COLUMNS - 8)) != 0) continue;
    let sum: i64 = 0;
    for (let c = g; c < padded && (c ^ g) < LANE_CHUNK_COLUMNS; c += 8) sum += abs<i64>(fixedWeight(row, c, int8)) + abs<i64>(fixedWeight(row, c + 1, int8));
    if (sum > <i64>ROW_L1_LIMIT) return true;
  }
  return false;
}

/**
 * Validates the .plsm image at [bytes, bytes + length) and fills `m` (whose memory the caller owns).
 * Returns 0 or E_MODEL with the reason in the error buffer; nothing is read outside the image.
 */
export function parseModel(m: Model, bytes: usize, length: i32): i32 {
  if (length < HEADER_BYTES + 4) return badField(ERROR_TEXT ? "file too short for a header and checksum" : "", length);
  if (load<u32>(bytes) != <u32>PLSM_MAGIC) return fail(E_MODEL, ERROR_TEXT ? "plsm: bad magic, not a .plsm file" : "");
  const version = <i32>load<u16>(bytes, HEADER_VERSION);
  if (version != PLSM_VERSION) return badField(ERROR_TEXT ? "unsupported version, this reader knows version 1" : "", version);
  const kind = <i32>load<u16>(bytes, HEADER_KIND);
  if (kind != KIND_FIXED && (!FULL_BUILD || kind != KIND_FLOAT)) return badField(ERROR_TEXT ? "unknown kind, expected 1 (fixed) or 2 (float32)" : "", kind);
  const fileBytes = load<u32>(bytes, HEADER_FILE_BYTES);
  if (fileBytes != <u32>length) {
    if (ERROR_TEXT) {
      fail(E_MODEL, "plsm: header says ");
      errInt(fileBytes);
      errText(" bytes but the file has ");
      errInt(length);
      errText(" (truncated or padded)");
    }
    return E_MODEL;
  }
  const stored = load<u32>(bytes + <usize>length - 4);
  const computed = crc32(bytes, <usize>length - 4);
  if (stored != computed) return fail(E_MODEL, ERROR_TEXT ? "plsm: checksum mismatch, the file is corrupted" : "");

  const inputSize = load<i32>(bytes, HEADER_INPUT_SIZE);
  const layerCount = load<i32>(bytes, HEADER_LAYER_COUNT);
  const outputSize = load<i32>(bytes, HEADER_OUTPUT_SIZE);
  const readoutMode = load<i32>(bytes, HEADER_READOUT_MODE);
  const ticksLog2 = load<i32>(bytes, HEADER_TICKS_LOG2);
  const inputFrac = load<i32>(bytes, HEADER_INPUT_FRAC);
  const readoutOffset = load<u32>(bytes, HEADER_READOUT_AT);
  if (!isSize(inputSize)) return badField(ERROR_TEXT ? "inputSize must be 1..65536" : "", inputSize);
  // (the microcontroller builds' init checked it before laying out the layers' records: assembly/mcu.ts)
  if (FULL_BUILD && (layerCount < 1 || layerCount > MAX_LAYERS)) return badField(ERROR_TEXT ? "layer count must be 1..64" : "", layerCount);
  if (!isSize(outputSize)) return badField(ERROR_TEXT ? "outputSize must be 1..65536" : "", outputSize);
  if (<u32>readoutMode > 1) return badField(ERROR_TEXT ? "readout mode must be 0 (last) or 1 (every)" : "", readoutMode);
  if (isFixed(kind)) {
    if (<u32>ticksLog2 > <u32>MAX_TICKS_LOG2) return badField(ERROR_TEXT ? "ticksLog2 must be 0..40" : "", ticksLog2);
    if (!isFrac(inputFrac)) return badField(ERROR_TEXT ? "inputFrac must be -16..30" : "", inputFrac);
  }
  if (<u64>HEADER_BYTES + <u64>layerCount * LAYER_DESC_BYTES > <u64>(fileBytes - 4)) {
    return badField(ERROR_TEXT ? "layer table runs past the end of the file; layers" : "", layerCount);
  }
  if (PAGE) regionEnd = 0;
  if (!checkRegion(fileBytes, readoutOffset, <u64>READOUT_DESC_BYTES, ERROR_TEXT ? "readout descriptor" : "", -1)) return E_MODEL;

  const eb = elementBytes(kind);
  let stateBytes = S_HEADER_BYTES;
  let maxHidden = 0;
  let totalUnits = 0;
  let previous = inputSize;
  for (let n = 0; n < layerCount; n++) {
    const d = bytes + <usize>HEADER_BYTES + <usize>n * LAYER_DESC_BYTES;
    const L = layerAt(m, n);
    const I = load<i32>(d, LAYER_INPUT_SIZE);
    const H = load<i32>(d, LAYER_HIDDEN_SIZE);
    if (I != previous) {
      if (ERROR_TEXT) {
        fail(E_MODEL, "plsm: layer ");
        errInt(n);
        errText(" input size ");
        errInt(I);
        errText(" does not match the size below it, ");
        errInt(previous);
      }
      return E_MODEL;
    }
    if (!isSize(H)) return badField(ERROR_TEXT ? "hidden size must be 1..65536" : "", H);
    const flags = load<u32>(d, LAYER_FLAGS);
    // int8 weights are a fixed-point format only
    if (flags > <u32>(isFixed(kind) ? LAYER_PEEPHOLES | LAYER_INT8 : LAYER_PEEPHOLES)) return badField(ERROR_TEXT ? "unknown layer flags" : "", flags);
    const Ip = pad8(I);
    const Hp = pad8(H);
    L.inputSize = I;
    L.hiddenSize = H;
    L.inputPad = Ip;
    L.hiddenPad = Hp;
    L.xFrac = n == 0 ? inputFrac : 15;
    const pFrac = load<i32>(d, LAYER_P_FRAC);
    L.pFrac = pFrac;
    L.hasPeephole = flags & LAYER_PEEPHOLES;
    // constant in the microcontroller builds, which run one width
    const int8: bool = RUNS_INT8 && (!RUNS_INT16 || (flags & LAYER_INT8) != 0);
    if (isFixed(kind) && int8 != ((flags & LAYER_INT8) != 0)) {
      return badField(ERROR_TEXT ? "this build does not run this weight width; layer" : "", n);
    }
    // read only where a build runs both widths (fixed/sums.ts)
    if (FULL_BUILD) L.int8 = <i32>int8;
    const wb: i32 = int8 ? 1 : eb;
    if (isFixed(kind) && !isFrac(pFrac)) return badField(ERROR_TEXT ? "peephole format must be -16..30" : "", pFrac);
    // W, U, the unit records and the time records, in this order: their offsets follow each other in the descriptor
    // from LAYER_W_AT, their addresses in Layer from W (one loop, for the microcontroller builds' size)
    for (let k = 0; k < 4; k++) {
      const offset = load<u32>(d + <usize>(k << 2), LAYER_W_AT);
      const unitBytes: u64 = k == 0 ? 4 * <u64>Ip * wb : k == 1 ? 4 * <u64>Hp * wb : k == 2 ? UNIT_RECORD_BYTES : TIME_RECORD_BYTES;
      const what = ERROR_TEXT ? (k == 0 ? "W" : k == 1 ? "U" : k == 2 ? "unit records" : "time records") : "";
      if (!checkRegion(fileBytes, offset, <u64>H * unitBytes, what, n)) return E_MODEL;
      store<usize>(changetype<usize>(L) + (<usize>k << alignof<usize>()), bytes + offset, offsetof<Layer>("W"));
    }
    let rows = rowsProblem(L.W, 4 * H, I, Ip, kind, int8, false);
    const inU = rows == ROWS_SOUND;
    if (inU) rows = rowsProblem(L.U, 4 * H, H, Hp, kind, int8, true);
    if (rows != ROWS_SOUND) {
      if (ERROR_TEXT) {
        fail(E_MODEL, "plsm: layer ");
        errInt(n);
        errText(inU ? " U row " : " W row ");
        errInt(problemRow);
        errText(
          rows == ROWS_PADDED
            ? " has nonzero padding"
            : rows == ROWS_RANGE
              ? " holds -32768 (int8: -128), outside the symmetric range of its weights"
              : !isFixed(kind)
                ? " has a non-finite weight"
                : inU
                  ? ": the sum of |w| of one SIMD lane of a 128-column chunk (its columns c with c mod 8 in {2 l, 2 l + 1}) is over 65538, so a 32-bit lane sum could overflow"
                  : ": sum of |w| is over 65538, so a 32-bit sum could overflow",
        );
      }
      return E_MODEL;
    }
    if (ROW_LIMIT_TRACKED) L.uWithinRowLimit = <i32>rowsWithinLimit;
    const bad = checkUnits(L, kind, ticksLog2);
    if (bad >= 0) {
      if (ERROR_TEXT) {
        fail(E_MODEL, "plsm: layer ");
        errInt(n);
        errText(" unit ");
        errInt(bad);
        errText(": ");
        errText(unitProblem);
        if (unitValue == unitValue) {
          errText(" (got ");
          errFloat(unitValue);
          errText(")");
        }
      }
      return E_MODEL;
    }
    // State block of this layer, each region 16-aligned (h for SIMD), in the order of their offsets in Layer from
    // hOff: h (padded), c, seeds, the unit schedule (wake keys, links, bucket heads, wheel header, active list)
    for (let k = 0; k < 8; k++) {
      store<i32>(changetype<usize>(L) + (<usize>k << 2), stateBytes, offsetof<Layer>("hOff"));
      stateBytes = align16(stateBytes + stateRegionBytes(k, H, Hp * eb));
    }
    if (H > maxHidden) maxHidden = H;
    totalUnits += H;
    previous = H;
  }
  const r = bytes + readoutOffset;
  const vOff = load<u32>(r, READOUT_V_AT);
  const rowOff = load<u32>(r, READOUT_ROWS_AT);
  const Hp = pad8(previous);
  if (!checkRegion(fileBytes, vOff, <u64>outputSize * <u64>Hp * eb, ERROR_TEXT ? "readout V" : "", -1)) return E_MODEL;
  if (!checkRegion(fileBytes, rowOff, <u64>outputSize * ROW_RECORD_BYTES, ERROR_TEXT ? "readout rows" : "", -1)) return E_MODEL;
  const V = bytes + vOff;
  const readoutRows = bytes + rowOff;
  m.V = V;
  m.readoutRows = readoutRows;
  if (rowsProblem(V, outputSize, previous, Hp, kind, false, false) != ROWS_SOUND) {
    return fail(E_MODEL, ERROR_TEXT ? "plsm: readout V has nonzero padding, a non-finite weight or a row that could overflow" : "");
  }
  for (let o = 0; o < outputSize; o++) {
    const row = readoutRows + <usize>o * ROW_RECORD_BYTES;
    if (isFixed(kind)) {
      const frac = load<i32>(row, ROW_V_FRAC);
      if (!isFrac(frac)) return badField(ERROR_TEXT ? "readout row format must be -16..30" : "", frac);
    } else if (!isFinite<f32>(load<f32>(row, ROW_BIAS))) {
      return badField(ERROR_TEXT ? "readout bias is not finite; row" : "", o);
    }
  }
  // the kind, readout mode and widest layer are read by the library and the WASI command only (runsFixed)
  if (FULL_BUILD) {
    m.kind = kind;
    m.readoutMode = readoutMode;
    m.maxHidden = maxHidden;
  }
  m.inputSize = inputSize;
  m.outputSize = outputSize;
  m.layerCount = layerCount;
  m.keysLog2 = isFixed(kind) ? ticksLog2 : FLOAT_KEYS_LOG2;
  m.inputFrac = inputFrac;
  m.totalUnits = totalUnits;
  m.checksum = stored;
  m.streamBytes = align16(stateBytes);
  if (PAGE) {
    // The one-page build's scratch: the quantized input (padded); k of each open unit, whose slot then holds the
    // unit's new h until every block is done (fixed/step.ts); the gate sums of one block; y.
    m.xqOff = 0;
    m.kOff = align16(pad8(inputSize) * 2);
    m.sumsOff = align32(m.kOff + maxHidden * 4);
    m.yOff = m.sumsOff + SUM_BLOCK * SUMS_BYTES;
    m.scratchBytes = m.yOff + outputSize * 8;
    return 0;
  }
  // Scratch: quantized layer input (padded), its nonzero columns, new h and c, k and the gate row sums of the open
  // units.
  const maxInputPad = pad8(inputSize > maxHidden ? inputSize : maxHidden);
  // in the order of their offsets in Model from xqOff, each 16-aligned and the gate sums 32-aligned (fixed/sums.ts)
  let at = 0;
  for (let k = 0; k < 7; k++) {
    if (k == 5) at = align32(at);
    store<i32>(changetype<usize>(m) + (<usize>k << 2), at, offsetof<Model>("xqOff"));
    at = align16(at + (k < 2 ? maxInputPad * 4 : k < 5 ? maxHidden * 4 : k == 5 ? (isFixed(kind) ? maxHidden * SUMS_BYTES : 0) : outputSize * 8));
  }
  m.scratchBytes = at;
  return 0;
}

/** Bytes of region k of a layer's state block (parseModel) of H units, whose h takes hBytes. */
@inline function stateRegionBytes(k: i32, H: i32, hBytes: i32): i32 {
  if (k == 0) return hBytes;
  if (k == 5) return WHEEL_BUCKETS * 4;
  if (k == 6) return WHEEL_HEADER_BYTES;
  // c, next links and the active list: an i32 a unit; seeds and wake keys: an i64
  return H << (<u32>(k - 2) < 2 ? 3 : 2);
}

/** Which of the unchecked forms of the unit arithmetic's rounding shifts (fixed/step.ts, toQ24) the build compiles
 * in, each a written-out copy of the unit arithmetic: both, except in the microcontroller builds, which hold one copy
 * fewer to stay within budget: the int16 ones the fast form (int16 rows usually come to Q7.24 by right shifts), the
 * int8 ones the wide form (int8 rows have about 8 fewer fractional bits, so their shifts reach 0 and below; there a
 * layer whose shifts are all in 1..32 takes the wide form too). A layer takes the checked form where the build lacks
 * its own: the same bits (docs/fixed-point.md, "Row sums to Q7.24"). */
export const FAST_SHIFTS: bool = RUNS_INT16;
/** In the one-page build too, since the smaller cold code of the microcontroller builds made room for it. */
export const WIDE_SHIFTS: bool = RUNS_INT8;

/**
 * The widest U rows of int16 weights the wide form takes (fixed/step.ts, toQ24): it needs every row sum below
 * 2^(61 - WIDE_SHIFT) = 2^39 in magnitude (fixed/arith.ts, shiftRoundWide). A W x is: sum |w_q| <= ROW_L1_LIMIT
 * (every build checks it) against inputs within +-32767, below 2^31. So is a U h with int8 weights: at most
 * hiddenPad <= MAX_SIZE = 2^16 weights within +-127 against h within +-32767, below 2^38; and with int16 weights
 * where hiddenPad <= 512: 512 x 32767^2 < 2^39.
 */
const WIDE_INT16_PAD = 512;

/** Whether a rounding shift s is in (1 - K)..32: K = 0 for the fast form, WIDE_SHIFT for the wide one. */
@inline function withinShifts(s: i32, K: i32): bool {
  return <u32>(s - 1 + K) < <u32>(32 + K);
}

/** What checkUnits found wrong with the unit it returned (naming the accepted range), and the value it found
 * there (NaN when the message has no one value to show). */
let unitProblem = "";
let unitValue: f64 = NaN;

/** Records why checkUnits refuses a unit; the text and value only where the build words its errors. */
@inline function badUnit(problem: string, value: f64): void {
  if (ERROR_TEXT) {
    unitProblem = problem;
    unitValue = value;
  }
}

/**
 * Index of the first unit with bad per-unit parameters, or -1 (the reason in unitProblem and unitValue). In a fixed
 * layer it also decides which form of the unit arithmetic's rounding shifts it takes (fixed/step.ts, toQ24), from the
 * shifts s of each row's W x from Q(wFrac + xFrac) and U h from Q(uFrac + 15) to Q7.24 and of the peepholes from
 * Q(pFrac + 20): fast (Layer.fastShifts) where every s is in 1..32; else wide (Layer.wideShifts) where the layer's
 * row sums are within its bound (WIDE_SHIFT) and every s is in (1 - WIDE_SHIFT)..32, the peepholes' in 1..32; else
 * checked.
 */
function checkUnits(L: Layer, kind: i32, ticksLog2: i32): i32 {
  let fast = !L.hasPeephole || withinShifts(L.pFrac + CELL_FRAC - PRE_FRAC, 0);
  let wide = WIDE_SHIFTS && fast && (!RUNS_INT16 || L.int8 != 0 || L.hiddenPad <= WIDE_INT16_PAD);
  for (let j = 0; j < L.hiddenSize; j++) {
    const u = L.units + <usize>j * UNIT_RECORD_BYTES;
    const t = L.time + <usize>j * TIME_RECORD_BYTES;
    const tau = load<f64>(t, TIME_TAU);
    const shift = load<f64>(t, TIME_SHIFT);
    if (!(tau >= TAU_MIN && tau <= TAU_MAX)) {
      badUnit(ERROR_TEXT ? "tau must be a period in [2^-20, 2^42] time units" : "", tau);
      return j;
    }
    if (!isFinite<f64>(shift)) {
      badUnit(ERROR_TEXT ? "shift must be a finite number" : "", shift);
      return j;
    }
    if (isFixed(kind)) {
      for (let g = 0; g < 4; g++) {
        const wf = <i32>load<i8>(u + UNIT_W_FRAC + g);
        const uf = <i32>load<i8>(u + UNIT_U_FRAC + g);
        if (!isFrac(wf) || !isFrac(uf)) {
          badUnit(ERROR_TEXT ? "a W or U row format (wFrac, uFrac) is outside -16..30" : "", NaN);
          return j;
        }
        const sW = wf + L.xFrac - PRE_FRAC;
        const sU = uf + 15 - PRE_FRAC;
        if (FAST_SHIFTS) fast = fast & withinShifts(sW, 0) & withinShifts(sU, 0);
        if (WIDE_SHIFTS) wide = wide & withinShifts(sW, WIDE_SHIFT) & withinShifts(sU, WIDE_SHIFT);
      }
      const halfOn = load<u32>(t, TIME_HALF_ON);
      if (halfOn - <u32>HALF_ON_MIN > <u32>HALF_ON_MAX - <u32>HALF_ON_MIN) {
        badUnit(ERROR_TEXT ? "the open ratio r_on must be in [2^-16, 1] (r_on / 2 in Q0.32, halfOn, in 2^15..2^31)" : "", <f64>halfOn);
        return j;
      }
      // rounding an event's time to a tick moves k by at most 1 / (the ticks of the open window): r_on tau 2^ticksLog2
      // = tau halfOn 2^(ticksLog2 - 31) ticks (halfOn 2^-31 = r_on), whose only rounding is tau halfOn's, so that it
      // is compared as that against MIN_OPEN_TICKS 2^(31 - ticksLog2), one constant fewer
      if (!(tau * <f64>halfOn >= exp2(OPEN_TICKS_LOG2 + 31 - ticksLog2))) {
        badUnit(ERROR_TEXT ? "the open window r_on tau must span at least 4096 ticks" : "", tau * exp2(ticksLog2) * (<f64>halfOn * 4.656612873077393e-10));
        return j;
      }
      if (FULL_BUILD) {
        // tau's own step, rounded to 96 bits (or, in files written before the low 32 bits were, to 64 bits)
        const step = load<u64>(t, TIME_STEP);
        const low = load<u32>(t, TIME_STEP_LOW);
        const exact = phaseStep(tau, ticksLog2);
        if (!((step == exact && low == phaseStepLow) || (low == 0 && step == phaseStep64))) {
          badUnit(ERROR_TEXT ? "the phase step per tick does not match tau and ticksLog2" : "", NaN);
          return j;
        }
      } else if (load<u64>(t, TIME_STEP) + (load<u32>(t, TIME_STEP_LOW) != 0 ? 1 : 0) == 0) {
        // the microcontroller builds run the file's step unchecked, but not one whose period (fixedPeriod) would
        // divide by zero; tau's own step never wraps so
        return j;
      }
    } else {
      for (let g = 0; g < 8; g++) {
        if (!isFinite<f32>(load<f32>(u + (<usize>g << 2)))) {
          badUnit(ERROR_TEXT ? "a bias or peephole is not finite" : "", NaN);
          return j;
        }
      }
      const rOn = load<f64>(t, TIME_R_ON);
      if (!(rOn >= R_ON_MIN && rOn <= 1)) {
        badUnit(ERROR_TEXT ? "the open ratio r_on must be in [2^-16, 1]" : "", rOn);
        return j;
      }
    }
  }
  // only the forms the build has are read (fixed/step.ts, layerStep)
  if (FAST_SHIFTS) L.fastShifts = <i32>fast;
  if (WIDE_SHIFTS) L.wideShifts = <i32>wide;
  return -1;
}

/**
 * The bounds of fixed/step.ts's passedOver for a unit of phase step `step` (high 64 bits), r_on / 2 = halfOn in Q0.32
 * and period = fixedPeriod: lapTicks, the largest number of ticks up to period that is 1 mod WAKE_LAPS (so that
 * adding it to a wake key counts one lap in the key's low bits and never passes the next opening), and windowTicks =
 * 2 ceil(halfOn 2^32 / step) + WAKE_SLACK, at least the ticks from a fresh wake key to its window's end. Only where
 * one period is below 2^32 ticks (step >= 2^32; the usual case) do passedOver's error bounds hold; elsewhere lapTicks
 * is 0, which never passes over a window.
 */
function storePassBounds(out: usize, step: u64, halfOn: u32, period: u64): void {
  let lapTicks: u64 = 0;
  let windowTicks: u64 = 0;
  if (period >>> 32 == 0) {
    const ratio = (<u64>halfOn << 32) / step; // below 2^32: halfOn <= 2^31, step >= 2^32
    windowTicks = 2 * (ratio + ((<u64>halfOn << 32) % step != 0 ? 1 : 0)) + <u64>WAKE_SLACK;
    lapTicks = ((period - 1) & ~<u64>(WAKE_LAPS - 1)) + 1;
    if (windowTicks > <u64>u32.MAX_VALUE) lapTicks = 0;
  }
  store<u32>(out, <u32>lapTicks, TIMING_LAP_TICKS);
  store<u32>(out, <u32>windowTicks, TIMING_WINDOW_TICKS);
}

/** Wake keys of the fixed engine count passed-over laps in their low log2(WAKE_LAPS) bits (fixed/step.ts). */
export const WAKE_LAPS: i32 = 16;
/** Ticks windowTicks adds for the error of a fresh wake key: nextOpening's (under 5 ticks where a period is below
 * 2^32 ticks) and its rounding down to a multiple of WAKE_LAPS (under WAKE_LAPS), with room to spare. */
const WAKE_SLACK: i32 = 32;

/** log2 of MIN_OPEN_TICKS. */
const OPEN_TICKS_LOG2 = 12;
if (1 << OPEN_TICKS_LOG2 != MIN_OPEN_TICKS) ERROR("OPEN_TICKS_LOG2 must be log2 of MIN_OPEN_TICKS");

/** 2^e exactly, for |e| < 1000. */
@inline function exp2(e: i32): f64 {
  return reinterpret<f64>(<i64>(1023 + e) << 52);
}

/** Fills every layer's timing records (timingBytes(kind) per unit) into `block`, which holds totalUnits of them; in
 * the one-page build, which reads the file's time records instead (TIMING_STEP), only each layer's wheel. */
export function deriveTiming(m: Model, block: usize): void {
  const fixed = runsFixed(m);
  const recordBytes = fixed ? FIXED_TIMING_BYTES : FLOAT_TIMING_BYTES;
  for (let n = 0; n < m.layerCount; n++) {
    const L = layerAt(m, n);
    L.timing = PAGE ? L.time : block;
    let longest: f64 = 0; // the longest period, in wake-key units
    for (let j = 0; j < L.hiddenSize; j++) {
      const t = L.time + <usize>j * TIME_RECORD_BYTES;
      const out = block + <usize>j * recordBytes;
      if (fixed) {
        const step = load<u64>(t, TIME_STEP);
        const low = load<u32>(t, TIME_STEP_LOW);
        const period = fixedPeriod(step, low);
        if (!PAGE) {
          store<u64>(out, step, 0);
          store<u32>(out, load<u32>(t, TIME_HALF_ON), 8);
          store<u32>(out, low, 12);
          store<u64>(out, fixedInvHalf(load<u32>(t, TIME_HALF_ON)), 16);
          store<u64>(out, period, 24);
        }
        if (FULL_BUILD) storePassBounds(out, step, load<u32>(t, TIME_HALF_ON), period);
        longest = max(longest, <f64>period);
      } else {
        const tau = load<f64>(t, TIME_TAU);
        const rOn = load<f64>(t, TIME_R_ON);
        store<u64>(out, phaseStep(tau, FLOAT_KEYS_LOG2), 0);
        store<u64>(out, <u64>phaseStepLow, 8);
        store<f64>(out, 1.0 / (tau * FLOAT_KEYS_PER_UNIT), 16);
        store<f64>(out, rOn, 24);
        store<f64>(out, tau * FLOAT_KEYS_PER_UNIT, 32);
        store<f64>(out, 2.0 / rOn, 40);
        longest = max(longest, tau * FLOAT_KEYS_PER_UNIT);
      }
    }
    // One lap of the wheel spans the longest period: bucket = 2^shift >= longest / WHEEL_BUCKETS.
    let shift = 0;
    while (shift < 62 && <f64>(<i64>1 << shift) * <f64>WHEEL_BUCKETS < longest) shift++;
    L.bucketShift = shift;
    block += <usize>L.hiddenSize * recordBytes;
  }
}
