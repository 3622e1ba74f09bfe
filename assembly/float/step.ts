// One event through one layer of the float engine: f32 arithmetic for the network (plstm.md sections 1 and 3),
// f64 for time, measured from the stream's first event so no absolute timestamp is ever rounded.

import { FLOAT_KEYS_PER_UNIT, Layer, Model, TIMING_BYTES, UNIT_RECORD_BYTES } from "../model";
import { setActiveCount, wheelDrain, wheelInsert } from "../schedule";
import { dot1f, dot4f, dot4fSparse } from "./dot";

// Sums of the current unit's four gate rows: W x into [0..3], U h into [4..7].
const sums = memory.data(32, 16);

/** Wake a closed unit this fraction of its period early: the f64 phase is off by far less, and a unit woken
 * early is only looked at and sent back, so an early wake costs a visit while a late one would miss an event. */
const WAKE_MARGIN: f64 = 1e-6;

/** Wake key of the time a closed unit (phase phi at dt) may next be open, rounded down (never late), and
 * always after the current event's key. */
@inline function nextOpening(dt: f64, phi: f64, tau: f64, now: i64): i64 {
  const key = <i64>Math.floor((dt + Math.max(0.0, 1.0 - phi - WAKE_MARGIN) * tau) * FLOAT_KEYS_PER_UNIT);
  return key > now ? key : now + 1;
}

/**
 * Time gate for the units an event has to visit at dt (time since the stream's first event): the same
 * schedule as the fixed engine (fixedTimeGate), with wake keys in 2^-20 time units.
 * phi_j = frac(seed_j + dt / tau_j), seed_j the exact phase at the first event. Returns the number open.
 */
export function floatTimeGate(L: Layer, st: usize, dt: f64, kOut: usize): i32 {
  const active = st + <usize>L.activeOff;
  const seeds = st + <usize>L.seedOff;
  const now = <i64>Math.floor(dt * FLOAT_KEYS_PER_UNIT);
  const candidates = wheelDrain(L, st, now);
  let open = 0;
  for (let a = 0; a < candidates; a++) {
    const j = load<i32>(active + (<usize>a << 2));
    const timing = L.timing + <usize>j * TIMING_BYTES;
    const cycles = load<f64>(seeds + (<usize>j << 3)) + dt * load<f64>(timing);
    const phi = cycles - Math.floor(cycles);
    const rOn = load<f64>(timing, 8);
    if (phi < rOn) {
      const slope = load<f64>(timing, 24); // 2 / r_on
      const k = phi < 0.5 * rOn ? slope * phi : 2.0 - slope * phi;
      store<i32>(active + (<usize>open << 2), j);
      store<f32>(kOut + (<usize>open << 2), <f32>k);
      open++;
    } else {
      wheelInsert(L, st, j, nextOpening(dt, phi, load<f64>(timing, 16), now));
    }
  }
  setActiveCount(L, st, open);
  return open;
}

@inline function sigmoid(x: f32): f32 {
  return 1.0 / (1.0 + Mathf.exp(-x));
}

/** Candidate and gated update for the open units, as fixedUpdateUnits (fixed/step.ts) in f32. */
export function floatUpdateUnits(m: Model, L: Layer, st: usize, x: usize, cols: usize, nnz: i32, open: i32): void {
  const h = st + <usize>L.hOff;
  const c = st + <usize>L.cOff;
  const active = st + <usize>L.activeOff;
  const kIn = m.scratch + <usize>m.kOff;
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
    let preI = load<f32>(sums) + load<f32>(sums, 16) + load<f32>(unit);
    let preF = load<f32>(sums, 4) + load<f32>(sums, 20) + load<f32>(unit, 4);
    const preG = load<f32>(sums, 8) + load<f32>(sums, 24) + load<f32>(unit, 8);
    let preO = load<f32>(sums, 12) + load<f32>(sums, 28) + load<f32>(unit, 12);
    if (L.hasPeephole) {
      preI += load<f32>(unit, 16) * cPrev;
      preF += load<f32>(unit, 20) * cPrev;
    }
    const cand = sigmoid(preF) * cPrev + sigmoid(preI) * Mathf.tanh(preG);
    if (L.hasPeephole) preO += load<f32>(unit, 24) * cand; // sees c~, not c
    const hCand = sigmoid(preO) * Mathf.tanh(cand);
    const k = load<f32>(kIn + (<usize>a << 2));
    const hPrev = load<f32>(h + (<usize>j << 2));
    store<f32>(newC + (<usize>a << 2), cPrev + k * (cand - cPrev));
    store<f32>(newH + (<usize>a << 2), hPrev + k * (hCand - hPrev));
  }
  for (let a = 0; a < open; a++) {
    const j = load<i32>(active + (<usize>a << 2));
    store<f32>(h + (<usize>j << 2), load<f32>(newH + (<usize>a << 2)));
    store<f32>(c + (<usize>j << 2), load<f32>(newC + (<usize>a << 2)));
  }
}

/** Readout y = V h + d of the last layer into the model's y scratch (f64 slots holding f32 values). */
export function floatReadout(m: Model, L: Layer, st: usize): void {
  const h = st + <usize>L.hOff;
  const y = m.scratch + <usize>m.yOff;
  const Hp = L.hiddenPad;
  for (let o = 0; o < m.outputSize; o++) {
    const row = m.readoutRows + <usize>o * 8;
    store<f64>(y + (<usize>o << 3), <f64>(dot1f(m.V + <usize>o * (<usize>Hp << 2), h, Hp) + load<f32>(row)));
  }
}
