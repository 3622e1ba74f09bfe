// One event through one layer of the fixed-point engine: integers only (plstm.md sections 1 and 3).
//
// Formats (docs/fixed-point.md): x of layer 0 Q(inputFrac) i16, h Q0.15 i16, weights i16 with a format per
// gate row, pre-activations Q7.24 i32, gates and k Q0.15, cell Q11.20 i32, phase Q0.64 u64.

import { CELL_FRAC, PRE_FRAC, ROW_BIAS, ROW_RECORD_BYTES, UNIT_BIAS, UNIT_PEEPHOLE, UNIT_RECORD_BYTES, UNIT_U_FRAC, UNIT_W_FRAC } from "../contract/plsm";
import { FIXED_TIMING_BYTES, Layer, Model } from "../model";
import { setActiveCount, wheelDrain, wheelInsert } from "../schedule";
import { sigmoidQ15, tanhQ15 } from "./activation";
import { saturate16, saturate32, shiftRound } from "./arith";
import { dot1, dot4, dot4Sparse } from "./dot";

/** k = 1 in Q0.15 */
const ONE_Q15: i32 = 32768;

// Sums of the current unit's four gate rows: W x into [0..3], U h into [4..7].
const sums = memory.data(32, 16);

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
 * exact count (a unit is never woken late, at worst a tick or two early, which costs a visit) and is at least
 * T + 1 (the unit is closed at T).
 */
@inline function nextOpening(T: i64, phase: u64, period: u64): i64 {
  let ticks = mulHigh(0 - phase, period);
  if (ticks == 0) ticks = 1;
  return ticks > <u64>(i64.MAX_VALUE - T) ? i64.MAX_VALUE : T + <i64>ticks;
}

/**
 * Time gate (plstm.md section 1, phi and k) for the units an event has to visit at tick T: the active units
 * and the units whose opening has come (schedule.ts). Open ones stay in the active list with their k (Q0.15)
 * in kOut; closed ones are filed under their next opening.
 * phase_j(T) = seed_j + floor(T * step_j / 2^32) (mod 2^64), step_j = 2^96 / tau_j in ticks (Q0.96, its high 64
 * bits and its low 32 apart): exact to T / 2^97 of a period, 2^-35 at the clock's 2^62 ticks. Returns the number
 * open.
 */
export function fixedTimeGate(L: Layer, st: usize, T: i64, kOut: usize): i32 {
  const active = st + <usize>L.activeOff;
  const seeds = st + <usize>L.seedOff;
  const tHigh = <u64>T >>> 32;
  const tLow = <u64>T & 0xffffffff;
  const candidates = wheelDrain(L, st, T);
  let open = 0;
  for (let a = 0; a < candidates; a++) {
    const j = load<i32>(active + (<usize>a << 2));
    const timing = L.timing + <usize>j * FIXED_TIMING_BYTES;
    const low = <u64>load<u32>(timing, 12);
    const phase = load<u64>(seeds + (<usize>j << 3)) + <u64>T * load<u64>(timing) + tHigh * low + ((tLow * low) >>> 32);
    const phi = phase >>> 32; // Q0.32
    const on = <u64>load<u32>(timing, 8) << 1; // r_on in Q0.32
    if (phi < on) {
      // k = phi / (r_on / 2) rising, (r_on - phi) / (r_on / 2) falling: Q0.15, at most 2^15
      const fromEdge = phi < on >>> 1 ? phi : on - phi;
      store<i32>(active + (<usize>open << 2), j);
      store<i32>(kOut + (<usize>open << 2), <i32>((fromEdge * load<u64>(timing, 16)) >>> 32));
      open++;
    } else {
      wheelInsert(L, st, j, nextOpening(T, phase, load<u64>(timing, 24)));
    }
  }
  setActiveCount(L, st, open);
  return open;
}

/**
 * The peephole LSTM candidate and the gated update (plstm.md section 1) for the `open` units listed in the
 * active list, from the previous h and c; all new values are computed first and then committed, so every unit
 * sees the previous h. x is the layer input (i16, padded); with `nnz` >= 0 only the columns listed at `cols`
 * are nonzero and only they are read.
 */
