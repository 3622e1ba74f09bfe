/**
 * The on-device trainer (assembly/train.ts) behind a small class: one wasm instance per trainer, the model's
 * parameters as one flat f32 vector theta in its memory, and a training step as three separate calls (load a
 * batch, loss and gradient at the current theta, apply an update) so that the stability guard
 * (shared/spec/stability.md) can evaluate the gradient of one batch at several parameter points.
 *
 * theta's groups, in order (assembly/train/layout.ts; `parameterGroups` lists them with their offsets):
 *   per layer: W (4H x I), U (4H x H), b (4H), peepholes p_i, p_f, p_o (H each, if the layer has them),
 *              log tau (H; tau itself with `tauDirect`), shift (H), and r_on (H) when r_on is trained;
 *   readout:   V (O x H), d (O).
 * Row r = gate * H + unit, gates i, f, g, o, as in the model file. r_on is fixed unless `trainROn` asks
 * (plstm.md section 5; then theta holds r_on itself, clipped to [0.01, 1] after every update, as the authors'
 * code learns it); alpha is the layer's own.
 *
 * Time origin: by default ("sequence") the trainer measures time from each sequence's own first event, for the
 * phase and for its derivatives (d phi / d tau = -(t - s) / tau^2 grows with t: section 5). The model it trains
 * and exports then stands for streams whose clock starts at their first event: to run it on other engines with
 * the same results, feed them t - t_first. "absolute" uses the timestamps as given (the phase still exact, the
 * tau gradient then grows with the absolute time).
 */
import * as contract from "../../assembly/contract/train.js";
import type { SimdChoice } from "../engine/engine.js";
import { PhasorError, badInput, givenText, knownOptions, wholeNumber } from "../errors.js";
import { checkModel, type FloatModel, type LayerParams, type ReadoutMode } from "../model/model.js";
import { randomModel, type WeightInit } from "../model/init.js";
import { Rng } from "../rng.js";
import type { TaskName } from "./tasks.js";
import { compileBuild, moduleError, requireExports, useSimd, type ExportedFunctions, type TrainBuild } from "../engine/wasm-source.js";

export type Optimizer = "adam" | "sgd";

/**
 * Each optimizer's learning rate where nothing else is known (the training settings' default off the freq1 tasks,
 * host/training/settings.ts). Adam: the paper's 1e-3. SGD with momentum 0.9 (and the time-gate groups at the
 * settings' timeLrScale of 1e-4) trains freq1-async well at 0.5; 3x is stable but learns much worse
 * (docs/RESULTS.md, the guard experiment).
 */
export const DEFAULT_LR: Record<Optimizer, number> = { adam: 1e-3, sgd: 0.5 };
/** SGD's heavy-ball momentum where nothing else is known (the training settings' default too) */
export const DEFAULT_MOMENTUM = 0.9;
/** the largest learning-rate multiplier of a parameter group (timeLrScale, rOnLrScale): beyond it is a typo */
export const LR_SCALE_MAX = 1e6;
export type Loss = "cross-entropy" | "mse";
export type TimeOrigin = "sequence" | "absolute";

export interface TrainerOptions {
  /** the most sequences in one batch */
  batchSize: number;
  /** the most events in one sequence */
  maxLength: number;
  /** default: cross-entropy for readout "last" with 2 or more outputs, mean squared error otherwise */
  loss?: Loss;
  /** default "adam" */
  optimizer?: Optimizer;
  /** learning rate; default DEFAULT_LR of the optimizer */
  lr?: number;
  /** SGD's heavy-ball momentum beta (v <- beta v + g); default DEFAULT_MOMENTUM */
  momentum?: number;
  /** Adam's moment decays and epsilon; defaults 0.9, 0.999, 1e-8 */
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  /** clip the gradient to this global norm before each update; default 0 (off) */
  clipNorm?: number;
  /** default "auto": SIMD where the runtime supports it */
  simd?: SimdChoice | boolean;
  /** default "sequence" (see the top of this file) */
  timeOrigin?: TimeOrigin;
  /**
   * The learning rate of the time-gate groups (log tau and shift) relative to the rest; default 1. Their gradient
   * carries d phi / d log tau = -(t - s) / tau times the gate's slope 2 / r_on, hundreds of times the weights'
   * at the paper's initialisation (docs/RESULTS.md), so plain SGD needs them much slower. 0 freezes them.
   */
  timeLrScale?: number;
  /**
   * The learning rate of a trained r_on relative to the weights; default 1. Its gradient dk / d r_on = -k / r_on
   * or (2 - k) / r_on is large where r_on is small, and with SGD it sets the batch's sharpness (and so the
   * stability guard's cap) for every parameter unless it learns slower.
   */
  rOnLrScale?: number;
  /**
   * Train every layer's r_on too (default false). plstm.md section 5: the authors' code trains r_on itself from
   * 0.05; so does this, clipped to [TRAINED_R_ON_MIN, 1] after every update. It costs sparsity (the units open
   * wider: docs/RESULTS.md). It learns at the weights' rate.
   */
  trainROn?: boolean;
  /**
   * Learn tau itself (clipped to TAU_MIN) instead of log tau (default false). Under Adam, log tau moves tau
   * about tau times faster than the authors' direct parametrisation (plstm.md section 5).
   */
  tauDirect?: boolean;
  /**
   * Skip the units whose time gate is closed at an event, in training too (default false): they keep their
   * state and pass their gradient on unchanged, as under a leak alpha = 0 (plstm.md section 1), and cost nothing.
   * That is an approximation of the layers' own training leak (0.001 by default: a closed unit moves by about a
   * thousandth of an open one's step, and its gradient reaches tau and shift through that leak). Prediction
   * (alpha = 0) skips them always: there it is exact.
   */
  skipClosed?: boolean;
}

