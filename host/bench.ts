/**
 * `phasor bench`: in-process throughput of every engine on synthetic asynchronous sensor streams (formats.md,
 * "Commands"). Browser-safe, so a page can run the same measurement. Numbers come only from running this;
 * nothing here is a timed test.
 */
import { createEngine } from "./engine/create.js";
import type { Engine, EngineKind } from "./engine/engine.js";
import { randomModel } from "./model/init.js";
import type { FloatModel } from "./model/model.js";
import { quantize, type WeightWidth } from "./model/quantize.js";
import { countPushOperators, operatorShares, type OperatorShares } from "./engine/operators.js";
import { Rng } from "./rng.js";
import { simdSupported } from "./engine/wasm-source.js";
import { generate } from "./training/tasks.js";
import { Trainer, initialModel, taskModelSpec } from "./training/trainer.js";
import { ThreadsUnavailable, batchGradients, type BatchGradients } from "./training/threads.js";

export interface BenchConfig {
  hidden: number;
  input: number;
  rOn: number;
  /** when set, each event has only this many nonzero inputs (one sensor of several fired) */
  nonzeroInputs?: number;
  /** the gate matrices' width in the fixed-point model (default int16; int8 is the "16x8" scheme, docs/fixed-point.md) */
  weights?: WeightWidth;
}

export interface BenchResult {
  engine: EngineKind;
  simd: boolean;
  hidden: number;
  input: number;
  rOn: number;
  nonzeroInputs?: number;
  events: number;
  seconds: number;
  eventsPerSec: number;
  /** fraction of (unit, event) pairs whose gate was open, over the measured events */
  unitUpdateFraction: number;
  stateBytesPerStream: number;
}

/** The configurations formats.md asks for, and a sparse-input one that shows input-column skipping. */
export const BENCH_CONFIGS: BenchConfig[] = [
  { hidden: 110, input: 1, rOn: 0.05 },
  { hidden: 110, input: 1, rOn: 1 },
  { hidden: 64, input: 64, rOn: 0.05 },
  { hidden: 64, input: 64, rOn: 0.05, nonzeroInputs: 2 },
];

export interface BenchOptions {
  configs?: BenchConfig[];
  engines?: { engine: EngineKind; simd: boolean }[];
  /** measure each engine for at least this long (after warm-up); default 1 */
  seconds?: number;
  /** called after each result, e.g. to show progress */
  onResult?: (result: BenchResult) => void;
}

/** Events per block; blocks repeat with time shifted so one stream runs as long as the measurement. */
const BLOCK = 1 << 16;

/**
 * A freq1-async-like stream: gaps uniform on [0, 2] ms (1,000 events/s on average), each input a sine of its
 * own period; with nonzeroInputs, each event carries only that many randomly chosen inputs.
 */
function benchStream(rng: Rng, config: BenchConfig): { t: Float64Array; x: Float32Array; span: number } {
  const I = config.input;
  const t = new Float64Array(BLOCK);
  const x = new Float32Array(BLOCK * I);
  let now = 0;
  for (let e = 0; e < BLOCK; e++) {
    now += rng.uniform(0, 2);
    t[e] = now;
    if (config.nonzeroInputs === undefined) {
      for (let i = 0; i < I; i++) x[e * I + i] = Math.sin((2 * Math.PI * now) / (3 + i));
    } else {
      for (let k = 0; k < config.nonzeroInputs; k++) {
        const i = rng.int(I);
        x[e * I + i] = Math.sin((2 * Math.PI * now) / (3 + i));
      }
    }
  }
  return { t, x, span: now + 1 };
}

function benchModel(rng: Rng, config: BenchConfig): FloatModel {
  return randomModel(rng, { inputSize: config.input, hidden: [config.hidden], peephole: true, rOn: config.rOn, outputs: 2, mode: "last" });
}

