/**
 * The float64 reference engine: shared/spec/plstm.md computed as written, in float64 throughout, with the phase of the
 * time gate exact (host/engine/phase.ts). Every other engine and the trainer are tested against it, so it favours being
 * obviously right over being fast. The step is a few small functions that mirror the spec's equations, in the order the
 * spec gives them, the way TensorFlow Lite Micro writes its LSTM kernel.
 */
import type { Engine, MemoryReport, Stream, StreamOptions, StreamStats, TimePolicy } from "./engine.js";
import { checkModel, type FloatModel, type LayerParams, type Readout } from "../model/model.js";
import { crc32 } from "../model/plsm.js";
import { ExactPhase, timeGate } from "./phase.js";
import { PhasorError, badInput, givenText, knownOptions } from "../errors.js";
import {
  batchEventProblem, batchProblem, batchWhere, eventProblem, eventWhere, layerIndex, snapshotBytes, timeBackwardsError, timePolicyOf,
} from "./stream-checks.js";

export interface ReferenceOptions {
  /**
   * The time-gate leak alpha: by default 0, as every inference engine uses it (plstm.md section 6); "model" for
   * each layer's own alpha (what training uses, for gradient checks), or one number for every layer.
   */
  alpha?: "model" | number;
}

// ---- One event, one layer: plstm.md section 1 ----

function sigmoid(z: number): number {
  return 1 / (1 + Math.exp(-z));
}

/**
 * plstm.md section 1, the sums inside i, f, g and o without the peephole term: W_r x + U_r h + b_r for the weight
 * row r = gate * H + unit (gates in order i, f, g, o).
 */
function gatePreactivation(layer: LayerParams, row: number, x: Float64Array, h: Float64Array): number {
  const I = layer.inputSize;
  const H = layer.hiddenSize;
  const W = layer.W;
  const U = layer.U;
  let z = layer.b[row];
  for (let k = 0, r = row * I; k < I; k++) z += W[r + k] * x[k];
  for (let k = 0, r = row * H; k < H; k++) z += U[r + k] * h[k];
  return z;
}

/** plstm.md section 1, "c~ = f * c + i * g". */
function candidateCell(f: number, c: number, i: number, g: number): number {
  return f * c + i * g;
}

/** plstm.md section 1, "h~ = o * tanh(c~)". */
function candidateHidden(o: number, cCandidate: number): number {
  return o * Math.tanh(cCandidate);
}

/** plstm.md section 1, gated update: "c <- k * c~ + (1 - k) * c", and the same for h. */
function gatedUpdate(k: number, candidate: number, previous: number): number {
  return k * candidate + (1 - k) * previous;
}

/**
 * plstm.md section 1, the peephole LSTM candidate of unit j followed by its gated update with openness k.
 * Reads the previous state (h, c) of the whole layer, writes unit j of the next state (hNext, cNext).
 */
function unitStep(
  layer: LayerParams,
  j: number,
  k: number,
  x: Float64Array,
  h: Float64Array,
  c: Float64Array,
  hNext: Float64Array,
  cNext: Float64Array,
): void {
  const H = layer.hiddenSize;
  const peephole = layer.peephole;
  const cj = c[j];
  // "i = sigma(W_i x + U_i h + p_i * c + b_i)" and the same for f; g has no peephole
  const i = sigmoid(gatePreactivation(layer, 0 * H + j, x, h) + (peephole ? peephole.i[j] * cj : 0));
  const f = sigmoid(gatePreactivation(layer, 1 * H + j, x, h) + (peephole ? peephole.f[j] * cj : 0));
  const g = Math.tanh(gatePreactivation(layer, 2 * H + j, x, h));
  const cCandidate = candidateCell(f, cj, i, g);
  // "o = sigma(W_o x + U_o h + p_o * c~ + b_o)": the output peephole sees the candidate, not the gated c
  const o = sigmoid(gatePreactivation(layer, 3 * H + j, x, h) + (peephole ? peephole.o[j] * cCandidate : 0));
  const hCandidate = candidateHidden(o, cCandidate);
  cNext[j] = gatedUpdate(k, cCandidate, cj);
  hNext[j] = gatedUpdate(k, hCandidate, h[j]);
}

