// Fine-tuning the readout z = V h + d on the device, one labelled sample at a time, in integers
// (docs/on-device-learning.md; plstm.md section 2). The library's fixed engine and the learning microcontroller
// module both run this file, so they give the same bits.
//
// The adapted readout is a block of its own (section 5 of the doc; the same bytes a host saves and loads; offsets
// and formats in assembly/contract/readout.ts), never the model's image, which stays the flashed weight memory:
//   0 magic u32 "PLRO", 4 version u16 (1), 6 u16 0, 8 the .plsm's CRC-32 it adapts, 12 O u32, 16 H u32,
//   20 steps u32 (learning steps applied, saturating), 24 8 bytes 0,
//   32 O biases b i64 Q25.38, then O x H weights w i32 Q8.23 (row after row), then the CRC-32 of all before it.
// Formats: h Q0.15 i16; G = ||h||^2 + 1 Q33.30; eta and the step Q40.24; c Q0.16; p and errors Q0.15; the step's
// factor a = step * error Q.39 (Q24 times Q15).

import { LEARN_CAPPED, LEARN_STEPPED } from "../contract/calls";
import {
  READOUT_HEADER_BYTES, READOUT_HIDDEN_AT, READOUT_MAGIC, READOUT_MODEL_CRC_AT, READOUT_OUTPUTS_AT, READOUT_RESERVED_AT, READOUT_STEPS_AT,
  READOUT_VERSION, READOUT_VERSION_AT, READOUT_W_FRAC, READOUT_Z_FRAC,
} from "../contract/readout";
import { ERROR_TEXT, E_INPUT, E_STATE, errFloat, errText, fail } from "../errors";
import { crc32 } from "../crc32";
import { Layer, Model, layerAt } from "../model";
import { shiftRound } from "./arith";

const HEADER_BYTES: i32 = READOUT_HEADER_BYTES;
const W_FRAC: i32 = READOUT_W_FRAC;
const Z_FRAC: i32 = READOUT_Z_FRAC;
/** |w| < 256 and |b| < 256: the weights fill i32; the biases get the outputs' 15 more fractional bits. */
const W_MAX: i64 = 0x7fffffff;
const B_MAX: i64 = 0x3fffffffffff; // 2^46 - 1
/** Errors and step factors are saturated at 512 (Q0.15 and Q.39): a shorter step in the same direction. */
const ERROR_MAX_Q15: i64 = 1 << 24;
const FACTOR_MAX_Q39: i64 = 1 << 48;
/** The caller's eta in [2^-24, 1024] (Q40.24 from 1 to 2^34), c in [2^-16, 1] (Q0.16 from 1 to 2^16). */
const ETA_MAX: f64 = 1024.0;
const C_MIN: f64 = 0.0000152587890625; // 2^-16
/** Targets of squared error within +-2^23 (Q25.38 up to 2^61), so z - y cannot overflow (|z| < 2^62 + 2^46). */
const TARGET_MAX: f64 = 8388608.0;
/** log2(e) in Q1.30, rounded. */
const LOG2E_Q30: i64 = 1549082005;
/** Softmax terms below exp(-32) = 1.3e-14 (far below p's resolution 2^-15) are taken as exp(-32): |u| <= 2^29 in Q24. */
const SOFTMAX_FLOOR_Q24: i64 = -(<i64>32 << 24);

/** Bytes of an adapted readout of model m: header, O biases, O x H weights, checksum. */
export function readoutBytes(m: Model): usize {
  const O = <usize>m.outputSize;
  return <usize>HEADER_BYTES + O * 8 + O * <usize>lastLayer(m).hiddenSize * 4 + 4;
}

@inline function lastLayer(m: Model): Layer {
  return layerAt(m, m.layerCount - 1);
}

/** Where r's weights begin: row o's H weights follow row o - 1's. */
@inline function weightsOf(m: Model, r: usize): usize {
  return r + <usize>HEADER_BYTES + (<usize>m.outputSize << 3);
}

/** v within +-limit. Inlined, except in the microcontroller build (one shared copy keeps the module small). */
@inline function clamp(v: i64, limit: i64): i64 {
  return isDefined(PHASOR_MCU) ? clampShared(v, limit) : clampInline(v, limit);
}

function clampShared(v: i64, limit: i64): i64 {
  return clampInline(v, limit);
}

@inline function clampInline(v: i64, limit: i64): i64 {
  return v > limit ? limit : v < -limit ? -limit : v;
}