const TRAINER_OPTIONS: readonly (keyof TrainerOptions)[] = [
  "batchSize", "maxLength", "loss", "optimizer", "lr", "momentum", "beta1", "beta2", "epsilon", "clipNorm", "simd", "timeOrigin",
  "timeLrScale", "rOnLrScale", "trainROn", "tauDirect", "skipClosed",
];

/** Each optimizer's own options: given to the other optimizer they would do nothing, which a caller must hear. */
const OPTIMIZER_OPTIONS: Record<Optimizer, readonly (keyof TrainerOptions)[]> = { sgd: ["momentum"], adam: ["beta1", "beta2", "epsilon"] };

/** What theta holds besides the weights: which time-gate groups are trained, and how tau is parametrised. */
export interface ThetaLayout {
  trainROn?: boolean;
  tauDirect?: boolean;
}

/** The range a trained r_on is clipped to after every update (plstm.md section 5; assembly/contract/train.ts). */
export const TRAINED_R_ON_MIN = contract.TRAINED_R_ON_MIN;
/** The least period a directly learned tau is clipped to (assembly/contract/train.ts). */
export const TAU_MIN = contract.TRAINED_TAU_MIN;

/**
 * One training sequence: n timestamps, n x inputSize inputs (event-major), and a class label (cross-entropy)
 * or a target: O numbers for readout "last", n x O (event-major) for readout "every". With one output and
 * readout "last", a number in `label` stands for the target, so the samples of host/training/tasks.ts (adding's label is
 * the sum to predict) train as they are.
 */
export interface TrainingSample {
  t: ArrayLike<number>;
  x: ArrayLike<number>;
  label?: number;
  target?: ArrayLike<number>;
}

export type GroupName = "W" | "U" | "b" | "peephole.i" | "peephole.f" | "peephole.o" | "logTau" | "tau" | "shift" | "rOn" | "V" | "d";

export interface ParameterGroup {
  name: GroupName;
  /** the layer, or -1 for the readout */
  layer: number;
  /** first element in theta */
  offset: number;
  length: number;
}

/** The most optimizer steps a trainer counts (the module's step count is an i32). */
const MAX_STEP_COUNT = 2 ** 31 - 1;

/** What the trainer's optimizer needs to continue exactly from a point: for the guard's rollbacks. */
export interface TrainerSnapshot {
  theta: Float32Array;
  moment1: Float32Array;
  moment2: Float32Array;
  stepCount: number;
}

export interface TrainerMemory {
  /** everything the trainer allocated, planned once at creation */
  arenaBytes: number;
  /** theta, gradient and the two optimizer moments */
  parameterBytes: number;
  /** the input slots of one batch */
  inputBytes: number;
  /** activations kept for backpropagation through time, and scratch */
  workBytes: number;
}

/** The groups of theta for a model's shape, in order (the layout at the top of this file). */
export function parameterGroups(model: FloatModel, layout: ThetaLayout = {}): ParameterGroup[] {
  const groups: ParameterGroup[] = [];
  let offset = 0;
  const add = (name: GroupName, layer: number, length: number) => {
    groups.push({ name, layer, offset, length });
    offset += length;
  };
  model.layers.forEach((layer, n) => {
    const H = layer.hiddenSize;
    add("W", n, 4 * H * layer.inputSize);
    add("U", n, 4 * H * H);
    add("b", n, 4 * H);
    if (layer.peephole) {
      add("peephole.i", n, H);
      add("peephole.f", n, H);
      add("peephole.o", n, H);
    }
    add(layout.tauDirect ? "tau" : "logTau", n, H);
    add("shift", n, H);
    if (layout.trainROn) add("rOn", n, H);
  });
  const lastH = model.layers[model.layers.length - 1].hiddenSize;
  add("V", -1, model.readout.outputSize * lastH);
  add("d", -1, model.readout.outputSize);
  return groups;
}

