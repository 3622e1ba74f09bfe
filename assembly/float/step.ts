// One event through one layer of the float engine: f32 arithmetic for the network (plstm.md sections 1 and 3),
// and the time gate's phase advanced exactly from the stream's first event, as in the fixed engine, so no
// absolute timestamp is ever rounded and a long stream does not drift.

import { ROW_BIAS, ROW_RECORD_BYTES, UNIT_BIAS, UNIT_PEEPHOLE_FLOAT, UNIT_RECORD_BYTES } from "../contract/plsm";
import { FLOAT_TIMING_BYTES, Layer, Model } from "../model";
import { setActiveCount, wheelDrain, wheelInsert } from "../schedule";
import { dot1f, dot4f, dot4fSparse } from "./dot";

// Gate rows in a unit's weights and records: plstm.md's order i, f, g, o.
const GATE_I = 0;
const GATE_F = 1;
const GATE_G = 2;
const GATE_O = 3;

// The current unit's row sums: W x of gate g at 4g, U h at 16 + 4g (f32 each).
const sums = memory.data(32, 16);

/** Wake a closed unit this fraction of its period early: the phase is off by far less (about 2^-50), and a unit
 * woken early is only looked at and filed again, so an early wake costs a visit while a late one would miss an
 * event. */
const WAKE_MARGIN: f64 = 1e-6;

/** 2^-53: a u64 phase shifted right by 11 bits, times this, is its fraction of a period as an f64. */
const TWO_POW_MINUS_53: f64 = 1.1102230246251565e-16;

/**
 * plstm.md section 1, the time gate (phi and k) of the units an event has to visit, `now` whole wake keys (2^-20
 * time units) and `fraction` of one after the stream's first event: the same schedule as the fixed engine
 * (fixed/step.ts, timeGate).
 * phi_j = frac(seed_j + now * step_j + fraction * keyPeriods_j): seed_j the exact phase at the first event (f64),
 * step_j the Q0.96 advance per key (model.ts, exact to 2^-97 of a period), so that now * step_j is exact modulo
 * whole periods for any stream the clock counts; only the last key's fraction is in f64. Returns the number open.
 */
export function timeGate(L: Layer, st: usize, now: i64, fraction: f64, kOut: usize): i32 {
  const active = st + <usize>L.activeOff;
  const seeds = st + <usize>L.seedOff;
  const nowHigh = <u64>now >>> 32;
  const nowLow = <u64>now & 0xffffffff;
  const candidates = wheelDrain(L, st, now);
  let open = 0;
  for (let a = 0; a < candidates; a++) {
    const j = load<i32>(active + (<usize>a << 2));
    const timing = L.timing + <usize>j * FLOAT_TIMING_BYTES;
    const low = load<u64>(timing, 8);
    const advance = <u64>now * load<u64>(timing) + nowHigh * low + ((nowLow * low) >>> 32);
    const cycles = load<f64>(seeds + (<usize>j << 3)) + <f64>(advance >>> 11) * TWO_POW_MINUS_53 + fraction * load<f64>(timing, 16);
    const phi = cycles - Math.floor(cycles);
    const rOn = load<f64>(timing, 24);
    if (phi < rOn) {
      const slope = load<f64>(timing, 40); // 2 / r_on
      const k = phi < 0.5 * rOn ? slope * phi : 2.0 - slope * phi;
      store<i32>(active + (<usize>open << 2), j);
      store<f32>(kOut + (<usize>open << 2), <f32>k);
      open++;
    } else {
      // keys until the window may open, rounded down (never late); a unit due within this key is filed under it,
      // so the next event, even one within the same key, looks at it again
      const ahead = Math.floor(Math.max(0.0, 1.0 - phi - WAKE_MARGIN) * load<f64>(timing, 32));
      wheelInsert(L, st, j, now + <i64>ahead);
    }
  }
  setActiveCount(L, st, open);
  return open;
}

@inline function sigmoid(x: f32): f32 {
  return 1.0 / (1.0 + Mathf.exp(-x));
}

/** plstm.md section 1, the sums inside i, f, g and o without the peephole term: W_g x + U_g h + b_g of gate g. */
@inline function gatePreactivation(unit: usize, g: i32): f32 {
  return load<f32>(sums + (<usize>g << 2)) + load<f32>(sums + 16 + (<usize>g << 2)) + load<f32>(unit + UNIT_BIAS + (<usize>g << 2));
}

