// A stream: one block of state per event source (h, c, phase seeds and unit schedule for every layer, plus a
// small header), laid out by model.ts. The block holds no pointers, so a snapshot is a copy of its bytes.
// Events come in as f64 timestamps and f32 inputs; they are checked before anything changes, their time turned
// into wake keys once at this boundary, and then run by the model's engine (engine.ts): integer-only layers
// (fixed) or f32 layers (float).

import { POLICY_CLAMP } from "./contract/calls";
import { TIME_SHIFT, TIME_TAU } from "./contract/plsm";
import { engineOutput, engineState, eventKey, firstFiledKey, runEvent, stateProblem, storeSeed } from "./engine";
import {
  ERROR_TEXT, E_INPUT, E_STATE, REASON_NON_FINITE, REASON_TIME_BACKWARDS, REASON_TIME_RANGE, errFloat, errInt, errText, fail, refuse,
} from "./errors";
import { FULL_BUILD, Model, S_CHECKSUM, S_EVENTS, S_LAST_T, S_LAST_KEY, S_SATURATED, S_STARTED, S_T0, S_UPDATES, TIME_RECORD_BYTES, layerAt, runsFixed } from "./model";
import { exactPhase } from "./phase";
import { scheduleAllActive, wheelIsSound } from "./schedule";
import { learnedOutput } from "./fixed/readout-learning";
import { forgetDenseBases } from "./fixed/step";
export { POLICY_CLAMP, POLICY_REJECT } from "./contract/calls";

/** 2^62 ticks: beyond this the tick count of an event could not be held in i64 with room to spare. */
const MAX_TICKS: f64 = 4611686018427387904.0;

/** What splitElapsed found: (t - t0) 2^log2 = elapsedWhole + elapsedFraction, exactly but for the last rounding
 * of the fraction (elapsedFraction in [0, 1]). */
let elapsedWhole: i64 = 0;
let elapsedFraction: f64 = 0;

/**
 * The time from the stream's origin t0 to t in ticks (2^log2 per time unit), exactly: t - t0 is carried as
 * hi + lo (TwoSum), so it is exact even when t and t0 are far apart (0.52, then 1.7e12), where the f64
 * difference alone could be off by ulp(t) / 2. Scaling by a power of two is exact; the caller has checked that
 * the result is below 2^62.
 */
function splitElapsed(t: f64, t0: f64, log2: i32): void {
  const hi = t - t0;
  const bv = hi - t;
  const lo = (t - (hi - bv)) + (-t0 - bv);
  const scale = exp2(log2);
  const whole = Math.floor(hi * scale);
  // hi scale - whole is exact (the fraction of a double); adding lo rounds once, to a number near [0, 1)
  const rest = (hi * scale - whole) + lo * scale;
  const carry = Math.floor(rest);
  elapsedWhole = <i64>whole + <i64>carry;
  elapsedFraction = rest - carry;
}

/** 2^e exactly, for the exponents of Q formats (|e| < 1000). */
@inline function exp2(e: i32): f64 {
  return reinterpret<f64>(<i64>(1023 + e) << 52);
}

/** Bytes to allocate for a stream of the model: its block, then its cache (Model.streamCacheBytes). */
export function streamAllocBytes(m: Model): usize {
  return <usize>m.streamBytes + <usize>m.streamCacheBytes;
}

export function streamReset(m: Model, st: usize): void {
  memory.fill(st, 0, <usize>m.streamBytes);
  store<u32>(st + S_CHECKSUM, m.checksum);
  canonicalSchedules(m, st);
  forgetDenseBases(m, st);
}

/**
 * Every layer's schedule in its canonical form (schedule.ts, scheduleAllActive), in a new stream and in a stream
 * about to be copied out as a snapshot (index.ts, snapshotSchedule). The SIMD build's dense time gate leaves the schedule of the last event
 * the wheel gated (fixed/step.ts), the scalar build's is the wheel's own; the two builds' snapshots of the same
 * stream must be the same bytes. Changes no output: every sound schedule gates the next event exactly.
 */
export function canonicalSchedules(m: Model, st: usize): void {
  // (scheduleAllActive reads it in the library builds only)
  const lastKey = FULL_BUILD ? load<i64>(st + S_LAST_KEY) : 0;
  for (let n = 0; n < m.layerCount; n++) scheduleAllActive(layerAt(m, n), st, lastKey);
}

/** Seeds every unit's phase at the stream's first event, t0 (once per stream, not per event). */
function seedPhases(m: Model, st: usize, t0: f64): void {
  for (let n = 0; n < m.layerCount; n++) {
    const L = layerAt(m, n);
    const seeds = st + <usize>L.seedOff;
    for (let j = 0; j < L.hiddenSize; j++) {
      const time = L.time + <usize>j * TIME_RECORD_BYTES;
      storeSeed(m, seeds, j, exactPhase(t0, load<f64>(time, TIME_SHIFT), load<f64>(time, TIME_TAU)));
    }
  }
}

