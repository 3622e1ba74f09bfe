// One event through one layer of the fixed-point engine: integers only (plstm.md sections 1 and 3), in the named
// steps of the float64 reference (host/engine/reference.ts: the time gate, gatePreactivation, candidateCell,
// candidateHidden, gatedUpdate, layerStep), so the two read side by side.
//
// Formats (docs/fixed-point.md): x of layer 0 Q(inputFrac) i16, h Q0.15 i16, weights i16 with a format per gate
// row, pre-activations and biases Q7.24, gates and k Q0.15, cell Q11.20 i32, phase Q0.64 u64.

import {
  CELL_FRAC, PRE_FRAC, ROW_BIAS, ROW_RECORD_BYTES, UNIT_BIAS, UNIT_PEEPHOLE, UNIT_RECORD_BYTES, UNIT_U_FRAC, UNIT_W_FRAC,
} from "../contract/plsm";
import {
  FAST_SHIFTS, FULL_BUILD, Layer, Model, PAGE, S_EVENTS, S_LAST_KEY, SUM_BLOCK, TIMING_HALF_ON, TIMING_LAP_TICKS, TIMING_RECORD_BYTES, TIMING_STEP, TIMING_STEP_LOW,
  TIMING_WINDOW_TICKS, WAKE_LAPS, WHEEL_BUCKETS, WIDE_SHIFTS, fixedInvHalf, fixedPeriod, isFixed, layerAt,
} from "../model";
import { activeCount, firstBucket, linkAt, setActiveCount, wheelDrain, wheelInsert } from "../schedule";
import { sigmoidQ15, tanhQ15 } from "./activation";
import { WIDE_SHIFT, saturate32, shiftRound, shiftRoundFast, shiftRoundWide } from "./arith";
import { SUMS_BYTES, dot1, gateSums, uSum, wSum } from "./sums";

// Gate rows in a unit's weights and records: plstm.md's order i, f, g, o.
const GATE_I = 0;
const GATE_F = 1;
const GATE_G = 2;
const GATE_O = 3;

// The forms of toQ24, one to each copy of updateUnits (layerStep picks a layer's).
const SHIFTS_FAST = 0;
const SHIFTS_WIDE = 1;
const SHIFTS_CHECKED = 2;


/** The high 64 bits of the 128-bit product a * b. */
@inline function mulHigh(a: u64, b: u64): u64 {
  const aLo = a & 0xffffffff;
  const aHi = a >>> 32;
  const bLo = b & 0xffffffff;
  const bHi = b >>> 32;
  const lh = aLo * bHi;
  const hl = aHi * bLo;
  const mid = ((aLo * bLo) >>> 32) + (lh & 0xffffffff) + (hl & 0xffffffff);
  return aHi * bHi + (lh >>> 32) + (hl >>> 32) + (mid >>> 32);
}

/**
 * The tick at which a closed unit (phase at tick T) may next be open: the phase wraps to 0 after
 * (2^64 - phase) / step ticks, computed as (2^64 - phase) * period / 2^64 with period = floor(2^64 / (step + 1))
 * (the phase moves by step, plus at most one more from the step's low 32 bits, per tick). That never exceeds the
 * exact count (a unit is never woken late, at worst a few ticks early, which costs a visit) and is at least
 * T + 1 (the unit is closed at T). A period below 2^32 ticks (the usual case: 20 ms periods at 2^20 ticks a
 * millisecond are 2^24.3) takes one multiply instead of mulHigh's four, by the high 32 bits of 2^64 - phase alone:
 * that drops less than period / 2^32 < 1 tick before the floor, so the tick is at most one earlier. Not in the
 * microcontroller builds, whose byte budgets have no room for the second way.
 */
@inline function nextOpening(T: i64, phase: u64, period: u64): i64 {
  const toWrap = 0 - phase;
  let ticks = !isDefined(PHASOR_MCU) && period >>> 32 == 0 ? ((toWrap >>> 32) * period) >>> 32 : mulHigh(toWrap, period);
  if (ticks == 0) ticks = 1;
  return ticks > <u64>(i64.MAX_VALUE - T) ? i64.MAX_VALUE : T + <i64>ticks;
}

/**
 * plstm.md section 1, the time gate (phi and k) of the units an event has to visit at tick T: the active units
 * and the units whose opening has come (schedule.ts). Open ones stay in the active list with their k (Q0.15) in
 * kOut; closed ones are filed under their next opening.
 * phase_j(T) = seed_j + floor(T * step_j / 2^32) (mod 2^64), step_j = 2^96 / tau_j in ticks (Q0.96, its high 64
 * bits and its low 32 apart): exact to T / 2^97 of a period, 2^-35 at the clock's 2^62 ticks. Returns the number
 * open. This is the microcontroller builds' form, the drain and gate in two passes (their byte budgets have no room
 * for more); the others take timeGatePassing, which gates a unit in the same steps.
 */
export function timeGate(L: Layer, st: usize, T: i64, kOut: usize): i32 {
  if (FULL_BUILD) return timeGatePassing(L, st, T, kOut);
  const active = st + <usize>L.activeOff;
  const seeds = st + <usize>L.seedOff;
  const tHigh = <u64>T >>> 32;
  const tLow = <u64>T & 0xffffffff;
  const candidates = wheelDrain(L, st, T);
  const timings = L.timing;
  // the open units are written back to the active list in place, behind the ones read
  let opened = active;
  let k = kOut;
  for (let read = active, end = active + (<usize>candidates << 2); read < end; read += 4) {
    const j = load<i32>(read);
    const timing = timings + <usize>j * TIMING_RECORD_BYTES;
    const low = <u64>load<u32>(timing, TIMING_STEP_LOW);
    const phase = load<u64>(seeds + (<usize>j << 3)) + <u64>T * load<u64>(timing, TIMING_STEP) + tHigh * low + ((tLow * low) >>> 32);
    const phi = phase >>> 32; // Q0.32
    const half = <u64>load<u32>(timing, TIMING_HALF_ON); // r_on / 2 in Q0.32
    if (phi < half << 1) {
      // k = phi / (r_on / 2) rising, (r_on - phi) / (r_on / 2) falling: Q0.15, at most 2^15
      const fromEdge = phi < half ? phi : (half << 1) - phi;
      store<i32>(opened, j);
      store<i32>(k, <i32>((fromEdge * (PAGE ? fixedInvHalf(<u32>half) : load<u64>(timing, 16))) >>> 32));
      opened += 4;
      k += 4;
    } else {
      const period = PAGE ? fixedPeriod(load<u64>(timing, TIMING_STEP), <u32>low) : load<u64>(timing, 24);
      wheelInsert(L, st, j, nextOpening(T, phase, period));
    }
  }
  const open = <i32>((opened - active) >> 2);
  setActiveCount(L, st, open);
  return open;
}