/** What a layer needs besides its parameters: the exact phases of its units and per-event scratch. */
interface LayerRun {
  params: LayerParams;
  phase: ExactPhase;
  alpha: number;
  /** scratch: phi of every unit at the current event */
  phi: Float64Array;
  /** scratch: the next state, so that every unit reads the previous h (U h) */
  hNext: Float64Array;
  cNext: Float64Array;
}

/**
 * plstm.md section 1 for a whole layer at time t: the time gate of every unit, then the candidate and gated
 * update of the units it lets through. Updates h and c in place; returns how many units were open (phi < r_on).
 */
function layerStep(run: LayerRun, t: number, x: Float64Array, h: Float64Array, c: Float64Array): number {
  const { params, phi, hNext, cNext } = run;
  const rOn = params.rOn;
  run.phase.phases(t, phi);
  let open = 0;
  for (let j = 0; j < params.hiddenSize; j++) {
    if (phi[j] < rOn[j]) open++;
    const k = timeGate(phi[j], rOn[j], run.alpha);
    if (k === 0) {
      // k = 0 keeps h and c exactly (section 1): skipping the arithmetic is exact, and keeps -0 as -0 too
      hNext[j] = h[j];
      cNext[j] = c[j];
    } else {
      unitStep(params, j, k, x, h, c, hNext, cNext);
    }
  }
  h.set(hNext);
  c.set(cNext);
  return open;
}

/** plstm.md section 2, "y = V h + d"; writes the O outputs to y from index offset. */
function readout(r: Readout, h: Float64Array, y: Float64Array, offset = 0): void {
  const H = h.length;
  for (let o = 0; o < r.outputSize; o++) {
    let sum = r.d[o];
    for (let k = 0, row = o * H; k < H; k++) sum += r.V[row + k] * h[k];
    y[offset + o] = sum;
  }
}

// ---- The engine and its streams ----

function bytesOf(arrays: (Float64Array | null | undefined)[]): number {
  let bytes = 0;
  for (const a of arrays) bytes += a ? a.byteLength : 0;
  return bytes;
}

export class ReferenceEngine implements Engine {
  readonly kind = "reference" as const;
  readonly simd = false;
  readonly model: FloatModel;
  /** float64 throughout: no input format, nothing saturates */
  readonly inputFrac = null;
  /** the model the streams run */
  private readonly running: FloatModel;
  /** shared by the streams */
  private readonly layers: LayerRun[];
  /** what a snapshot's stream ran with: the parameters and the leak of every layer (snapshot version 2) */
  private readonly checksum: number;
  /** scratch: the event's x as float64 */
  private readonly input: Float64Array;
  private disposed = false;

  constructor(model: FloatModel, options: ReferenceOptions = {}) {
    checkModel(model, "model");
    if (typeof options !== "object" || options === null) throw new PhasorError("bad-args", `ReferenceEngine: expected options as an object, got ${givenText(options)}`);
    knownOptions("ReferenceEngine", options, ["alpha"]);
    const alphaOption = options.alpha ?? 0;
    if (alphaOption !== "model" && !(Number.isFinite(alphaOption) && alphaOption >= 0)) {
      throw new PhasorError("bad-args", `ReferenceEngine: alpha must be "model" or a finite number >= 0, got ${givenText(alphaOption)}`);
    }
    // the engine's own copy, as the wasm engines have theirs in their memory: a caller that goes on changing its
    // model object changes nothing this engine runs
    this.model = structuredClone(model);
    // and the copy it runs is another, as a wasm engine's weights are in its memory: a caller that changes engine.model
    // in place changes what the engine reports, never what it runs (or its snapshots' checksum would name other weights)
    this.running = structuredClone(model);
    this.input = new Float64Array(model.inputSize);
    this.layers = this.running.layers.map((params) => ({
      params,
      phase: new ExactPhase(params.tau, params.shift),
      alpha: alphaOption === "model" ? params.alpha : alphaOption,
      phi: new Float64Array(params.hiddenSize),
      hNext: new Float64Array(params.hiddenSize),
      cNext: new Float64Array(params.hiddenSize),
    }));
    this.checksum = parameterChecksum(this.running, this.layers.map((run) => run.alpha));
  }

  createStream(options?: StreamOptions): Stream {
    this.checkLive();
    return new ReferenceStream(this.running, this.layers, this.input, this.checksum, timePolicyOf(options), () => this.checkLive());
  }