/**
 * The time an event will be processed at, or NaN with the reason in the error buffer. `previous` is the
 * effective time of the event before it (NaN when the stream has not started), `t0` the stream's origin.
 */
function checkEvent(m: Model, t: f64, x: usize, previous: f64, t0: f64, policy: i32, index: i32): f64 {
  if (!isFinite<f64>(t)) {
    if (ERROR_TEXT) eventError(index, "t is not a finite number");
    refuse(REASON_NON_FINITE, index);
    return NaN;
  }
  for (let i = 0; i < m.inputSize; i++) {
    if (!isFinite<f32>(load<f32>(x + (<usize>i << 2)))) {
      if (ERROR_TEXT) {
        eventError(index, "x[");
        errInt(i);
        errText("] is not a finite 32-bit float (NaN, infinite or beyond +-3.4e38)");
      }
      refuse(REASON_NON_FINITE, index);
      return NaN;
    }
  }
  if (previous == previous && t < previous) {
    if (policy != POLICY_CLAMP) {
      if (ERROR_TEXT) {
        eventError(index, "t=");
        errFloat(t);
        errText(" is earlier than the previous event's t=");
        errFloat(previous);
        errText(" (time must not go backwards within a stream)");
      }
      refuse(REASON_TIME_BACKWARDS, index, previous);
      return NaN;
    }
    t = previous;
  }
  if (t0 == t0 && (t - t0) * exp2(m.keysLog2) >= MAX_TICKS) {
    if (ERROR_TEXT) eventError(index, "the stream has run longer than 2^62 ticks since its first event; start a new stream");
    refuse(REASON_TIME_RANGE, index, t0);
    return NaN;
  }
  return t;
}

/** Starts an event's error message; index < 0 is a single pushed event, otherwise its place in a batch. */
function eventError(index: i32, why: string): void {
  fail(E_INPUT, "");
  if (index >= 0) {
    errText("event ");
    errInt(index);
    errText(" of the batch: ");
  }
  errText(why);
}

/** Runs one checked event at effective time t through every layer. */
function step(m: Model, st: usize, t: f64, x: usize): void {
  if (!load<i32>(st + S_STARTED)) {
    store<i32>(st + S_STARTED, 1);
    store<f64>(st + S_T0, t);
    seedPhases(m, st, t);
  }
  splitElapsed(t, load<f64>(st + S_T0), m.keysLog2);
  const key = eventKey(m, elapsedWhole, elapsedFraction);
  const updates = runEvent(m, st, key, elapsedFraction, x);
  store<f64>(st + S_LAST_T, t);
  // the wake-key time of this event (ticks, or 2^-20 units for the float engine): restore() checks the wheel by it
  store<i64>(st + S_LAST_KEY, key);
  // the counters are for snapshots and stats, which the microcontroller build has not
  if (FULL_BUILD) {
    store<i64>(st + S_EVENTS, load<i64>(st + S_EVENTS) + 1);
    store<i64>(st + S_UPDATES, load<i64>(st + S_UPDATES) + updates);
  }
}

@inline function previousTime(st: usize): f64 {
  return load<i32>(st + S_STARTED) ? load<f64>(st + S_LAST_T) : NaN;
}

@inline function originTime(st: usize): f64 {
  return load<i32>(st + S_STARTED) ? load<f64>(st + S_T0) : NaN;
}

export function pushEvent(m: Model, st: usize, t: f64, x: usize, policy: i32): i32 {
  const effective = checkEvent(m, t, x, previousTime(st), originTime(st), policy, -1);
  if (effective != effective) return E_INPUT;
  step(m, st, effective, x);
  return 0;
}

/** What pushEvent would answer for this event, without running it: 0, or E_INPUT with the reason. */
export function checkPush(m: Model, st: usize, t: f64, x: usize, policy: i32): i32 {
  const effective = checkEvent(m, t, x, previousTime(st), originTime(st), policy, -1);
  return effective != effective ? E_INPUT : 0;
}

/**
 * n events (times at tPtr f64[n], inputs at xPtr f32[n * I]); all are checked before the first is run, so a
 * bad event leaves the state untouched. y (f64[n * O]) and h (f64[n * H_last]) receive the outputs after every
 * event when their pointers are not 0; y from the adapted readout at `readout` when that is not 0
 * (fixed/readout-learning.ts). Returns 0 or E_INPUT.
 */
