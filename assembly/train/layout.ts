// The trainer's memory, laid out once per (model shape, batch size, longest sequence) in one arena, the way
// TFLite Micro plans its arena: `plan` below is the only place that knows where anything lives, and nothing is
// allocated after trainCreate (a training step never grows memory).
//
// Parameters are ONE flat f32 vector theta; grad, the optimizer's two moment vectors and the per-parameter
// learning-rate multipliers (written by the host: the time-gate groups can learn slower than the weights) have
// its length and order. Groups, in this order (row r = gate * H + unit, gates i, f, g, o, as in the model file):
//   per layer n = 0 .. L-1:
//     W      4H x I   row-major
//     U      4H x H   row-major
//     b      4H
//     p_i, p_f, p_o   H each, only when the layer has peepholes
//     log tau H       (tau = exp(log tau), so tau stays positive: plstm.md section 5), or tau itself when the
//                     layer learns tau directly (the authors' parametrisation; clipped to TAU_MIN after every update)
//     shift  H
//     r_on   H        only when the layer trains r_on: r_on itself, clipped to [R_ON_MIN, R_ON_MAX] after every
//                     update (section 5: as the authors' code, not through a logit, which moves it ~20x slower)
//   readout:
//     V      O x H    row-major (H of the last layer)
//     d      O
// r_on is fixed unless the layer trains it (plstm.md section 5: then it lives in theta); the fixed r_on and the
// leak alpha live beside theta, per layer.
//
// Activations are stored per "row": the batch's sequences are sorted by length, longest first, so the sequences
// still running at event n are rows 0 .. active[n] - 1, and event n of row b is row m = rowStart[n] + b of every
// per-row array. A time step is then one contiguous block of rows: one matrix product for the whole batch.

import { MAX_TRAIN_LAYERS, MAX_TRAIN_SIZE, TRAINED_TAU_MIN, TRAINED_R_ON_MAX, TRAINED_R_ON_MIN } from "../contract/train";
import { align16, pad8 } from "../padding";

export {
  LOSS_CROSS_ENTROPY, LOSS_MSE, OPTIMIZER_ADAM, OPTIMIZER_SGD, ORIGIN_ABSOLUTE, ORIGIN_SEQUENCE, READOUT_EVERY, READOUT_LAST,
} from "../contract/train";

export const MAX_LAYERS: i32 = MAX_TRAIN_LAYERS;
/** the range a trained r_on is clipped to after every update (plstm.md section 5) */
export const R_ON_MIN: f32 = <f32>TRAINED_R_ON_MIN;
export const R_ON_MAX: f32 = <f32>TRAINED_R_ON_MAX;
/** The least period a directly learned tau is clipped to (contract/train.ts says why), in f32 as theta holds it. */
export const TAU_MIN: f32 = <f32>TRAINED_TAU_MIN;
/** the per-unit gradient sums of the backward pass (TrainLayer.dUnit) */
export const UNIT_SUMS: i32 = 6;
export const MAX_SIZE: i32 = MAX_TRAIN_SIZE;
/** The largest block the runtime's allocator (TLSF) hands out is just under 1 GiB. */
const MAX_ARENA_BYTES: u64 = (1 << 30) - 1024;