/**
 * timeGate of all but the microcontroller builds, the wheel's drain within it: a unit whose wake key has come
 * but whose window has opened and closed since the last event is filed again at once (passedOver), without its
 * phase and without a trip through the active list (at the streaming point two in three of the units woken). The
 * active units come first and the due ones follow in bucket order, as wheelDrain would list them; each group mostly
 * takes one way through the branches, which a schedule of wake keys visited in index order loses (every wake key
 * compared with the tick in SIMD measured 0.84-0.90x of this at the streaming point, docs/RESULTS.md, session 11).
 * A dense scan of the phases themselves (timeGateDense), which branches only at the few candidates, is faster where
 * many units are due an event: the SIMD build takes it there (gateIsDense). The wheel's addresses, bucket width and
 * bitmap stay in locals for the whole event (wheelInsert reloads them).
 */
function timeGatePassing(L: Layer, st: usize, T: i64, kOut: usize): i32 {
  const active = st + <usize>L.activeOff;
  const wheel = st + <usize>L.wheelOff;
  const keys = st + <usize>L.keyOff;
  const next = st + <usize>L.nextOff;
  const heads = st + <usize>L.headsOff;
  const seeds = st + <usize>L.seedOff;
  const timings = L.timing;
  const shift = <i64>L.bucketShift;
  const tHigh = <u64>T >>> 32;
  const tLow = <u64>T & 0xffffffff;
  let bitmap = load<u64>(wheel, 8);
  let opened = active;
  let k = kOut;
  for (let read = active, end = active + (<usize>activeCount(L, st) << 2); read < end; read += 4) {
    const j = load<i32>(read);
    const timing = timings + <usize>j * TIMING_RECORD_BYTES;
    const phase = phaseAt(j, T, tHigh, tLow, seeds, timing);
    const phi = phase >>> 32;
    const half = <u64>load<u32>(timing, TIMING_HALF_ON);
    if (phi < half << 1) {
      store<i32>(opened, j);
      store<i32>(k, kOf(phi, half, timing));
      opened += 4;
      k += 4;
    } else {
      const key = closedKey(T, phase, timing);
      store<i64>(keys + (<usize>j << 3), key);
      bitmap |= fileAt(heads, next + (<usize>j << 2), key, shift, j);
    }
  }
  const current = T >> shift;
  const last = load<i64>(wheel);
  store<i64>(wheel, current);
  if (bitmap != 0) {
    for (let b = firstBucket(last, current); b <= current; b++) {
      const bucket = <i32>b & (WHEEL_BUCKETS - 1);
      const bit = <u64>1 << bucket;
      if ((bitmap & bit) == 0) continue;
      let j = load<i32>(heads + (<usize>bucket << 2));
      store<i32>(heads + (<usize>bucket << 2), -1);
      bitmap &= ~bit;
      while (j >= 0) {
        const nextAt = next + (<usize>j << 2);
        const following = load<i32>(nextAt);
        const keyAt = keys + (<usize>j << 3);
        let key = load<i64>(keyAt);
        if (key > T) {
          linkAt(heads, nextAt, bucket, j); // filed for a later lap
          bitmap |= bit;
        } else {
          const timing = timings + <usize>j * TIMING_RECORD_BYTES;
          key = passedOver(key, T, timing);
          if (key < 0) {
            const phase = phaseAt(j, T, tHigh, tLow, seeds, timing);
            const phi = phase >>> 32;
            const half = <u64>load<u32>(timing, TIMING_HALF_ON);
            if (phi < half << 1) {
              store<i32>(opened, j);
              store<i32>(k, kOf(phi, half, timing));
              opened += 4;
              k += 4;
              j = following;
              continue;
            }
            key = closedKey(T, phase, timing);
          }
          store<i64>(keyAt, key);
          bitmap |= fileAt(heads, nextAt, key, shift, j);
        }
        j = following;
      }
    }
  }
  store<u64>(wheel, bitmap, 8);
  const open = <i32>((opened - active) >> 2);
  setActiveCount(L, st, open);
  return open;
}

/**
 * Whether the SIMD library and WASI builds may gate a fixed layer by a dense scan of every unit's approximate phase
 * (timeGateDense) instead of the wheel (timeGatePassing); the scalar and microcontroller builds keep the wheel. Both
 * gates are exact, so the choice (gateIsDense) changes no bit, only the time an event takes.
 */
export const DENSE_GATE: bool = ASC_FEATURE_SIMD && FULL_BUILD;

/**
 * The units due per event, as a fraction of the layer's units, above which the dense scan is taken (gateIsDense): a
 * fraction, because the scan's cost grows with the units and the wheel's with the units it wakes. Session 16's scan,
 * against the wheel (docs/RESULTS.md, "The time gate as a dense SIMD scan (session 16)"): on streams where 0.106 of
 * the units are due an event (expected: mean gap times mean 1 / tau) it had 1.045x and 1.052x the events/s (wall) at
 * H = 110 with r_on = 0.01 and at H = 512, the cases least in its favour; at 0.080, 0.998x and 1.035x; at 0.053,
 * 0.914x and 0.974x: 0.1 for every layer. Session 17's scan, from base phases, costs about half as much: with 0.02
 * for layers of at most DENSE_SMALL_LAYER units, against 0.1, H = 32, 64 (64 inputs), 110 and 128 had 1.08x to 1.34x
 * where 0.032 to 0.080 of their units are due and 1.00x to 1.04x at 0.016 (with 0.008); H = 512 had 0.92x and 0.96x
 * at 0.053 and 0.080 with 0.05 (docs/RESULTS.md, "The dense scan's threshold (session 17)"), so larger layers keep
 * 0.1.
 */
const DENSE_DUE_FRACTION: f64 = 0.1;
const DENSE_DUE_FRACTION_SMALL: f64 = 0.02;
/** The most units a layer may have to take DENSE_DUE_FRACTION_SMALL: the largest measured to gain by it. */
const DENSE_SMALL_LAYER: i32 = 128;

