/**
 * Fine-tuning runs that every implementation of the readout's learning must give the same bits for
 * (docs/on-device-learning.md): labelled sequences run as a device runs them, outputs first, then a step from the
 * label (after the sequence for a "last" readout, after each labelled event for an "every" one), driven through
 * the library, the learning microcontroller module in node, the C host and the wasmtime wheel.
 */
import { spawnSync } from "node:child_process";
import type { LearningRate, Stream } from "../../host/engine/engine.js";
import type { FloatModel } from "../../host/model/model.js";
import { quantize } from "../../host/model/quantize.js";
import { calibrationStreams } from "./engines.js";
import type { McuLearningExports } from "./mcu.js";
import { Rng, randomModel, randomStream } from "./random.js";

export interface LabelledSequence {
  t: Float64Array;
  /** event-major, inputSize values per event */
  x: Float32Array;
  /** per event: the label a device gives with it, or NaN for none; a "last" readout learns from the last one */
  labels: Float64Array;
}

/** A quantized model and labelled sequences to learn from, with what a run needs to know of it. */
export interface LearningFixture {
  name: string;
  image: Uint8Array;
  model: FloatModel;
  inputSize: number;
  outputSize: number;
  hidden: number;
  every: boolean;
  sequences: LabelledSequence[];
}

/** A random model with input weights and biases as large as a trained layer's (h spread over [-1, 1]). */
function learningFixture(name: string, seed: number, spec: { inputSize: number; hidden: number; outputs: number; mode: "last" | "every" }): LearningFixture {
  const rng = new Rng(seed);
  const float = randomModel(rng, { inputSize: spec.inputSize, hidden: [spec.hidden], peephole: true, rOn: 0.4, outputs: spec.outputs, mode: spec.mode, alpha: 0 });
  const layer = float.layers[0];
  layer.W.forEach((v, k) => (layer.W[k] = 8 * v));
  layer.b.forEach((v, k) => (layer.b[k] = 8 * v));
  const { bytes, file } = quantize(float, calibrationStreams(seed, spec.inputSize), name);
  const every = spec.mode === "every";
  const sequences = Array.from({ length: 30 }, (_, k) => {
    const { t, x } = randomStream(rng, { n: 10 + rng.int(30), inputSize: spec.inputSize, start: k % 3 === 0 ? "epoch" : 0, maxGap: 4 });
    const label = rng.int(spec.outputs);
    const labels = Float64Array.from(t, () => (every ? (rng.next() < 0.3 ? rng.uniform(-2, 2) : NaN) : label));
    return { t, x, labels };
  });
  return { name, image: bytes, model: file.model, inputSize: spec.inputSize, outputSize: spec.outputs, hidden: spec.hidden, every, sequences };
}

/** The learning runs every implementation is held to: a classification readout and one of values. */
export function learningFixtures(): LearningFixture[] {
  return [
    learningFixture("a 'last' readout of 3 classes (cross-entropy)", 61, { inputSize: 2, hidden: 16, outputs: 3, mode: "last" }),
    learningFixture("an 'every' readout of 1 output (squared error)", 62, { inputSize: 3, hidden: 12, outputs: 1, mode: "every" }),
  ];
}

export interface LearningRun {
  /** the outputs after every event, event-major */
  y: Float64Array;
  /** the readout's bytes at the end */
  readout: Uint8Array;
}

/**
 * How far the integer step may land from the exact one, per step (docs/on-device-learning.md, section 3): the
 * weights' rounding (half of 2^-23 each) and the error's approximation (p within 2.1e-5, or z - y within 2^-16)
 * times the largest capped step's factor (4 c / sqrt(G) <= 4 c). The steps are non-expansive, so these add up.
 */
export function integerStepDeviation(outputs: number, hidden: number, c: number): number {
  return Math.sqrt(outputs * (hidden + 1)) * 2 ** -24 + 4 * c * Math.sqrt(outputs) * 2.1e-5;
}

/**
 * The run through a library stream (the fixed engine's); `onLearn` sees the h and target of every step, for a
 * float64 run on the same samples.
 */