function groupValues(model: FloatModel, group: ParameterGroup): ArrayLike<number> {
  if (group.layer < 0) return group.name === "V" ? model.readout.V : model.readout.d;
  const layer = model.layers[group.layer];
  switch (group.name) {
    case "W":
      return layer.W;
    case "U":
      return layer.U;
    case "b":
      return layer.b;
    case "peephole.i":
      return layer.peephole!.i;
    case "peephole.f":
      return layer.peephole!.f;
    case "peephole.o":
      return layer.peephole!.o;
    case "logTau":
      return layer.tau.map(Math.log);
    case "tau":
      return layer.tau.map((tau, j) => {
        if (!(tau >= TAU_MIN)) throw new PhasorError("bad-model", `layer ${group.layer} unit ${j}: tau is ${tau}; a directly learned tau must be at least ${TAU_MIN}`);
        return tau;
      });
    case "rOn":
      return layer.rOn.map((r, j) => {
        if (!(r >= TRAINED_R_ON_MIN && r <= 1)) {
          throw new PhasorError("bad-model", `layer ${group.layer} unit ${j}: r_on is ${r}; a trained r_on must be in [${TRAINED_R_ON_MIN}, 1] (the range it is clipped to)`);
        }
        return r;
      });
    default:
      return layer.shift;
  }
}

/** theta of a model, in float64 (log tau or tau; r_on when it is trained). */
export function parametersOf(model: FloatModel, layout: ThetaLayout = {}): Float64Array {
  const groups = parameterGroups(model, layout);
  const last = groups[groups.length - 1];
  const theta = new Float64Array(last.offset + last.length);
  for (const group of groups) theta.set(groupValues(model, group), group.offset);
  return theta;
}

/**
 * The model with the parameters theta (any precision; tau = exp(log tau) in float64, or tau as it is) and
 * everything else (r_on when it is not trained, alpha, readout mode, labels, time unit) from `template`.
 */
export function modelFromParameters(template: FloatModel, theta: ArrayLike<number>, layout: ThetaLayout = {}): FloatModel {
  const groups = parameterGroups(template, layout);
  const last = groups[groups.length - 1];
  if (theta.length !== last.offset + last.length) {
    throw new PhasorError("bad-args", `theta has ${theta.length} numbers, this model's shape has ${last.offset + last.length} parameters`);
  }
  const take = (group: ParameterGroup) => Float64Array.from({ length: group.length }, (_, k) => theta[group.offset + k]);
  const byName = (layer: number, name: GroupName) => take(groups.find((g) => g.layer === layer && g.name === name)!);
  const layers: LayerParams[] = template.layers.map((layer, n) => ({
    inputSize: layer.inputSize,
    hiddenSize: layer.hiddenSize,
    W: byName(n, "W"),
    U: byName(n, "U"),
    b: byName(n, "b"),
    peephole: layer.peephole ? { i: byName(n, "peephole.i"), f: byName(n, "peephole.f"), o: byName(n, "peephole.o") } : null,
    tau: layout.tauDirect ? byName(n, "tau") : byName(n, "logTau").map(Math.exp),
    shift: byName(n, "shift"),
    rOn: layout.trainROn ? byName(n, "rOn") : Float64Array.from(layer.rOn),
    alpha: layer.alpha,
  }));
  const readout = { ...template.readout, V: byName(-1, "V"), d: byName(-1, "d") };
  if (template.readout.labels) readout.labels = [...template.readout.labels];
  return { timeUnit: template.timeUnit, inputSize: template.inputSize, layers, readout };
}

/**
 * A sample's shape before its numbers are copied into the module: t and x (and a target, when given) typed arrays or
 * arrays of numbers. A typed array holds numbers only; a plain array's strings would be converted on the copy.
 */
function checkSample(where: string, sample: unknown): void {
  if (typeof sample !== "object" || sample === null) throw badInput(where, `expected { t, x, label or target }, got ${givenText(sample)}`);
  const fields = sample as Record<string, unknown>;
  for (const name of ["t", "x", "target"]) {
    const value = fields[name];
    if (value === undefined && name === "target") continue;
    if (ArrayBuffer.isView(value) && !(value instanceof DataView) && !(value instanceof BigInt64Array || value instanceof BigUint64Array)) continue;
    if (!Array.isArray(value)) throw badInput(where, `${name} is ${value === null ? "null" : typeof value}, expected an array of numbers`);
    const k = value.findIndex((v) => typeof v !== "number");
    if (k >= 0) throw badInput(where, `${name}[${k}] is ${typeof value[k]}, expected a number`);
  }
}

/** The trainer module's exports (assembly/train.ts), as the host calls them. */
interface TrainerExports {
  memory: WebAssembly.Memory;
  errorPtr(): number;
  errorLen(): number;
  trainDescriptor(): number;
  trainCreate(): number;
  trainInfo(tr: number, what: number): number;
  trainLayerInfo(tr: number, layer: number, what: number): number;
  trainSetAlpha(tr: number, layer: number, alpha: number): number;
  trainConfigure(tr: number, optimizer: number, lr: number, beta1: number, beta2: number, epsilon: number, clipNorm: number): number;
  trainResetOptimizer(tr: number): void;
  trainSetStepCount(tr: number, count: number): void;
  trainLoad(tr: number, count: number): number;
  trainLoss(tr: number): number;
  trainLossAndGradient(tr: number): number;
  trainPredict(tr: number): number;
  trainStep(tr: number, scale: number): number;
}