/**
 * The layer's dense timing (Layer.dense), for timeGateDense: a header of DENSE_HEADER_BYTES (at 0, the offset of the
 * layer's base phases in a stream's cache, layOutDenseBases), then per group of 4 units (padded with units of all
 * zeros to an even count of groups, whose bits the gate masks off), 48 bytes of four u32 lanes each: s1 >> 16 and s2,
 * of the low and high words s1 and s2 of the step's high 64 bits (TIMING_STEP), at 0 and 16, and at 32 the open limit
 * min(2 half + CARRY_MAX - 1, 2^32 - 1) (half = TIMING_HALF_ON) plus 2^31, for a signed compare (denseNonCandidates). And
 * Layer.denseGapTicks, the mean gap between events above which gateIsDense takes the scan. Once, at load.
 */
export function storeDenseTiming(L: Layer): void {
  const H = L.hiddenSize;
  const dense = heap.alloc(denseTimingBytes(H));
  memory.fill(dense, 0, denseTimingBytes(H));
  // sum over the units of 1 / period in ticks (the step is the phase a tick, Q0.64: one period is 2^64), the units
  // the wheel wakes a tick; a unit open all the time (r_on = 1: half = 2^31) is never filed, so never woken
  let periodsPerTick: f64 = 0;
  for (let j = 0; j < H; j++) {
    const timing = L.timing + <usize>j * TIMING_RECORD_BYTES;
    const step = load<u64>(timing, TIMING_STEP);
    if (load<u32>(timing, TIMING_HALF_ON) < 0x80000000) periodsPerTick += <f64>step * TWO_TO_MINUS_64;
    const at = dense + DENSE_HEADER_BYTES + <usize>(j >> 2) * DENSE_GROUP_BYTES + (<usize>(j & 3) << 2);
    store<u32>(at, <u32>step >>> 16);
    store<u32>(at, <u32>(step >>> 32), 16);
    const limit = (<u64>load<u32>(timing, TIMING_HALF_ON) << 1) + <u64>(CARRY_MAX - 1);
    store<u32>(at, <u32>min<u64>(limit, 0xffffffff) + 0x80000000, 32);
  }
  L.dense = dense;
  L.denseGapTicks = ((H <= DENSE_SMALL_LAYER ? DENSE_DUE_FRACTION_SMALL : DENSE_DUE_FRACTION) * <f64>H) / periodsPerTick;
}

/** Bytes of the header and of a group of 4 units in a layer's dense timing (storeDenseTiming). The header holds what
 * only the dense builds need of a layer, so that the Layer record stays the same in every build (the microcontroller
 * ones lay it out in their arena). */
const DENSE_HEADER_BYTES: usize = 16;
const DENSE_GROUP_BYTES: usize = 48;

/** 2^-64, exactly (a power of two). */
const TWO_TO_MINUS_64: f64 = 5.421010862427522e-20;

/** Bytes of a layer's dense timing (storeDenseTiming) for H units: 12 a unit, in groups of 4 padded to an even count
 * (denseNonCandidates takes two at a time), and the header. */
export function denseTimingBytes(H: i32): usize {
  return DENSE_HEADER_BYTES + <usize>((H + 7) >> 3) * 2 * DENSE_GROUP_BYTES;
}

/** Where layer L's base phases start in a stream's cache (layOutDenseBases), from its dense timing's header. */
@inline function denseBaseOffset(L: Layer): usize {
  return <usize>load<i32>(L.dense);
}

/**
 * Lays out the base phases of the model's fixed layers (denseBases) in each stream's cache, the bytes after its
 * block (Model.streamCacheBytes): per layer a tag (i64, 16 bytes with its padding) and a u32 a unit, padded to a
 * multiple of 8 units (denseNonCandidates).
 * Once, at load, in the builds with the dense gate.
 */
export function layOutDenseBases(m: Model): void {
  let at = 0;
  for (let n = 0; n < m.layerCount; n++) {
    const L = layerAt(m, n);
    store<i32>(L.dense, at);
    at += 16 + (((L.hiddenSize + 7) & ~7) << 2);
  }
  m.streamCacheBytes = at;
}

/**
 * Marks every layer's base phases in the stream's cache (layOutDenseBases) as missing, so that the next dense event
 * derives them again: when the stream's block is new, cleared or restored, whose seeds the bases are derived from.
 */
export function forgetDenseBases(m: Model, st: usize): void {
  if (!DENSE_GATE || !isFixed(m.kind)) return;
  const cache = st + <usize>m.streamBytes;
  for (let n = 0; n < m.layerCount; n++) store<i64>(cache + denseBaseOffset(layerAt(m, n)), 0);
}

/**
 * Whether the stream's next event takes the dense scan in layer L (DENSE_GATE builds): when the units due an event,
 * the stream's mean gap so far (its last wake key over its events, from the header) times the layer's periods a
 * tick, exceed DENSE_DUE_FRACTION of its units (DENSE_DUE_FRACTION_SMALL of a layer of at most DENSE_SMALL_LAYER),
 * that is when the mean gap exceeds Layer.denseGapTicks. Never at a stream's first event (no gap yet: every unit is in the active list anyway), nor in a layer whose units are all
 * open all the time (r_on = 1: the wheel wakes none, denseGapTicks is infinite).
 */
@inline export function gateIsDense(L: Layer, st: usize): bool {
  return <f64>load<i64>(st + S_LAST_KEY) > <f64>load<i64>(st + S_EVENTS) * L.denseGapTicks;
}

/**
 * The largest amount by which the dense scan's A falls short of phi (see timeGateDense). With T = T1 2^32 + T0 and
 * the Q0.96 step = s2 2^64 + s1 2^32 + s0 (words u32), phaseAt's phase is, mod 2^64,
 *   seed + T (s2 2^32 + s1) + T1 s0 + hi32(T0 s0) = B + Q,
 *   B = seed + T1 2^32 (s2 2^32 + s1) + T1 s0,   Q = T0 s2 2^32 + T0 s1 + hi32(T0 s0),
 * B the unit's base phase, the same at every tick of the same T1 (denseBases). V = T0 s1 + hi32(T0 s0) is below
 * (2^32 - 1)^2 + 2^32 < 2^64, and its high word is hi32(T0 s1) + c2, c2 in {0, 1} the carry out of lo32(T0 s1) +
 * hi32(T0 s0); Q = (lo32(T0 s2) + hi32(V)) 2^32 + lo32(V) mod 2^64. Adding B carries c1 in {0, 1} out of lo32(B) +
 * lo32(V) into the high word: phi = hi32(B) + lo32(T0 s2) + hi32(T0 s1) + c1 + c2 mod 2^32, exactly. The scan
 * takes hi32(T0 s1) from the words' high halves alone, (T0 >> 16) (s1 >> 16), an i32 multiply (the full product's
 * high word needs two widening multiplies and a shuffle): with T0 = a 2^16 + b and s1 = p 2^16 + q, T0 s1 = a p 2^32
 * + R, R = (a q + b p) 2^16 + b q < 2^32 (2^17 + 1), so hi32(T0 s1) - a p = floor(R / 2^32) is 0..2^17. Then phi = A
 * + c mod 2^32 with A = hi32(B) + lo32(T0 s2) + (T0 >> 16)(s1 >> 16) mod 2^32 and c in 0..2^17 + 2, within
 * CARRY_MAX: 2^17 of a phase of 2^32, about 3e-5 of a period, so the candidates this adds beyond the open units are
 * rare. test/dense-gate-misses-no-open-unit.test.ts holds it against a BigInt phase at the extremes.
 */