function measure(engine: Engine, stream: ReturnType<typeof benchStream>, seconds: number, config: BenchConfig): BenchResult {
  const s = engine.createStream();
  const shifted = new Float64Array(BLOCK);
  let block = 0;
  const runBlock = (events: number) => {
    for (let e = 0; e < events; e++) shifted[e] = stream.t[e] + block * stream.span;
    block++;
    const start = performance.now();
    s.pushBatch(shifted.subarray(0, events), stream.x.subarray(0, events * config.input));
    return (performance.now() - start) / 1000;
  };
  // The reference engine is slow: smaller blocks keep its measurement near the asked duration.
  const events = engine.kind === "reference" ? 2048 : BLOCK;
  let warm = 0;
  while (warm < Math.min(0.3, seconds / 3)) warm += runBlock(events);
  const before = s.stats();
  let elapsed = 0;
  let measured = 0;
  while (elapsed < seconds) {
    elapsed += runBlock(events);
    measured += events;
  }
  const after = s.stats();
  s.dispose();
  return {
    engine: engine.kind,
    simd: engine.simd,
    hidden: config.hidden,
    input: config.input,
    rOn: config.rOn,
    ...(config.nonzeroInputs !== undefined ? { nonzeroInputs: config.nonzeroInputs } : {}),
    events: measured,
    seconds: elapsed,
    eventsPerSec: measured / elapsed,
    unitUpdateFraction: (after.unitUpdates - before.unitUpdates) / ((after.events - before.events) * config.hidden),
    stateBytesPerStream: engine.memory().stateBytesPerStream,
  };
}

export function defaultBenchEngines(): { engine: EngineKind; simd: boolean }[] {
  const builds = simdSupported() ? [true, false] : [false];
  return [
    ...builds.map((simd) => ({ engine: "fixed" as const, simd })),
    ...builds.map((simd) => ({ engine: "float" as const, simd })),
    { engine: "reference", simd: false },
  ];
}

/** A benchmark point's model, its stream and the model quantized on the stream's first 4,096 events: the same for
 * the timing and the operator counts. */
export function benchPoint(config: BenchConfig) {
  const rng = new Rng(2016);
  const model = benchModel(rng, config);
  const stream = benchStream(rng, config);
  const calibration = [{ t: stream.t.subarray(0, 4096), x: stream.x.subarray(0, 4096 * config.input) }];
  return { model, stream, quantized: quantize(model, calibration, "bench", config.weights ?? "int16") };
}

export async function runBench(options: BenchOptions = {}): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  const seconds = options.seconds ?? 1;
  for (const config of options.configs ?? BENCH_CONFIGS) {
    const { model, stream, quantized } = benchPoint(config);
    for (const { engine: kind, simd } of options.engines ?? defaultBenchEngines()) {
      const loaded = kind === "fixed" ? { format: "plsm" as const, model: quantized.file.model, plsm: quantized.file, source: "bench" } : model;
      const engine = await createEngine(loaded, { engine: kind, simd: simd ? "on" : "off" });
      const result = measure(engine, stream, seconds, config);
      engine.dispose();
      results.push(result);
      options.onResult?.(result);
    }
  }
  return results;
}

/** Training throughput (issues 3 and 14): freq1-async, the paper's model (110 units, r_on 0.05), batch 32, Adam. */
export interface TrainBenchResult {
  engine: "trainer";
  simd: boolean;
  /** threads sharing every batch (host/training/threads.ts) */
  threads: number;
  /** training skipped the units whose gate was closed (TrainerOptions.skipClosed: the leak taken as 0) */
  skipClosed: boolean;
  task: "freq1-async";
  hidden: number;
  input: number;
  rOn: number;
  batch: number;
  sequences: number;
  events: number;
  seconds: number;
  sequencesPerSec: number;
  eventsPerSec: number;
  /**
   * The fraction of (event, unit) pairs a training pass computed, over the measured steps: 1 where every unit is
   * computed at every event (the leak alpha keeps closed units' gradients alive), the open fraction where closed
   * units are skipped
   */
  unitUpdateFraction: number;
}

/**
 * One step = loadBatch + lossAndGradient + step, on fresh freq1-async batches, after a few warm-up steps: the first
 * of `builds` at each thread count of `threads` (default 1 and 2; those above 1 where worker threads exist), and
 * on one thread skipping closed units (unless `skipClosed` is false), the others on one thread. The
 * configurations take turns in slices of a quarter of `seconds` each, so that a machine whose speed moves (other
 * jobs starting and ending) moves all of them alike.
 */