/** The functions of TrainerExports, which requireExports checks a build for. */
export const TRAINER_FUNCTIONS: ExportedFunctions<TrainerExports> = {
  errorPtr: true,
  errorLen: true,
  trainDescriptor: true,
  trainCreate: true,
  trainInfo: true,
  trainLayerInfo: true,
  trainSetAlpha: true,
  trainConfigure: true,
  trainResetOptimizer: true,
  trainSetStepCount: true,
  trainLoad: true,
  trainLoss: true,
  trainLossAndGradient: true,
  trainPredict: true,
  trainStep: true,
};

/** Where each group starts in theta, by trainLayerInfo's key; the peepholes' three groups follow each other. */
const GROUP_OFFSET: Record<GroupName, number> = {
  W: contract.TL_OFF_W,
  U: contract.TL_OFF_U,
  b: contract.TL_OFF_B,
  "peephole.i": contract.TL_OFF_PEEPHOLE,
  "peephole.f": contract.TL_OFF_PEEPHOLE,
  "peephole.o": contract.TL_OFF_PEEPHOLE,
  logTau: contract.TL_OFF_TAU,
  tau: contract.TL_OFF_TAU,
  shift: contract.TL_OFF_SHIFT,
  V: contract.TL_OFF_V,
  d: contract.TL_OFF_D,
  rOn: contract.TL_OFF_R_ON,
};

function chooseBuild(simd: SimdChoice | boolean | undefined): TrainBuild {
  const choice: SimdChoice = simd === true ? "on" : simd === false ? "off" : (simd ?? "auto");
  if (choice !== "auto" && choice !== "on" && choice !== "off") {
    throw new PhasorError("bad-args", `simd must be "auto", "on", "off" or a boolean, got ${JSON.stringify(simd)}`);
  }
  return useSimd(choice, "simd") ? "train-simd" : "train-scalar";
}

export class Trainer {
  readonly model: FloatModel;
  readonly batchSize: number;
  readonly maxLength: number;
  readonly lossKind: Loss;
  readonly timeOrigin: TimeOrigin;
  readonly simd: boolean;
  readonly optimizer: Optimizer;
  /** the learning rate a step of scale 1 uses */
  readonly lr: number;
  /** SGD's momentum beta, or Adam's beta1 */
  readonly momentum: number;
  /** the learning rate of log tau and shift relative to the other groups */
  readonly timeLrScale: number;
  /** the learning rate of a trained r_on relative to the weights */
  readonly rOnLrScale: number;
  /** r_on is a trained parameter (the rOn groups) */
  readonly trainROn: boolean;
  /** theta holds tau itself (the tau groups), not log tau */
  readonly tauDirect: boolean;
  /** training skips units whose gate is closed (TrainerOptions.skipClosed) */
  readonly skipClosed: boolean;
  readonly parameterCount: number;
  readonly groups: ParameterGroup[];
  private readonly e: TrainerExports;
  private readonly handle: number;
  private readonly ptr: Record<"theta" | "grad" | "moment1" | "moment2" | "inLengths" | "inT" | "inX" | "inLabels" | "inTargets" | "predicted", number>;
  /** the samples of the loaded batch, reloaded after predict() */
  private loaded: TrainingSample[] | null = null;

