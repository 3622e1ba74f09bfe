// The one place where a stream (stream.ts) chooses its model's engine: the fixed-point engine for kind 1, the
// float engine for kind 2 (model.ts runsFixed; always the fixed one in the microcontroller build, where the float
// engine is not compiled in). Each call goes to the engine's side of a stream, fixed/engine.ts or float/engine.ts.

import { fixedEvent, fixedOutput, fixedState, fixedStateProblem, eventTick, storeSeed as storeFixedSeed } from "./fixed/engine";
import { eventKey as floatEventKey, floatEvent, floatOutput, floatState, floatStateProblem, storeSeed as storeFloatSeed } from "./float/engine";
import { Layer, Model, runsFixed } from "./model";

/** The wake key of an event (ticks, or 2^-20 time units), from its time since the stream's first event in keys:
 * whole + fraction. */
@inline export function eventKey(m: Model, whole: i64, fraction: f64): i64 {
  return runsFixed(m) ? eventTick(whole, fraction) : floatEventKey(whole);
}

/** The earliest key a unit found closed at the last event can be filed under: the fixed engine files it at least a
 * tick later, the float engine within the same key (float/step.ts). */
@inline export function firstFiledKey(m: Model, lastKey: i64): i64 {
  return runsFixed(m) ? lastKey + 1 : lastKey;
}

/** Stores unit j's phase seed (phi in [0, 1), the phase at the stream's first event). */
@inline export function storeSeed(m: Model, seeds: usize, j: i32, phi: f64): void {
  if (runsFixed(m)) storeFixedSeed(seeds, j, phi);
  else storeFloatSeed(seeds, j, phi);
}

/** Runs one event at wake key `key` (and `fraction` of the next, for the float engine) through every layer;
 * returns the units updated. */
@inline export function runEvent(m: Model, st: usize, key: i64, fraction: f64, x: usize): i64 {
  return runsFixed(m) ? fixedEvent(m, st, key, x) : floatEvent(m, st, key, fraction, x);
}

/** y = V h + d of the current state, as f64, into out[0..O). */
@inline export function engineOutput(m: Model, st: usize, out: usize): void {
  if (runsFixed(m)) fixedOutput(m, st, out);
  else floatOutput(m, st, out);
}

/** h (which = 0) or c (which = 1) of layer L, as f64, into out[0..H). */
@inline export function engineState(m: Model, L: Layer, st: usize, which: i32, out: usize): void {
  if (runsFixed(m)) fixedState(L, st, which, out);
  else floatState(L, st, which, out);
}

/** What is impossible in layer L's state in a stream block for this engine, as the rest of a message; null when
 * nothing is. */
@inline export function stateProblem(m: Model, L: Layer, src: usize): string | null {
  return runsFixed(m) ? fixedStateProblem(L, src) : floatStateProblem(L, src);
}