export async function runTrainBench(options: { seconds?: number; builds?: boolean[]; threads?: number[]; skipClosed?: boolean } = {}): Promise<TrainBenchResult[]> {
  const seconds = options.seconds ?? 1;
  const batch = 32;
  const data = generate("freq1-async", 64 * batch, 2016);
  // the first build (SIMD where the runtime has it) at every thread count and skipping closed units, the others
  // on one thread
  const builds = options.builds ?? (simdSupported() ? [true, false] : [false]);
  const configs = builds.flatMap((simd, n) => {
    if (n > 0) return [{ simd, threads: 1, skipClosed: false }];
    const dense = (options.threads ?? [1, 2]).map((threads) => ({ simd, threads, skipClosed: false }));
    return options.skipClosed === false ? dense : [...dense, { simd, threads: 1, skipClosed: true }];
  });
  const runs = [];
  try {
    for (const config of configs) {
      const trainer = await Trainer.create(initialModel(taskModelSpec("freq1-async"), 1), {
        batchSize: batch, maxLength: 125, simd: config.simd, timeOrigin: "absolute", skipClosed: config.skipClosed,
      });
      let gradients: BatchGradients;
      try {
        gradients = await batchGradients(trainer, config.threads);
      } catch (error) {
        // a browser has no worker threads: its rows are the one-thread ones
        if (error instanceof ThreadsUnavailable) continue;
        throw error;
      }
      let next = 0;
      const step = () => {
        const samples = data.slice(next * batch, (next + 1) * batch);
        next = (next + 1) % 64;
        gradients.loadBatch(samples);
        gradients.lossAndGradient();
        computed.push(trainer.unitsComputed());
        trainer.step();
        return samples.reduce((n, s) => n + s.t.length, 0);
      };
      const computed: number[] = [];
      for (let k = 0; k < 3; k++) step();
      computed.length = 0;
      runs.push({ ...config, gradients, step, computed, sequences: 0, events: 0, elapsed: 0 });
    }
    const slices = 4;
    for (let slice = 0; slice < slices; slice++) {
      for (const run of runs) {
        const start = performance.now();
        let elapsed = 0;
        while (elapsed < seconds / slices) {
          run.events += run.step();
          run.sequences += batch;
          elapsed = (performance.now() - start) / 1000;
        }
        run.elapsed += elapsed;
      }
    }
  } finally {
    await Promise.all(runs.map((run) => run.gradients.close()));
  }
  return runs.map((run) => ({
    engine: "trainer",
    simd: run.simd,
    threads: run.threads,
    skipClosed: run.skipClosed,
    task: "freq1-async",
    hidden: 110,
    input: 1,
    rOn: 0.05,
    batch,
    sequences: run.sequences,
    events: run.events,
    seconds: run.elapsed,
    sequencesPerSec: run.sequences / run.elapsed,
    eventsPerSec: run.events / run.elapsed,
    unitUpdateFraction: run.computed.reduce((sum, f) => sum + f, 0) / run.computed.length,
  }));
}

/** The builds whose operators `phasor bench --operators` counts: the microcontroller modules (int16 and int8
 * weights, and int8 in one 64 KiB page) and the library's two. */
export type OperatorBuild = "mcu" | "mcu-int8" | "mcu-int8-page" | "scalar" | "simd";

/** The builds that run a point: the library's two and the microcontroller modules of the point's weight width. */
function operatorBuilds(config: BenchConfig): OperatorBuild[] {
  return config.weights === "int8" ? ["scalar", "simd", "mcu-int8", "mcu-int8-page"] : ["scalar", "simd", "mcu"];
}

/**
 * Where operators are counted (issue 13, item 4): the paper-sized model of the streaming benchmark at r_on = 0.05
 * and at 1, and the microcontroller-sized H = 32 and 64 with every unit open, all with I = 1, 2 outputs and
 * peepholes (the benchmark's models); and H = 32 with 16 inputs, whose W x goes through the kernel that U h does.
 * Then the int8 weights of issue 13 item 5 at the microcontroller sizes, at the streaming point, and at the paper's
 * model with every unit open, which only their microcontroller build holds.
 */