const CARRY_MAX: i32 = (1 << 17) + 3;

/**
 * The time gate of the SIMD library build at events where many units are due (gateIsDense): every unit's
 * approximate phi A (CARRY_MAX) four at a time, then the exact phase (phaseAt), open test and k, as timeGatePassing
 * computes them, of the candidates only. A unit is a candidate when u = A + CARRY_MAX <= limit = min(2 half +
 * CARRY_MAX - 1, 2^32 - 1), unsigned, mod 2^32. No open unit is missed: open means phi = A + c < 2 half (c =
 * 0..CARRY_MAX); then u = phi + (CARRY_MAX - c) mod 2^32. If phi + CARRY_MAX - c < 2^32, u < 2 half + CARRY_MAX, so
 * u <= limit when limit is not clamped and always when it is; otherwise phi > 2^32 - 1 - CARRY_MAX, so 2 half > 2^32
 * - CARRY_MAX - 1 and limit is clamped to 2^32 - 1, which every u passes. The open units and their k go to `list` and
 * kOut (scratch), in index order (timeGatePassing lists the ones still open first, then the woken ones in bucket
 * order); each unit's gate sums and update depend on its own row and the previous h only, so the order changes no
 * bit of h, c or y. Returns the number open.
 * A takes the base phases' high words from `cache`, the layer's in the stream's cache (layOutDenseBases), derived
 * again (denseBases) when their tag is not T1 + 1: at the first dense event of a stream, after it was cleared or
 * restored (forgetDenseBases), and when T1 has moved on (every 2^32 ticks). With them a group of 4 units takes one
 * i32x4 multiply and one of the high halves of T0 and s1 (CARRY_MAX); from the seeds and both words of T it took two
 * i32x4 multiplies and two widening products, two extmuls each (docs/RESULTS.md, "The dense scan from base phases
 * (session 17)").
 * It writes nothing of the stream's schedule: that stays as the last event the wheel gated left it, which to the
 * wheel is the same as a long gap since that event. Its keys are then in the past: the drain wakes every bucket
 * from that event's on (firstBucket: all 64 after a lap), and a unit whose key has passed is either filed again by
 * passedOver, whose bound compares the key with the tick of the event at hand and holds whatever events came
 * between (it only needs that no event before the key gated the unit, and the dense events do not gate by key), or
 * gated by its exact phase; the units left in the active list have their exact phase computed at once.
 */
function timeGateDense(L: Layer, st: usize, T: i64, list: usize, kOut: usize, cache: usize): i32 {
  const seeds = st + <usize>L.seedOff;
  const timings = L.timing;
  const dense = L.dense + DENSE_HEADER_BYTES;
  const H = L.hiddenSize;
  const tHigh = <u64>T >>> 32;
  const tLow = <u64>T & 0xffffffff;
  const bases = cache + 16;
  if (load<i64>(cache) != <i64>tHigh + 1) {
    denseBases(L, seeds, tHigh, bases);
    store<i64>(cache, <i64>tHigh + 1);
  }
  let opened = list;
  let k = kOut;
  for (let base = 0; base < H; base += 64) {
    const n = min(H - base, 64);
    let bits = ~denseNonCandidates(dense + <usize>(base >> 2) * DENSE_GROUP_BYTES, bases + (<usize>base << 2), <i32>tLow, n);
    if (n < 64) bits &= (<u64>1 << <u64>n) - 1; // the units past the layer's last
    while (bits != 0) {
      const j = base + <i32>ctz(bits);
      bits &= bits - 1;
      const timing = timings + <usize>j * TIMING_RECORD_BYTES;
      const phi = phaseAt(j, T, tHigh, tLow, seeds, timing) >>> 32;
      const half = <u64>load<u32>(timing, TIMING_HALF_ON);
      if (phi < half << 1) {
        store<i32>(opened, j);
        store<i32>(k, kOf(phi, half, timing));
        opened += 4;
        k += 4;
      }
    }
  }
  return <i32>((opened - list) >> 2);
}

/** Every unit's base phase's high word hi32(B) (CARRY_MAX) for ticks of high word T1, as u32 at `bases`: B = seed +
 * (T1 2^32) (the step's high 64 bits) + T1 (its low 32 bits), mod 2^64. */
function denseBases(L: Layer, seeds: usize, T1: u64, bases: usize): void {
  for (let j = 0; j < L.hiddenSize; j++) {
    const timing = L.timing + <usize>j * TIMING_RECORD_BYTES;
    const B = load<u64>(seeds + (<usize>j << 3)) + (T1 << 32) * load<u64>(timing, TIMING_STEP) + T1 * <u64>load<u32>(timing, TIMING_STEP_LOW);
    store<u32>(bases + (<usize>j << 2), <u32>(B >>> 32));
  }
}

/** The units among the n <= 64 whose dense timing starts at `groups` and base phases at `bases` that are NOT
 * candidates (timeGateDense), as bits 0..n (rounded up to a multiple of 8; the caller inverts and masks them): u =
 * A + CARRY_MAX > limit, unsigned, taken as a signed compare of u + 2^31 (A + CARRY_MAX + 2^31 in one add) with the
 * limit stored plus 2^31, which x64 has in one instruction where the unsigned one takes two. Eight units (two groups)
 * an iteration, from the last to the first, their two masks narrowed into one bitmask and the bits shifted by a
 * constant (a shift by the group's place took a count register and a move on x64): 2 to 3 % of an event at the
 * streaming point (docs/RESULTS.md, session 17). The layer's dense timing and base phases are padded to 8 units for
 * it. v128 stays inside (toolchain.md, AS103). */
