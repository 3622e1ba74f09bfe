/**
 * The built-in tasks: the Phased LSTM paper's benchmarks (1610.09513), generated exactly as shared/spec/tasks.md
 * defines them. Every sample is drawn from one seeded stream, so a (task, seed) pair names one infinite sequence
 * of samples: `generate(task, n, seed)` is its first n, `samples(task, seed)` the whole of it, for training on
 * freshly drawn data epoch after epoch. Times are in ms. Browser-safe: no node import.
 */
import { PhasorError, givenText } from "../errors.js";
import { Rng } from "../rng.js";

export const TASK_NAMES = ["freq1-standard", "freq1-highres", "freq1-async", "freq2", "adding"] as const;

export type TaskName = (typeof TASK_NAMES)[number];

export function isTaskName(name: string): name is TaskName {
  return (TASK_NAMES as readonly string[]).includes(name);
}

/** One labelled sequence of events. */
export interface Sample {
  /** event times in ms, non-decreasing */
  t: Float64Array;
  /**
   * t.length * inputSize values, event-major. Float64 rather than float32: the values are exactly those of
   * tasks.md's formulas, the engines' pushBatch takes float64, and `phasor gen` prints them at full precision.
   */
  x: Float64Array;
  /** the class (0 or 1) for classification, the target for regression */
  label: number;
  /** the random draws the sample was made from, so that checks and reports can recompute it */
  draws: SampleDraws;
}

export type SampleDraws = Freq1Draws | Freq2Draws | AddingDraws;

export interface Freq1Draws {
  kind: "freq1";
  /** T, ms */
  period: number;
  /** radians */
  offset: number;
  startMs: number;
  durationMs: number;
}

export interface Freq2Draws {
  kind: "freq2";
  /** P1, P2 (ms; no 2 pi in this task's formula) */
  periods: [number, number];
  /** s1, s2 (radians) */
  offsets: [number, number];
  startMs: number;
  durationMs: number;
}

export interface AddingDraws {
  kind: "adding";
  /** event indices of the two markers, the first one first */
  markers: [number, number];
}

/** The paper's training protocol (tasks.md), for runs that mean to reproduce it. */
export interface PaperProtocol {
  layers: number;
  hidden: number;
  rOn: number;
  /** tau ~ log-uniform on this range (ms) */
  tauRange: [number, number];
  /** shift ~ U(0, shiftMax) (ms) */
  shiftMax: number;
  optimizer: "adam";
  learningRate: number;
  batch: number;
  epochs: number;
  /** freshly drawn training sequences per epoch */
  trainPerEpoch: number;
  /** freshly drawn validation sequences */
  validation: number;
  /** the paper's numbers are means over this many seeds */
  seeds: number;
}

/** One number the paper reports, accuracy in percent. */
export interface ReportedAccuracy {
  model: "Phased LSTM" | "BN-LSTM" | "LSTM";
  /** the mean over seeds, or the low end of a range (see upTo) */
  percent: number;
  /** the std over seeds, when the paper gives one */
  std?: number;
  /** the high end, when the paper gives a range */
  upTo?: number;
  /** the epoch the number is read at, when it is not the last one */
  epoch?: number;
  /** read off a figure rather than taken from a table */
  approximate: boolean;
}

export interface PaperReference {
  /** where in tasks.md (and the paper) the numbers come from */
  source: string;
  summary: string;
  reported: ReportedAccuracy[];
  protocol?: PaperProtocol;
  /** the trivial predictor to beat: the majority class, or predicting 0 for the adding task */
  baseline: { metric: "accuracy" | "mse"; value: number; what: string };
}

export interface TaskInfo {
  name: TaskName;
  description: string;
  timeUnit: "ms";
  inputSize: number;
  /** 2 scores for the classification tasks (argmax is the class), 1 value for regression */
  outputSize: number;
  kind: "classification" | "regression";
  /** the loss the task is trained with */
  loss: "cross-entropy" | "mse";
  /** the output is read after the last event of each sequence */
  readout: "last";
  /** class names, index = label (classification only) */
  labels?: string[];
  paper: PaperReference;
}

/** Protocol of the paper's freq1 experiments (tasks.md, "freq1"); freq2 uses it with 300 epochs. */
const FREQ1_PROTOCOL: PaperProtocol = {
  layers: 1,
  hidden: 110,
  rOn: 0.05,
  tauRange: [Math.E, Math.E ** 3],
  shiftMax: 100,
  optimizer: "adam",
  learningRate: 1e-3,
  batch: 32,
  epochs: 70,
  trainPerEpoch: 5000,
  validation: 500,
  seeds: 5,
};

/** P(5 <= T <= 6) for T log-uniform on [1, 100] */
const LOG_UNIFORM_IN_5_6 = Math.log(6 / 5) / Math.log(100);
/** P(13 <= T <= 15) for T log-uniform on [1, 100] */
const LOG_UNIFORM_IN_13_15 = Math.log(15 / 13) / Math.log(100);