  private constructor(model: FloatModel, options: TrainerOptions, e: TrainerExports, build: TrainBuild, lossKind: Loss) {
    this.model = model;
    this.batchSize = options.batchSize;
    this.maxLength = options.maxLength;
    this.lossKind = lossKind;
    this.timeOrigin = options.timeOrigin ?? "sequence";
    this.simd = build === "train-simd";
    this.e = e;
    this.trainROn = options.trainROn ?? false;
    this.tauDirect = options.tauDirect ?? false;
    this.skipClosed = options.skipClosed ?? false;
    this.groups = parameterGroups(model, this.layout);
    this.writeDescriptor(lossKind);
    this.handle = e.trainCreate();
    if (this.handle === 0) throw new PhasorError("bad-args", this.errorText());
    const info = (key: number) => e.trainInfo(this.handle, key);
    this.parameterCount = info(contract.TI_PARAM_COUNT);
    this.ptr = {
      theta: info(contract.TI_THETA),
      grad: info(contract.TI_GRAD),
      moment1: info(contract.TI_MOMENT1),
      moment2: info(contract.TI_MOMENT2),
      inLengths: info(contract.TI_IN_LENGTHS),
      inT: info(contract.TI_IN_T),
      inX: info(contract.TI_IN_X),
      inLabels: info(contract.TI_IN_LABELS),
      inTargets: info(contract.TI_IN_TARGETS),
      predicted: info(contract.TI_PREDICTED),
    };
    // theta's layout is planned in wasm and described here: they must agree group for group
    for (const group of this.groups) {
      const key = GROUP_OFFSET[group.name];
      const offset = e.trainLayerInfo(this.handle, group.layer, key) + (group.name === "peephole.f" ? group.length : group.name === "peephole.o" ? 2 * group.length : 0);
      if (offset !== group.offset) throw new PhasorError("runtime", `trainer: wasm places ${group.name} of layer ${group.layer} at ${offset}, the host expects ${group.offset}`);
    }
    const last = this.groups[this.groups.length - 1];
    if (last.offset + last.length !== this.parameterCount) throw new PhasorError("runtime", "trainer: wasm and host disagree on the parameter count");
    model.layers.forEach((layer, n) => {
      new Float64Array(e.memory.buffer, e.trainLayerInfo(this.handle, n, contract.TL_R_ON), layer.hiddenSize).set(layer.rOn);
      if (e.trainSetAlpha(this.handle, n, layer.alpha) !== 0) throw new PhasorError("bad-model", this.errorText());
    });
    this.setParameters(parametersOf(model, this.layout));
    this.timeLrScale = options.timeLrScale ?? 1;
    this.rOnLrScale = options.rOnLrScale ?? 1;
    const scales = this.lrScales();
    for (const group of this.groups) {
      if (group.name === "logTau" || group.name === "tau" || group.name === "shift") scales.fill(this.timeLrScale, group.offset, group.offset + group.length);
      if (group.name === "rOn") scales.fill(this.rOnLrScale, group.offset, group.offset + group.length);
    }
    this.optimizer = options.optimizer ?? "adam";
    const sgd = this.optimizer === "sgd";
    this.lr = options.lr ?? DEFAULT_LR[this.optimizer];
    this.momentum = sgd ? (options.momentum ?? DEFAULT_MOMENTUM) : (options.beta1 ?? 0.9);
    const status = e.trainConfigure(
      this.handle,
      sgd ? contract.OPTIMIZER_SGD : contract.OPTIMIZER_ADAM,
      this.lr,
      this.momentum,
      options.beta2 ?? 0.999,
      options.epsilon ?? 1e-8,
      options.clipNorm ?? 0,
    );
    if (status !== 0) throw new PhasorError("bad-args", `trainer: ${this.errorText()}`);
  }

  /** A trainer starting from `model`'s parameters (its r_on and alpha stay as they are). */
  static async create(model: FloatModel, options: TrainerOptions): Promise<Trainer> {
    checkModel(model, "model");
    if (typeof options !== "object" || options === null) throw new PhasorError("bad-args", `Trainer.create: expected options as an object, got ${givenText(options)}`);
    knownOptions("Trainer.create", options, TRAINER_OPTIONS);
    const optimizer = options.optimizer ?? "adam";
    if (optimizer !== "adam" && optimizer !== "sgd") throw new PhasorError("bad-args", `optimizer must be "adam" or "sgd", got ${JSON.stringify(optimizer)}`);
    for (const other of (["adam", "sgd"] as const).filter((o) => o !== optimizer)) {
      const given = OPTIMIZER_OPTIONS[other].find((key) => options[key] !== undefined);
      if (given) throw new PhasorError("bad-args", `Trainer.create: ${given} is an option of ${other}, and the optimizer is ${JSON.stringify(optimizer)}`);
    }
    // the module takes these as f64: a string would be converted there without a word
    for (const key of ["lr", "momentum", "beta1", "beta2", "epsilon", "clipNorm"] as const) {
      if (options[key] !== undefined && typeof options[key] !== "number") throw new PhasorError("bad-args", `${key} must be a number, got ${JSON.stringify(options[key])}`);
    }
    wholeNumber("batchSize", options.batchSize, 1, contract.MAX_TRAIN_SIZE);
    wholeNumber("maxLength", options.maxLength, 1, contract.MAX_TRAIN_LENGTH);
    for (const key of ["timeLrScale", "rOnLrScale"] as const) {
      const scale = options[key] ?? 1;
      if (typeof scale !== "number" || !(scale >= 0 && scale <= LR_SCALE_MAX)) throw new PhasorError("bad-args", `${key} must be a number in 0..${LR_SCALE_MAX.toExponential().replace("+", "")}, got ${givenText(scale)}`);
    }
    for (const key of ["trainROn", "tauDirect", "skipClosed"] as const) {
      if (options[key] !== undefined && typeof options[key] !== "boolean") throw new PhasorError("bad-args", `${key} must be true or false, got ${JSON.stringify(options[key])}`);
    }
    // a trained r_on and a directly learned tau start inside the ranges they are clipped to (parameterGroups'
    // values say which unit is not)
    parametersOf(model, { trainROn: options.trainROn, tauDirect: options.tauDirect });
    const origin = options.timeOrigin ?? "sequence";
    if (origin !== "sequence" && origin !== "absolute") {
      throw new PhasorError("bad-args", `timeOrigin must be "sequence" or "absolute", got ${JSON.stringify(origin)}`);
    }
    const O = model.readout.outputSize;
    const lossKind = options.loss ?? (model.readout.mode === "last" && O >= 2 ? "cross-entropy" : "mse");
    if (lossKind !== "cross-entropy" && lossKind !== "mse") throw new PhasorError("bad-args", `loss must be "cross-entropy" or "mse", got ${JSON.stringify(lossKind)}`);
    if (lossKind === "cross-entropy" && model.readout.mode !== "last") {
      throw new PhasorError("bad-args", 'loss "cross-entropy" needs readout "last" (one label per sequence); use "mse" for readout "every"');
    }
    const build = chooseBuild(options.simd);
    const instance = await WebAssembly.instantiate(await compileBuild(build), {});
    return new Trainer(model, options, requireExports<TrainerExports>(instance.exports, TRAINER_FUNCTIONS, `phasor-${build}.wasm`), build, lossKind);
  }