@inline function denseNonCandidates(groups: usize, bases: usize, t0: i32, n: i32): u64 {
  const T0 = i32x4.splat(t0);
  const T0h = i32x4.splat(<i32>(<u32>t0 >>> 16));
  const carry = i32x4.splat(CARRY_MAX + 0x80000000);
  let bits: u64 = 0;
  // eight units an iteration, the last first, so that the bits shift by a constant
  const pairs = (n + 7) >> 3;
  let group = groups + <usize>(pairs - 1) * (2 * DENSE_GROUP_BYTES);
  let base = bases + <usize>(pairs - 1) * 32;
  for (let p = 0; p < pairs; p++) {
    const a = i32x4.add(i32x4.add(v128.load(base), i32x4.mul(T0h, v128.load(group))), i32x4.mul(T0, v128.load(group, 16)));
    const b = i32x4.add(i32x4.add(v128.load(base, 16), i32x4.mul(T0h, v128.load(group, DENSE_GROUP_BYTES))), i32x4.mul(T0, v128.load(group, DENSE_GROUP_BYTES + 16)));
    const la = i32x4.gt_s(i32x4.add(a, carry), v128.load(group, 32));
    const lb = i32x4.gt_s(i32x4.add(b, carry), v128.load(group, DENSE_GROUP_BYTES + 32));
    bits = (bits << 8) | <u64>i16x8.bitmask(i16x8.narrow_i32x4_s(la, lb));
    group -= 2 * DENSE_GROUP_BYTES;
    base -= 32;
  }
  return bits;
}

/** Links unit j, whose next link is at `nextAt`, into the bucket of wake key `key` (key >> shift mod WHEEL_BUCKETS);
 * returns the bucket's bit (a 64-bit shift counts mod 64, WHEEL_BUCKETS). */
@inline function fileAt(heads: usize, nextAt: usize, key: i64, shift: i64, j: i32): u64 {
  const bucket = key >> shift;
  linkAt(heads, nextAt, <i32>bucket & (WHEEL_BUCKETS - 1), j);
  return <u64>1 << bucket;
}

/** plstm.md section 1: unit j's phase at tick T (Q0.64), as timeGate computes it; `timing` is its timing record. */
@inline function phaseAt(j: i32, T: i64, tHigh: u64, tLow: u64, seeds: usize, timing: usize): u64 {
  const low = <u64>load<u32>(timing, TIMING_STEP_LOW);
  return load<u64>(seeds + (<usize>j << 3)) + <u64>T * load<u64>(timing, TIMING_STEP) + tHigh * low + ((tLow * low) >>> 32);
}

/** An open unit's k at phi (Q0.32; open: phi < r_on = 2 half) in Q0.15, as timeGate computes it. */
@inline function kOf(phi: u64, half: u64, timing: usize): i32 {
  const fromEdge = phi < half ? phi : (half << 1) - phi;
  return <i32>((fromEdge * load<u64>(timing, 16)) >>> 32);
}

/** The wake key of a unit closed at tick T with `phase`: its next opening, rounded down to a multiple of WAKE_LAPS (at
 * most WAKE_LAPS - 1 ticks early, or T + 1) so that the key's low bits can count the laps passedOver passes over. */
@inline function closedKey(T: i64, phase: u64, timing: usize): i64 {
  const key = nextOpening(T, phase, load<u64>(timing, 24)) & ~<i64>(WAKE_LAPS - 1);
  return key > T ? key : T + 1;
}

/**
 * The next lap's wake key of a unit due at tick T under `key` (<= T), timing record at `timing`, when its window has
 * surely opened and closed since the key, found without its phase; -1 when its phase has to be computed.
 *
 * Why it never wakes a unit late. Unwrapped, the phase seed + floor(T s) reaches n 2^64 at the real tick o_n = (n
 * 2^64 - seed) / s, s the Q0.96 step as a number of phase units a tick, so o_{n+1} = o_n + P with P = 2^64 / s; the
 * window n is open at the whole ticks from O_n = ceil(o_n) to E_n = ceil(o_n + W / s), W = r_on 2^64 (exclusive).
 * The phase moves by floor(s) (the step's high 64 bits) or one more a tick, so period = fixedPeriod <= P and
 * ceil(P) <= period + 2 where P < 2^32 ticks (model.ts, storePassBounds: lapTicks is 0 elsewhere). A key K filed for the window n the unit next opens
 * in holds K <= O_n and E_n - K <= windowTicks + 32 c, c = K mod WAKE_LAPS, the laps passed over since the phase was:
 * - closedKey's keys: from a closed tick T with 2^64 - phase to go, nextOpening counts more than (2^64 - phase) /
 *   (floor(s) + 1) - 3 ticks and E_n comes within ceil((2^64 - phase + W) / floor(s)) ticks, so E_n - K <
 *   W / floor(s) + 5 (floor(s) >= 2^32), + 15 for the rounding to WAKE_LAPS: within windowTicks = 2 ceil(W / 2
 *   floor(s)) + 32, whatever c;
 * - when T - K >= windowTicks + 32 c, T >= E_n: the window has opened and closed since the last event (which came
 *   before K) and T is closed; K' = K + lapTicks <= O_n + period <= O_{n+1}; E_{n+1} - K' <= E_n + period + 2 -
 *   K - lapTicks <= E_n - K + 17; lapTicks = 1 mod WAKE_LAPS counts the lap in K's low bits (c < WAKE_LAPS - 1);
 *   filed only when K' > T, so T is before the next opening too.
 * So the error of a key never grows by more than 17 ticks a lap, for at most 15 laps; each phase computed starts anew.
 * Any key an engine has filed (snapshots of earlier engines too: unrounded, with arbitrary low bits) holds the bound.
 */
@inline function passedOver(key: i64, T: i64, timing: usize): i64 {
  const laps = key & <i64>(WAKE_LAPS - 1);
  if (laps == <i64>(WAKE_LAPS - 1) || T - key < <i64>load<u32>(timing, TIMING_WINDOW_TICKS) + (laps << 5)) return -1;
  const after = key + <i64>load<u32>(timing, TIMING_LAP_TICKS);
  return after > T ? after : -1; // more than one lap, or lapTicks 0: the phase
}