@unmanaged
export class TrainLayer {
  inputSize: i32;
  hiddenSize: i32;
  /** H rounded up to 8: the stride of every per-unit array; padded units have zero weights and stay exactly 0 */
  hiddenPad: i32;
  /** 4 * hiddenPad: columns of the gate pre-activations, gate-major (i, f, g, o), each gate padded */
  gateCols: i32;
  /** columns of a row of xh in use: the input x (I), the previous h (H) and a constant 1 for the bias */
  kUsed: i32;
  /** kUsed rounded up to 8: the row stride of xh */
  kPad: i32;
  hasPeephole: i32;
  /** 1 when r_on is a trained parameter (a group of theta), 0 when it is fixed */
  trainsROn: i32;
  /** 1 when theta holds tau itself, 0 when it holds log tau */
  tauDirect: i32;
  /** the training leak of this layer's time gate (prediction uses 0) */
  alpha: f64;
  /** 1 when the last forward pass skipped closed units (sparse.ts), and so must its backward pass */
  sparse: i32;
  // element offsets of this layer's groups in theta (offPeep = -1 without peepholes)
  offW: i32;
  offU: i32;
  offB: i32;
  offPeep: i32;
  /** log tau, or tau when tauDirect */
  offTau: i32;
  offShift: i32;
  /** -1 unless trainsROn */
  offROn: i32;
  // packed from theta before every forward pass (params.ts)
  /** kUsed x gateCols: [W | U | b] transposed, the right operand of the forward product */
  wuT: usize;
  /** hiddenPad x kUsed x 4 f32: [W | U | b] by unit, then k, then gate: one open unit's four gates at once (sparse.ts) */
  wuUnit: usize;
  /** gateCols x kPad: [W | U | b], the right operand of the backward product */
  wu: usize;
  /** 3 x hiddenPad f32: p_i, p_f, p_o (zero without peepholes) */
  peep: usize;
  /** hiddenPad f64 each: tau, 1 / tau, shift, r_on (written by the host, or from theta when trained), 2 / r_on */
  tau: usize;
  invTau: usize;
  shift: usize;
  rOn: usize;
  twoOverROn: usize;
  // per sequence (batchSize x hiddenPad f64)
  /** exact phase at the sequence's first event, in [0, 1) */
  seed: usize;
  /** (t_first - origin - s) / tau, not reduced: the derivative of the phase by log tau is minus this plus dt / tau */
  base: usize;
  // per row (maxRows rows)
  /** maxRows x kPad: x, previous h, 1 */
  xh: usize;
  /** maxRows x gateCols: pre-activations, then i, f, g, o after the forward pass, then their gradients dz */
  gates: usize;
  /** maxRows x hiddenPad each */
  cand: usize;
  tanhCand: usize;
  cOut: usize;
  hOut: usize;
  /** time gate k, dk / dphi, (t - s) / tau, and dk / d r_on */
  gateK: usize;
  slope: usize;
  cycles: usize;
  ronSlope: usize;
  /** gradient reaching h from outside the layer: the layer above, or the readout */
  dhExt: usize;
  /** when closed units are skipped: per row, the count (maxRows i32) and the ascending list (maxRows x hiddenPad i32) of its open units */
  openCount: usize;
  openUnits: usize;
  // gradient work
  /** gateCols x kPad: gradient of [W | U | b] */
  dWU: usize;
  /** UNIT_SUMS x hiddenPad f32: sums of dz_i c, dz_f c, dz_o c~, dphi, dphi (t - s) / tau, dk dk/d r_on */
  dUnit: usize;
}

@unmanaged
export class Trainer {
  layerCount: i32;
  inputSize: i32;
  outputSize: i32;
  readoutMode: i32;
  lossKind: i32;
  timeOrigin: i32;
  /** 1: passes at the training leak skip units whose gate is closed (contract/train.ts, DESCRIPTOR_SKIP_CLOSED) */
  skipClosed: i32;
  /** (event, unit) pairs the last pass computed, over all layers, and all there were */
  pairsComputed: f64;
  pairsSeen: f64;
  batchSize: i32;
  maxLength: i32;
  /** batchSize * maxLength */
  maxRows: i32;
  maxHiddenPad: i32;
  maxKPad: i32;
  paramCount: i32;
  offV: i32;
  offD: i32;
  layers: usize;
  /** the arena and its size */
  arena: usize;
  arenaBytes: usize;
  // parameter vectors, paramCount f32 each
  theta: usize;
  grad: usize;
  moment1: usize;
  moment2: usize;
  /** the multiplier of the learning rate of every parameter, 1 unless the host writes it */
  lrScale: usize;
  // the batch as the host writes it: slot s of sample s (sample-major, see batch.ts)
  inLengths: usize;
  inT: usize;
  inX: usize;
  inLabels: usize;
  inTargets: usize;
  // the loaded batch
  count: i32;
  steps: i32;
  rows: i32;
  loaded: i32;
  /** batchSize i32: row b holds sample order[b] */
  order: usize;
  /** batchSize i32: length of row b (non-increasing) */
  lengths: usize;
  /** maxLength + 1 i32 each */
  active: usize;
  rowStart: usize;
  /** batchSize f64: the first timestamp of row b, and the time origin of row b */
  tFirst: usize;
  origin: usize;
  /** maxRows f64: t - t_first of every row */
  dt: usize;
  /** batchSize i32 */
  labels: usize;
  /** maxRows x O f32 (readout every) or batchSize x O (readout last), by row */
  targets: usize;
  // readout
  /** O x maxHiddenPad f32 packed V, O f32 d */
  vPad: usize;
  dPad: usize;
  /** maxRows x O f32: outputs, then their gradient */
  y: usize;
  dV: usize;
  dD: usize;
  /** batchSize x O f64, in sample order: predict's results */
  predicted: usize;
  // backward scratch
  /** batchSize x maxHiddenPad f32 each: gradient by h and c flowing back in time */
  dhCarry: usize;
  dcCarry: usize;
  /** batchSize x maxKPad f32: gradient by a step's xh rows */
  dxh: usize;
  /** max(maxHiddenPad, maxKPad) f32 zeros: the state before a sequence's first event */
  zeros: usize;
  // optimizer
  optimizer: i32;
  stepCount: i32;
  lr: f64;
  beta1: f64;
  beta2: f64;
  epsilon: f64;
  clipNorm: f64;
  lastGradNorm: f64;
}

