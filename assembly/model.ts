// A model in linear memory: the .plsm bytes (docs/plsm.md) checked once, and the layout of everything an
// engine needs computed once from them (the arena plan, TFLite Micro style). Weights are used in place: the
// file image is the weight memory.

import { crc32 } from "./crc32";
import { ERROR_TEXT, E_MODEL, errInt, errText, fail } from "./errors";

export const KIND_FIXED: i32 = 1;
export const KIND_FLOAT: i32 = 2;

/** Every build but the microcontroller one (`--use PHASOR_MCU=1`), which has only the fixed engine and its dense
 * input path: no float engine and no sparse-column path are compiled in. */
export const FULL_BUILD: bool = !isDefined(PHASOR_MCU);

/** Whether a model of this kind runs on the fixed engine (always, where there is no float engine). */
@inline export function isFixed(kind: i32): bool {
  return !FULL_BUILD || kind == KIND_FIXED;
}

export const HEADER_BYTES: i32 = 64;
export const LAYER_DESC_BYTES: i32 = 64;
export const READOUT_DESC_BYTES: i32 = 32;
export const UNIT_RECORD_BYTES: i32 = 32;
export const TIME_RECORD_BYTES: i32 = 32;
/** Per-unit timing derived at load. Fixed: step (Q0.64 phase per tick), on = r_on in Q0.32, invHalf =
 * floor(2^47 / (r_on / 2 in Q0.32)) so k = phi * invHalf >> 32 in Q0.15, period = floor(2^64 / step) ticks.
 * Float: 1 / tau, r_on, tau, 2 / r_on. */
export const TIMING_BYTES: i32 = 32;
/** Buckets of the timing wheel that schedules closed units (schedule.ts). */
export const WHEEL_BUCKETS: i32 = 64;
/** Bytes of a layer's wheel header: last bucket (i64), non-empty bitmap (u64), active count (i32). */
export const WHEEL_HEADER_BYTES: i32 = 24;
/** The float engine's wake keys count 2^-20 time units. */
export const FLOAT_KEYS_PER_UNIT: f64 = 1048576.0;
export const MAX_LAYERS: i32 = 64;
export const MAX_SIZE: i32 = 65536;
/** Fractional bits of pre-activations (Q7.24 in i32). */
export const PRE_FRAC: i32 = 24;
/** Fractional bits of the cell state (Q11.20 in i32). */
export const CELL_FRAC: i32 = 20;
/** The quantizer keeps every weight row's sum of |w_q| at most this, so 32767 * sum fits in i32: no i32 dot
 * product can overflow, in any summation order (so SIMD and scalar sums are the same integers). */
export const ROW_L1_LIMIT: i64 = 65538;

/** Rounds x up to a multiple of 8 elements: rows are padded so SIMD reads whole 16-byte vectors. */
@inline export function pad8(x: i32): i32 {
  return (x + 7) & ~7;
}

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
  /** H units x 4 gates x inputPad weights, unit-major (i16 or f32) */
  W: usize;
  /** H units x 4 gates x hiddenPad weights */
  U: usize;
  /** H unit records of UNIT_RECORD_BYTES: biases, row formats, peepholes */
  units: usize;
  /** H time records of TIME_RECORD_BYTES (the file's) */
  time: usize;
  /** H timing records of TIMING_BYTES derived from them at load, so the event path never divides */
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
}

@unmanaged
export class Model {
  kind: i32;
  inputSize: i32;
  outputSize: i32;
  layerCount: i32;
  readoutMode: i32;
  ticksLog2: i32;
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
  newHOff: i32;
  newCOff: i32;
  kOff: i32;
  /** readout y, computed on request (so a snapshot holds state only, never a cached output) */
  yOff: i32;
}

@inline export function layerAt(m: Model, n: i32): Layer {
  return changetype<Layer>(m.layers + <usize>n * offsetof<Layer>());
}

/** Bytes of one element of the weight tensors. */
@inline export function elementBytes(kind: i32): i32 {
  return isFixed(kind) ? 2 : 4;
}