/**
 * A sum in Q(frac) brought to Q7.24 as shiftRound brings it: shifted right by s = frac - 24 and rounded half up, or
 * left by -s; s is the row format at fracAt plus `shift`. The layer's `path`, decided at load (Layer.fastShifts and
 * wideShifts: model.ts checkUnits), says which form is shiftRound for all of its rows (fixed/arith.ts proves each):
 * - SHIFTS_FAST, every s in 1..32: shiftRoundFast.
 * - SHIFTS_WIDE, every s in (1 - WIDE_SHIFT)..32 and every sum below 2^(61 - WIDE_SHIFT): shiftRoundWide. int8 rows
 *   have 8 fewer fractional bits than int16 ones, so their s reach 0 and below.
 * - SHIFTS_CHECKED, anything else: each s is checked and any outside 1..32 goes through shiftRound. The
 *   microcontroller builds keep that code small: every shift through their one shiftRound.
 * Their shift comes as the format plus shift1K = shiftLess1(shift, path), in i64 as the sum it shifts; s in i32 where
 * shiftRound is all the microcontroller build does. In the library builds a fast or wide layer holds that sum
 * already in place of the format (storeRowShifts), two operators fewer a row on the event path.
 */
@inline function toQ24(v: i64, fracAt: usize, shift: i32, shift1K: i64, path: i32): i64 {
  if (path == SHIFTS_CHECKED && isDefined(PHASOR_MCU)) return shiftRound(v, <i32>load<i8>(fracAt) + shift);
  const sK = ROW_SHIFTS && path != SHIFTS_CHECKED ? <i64>load<u8>(fracAt) : <i64>load<i8>(fracAt) + shift1K;
  if (path == SHIFTS_FAST) return shiftRoundFast(v, sK);
  if (path == SHIFTS_WIDE) return shiftRoundWide(v, sK);
  if (<u64>sK < 32) return shiftRoundFast(v, sK);
  return shiftRound(v, <i32>sK + 1);
}

/** The shift toQ24's forms take, less the row format: s - 1 (shiftRoundFast), or s - 1 + WIDE_SHIFT on the wide path
 * (shiftRoundWide), for a format of 0. */
@inline function shiftLess1(shift: i32, path: i32): i64 {
  return <i64>(shift - 1 + (path == SHIFTS_WIDE ? WIDE_SHIFT : 0));
}

/** Whether fast and wide layers hold their rows' shifts in place of their formats (storeRowShifts): in the library
 * builds; the microcontroller ones have no bytes for the code and keep the file's formats. */
const ROW_SHIFTS: bool = FULL_BUILD;

/**
 * Replaces, in the model's own copy of a fixed layer's unit records, each W and U row's format by the shift toQ24
 * takes on the layer's path: the format plus shiftLess1, s - 1 (0..31 on the fast path) or s - 1 + WIDE_SHIFT (0..53
 * on the wide one), by checkUnits's ranges of s, so a u8. Once, at load (index.ts, modelCreate), after checkUnits chose the path; a checked
 * layer keeps its formats. Nothing else reads a fixed unit record's formats after load.
 */
export function storeRowShifts(L: Layer): void {
  const path = shiftsPath(L);
  if (!ROW_SHIFTS || path == SHIFTS_CHECKED) return;
  const xShift1K = <i32>shiftLess1(L.xFrac - PRE_FRAC, path);
  const hShift1K = <i32>shiftLess1(H_SHIFT, path);
  for (let j = 0; j < L.hiddenSize; j++) {
    const unit = L.units + <usize>j * UNIT_RECORD_BYTES;
    for (let g = 0; g < 4; g++) {
      store<u8>(unit + UNIT_W_FRAC + g, <u8>(<i32>load<i8>(unit + UNIT_W_FRAC + g) + xShift1K));
      store<u8>(unit + UNIT_U_FRAC + g, <u8>(<i32>load<i8>(unit + UNIT_U_FRAC + g) + hShift1K));
    }
  }
}

/**
 * plstm.md section 1, the sums inside i, f, g and o without the peephole term: W_g x + U_g h + b_g of gate g of a
 * unit, in Q7.24 (i64; every use saturates it). Each row has its own weight format, so W x, Q(wFrac + xFrac), and U
 * h, Q(uFrac + 15), are brought to Q7.24 apart: by wFrac + xFrac - 24 and uFrac - 9, here wFrac + xShift and
 * uFrac + H_SHIFT (xShift1K = shiftLess1(xShift, path)). Added in i64: a U h whose row is bounded only lane-chunk by
 * lane-chunk (contract/plsm.ts) can exceed 2^31 in Q7.24 (the gate then saturates), so no i32 shortcut holds for it.
 */
@inline function gatePreactivation(unit: usize, sums: usize, g: i32, xShift: i32, xShift1K: i64, path: i32): i64 {
  const w = toQ24(wSum(sums, g), unit + UNIT_W_FRAC + g, xShift, xShift1K, path);
  const u = toQ24(uSum(sums, g), unit + UNIT_U_FRAC + g, H_SHIFT, shiftLess1(H_SHIFT, path), path);
  return w + u + <i64>load<i32>(unit + UNIT_BIAS + (<usize>g << 2));
}

/** The shift of U h, Q(uFrac + 15), to Q7.24 is uFrac + H_SHIFT (toQ24). */
const H_SHIFT = 15 - PRE_FRAC;

/**
 * plstm.md section 1, "p * c" of the i, f (with c) and o (with c~) gates, slot 0, 1, 2 of the unit's peepholes, in
 * Q7.24: Q(pFrac) times Q11.20 shifted right by peepShift = pFrac + 20 - 24, rounded half up. In a fast or wide
 * layer peepShift is 1..32, and peepRound = peepRounding(peepShift) says how to round.
 */
@inline function peephole(unit: usize, slot: i32, cellQ20: i64, peepShift: i32, peepRound: i64, path: i32): i64 {
  const product = <i64>load<i16>(unit + UNIT_PEEPHOLE + (<usize>slot << 1)) * cellQ20;
  if (path == SHIFTS_CHECKED) return shiftRound(product, peepShift);
  return FULL_BUILD ? shiftRoundFast(product, peepRound) : (product + peepRound) >> peepShift;
}

/**
 * The library builds round a peephole product by shiftRoundFast from peepShift - 1 (fixed/arith.ts: shiftRound for
 * shifts 1..32): from the half 2^(peepShift - 1) instead, V8's code rebuilt the half inside the peephole branch at
 * every unit. The microcontroller builds add the half, two operators a peephole fewer.
 */