/**
 * Writes into r the model's own readout (the flashed one) as an adapted readout with no steps: w = V 2^(23 - vFrac)
 * and b = d 2^(23 - vFrac) (V is Q(vFrac) i16, d Q(vFrac + 15) i32, docs/plsm.md). Exact, so the outputs are the
 * flashed readout's bits, whenever vFrac <= 23 and every |V|, |d| < 256; otherwise rounded or saturated.
 */
export function readoutFromModel(m: Model, r: usize): void {
  const L = lastLayer(m);
  const H = L.hiddenSize;
  memory.fill(r, 0, <usize>HEADER_BYTES);
  store<u32>(r, READOUT_MAGIC);
  store<u16>(r, <u16>READOUT_VERSION, READOUT_VERSION_AT);
  store<u32>(r, m.checksum, READOUT_MODEL_CRC_AT);
  store<u32>(r, m.outputSize, READOUT_OUTPUTS_AT);
  store<u32>(r, H, READOUT_HIDDEN_AT);
  let w = weightsOf(m, r);
  for (let o = 0; o < m.outputSize; o++) {
    const row = m.readoutRows + <usize>o * 8;
    const shift = load<i32>(row, 4) - W_FRAC; // vFrac in -16..30: a left shift of at most 39 saturates at 2^60
    store<i64>(r + <usize>HEADER_BYTES + (<usize>o << 3), clamp(shiftRound(<i64>load<i32>(row), shift), B_MAX));
    const V = m.V + <usize>o * <usize>L.hiddenPad * 2;
    for (let j = 0; j < H; j++) {
      store<i32>(w, <i32>clamp(shiftRound(<i64>load<i16>(V + (<usize>j << 1)), shift), W_MAX));
      w += 4;
    }
  }
}

/** Writes the checksum of the adapted readout r of `bytes` bytes (readoutBytes), so that they are what a host saves. */
export function readoutSeal(r: usize, bytes: usize): void {
  store<u32>(r + bytes - 4, crc32(r, bytes - 4));
}

/**
 * Whether the `bytes` = readoutBytes(m) bytes at src (the caller has checked the length) are an adapted readout of model m
 * that this code could have written: its magic, version and zero fields, its own checksum, the model's checksum
 * and sizes, and every bias within +-(2^46 - 1) (any i32 weight is safe: the bounds below hold for |w| <= 2^31).
 * 0, or E_STATE with the reason (in builds that word their errors).
 */
export function readoutCheck(m: Model, src: usize, bytes: usize): i32 {
  const version = load<u32>(src, READOUT_VERSION_AT); // with the zero u16 after it
  if (load<u32>(src) != READOUT_MAGIC || version != READOUT_VERSION || load<u64>(src, READOUT_RESERVED_AT) != 0) {
    return fail(E_STATE, ERROR_TEXT ? "not an adapted readout (magic, version 1 or reserved bytes)" : "");
  }
  if (load<u32>(src + bytes - 4) != crc32(src, bytes - 4)) return fail(E_STATE, ERROR_TEXT ? "the checksum does not match: the bytes are damaged" : "");
  const sameModel = load<u32>(src, READOUT_MODEL_CRC_AT) == m.checksum;
  if (!sameModel || load<u32>(src, READOUT_OUTPUTS_AT) != <u32>m.outputSize || load<u32>(src, READOUT_HIDDEN_AT) != <u32>lastLayer(m).hiddenSize) {
    return fail(E_STATE, ERROR_TEXT ? "adapted from another model (its checksum or sizes differ)" : "");
  }
  for (let o = 0; o < m.outputSize; o++) {
    const b = load<i64>(src + <usize>HEADER_BYTES + (<usize>o << 3));
    if (b > B_MAX || b < -B_MAX) return fail(E_STATE, ERROR_TEXT ? "a bias is beyond +-(2^46 - 1) in Q25.38" : "");
  }
  return 0;
}

/**
 * z = w h + b of the last layer's h (Q0.15) into the model's y scratch, O i64 in Q25.38: each product is below
 * 2^31 2^15 = 2^46, H <= 2^16 of them below 2^62, and |b| < 2^46: |z| < 2^62 + 2^46, no overflow.
 */
function readoutSums(m: Model, st: usize, r: usize): usize {
  const L = lastLayer(m);
  const h = st + <usize>L.hOff;
  const z = m.scratch + <usize>m.yOff;
  let w = weightsOf(m, r);
  for (let o = 0; o < m.outputSize; o++) {
    let sum = load<i64>(r + <usize>HEADER_BYTES + (<usize>o << 3));
    for (let j = 0; j < L.hiddenSize; j++) {
      sum += <i64>load<i32>(w) * <i64>load<i16>(h + (<usize>j << 1));
      w += 4;
    }
    store<i64>(z + (<usize>o << 3), sum);
  }
  return z;
}