export const OPERATOR_POINTS: BenchConfig[] = [
  { hidden: 32, input: 1, rOn: 1 },
  { hidden: 64, input: 1, rOn: 1 },
  { hidden: 32, input: 16, rOn: 1 },
  { hidden: 110, input: 1, rOn: 1 },
  { hidden: 110, input: 1, rOn: 0.05 },
  { hidden: 32, input: 1, rOn: 1, weights: "int8" },
  { hidden: 64, input: 1, rOn: 1, weights: "int8" },
  { hidden: 110, input: 1, rOn: 1, weights: "int8" },
  { hidden: 110, input: 1, rOn: 0.05, weights: "int8" },
];

export interface OperatorResult {
  build: OperatorBuild;
  hidden: number;
  input: number;
  rOn: number;
  weights: WeightWidth;
  /** events counted, after the warm-up */
  events: number;
  operatorsPerEvent: number;
  /** open units per event (unit updates / events) */
  openUnits: number;
  /** multiply-accumulates per event: 4 (I + H) per open unit, 4 H (I + H) when all are open */
  macsPerEvent: number;
  operatorsPerMac: number;
  /** operators per event by where they go (MACs, unit arithmetic, time gates, the event), when the build's
   * function names were given */
  shares?: OperatorShares;
  /** set when the build cannot run the point (the model does not fit the microcontroller build's arena) */
  skipped?: string;
}

export interface OperatorOptions {
  points?: BenchConfig[];
  /** events run before counting starts, so the wheel is in its steady state (default 500) */
  warm?: number;
  /** events counted (default 2,000) */
  events?: number;
  onResult?: (result: OperatorResult) => void;
  /** each build's function names by index (functionNames of its .wat), for OperatorResult.shares */
  names?: Partial<Record<OperatorBuild, string[]>>;
}

/**
 * Operators per event of each build at each point, counted as wasmtime's fuel counts them (host/engine/operators.ts), one
 * push per event on the benchmark's stream and model. `modules` holds the builds' bytes (build/phasor-<name>.wasm).
 * The microcontroller build runs the library's schedule, so its open units are the scalar build's.
 */
export async function runOperatorCount(modules: Partial<Record<OperatorBuild, Uint8Array>>, options: OperatorOptions = {}): Promise<OperatorResult[]> {
  const warm = options.warm ?? 500;
  const counted = options.events ?? 2000;
  const results: OperatorResult[] = [];
  for (const config of options.points ?? OPERATOR_POINTS) {
    const { stream, quantized } = benchPoint(config);
    const n = warm + counted;
    const t = stream.t.subarray(0, n);
    const x = stream.x.subarray(0, n * config.input);
    let openUnits: number | undefined;
    for (const build of operatorBuilds(config)) {
      const module = modules[build];
      if (!module) continue;
      const base = { build, hidden: config.hidden, input: config.input, rOn: config.rOn, weights: config.weights ?? "int16" };
      let count;
      try {
        count = await countPushOperators(module, quantized.bytes, t, x, config.input, warm);
      } catch (err) {
        if (!build.startsWith("mcu")) throw err;
        const result = { ...base, events: 0, operatorsPerEvent: NaN, openUnits: NaN, macsPerEvent: NaN, operatorsPerMac: NaN, skipped: (err as Error).message };
        results.push(result);
        options.onResult?.(result);
        continue;
      }
      if (count.unitUpdates !== undefined) openUnits = count.unitUpdates / counted;
      if (openUnits === undefined) throw new Error("operator counts: the microcontroller build's open units come from a library build; count one too");
      const operatorsPerEvent = count.perEvent.reduce((sum, ops) => sum + ops, 0) / counted;
      const macsPerEvent = 4 * (config.input + config.hidden) * openUnits;
      const result: OperatorResult = { ...base, events: counted, operatorsPerEvent, openUnits, macsPerEvent, operatorsPerMac: operatorsPerEvent / macsPerEvent };
      const names = options.names?.[build];
      if (names) {
        const shares = operatorShares(count.byFunction, names);
        result.shares = { macs: shares.macs / counted, units: shares.units / counted, timeGates: shares.timeGates / counted, event: shares.event / counted };
      }
      results.push(result);
      options.onResult?.(result);
    }
  }
  return results;
}