@inline function peepRounding(peepShift: i32): i64 {
  return FULL_BUILD ? <i64>(peepShift - 1) : <i64>1 << (peepShift - 1);
}

/** plstm.md section 1, "c~ = f * c + i * g": Q0.15 * Q11.20 >> 15 and Q0.15 * Q0.15 >> 10 (an i32 product: at most
 * 32767^2), both Q11.20, rounded half up; saturated to i32. */
@inline function candidateCell(fQ15: i32, cQ20: i64, iQ15: i32, gQ15: i32): i32 {
  return saturate32(((<i64>fQ15 * cQ20 + (1 << 14)) >> 15) + <i64>((iQ15 * gQ15 + (1 << (29 - CELL_FRAC))) >> (30 - CELL_FRAC)));
}

/** plstm.md section 1, "h~ = o * tanh(c~)": Q0.15 * Q0.15 >> 15 rounded half up, Q0.15 in [-32766, 32766] (o is at
 * most 32767); c~ goes to tanh in Q7.24. */
@inline function candidateHidden(oQ15: i32, cCandidateQ20: i32): i32 {
  return (oQ15 * tanhQ15(<i64>cCandidateQ20 << (PRE_FRAC - CELL_FRAC)) + (1 << 14)) >> 15;
}

/**
 * plstm.md section 1, the gated update "c <- k * c~ + (1 - k) * c", as c + k (c~ - c) >> 15 with k in Q0.15
 * (0..2^15), rounded half up; the same for h. The result lies between c and c~ (k (c~ - c) / 2^15 rounds to at
 * most |c~ - c|), so it needs no saturation: a c stays an i32, an h stays in +-32767. c in i64; h in i32, where
 * k (h~ - h) is at most 2^15 * 65534.
 */
@inline function gatedUpdate<T>(kQ15: T, candidate: T, previous: T): T {
  return previous + ((kQ15 * (candidate - previous) + <T>(1 << 14)) >> <T>15);
}

/**
 * The candidate and gated update of the `open` units listed at `active` (plstm.md section 1), from their gate row
 * sums (fixed/sums.ts), in place: every unit's U h was summed from the previous h before any h changes. Each gate's
 * sums are read where it is computed, the o gate's after c~: V8 keeps the loads in order and would otherwise hold
 * all 28 values of a unit's sums and record from the start, spilling a third of them to the stack.
 * The library builds take the units two at a time, both candidates c~ before either's output gate and update: a
 * unit is a chain of dependent steps three table lookups deep, and with one unit after the other V8's code gave the
 * processor little of the next unit to run beside it (measured: docs/RESULTS.md, "The open units' arithmetic
 * (session 10)"). The microcontroller builds take one at a time, the smaller code.
 */
@inline function updateUnits(L: Layer, st: usize, active: usize, open: i32, kBuf: usize, sums: usize, path: i32): void {
  const h = st + <usize>L.hOff;
  const c = st + <usize>L.cOff;
  const xShift = L.xFrac - PRE_FRAC;
  const xShift1K = shiftLess1(xShift, path);
  const peepShift = L.pFrac + CELL_FRAC - PRE_FRAC;
  const peepRound = peepRounding(peepShift);
  const hasPeephole = L.hasPeephole;
  const units = L.units;
  let a = 0;
  if (UNITS_IN_PAIRS) {
    for (; a + 1 < open; a += 2) {
      const j = load<i32>(active + (<usize>a << 2));
      const jNext = load<i32>(active + (<usize>a << 2), 4);
      const unit = units + <usize>j * UNIT_RECORD_BYTES;
      const unitNext = units + <usize>jNext * UNIT_RECORD_BYTES;
      const unitSums = sums + <usize>a * SUMS_BYTES;
      const unitSumsNext = unitSums + SUMS_BYTES;
      const cQ20 = <i64>load<i32>(c + (<usize>j << 2));
      const cNextQ20 = <i64>load<i32>(c + (<usize>jNext << 2));
      const cCandidateQ20 = candidateOf(unit, unitSums, cQ20, xShift, xShift1K, peepShift, peepRound, hasPeephole, path);
      const cNextCandidateQ20 = candidateOf(unitNext, unitSumsNext, cNextQ20, xShift, xShift1K, peepShift, peepRound, hasPeephole, path);
      const kAt = kBuf + (<usize>a << 2);
      outputAndUpdate(
        unit, unitSums, c + (<usize>j << 2), h + (<usize>j << 1), kAt, cQ20, cCandidateQ20, xShift, xShift1K, peepShift, peepRound,
        hasPeephole, path,
      );
      outputAndUpdate(
        unitNext, unitSumsNext, c + (<usize>jNext << 2), h + (<usize>jNext << 1), kAt + 4, cNextQ20, cNextCandidateQ20, xShift, xShift1K,
        peepShift, peepRound, hasPeephole, path,
      );
    }
  }
  for (; a < open; a++) {
    const j = load<i32>(active + (<usize>a << 2));
    const unitSums = sums + <usize>a * SUMS_BYTES;
    const unit = units + <usize>j * UNIT_RECORD_BYTES;
    const cAt = c + (<usize>j << 2);
    const cQ20 = <i64>load<i32>(cAt);
    const cCandidateQ20 = candidateOf(unit, unitSums, cQ20, xShift, xShift1K, peepShift, peepRound, hasPeephole, path);
    outputAndUpdate(
      unit, unitSums, cAt, h + (<usize>j << 1), kBuf + (<usize>a << 2), cQ20, cCandidateQ20, xShift, xShift1K, peepShift, peepRound,
      hasPeephole, path,
    );
  }
}

/** Whether updateUnits takes the units two at a time: in the library builds. */
const UNITS_IN_PAIRS: bool = FULL_BUILD;

/** A unit's candidate c~ (Q11.20), from its record, its sums and its c: its i, f and g gates, with the peepholes on c. */
@inline function candidateOf(
  unit: usize, unitSums: usize, cQ20: i64, xShift: i32, xShift1K: i64, peepShift: i32, peepRound: i64, hasPeephole: i32, path: i32,
): i32 {
  let preIQ24 = gatePreactivation(unit, unitSums, GATE_I, xShift, xShift1K, path);
  let preFQ24 = gatePreactivation(unit, unitSums, GATE_F, xShift, xShift1K, path);
  if (hasPeephole) {
    preIQ24 += peephole(unit, 0, cQ20, peepShift, peepRound, path);
    preFQ24 += peephole(unit, 1, cQ20, peepShift, peepRound, path);
  }
  const iQ15 = sigmoidQ15(preIQ24);
  const fQ15 = sigmoidQ15(preFQ24);
  return candidateCell(fQ15, cQ20, iQ15, tanhQ15(gatePreactivation(unit, unitSums, GATE_G, xShift, xShift1K, path)));
}