  memory(): MemoryReport {
    this.checkLive();
    const weights = this.running.layers.flatMap((l) => [l.W, l.U, l.b, l.tau, l.shift, l.rOn, l.peephole?.i, l.peephole?.f, l.peephole?.o]);
    weights.push(this.running.readout.V, this.running.readout.d);
    return {
      weightsBytes: bytesOf(weights),
      stateBytesPerStream: this.running.layers.reduce((sum, l) => sum + 2 * l.hiddenSize * 8, 0),
      scratchBytes: bytesOf([this.input, ...this.layers.flatMap((run) => [run.phi, run.hNext, run.cNext])]),
    };
  }

  dispose(): void {
    this.disposed = true;
  }

  private checkLive(): void {
    if (this.disposed) throw new PhasorError("runtime", "the reference engine was used after dispose()");
  }
}

/** The CRC-32 of every parameter (f64, little-endian, in the model's order) and of the leaks in use. */
function parameterChecksum(model: FloatModel, alphas: number[]): number {
  const arrays = model.layers.flatMap((l) => [l.W, l.U, l.b, l.peephole?.i, l.peephole?.f, l.peephole?.o, l.tau, l.shift, l.rOn]);
  arrays.push(model.readout.V, model.readout.d, Float64Array.from(alphas));
  const values = new Float64Array(arrays.reduce((n, a) => n + (a ? a.length : 0), 0));
  let at = 0;
  for (const a of arrays) {
    if (!a) continue;
    values.set(a, at);
    at += a.length;
  }
  const bytes = new Uint8Array(values.length * 8);
  const view = new DataView(bytes.buffer);
  values.forEach((v, k) => view.setFloat64(8 * k, v, true));
  return crc32(bytes);
}

const SNAPSHOT_MAGIC = 0x46524c50; // "PLRF" read as a little-endian u32
/** 2 adds the model's parameter checksum after the hidden sizes; version 1, without it, is still read */
const SNAPSHOT_VERSION = 2;

class ReferenceStream implements Stream {
  /** the fixed engine's streams learn; the float64 step for comparison is host/engine/readout-learning.ts's FloatReadout */
  readonly learning = null;
  readonly inputSize: number;
  readonly outputSize: number;
  readonly hiddenSize: number;
  private readonly h: Float64Array[];
  private readonly c: Float64Array[];
  /** timestamp of the last event, NaN before the first */
  private lastT = NaN;
  private counts: Omit<StreamStats, "inputsSaturated"> = { events: 0, unitUpdates: 0, unitsSkipped: 0 };
  private disposed = false;

  constructor(
    private readonly model: FloatModel,
    private readonly layers: LayerRun[],
    private readonly input: Float64Array,
    private readonly checksum: number,
    private readonly policy: TimePolicy,
    private readonly checkEngineLive: () => void,
  ) {
    this.inputSize = model.inputSize;
    this.outputSize = model.readout.outputSize;
    this.hiddenSize = model.layers[model.layers.length - 1].hiddenSize;
    this.h = model.layers.map((l) => new Float64Array(l.hiddenSize));
    this.c = model.layers.map((l) => new Float64Array(l.hiddenSize));
  }

  push(t: number, x: ArrayLike<number>): void {
    this.checkLive();
    this.step(this.eventTime(t, x), x, 0);
  }

  check(t: number, x: ArrayLike<number>): PhasorError | null {
    this.checkLive();
    try {
      this.eventTime(t, x);
      return null;
    } catch (err) {
      if (err instanceof PhasorError && err.code === "bad-input") return err;
      throw err;
    }
  }

  /** The time a single event runs at, after its checks. */
  private eventTime(t: number, x: ArrayLike<number>): number {
    const problem = eventProblem(t, x, this.inputSize);
    if (problem) throw problem;
    return this.timeAfter(eventWhere(t), t, this.lastT);
  }

