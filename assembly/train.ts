// The trainer module's exports, for host/training/trainer.ts: one trainer per (model shape, batch size, longest
// sequence), its memory planned once (train/layout.ts). Pointers are offsets in this module's memory; calls that
// can fail return a status (0 or a negative code) or NaN, with the reason in the error buffer (errorPtr, errorLen).
//
// A training step is three calls, kept apart so that the stability guard can probe one batch at several points:
//   trainLoad(tr, count)         the batch in the input slots becomes the loaded batch
//   trainLossAndGradient(tr)     forward and backward over the loaded batch at the current theta: loss, grad
//   trainStep(tr, scale)         theta moves along grad by the optimizer, lr times scale

import { E_INPUT, E_MODEL, clearError, errInt, errText, fail } from "./errors";
import {
  DESCRIPTOR_BATCH_SIZE, DESCRIPTOR_HEAD_WORDS, DESCRIPTOR_INPUT_SIZE, DESCRIPTOR_LAYER_COUNT, DESCRIPTOR_LAYER_WORDS, DESCRIPTOR_LOSS,
  DESCRIPTOR_MAX_LENGTH, DESCRIPTOR_OUTPUT_SIZE, DESCRIPTOR_READOUT_MODE, DESCRIPTOR_SKIP_CLOSED, DESCRIPTOR_TIME_ORIGIN, LAYER_PEEPHOLE, LAYER_TAU_DIRECT,
  LAYER_TRAINS_R_ON, MAX_TRAIN_LENGTH, TI_ARENA_BYTES, TI_GRAD, TI_GRAD_NORM, TI_INPUT_BYTES, TI_IN_LABELS, TI_IN_LENGTHS, TI_IN_T,
  TI_IN_TARGETS, TI_IN_X, TI_LR_SCALE, TI_MOMENT1, TI_MOMENT2, TI_PARAMETER_BYTES, TI_PARAM_COUNT, TI_PREDICTED, TI_STEP_COUNT, TI_THETA, TI_UNITS_COMPUTED,
  TL_OFF_B, TL_OFF_D, TL_OFF_PEEPHOLE, TL_OFF_R_ON, TL_OFF_SHIFT, TL_OFF_TAU, TL_OFF_U, TL_OFF_V, TL_OFF_W, TL_R_ON,
} from "./contract/train";
import {
  LOSS_CROSS_ENTROPY,
  LOSS_MSE,
  MAX_LAYERS,
  MAX_SIZE,
  OPTIMIZER_ADAM,
  OPTIMIZER_SGD,
  ORIGIN_ABSOLUTE,
  ORIGIN_SEQUENCE,
  READOUT_EVERY,
  READOUT_LAST,
  TrainLayer,
  Trainer,
  arenaFits,
  initArena,
  layerOf,
  plan,
} from "./train/layout";
import { loadBatch } from "./train/batch";
import { predictOutputs } from "./train/loss";
import { batchLoss, forwardPass, lossAndGradient } from "./train/network";
import { applyStep } from "./train/optimizer";

export { errorPtr, errorLen } from "./errors";

// The shape the host writes before trainCreate (contract/train.ts): the head words, then per layer its hidden
// size and its flags.
const DESCRIPTOR_WORDS: i32 = DESCRIPTOR_HEAD_WORDS + DESCRIPTOR_LAYER_WORDS * MAX_LAYERS;
const descriptor = memory.data(DESCRIPTOR_WORDS * 4, 16);

export function trainDescriptor(): usize {
  return descriptor;
}

@inline function word(k: i32): i32 {
  return load<i32>(descriptor + (<usize>k << 2));
}

/** Word k (0: hidden size, 1: flags) of layer n's descriptor. */
@inline function layerWord(n: i32, k: i32): i32 {
  return word(DESCRIPTOR_HEAD_WORDS + DESCRIPTOR_LAYER_WORDS * n + k);
}

function badShape(what: string, value: i64): usize {
  fail(E_MODEL, "trainer: ");
  errText(what);
  errText(" (got ");
  errInt(value);
  errText(")");
  return 0;
}

