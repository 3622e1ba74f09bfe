/**
 * The wasm engines (float and fixed) behind the Engine interface: one module instance per engine, the model
 * image and every stream's state in its memory, and an I/O area that events and outputs pass through, so that
 * a batch of events is a single call into wasm.
 */
import {
  E_INPUT, E_MODEL, INFO_INPUT_FRAC, INFO_INPUT_SIZE, INFO_KIND, INFO_LAYER_COUNT, INFO_MODEL_BYTES, INFO_OUTPUT_SIZE, INFO_SCRATCH_BYTES, INFO_STREAM_BYTES, INFO_STREAM_CACHE_BYTES,
  INFO_TOTAL_UNITS, LEARN_CAPPED, POLICY_CLAMP, POLICY_REJECT, REASON_NON_FINITE, REASON_TIME_BACKWARDS, REASON_TIME_RANGE,
} from "../../assembly/contract/calls.js";
import { KIND_FIXED, KIND_FLOAT } from "../../assembly/contract/plsm.js";
import { READOUT_STEPS_AT } from "../../assembly/contract/readout.js";
import type { Engine, EngineKind, LearningRate, LearningStep, MemoryReport, ReadoutLearning, Stream, StreamOptions, StreamStats } from "./engine.js";
import { PhasorError, badInput, type EventRefusal } from "../errors.js";
import type { FloatModel } from "../model/model.js";
import { learningRate, learningTarget } from "./readout-learning.js";
import {
  batchEventProblem, batchProblem, batchWhere, eventProblem, eventWhere, layerIndex, snapshotBytes, timeBackwardsError, timePolicyOf, timeRangeError,
} from "./stream-checks.js";
import { compileBuild, moduleError, requireExports, type Build, type ExportedFunctions } from "./wasm-source.js";

/** The library builds' exports (assembly/index.ts), as the host calls them. */
export interface EngineExports {
  memory: WebAssembly.Memory;
  alloc(size: number): number;
  free(ptr: number): void;
  modelCreate(bytes: number, length: number): number;
  modelFree(model: number): void;
  modelInfo(model: number, what: number): number;
  layerHidden(model: number, layer: number): number;
  streamCreate(model: number): number;
  streamFree(stream: number): void;
  streamClear(model: number, stream: number): void;
  push(model: number, stream: number, t: number, x: number, policy: number): number;
  check(model: number, stream: number, t: number, x: number, policy: number): number;
  pushBatch(model: number, stream: number, n: number, t: number, x: number, y: number, h: number, policy: number): number;
  output(model: number, stream: number, out: number): void;
  hidden(model: number, stream: number, layer: number, out: number): number;
  cell(model: number, stream: number, layer: number, out: number): number;
  restore(model: number, stream: number, src: number, length: number): number;
  snapshotSchedule(model: number, stream: number): void;
  denseGateNext(model: number, stream: number, layer: number): number;
  streamEvents(stream: number): number;
  streamUpdates(stream: number): number;
  streamSaturated(stream: number): number;
  exactPhase(t: number, s: number, tau: number): number;
  errorPtr(): number;
  errorLen(): number;
  refusalReason(): number;
  refusalIndex(): number;
  refusalTime(): number;
  phaseStep(tau: number, ticksLog2: number): bigint;
  phaseStepLowBits(): number;
  readoutCreate(model: number): number;
  readoutFree(readout: number): void;
  readoutReset(model: number, readout: number): void;
  readoutSize(model: number): number;
  readoutSave(model: number, readout: number, dst: number): void;
  readoutLoad(model: number, readout: number, src: number, length: number): number;
  learn(model: number, stream: number, readout: number, label: number, targets: number, eta: number, c: number): number;
  outputLearned(model: number, stream: number, readout: number, out: number): void;
  pushBatchLearned(model: number, stream: number, readout: number, n: number, t: number, x: number, y: number, h: number, policy: number): number;
}