/** A unit's o gate (its peephole on c~), h~, and the gated update of its c and h (at cAt and hAt) by its k (at kAt). */
@inline function outputAndUpdate(
  unit: usize, unitSums: usize, cAt: usize, hAt: usize, kAt: usize, cQ20: i64, cCandidateQ20: i32, xShift: i32, xShift1K: i64,
  peepShift: i32, peepRound: i64, hasPeephole: i32, path: i32,
): void {
  let preOQ24 = gatePreactivation(unit, unitSums, GATE_O, xShift, xShift1K, path);
  // the output peephole sees the candidate c~, not the gated c
  if (hasPeephole) preOQ24 += peephole(unit, 2, <i64>cCandidateQ20, peepShift, peepRound, path);
  const hCandidateQ15 = candidateHidden(sigmoidQ15(preOQ24), cCandidateQ20);
  const kQ15 = load<i32>(kAt);
  store<i32>(cAt, <i32>gatedUpdate<i64>(<i64>kQ15, <i64>cCandidateQ20, cQ20));
  const hQ15 = gatedUpdate<i32>(kQ15, hCandidateQ15, <i32>load<i16>(hAt));
  // the one-page build's blocks (layerStep) still read this h: the new one (Q0.15) waits in k's slot
  if (PAGE) store<i32>(kAt, hQ15);
  else store<i16>(hAt, <i16>hQ15);
}

/**
 * plstm.md section 1 for a layer at tick T: the time gate of the units the event visits, the W x and U h of those
 * it finds open (fixed/sums.ts), then each open unit's peephole LSTM candidate and gated update. x is the layer
 * input (i16, padded); with `nnz` >= 0 only the columns listed at `cols` are nonzero and only they are read.
 * Returns the number of open units.
 */
export function layerStep(m: Model, L: Layer, st: usize, T: i64, x: usize, cols: usize, nnz: i32): i32 {
  const kBuf = m.scratch + <usize>m.kOff;
  if (DENSE_GATE && gateIsDense(L, st)) {
    // the dense gate lists the open units in the scratch (model.ts, newHOff); a path of its own, so that the wheel's
    // below is the code of the builds without the scan
    const list = m.scratch + <usize>m.newHOff;
    const opened = timeGateDense(L, st, T, list, kBuf, st + <usize>m.streamBytes + denseBaseOffset(L));
    const denseSums = m.scratch + <usize>m.sumsOff;
    gateSums(L, st, list, x, cols, nnz, opened, denseSums);
    updateOpenUnits(L, st, list, opened, kBuf, denseSums);
    return opened;
  }
  const open = timeGate(L, st, T, kBuf);
  const sums = m.scratch + <usize>m.sumsOff;
  const active = st + <usize>L.activeOff;
  if (!PAGE) {
    gateSums(L, st, active, x, cols, nnz, open, sums);
    updateOpenUnits(L, st, active, open, kBuf, sums);
    return open;
  }
  // The one-page build sums and updates SUM_BLOCK units at a time, its scratch holding one block's sums; each unit's
  // new h waits in its k's slot until the last block has summed U h from the previous h, then all are written.
  for (let a = 0; a < open; a += SUM_BLOCK) {
    const list = active + (<usize>a << 2);
    const kAt = kBuf + (<usize>a << 2);
    const n = min(SUM_BLOCK, open - a);
    gateSums(L, st, list, x, cols, nnz, n, sums);
    updateOpenUnits(L, st, list, n, kAt, sums);
  }
  const h = st + <usize>L.hOff;
  for (let a = 0; a < open; a++) store<i16>(h + (<usize>load<i32>(active + (<usize>a << 2)) << 1), <i16>load<i32>(kBuf + (<usize>a << 2)));
  return open;
}

/** The form of toQ24 a layer takes, of those the build has (model.ts, FAST_SHIFTS and WIDE_SHIFTS). */
@inline function shiftsPath(L: Layer): i32 {
  return FAST_SHIFTS && L.fastShifts ? SHIFTS_FAST : WIDE_SHIFTS && L.wideShifts ? SHIFTS_WIDE : SHIFTS_CHECKED;
}

/** updateUnits in the form of toQ24 the layer takes (shiftsPath), tested in shiftsPath's order: in this shape the
 * event's code stays small enough for binaryen to inline it into the stream's step (with the path compared to
 * shiftsPath's value it stayed a call, 11 operators an event more). */
@inline function updateOpenUnits(L: Layer, st: usize, active: usize, open: i32, kBuf: usize, sums: usize): void {
  if (FAST_SHIFTS && L.fastShifts) updateUnitsFast(L, st, active, open, kBuf, sums);
  else if (WIDE_SHIFTS && L.wideShifts) updateUnitsWide(L, st, active, open, kBuf, sums);
  else updateUnitsChecked(L, st, active, open, kBuf, sums);
}

// updateUnits once for each form of toQ24 the build has (model.ts, FAST_SHIFTS and WIDE_SHIFTS), each in a function
// of its own so that the compiler keeps them apart: the fast and wide ones without a shift check.
function updateUnitsFast(L: Layer, st: usize, active: usize, open: i32, kBuf: usize, sums: usize): void {
  updateUnits(L, st, active, open, kBuf, sums, SHIFTS_FAST);
}

function updateUnitsWide(L: Layer, st: usize, active: usize, open: i32, kBuf: usize, sums: usize): void {
  updateUnits(L, st, active, open, kBuf, sums, SHIFTS_WIDE);
}

function updateUnitsChecked(L: Layer, st: usize, active: usize, open: i32, kBuf: usize, sums: usize): void {
  updateUnits(L, st, active, open, kBuf, sums, SHIFTS_CHECKED);
}

/** plstm.md section 2, "y = V h + d": row o of the last layer's readout, Q(vFrac + 15) (vFrac from the row's record). */
@inline export function readoutRow(m: Model, L: Layer, st: usize, o: i32): i64 {
  const Hp = L.hiddenPad;
  const row = m.readoutRows + <usize>o * ROW_RECORD_BYTES;
  return <i64>dot1(m.V + <usize>o * (<usize>Hp << 1), st + <usize>L.hOff, Hp) + <i64>load<i32>(row, ROW_BIAS);
}
