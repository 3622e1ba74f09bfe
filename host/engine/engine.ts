/**
 * The contract every engine honours, so the CLI, the tests and the browser can drive the float64 reference
 * and the wasm engines through one API (plstm.md sections 1-4).
 */
import type { PhasorError } from "../errors.js";
import type { FloatModel } from "../model/model.js";

export type EngineKind = "reference" | "float" | "fixed";
export type SimdChoice = "auto" | "on" | "off";

/** What to do with an event whose timestamp is earlier than the stream's previous one (plstm.md section 4). */
export type TimePolicy = "reject" | "clamp";

export interface StreamOptions {
  /** Default "reject": the event fails with a PhasorError and the state is left untouched. */
  timePolicy?: TimePolicy;
}

export interface StreamStats {
  /** events pushed since the last reset */
  events: number;
  /** (unit, event) pairs, over all layers, whose time gate was open and so were updated */
  unitUpdates: number;
  /** (unit, event) pairs that were not updated: closed units, which cost nothing */
  unitsSkipped: number;
  /**
   * input values of the fixed engine beyond what its layer-0 input format holds (|x| above 32767 / 2^inputFrac, set by
   * the quantizer from the largest calibration input), which it saturated to that bound (docs/fixed-point.md); always
   * 0 for the float and reference engines, which take any finite input as it is
   */
  inputsSaturated: number;
}

/** Where the bytes of a model and of its streams go; the numbers the CLI reports for memory. */
export interface MemoryReport {
  /** weights, biases, peepholes, time-gate parameters and readout, shared by all streams; in the scalar build of
   * the fixed engine also its copies of U, and of W where the input is wider than 8, in row pairs: twice their
   * bytes (assembly/fixed/sums.ts) */
  weightsBytes: number;
  /** everything one stream keeps between events: h, c, phase seeds, the unit schedule (outputs are computed on request),
   * and in the SIMD build of the fixed engine the dense time gate's base phases, derived from those (4 bytes a unit
   * in groups of 8, 16 a layer; not in a snapshot) */
  stateBytesPerStream: number;
  /** per-event scratch, shared by all streams of the engine */
  scratchBytes: number;
}

/**
 * How one learning step of a readout is taken (docs/on-device-learning.md, section 1): SGD with step eta, capped at
 * c 2 / lambda, lambda the sample's own curvature bound (||h||^2 + 1 for squared error, half that for cross-entropy).
 */
export interface LearningRate {
  /** the step, in [2^-24, 1024] */
  eta: number;
  /**
   * the cap's factor, in [2^-16, 1] (default 0.9): every step is then linearly stable on its sample and
   * non-expansive. Infinity takes the cap away, only to see what it prevents: no guarantee holds then.
   */
  c?: number;
}

/** What one learning step did. */
export interface LearningStep {
  /** the cap was below eta and was the step */
  capped: boolean;
}

/**
 * A stream's own readout, fine-tuned on the stream's labelled data (docs/on-device-learning.md): the streams of the
 * fixed engine have one, in integer arithmetic, the same bits as the learning microcontroller module
 * (build/phasor-mcu-learn.wasm). It lives beside the stream, never in the model, which its other streams share.
 * stream.snapshot() does not hold it: save() does.
 */
export interface ReadoutLearning {
  /**
   * One step towards `target` from the stream's current state (after a sequence for a "last" readout, after an
   * event for an "every" one): a class (an integer, softmax cross-entropy), or outputSize numbers (squared error,
   * each within +-2^23); on a readout of one output a number is its target value. A refused target or rate changes
   * nothing.
   */
  learn(target: number | ArrayLike<number>, rate: LearningRate): LearningStep;
  /** true from the first learn() or load() until reset(): outputs come from the adapted readout */
  readonly adapted: boolean;
  /** learning steps the readout has taken (carried by save() and load()) */
  readonly steps: number;
  /** the readout in use, as bytes (docs/on-device-learning.md, section 5): what the microcontroller's readoutSave gives */
  save(): Uint8Array;
  /** takes the bytes of a save() of a stream of this model; refused bytes (another model, damaged) change nothing */
  load(bytes: Uint8Array): void;
  /** back to the model's own readout */
  reset(): void;
}

/** One independent event stream: its own state, the engine's shared weights. */
export interface Stream {
  readonly inputSize: number;
  readonly outputSize: number;
  /** hidden size of the last layer */
  readonly hiddenSize: number;
  /**
   * Feeds one event. Validates t and x before touching anything: on a PhasorError the state is unchanged. Every engine
   * checks alike (host/engine/stream-checks.ts): t a finite number, x exactly inputSize finite numbers within the f32
   * range; anything else is a "bad-input" PhasorError whose `refusal` says why (host/errors.ts). Events of one stream
   * must come in non-decreasing t (or see StreamOptions.timePolicy).
   */
  push(t: number, x: ArrayLike<number>): void;
  /**
   * The error push(t, x) would throw now (its `refusal` says why), or null when push would accept the event.
   * Changes nothing: a caller can find out before it commits anything of its own to the event.
   */
  check(t: number, x: ArrayLike<number>): PhasorError | null;
  /**
   * Feeds n = t.length events in one call (x holds n * inputSize numbers, event-major). When `y` is given
   * (exactly n * outputSize numbers) it receives the readout after every event, and `h` (exactly n * hiddenSize) the last
   * layer's hidden state after every event; y and h may not share memory with each other or with t and x. The
   * whole batch is validated first: a bad event rejects the whole batch and leaves the state untouched.
   */
  pushBatch(t: Float64Array, x: Float32Array | Float64Array, y?: Float64Array, h?: Float64Array): void;
  /** readout y = V h + d of the current state (plstm.md section 2) */
  output(): Float64Array;
  /** hidden state of a layer (default: the last one) */
  hidden(layer?: number): Float64Array;
  /** cell state of a layer (default: the last one) */
  cell(layer?: number): Float64Array;
  /** back to h = c = 0 and no time origin, as a new stream */
  reset(): void;
  /** the whole state as bytes; restore() on a stream of the same engine brings it back exactly */
  snapshot(): Uint8Array;
  restore(snapshot: Uint8Array): void;
  stats(): StreamStats;
  /** frees what the stream holds; the stream may not be used afterwards */
  dispose(): void;
  /** the stream's learning readout: the fixed engine's streams have one, the reference and float engines' none */
  readonly learning: ReadoutLearning | null;
}

export interface Engine {
  readonly kind: EngineKind;
  /** true when the engine runs the SIMD build (always false for the reference) */
  readonly simd: boolean;
  /** the float model this engine runs (for the fixed engine: the de-quantized model of the .plsm) */
  readonly model: FloatModel;
  /**
   * the fixed engine's layer-0 input format, its fractional bits: an input x is held as round(x 2^inputFrac) in i16,
   * so |x| up to 32767 / 2^inputFrac (the quantizer's bound on the largest calibration input); beyond it x saturates
   * to that bound, which the stream's stats count (inputsSaturated). null for the float and reference engines.
   */
  readonly inputFrac: number | null;
  createStream(options?: StreamOptions): Stream;
  memory(): MemoryReport;
  dispose(): void;
}
