// The readout y = V h + d (plstm.md section 2) and the loss of section 5, the mean over the batch's sequences:
//   cross-entropy, readout "last":  log sum_o exp(y_o) - y_label at the sequence's last event
//   squared error, readout "last":  (1/O) sum_o (y_o - target_o)^2 at the last event
//   squared error, readout "every": the mean over the sequence's events of (1/O) sum_o (y_o - target_o)^2
// Outputs are f32 sums (over units in increasing order, in both builds); the loss itself is summed in f64.

import { LOSS_CROSS_ENTROPY, READOUT_EVERY, Trainer, layerOf } from "./layout";

/** y of row m of the last layer into y + slot * O. */
function outputsOf(tr: Trainer, m: i32, slot: i32): void {
  const L = layerOf(tr, tr.layerCount - 1);
  const h = L.hOut + (<usize>m * L.hiddenPad << 2);
  const Hp = tr.maxHiddenPad;
  for (let o = 0; o < tr.outputSize; o++) {
    const v = tr.vPad + (<usize>(o * Hp) << 2);
    let sum: f32 = 0;
    for (let j = 0; j < L.hiddenSize; j++) sum += load<f32>(v + (<usize>j << 2)) * load<f32>(h + (<usize>j << 2));
    store<f32>(tr.y + (<usize>(slot * tr.outputSize + o) << 2), sum + load<f32>(tr.dPad + (<usize>o << 2)));
  }
}

/** The row of sequence r's last event. */
@inline function lastRow(tr: Trainer, r: i32): i32 {
  return load<i32>(tr.rowStart + (<usize>(load<i32>(tr.lengths + (<usize>r << 2)) - 1) << 2)) + r;
}

/** The final outputs of every sequence, as f64, in the order the samples were given (predict). */
export function predictOutputs(tr: Trainer): void {
  const O = tr.outputSize;
  for (let r = 0; r < tr.count; r++) {
    outputsOf(tr, lastRow(tr, r), r);
    const s = load<i32>(tr.order + (<usize>r << 2));
    for (let o = 0; o < O; o++) {
      store<f64>(tr.predicted + (<usize>(s * O + o) << 3), <f64>load<f32>(tr.y + (<usize>(r * O + o) << 2)));
    }
  }
}

/**
 * The batch's mean loss; with `gradient`, also overwrites each output with d loss / d y, for readoutBackward.
 * Readout "last" keeps sequence r's outputs in slot r, readout "every" row m's in slot m.
 */
export function lossOfBatch(tr: Trainer, gradient: bool): f64 {
  const O = tr.outputSize;
  const perSequence = 1.0 / <f64>tr.count;
  let total: f64 = 0;
  if (tr.readoutMode == READOUT_EVERY) {
    for (let n = 0; n < tr.steps; n++) {
      const rows = load<i32>(tr.active + (<usize>n << 2));
      const start = load<i32>(tr.rowStart + (<usize>n << 2));
      for (let r = 0; r < rows; r++) {
        const m = start + r;
        outputsOf(tr, m, m);
        const weight = perSequence / <f64>(O * load<i32>(tr.lengths + (<usize>r << 2)));
        total += squaredError(tr, m, m, weight, gradient);
      }
    }
    return total;
  }
  for (let r = 0; r < tr.count; r++) {
    outputsOf(tr, lastRow(tr, r), r);
    if (tr.lossKind == LOSS_CROSS_ENTROPY) {
      total += crossEntropy(tr, r, perSequence, gradient);
    } else {
      total += squaredError(tr, r, r, perSequence / <f64>O, gradient);
    }
  }
  return total;
}

/** weight * sum_o (y_o - target_o)^2 for the outputs in slot `slot` and the targets in slot `targetSlot`. */
function squaredError(tr: Trainer, slot: i32, targetSlot: i32, weight: f64, gradient: bool): f64 {
  let sum: f64 = 0;
  for (let o = 0; o < tr.outputSize; o++) {
    const at = <usize>(slot * tr.outputSize + o) << 2;
    const e = <f64>load<f32>(tr.y + at) - <f64>load<f32>(tr.targets + (<usize>(targetSlot * tr.outputSize + o) << 2));
    sum += e * e;
    if (gradient) store<f32>(tr.y + at, <f32>(2.0 * weight * e));
  }
  return weight * sum;
}

/** weight * (log sum_o exp(y_o) - y_label) for sequence r, computed from the largest y so exp cannot overflow. */
function crossEntropy(tr: Trainer, r: i32, weight: f64, gradient: bool): f64 {
  const O = tr.outputSize;
  const y = tr.y + (<usize>(r * O) << 2);
  let largest = -Infinity;
  for (let o = 0; o < O; o++) largest = Math.max(largest, <f64>load<f32>(y + (<usize>o << 2)));
  let sum: f64 = 0;
  for (let o = 0; o < O; o++) sum += Math.exp(<f64>load<f32>(y + (<usize>o << 2)) - largest);
  const label = load<i32>(tr.labels + (<usize>r << 2));
  const loss = largest + Math.log(sum) - <f64>load<f32>(y + (<usize>label << 2));
  if (gradient) {
    for (let o = 0; o < O; o++) {
      const at = y + (<usize>o << 2);
      const p = Math.exp(<f64>load<f32>(at) - largest) / sum;
      store<f32>(at, <f32>(weight * (p - (o == label ? 1.0 : 0.0))));
    }
  }
  return weight * loss;
}

/**
 * From d loss / d y (left in the output slots by lossOfBatch): dV, dd, and the gradient by the last layer's h at
 * every row, into that layer's dhExt (zero where no output was read).
 */
export function readoutBackward(tr: Trainer): void {
  const L = layerOf(tr, tr.layerCount - 1);
  const O = tr.outputSize;
  const H = L.hiddenSize;
  const Hp = tr.maxHiddenPad;
  const unitBytes = <usize>L.hiddenPad << 2;
  memory.fill(L.dhExt, 0, <usize>tr.rows * unitBytes);
  memory.fill(tr.dV, 0, <usize>(O * Hp) << 2);
  memory.fill(tr.dD, 0, <usize>O << 2);
  if (tr.readoutMode == READOUT_EVERY) {
    for (let m = 0; m < tr.rows; m++) outputBackward(tr, m, m, H, Hp, unitBytes);
  } else {
    for (let r = 0; r < tr.count; r++) outputBackward(tr, lastRow(tr, r), r, H, Hp, unitBytes);
  }
}

function outputBackward(tr: Trainer, m: i32, slot: i32, H: i32, Hp: i32, unitBytes: usize): void {
  const L = layerOf(tr, tr.layerCount - 1);
  const h = L.hOut + <usize>m * unitBytes;
  const dh = L.dhExt + <usize>m * unitBytes;
  for (let o = 0; o < tr.outputSize; o++) {
    const dy = load<f32>(tr.y + (<usize>(slot * tr.outputSize + o) << 2));
    const v = tr.vPad + (<usize>(o * Hp) << 2);
    const dv = tr.dV + (<usize>(o * Hp) << 2);
    for (let j = 0; j < H; j++) {
      const at = <usize>j << 2;
      store<f32>(dh + at, load<f32>(dh + at) + dy * load<f32>(v + at));
      store<f32>(dv + at, load<f32>(dv + at) + dy * load<f32>(h + at));
    }
    store<f32>(tr.dD + (<usize>o << 2), load<f32>(tr.dD + (<usize>o << 2)) + dy);
  }
}