export function pushEvents(m: Model, st: usize, n: i32, tPtr: usize, xPtr: usize, yPtr: usize, hPtr: usize, policy: i32, readout: usize): i32 {
  const rowBytes = <usize>m.inputSize << 2;
  let previous = previousTime(st);
  let t0 = originTime(st);
  for (let e = 0; e < n; e++) {
    const t = checkEvent(m, load<f64>(tPtr + (<usize>e << 3)), xPtr + <usize>e * rowBytes, previous, t0, policy, e);
    if (t != t) return E_INPUT;
    if (t0 != t0) t0 = t;
    previous = t;
  }
  const last = layerAt(m, m.layerCount - 1);
  previous = previousTime(st);
  for (let e = 0; e < n; e++) {
    let t = load<f64>(tPtr + (<usize>e << 3));
    if (previous == previous && t < previous) t = previous; // only reachable with POLICY_CLAMP
    step(m, st, t, xPtr + <usize>e * rowBytes);
    previous = t;
    if (yPtr) {
      const y = yPtr + <usize>e * (<usize>m.outputSize << 3);
      if (readout) learnedOutput(m, st, readout, y);
      else readOutput(m, st, y);
    }
    if (hPtr) readState(m, st, m.layerCount - 1, 0, hPtr + <usize>e * (<usize>last.hiddenSize << 3));
  }
  return 0;
}

/** y = V h + d of the current state, as f64, into out[0..O). */
export function readOutput(m: Model, st: usize, out: usize): void {
  engineOutput(m, st, out);
}

/** h (which = 0) or c (which = 1) of layer n, as f64, into out[0..H). */
export function readState(m: Model, st: usize, n: i32, which: i32, out: usize): void {
  engineState(m, layerAt(m, n), st, which, out);
}

/**
 * Copies a snapshot (a stream block of this model) into st after checking that it is one a stream of this model
 * could have reached: same model checksum and size; a consistent header (the time origin, the last event's time
 * and wake key and the counters agree); in every layer a finite state within the range the engine produces,
 * with zero padding, phase seeds in [0, 1) (float), and a schedule in which every unit is exactly once in the
 * wheel or the active list, filed under a wake key not before the last event's.
 */
export function restoreStream(m: Model, st: usize, src: usize, length: i32): i32 {
  if (length != m.streamBytes) {
    fail(E_STATE, "");
    errInt(length);
    errText(" bytes, a stream of this model has ");
    errInt(m.streamBytes);
    return E_STATE;
  }
  if (load<u32>(src + S_CHECKSUM) != m.checksum) return fail(E_STATE, "taken from a stream of another model");
  if (!headerIsSound(m, src)) {
    return fail(E_STATE, "the stream header is corrupt (time origin, last event's time or key, or counters)");
  }
  const lastKey = load<i64>(src + S_LAST_KEY);
  const started = load<i32>(src + S_STARTED) != 0;
  const seen = m.scratch + <usize>m.newHOff; // scratch of at least maxHidden * 4 bytes
  for (let n = 0; n < m.layerCount; n++) {
    const L = layerAt(m, n);
    const problem = stateProblem(m, L, src);
    if (problem != null) {
      fail(E_STATE, "layer ");
      errInt(n);
      errText(problem);
      return E_STATE;
    }
    if (!wheelIsSound(L, src, seen, lastKey, started ? firstFiledKey(m, lastKey) : lastKey)) {
      fail(E_STATE, "layer ");
      errInt(n);
      errText(": the unit schedule is corrupt");
      return E_STATE;
    }
  }
  memory.copy(st, src, <usize>length);
  // the cache was derived from the block it held before
  forgetDenseBases(m, st);
  return 0;
}

/** The header of a stream block: started (0 or 1) exactly when events have run; then a finite origin t0, a last
 * time not before it and within the clock, whose wake key is the stored one; counters within their bounds. */
function headerIsSound(m: Model, src: usize): bool {
  const started = load<i32>(src + S_STARTED);
  const t0 = load<f64>(src + S_T0);
  const lastT = load<f64>(src + S_LAST_T);
  const lastKey = load<i64>(src + S_LAST_KEY);
  const events = load<i64>(src + S_EVENTS);
  const updates = load<i64>(src + S_UPDATES);
  const saturated = load<i64>(src + S_SATURATED);
  if (events < 0 || events > i64.MAX_VALUE / <i64>m.totalUnits || updates < 0 || updates > events * <i64>m.totalUnits) return false;
  // a float model's stream saturates nothing; a fixed one's at most every input of every event (saturated <= events
  // I, without the product, which could pass i64)
  if (saturated < 0 || (saturated != 0 && (!runsFixed(m) || (saturated - 1) / <i64>m.inputSize >= events))) return false;
  if (started == 0) {
    return events == 0 && reinterpret<i64>(t0) == 0 && reinterpret<i64>(lastT) == 0 && lastKey == 0;
  }
  if (started != 1 || events == 0 || !isFinite<f64>(t0) || !isFinite<f64>(lastT) || !(lastT >= t0)) return false;
  if ((lastT - t0) * exp2(m.keysLog2) >= MAX_TICKS) return false;
  splitElapsed(lastT, t0, m.keysLog2);
  // Engines before the exact split took the key from the rounded f64 lastT - t0: off by at most ulp(lastT - t0) / 2
  // of a time unit, 2^-53 of the key, a tick more for its rounding. Their snapshots still restore.
  const key = eventKey(m, elapsedWhole, elapsedFraction);
  const slack = 1 + (key >> 52);
  return lastKey >= key - slack && lastKey <= key + slack;
}