/** The functions of EngineExports, which requireExports checks a build for. */
export const ENGINE_FUNCTIONS: ExportedFunctions<EngineExports> = {
  alloc: true,
  free: true,
  modelCreate: true,
  modelFree: true,
  modelInfo: true,
  layerHidden: true,
  streamCreate: true,
  streamFree: true,
  streamClear: true,
  push: true,
  check: true,
  pushBatch: true,
  output: true,
  hidden: true,
  cell: true,
  restore: true,
  snapshotSchedule: true,
  denseGateNext: true,
  streamEvents: true,
  streamUpdates: true,
  streamSaturated: true,
  exactPhase: true,
  errorPtr: true,
  errorLen: true,
  refusalReason: true,
  refusalIndex: true,
  refusalTime: true,
  phaseStep: true,
  phaseStepLowBits: true,
  readoutCreate: true,
  readoutFree: true,
  readoutReset: true,
  readoutSize: true,
  readoutSave: true,
  readoutLoad: true,
  learn: true,
  outputLearned: true,
  pushBatchLearned: true,
};

/** The refusal each of the module's reasons stands for (refusalReason()). */
const REFUSALS: Record<number, EventRefusal> = {
  [REASON_NON_FINITE]: "nonFinite",
  [REASON_TIME_BACKWARDS]: "timeBackwards",
  [REASON_TIME_RANGE]: "timeRange",
};

/** One instance of a build, with views on its memory that follow memory growth. */
export class WasmInstance {
  readonly exports: EngineExports;
  readonly build: Build;
  private buffer: ArrayBuffer | undefined;
  private u8v = new Uint8Array(0);
  private f32v = new Float32Array(0);
  private f64v = new Float64Array(0);

  private constructor(exports: EngineExports, build: Build) {
    this.exports = exports;
    this.build = build;
  }

  static async create(build: Build): Promise<WasmInstance> {
    const instance = await WebAssembly.instantiate(await compileBuild(build), {});
    return new WasmInstance(requireExports<EngineExports>(instance.exports, ENGINE_FUNCTIONS, `phasor-${build}.wasm`), build);
  }

  private refresh(): void {
    const buffer = this.exports.memory.buffer;
    if (buffer !== this.buffer) {
      this.buffer = buffer;
      this.u8v = new Uint8Array(buffer);
      this.f32v = new Float32Array(buffer);
      this.f64v = new Float64Array(buffer);
    }
  }
  get u8(): Uint8Array {
    this.refresh();
    return this.u8v;
  }
  get f32(): Float32Array {
    this.refresh();
    return this.f32v;
  }
  get f64(): Float64Array {
    this.refresh();
    return this.f64v;
  }

  /** The module's last error message. */
  errorText(): string {
    return moduleError(this.exports);
  }

  /** Copies bytes into freshly allocated module memory (16-byte aligned) and returns the pointer. */
  copyIn(bytes: Uint8Array): number {
    const ptr = address(this.exports.alloc(Math.max(1, bytes.length)));
    this.u8.set(bytes, ptr);
    return ptr;
  }
}

/**
 * An address the module gave, as a JS number: the exports return usize as an i32, which reads negative from 2 GiB up
 * (an engine's memory grows to 4 GiB, with many streams), and so would every view offset made from it. Addresses are
 * taken through here, and divided into view indexes with >>>.
 */
function address(pointer: number): number {
  return pointer >>> 0;
}

/** A growable region of module memory for events in and outputs out. */
class IoArea {
  ptr = 0;
  capacity = 0;
  constructor(private readonly wasm: WasmInstance) {}
  /**
   * The area, with room for `bytes` at least; `what` needs them, as a refusal names it when they do not fit. The
   * name is made only then: push reserves its input at every event.
   */
  reserve(bytes: number, what?: string): number {
    if (bytes > this.capacity) {
      // the new area first: an allocation the module cannot grow to traps, and the old area must still be ours then
      const capacity = Math.max(bytes, this.capacity * 2, 4096);
      const ptr = withinMemory(what ?? `an area of ${bytes} bytes for this call's inputs and outputs`, () => address(this.wasm.exports.alloc(capacity)));
      if (this.ptr) this.wasm.exports.free(this.ptr);
      this.ptr = ptr;
      this.capacity = capacity;
    }
    return this.ptr;
  }
}

