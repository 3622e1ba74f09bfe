// The time gate of plstm.md section 1 for the rows of one time step, with what the backward pass needs of it:
// k, its slope dk/dphi on the piece phi falls in (+2/r_on rising, -2/r_on falling, alpha closed: section 5),
// the unreduced (t - s) / tau that d phi / d log tau is minus of, and dk / d r_on for a trained r_on: k = 2 phi / r_on
// rising and 2 - 2 phi / r_on falling, so dk / d r_on = -k / r_on rising, (2 - k) / r_on falling, 0 closed.
//
// Time: the phase of row b at its event n is phi = frac(seed_b + dt / tau), dt = t_n - t_first in f64 (the
// difference of two nearby doubles: exact or nearly), seed_b the exact phase (phase.ts) at the row's first event
// on the trainer's time origin: the sequence's own first event (ORIGIN_SEQUENCE, the default; then seed =
// frac(-s / tau)) or the timestamps as given (ORIGIN_ABSOLUTE). No absolute timestamp is ever held in f32.

import { exactPhase } from "../phase";
import { Trainer, TrainLayer } from "./layout";

/** seed and base of every (row, unit) of the loaded batch, for the current tau and shift. */
export function seedPhases(tr: Trainer, L: TrainLayer): void {
  const H = L.hiddenSize;
  const rowBytes = <usize>L.hiddenPad << 3;
  for (let r = 0; r < tr.count; r++) {
    const t0 = load<f64>(tr.tFirst + (<usize>r << 3)) - load<f64>(tr.origin + (<usize>r << 3));
    const seed = L.seed + <usize>r * rowBytes;
    const base = L.base + <usize>r * rowBytes;
    for (let j = 0; j < H; j++) {
      const at = <usize>j << 3;
      const s = load<f64>(L.shift + at);
      const tau = load<f64>(L.tau + at);
      store<f64>(seed + at, exactPhase(t0, s, tau));
      store<f64>(base + at, (t0 - s) / tau);
    }
  }
}

/**
 * k, dk/dphi and (t - s) / tau (f32) of every row of step n and every real unit; padded units keep k = 0. With
 * `listOpen` (a pass that skips closed units: sparse.ts), each row's open units instead, in ascending order, and
 * the values of those only: nothing reads a closed unit's then.
 */
export function timeGateStep(tr: Trainer, L: TrainLayer, n: i32, alpha: f64, listOpen: bool): void {
  const H = L.hiddenSize;
  const rows = load<i32>(tr.active + (<usize>n << 2));
  const start = load<i32>(tr.rowStart + (<usize>n << 2));
  const rowBytes64 = <usize>L.hiddenPad << 3;
  const rowBytes32 = <usize>L.hiddenPad << 2;
  for (let r = 0; r < rows; r++) {
    const m = start + r;
    const dt = load<f64>(tr.dt + (<usize>m << 3));
    const seed = L.seed + <usize>r * rowBytes64;
    const base = L.base + <usize>r * rowBytes64;
    const row = <usize>m * rowBytes32;
    const open = L.openUnits + row;
    let opened = 0;
    for (let j = 0; j < H; j++) {
      const at = <usize>j << 3;
      const advance = dt * load<f64>(L.invTau + at);
      const c = load<f64>(seed + at) + advance;
      const phi = c - Math.floor(c);
      if (!listOpen) {
        gateValues(L, row, j, phi, load<f64>(base + at) + advance, alpha);
      } else if (phi < load<f64>(L.rOn + at)) {
        store<i32>(open + (<usize>opened << 2), j);
        opened++;
        gateValues(L, row, j, phi, load<f64>(base + at) + advance, alpha);
      }
    }
    store<i32>(L.openCount + (<usize>m << 2), opened);
    tr.pairsComputed += listOpen ? opened : H;
    tr.pairsSeen += H;
  }
}

/** Unit j's k, dk/dphi, dk / d r_on and (t - s) / tau at phase phi, into the row at byte offset `row`. */
@inline function gateValues(L: TrainLayer, row: usize, j: i32, phi: f64, cycles: f64, alpha: f64): void {
  const rOn = load<f64>(L.rOn + (<usize>j << 3));
  const twoOverR = load<f64>(L.twoOverROn + (<usize>j << 3));
  let k: f64;
  let slope: f32;
  let byROn: f64;
  if (phi < 0.5 * rOn) {
    k = phi * twoOverR;
    slope = <f32>twoOverR;
    byROn = -0.5 * k * twoOverR;
  } else if (phi < rOn) {
    k = 2.0 - phi * twoOverR;
    slope = <f32>-twoOverR;
    byROn = 0.5 * (2.0 - k) * twoOverR;
  } else {
    k = alpha * phi;
    slope = <f32>alpha;
    byROn = 0;
  }
  const at = row + (<usize>j << 2);
  store<f32>(L.gateK + at, <f32>k);
  store<f32>(L.slope + at, slope);
  store<f32>(L.ronSlope + at, <f32>byROn);
  store<f32>(L.cycles + at, <f32>cycles);
}
