// The float engine's side of a stream (stream.ts): an event's inputs through every layer in f32, and its state
// and outputs read back as f64.

import { ERROR_TEXT } from "../errors";
import { Layer, Model, layerAt } from "../model";
import { pad8 } from "../padding";
import { layerStep, readout } from "./step";

/** The float engine's |h| at most: h = o tanh(c~) and its gated mixtures stay in [-1, 1], but for a rounding (an h
 * above 1 can only come down: the excess never builds up), so 1 + 2^-20 leaves room and nothing more. */
const H_LIMIT: f32 = 1.0000009536743164;

/** An event's wake key: whole keys of 2^-20 time units since the stream's first event; the fraction goes to the
 * time gate. */
@inline export function eventKey(whole: i64): i64 {
  return whole;
}

/** Unit j's phase seed, a phase in [0, 1) at the stream's first event, as f64. */
@inline export function storeSeed(seeds: usize, j: i32, phi: f64): void {
  store<f64>(seeds + (<usize>j << 3), phi);
}

/** One event at wake key `now` and `fraction` of one, with f32 inputs at x, through every layer. Returns the units
 * updated. */
export function floatEvent(m: Model, st: usize, now: i64, fraction: f64, x: usize): i64 {
  const xf = m.scratch + <usize>m.xqOff;
  const cols = m.scratch + <usize>m.nnzOff;
  const I = m.inputSize;
  let nnz = 0;
  for (let i = 0; i < I; i++) {
    const v = load<f32>(x + (<usize>i << 2));
    store<f32>(xf + (<usize>i << 2), v);
    if (v != 0) store<i32>(cols + (<usize>(nnz++) << 2), i);
  }
  for (let i = I; i < pad8(I); i++) store<f32>(xf + (<usize>i << 2), 0);
  // a sparse event (one sensor of several fired) reads only its nonzero columns
  if (nnz * 4 > pad8(I)) nnz = -1;
  let updates: i64 = 0;
  let input = xf;
  for (let n = 0; n < m.layerCount; n++) {
    const L = layerAt(m, n);
    updates += layerStep(m, L, st, now, fraction, input, cols, n == 0 ? nnz : -1);
    input = st + <usize>L.hOff;
  }
  return updates;
}

/** y = V h + d of the current state, as f64, into out[0..O). */
export function floatOutput(m: Model, st: usize, out: usize): void {
  readout(m, layerAt(m, m.layerCount - 1), st);
  memory.copy(out, m.scratch + <usize>m.yOff, <usize>m.outputSize << 3);
}

/** h (which = 0) or c (which = 1) of layer L, as f64, into out[0..H). */
export function floatState(L: Layer, st: usize, which: i32, out: usize): void {
  const base = st + <usize>(which == 0 ? L.hOff : L.cOff);
  for (let j = 0; j < L.hiddenSize; j++) store<f64>(out + (<usize>j << 3), <f64>load<f32>(base + (<usize>j << 2)));
}

/** What is impossible in layer L's state in a stream block, as the rest of a message (null when nothing is): h
 * finite in [-1, 1] (H_LIMIT) with +0 padding, c finite, phase seeds in [0, 1). */
export function floatStateProblem(L: Layer, src: usize): string | null {
  const h = src + <usize>L.hOff;
  for (let j = 0; j < L.hiddenPad; j++) {
    const v = load<f32>(h + (<usize>j << 2));
    if (!(Mathf.abs(v) <= H_LIMIT) || (j >= L.hiddenSize && load<u32>(h + (<usize>j << 2)) != 0)) {
      return ERROR_TEXT ? ": h is not a finite number in [-1, 1], or its padding is not 0" : "";
    }
  }
  for (let j = 0; j < L.hiddenSize; j++) {
    if (!isFinite<f32>(load<f32>(src + <usize>L.cOff + (<usize>j << 2)))) return ERROR_TEXT ? ": c is not a finite number" : "";
    const seed = load<f64>(src + <usize>L.seedOff + (<usize>j << 3));
    if (!(seed >= 0.0 && seed < 1.0)) return ERROR_TEXT ? ": a phase seed is outside [0, 1)" : "";
  }
  return null;
}