@inline export function layerOf(tr: Trainer, n: i32): TrainLayer {
  return changetype<TrainLayer>(tr.layers + <usize>n * offsetof<TrainLayer>());
}

// The bump cursor of `plan`; only plan uses it.
let cursor: u64 = 0;

@inline function take(bytes: u64): usize {
  const at = cursor;
  cursor = align16(cursor + bytes);
  return <usize>at;
}

/**
 * Fills the sizes and element offsets of tr (whose shape fields and layers' inputSize / hiddenSize /
 * hasPeephole are set) and, from `base`, the pointer of every region. Returns the arena's size in bytes.
 * Called once with base 0 to size the arena, then with the arena's address.
 */
export function plan(tr: Trainer, base: usize): u64 {
  cursor = <u64>base;
  const B = <u64>tr.batchSize;
  const M = <u64>tr.batchSize * <u64>tr.maxLength;
  const O = <u64>tr.outputSize;
  tr.maxRows = <i32>M;
  let params = 0;
  let maxHp = 0;
  let maxKp = 0;
  for (let n = 0; n < tr.layerCount; n++) {
    const L = layerOf(tr, n);
    const I = L.inputSize;
    const H = L.hiddenSize;
    L.hiddenPad = pad8(H);
    L.gateCols = 4 * L.hiddenPad;
    L.kUsed = I + H + 1;
    L.kPad = pad8(L.kUsed);
    L.offW = params;
    params += 4 * H * I;
    L.offU = params;
    params += 4 * H * H;
    L.offB = params;
    params += 4 * H;
    L.offPeep = L.hasPeephole ? params : -1;
    if (L.hasPeephole) params += 3 * H;
    L.offTau = params;
    params += H;
    L.offShift = params;
    params += H;
    L.offROn = L.trainsROn ? params : -1;
    if (L.trainsROn) params += H;
    if (L.hiddenPad > maxHp) maxHp = L.hiddenPad;
    if (L.kPad > maxKp) maxKp = L.kPad;
  }
  const lastH = layerOf(tr, tr.layerCount - 1).hiddenSize;
  tr.offV = params;
  params += tr.outputSize * lastH;
  tr.offD = params;
  params += tr.outputSize;
  tr.paramCount = params;
  tr.maxHiddenPad = maxHp;
  tr.maxKPad = maxKp;

  const P = <u64>params;
  tr.theta = take(P * 4);
  tr.grad = take(P * 4);
  tr.moment1 = take(P * 4);
  tr.moment2 = take(P * 4);
  tr.lrScale = take(P * 4);
  const I0 = <u64>tr.inputSize;
  tr.inLengths = take(B * 4);
  tr.inT = take(M * 8);
  tr.inX = take(M * I0 * 4);
  tr.inLabels = take(B * 4);
  tr.inTargets = take(M * O * 4);
  tr.order = take(B * 4);
  tr.lengths = take(B * 4);
  tr.active = take(<u64>(tr.maxLength + 1) * 4);
  tr.rowStart = take(<u64>(tr.maxLength + 1) * 4);
  tr.tFirst = take(B * 8);
  tr.origin = take(B * 8);
  tr.dt = take(M * 8);
  tr.labels = take(B * 4);
  tr.targets = take(M * O * 4);
  tr.vPad = take(O * <u64>maxHp * 4);
  tr.dPad = take(O * 4);
  tr.y = take(M * O * 4);
  tr.dV = take(O * <u64>maxHp * 4);
  tr.dD = take(O * 4);
  tr.predicted = take(B * O * 8);
  tr.dhCarry = take(B * <u64>maxHp * 4);
  tr.dcCarry = take(B * <u64>maxHp * 4);
  tr.dxh = take(B * <u64>maxKp * 4);
  tr.zeros = take(<u64>(maxHp > maxKp ? maxHp : maxKp) * 4);
  for (let n = 0; n < tr.layerCount; n++) {
    const L = layerOf(tr, n);
    const Hp = <u64>L.hiddenPad;
    const G = <u64>L.gateCols;
    const Kp = <u64>L.kPad;
    L.wuT = take(<u64>L.kUsed * G * 4);
    L.wu = take(G * Kp * 4);
    L.wuUnit = take(Hp * <u64>L.kUsed * 16);
    L.peep = take(3 * Hp * 4);
    L.tau = take(Hp * 8);
    L.invTau = take(Hp * 8);
    L.shift = take(Hp * 8);
    L.rOn = take(Hp * 8);
    L.twoOverROn = take(Hp * 8);
    L.seed = take(B * Hp * 8);
    L.base = take(B * Hp * 8);
    L.xh = take(M * Kp * 4);
    L.gates = take(M * G * 4);
    L.cand = take(M * Hp * 4);
    L.tanhCand = take(M * Hp * 4);
    L.cOut = take(M * Hp * 4);
    L.hOut = take(M * Hp * 4);
    L.gateK = take(M * Hp * 4);
    L.slope = take(M * Hp * 4);
    L.cycles = take(M * Hp * 4);
    L.ronSlope = take(M * Hp * 4);
    L.dhExt = take(M * Hp * 4);
    L.openCount = take(M * 4);
    L.openUnits = take(M * Hp * 4);
    L.dWU = take(G * Kp * 4);
    L.dUnit = take(<u64>UNIT_SUMS * Hp * 4);
  }
  return cursor - <u64>base;
}

