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
}

/** Where the bytes of a model and of its streams go; the numbers the CLI reports for memory. */
export interface MemoryReport {
  /** weights, biases, peepholes, time-gate parameters and readout, shared by all streams */
  weightsBytes: number;
  /** everything one stream keeps between events: h, c, phase seeds, the unit schedule (outputs are computed on request) */
  stateBytesPerStream: number;
  /** per-event scratch, shared by all streams of the engine */
  scratchBytes: number;
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
   * (n * outputSize numbers) it receives the readout after every event, and `h` (n * hiddenSize) the last
   * layer's hidden state after every event. The whole batch is validated first: a bad event rejects the whole
   * batch and leaves the state untouched.
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
}

export interface Engine {
  readonly kind: EngineKind;
  /** true when the engine runs the SIMD build (always false for the reference) */
  readonly simd: boolean;
  /** the float model this engine runs (for the fixed engine: the de-quantized model of the .plsm) */
  readonly model: FloatModel;
  createStream(options?: StreamOptions): Stream;
  memory(): MemoryReport;
  dispose(): void;
}