  pushBatch(t: Float64Array, x: Float32Array | Float64Array, y?: Float64Array, h?: Float64Array): void {
    this.checkLive();
    const problem = batchProblem(t, x, y, h, this);
    if (problem) throw problem;
    const n = t.length;
    const { inputSize: I, outputSize: O, hiddenSize: H } = this;
    // the whole batch is checked before the first event touches the state
    const times = new Float64Array(n);
    let previous = this.lastT;
    for (let e = 0; e < n; e++) {
      const eventError = batchEventProblem(e, t, x, I);
      if (eventError) throw eventError;
      times[e] = this.timeAfter(batchWhere(e, t[e]), t[e], previous);
      previous = times[e];
    }
    const last = this.h.length - 1;
    for (let e = 0; e < n; e++) {
      this.step(times[e], x, e * I);
      if (y) readout(this.model.readout, this.h[last], y, e * O);
      if (h) h.set(this.h[last], e * H);
    }
  }

  output(): Float64Array {
    this.checkLive();
    const y = new Float64Array(this.outputSize);
    readout(this.model.readout, this.h[this.h.length - 1], y);
    return y;
  }

  hidden(layer = this.h.length - 1): Float64Array {
    this.checkLive();
    return this.h[layerIndex(layer, this.h.length)].slice();
  }

  cell(layer = this.c.length - 1): Float64Array {
    this.checkLive();
    return this.c[layerIndex(layer, this.c.length)].slice();
  }

  reset(): void {
    this.checkLive();
    for (const a of this.h) a.fill(0);
    for (const a of this.c) a.fill(0);
    this.lastT = NaN;
    this.counts = { events: 0, unitUpdates: 0, unitsSkipped: 0 };
  }

  /**
   * Little-endian bytes: u32 magic "PLRF", u32 version, u32 layer count, u32 inputSize, u32 outputSize, u32
   * hiddenSize per layer, u32 parameter checksum (version 2), zero padding to a multiple of 8, then f64: last t
   * (NaN before the first event), events, unitUpdates, unitsSkipped, and per layer h then c.
   */
  snapshot(): Uint8Array {
    this.checkLive();
    const bytes = new Uint8Array(this.snapshotLength());
    const view = new DataView(bytes.buffer);
    this.header().forEach((word, k) => view.setUint32(4 * k, word, true));
    let at = this.stateOffset();
    const put = (x: number) => {
      view.setFloat64(at, x, true);
      at += 8;
    };
    [this.lastT, this.counts.events, this.counts.unitUpdates, this.counts.unitsSkipped].forEach(put);
    for (let n = 0; n < this.h.length; n++) {
      this.h[n].forEach(put);
      this.c[n].forEach(put);
    }
    return bytes;
  }