export class WasmEngine implements Engine {
  readonly kind: EngineKind;
  readonly simd: boolean;
  readonly model: FloatModel;
  readonly wasm: WasmInstance;
  readonly handle: number;
  readonly inputSize: number;
  readonly outputSize: number;
  readonly hiddenSizes: number[];
  /** a stream's block, what a snapshot holds */
  readonly streamBytes: number;
  /** what a stream keeps beside its block (assembly/contract/calls.ts, INFO_STREAM_CACHE_BYTES) */
  readonly streamCacheBytes: number;
  readonly totalUnits: number;
  readonly inputFrac: number | null;
  readonly io: IoArea;
  private disposed = false;

  private constructor(kind: EngineKind, model: FloatModel, wasm: WasmInstance, handle: number) {
    const e = wasm.exports;
    this.kind = kind;
    this.simd = wasm.build === "simd";
    // its own copy: the weights it runs are in its memory, and a caller that changes its model object later changes neither
    this.model = structuredClone(model);
    this.wasm = wasm;
    this.handle = handle;
    this.inputSize = e.modelInfo(handle, INFO_INPUT_SIZE);
    this.outputSize = e.modelInfo(handle, INFO_OUTPUT_SIZE);
    this.hiddenSizes = Array.from({ length: e.modelInfo(handle, INFO_LAYER_COUNT) }, (_, n) => e.layerHidden(handle, n));
    this.streamBytes = e.modelInfo(handle, INFO_STREAM_BYTES);
    this.streamCacheBytes = e.modelInfo(handle, INFO_STREAM_CACHE_BYTES);
    this.totalUnits = e.modelInfo(handle, INFO_TOTAL_UNITS);
    this.inputFrac = kind === "fixed" ? e.modelInfo(handle, INFO_INPUT_FRAC) : null;
    this.io = new IoArea(wasm);
  }

  /**
   * An engine over a .plsm image (kind 1 runs as the fixed engine, kind 2 as the float engine); `model` is the
   * float model the image stands for. The module checks the image; a rejected image is a bad-model error.
   */
  static async create(kind: EngineKind, image: Uint8Array, model: FloatModel, build: Build, source: string): Promise<WasmEngine> {
    const wasm = await WasmInstance.create(build);
    const [bytes, handle] = withinMemory(`${source}: a model of ${image.length} bytes`, () => {
      const at = wasm.copyIn(image);
      return [at, wasm.exports.modelCreate(at, image.length)];
    });
    if (handle === 0) {
      const why = wasm.errorText();
      wasm.exports.free(bytes);
      throw new PhasorError("bad-model", `${source}: ${why}`);
    }
    const expected = kind === "fixed" ? KIND_FIXED : KIND_FLOAT;
    if (wasm.exports.modelInfo(handle, INFO_KIND) !== expected) {
      wasm.exports.modelFree(handle);
      throw new PhasorError("bad-model", `${source}: the ${kind} engine needs a ${kind === "fixed" ? "quantized" : "float"} model image`);
    }
    return new WasmEngine(kind, model, wasm, handle);
  }

  createStream(options?: StreamOptions): Stream {
    this.check();
    return new WasmStream(this, timePolicyOf(options) === "clamp" ? POLICY_CLAMP : POLICY_REJECT);
  }