  /** The shape trainCreate plans for, in the words and flags of assembly/contract/train.ts. */
  private writeDescriptor(lossKind: Loss): void {
    const { model } = this;
    const words = new Int32Array(this.e.memory.buffer, this.e.trainDescriptor(), contract.DESCRIPTOR_HEAD_WORDS + contract.DESCRIPTOR_LAYER_WORDS * model.layers.length);
    words[contract.DESCRIPTOR_LAYER_COUNT] = model.layers.length;
    words[contract.DESCRIPTOR_INPUT_SIZE] = model.inputSize;
    words[contract.DESCRIPTOR_OUTPUT_SIZE] = model.readout.outputSize;
    words[contract.DESCRIPTOR_READOUT_MODE] = model.readout.mode === "every" ? contract.READOUT_EVERY : contract.READOUT_LAST;
    words[contract.DESCRIPTOR_LOSS] = lossKind === "cross-entropy" ? contract.LOSS_CROSS_ENTROPY : contract.LOSS_MSE;
    words[contract.DESCRIPTOR_TIME_ORIGIN] = this.timeOrigin === "absolute" ? contract.ORIGIN_ABSOLUTE : contract.ORIGIN_SEQUENCE;
    words[contract.DESCRIPTOR_BATCH_SIZE] = this.batchSize;
    words[contract.DESCRIPTOR_MAX_LENGTH] = this.maxLength;
    words[contract.DESCRIPTOR_SKIP_CLOSED] = this.skipClosed ? 1 : 0;
    model.layers.forEach((layer, n) => {
      const at = contract.DESCRIPTOR_HEAD_WORDS + contract.DESCRIPTOR_LAYER_WORDS * n;
      words[at] = layer.hiddenSize;
      words[at + 1] =
        (layer.peephole ? contract.LAYER_PEEPHOLE : 0) | (this.trainROn ? contract.LAYER_TRAINS_R_ON : 0) | (this.tauDirect ? contract.LAYER_TAU_DIRECT : 0);
    });
  }

  private errorText(): string {
    return moduleError(this.e);
  }

  private f32(ptr: number, length: number): Float32Array {
    return new Float32Array(this.e.memory.buffer, ptr, length);
  }

  /** theta, live: a view of the trainer's memory (writes go straight into the parameters). */
  parameters(): Float32Array {
    return this.f32(this.ptr.theta, this.parameterCount);
  }

  /** The learning-rate multiplier of every parameter (theta's order), live; 1 except the time-gate groups. */
  lrScales(): Float32Array {
    return this.f32(this.e.trainInfo(this.handle, contract.TI_LR_SCALE), this.parameterCount);
  }

  /** Every layer's r_on, layer after layer, in float64 as the trainer uses it (trained or fixed). */
  rOnValues(): Float64Array {
    return Float64Array.from(this.toModel().layers.flatMap((layer) => Array.from(layer.rOn)));
  }

  /** The gradient left by the last lossAndGradient(), live. */
  gradient(): Float32Array {
    return this.f32(this.ptr.grad, this.parameterCount);
  }

  /** Copies theta in (rounded to f32). */
  setParameters(theta: ArrayLike<number>): void {
    if (theta.length !== this.parameterCount) throw badInput("setParameters", `theta has ${theta.length} numbers, the model has ${this.parameterCount} parameters`);
    this.parameters().set(theta);
  }

  /**
   * Makes `samples` (1 .. batchSize of them) the loaded batch: every later loss, gradient and prediction call
   * runs on it until the next loadBatch. The samples are copied in; the array is remembered for predict().
   */
  loadBatch(samples: TrainingSample[]): void {
    // a rejected batch leaves none loaded (the wasm checks all of it before laying any of it out); one this side
    // refuses never reaches the wasm, which would go on with the batch before it: a load of none unloads that
    this.loaded = null;
    try {
      this.writeBatch(samples);
    } catch (error) {
      this.e.trainLoad(this.handle, 0);
      throw error;
    }
    this.loaded = samples;
  }