export function fixedUpdateUnits(m: Model, L: Layer, st: usize, x: usize, cols: usize, nnz: i32, open: i32): void {
  const h = st + <usize>L.hOff;
  const c = st + <usize>L.cOff;
  const active = st + <usize>L.activeOff;
  const kIn = m.scratch + <usize>m.kOff;
  const newH = m.scratch + <usize>m.newHOff;
  const newC = m.scratch + <usize>m.newCOff;
  const Ip = L.inputPad;
  const Hp = L.hiddenPad;
  const wRowsBytes = <usize>Ip << 3; // 4 rows of Ip i16
  const uRowsBytes = <usize>Hp << 3;
  const xShift = L.xFrac - PRE_FRAC;
  const hShift = 15 - PRE_FRAC;
  const peepShift = L.pFrac + CELL_FRAC - PRE_FRAC;
  for (let a = 0; a < open; a++) {
    const j = load<i32>(active + (<usize>a << 2));
    if (nnz >= 0) dot4Sparse(L.W + <usize>j * wRowsBytes, Ip, x, cols, nnz, sums);
    else dot4(L.W + <usize>j * wRowsBytes, x, Ip, sums);
    dot4(L.U + <usize>j * uRowsBytes, h, Hp, sums + 16);
    const unit = L.units + <usize>j * UNIT_RECORD_BYTES;
    const cPrev = load<i32>(c + (<usize>j << 2)); // Q11.20
    let preI = preActivation(unit, 0, xShift, hShift);
    let preF = preActivation(unit, 1, xShift, hShift);
    const preG = preActivation(unit, 2, xShift, hShift);
    let preO = preActivation(unit, 3, xShift, hShift);
    if (L.hasPeephole) {
      preI += shiftRound(<i64>load<i16>(unit, UNIT_PEEPHOLE) * cPrev, peepShift);
      preF += shiftRound(<i64>load<i16>(unit, UNIT_PEEPHOLE + 2) * cPrev, peepShift);
    }
    const gateI = sigmoidQ15(saturate32(preI));
    const gateF = sigmoidQ15(saturate32(preF));
    const gateG = tanhQ15(saturate32(preG));
    // c~ = f * c + i * g: Q0.15 * Q11.20 >> 15 and Q0.15 * Q0.15 >> 10 are both Q11.20
    const cand = saturate32(shiftRound(<i64>gateF * cPrev, 15) + shiftRound(<i64>gateI * gateG, 30 - CELL_FRAC));
    if (L.hasPeephole) preO += shiftRound(<i64>load<i16>(unit, UNIT_PEEPHOLE + 4) * cand, peepShift); // sees c~, not c
    const gateO = sigmoidQ15(saturate32(preO));
    const hCand = shiftRound(<i64>gateO * tanhQ15(saturate32(<i64>cand << (PRE_FRAC - CELL_FRAC))), 15);
    // Gated update: c <- c + k (c~ - c), h <- h + k (h~ - h), k in Q0.15.
    const k = <i64>load<i32>(kIn + (<usize>a << 2));
    const hPrev = <i64>load<i16>(h + (<usize>j << 1));
    store<i32>(newC + (<usize>a << 2), saturate32(cPrev + shiftRound(k * (<i64>cand - cPrev), 15)));
    store<i32>(newH + (<usize>a << 2), saturate16(hPrev + shiftRound(k * (hCand - hPrev), 15)));
  }
  for (let a = 0; a < open; a++) {
    const j = load<i32>(active + (<usize>a << 2));
    store<i16>(h + (<usize>j << 1), <i16>load<i32>(newH + (<usize>a << 2)));
    store<i32>(c + (<usize>j << 2), load<i32>(newC + (<usize>a << 2)));
  }
}

/** W x + U h + b of gate g in Q7.24 (i64, saturated by the caller): each row has its own weight format. */
@inline function preActivation(unit: usize, g: i32, xShift: i32, hShift: i32): i64 {
  const wFrac = <i32>load<i8>(unit + UNIT_W_FRAC + g);
  const uFrac = <i32>load<i8>(unit + UNIT_U_FRAC + g);
  return (
    shiftRound(<i64>load<i32>(sums + (<usize>g << 2)), wFrac + xShift) +
    shiftRound(<i64>load<i32>(sums + 16 + (<usize>g << 2)), uFrac + hShift) +
    <i64>load<i32>(unit + UNIT_BIAS + (<usize>g << 2))
  );
}

/** Readout y = V h + d of the last layer into the model's y scratch (i64, Q(vFrac + 15) per row). */
export function fixedReadout(m: Model, L: Layer, st: usize): void {
  const h = st + <usize>L.hOff;
  const y = m.scratch + <usize>m.yOff;
  const Hp = L.hiddenPad;
  for (let o = 0; o < m.outputSize; o++) {
    const row = m.readoutRows + <usize>o * ROW_RECORD_BYTES;
    store<i64>(y + (<usize>o << 3), <i64>dot1(m.V + <usize>o * (<usize>Hp << 1), h, Hp) + <i64>load<i32>(row, ROW_BIAS));
  }
}