  memory(): MemoryReport {
    // the model's block is freed by dispose(): what it held is no longer this engine's to report
    this.check();
    const e = this.wasm.exports;
    return {
      weightsBytes: e.modelInfo(this.handle, INFO_MODEL_BYTES),
      stateBytesPerStream: this.streamBytes + this.streamCacheBytes,
      scratchBytes: e.modelInfo(this.handle, INFO_SCRATCH_BYTES),
    };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.wasm.exports.modelFree(this.handle);
  }

  check(): void {
    if (this.disposed) throw new PhasorError("runtime", "the engine has been disposed");
  }

  /**
   * Turns a failed status into the error it stands for. A refused event is worded as the reference words it
   * (host/engine/stream-checks.ts): `problem` finds what is wrong with the refused event's values, the module says
   * which event and, for the time checks, against which time.
   */
  error(status: number, where: (index: number) => string, problem: (index: number) => PhasorError | null): PhasorError {
    const e = this.wasm.exports;
    if (status === E_MODEL) return new PhasorError("bad-model", this.wasm.errorText());
    if (status !== E_INPUT) return badInput(where(-1), this.wasm.errorText());
    const index = e.refusalIndex();
    const refusal = REFUSALS[e.refusalReason()];
    if (refusal === "timeBackwards") return timeBackwardsError(where(index), e.refusalTime());
    if (refusal === "timeRange") return timeRangeError(where(index), e.refusalTime());
    return problem(index) ?? badInput(where(index), this.wasm.errorText(), refusal);
  }
}

/**
 * Runs what may allocate module memory: an allocation beyond what the module can grow to traps, and becomes a
 * runtime PhasorError saying what did not fit.
 */
function withinMemory<T>(what: string, action: () => T): T {
  try {
    return action();
  } catch (err) {
    if (err instanceof WebAssembly.RuntimeError || err instanceof RangeError) {
      throw new PhasorError("runtime", `${what} does not fit in the engine's memory (${(err as Error).message})`);
    }
    throw err;
  }
}

class WasmStream implements Stream {
  readonly inputSize: number;
  readonly outputSize: number;
  readonly hiddenSize: number;
  readonly learning: WasmReadoutLearning | null;
  private ptr: number;

  constructor(
    private readonly engine: WasmEngine,
    private readonly policy: number,
  ) {
    this.inputSize = engine.inputSize;
    this.outputSize = engine.outputSize;
    this.hiddenSize = engine.hiddenSizes[engine.hiddenSizes.length - 1];
    this.ptr = withinMemory(`a stream of ${engine.streamBytes + engine.streamCacheBytes} bytes`, () => address(engine.wasm.exports.streamCreate(engine.handle)));
    this.learning = engine.kind === "fixed" ? new WasmReadoutLearning(engine, () => this.live()) : null;
  }

  private live(): number {
    this.engine.check();
    if (!this.ptr) throw new PhasorError("runtime", "the stream has been disposed");
    return this.ptr;
  }

  push(t: number, x: ArrayLike<number>): void {
    const error = this.single(t, x, this.engine.wasm.exports.push);
    if (error) throw error;
  }

  check(t: number, x: ArrayLike<number>): PhasorError | null {
    return this.single(t, x, this.engine.wasm.exports.check);
  }

  /** One event through `entry` (push, or check which runs nothing), after the host's checks: x goes in as f32
   * through the I/O area. Returns the refusal, or null. */
  private single(t: number, x: ArrayLike<number>, entry: EngineExports["push"]): PhasorError | null {
    const st = this.live();
    const problem = eventProblem(t, x, this.inputSize);
    if (problem) return problem;
    const { wasm, io } = this.engine;
    const at = io.reserve(this.inputSize * 4);
    wasm.f32.set(x, at >>> 2);
    const status = entry(this.engine.handle, st, t, at, this.policy);
    return status === 0 ? null : this.engine.error(status, () => eventWhere(t), () => eventProblem(t, x, this.inputSize));
  }