  private writeBatch(samples: TrainingSample[]): void {
    const { batchSize, maxLength: T } = this;
    if (!Array.isArray(samples) || samples.length < 1 || samples.length > batchSize) {
      throw badInput("batch", `expected 1..${batchSize} (batchSize) samples, got ${Array.isArray(samples) ? samples.length : String(samples)}`);
    }
    const I = this.model.inputSize;
    const O = this.model.readout.outputSize;
    const every = this.model.readout.mode === "every";
    const buffer = this.e.memory.buffer;
    const lengths = new Int32Array(buffer, this.ptr.inLengths, batchSize);
    const times = new Float64Array(buffer, this.ptr.inT, batchSize * T);
    const inputs = new Float32Array(buffer, this.ptr.inX, batchSize * T * I);
    const labels = new Int32Array(buffer, this.ptr.inLabels, batchSize);
    const targets = new Float32Array(buffer, this.ptr.inTargets, batchSize * T * O);
    samples.forEach((sample, s) => {
      const where = `sample ${s}`;
      checkSample(where, sample);
      const n = sample.t.length;
      if (n < 1 || n > T) throw badInput(where, `has ${n} events, expected 1..${T} (maxLength)`);
      if (sample.x.length !== n * I) throw badInput(where, `x has ${sample.x.length} numbers, ${n} events x ${I} inputs need ${n * I}`);
      lengths[s] = n;
      times.set(sample.t, s * T);
      inputs.set(sample.x, s * T * I);
      if (this.lossKind === "cross-entropy") {
        const label = sample.label;
        if (typeof label !== "number" || !Number.isInteger(label) || label < 0 || label >= O) {
          throw badInput(where, `label must be a whole number in 0..${O - 1}, got ${givenText(label)}`);
        }
        labels[s] = label;
      } else {
        const expected = every ? n * O : O;
        const target = sample.target ?? (!every && O === 1 && typeof sample.label === "number" ? [sample.label] : undefined);
        if (!target || target.length !== expected) {
          throw badInput(where, `target must have ${expected} numbers (${every ? `${n} events x ${O} outputs, readout "every"` : `${O} outputs`}), got ${target ? target.length : "none"}`);
        }
        targets.set(target, every ? s * T * O : s * O);
      }
    });
    if (this.e.trainLoad(this.handle, samples.length) !== 0) throw badInput("batch", this.errorText());
  }

  /**
   * The fraction of (event, unit) pairs of every layer that the last pass over the loaded batch computed: 1 for a
   * training pass with every unit, the open fraction for prediction and for training that skips closed units.
   */
  unitsComputed(): number {
    return this.e.trainInfo(this.handle, contract.TI_UNITS_COMPUTED);
  }

  /** The loaded batch's mean loss at theta (training leak), without the gradient. */
  loss(): number {
    const loss = this.e.trainLoss(this.handle);
    if (Number.isNaN(loss) && !this.loaded) throw new PhasorError("bad-args", "loss(): no batch is loaded");
    return loss;
  }

  /** The loaded batch's mean loss at theta, and its gradient into gradient(). */
  lossAndGradient(): number {
    const loss = this.e.trainLossAndGradient(this.handle);
    if (Number.isNaN(loss) && !this.loaded) throw new PhasorError("bad-args", "lossAndGradient(): no batch is loaded");
    return loss;
  }

  /**
   * One optimizer update along the current gradient, with the learning rate times `scale` (the guard's cap).
   * Returns the gradient's global norm before clipping.
   */
  step(scale = 1): number {
    if (!(scale >= 0) || !Number.isFinite(scale)) throw new PhasorError("bad-args", `step scale must be a finite number >= 0, got ${givenText(scale)}`);
    return this.e.trainStep(this.handle, scale);
  }

  /** Zero momentum / moments and the step count (Adam's bias correction starts again). */
  resetOptimizer(): void {
    this.e.trainResetOptimizer(this.handle);
  }

  get stepCount(): number {
    return this.e.trainInfo(this.handle, contract.TI_STEP_COUNT);
  }

  /**
   * The final outputs y of each sample at theta with the leak alpha = 0, as at inference (for accuracy), in
   * the samples' order. The loaded batch is loaded again afterwards.
   */
  predict(samples: TrainingSample[]): Float64Array[] {
    if (!Array.isArray(samples)) throw badInput("predict", `expected an array of samples, got ${givenText(samples)}`);
    const O = this.model.readout.outputSize;
    const results: Float64Array[] = [];
    try {
      for (let first = 0; first < samples.length; first += this.batchSize) {
        const chunk = samples.slice(first, first + this.batchSize);
        this.writeBatch(chunk);
        if (this.e.trainPredict(this.handle) !== 0) throw new PhasorError("runtime", this.errorText());
        const y = new Float64Array(this.e.memory.buffer, this.ptr.predicted, chunk.length * O);
        for (let s = 0; s < chunk.length; s++) results.push(y.slice(s * O, (s + 1) * O));
      }
    } finally {
      if (this.loaded) this.writeBatch(this.loaded);
    }
    return results;
  }