/** the accuracy of always answering 1, the majority class: half the data plus the log-uniform draws that fall in */
const FREQ1_POSITIVES = 0.5 + 0.5 * LOG_UNIFORM_IN_5_6;
const FREQ2_POSITIVES = 0.5 + 0.5 * LOG_UNIFORM_IN_5_6 * LOG_UNIFORM_IN_13_15;

function freq1Reference(condition: string, plstm: [number, number], bn: [number, number], lstm: [number, number]): PaperReference {
  const row = (model: ReportedAccuracy["model"], [percent, std]: [number, number]): ReportedAccuracy => ({ model, percent, std, approximate: false });
  return {
    source: `tasks.md "freq1" (paper Fig. 3 table, ${condition})`,
    summary: `accuracy of the last epoch, mean +- std over 5 seeds (${condition})`,
    reported: [row("Phased LSTM", plstm), row("BN-LSTM", bn), row("LSTM", lstm)],
    protocol: FREQ1_PROTOCOL,
    baseline: { metric: "accuracy", value: FREQ1_POSITIVES, what: "always answering 1 (the majority class, about 52 %)" },
  };
}

const FREQ_LABELS = ["other", "target"];

/** What the frequency tasks share: one input, two classes, read once at the end. */
const FREQ_COMMON = {
  timeUnit: "ms",
  inputSize: 1,
  outputSize: 2,
  kind: "classification",
  loss: "cross-entropy",
  readout: "last",
  labels: FREQ_LABELS,
} as const;

export const TASKS: Record<TaskName, TaskInfo> = {
  "freq1-standard": {
    name: "freq1-standard",
    description: "one sine, is its period in [5, 6] ms? sampled every 1 ms",
    ...FREQ_COMMON,
    paper: freq1Reference("standard (1 ms)", [99.18, 0.23], [99.22, 0.52], [99.02, 0.62]),
  },
  "freq1-highres": {
    name: "freq1-highres",
    description: "one sine, is its period in [5, 6] ms? sampled every 0.1 ms",
    ...FREQ_COMMON,
    paper: freq1Reference("high resolution (0.1 ms)", [99.49, 0.2], [62.11, 17.95], [51.72, 0.71]),
  },
  "freq1-async": {
    name: "freq1-async",
    description: "one sine, is its period in [5, 6] ms? sampled at random times",
    ...FREQ_COMMON,
    paper: freq1Reference("asynchronous", [98.28, 0.15], [65.47, 12.48], [63.2, 13.54]),
  },
  freq2: {
    name: "freq2",
    description: "two superimposed sines, are their periods in [5, 6] and [13, 15] ms? sampled at random times",
    ...FREQ_COMMON,
    paper: {
      source: 'tasks.md "freq2" (read off the paper\'s figure)',
      summary: "Phased LSTM about 90 % by epoch 50 and about 93 % from epoch 150 of 300; LSTM baselines near 50 to 61 %",
      reported: [
        { model: "Phased LSTM", percent: 90, epoch: 50, approximate: true },
        { model: "Phased LSTM", percent: 93, epoch: 150, approximate: true },
        { model: "LSTM", percent: 50, upTo: 61, approximate: true },
      ],
      protocol: { ...FREQ1_PROTOCOL, epochs: 300 },
      baseline: { metric: "accuracy", value: FREQ2_POSITIVES, what: "always answering 1 (the majority class, about 50 %)" },
    },
  },
  adding: {
    name: "adding",
    description: "sum of the two marked values of a sequence of 490 to 510 steps",
    timeUnit: "ms",
    inputSize: 2,
    outputSize: 1,
    kind: "regression",
    loss: "mse",
    readout: "last",
    paper: {
      source: 'tasks.md "adding"',
      summary:
        "no number published: the Phased LSTM converges faster than LSTM, and longer tau initialisations " +
        "(log-uniform from e^0..e^2 up to e^6..e^8) converge faster still",
      reported: [],
      // the target is the sum of two independent U(-0.5, 0.5) values: variance 2 / 12
      baseline: { metric: "mse", value: 1 / 6, what: "predicting 0 (MSE 1/6, about 0.167)" },
    },
  },
};

/**
 * The samples of a task for a seed, in order, without end. Sample k is the same whatever is drawn after it, so
 * any prefix equals `generate(task, n, seed)`.
 */
export function samples(task: TaskName, seed: number): Generator<Sample, never, void> {
  // checked here, not at the first next(): a bad task or seed fails where it is given
  const draw = SAMPLERS[checkTask(task)];
  const rng = new Rng(seed);
  return (function* () {
    for (let index = 0; ; index++) yield draw(rng, index);
  })();
}

/** The first n samples of a task for a seed. */
export function generate(task: TaskName, n: number, seed: number): Sample[] {
  if (!Number.isSafeInteger(n) || n < 0) throw new PhasorError("bad-args", `n must be a non-negative integer, got ${givenText(n)}`);
  const draw = SAMPLERS[checkTask(task)];
  const rng = new Rng(seed);
  const out: Sample[] = [];
  for (let index = 0; index < n; index++) out.push(draw(rng, index));
  return out;
}