/** The adapted readout's y = w h + b of the stream's current state, as f64, into out[0..O). */
export function learnedOutput(m: Model, st: usize, r: usize, out: usize): void {
  const z = readoutSums(m, st, r);
  for (let o = 0; o < m.outputSize; o++) {
    store<f64>(out + (<usize>o << 3), <f64>load<i64>(z + (<usize>o << 3)) * 3.637978807091713e-12); // 2^-38
  }
}

/**
 * 2^f for f in [0, 1) (Q0.24) in Q1.30: a quartic fitted for least relative error (Lawson's iteration on 4,000
 * Chebyshev nodes), evaluated by Horner's rule with rounding: relative error < 2.6e-6 over all 2^24 inputs, and
 * every value below 2^31 (each product below 2^31 2^24 = 2^55).
 */
function exp2Fraction(fQ24: i64): i64 {
  let v: i64 = 14532201;
  v = shiftRound(v * fQ24, 24) + 55846882;
  v = shiftRound(v * fQ24, 24) + 259247185;
  v = shiftRound(v * fQ24, 24) + 744107201;
  return shiftRound(v * fQ24, 24) + 1073744609;
}

/**
 * Turns z (Q25.38, at zs) into the cross-entropy error p - e_label (Q0.15) in place, p = softmax(z), with
 * exp(u) = 2^(u log2 e) = 2^k 2^f: |p / 2^15 - softmax(z)| < 2.1e-5 (2.6e-6 relative from each of the terms of
 * p's quotient, 2^-16 from rounding p, and below 1e-7 from the exponent's roundings). Ranges: z >> 14 (Q24) is below
 * 2^49, so u = z - max(z) >= -2^50 cannot overflow and is then floored at -2^29; u log2 e in Q1.30 is below 2^60;
 * each term is at most 2^31 (1 for the largest z), their sum at most O 2^31 <= 2^47 and a term times 2^15 below 2^46.
 */
function softmaxError(m: Model, zs: usize, label: i32): void {
  const O = m.outputSize;
  let top = i64.MIN_VALUE;
  for (let o = 0; o < O; o++) {
    const z24 = shiftRound(load<i64>(zs + (<usize>o << 3)), Z_FRAC - 24);
    store<i64>(zs + (<usize>o << 3), z24);
    if (z24 > top) top = z24;
  }
  let sum: i64 = 0;
  for (let o = 0; o < O; o++) {
    let u = load<i64>(zs + (<usize>o << 3)) - top;
    if (u < SOFTMAX_FLOOR_Q24) u = SOFTMAX_FLOOR_Q24;
    const v = shiftRound(u * LOG2E_Q30, 30); // Q24, in [-46.2, 0]
    const shift = <i32>(-(v >> 24)); // 2^v = 2^(v >> 24) 2^(v & (2^24 - 1)); shift in 0..47
    const term = shift > 31 ? 0 : shiftRound(exp2Fraction(v & 0xffffff), shift);
    store<i64>(zs + (<usize>o << 3), term);
    sum += term;
  }
  for (let o = 0; o < O; o++) {
    const p = ((load<i64>(zs + (<usize>o << 3)) << 15) + (sum >> 1)) / sum; // Q0.15, sum >= 2^30
    store<i64>(zs + (<usize>o << 3), o == label ? p - 32768 : p);
  }
}

/**
 * Turns z (Q25.38, at zs) into the squared-error error z - y (Q0.15) in place, y the targets (f64 at targets),
 * saturated at +-512, which shortens the step without turning it. False, with the reason, when a target is not a
 * finite number within +-2^23 (so that y is Q25.38 up to 2^61 and |z - y| < 2^63); the readout is not touched.
 */
function squaredError(m: Model, zs: usize, targets: usize): bool {
  for (let o = 0; o < m.outputSize; o++) {
    const target = load<f64>(targets + (<usize>o << 3));
    if (!(Math.abs(target) <= TARGET_MAX)) {
      badLearning(ERROR_TEXT ? "a target must be a finite number within +-2^23" : "", target);
      return false;
    }
    const e = clamp(load<i64>(zs + (<usize>o << 3)) - <i64>nearest(target * 274877906944.0), ERROR_MAX_Q15 << (Z_FRAC - 15)); // 2^38
    store<i64>(zs + (<usize>o << 3), shiftRound(e, Z_FRAC - 15));
  }
  return true;
}

