// One event through one layer of the fixed-point engine: integers only (plstm.md sections 1 and 3), in the named
// steps of the float64 reference (host/engine/reference.ts: the time gate, gatePreactivation, candidateCell,
// candidateHidden, gatedUpdate, layerStep), so the two read side by side.
//
// Formats (docs/fixed-point.md): x of layer 0 Q(inputFrac) i16, h Q0.15 i16, weights i16 with a format per gate
// row, pre-activations and biases Q7.24, gates and k Q0.15, cell Q11.20 i32, phase Q0.64 u64.

import {
  CELL_FRAC, PRE_FRAC, ROW_BIAS, ROW_RECORD_BYTES, UNIT_BIAS, UNIT_PEEPHOLE, UNIT_RECORD_BYTES, UNIT_U_FRAC, UNIT_W_FRAC,
} from "../contract/plsm";
import { FIXED_TIMING_BYTES, Layer, Model } from "../model";
import { setActiveCount, wheelDrain, wheelInsert } from "../schedule";
import { sigmoidQ15, tanhQ15 } from "./activation";
import { saturate16, saturate32, shiftRound } from "./arith";
import { dot1, dot4, dot4Sparse } from "./dot";

// Gate rows in a unit's weights and records: plstm.md's order i, f, g, o.
const GATE_I = 0;
const GATE_F = 1;
const GATE_G = 2;
const GATE_O = 3;

// The current unit's row sums: W x of gate g at 4g, U h at 16 + 4g (i32 each, exact: model.ts ROW_L1_LIMIT).
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
 * plstm.md section 1, the time gate (phi and k) of the units an event has to visit at tick T: the active units
 * and the units whose opening has come (schedule.ts). Open ones stay in the active list with their k (Q0.15) in
 * kOut; closed ones are filed under their next opening.
 * phase_j(T) = seed_j + floor(T * step_j / 2^32) (mod 2^64), step_j = 2^96 / tau_j in ticks (Q0.96, its high 64
 * bits and its low 32 apart): exact to T / 2^97 of a period, 2^-35 at the clock's 2^62 ticks. Returns the number
 * open.
 */