export function libraryLearningRun(
  stream: Stream,
  sequences: LabelledSequence[],
  rate: LearningRate,
  every: boolean,
  onLearn?: (h: Float64Array, label: number) => void,
): LearningRun {
  const I = stream.inputSize;
  const y: number[] = [];
  // a label is a class, or on a readout of one output its target value (the library's rule, and phasor_host's)
  const learn = (label: number) => {
    onLearn?.(stream.hidden(), label);
    stream.learning!.learn(label, rate);
  };
  for (const s of sequences) {
    stream.reset();
    let pending = NaN;
    for (let e = 0; e < s.t.length; e++) {
      stream.push(s.t[e], s.x.subarray(e * I, (e + 1) * I));
      y.push(...stream.output());
      if (Number.isNaN(s.labels[e])) continue;
      if (every) learn(s.labels[e]);
      else pending = s.labels[e];
    }
    if (!Number.isNaN(pending)) learn(pending);
  }
  return { y: Float64Array.from(y), readout: stream.learning!.save() };
}

/** The run through the learning microcontroller module (its image already loaded with init). */
export function mcuLearningRun(mcu: McuLearningExports, sequences: LabelledSequence[], inputSize: number, outputSize: number, rate: { eta: number; c: number }, every: boolean): LearningRun {
  const y: number[] = [];
  const learn = (label: number) => {
    if (outputSize < 2) new Float64Array(mcu.memory.buffer, mcu.targetBuffer(), 1)[0] = label;
    const status = mcu.learn(outputSize >= 2 ? label : -1, rate.eta, rate.c);
    if (status !== 0 && status !== 1) throw new Error(`learn answered ${status}`);
  };
  for (const s of sequences) {
    mcu.reset();
    let pending = NaN;
    for (let e = 0; e < s.t.length; e++) {
      new Float32Array(mcu.memory.buffer, mcu.inputBuffer(), inputSize).set(s.x.subarray(e * inputSize, (e + 1) * inputSize));
      if (mcu.push(s.t[e]) !== 0) throw new Error(`push refused event ${e}`);
      y.push(...new Float64Array(mcu.memory.buffer, mcu.output(), outputSize));
      if (Number.isNaN(s.labels[e])) continue;
      if (every) learn(s.labels[e]);
      else pending = s.labels[e];
    }
    if (!Number.isNaN(pending)) learn(pending);
  }
  const size = mcu.readoutSave();
  return { y: Float64Array.from(y), readout: new Uint8Array(mcu.memory.buffer, mcu.readoutBuffer(), size).slice() };
}

/** The sequences as the CSV phasor_host and tools/devices/wasmtime-mcu.py read: integer seq ids, a label column. */
export function labelledCsv(inputSize: number, sequences: LabelledSequence[]): string {
  const rows = [["t", ...Array.from({ length: inputSize }, (_, k) => `x${k}`), "seq", "label"].join(",")];
  sequences.forEach((s, k) => {
    for (let e = 0; e < s.t.length; e++) {
      const xs = Array.from(s.x.subarray(e * inputSize, (e + 1) * inputSize), String);
      rows.push([String(s.t[e]), ...xs, String(k), Number.isNaN(s.labels[e]) ? "" : String(s.labels[e])].join(","));
    }
  });
  return rows.join("\n") + "\n";
}

/** The sequences as NDJSON events (shared/spec/formats.md): integer seq ids, a "label" field on labelled events. */
export function labelledNdjson(inputSize: number, sequences: LabelledSequence[]): string {
  const lines: string[] = [];
  sequences.forEach((s, k) => {
    for (let e = 0; e < s.t.length; e++) {
      const event: { t: number; x: number[]; seq: number; label?: number } = { t: s.t[e], x: Array.from(s.x.subarray(e * inputSize, (e + 1) * inputSize)), seq: k };
      if (!Number.isNaN(s.labels[e])) event.label = s.labels[e];
      lines.push(JSON.stringify(event));
    }
  });
  return lines.join("\n") + "\n";
}

/** tools/devices/wasmtime-mcu.py on a module, model and CSV: the outputs it printed as f64s, or its error. */
export function wasmtimeMcu(args: string[]): { status: number | null; y: Float64Array; stderr: string } {
  const run = spawnSync("python3", ["tools/devices/wasmtime-mcu.py", ...args], { encoding: "utf8", maxBuffer: 1 << 28 });
  if (run.error) throw new Error(`python3 could not be run: ${run.error.message}`);
  const bits = run.stdout.trim() === "" ? [] : run.stdout.trim().split("\n").flatMap((line) => line.split(","));
  const y = new Float64Array(bits.length);
  const view = new DataView(y.buffer);
  bits.forEach((hex, k) => view.setBigUint64(8 * k, BigInt(`0x${hex}`), true));
  return { status: run.status, y, stderr: run.stderr };
}