/** What a learning call refused, worded where the build words its errors; E_INPUT. */
function badLearning(why: string, value: f64): i32 {
  if (ERROR_TEXT) {
    fail(E_INPUT, why);
    errText(" (got ");
    errFloat(value);
    errText(")");
  }
  return E_INPUT;
}

/**
 * One SGD step on the adapted readout r from the stream's current h (docs/on-device-learning.md, sections 1 and 3):
 * cross-entropy towards class `label` when targets is 0, squared error towards the O f64 targets at `targets`
 * otherwise. The step is eta, capped at c 2 / lambda_bound (lambda_bound = G for squared error, G / 2 for
 * cross-entropy; c = +infinity: no cap, in the library only, for the tests of what the cap prevents). Returns 0 (the step
 * was eta), 1 (the cap was smaller and was taken) or E_INPUT for a label, target, eta or c out of range (nothing
 * changed).
 */
export function learnStep(m: Model, st: usize, r: usize, label: i32, targets: usize, eta: f64, c: f64): i32 {
  const O = m.outputSize;
  const classes = targets == 0;
  if (classes) {
    if (O < 2) return badLearning(ERROR_TEXT ? "a class needs a readout of at least 2 outputs; this one has" : "", <f64>O);
    if (label < 0 || label >= O) return badLearning(ERROR_TEXT ? "the class must be one of the readout's outputs, 0 to O - 1" : "", <f64>label);
  }
  // NaN and everything below 2^-25 become 0 in Q24: refused with eta beyond 1024
  const etaQ24 = <i64>nearest((eta <= ETA_MAX ? eta : 0) * 16777216.0);
  if (etaQ24 < 1) return badLearning(ERROR_TEXT ? "eta must be in [2^-24, 1024]" : "", eta);
  // the microcontroller module always caps: no call can take its guarantee away
  const capped = isDefined(PHASOR_MCU) || c != Infinity;
  if (capped && !(c >= C_MIN && c <= 1)) return badLearning(ERROR_TEXT ? "c must be in [2^-16, 1], or infinite for no cap" : "", c);
  const L = lastLayer(m);
  const h = st + <usize>L.hOff;
  // G = ||h||^2 + 1 in Q33.30: each square below 2^30, H <= 2^16 of them
  let G: i64 = 1 << 30;
  for (let j = 0; j < L.hiddenSize; j++) {
    const v = <i64>load<i16>(h + (<usize>j << 1));
    G += v * v;
  }
  const zs = readoutSums(m, st, r);
  if (classes) softmaxError(m, zs, label);
  else if (!squaredError(m, zs, targets)) return E_INPUT;
  // cap = c 2 / lambda_bound in Q24: 2 c / G = c_q 2^39 / G_q, 4 c / G = c_q 2^40 / G_q (c_q <= 2^16, G_q >= 2^30),
  // floored, so never above the bound
  let step = etaQ24;
  let status = LEARN_STEPPED;
  if (capped) {
    const cap = (<i64>nearest(c * 65536.0) << (classes ? 40 : 39)) / G;
    if (cap < step) {
      step = cap;
      status = LEARN_CAPPED;
    }
  }
  let w = weightsOf(m, r);
  for (let o = 0; o < O; o++) {
    // a = step * error: below 2^34 2^24 = 2^58, saturated at 512 (2^48 in Q.39)
    const a = clamp(step * load<i64>(zs + (<usize>o << 3)), FACTOR_MAX_Q39);
    const b = r + <usize>HEADER_BYTES + (<usize>o << 3);
    store<i64>(b, clamp(load<i64>(b) - shiftRound(a, 39 - Z_FRAC), B_MAX));
    for (let j = 0; j < L.hiddenSize; j++) {
      // a h: below 2^48 2^15 = 2^63; in Q.54, rounded to Q23: below 2^32, so w - it fits i64
      const delta = shiftRound(a * <i64>load<i16>(h + (<usize>j << 1)), 39 + 15 - W_FRAC);
      store<i32>(w, <i32>clamp(<i64>load<i32>(w) - delta, W_MAX));
      w += 4;
    }
  }
  const steps = load<u32>(r + READOUT_STEPS_AT);
  if (steps != u32.MAX_VALUE) store<u32>(r + READOUT_STEPS_AT, steps + 1);
  return status;
}