/** A trainer for the shape in the descriptor, or 0 (reason in the error buffer). */
export function trainCreate(): usize {
  clearError();
  const layerCount = word(DESCRIPTOR_LAYER_COUNT);
  const inputSize = word(DESCRIPTOR_INPUT_SIZE);
  const outputSize = word(DESCRIPTOR_OUTPUT_SIZE);
  const readoutMode = word(DESCRIPTOR_READOUT_MODE);
  const lossKind = word(DESCRIPTOR_LOSS);
  const timeOrigin = word(DESCRIPTOR_TIME_ORIGIN);
  const skipClosed = word(DESCRIPTOR_SKIP_CLOSED);
  const batchSize = word(DESCRIPTOR_BATCH_SIZE);
  const maxLength = word(DESCRIPTOR_MAX_LENGTH);
  if (layerCount < 1 || layerCount > MAX_LAYERS) return badShape("layer count must be 1..64", layerCount);
  if (inputSize < 1 || inputSize > MAX_SIZE) return badShape("input size must be 1..65536", inputSize);
  if (outputSize < 1 || outputSize > MAX_SIZE) return badShape("output size must be 1..65536", outputSize);
  if (readoutMode != READOUT_LAST && readoutMode != READOUT_EVERY) return badShape("readout mode must be 0 (last) or 1 (every)", readoutMode);
  if (lossKind != LOSS_CROSS_ENTROPY && lossKind != LOSS_MSE) return badShape("loss must be 0 (cross-entropy) or 1 (squared error)", lossKind);
  if (lossKind == LOSS_CROSS_ENTROPY && readoutMode != READOUT_LAST) return badShape("cross-entropy needs readout last; readout mode", readoutMode);
  if (timeOrigin != ORIGIN_SEQUENCE && timeOrigin != ORIGIN_ABSOLUTE) return badShape("time origin must be 0 (sequence) or 1 (absolute)", timeOrigin);
  if (skipClosed != 0 && skipClosed != 1) return badShape("skipping closed units must be 0 (off) or 1 (on)", skipClosed);
  if (batchSize < 1 || batchSize > MAX_SIZE) return badShape("batch size must be 1..65536", batchSize);
  if (maxLength < 1 || maxLength > MAX_TRAIN_LENGTH) return badShape("longest sequence must be 1..2^24 events", maxLength);
  for (let n = 0; n < layerCount; n++) {
    const H = layerWord(n, 0);
    const flags = layerWord(n, 1);
    if (H < 1 || H > MAX_SIZE) return badShape("hidden size must be 1..65536", H);
    if (flags < 0 || flags > (LAYER_PEEPHOLE | LAYER_TRAINS_R_ON | LAYER_TAU_DIRECT)) return badShape("layer flags must be 0..7 (bit 0 peepholes, bit 1 trains r_on, bit 2 tau itself)", flags);
  }
  const tr = changetype<Trainer>(heap.alloc(offsetof<Trainer>()));
  memory.fill(changetype<usize>(tr), 0, offsetof<Trainer>());
  tr.layerCount = layerCount;
  tr.inputSize = inputSize;
  tr.outputSize = outputSize;
  tr.readoutMode = readoutMode;
  tr.lossKind = lossKind;
  tr.timeOrigin = timeOrigin;
  tr.skipClosed = skipClosed;
  tr.batchSize = batchSize;
  tr.maxLength = maxLength;
  tr.layers = heap.alloc(<usize>layerCount * offsetof<TrainLayer>());
  memory.fill(tr.layers, 0, <usize>layerCount * offsetof<TrainLayer>());
  let previous = inputSize;
  for (let n = 0; n < layerCount; n++) {
    const L = layerOf(tr, n);
    L.inputSize = previous;
    L.hiddenSize = layerWord(n, 0);
    const flags = layerWord(n, 1);
    L.hasPeephole = (flags & LAYER_PEEPHOLE) != 0 ? 1 : 0;
    L.trainsROn = (flags & LAYER_TRAINS_R_ON) != 0 ? 1 : 0;
    L.tauDirect = (flags & LAYER_TAU_DIRECT) != 0 ? 1 : 0;
    previous = L.hiddenSize;
  }
  const bytes = plan(tr, 0);
  if (!arenaFits(bytes)) {
    heap.free(tr.layers);
    heap.free(changetype<usize>(tr));
    return badShape("this shape, batch size and longest sequence need an arena over 1 GiB; bytes", <i64>bytes);
  }
  tr.arena = heap.alloc(<usize>bytes);
  tr.arenaBytes = <usize>bytes;
  plan(tr, tr.arena);
  initArena(tr);
  // no optimizer until trainConfigure: its settings are the host's (host/training/settings.ts), and trainStep
  // refuses to guess them
  return changetype<usize>(tr);
}

// What trainInfo reports (contract/train.ts names the keys).
export function trainInfo(tr: Trainer, what: i32): f64 {
  switch (what) {
    case TI_PARAM_COUNT: return tr.paramCount;
    case TI_THETA: return <f64>tr.theta;
    case TI_GRAD: return <f64>tr.grad;
    case TI_MOMENT1: return <f64>tr.moment1;
    case TI_MOMENT2: return <f64>tr.moment2;
    case TI_IN_LENGTHS: return <f64>tr.inLengths;
    case TI_IN_T: return <f64>tr.inT;
    case TI_IN_X: return <f64>tr.inX;
    case TI_IN_LABELS: return <f64>tr.inLabels;
    case TI_IN_TARGETS: return <f64>tr.inTargets;
    case TI_PREDICTED: return <f64>tr.predicted;
    case TI_ARENA_BYTES: return <f64>tr.arenaBytes;
    // theta, grad, the two moments and the learning-rate multipliers come first in the arena, then the input slots (layout.ts)
    case TI_PARAMETER_BYTES: return <f64>(tr.inLengths - tr.theta);
    case TI_INPUT_BYTES: return <f64>(tr.order - tr.inLengths);
    case TI_STEP_COUNT: return tr.stepCount;
    case TI_GRAD_NORM: return tr.lastGradNorm;
    case TI_LR_SCALE: return <f64>tr.lrScale;
    case TI_UNITS_COMPUTED: return tr.pairsSeen > 0 ? tr.pairsComputed / tr.pairsSeen : 1.0;
  }
  return -1;
}