  pushBatch(t: Float64Array, x: Float32Array | Float64Array, y?: Float64Array, h?: Float64Array): void {
    const st = this.live();
    const problem = batchProblem(t, x, y, h, this);
    if (problem) throw problem;
    const n = t.length;
    const I = this.inputSize;
    if (n === 0) return;
    const { wasm, io } = this.engine;
    // I/O area: t f64[n] | y f64[n O] | h f64[n H] | x f32[n I]
    const tBytes = n * 8;
    const yBytes = y ? n * this.outputSize * 8 : 0;
    const hBytes = h ? n * this.hiddenSize * 8 : 0;
    const base = io.reserve(tBytes + yBytes + hBytes + n * I * 4, `a batch of ${n} events`);
    const yAt = base + tBytes;
    const hAt = yAt + yBytes;
    const xAt = hAt + hBytes;
    wasm.f64.set(t, base >>> 3);
    wasm.f32.set(x, xAt >>> 2);
    const readout = this.learning?.readout ?? 0;
    const status = readout
      ? wasm.exports.pushBatchLearned(this.engine.handle, st, readout, n, base, xAt, y ? yAt : 0, h ? hAt : 0, this.policy)
      : wasm.exports.pushBatch(this.engine.handle, st, n, base, xAt, y ? yAt : 0, h ? hAt : 0, this.policy);
    if (status !== 0) {
      throw this.engine.error(status, (e) => (e < 0 ? "batch" : batchWhere(e, t[e])), (e) => (e < 0 ? null : batchEventProblem(e, t, x, I)));
    }
    if (y) y.set(wasm.f64.subarray(yAt >>> 3, (yAt >>> 3) + n * this.outputSize));
    if (h) h.set(wasm.f64.subarray(hAt >>> 3, (hAt >>> 3) + n * this.hiddenSize));
  }

  output(): Float64Array {
    const st = this.live();
    const { wasm, io } = this.engine;
    const at = io.reserve(this.outputSize * 8);
    const readout = this.learning?.readout ?? 0;
    if (readout) wasm.exports.outputLearned(this.engine.handle, st, readout, at);
    else wasm.exports.output(this.engine.handle, st, at);
    return wasm.f64.slice(at >>> 3, (at >>> 3) + this.outputSize);
  }

  hidden(layer = this.engine.hiddenSizes.length - 1): Float64Array {
    return this.layerState(layer, true);
  }

  cell(layer = this.engine.hiddenSizes.length - 1): Float64Array {
    return this.layerState(layer, false);
  }

  private layerState(layer: number, hidden: boolean): Float64Array {
    const st = this.live();
    const { wasm, io, hiddenSizes } = this.engine;
    layerIndex(layer, hiddenSizes.length);
    const at = io.reserve(hiddenSizes[layer] * 8);
    (hidden ? wasm.exports.hidden : wasm.exports.cell)(this.engine.handle, st, layer, at);
    return wasm.f64.slice(at >>> 3, (at >>> 3) + hiddenSizes[layer]);
  }

  reset(): void {
    this.engine.wasm.exports.streamClear(this.engine.handle, this.live());
  }

  snapshot(): Uint8Array {
    const st = this.live();
    const { wasm, handle, streamBytes } = this.engine;
    // the schedule every build writes alike (assembly/stream.ts, canonicalSchedules), so that the SIMD and scalar
    // builds' snapshots of a stream are the same bytes; put in the live stream, where it changes no output
    wasm.exports.snapshotSchedule(handle, st);
    return wasm.u8.slice(st, st + streamBytes);
  }

  restore(snapshot: Uint8Array): void {
    const st = this.live();
    const bytes = snapshotBytes(snapshot);
    const { wasm, io } = this.engine;
    if (bytes.length !== this.engine.streamBytes) {
      throw badInput("snapshot", `${bytes.length} bytes, a stream of this model has ${this.engine.streamBytes}`);
    }
    const at = io.reserve(bytes.length);
    wasm.u8.set(bytes, at);
    const status = wasm.exports.restore(this.engine.handle, st, at, bytes.length);
    if (status !== 0) throw badInput("snapshot", wasm.errorText());
  }

