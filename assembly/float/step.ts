// One event through one layer of the float engine: f32 arithmetic for the network (plstm.md sections 1 and 3),
// f64 for time, measured from the stream's first event so no absolute timestamp is ever rounded.

import { Layer, Model, TIME_RECORD_BYTES, UNIT_RECORD_BYTES } from "../model";
import { heapPopRoot, heapPush } from "../schedule";
import { dot1f, dot4f, dot4fSparse } from "./dot";

// Sums of the current unit's four gate rows: W x into [0..3], U h into [4..7].
const sums = memory.data(32, 16);

/** Wake a closed unit this fraction of its period early: the f64 phase is off by far less, and a unit woken
 * early is only evaluated and sent back, so an early wake costs a visit while a late one would miss an event. */
const WAKE_MARGIN: f64 = 1e-6;

/**
 * Time gate for the units an event has to visit at dt (time since the stream's first event): the same
 * schedule as the fixed engine, with heap keys the bits of non-negative f64 times.
 * phi_j = frac(seed_j + dt / tau_j), seed_j the exact phase at the first event. Returns the number open.
 */
export function floatTimeGate(L: Layer, st: usize, dt: f64, kOut: usize): i32 {
  const keys = st + <usize>L.heapKeyOff;
  const heapUnits = st + <usize>L.heapUnitOff;
  const active = st + <usize>L.activeOff;
  let heapSize = load<i32>(st + <usize>L.heapSizeOff);
  let activeCount = load<i32>(st + <usize>L.activeCountOff);
  const now = reinterpret<i64>(dt);
  while (heapSize > 0 && load<i64>(keys) <= now) {
    store<i32>(active + (<usize>(activeCount++) << 2), load<i32>(heapUnits));
    heapSize = heapPopRoot(keys, heapUnits, heapSize);
  }
  let open = 0;
  for (let a = 0; a < activeCount; a++) {
    const j = load<i32>(active + (<usize>a << 2));
    const time = L.time + <usize>j * TIME_RECORD_BYTES;
    const tau = load<f64>(time, 0);
    const rOn = load<f64>(time, 16);
    const cycles = load<f64>(st + <usize>L.seedOff + (<usize>j << 3)) + dt / tau;
    const phi = cycles - Math.floor(cycles);
    if (phi < rOn) {
      const k = phi < 0.5 * rOn ? (2.0 * phi) / rOn : 2.0 - (2.0 * phi) / rOn;
      store<i32>(active + (<usize>open << 2), j);
      store<f32>(kOut + (<usize>open << 2), <f32>k);
      open++;
    } else {
      const wake = dt + Math.max(0.0, 1.0 - phi - WAKE_MARGIN) * tau;
      heapSize = heapPush(keys, heapUnits, heapSize, reinterpret<i64>(wake), j);
    }
  }
  store<i32>(st + <usize>L.heapSizeOff, heapSize);
  store<i32>(st + <usize>L.activeCountOff, open);
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

/** Readout y = V h + d of the last layer into the stream's y slots (f64 slots holding f32 values). */
export function floatReadout(m: Model, L: Layer, st: usize): void {
  const h = st + <usize>L.hOff;
  const y = st + <usize>m.yOff;
  const Hp = L.hiddenPad;
  for (let o = 0; o < m.outputSize; o++) {
    const row = m.readoutRows + <usize>o * 8;
    store<f64>(y + (<usize>o << 3), <f64>(dot1f(m.V + <usize>o * (<usize>Hp << 2), h, Hp) + load<f32>(row)));
  }
}