// What trainLayerInfo reports (contract/train.ts): element offsets of a layer's groups in theta, and where its
// r_on lives.
export function trainLayerInfo(tr: Trainer, layer: i32, what: i32): f64 {
  if (what == TL_OFF_V) return tr.offV;
  if (what == TL_OFF_D) return tr.offD;
  if (layer < 0 || layer >= tr.layerCount) return -1;
  const L = layerOf(tr, layer);
  switch (what) {
    case TL_OFF_W: return L.offW;
    case TL_OFF_U: return L.offU;
    case TL_OFF_B: return L.offB;
    case TL_OFF_PEEPHOLE: return L.offPeep;
    case TL_OFF_TAU: return L.offTau;
    case TL_OFF_SHIFT: return L.offShift;
    case TL_R_ON: return <f64>L.rOn;
    case TL_OFF_R_ON: return L.offROn;
  }
  return -1;
}

/** The training leak of a layer's time gate (plstm.md section 1; 0.001 in the paper's protocol). */
export function trainSetAlpha(tr: Trainer, layer: i32, alpha: f64): i32 {
  if (layer < 0 || layer >= tr.layerCount) return fail(E_INPUT, "no such layer");
  if (!(alpha >= 0) || !isFinite<f64>(alpha)) return fail(E_INPUT, "alpha must be a finite number >= 0");
  layerOf(tr, layer).alpha = alpha;
  return 0;
}

/**
 * optimizer 0: SGD with momentum beta1; 1: Adam (beta1, beta2, epsilon). clipNorm <= 0 turns clipping off.
 * Resets the optimizer's state (moments and step count).
 */
export function trainConfigure(tr: Trainer, optimizer: i32, lr: f64, beta1: f64, beta2: f64, epsilon: f64, clipNorm: f64): i32 {
  if (optimizer != OPTIMIZER_SGD && optimizer != OPTIMIZER_ADAM) return fail(E_INPUT, "optimizer must be 0 (sgd) or 1 (adam)");
  if (!(lr > 0) || !isFinite<f64>(lr)) return fail(E_INPUT, "the learning rate must be a finite number > 0");
  if (!(beta1 >= 0 && beta1 < 1)) return fail(E_INPUT, "momentum / beta1 must be in [0, 1)");
  if (!(beta2 >= 0 && beta2 < 1)) return fail(E_INPUT, "beta2 must be in [0, 1)");
  if (!(epsilon > 0) || !isFinite<f64>(epsilon)) return fail(E_INPUT, "epsilon must be a finite number > 0");
  if (!isFinite<f64>(clipNorm)) return fail(E_INPUT, "clipNorm must be a finite number (<= 0 for no clipping)");
  tr.optimizer = optimizer;
  tr.lr = lr;
  tr.beta1 = beta1;
  tr.beta2 = beta2;
  tr.epsilon = epsilon;
  tr.clipNorm = clipNorm;
  trainResetOptimizer(tr);
  return 0;
}

/** Zero moments and step count (Adam's bias correction starts again). */
export function trainResetOptimizer(tr: Trainer): void {
  memory.fill(tr.moment1, 0, <usize>tr.paramCount << 2);
  memory.fill(tr.moment2, 0, <usize>tr.paramCount << 2);
  tr.stepCount = 0;
}

/** The step count, for restoring a snapshot of the optimizer's state. */
export function trainSetStepCount(tr: Trainer, count: i32): void {
  tr.stepCount = count;
}

export function trainLoad(tr: Trainer, count: i32): i32 {
  return loadBatch(tr, count);
}

function noBatch(): f64 {
  fail(E_INPUT, "no batch is loaded");
  return NaN;
}

/** The loaded batch's mean loss at theta, with the training leak. NaN without a loaded batch. */
export function trainLoss(tr: Trainer): f64 {
  if (!tr.loaded) return noBatch();
  return batchLoss(tr);
}

/** The loaded batch's mean loss at theta, and its gradient in grad. NaN without a loaded batch. */
export function trainLossAndGradient(tr: Trainer): f64 {
  if (!tr.loaded) return noBatch();
  return lossAndGradient(tr);
}

/** The final outputs of the loaded batch at theta with alpha = 0 (as at inference), into the predicted slots. */
export function trainPredict(tr: Trainer): i32 {
  if (!tr.loaded) return fail(E_INPUT, "no batch is loaded");
  forwardPass(tr, true);
  predictOutputs(tr);
  return 0;
}

/** One optimizer update from grad with the learning rate times scale; returns the gradient's norm. */
export function trainStep(tr: Trainer, scale: f64): f64 {
  if (!(scale >= 0) || !isFinite<f64>(scale)) {
    fail(E_INPUT, "the step scale must be a finite number >= 0");
    return NaN;
  }
  if (!(tr.lr > 0)) {
    fail(E_INPUT, "no optimizer: trainConfigure was not called");
    return NaN;
  }
  return applyStep(tr, scale);
}