  /** What theta holds (parameterGroups, parametersOf and modelFromParameters take it). */
  get layout(): ThetaLayout {
    return { trainROn: this.trainROn, tauDirect: this.tauDirect };
  }

  /** The trained model: theta in float64, tau = exp(log tau) or tau, r_on trained or as given; alpha and the rest as given at creation. */
  toModel(theta: ArrayLike<number> = this.parameters()): FloatModel {
    return modelFromParameters(this.model, theta, this.layout);
  }

  snapshot(): TrainerSnapshot {
    const P = this.parameterCount;
    return {
      theta: this.f32(this.ptr.theta, P).slice(),
      moment1: this.f32(this.ptr.moment1, P).slice(),
      moment2: this.f32(this.ptr.moment2, P).slice(),
      stepCount: this.stepCount,
    };
  }

  restore(snapshot: TrainerSnapshot): void {
    const P = this.parameterCount;
    if (typeof snapshot !== "object" || snapshot === null || [snapshot.theta, snapshot.moment1, snapshot.moment2].some((a) => typeof a !== "object" || a === null)) {
      throw badInput("snapshot", "expected { theta, moment1, moment2, stepCount } as snapshot() gives them");
    }
    // the step count sets Adam's bias correction: the module would truncate a fraction and take a negative count
    const steps = snapshot.stepCount;
    if (typeof steps !== "number" || !Number.isInteger(steps) || steps < 0 || steps > MAX_STEP_COUNT) {
      throw badInput("snapshot", `stepCount must be a whole number in 0..${MAX_STEP_COUNT}, got ${givenText(steps)}`);
    }
    if (snapshot.theta.length !== P || snapshot.moment1.length !== P || snapshot.moment2.length !== P) {
      throw badInput("snapshot", `taken from a trainer with another parameter count (this one has ${P})`);
    }
    this.f32(this.ptr.theta, P).set(snapshot.theta);
    this.f32(this.ptr.moment1, P).set(snapshot.moment1);
    this.f32(this.ptr.moment2, P).set(snapshot.moment2);
    this.e.trainSetStepCount(this.handle, snapshot.stepCount);
  }

  memory(): TrainerMemory {
    const info = (key: number) => this.e.trainInfo(this.handle, key);
    const arenaBytes = info(contract.TI_ARENA_BYTES);
    const parameterBytes = info(contract.TI_PARAMETER_BYTES);
    const inputBytes = info(contract.TI_INPUT_BYTES);
    return { arenaBytes, parameterBytes, inputBytes, workBytes: arenaBytes - parameterBytes - inputBytes };
  }

  /** The wasm memory's size in bytes (constant after creation: no step allocates). */
  get memoryBytes(): number {
    return this.e.memory.buffer.byteLength;
  }
}

// ---- A fresh model, tasks.md's protocol ----

export interface InitialModelSpec {
  inputSize: number;
  /** hidden size of each layer */
  hidden: number[];
  outputs: number;
  /** default "last" */
  readout?: ReadoutMode;
  /** default true */
  peephole?: boolean;
  /** default 0.05 */
  rOn?: number;
  /** tau log-uniform on this range; default [e^1, e^3] */
  tauRange?: [number, number];
  /** shift uniform on [0, shiftMax); default 100 */
  shiftMax?: number;
  /** the training leak; default 0.001 */
  alpha?: number;
  /** default "scaled" (host/model/init.ts) */
  weightInit?: WeightInit;
  labels?: string[];
}

/** The paper's setting for each task of tasks.md: 1 layer of 110 units; the freq tasks have 2 classes, adding regresses. */
export function taskModelSpec(task: TaskName): InitialModelSpec {
  if (task === "adding") return { inputSize: 2, hidden: [110], outputs: 1 };
  return { inputSize: 1, hidden: [110], outputs: 2 };
}

/**
 * A fresh model per tasks.md's protocol, the same for the same seed: tau log-uniform on [e^1, e^3], shift
 * U(0, 100), r_on 0.05, alpha 0.001, weights and biases as spec.weightInit says (host/model/init.ts).
 */
export function initialModel(spec: InitialModelSpec, seed: number): FloatModel {
  const model = randomModel(new Rng(seed), {
    inputSize: spec.inputSize,
    hidden: spec.hidden,
    peephole: spec.peephole ?? true,
    rOn: spec.rOn ?? 0.05,
    outputs: spec.outputs,
    mode: spec.readout ?? "last",
    tauRange: spec.tauRange,
    shiftMax: spec.shiftMax,
    alpha: spec.alpha ?? 0.001,
    weightInit: spec.weightInit,
  });
  if (spec.labels) model.readout.labels = [...spec.labels];
  checkModel(model, "initialModel");
  return model;
}
