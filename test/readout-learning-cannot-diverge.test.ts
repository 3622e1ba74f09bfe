/**
 * The guarantee of docs/on-device-learning.md, section 2, in both implementations of the device's step (the
 * float64 one in host/engine/readout-learning.ts, the integer one of the fixed engine): at 10x and 100x the largest
 * stable rate, the capped steps stay within the proven bounds, and without the cap the same rates diverge.
 * - Squared error: the readout's norm obeys ||Theta_t||^2 <= ||Theta_0||^2 + t c / (1 - c) max ||y||^2 / G;
 *   uncapped, it blows up exponentially (to float64's overflow, or to the integer weights' saturation).
 * - Cross-entropy, whose gradient is bounded so nothing runs off exponentially: "diverge" means that the step is
 *   no longer non-expansive. Capped, the readout moves at most 4 sqrt(2) c per step and two readouts that start
 *   apart never move further apart; uncapped, a small difference is amplified by orders of magnitude and the
 *   loss on the samples climbs far above where it started.
 * The samples are states of a fixed-engine stream (snapshots), so that both implementations learn from the same h.
 */
import "../host/node.js";
import { beforeAll, describe, expect, it } from "vitest";
import type { Engine, LearningRate, Stream } from "../host/engine/engine.js";
import { FloatReadout } from "../host/engine/readout-learning.js";
import { calibrationStreams, quantizedEngine } from "./support/engines.js";
import { integerStepDeviation } from "./support/learning.js";
import { Rng, randomModel, randomStream } from "./support/random.js";
import { parseReadout, plsmChecksum, readoutBytes, type ReadoutValues } from "./support/readout-bytes.js";

const H = 8;
const O = 3;
const SAMPLES = 40;
const STEPS = 400;
const C = 0.9;

const ROUNDING_PER_STEP = integerStepDeviation(O, H, C);

interface Samples {
  engine: Engine;
  image: Uint8Array;
  snapshots: Uint8Array[];
  h: Float64Array[];
  /** ||h||^2 + 1 of each sample */
  G: number[];
  labels: number[];
  targets: Float64Array[];
  order: number[];
}

let samples: Samples;

beforeAll(async () => {
  const rng = new Rng(16);
  const model = randomModel(rng, { inputSize: 2, hidden: [H], peephole: true, rOn: 0.5, outputs: O, mode: "last", alpha: 0 });
  // input weights and biases as large as a trained layer's, so that h spreads over [-1, 1] (G from 1.07 to 3.2)
  const layer = model.layers[0];
  layer.W.forEach((v, k) => (layer.W[k] = 8 * v));
  layer.b.forEach((v, k) => (layer.b[k] = 8 * v));
  const { engine, quantized } = await quantizedEngine(model, calibrationStreams(16, 2));
  const stream = engine.createStream();
  const snapshots: Uint8Array[] = [];
  const h: Float64Array[] = [];
  for (let k = 0; k < SAMPLES; k++) {
    stream.reset();
    const events = randomStream(rng, { n: 5 + rng.int(40), inputSize: 2, maxGap: 3 });
    stream.pushBatch(events.t, events.x);
    snapshots.push(stream.snapshot());
    h.push(stream.hidden());
  }
  stream.dispose();
  samples = {
    engine,
    image: quantized.bytes,
    snapshots,
    h,
    G: h.map((v) => 1 + v.reduce((a, x) => a + x * x, 0)),
    labels: h.map(() => rng.int(O)),
    targets: h.map(() => Float64Array.from({ length: O }, () => rng.uniform(-1, 1))),
    order: Array.from({ length: STEPS }, () => rng.int(SAMPLES)),
  };
});

/** One implementation of the step, learning from sample i's h. */
interface Learner {
  learn(i: number, target: number | Float64Array, rate: LearningRate): void;
  values(): ReadoutValues;
}

function floatLearner(start: ReadoutValues): Learner {
  const readout = new FloatReadout(start);
  return {
    learn: (i, target, rate) => readout.learn(samples.h[i], target, rate),
    values: () => ({ V: readout.V.slice(), d: readout.d.slice(), modelChecksum: start.modelChecksum, steps: readout.steps }),
  };
}

function integerLearner(start: ReadoutValues): Learner {
  const stream: Stream = samples.engine.createStream();
  stream.learning!.load(readoutBytes(start));
  return {
    learn(i, target, rate) {
      stream.restore(samples.snapshots[i]);
      stream.learning!.learn(target, rate);
    },
    values: () => parseReadout(stream.learning!.save()),
  };
}

const IMPLEMENTATIONS = [
  ["float64", floatLearner],
  ["integer", integerLearner],
] as const;

/** A small random readout, in the formats' grid so that both implementations start at the same point. */
function startingReadout(seed: number): ReadoutValues {
  const rng = new Rng(seed);
  const V = Float64Array.from({ length: O * H }, () => Math.round(rng.uniform(-0.1, 0.1) * 2 ** 23) * 2 ** -23);
  return { V, d: new Float64Array(O), modelChecksum: plsmChecksum(samples.image), steps: 0 };
}

function norm(r: ReadoutValues): number {
  let s = 0;
  for (const v of r.V) s += v * v;
  for (const v of r.d) s += v * v;
  return Math.sqrt(s);
}