function checkTask(task: string): TaskName {
  if (!isTaskName(task)) throw new PhasorError("bad-args", `unknown task "${task}" (tasks: ${TASK_NAMES.join(", ")})`);
  return task;
}

/** draws sample number `index` of the stream from the next numbers of rng */
type Sampler = (rng: Rng, index: number) => Sample;

const SAMPLERS: Record<TaskName, Sampler> = {
  "freq1-standard": (rng, index) => freq1(rng, index, "standard"),
  "freq1-highres": (rng, index) => freq1(rng, index, "highres"),
  "freq1-async": (rng, index) => freq1(rng, index, "async"),
  freq2,
  adding,
};

/**
 * Whether sample `index` is in the first half of its batch of 32, where the authors' generators draw the
 * periods from the positive range (tasks.md, "freq1" and "freq2"). Any 32 consecutive samples hold 16 of them,
 * whatever batches a trainer cuts.
 */
function inPositiveHalf(index: number): boolean {
  return index % 32 < 16;
}

/** tasks.md, "freq1": draws in the order period, duration, start, offset, then the times. */
function freq1(rng: Rng, index: number, sampling: "standard" | "highres" | "async"): Sample {
  const period = inPositiveHalf(index) ? rng.uniform(5, 6) : rng.logUniform(1, 100);
  const durationMs = rng.uniform(15, 125);
  const startMs = rng.uniform(0, 125 - durationMs);
  const offset = rng.uniform(0, durationMs);
  let t: Float64Array;
  if (sampling === "async") t = randomTimes(rng, Math.floor(rng.uniform(15, 125)), startMs, durationMs);
  else t = gridTimes(startMs, durationMs, sampling === "standard" ? 1 : 10);
  const x = new Float64Array(t.length);
  for (let e = 0; e < t.length; e++) x[e] = Math.sin((2 * Math.PI * t[e]) / period - offset);
  return { t, x, label: period >= 5 && period <= 6 ? 1 : 0, draws: { kind: "freq1", period, offset, startMs, durationMs } };
}

/** tasks.md, "freq2": draws in the order n, duration, start, P1, P2, s1, s2, then the times. */
function freq2(rng: Rng, index: number): Sample {
  const n = Math.floor(rng.uniform(100, 1000));
  const durationMs = rng.uniform(1, 100);
  const startMs = rng.uniform(0, 100 - durationMs);
  const positive = inPositiveHalf(index);
  const p1 = positive ? rng.uniform(5, 6) : rng.logUniform(1, 100);
  const p2 = positive ? rng.uniform(13, 15) : rng.logUniform(1, 100);
  const s1 = rng.uniform(0, durationMs);
  const s2 = rng.uniform(0, durationMs);
  const t = randomTimes(rng, n, startMs, durationMs);
  const x = new Float64Array(n);
  // no 2 pi here, as in the authors' code (tasks.md)
  for (let e = 0; e < n; e++) x[e] = Math.sin(t[e] / p1 - s1) + Math.sin(t[e] / p2 - s2);
  const label = p1 >= 5 && p1 <= 6 && p2 >= 13 && p2 <= 15 ? 1 : 0;
  return { t, x, label, draws: { kind: "freq2", periods: [p1, p2], offsets: [s1, s2], startMs, durationMs } };
}

/**
 * tasks.md, "adding": draws in the order length, the values, the first marker, the second. A marker step k
 * covers [k, k + 1) of [0, length): the first lies wholly in the first 10 % (k < floor(length / 10)), the second
 * wholly in the last half (k >= ceil(length / 2)).
 */
function adding(rng: Rng): Sample {
  const length = 490 + rng.int(21);
  const t = new Float64Array(length);
  const x = new Float64Array(2 * length);
  for (let e = 0; e < length; e++) {
    t[e] = e;
    x[2 * e] = rng.uniform(-0.5, 0.5);
  }
  const first = rng.int(Math.floor(length / 10));
  const lastHalf = Math.ceil(length / 2);
  const second = lastHalf + rng.int(length - lastHalf);
  x[2 * first + 1] = 1;
  x[2 * second + 1] = 1;
  return { t, x, label: x[2 * first] + x[2 * second], draws: { kind: "adding", markers: [first, second] } };
}

/** t = start, start + 1 / perMs, ... while t < start + duration (freq1's regular samplings) */
function gridTimes(startMs: number, durationMs: number, perMs: number): Float64Array {
  const endMs = startMs + durationMs;
  let n = 0;
  while (startMs + n / perMs < endMs) n++;
  const t = new Float64Array(n);
  // start + k / perMs, not a running sum: no drift over 1,250 steps of 0.1
  for (let k = 0; k < n; k++) t[k] = startMs + k / perMs;
  return t;
}

/** n times uniform in [start, start + duration), sorted */
function randomTimes(rng: Rng, n: number, startMs: number, durationMs: number): Float64Array {
  const t = new Float64Array(n);
  for (let k = 0; k < n; k++) t[k] = startMs + rng.uniform(0, durationMs);
  return t.sort();
}
