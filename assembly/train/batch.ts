// Loading a batch: the host writes up to batchSize sequences into the input slots, sample-major; loadBatch
// checks them and lays them out by rows (layout.ts): sorted by length, longest first, event n of row b at row
// rowStart[n] + b. Loading is separate from the passes over the batch so that the stability guard can evaluate
// the gradient of one batch at several parameter points.
//
// Input slots, for sample s < count, event e < maxLength:
//   inLengths[s]                  i32, 1 .. maxLength
//   inT[s * maxLength + e]        f64, finite, non-decreasing within the sample
//   inX[(s * maxLength + e) * I]  f32 x I
//   inLabels[s]                   i32 in [0, O)               (cross-entropy)
//   inTargets[s * O]              f32 x O                     (mean squared error, readout "last")
//   inTargets[(s * maxLength + e) * O]  f32 x O               (mean squared error, readout "every")

import { E_INPUT, errInt, errText, fail } from "../errors";
import { LOSS_CROSS_ENTROPY, ORIGIN_SEQUENCE, READOUT_EVERY, Trainer, layerOf } from "./layout";

function sampleError(s: i32, what: string): i32 {
  fail(E_INPUT, "sample ");
  errInt(s);
  errText(": ");
  errText(what);
  return E_INPUT;
}

function eventError(s: i32, e: i32, what: string): i32 {
  sampleError(s, "event ");
  errInt(e);
  errText(" ");
  errText(what);
  return E_INPUT;
}

/** Checks the `count` samples in the input slots and lays them out by rows. Returns 0 or E_INPUT. */
export function loadBatch(tr: Trainer, count: i32): i32 {
  tr.loaded = 0;
  if (count < 1 || count > tr.batchSize) {
    fail(E_INPUT, "a batch holds 1 .. batchSize samples; got ");
    errInt(count);
    return E_INPUT;
  }
  const T = tr.maxLength;
  const I = tr.inputSize;
  const O = tr.outputSize;
  const every = tr.readoutMode == READOUT_EVERY;
  for (let s = 0; s < count; s++) {
    const len = load<i32>(tr.inLengths + (<usize>s << 2));
    if (len < 1 || len > T) {
      sampleError(s, "length must be 1 .. maxLength = ");
      errInt(T);
      errText(", got ");
      errInt(len);
      return E_INPUT;
    }
    let previous = -Infinity;
    for (let e = 0; e < len; e++) {
      const slot = <usize>(s * T + e);
      const t = load<f64>(tr.inT + (slot << 3));
      if (!isFinite<f64>(t)) return eventError(s, e, "has a timestamp that is not a finite number");
      if (t < previous) return eventError(s, e, "is earlier than the event before it: time must not go backwards within a sequence");
      previous = t;
      for (let i = 0; i < I; i++) {
        if (!isFinite<f32>(load<f32>(tr.inX + ((slot * I + i) << 2)))) return eventError(s, e, "has an input that is not a finite number");
      }
      if (every && tr.lossKind != LOSS_CROSS_ENTROPY) {
        for (let o = 0; o < O; o++) {
          if (!isFinite<f32>(load<f32>(tr.inTargets + ((slot * O + o) << 2)))) return eventError(s, e, "has a target that is not a finite number");
        }
      }
    }
    if (tr.lossKind == LOSS_CROSS_ENTROPY) {
      const label = load<i32>(tr.inLabels + (<usize>s << 2));
      if (label < 0 || label >= O) {
        sampleError(s, "label must be 0 .. outputs - 1 = ");
        errInt(O - 1);
        errText(", got ");
        errInt(label);
        return E_INPUT;
      }
    } else if (!every) {
      for (let o = 0; o < O; o++) {
        if (!isFinite<f32>(load<f32>(tr.inTargets + (<usize>(s * O + o) << 2)))) return sampleError(s, "has a target that is not a finite number");
      }
    }
  }

  // Rows by length, longest first; equal lengths keep the samples' order (insertion sort, count <= batchSize).
  for (let b = 0; b < count; b++) {
    const len = load<i32>(tr.inLengths + (<usize>b << 2));
    let at = b;
    while (at > 0 && load<i32>(tr.lengths + (<usize>(at - 1) << 2)) < len) {
      store<i32>(tr.lengths + (<usize>at << 2), load<i32>(tr.lengths + (<usize>(at - 1) << 2)));
      store<i32>(tr.order + (<usize>at << 2), load<i32>(tr.order + (<usize>(at - 1) << 2)));
      at--;
    }
    store<i32>(tr.lengths + (<usize>at << 2), len);
    store<i32>(tr.order + (<usize>at << 2), b);
  }
  const steps = load<i32>(tr.lengths);
  let rows = 0;
  let b = count;
  for (let n = 0; n < steps; n++) {
    while (load<i32>(tr.lengths + (<usize>(b - 1) << 2)) <= n) b--;
    store<i32>(tr.active + (<usize>n << 2), b);
    store<i32>(tr.rowStart + (<usize>n << 2), rows);
    rows += b;
  }
  store<i32>(tr.active + (<usize>steps << 2), 0);
  store<i32>(tr.rowStart + (<usize>steps << 2), rows);
  tr.count = count;
  tr.steps = steps;
  tr.rows = rows;

  const L0 = layerOf(tr, 0);
  const xhStride = <usize>L0.kPad << 2;
  for (let r = 0; r < count; r++) {
    const s = load<i32>(tr.order + (<usize>r << 2));
    const first = load<f64>(tr.inT + (<usize>(s * T) << 3));
    store<f64>(tr.tFirst + (<usize>r << 3), first);
    store<f64>(tr.origin + (<usize>r << 3), tr.timeOrigin == ORIGIN_SEQUENCE ? first : 0.0);
    if (tr.lossKind == LOSS_CROSS_ENTROPY) {
      store<i32>(tr.labels + (<usize>r << 2), load<i32>(tr.inLabels + (<usize>s << 2)));
    } else if (!every) {
      for (let o = 0; o < O; o++) store<f32>(tr.targets + (<usize>(r * O + o) << 2), load<f32>(tr.inTargets + (<usize>(s * O + o) << 2)));
    }
  }
  for (let n = 0; n < steps; n++) {
    const active = load<i32>(tr.active + (<usize>n << 2));
    const start = load<i32>(tr.rowStart + (<usize>n << 2));
    for (let r = 0; r < active; r++) {
      const m = start + r;
      const s = load<i32>(tr.order + (<usize>r << 2));
      const slot = <usize>(s * T + n);
      store<f64>(tr.dt + (<usize>m << 3), load<f64>(tr.inT + (slot << 3)) - load<f64>(tr.tFirst + (<usize>r << 3)));
      const xh = L0.xh + <usize>m * xhStride;
      for (let i = 0; i < I; i++) store<f32>(xh + (<usize>i << 2), load<f32>(tr.inX + ((slot * I + i) << 2)));
      if (every && tr.lossKind != LOSS_CROSS_ENTROPY) {
        for (let o = 0; o < O; o++) store<f32>(tr.targets + (<usize>(m * O + o) << 2), load<f32>(tr.inTargets + ((slot * O + o) << 2)));
      }
    }
  }
  tr.loaded = 1;
  return 0;
}