export function timeGate(L: Layer, st: usize, T: i64, kOut: usize): i32 {
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

/** The shift from Q(h's 15 + uFrac), U h's format, to Q7.24 is uFrac + H_SHIFT. */
const H_SHIFT = 15 - PRE_FRAC;

/**
 * plstm.md section 1, the sums inside i, f, g and o without the peephole term: W_g x + U_g h + b_g of gate g of a
 * unit, in Q7.24 (i64, saturated where it is narrowed). Each row has its own weight format, so W x, Q(wFrac +
 * xFrac), and U h, Q(uFrac + 15), are brought to Q7.24 apart: by wFrac + xShift (xShift = xFrac - 24) and uFrac +
 * H_SHIFT.
 */
@inline function gatePreactivation(unit: usize, g: i32, xShift: i32): i64 {
  const wFrac = <i32>load<i8>(unit + UNIT_W_FRAC + g);
  const uFrac = <i32>load<i8>(unit + UNIT_U_FRAC + g);
  return (
    shiftRound(<i64>load<i32>(sums + (<usize>g << 2)), wFrac + xShift) +
    shiftRound(<i64>load<i32>(sums + 16 + (<usize>g << 2)), uFrac + H_SHIFT) +
    <i64>load<i32>(unit + UNIT_BIAS + (<usize>g << 2))
  );
}

/** plstm.md section 1, "p * c" of the i, f (with c) and o (with c~) gates, in Q7.24: Q(pFrac) times Q11.20, shifted
 * by peepShift = pFrac + 20 - 24; slot 0, 1, 2 of the unit's peepholes. */
@inline function peephole(unit: usize, slot: i32, cellQ20: i32, peepShift: i32): i64 {
  return shiftRound(<i64>load<i16>(unit + UNIT_PEEPHOLE + (<usize>slot << 1)) * cellQ20, peepShift);
}

/** plstm.md section 1, "c~ = f * c + i * g": Q0.15 * Q11.20 >> 15 and Q0.15 * Q0.15 >> 10, both Q11.20. */
@inline function candidateCell(fQ15: i32, cQ20: i32, iQ15: i32, gQ15: i32): i32 {
  return saturate32(shiftRound(<i64>fQ15 * cQ20, 15) + shiftRound(<i64>iQ15 * gQ15, 30 - CELL_FRAC));
}

/** plstm.md section 1, "h~ = o * tanh(c~)": Q0.15 * Q0.15 >> 15, Q0.15 (c~ Q11.20 to Q7.24 for tanh). */
@inline function candidateHidden(oQ15: i32, cCandidateQ20: i32): i64 {
  return shiftRound(<i64>oQ15 * tanhQ15(saturate32(<i64>cCandidateQ20 << (PRE_FRAC - CELL_FRAC))), 15);
}

/** plstm.md section 1, the gated update "c <- k * c~ + (1 - k) * c", as c + k (c~ - c) with k in Q0.15; the same
 * for h. In the format of c or h, before it is narrowed. */
@inline function gatedUpdate(kQ15: i64, candidate: i64, previous: i64): i64 {
  return previous + shiftRound(kQ15 * (candidate - previous), 15);
}

/**
 * plstm.md section 1 for a layer at tick T: the time gate of the units the event visits, then for each open unit
 * the peephole LSTM candidate and its gated update, from the previous h and c (every unit sees the previous h:
 * the new values are committed after all are computed). x is the layer input (i16, padded); with `nnz` >= 0 only
 * the columns listed at `cols` are nonzero and only they are read. Returns the number of open units.
 */
export function layerStep(m: Model, L: Layer, st: usize, T: i64, x: usize, cols: usize, nnz: i32): i32 {
  const kBuf = m.scratch + <usize>m.kOff;
  const open = timeGate(L, st, T, kBuf);
  const h = st + <usize>L.hOff;
  const c = st + <usize>L.cOff;
  const active = st + <usize>L.activeOff;
  const newH = m.scratch + <usize>m.newHOff;
  const newC = m.scratch + <usize>m.newCOff;
  const Ip = L.inputPad;
  const Hp = L.hiddenPad;
  const wRowsBytes = <usize>Ip << 3; // 4 rows of Ip i16
  const uRowsBytes = <usize>Hp << 3;
  const xShift = L.xFrac - PRE_FRAC;
  const peepShift = L.pFrac + CELL_FRAC - PRE_FRAC;
  for (let a = 0; a < open; a++) {
    const j = load<i32>(active + (<usize>a << 2));
    if (nnz >= 0) dot4Sparse(L.W + <usize>j * wRowsBytes, Ip, x, cols, nnz, sums);
    else dot4(L.W + <usize>j * wRowsBytes, x, Ip, sums);
    dot4(L.U + <usize>j * uRowsBytes, h, Hp, sums + 16);
    const unit = L.units + <usize>j * UNIT_RECORD_BYTES;
    const cQ20 = load<i32>(c + (<usize>j << 2));
    let preIQ24 = gatePreactivation(unit, GATE_I, xShift);
    let preFQ24 = gatePreactivation(unit, GATE_F, xShift);
    const preGQ24 = gatePreactivation(unit, GATE_G, xShift);
    let preOQ24 = gatePreactivation(unit, GATE_O, xShift);
    if (L.hasPeephole) {
      preIQ24 += peephole(unit, 0, cQ20, peepShift);
      preFQ24 += peephole(unit, 1, cQ20, peepShift);
    }
    const iQ15 = sigmoidQ15(saturate32(preIQ24));
    const fQ15 = sigmoidQ15(saturate32(preFQ24));
    const gQ15 = tanhQ15(saturate32(preGQ24));
    const cCandidateQ20 = candidateCell(fQ15, cQ20, iQ15, gQ15);
    // the output peephole sees the candidate c~, not the gated c (its record slot is the third: i, f, o)
    if (L.hasPeephole) preOQ24 += peephole(unit, 2, cCandidateQ20, peepShift);
    const oQ15 = sigmoidQ15(saturate32(preOQ24));
    const hCandidateQ15 = candidateHidden(oQ15, cCandidateQ20);
    const kQ15 = <i64>load<i32>(kBuf + (<usize>a << 2));
    store<i32>(newC + (<usize>a << 2), saturate32(gatedUpdate(kQ15, cCandidateQ20, cQ20)));
    store<i32>(newH + (<usize>a << 2), saturate16(gatedUpdate(kQ15, hCandidateQ15, <i64>load<i16>(h + (<usize>j << 1)))));
  }
  for (let a = 0; a < open; a++) {
    const j = load<i32>(active + (<usize>a << 2));
    store<i16>(h + (<usize>j << 1), <i16>load<i32>(newH + (<usize>a << 2)));
    store<i32>(c + (<usize>j << 2), load<i32>(newC + (<usize>a << 2)));
  }
  return open;
}

/** plstm.md section 2, "y = V h + d" of the last layer into the model's y scratch (i64, Q(vFrac + 15) per row). */
export function readout(m: Model, L: Layer, st: usize): void {
  const h = st + <usize>L.hOff;
  const y = m.scratch + <usize>m.yOff;
  const Hp = L.hiddenPad;
  for (let o = 0; o < m.outputSize; o++) {
    const row = m.readoutRows + <usize>o * ROW_RECORD_BYTES;
    store<i64>(y + (<usize>o << 3), <i64>dot1(m.V + <usize>o * (<usize>Hp << 1), h, Hp) + <i64>load<i32>(row, ROW_BIAS));
  }
}
