// A pass over the loaded batch: forward through the layers and time, then backpropagation through time over
// whole sequences (plstm.md section 5). Per time step the rows of all running sequences go through one matrix
// product, [x | h | 1] [W | U | b]^T; per layer the weight gradient is one product over every row of the batch.

import { gemm } from "./gemm";
import { cellBackwardStep, cellForwardStep } from "./cell";
import { Trainer, TrainLayer, UNIT_SUMS, layerOf } from "./layout";
import { lossOfBatch, readoutBackward } from "./loss";
import { packParameters, scatterGradient } from "./params";
import { openWeightGradient } from "./sparse";
import { seedPhases, timeGateStep } from "./timegate";

@inline function activeAt(tr: Trainer, n: i32): i32 {
  return load<i32>(tr.active + (<usize>n << 2));
}

@inline function rowStartAt(tr: Trainer, n: i32): i32 {
  return load<i32>(tr.rowStart + (<usize>n << 2));
}

/**
 * Runs every layer over the loaded batch from theta. `inference` uses the leak alpha = 0 of inference
 * (plstm.md section 6) instead of each layer's training alpha; so does training when it skips closed units.
 */
export function forwardPass(tr: Trainer, inference: bool): void {
  packParameters(tr);
  tr.pairsComputed = 0;
  tr.pairsSeen = 0;
  for (let n = 0; n < tr.layerCount; n++) {
    const L = layerOf(tr, n);
    if (n > 0) feedFromBelow(tr, layerOf(tr, n - 1), L);
    forwardLayer(tr, L, inference || tr.skipClosed != 0);
  }
}

/** Layer n + 1 takes layer n's h as its x, at every row. */
function feedFromBelow(tr: Trainer, below: TrainLayer, L: TrainLayer): void {
  const hBytes = <usize>below.hiddenPad << 2;
  const xhBytes = <usize>L.kPad << 2;
  const copyBytes = <usize>L.inputSize << 2;
  for (let m = 0; m < tr.rows; m++) memory.copy(L.xh + <usize>m * xhBytes, below.hOut + <usize>m * hBytes, copyBytes);
}

/**
 * `sparse`: without a leak (alpha = 0) a closed unit's state stands still, so only the open units are computed
 * (sparse.ts), and the backward pass over this forward pass does the same. Otherwise every unit, at L.alpha.
 */
function forwardLayer(tr: Trainer, L: TrainLayer, sparse: bool): void {
  const alpha = sparse ? 0.0 : L.alpha;
  const xhBytes = <usize>L.kPad << 2;
  const gateBytes = <usize>L.gateCols << 2;
  const hColumns = <usize>L.inputSize << 2;
  // state starts at h = c = 0 for each sequence (section 1): the previous-h columns of every first event
  for (let r = 0; r < tr.count; r++) memory.fill(L.xh + <usize>r * xhBytes + hColumns, 0, <usize>L.hiddenSize << 2);
  seedPhases(tr, L);
  L.sparse = sparse ? 1 : 0;
  for (let n = 0; n < tr.steps; n++) {
    const start = <usize>rowStartAt(tr, n);
    timeGateStep(tr, L, n, alpha, sparse);
    // the pre-activations W x + U h + b of the step's rows (of their open units only, in cellForwardStep, when sparse)
    if (!sparse) gemm(activeAt(tr, n), L.gateCols, L.kUsed, L.xh + start * xhBytes, xhBytes, 4, L.wuT, gateBytes, L.gates + start * gateBytes, gateBytes);
    cellForwardStep(tr, L, n);
  }
}

/** The batch's mean loss at theta (training alpha); leaves the forward activations in place. */
export function batchLoss(tr: Trainer): f64 {
  forwardPass(tr, false);
  return lossOfBatch(tr, false);
}

/** The batch's mean loss at theta, and its gradient by theta in grad. */
export function lossAndGradient(tr: Trainer): f64 {
  forwardPass(tr, false);
  const loss = lossOfBatch(tr, true);
  readoutBackward(tr);
  for (let n = tr.layerCount - 1; n >= 0; n--) backwardLayer(tr, layerOf(tr, n), n > 0 ? layerOf(tr, n - 1) : changetype<TrainLayer>(0));
  scatterGradient(tr);
  return loss;
}

/**
 * Backpropagation through time for one layer, last event first. The gradient by the layer's input x goes into
 * the dhExt of the layer below (when there is one).
 */
function backwardLayer(tr: Trainer, L: TrainLayer, below: TrainLayer): void {
  const unitBytes = <usize>L.hiddenPad << 2;
  const xhBytes = <usize>L.kPad << 2;
  const gateBytes = <usize>L.gateCols << 2;
  const I = L.inputSize;
  const H = L.hiddenSize;
  memory.fill(tr.dhCarry, 0, <usize>tr.count * unitBytes);
  memory.fill(tr.dcCarry, 0, <usize>tr.count * unitBytes);
  memory.fill(L.dUnit, 0, <usize>UNIT_SUMS * unitBytes);
  const hasBelow = changetype<usize>(below) != 0;
  const belowBytes = hasBelow ? <usize>below.hiddenPad << 2 : 0;
  for (let n = tr.steps - 1; n >= 0; n--) {
    const rows = activeAt(tr, n);
    const start = rowStartAt(tr, n);
    cellBackwardStep(tr, L, n);
    // dxh = dz [W | U | b]: the gradient by this step's x (for the layer below) and by the previous h (formed in
    // cellBackwardStep when sparse)
    if (!L.sparse) gemm(rows, L.kPad, L.gateCols, L.gates + <usize>start * gateBytes, gateBytes, 4, L.wu, xhBytes, tr.dxh, xhBytes);
    for (let r = 0; r < rows; r++) {
      const dxh = tr.dxh + <usize>r * xhBytes;
      const dhPrev = tr.dhCarry + <usize>r * unitBytes;
      for (let j = 0; j < H; j++) {
        const at = <usize>j << 2;
        store<f32>(dhPrev + at, load<f32>(dhPrev + at) + load<f32>(dxh + (<usize>(I + j) << 2)));
      }
      if (hasBelow) memory.copy(below.dhExt + <usize>(start + r) * belowBytes, dxh, <usize>I << 2);
    }
  }
  // d[W | U | b] = dz^T [x | h | 1] summed over every row of the batch
  if (L.sparse) {
    openWeightGradient(tr, L);
  } else {
    gemm(L.gateCols, L.kPad, tr.rows, L.gates, 4, gateBytes, L.xh, xhBytes, L.dWU, xhBytes);
  }
}