/** Whether an arena of this many bytes can be allocated at all. */
@inline export function arenaFits(bytes: u64): bool {
  return bytes <= MAX_ARENA_BYTES;
}

/**
 * State that must hold before the first batch: every learning-rate multiplier 1, everything else zero (padded weights, padded units and the gradient
 * carries rely on it), the constant 1 of every xh row (the bias column), r_on 1 and tau 1 on padded units.
 */
export function initArena(tr: Trainer): void {
  memory.fill(tr.arena, 0, tr.arenaBytes);
  for (let i = 0; i < tr.paramCount; i++) store<f32>(tr.lrScale + (<usize>i << 2), 1.0);
  for (let n = 0; n < tr.layerCount; n++) {
    const L = layerOf(tr, n);
    const biasColumn = <usize>(L.inputSize + L.hiddenSize) << 2;
    const stride = <usize>L.kPad << 2;
    for (let m = 0; m < tr.maxRows; m++) store<f32>(L.xh + <usize>m * stride + biasColumn, 1.0);
    for (let j = 0; j < L.hiddenPad; j++) {
      store<f64>(L.rOn + (<usize>j << 3), 1.0);
      store<f64>(L.tau + (<usize>j << 3), 1.0);
      store<f64>(L.invTau + (<usize>j << 3), 1.0);
      store<f64>(L.twoOverROn + (<usize>j << 3), 2.0);
    }
  }
}