  /**
   * Brings back a snapshot after checking that it is one of a stream of this model (of this shape, for a version-1
   * snapshot, which has no checksum), in a state such a stream can
   * reach: lastT NaN exactly before the first event, counters that are whole numbers adding up to events times
   * the units, finite h within [-1, 1] and finite c. A refused snapshot leaves the stream as it was.
   */
  restore(snapshot: Uint8Array): void {
    this.checkLive();
    snapshotBytes(snapshot);
    const view = new DataView(snapshot.buffer, snapshot.byteOffset, snapshot.byteLength);
    if (snapshot.byteLength < 8 || view.getUint32(0, true) !== SNAPSHOT_MAGIC) {
      throw badInput("snapshot", "not a snapshot of a reference-engine stream");
    }
    const version = view.getUint32(4, true);
    if (version !== 1 && version !== SNAPSHOT_VERSION) {
      throw badInput("snapshot", `version ${version}, this engine reads versions 1 and ${SNAPSHOT_VERSION}`);
    }
    const expected = this.header(version);
    const shapeWords = 5 + this.h.length;
    const shape = (words: number[]) => `layers ${words[2]}, inputSize ${words[3]}, outputSize ${words[4]}, hidden sizes [${words.slice(5, 5 + words[2]).join(", ")}]`;
    const found: number[] = [];
    for (let k = 0; k < expected.length && 4 * k + 4 <= snapshot.byteLength; k++) found.push(view.getUint32(4 * k, true));
    const length = this.snapshotLength(version);
    if (found.length !== expected.length || found.some((word, k) => k < shapeWords && word !== expected[k]) || snapshot.byteLength !== length) {
      throw badInput(
        "snapshot",
        `taken from an engine of another shape (${shape(found)}, ${snapshot.byteLength} bytes); this stream has ${shape(expected)}, ${length} bytes`,
      );
    }
    if (version >= 2 && found[shapeWords] !== this.checksum) {
      throw badInput("snapshot", "taken from a stream of another model: its parameters or its leak alpha are not this engine's");
    }
    const stateOffset = this.stateOffset(version);
    for (let k = 4 * expected.length; k < stateOffset; k++) {
      if (snapshot[k] !== 0) throw badInput("snapshot", "the padding after the header is not zero");
    }
    let at = stateOffset;
    const take = () => {
      const x = view.getFloat64(at, true);
      at += 8;
      return x;
    };
    const lastT = take();
    const counts = { events: take(), unitUpdates: take(), unitsSkipped: take() };
    const units = this.model.layers.reduce((sum, l) => sum + l.hiddenSize, 0);
    const whole = (x: number) => Number.isSafeInteger(x) && x >= 0;
    if (!whole(counts.events) || !whole(counts.unitUpdates) || !whole(counts.unitsSkipped) || counts.unitUpdates + counts.unitsSkipped !== counts.events * units) {
      throw badInput("snapshot", "the event and unit counters are not whole numbers adding up to events x units");
    }
    if (counts.events === 0 ? !Number.isNaN(lastT) : !Number.isFinite(lastT)) {
      throw badInput("snapshot", `the last event's time ${lastT} does not go with ${counts.events} events`);
    }
    const h = this.h.map((a) => new Float64Array(a.length));
    const c = this.c.map((a) => new Float64Array(a.length));
    for (let n = 0; n < h.length; n++) {
      for (let j = 0; j < h[n].length; j++) h[n][j] = take();
      for (let j = 0; j < c[n].length; j++) c[n][j] = take();
      // h = o tanh(c~) and its gated mixtures stay within [-1, 1] but for roundings, which 2^-20 leaves room for; c is finite
      if (!h[n].every((v) => Math.abs(v) <= 1 + 2 ** -20)) throw badInput("snapshot", `layer ${n}: h is not a finite number in [-1, 1]`);
      if (!c[n].every(Number.isFinite)) throw badInput("snapshot", `layer ${n}: c is not a finite number`);
    }
    this.lastT = lastT;
    this.counts = counts;
    h.forEach((a, n) => this.h[n].set(a));
    c.forEach((a, n) => this.c[n].set(a));
  }

  stats(): StreamStats {
    this.checkLive();
    return { ...this.counts, inputsSaturated: 0 };
  }

  dispose(): void {
    this.disposed = true;
  }

  /** The time an event at t (its values checked) runs at after one at `previous`, by the time policy. */
  private timeAfter(where: string, t: number, previous: number): number {
    if (t < previous) {
      if (this.policy === "clamp") return previous;
      throw timeBackwardsError(where, previous);
    }
    return t;
  }

  /** plstm.md section 2: every layer sees the same t, layer n + 1 takes layer n's new h as its x. */
  private step(t: number, x: ArrayLike<number>, xOffset: number): void {
    const input = this.input;
    for (let k = 0; k < this.inputSize; k++) input[k] = x[xOffset + k];
    let layerInput = input;
    this.layers.forEach((run, n) => {
      const open = layerStep(run, t, layerInput, this.h[n], this.c[n]);
      this.counts.unitUpdates += open;
      this.counts.unitsSkipped += run.params.hiddenSize - open;
      layerInput = this.h[n];
    });
    this.counts.events++;
    this.lastT = t;
  }

  /** The header words of a snapshot of this stream in `version`. */
  private header(version = SNAPSHOT_VERSION): number[] {
    const model = this.model;
    const shape = [SNAPSHOT_MAGIC, version, model.layers.length, this.inputSize, this.outputSize, ...model.layers.map((l) => l.hiddenSize)];
    return version >= 2 ? [...shape, this.checksum] : shape;
  }

  private stateOffset(version = SNAPSHOT_VERSION): number {
    return Math.ceil((4 * this.header(version).length) / 8) * 8;
  }

  private snapshotLength(version = SNAPSHOT_VERSION): number {
    const values = 4 + this.h.reduce((sum, a) => sum + 2 * a.length, 0);
    return this.stateOffset(version) + 8 * values;
  }


  private checkLive(): void {
    this.checkEngineLive();
    if (this.disposed) throw new PhasorError("runtime", "a reference-engine stream was used after dispose()");
  }
}
