// The fixed-point engine's side of a stream (stream.ts): an event's inputs into the engine's formats and through
// every layer, and its state and outputs read back as f64. Formats: docs/fixed-point.md.

import { ROW_RECORD_BYTES, ROW_V_FRAC } from "../contract/plsm";
import { ERROR_TEXT } from "../errors";
import { Layer, Model, FULL_BUILD, S_SATURATED, layerAt } from "../model";
import { pad8 } from "../padding";
import { saturate16 } from "./arith";
import { layerStep, readoutRow } from "./step";

/** 2^64: a phase in [0, 1) becomes a Q0.64 seed. */
const TWO_POW_64: f64 = 18446744073709551616.0;

/** 2^e exactly, for the exponents of Q formats (|e| < 1000). */
@inline function exp2(e: i32): f64 {
  return reinterpret<f64>(<i64>(1023 + e) << 52);
}

/** An event's tick: the ticks since the stream's first event, rounded to nearest (docs/fixed-point.md, "Time"). */
@inline export function eventTick(whole: i64, fraction: f64): i64 {
  return whole + (fraction >= 0.5 ? 1 : 0);
}

/** Unit j's phase seed, a phase in [0, 1) at the stream's first event, as Q0.64. */
@inline export function storeSeed(seeds: usize, j: i32, phi: f64): void {
  store<u64>(seeds + (<usize>j << 3), <u64>(phi * TWO_POW_64));
}

/**
 * One event at tick T with f32 inputs at x through every layer: the inputs to Q(inputFrac) (rounded half up,
 * saturated), then each layer on the one below. Returns the units updated.
 */
export function fixedEvent(m: Model, st: usize, T: i64, x: usize): i64 {
  const xq = m.scratch + <usize>m.xqOff;
  // the nonzero columns, for the sparse path only (not in the microcontroller build)
  const cols = FULL_BUILD ? m.scratch + <usize>m.nnzOff : 0;
  const I = m.inputSize;
  const scale = exp2(m.inputFrac);
  // the padding up to pad8(I) stays zero (the sums read whole 8-column groups): the library builds zero the last
  // group with two stores before the inputs are written, where memory.fill is a call into the engine's C++ in V8
  if (FULL_BUILD) {
    const lastGroup = xq + (<usize>(pad8(I) - 8) << 1);
    store<i64>(lastGroup, 0);
    store<i64>(lastGroup, 0, 8);
  }
  let nnz = 0;
  let saturated = 0;
  for (let i = 0; i < I; i++) {
    const v = <i64>Math.floor(<f64>load<f32>(x + (<usize>i << 2)) * scale + 0.5);
    // saturate16, counting in the library builds: in its branches, so that an input within the format pays nothing
    let q: i32;
    if (!FULL_BUILD) q = saturate16(v);
    else if (v > 32767) {
      q = 32767;
      saturated++;
    } else if (v < -32767) {
      q = -32767;
      saturated++;
    } else q = <i32>v;
    store<i16>(xq + (<usize>i << 1), <i16>q);
    if (FULL_BUILD && q != 0) store<i32>(cols + (<usize>(nnz++) << 2), i);
  }
  // counted for the stream's stats (S_SATURATED), which the microcontroller build has not
  if (FULL_BUILD && saturated != 0) store<i64>(st + S_SATURATED, load<i64>(st + S_SATURATED) + <i64>saturated);
  if (!FULL_BUILD) memory.fill(xq + (<usize>I << 1), 0, <usize>(pad8(I) - I) << 1);
  // A sparse event (one sensor of several fired, at most a quarter of the inputs) reads only its nonzero columns
  // (not in the microcontroller build, which keeps the dense path only: the same sums, less code).
  if (!FULL_BUILD || nnz * 4 > I) nnz = -1;
  let updates: i64 = 0;
  let input = xq;
  for (let n = 0; n < m.layerCount; n++) {
    const L = layerAt(m, n);
    const open = layerStep(m, L, st, T, input, cols, n == 0 ? nnz : -1);
    // counted for the stream's stats, which the microcontroller build has not (stream.ts)
    if (FULL_BUILD) updates += open;
    input = st + <usize>L.hOff;
  }
  return updates;
}

/** y = V h + d of the current state, as f64, into out[0..O). */
export function fixedOutput(m: Model, st: usize, out: usize): void {
  const L = layerAt(m, m.layerCount - 1);
  for (let o = 0; o < m.outputSize; o++) {
    const frac = load<i32>(m.readoutRows + <usize>o * ROW_RECORD_BYTES, ROW_V_FRAC) + 15;
    store<f64>(out + (<usize>o << 3), <f64>readoutRow(m, L, st, o) * exp2(-frac));
  }
}

/** h (Q0.15, which = 0) or c (Q11.20, which = 1) of layer L, as f64, into out[0..H). */
export function fixedState(L: Layer, st: usize, which: i32, out: usize): void {
  for (let j = 0; j < L.hiddenSize; j++) {
    const v = which == 0 ? <f64>load<i16>(st + <usize>L.hOff + (<usize>j << 1)) / 32768.0 : <f64>load<i32>(st + <usize>L.cOff + (<usize>j << 2)) / 1048576.0;
    store<f64>(out + (<usize>j << 3), v);
  }
}

/** What is impossible in layer L's state in a stream block, as the rest of a message (null when nothing is): h
 * saturates to +-32767 (Q0.15) and its padding beyond the hidden size stays 0; any c is one it can hold. */
export function fixedStateProblem(L: Layer, src: usize): string | null {
  const h = src + <usize>L.hOff;
  for (let j = 0; j < L.hiddenPad; j++) {
    const v = load<i16>(h + (<usize>j << 1));
    if (v == -32768 || (j >= L.hiddenSize && v != 0)) return ERROR_TEXT ? ": h is outside +-32767 or its padding is not 0" : "";
  }
  return null;
}