/** plstm.md section 1, "p * c" of the i, f (with c) and o (with c~) gates; slot 0, 1, 2 of the unit's peepholes. */
@inline function peephole(unit: usize, slot: i32, cell: f32): f32 {
  return load<f32>(unit + UNIT_PEEPHOLE_FLOAT + (<usize>slot << 2)) * cell;
}

/** plstm.md section 1, "c~ = f * c + i * g". */
@inline function candidateCell(f: f32, c: f32, i: f32, g: f32): f32 {
  return f * c + i * g;
}

/** plstm.md section 1, "h~ = o * tanh(c~)". */
@inline function candidateHidden(o: f32, cCandidate: f32): f32 {
  return o * Mathf.tanh(cCandidate);
}

/** plstm.md section 1, the gated update "c <- k * c~ + (1 - k) * c", as c + k (c~ - c); the same for h. */
@inline function gatedUpdate(k: f32, candidate: f32, previous: f32): f32 {
  return previous + k * (candidate - previous);
}

/**
 * plstm.md section 1 for a layer at wake key `now` and `fraction` of one: the time gate of the units the event
 * visits, then for each open unit the candidate and its gated update, as the fixed engine's layerStep
 * (fixed/step.ts) in f32. Returns the number of open units.
 */
export function layerStep(m: Model, L: Layer, st: usize, now: i64, fraction: f64, x: usize, cols: usize, nnz: i32): i32 {
  const kBuf = m.scratch + <usize>m.kOff;
  const open = timeGate(L, st, now, fraction, kBuf);
  const h = st + <usize>L.hOff;
  const c = st + <usize>L.cOff;
  const active = st + <usize>L.activeOff;
  const newH = m.scratch + <usize>m.newHOff;
  const newC = m.scratch + <usize>m.newCOff;
  const Ip = L.inputPad;
  const Hp = L.hiddenPad;
  const wRowsBytes = <usize>Ip << 4; // 4 rows of Ip f32
  const uRowsBytes = <usize>Hp << 4;
  for (let a = 0; a < open; a++) {
    const j = load<i32>(active + (<usize>a << 2));
    if (nnz >= 0) dot4fSparse(L.W + <usize>j * wRowsBytes, Ip, x, cols, nnz, sums);
    else dot4f(L.W + <usize>j * wRowsBytes, x, Ip, sums);
    dot4f(L.U + <usize>j * uRowsBytes, h, Hp, sums + 16);
    const unit = L.units + <usize>j * UNIT_RECORD_BYTES;
    const cPrev = load<f32>(c + (<usize>j << 2));
    let preI = gatePreactivation(unit, GATE_I);
    let preF = gatePreactivation(unit, GATE_F);
    const preG = gatePreactivation(unit, GATE_G);
    let preO = gatePreactivation(unit, GATE_O);
    if (L.hasPeephole) {
      preI += peephole(unit, 0, cPrev);
      preF += peephole(unit, 1, cPrev);
    }
    const cCandidate = candidateCell(sigmoid(preF), cPrev, sigmoid(preI), Mathf.tanh(preG));
    if (L.hasPeephole) preO += peephole(unit, 2, cCandidate); // sees c~, not c
    const hCandidate = candidateHidden(sigmoid(preO), cCandidate);
    const k = load<f32>(kBuf + (<usize>a << 2));
    store<f32>(newC + (<usize>a << 2), gatedUpdate(k, cCandidate, cPrev));
    store<f32>(newH + (<usize>a << 2), gatedUpdate(k, hCandidate, load<f32>(h + (<usize>j << 2))));
  }
  for (let a = 0; a < open; a++) {
    const j = load<i32>(active + (<usize>a << 2));
    store<f32>(h + (<usize>j << 2), load<f32>(newH + (<usize>a << 2)));
    store<f32>(c + (<usize>j << 2), load<f32>(newC + (<usize>a << 2)));
  }
  return open;
}

/** plstm.md section 2, "y = V h + d" of the last layer into the model's y scratch (f64 slots holding f32 values). */
export function readout(m: Model, L: Layer, st: usize): void {
  const h = st + <usize>L.hOff;
  const y = m.scratch + <usize>m.yOff;
  const Hp = L.hiddenPad;
  for (let o = 0; o < m.outputSize; o++) {
    const row = m.readoutRows + <usize>o * ROW_RECORD_BYTES;
    store<f64>(y + (<usize>o << 3), <f64>(dot1f(m.V + <usize>o * (<usize>Hp << 2), h, Hp) + load<f32>(row, ROW_BIAS)));
  }
}