@inline function align16(x: i32): i32 {
  return (x + 15) & ~15;
}

// Offsets of the stream header, the first S_HEADER_BYTES of every stream block.
export const S_STARTED: i32 = 0;
export const S_CHECKSUM: i32 = 4;
export const S_T0: i32 = 8;
export const S_LAST_T: i32 = 16;
export const S_LAST_KEY: i32 = 24;
export const S_EVENTS: i32 = 32;
export const S_UPDATES: i32 = 40;
export const S_HEADER_BYTES: i32 = 64;

/** Checks that [offset, offset + bytes) lies in the payload and is 16-byte aligned. */
function checkRegion(fileBytes: u32, offset: u32, bytes: u64, what: string, layer: i32): bool {
  if ((offset & 15) != 0 || <u64>offset < <u64>HEADER_BYTES || <u64>offset + bytes > <u64>(fileBytes - 4)) {
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

/** Every padding weight must be zero: SIMD sums read whole padded rows. */
function paddingIsZero(base: usize, rows: i32, used: i32, padded: i32, eb: i32): bool {
  for (let r = 0; r < rows; r++) {
    const row = base + <usize>r * <usize>padded * eb;
    for (let i = used; i < padded; i++) {
      if (eb == 2 ? load<i16>(row + (<usize>i << 1)) != 0 : load<u32>(row + (<usize>i << 2)) != 0) return false;
    }
  }
  return true;
}

/** Fixed rows: sum |w_q| within ROW_L1_LIMIT; float rows: finite numbers. */
function rowsAreSafe(base: usize, rows: i32, padded: i32, kind: i32): bool {
  for (let r = 0; r < rows; r++) {
    const row = base + <usize>r * <usize>padded * elementBytes(kind);
    if (isFixed(kind)) {
      let l1: i64 = 0;
      for (let i = 0; i < padded; i++) {
        const w = <i64>load<i16>(row + (<usize>i << 1));
        // -32768 is excluded so that no pair of products in a SIMD lane can reach 2^31
        if (w == -32768) return false;
        l1 += abs<i64>(w);
      }
      if (l1 > ROW_L1_LIMIT) return false;
    } else {
      for (let i = 0; i < padded; i++) if (!isFinite<f32>(load<f32>(row + (<usize>i << 2)))) return false;
    }
  }
  return true;
}

/**
 * Validates the .plsm image at [bytes, bytes + length) and fills `m` (whose memory the caller owns).
 * Returns 0 or E_MODEL with the reason in the error buffer; nothing is read outside the image.
 */
export function parseModel(m: Model, bytes: usize, length: i32): i32 {
  if (length < HEADER_BYTES + 4) return badField(ERROR_TEXT ? "file too short for a header and checksum" : "", length);
  if (load<u32>(bytes) != 0x4d534c50) return fail(E_MODEL, ERROR_TEXT ? "plsm: bad magic, not a .plsm file" : "");
  const version = <i32>load<u16>(bytes, 4);
  if (version != 1) return badField(ERROR_TEXT ? "unsupported version, this reader knows version 1" : "", version);
  const kind = <i32>load<u16>(bytes, 6);
  if (kind != KIND_FIXED && (!FULL_BUILD || kind != KIND_FLOAT)) return badField(ERROR_TEXT ? "unknown kind, expected 1 (fixed) or 2 (float32)" : "", kind);
  const fileBytes = load<u32>(bytes, 8);
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

  const inputSize = load<i32>(bytes, 12);
  const layerCount = load<i32>(bytes, 16);
  const outputSize = load<i32>(bytes, 20);
  const readoutMode = load<i32>(bytes, 24);
  const ticksLog2 = load<i32>(bytes, 28);
  const inputFrac = load<i32>(bytes, 32);
  const readoutOffset = load<u32>(bytes, 36);
  if (inputSize < 1 || inputSize > MAX_SIZE) return badField(ERROR_TEXT ? "inputSize must be 1..65536" : "", inputSize);
  if (layerCount < 1 || layerCount > MAX_LAYERS) return badField(ERROR_TEXT ? "layer count must be 1..64" : "", layerCount);
  if (outputSize < 1 || outputSize > MAX_SIZE) return badField(ERROR_TEXT ? "outputSize must be 1..65536" : "", outputSize);
  if (readoutMode != 0 && readoutMode != 1) return badField(ERROR_TEXT ? "readout mode must be 0 (last) or 1 (every)" : "", readoutMode);
  if (isFixed(kind)) {
    if (ticksLog2 < 0 || ticksLog2 > 40) return badField(ERROR_TEXT ? "ticksLog2 must be 0..40" : "", ticksLog2);
    if (inputFrac < -16 || inputFrac > 30) return badField(ERROR_TEXT ? "inputFrac must be -16..30" : "", inputFrac);
  }
  if (<u64>HEADER_BYTES + <u64>layerCount * LAYER_DESC_BYTES > <u64>(fileBytes - 4)) {
    return badField(ERROR_TEXT ? "layer table runs past the end of the file; layers" : "", layerCount);
  }
  if (!checkRegion(fileBytes, readoutOffset, <u64>READOUT_DESC_BYTES, ERROR_TEXT ? "readout descriptor" : "", -1)) return E_MODEL;

  const eb = elementBytes(kind);
  let stateBytes = S_HEADER_BYTES;
  let maxHidden = 0;
  let totalUnits = 0;
  let previous = inputSize;
  for (let n = 0; n < layerCount; n++) {
    const d = bytes + <usize>HEADER_BYTES + <usize>n * LAYER_DESC_BYTES;
    const L = layerAt(m, n);
    const I = load<i32>(d, 0);
    const H = load<i32>(d, 4);
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
    if (H < 1 || H > MAX_SIZE) return badField(ERROR_TEXT ? "hidden size must be 1..65536" : "", H);
    const flags = load<u32>(d, 8);
    if (flags > 1) return badField(ERROR_TEXT ? "unknown layer flags" : "", flags);
    const Ip = pad8(I);
    const Hp = pad8(H);
    L.inputSize = I;
    L.hiddenSize = H;
    L.inputPad = Ip;
    L.hiddenPad = Hp;
    L.xFrac = n == 0 ? inputFrac : 15;
    L.pFrac = load<i32>(d, 12);
    L.hasPeephole = flags & 1;
    if (isFixed(kind) && (L.pFrac < -16 || L.pFrac > 30)) return badField(ERROR_TEXT ? "peephole format must be -16..30" : "", L.pFrac);
    const wOff = load<u32>(d, 16);
    const uOff = load<u32>(d, 20);
    const unitOff = load<u32>(d, 24);
    const timeOff = load<u32>(d, 28);
    if (!checkRegion(fileBytes, wOff, <u64>H * 4 * <u64>Ip * eb, ERROR_TEXT ? "W" : "", n)) return E_MODEL;
    if (!checkRegion(fileBytes, uOff, <u64>H * 4 * <u64>Hp * eb, ERROR_TEXT ? "U" : "", n)) return E_MODEL;
    if (!checkRegion(fileBytes, unitOff, <u64>H * UNIT_RECORD_BYTES, ERROR_TEXT ? "unit records" : "", n)) return E_MODEL;
    if (!checkRegion(fileBytes, timeOff, <u64>H * TIME_RECORD_BYTES, ERROR_TEXT ? "time records" : "", n)) return E_MODEL;
    L.W = bytes + wOff;
    L.U = bytes + uOff;
    L.units = bytes + unitOff;
    L.time = bytes + timeOff;
    if (!paddingIsZero(L.W, 4 * H, I, Ip, eb) || !paddingIsZero(L.U, 4 * H, H, Hp, eb)) {
      if (ERROR_TEXT) {
        fail(E_MODEL, "plsm: layer ");
        errInt(n);
        errText(" has nonzero padding in its weight rows");
      }
      return E_MODEL;
    }
    if (!rowsAreSafe(L.W, 4 * H, Ip, kind) || !rowsAreSafe(L.U, 4 * H, Hp, kind)) {
      if (ERROR_TEXT) {
        fail(E_MODEL, "plsm: layer ");
        errInt(n);
        errText(isFixed(kind) ? " has a weight row whose sum of |w| could overflow a 32-bit sum" : " has a non-finite weight");
      }
      return E_MODEL;
    }
    const bad = checkUnits(L, kind);
    if (bad >= 0) {
      if (ERROR_TEXT) {
        fail(E_MODEL, "plsm: layer ");
        errInt(n);
        errText(" unit ");
        errInt(bad);
        errText(": ");
        errText(unitProblem);
      }
      return E_MODEL;
    }
    // State block of this layer: h (padded, 16-aligned for SIMD), c, seeds, the unit schedule.
    L.hOff = stateBytes;
    stateBytes = align16(stateBytes + Hp * eb);
    L.cOff = stateBytes;
    stateBytes = align16(stateBytes + H * 4);
    L.seedOff = stateBytes;
    stateBytes = align16(stateBytes + H * 8);
    L.keyOff = stateBytes;
    stateBytes = align16(stateBytes + H * 8);
    L.nextOff = stateBytes;
    stateBytes = align16(stateBytes + H * 4);
    L.headsOff = stateBytes;
    stateBytes = align16(stateBytes + WHEEL_BUCKETS * 4);
    L.wheelOff = stateBytes;
    stateBytes = align16(stateBytes + WHEEL_HEADER_BYTES);
    L.activeOff = stateBytes;
    stateBytes = align16(stateBytes + H * 4);
    if (H > maxHidden) maxHidden = H;
    totalUnits += H;
    previous = H;
  }
  const r = bytes + readoutOffset;
  const vOff = load<u32>(r, 0);
  const rowOff = load<u32>(r, 4);
  const Hp = pad8(previous);
  if (!checkRegion(fileBytes, vOff, <u64>outputSize * <u64>Hp * eb, ERROR_TEXT ? "readout V" : "", -1)) return E_MODEL;
  if (!checkRegion(fileBytes, rowOff, <u64>outputSize * 8, ERROR_TEXT ? "readout rows" : "", -1)) return E_MODEL;
  m.V = bytes + vOff;
  m.readoutRows = bytes + rowOff;
  if (!paddingIsZero(m.V, outputSize, previous, Hp, eb) || !rowsAreSafe(m.V, outputSize, Hp, kind)) {
    return fail(E_MODEL, ERROR_TEXT ? "plsm: readout V has nonzero padding, a non-finite weight or a row that could overflow" : "");
  }
  for (let o = 0; o < outputSize; o++) {
    const row = m.readoutRows + <usize>o * 8;
    if (isFixed(kind)) {
      const frac = load<i32>(row, 4);
      if (frac < -16 || frac > 30) return badField(ERROR_TEXT ? "readout row format must be -16..30" : "", frac);
    } else if (!isFinite<f32>(load<f32>(row, 0))) {
      return badField(ERROR_TEXT ? "readout bias is not finite; row" : "", o);
    }
  }
  m.kind = kind;
  m.inputSize = inputSize;
  m.outputSize = outputSize;
  m.layerCount = layerCount;
  m.readoutMode = readoutMode;
  m.ticksLog2 = ticksLog2;
  m.inputFrac = inputFrac;
  m.maxHidden = maxHidden;
  m.totalUnits = totalUnits;
  m.checksum = stored;
  m.streamBytes = align16(stateBytes);
  // Scratch: quantized layer input (padded), its nonzero columns, new h and c, and k of the open units.
  const maxInputPad = pad8(inputSize > maxHidden ? inputSize : maxHidden);
  m.xqOff = 0;
  m.nnzOff = align16(maxInputPad * 4);
  m.newHOff = align16(m.nnzOff + maxInputPad * 4);
  m.newCOff = align16(m.newHOff + maxHidden * 4);
  m.kOff = align16(m.newCOff + maxHidden * 4);
  m.yOff = align16(m.kOff + maxHidden * 4);
  m.scratchBytes = align16(m.yOff + outputSize * 8);
  return 0;
}

/** What checkUnits found wrong with the unit it returned. */
let unitProblem = "";

/** Index of the first unit with bad per-unit parameters, or -1 (the reason in unitProblem). */
function checkUnits(L: Layer, kind: i32): i32 {
  for (let j = 0; j < L.hiddenSize; j++) {
    const u = L.units + <usize>j * UNIT_RECORD_BYTES;
    const t = L.time + <usize>j * TIME_RECORD_BYTES;
    const tau = load<f64>(t, 0);
    const shift = load<f64>(t, 8);
    if (ERROR_TEXT) unitProblem = "tau must be a finite number > 0";
    if (!(tau > 0) || !isFinite<f64>(tau)) return j;
    if (ERROR_TEXT) unitProblem = "shift must be a finite number";
    if (!isFinite<f64>(shift)) return j;
    if (isFixed(kind)) {
      if (ERROR_TEXT) unitProblem = "a W or U row format (wFrac, uFrac) is outside -16..30";
      for (let g = 0; g < 4; g++) {
        const wf = <i32>load<i8>(u + 16 + g);
        const uf = <i32>load<i8>(u + 20 + g);
        if (wf < -16 || wf > 30 || uf < -16 || uf > 30) return j;
      }
      if (ERROR_TEXT) unitProblem = "the open ratio r_on must be in (0, 1] (its half in Q0.32, halfOn, in 1..2^31)";
      const halfOn = load<u32>(t, 24);
      if (halfOn == 0 || halfOn > 0x80000000) return j;
      if (ERROR_TEXT) unitProblem = "the phase step per tick is 0";
      if (load<u64>(t, 16) == 0) return j;
    } else {
      if (ERROR_TEXT) unitProblem = "a bias or peephole is not finite";
      for (let g = 0; g < 8; g++) if (!isFinite<f32>(load<f32>(u + (<usize>g << 2)))) return j;
      if (ERROR_TEXT) unitProblem = "the open ratio r_on must be in (0, 1]";
      const rOn = load<f64>(t, 16);
      if (!(rOn > 0) || rOn > 1) return j;
    }
  }
  return -1;
}

/** Fills every layer's timing records (TIMING_BYTES per unit) into `block`, which holds totalUnits of them. */
export function deriveTiming(m: Model, block: usize): void {
  for (let n = 0; n < m.layerCount; n++) {
    const L = layerAt(m, n);
    L.timing = block;
    let longest: f64 = 0; // the longest period, in wake-key units
    for (let j = 0; j < L.hiddenSize; j++) {
      const t = L.time + <usize>j * TIME_RECORD_BYTES;
      const out = block + <usize>j * TIMING_BYTES;
      if (isFixed(m.kind)) {
        const step = load<u64>(t, 16);
        const half = <u64>load<u32>(t, 24);
        store<u64>(out, step, 0);
        store<u64>(out, half << 1, 8);
        store<u64>(out, (<u64>1 << 47) / half, 16);
        store<u64>(out, u64.MAX_VALUE / step, 24);
        longest = max(longest, <f64>(u64.MAX_VALUE / step));
      } else {
        const tau = load<f64>(t, 0);
        const rOn = load<f64>(t, 16);
        store<f64>(out, 1.0 / tau, 0);
        store<f64>(out, rOn, 8);
        store<f64>(out, tau, 16);
        store<f64>(out, 2.0 / rOn, 24);
        longest = max(longest, tau * FLOAT_KEYS_PER_UNIT);
      }
    }
    // One lap of the wheel spans the longest period: bucket = 2^shift >= longest / WHEEL_BUCKETS.
    let shift = 0;
    while (shift < 62 && <f64>(<i64>1 << shift) * <f64>WHEEL_BUCKETS < longest) shift++;
    L.bucketShift = shift;
    block += <usize>L.hiddenSize * TIMING_BYTES;
  }
}