  stats(): StreamStats {
    const st = this.live();
    const e = this.engine.wasm.exports;
    const events = e.streamEvents(st);
    const unitUpdates = e.streamUpdates(st);
    return { events, unitUpdates, unitsSkipped: events * this.engine.totalUnits - unitUpdates, inputsSaturated: e.streamSaturated(st) };
  }

  dispose(): void {
    if (this.ptr) this.engine.wasm.exports.streamFree(this.ptr);
    this.ptr = 0;
    this.learning?.reset();
  }
}

/**
 * The fixed engine's learning readout of one stream (ReadoutLearning): a block of module memory made from the
 * model's readout at the first learn() or load() and freed by reset(); until then outputs take the model's own
 * readout path, whose bits the block reproduces (docs/on-device-learning.md, section 3).
 */
class WasmReadoutLearning implements ReadoutLearning {
  /** the adapted readout in module memory; 0 when the stream uses the model's */
  readout = 0;

  constructor(
    private readonly engine: WasmEngine,
    private readonly stream: () => number,
  ) {}

  get adapted(): boolean {
    return this.readout !== 0;
  }

  get steps(): number {
    return this.readout ? new DataView(this.engine.wasm.u8.buffer).getUint32(this.readout + READOUT_STEPS_AT, true) : 0;
  }

  private size(): number {
    return this.engine.wasm.exports.readoutSize(this.engine.handle);
  }

  /** The adapted readout, made from the model's when there is none yet. */
  private own(): number {
    if (!this.readout) {
      const e = this.engine.wasm.exports;
      this.readout = withinMemory(`an adapted readout of ${this.size()} bytes`, () => address(e.readoutCreate(this.engine.handle)));
    }
    return this.readout;
  }

  learn(target: number | ArrayLike<number>, rate: LearningRate): LearningStep {
    const st = this.stream();
    const goal = learningTarget(target, this.engine.outputSize);
    const { eta, c } = learningRate(rate);
    const { wasm, io, handle } = this.engine;
    let targets = 0;
    if (goal.kind === "values") {
      targets = io.reserve(goal.values.length * 8);
      wasm.f64.set(goal.values, targets >>> 3);
    }
    const fresh = !this.readout;
    const status = wasm.exports.learn(handle, st, this.own(), goal.kind === "class" ? goal.label : 0, targets, eta, c);
    if (status < 0) {
      if (fresh) this.reset();
      throw badInput("learning", wasm.errorText());
    }
    return { capped: status === LEARN_CAPPED };
  }

  save(): Uint8Array {
    this.stream();
    const { wasm, io, handle } = this.engine;
    const n = this.size();
    const fresh = !this.readout;
    const at = io.reserve(n, `an adapted readout of ${n} bytes`);
    wasm.exports.readoutSave(handle, this.own(), at);
    const bytes = wasm.u8.slice(at, at + n);
    if (fresh) this.reset();
    return bytes;
  }

  load(bytes: Uint8Array): void {
    this.stream();
    if (!(bytes instanceof Uint8Array)) throw badInput("adapted readout", "expected the bytes of a save() (a Uint8Array)");
    const { wasm, io, handle } = this.engine;
    const at = io.reserve(bytes.length, `an adapted readout of ${bytes.length} bytes`);
    wasm.u8.set(bytes, at);
    const fresh = !this.readout;
    const status = wasm.exports.readoutLoad(handle, this.own(), at, bytes.length);
    if (status !== 0) {
      if (fresh) this.reset();
      throw badInput("adapted readout", wasm.errorText());
    }
  }

  reset(): void {
    if (this.readout) this.engine.wasm.exports.readoutFree(this.readout);
    this.readout = 0;
  }
}