function distance(a: ReadoutValues, b: ReadoutValues): number {
  let s = 0;
  a.V.forEach((v, k) => (s += (v - b.V[k]) ** 2));
  a.d.forEach((v, o) => (s += (v - b.d[o]) ** 2));
  return Math.sqrt(s);
}

/** Mean cross-entropy of the readout over the samples. */
function meanLoss(r: ReadoutValues): number {
  const readout = new FloatReadout(r);
  let total = 0;
  samples.h.forEach((h, i) => {
    const z = readout.output(h);
    const top = Math.max(...z);
    total += top + Math.log(z.reduce((a, v) => a + Math.exp(v - top), 0)) - z[samples.labels[i]];
  });
  return total / samples.h.length;
}

/** The largest rate that is linearly stable on every sample: 2 / max lambda. */
function largestStableRate(loss: "squared" | "cross-entropy"): number {
  const G = Math.max(...samples.G);
  return loss === "squared" ? 2 / G : 4 / G;
}

describe.each(IMPLEMENTATIONS)("the %s step, squared error", (kind, make) => {
  it.each([10, 100])("at %ix the largest stable rate, capped, keeps the readout within the proven norm bound", (times) => {
    const eta = times * largestStableRate("squared");
    const start = startingReadout(1);
    const learner = make(start);
    const yOverG = Math.max(...samples.targets.map((y, i) => y.reduce((a, v) => a + v * v, 0) / samples.G[i]));
    for (let t = 1; t <= STEPS; t++) {
      const i = samples.order[t - 1];
      learner.learn(i, samples.targets[i], { eta, c: C });
      if (t % 20 === 0 || t === STEPS) {
        const bound = Math.sqrt(norm(start) ** 2 + (t * C * yOverG) / (1 - C));
        const slack = kind === "integer" ? t * ROUNDING_PER_STEP : 1e-9;
        expect(norm(learner.values()), `step ${t}`).toBeLessThanOrEqual(bound + slack);
      }
    }
  });

  it.each([10, 100])("at %ix the largest stable rate, uncapped, blows up exponentially", (times) => {
    const eta = times * largestStableRate("squared");
    const learner = make(startingReadout(1));
    const norms: number[] = [];
    for (let t = 0; t < 60; t++) {
      const i = samples.order[t];
      learner.learn(i, samples.targets[i], { eta, c: Infinity });
      norms.push(norm(learner.values()));
    }
    if (kind === "float64") {
      // past 1e30, or to float64's overflow: steps of a bounded length could not take it there in 60 steps
      expect(norms.some((n) => !(n < 1e30))).toBe(true);
    } else {
      // the integer weights run into their saturation, |w| = 256, on the way
      const weights = learner.values().V;
      expect(Math.max(...weights.map(Math.abs))).toBeGreaterThan(255.99);
      expect(norms[59]).toBeGreaterThan(1000);
    }
    // exponentially: over the first steps the norm multiplies, it does not add
    const firstBig = norms.findIndex((n) => n > 100);
    expect(firstBig).toBeGreaterThan(-1);
    expect(firstBig).toBeLessThan(30);
  });
});

describe.each(IMPLEMENTATIONS)("the %s step, cross-entropy", (kind, make) => {
  it.each([10, 100])("at %ix the largest stable rate, capped, moves at most 4 sqrt(2) c per step and never separates two readouts", (times) => {
    const eta = times * largestStableRate("cross-entropy");
    const start = startingReadout(2);
    const shifted = { ...start, V: start.V.map((v, k) => v + (k % 2 ? 0.25 : -0.25)) };
    const a = make(start);
    const b = make(shifted);
    const apart = distance(start, shifted);
    let before = start;
    for (let t = 1; t <= STEPS; t++) {
      const i = samples.order[t - 1];
      a.learn(i, samples.labels[i], { eta, c: C });
      b.learn(i, samples.labels[i], { eta, c: C });
      const now = a.values();
      const slack = kind === "integer" ? ROUNDING_PER_STEP : 1e-12;
      expect(distance(now, before), `step ${t}`).toBeLessThanOrEqual(4 * Math.SQRT2 * C + slack);
      expect(distance(now, start)).toBeLessThanOrEqual(4 * Math.SQRT2 * C * t + slack * t);
      expect(distance(now, b.values()), `step ${t}`).toBeLessThanOrEqual(apart + 2 * slack * t);
      before = now;
    }
  });

  it.each([10, 100])("at %ix the largest stable rate, uncapped, amplifies a small difference and the loss climbs", (times) => {
    const eta = times * largestStableRate("cross-entropy");
    const start = startingReadout(2);
    const delta = kind === "integer" ? 2 ** -10 : 1e-6;
    const shifted = { ...start, V: start.V.map((v, k) => v + (k % 2 ? delta : -delta)), d: start.d.map((v, o) => v + (o % 2 ? delta : -delta)) };
    const a = make(start);
    const b = make(shifted);
    const apart = distance(start, shifted);
    let widest = 0;
    for (let t = 0; t < STEPS; t++) {
      const i = samples.order[t];
      a.learn(i, samples.labels[i], { eta, c: Infinity });
      b.learn(i, samples.labels[i], { eta, c: Infinity });
      widest = Math.max(widest, distance(a.values(), b.values()));
    }
    expect(widest / apart).toBeGreaterThan(1000);
    expect(meanLoss(a.values())).toBeGreaterThan(5 * meanLoss(start));
  });
});
