// The trainer's gradient (f32, wasm) is the gradient of the loss the float64 reference computes: every
// parameter group, checked against central finite differences of the reference (plstm.md section 5), on small
// models whose time gates visit all three pieces (rising, falling, closed with the leak) on the test sequences.
// Both builds run the same arithmetic, so their losses and gradients are the same floats. Skipping closed units
// (TrainerOptions.skipClosed) is training at alpha = 0: its gradient is the reference's at alpha = 0, and bit for
// bit the dense pass's on the same model with the leak set to 0, having computed only the open (event, unit) pairs.
import { beforeAll, describe, expect, it } from "vitest";
import "../host/node.js";
import type { FloatModel, ReadoutMode } from "../host/model/model.js";
import { exactPhase } from "../host/engine/phase.js";
import { ReferenceEngine } from "../host/engine/reference.js";
import { Trainer, modelFromParameters, parameterGroups, type Loss, type TrainingSample } from "../host/training/trainer.js";
import { simdSupported } from "../host/engine/wasm-source.js";
import { Rng, randomModel } from "./support/random.js";

interface Case {
  name: string;
  inputSize: number;
  hidden: number[];
  outputs: number;
  mode: ReadoutMode;
  loss: Loss;
  peephole: boolean;
  seed: number;
  /** r_on is trained (r_on itself is a group of theta) */
  trainROn?: boolean;
  /** theta holds tau itself, not log tau */
  tauDirect?: boolean;
}

const CASES: Case[] = [
  { name: "1 layer H=4, I=1, cross-entropy", inputSize: 1, hidden: [4], outputs: 3, mode: "last", loss: "cross-entropy", peephole: true, seed: 1 },
  { name: "1 layer H=5, I=2, squared error at the end", inputSize: 2, hidden: [5], outputs: 2, mode: "last", loss: "mse", peephole: true, seed: 2 },
  { name: "1 layer H=3, I=2, squared error at every event", inputSize: 2, hidden: [3], outputs: 2, mode: "every", loss: "mse", peephole: true, seed: 3 },
  { name: "2 layers H=4,3, I=2, cross-entropy", inputSize: 2, hidden: [4, 3], outputs: 2, mode: "last", loss: "cross-entropy", peephole: true, seed: 4 },
  { name: "2 layers H=3,5, I=1, no peepholes, squared error at every event", inputSize: 1, hidden: [3, 5], outputs: 1, mode: "every", loss: "mse", peephole: false, seed: 5 },
  { name: "1 layer H=4, I=1, cross-entropy, trained r_on", inputSize: 1, hidden: [4], outputs: 2, mode: "last", loss: "cross-entropy", peephole: true, seed: 6, trainROn: true },
  { name: "2 layers H=3,4, I=2, squared error at every event, trained r_on", inputSize: 2, hidden: [3, 4], outputs: 2, mode: "every", loss: "mse", peephole: true, seed: 8, trainROn: true },
  { name: "1 layer H=4, I=1, cross-entropy, trained r_on, tau itself", inputSize: 1, hidden: [4], outputs: 2, mode: "last", loss: "cross-entropy", peephole: true, seed: 9, trainROn: true, tauDirect: true },
  { name: "2 layers H=3,5, I=1, no peepholes, squared error at the end, tau itself", inputSize: 1, hidden: [3, 5], outputs: 2, mode: "last", loss: "mse", peephole: false, seed: 10, tauDirect: true },
];

/** Distance of every phase from the kinks of k (0 = 1, r_on / 2, r_on), so that a difference of 1e-6 cannot cross one. */
const KINK_MARGIN = 2e-3;
/** Central differences in float64: truncation ~eps^2, rounding ~1e-16 / eps, both far below f32's error. */
const EPS = 1e-6;

/** 3 sequences of 6 to 10 events whose phases (time from each one's first event) keep clear of the kinks. */
function makeCase(c: Case): { model: FloatModel; samples: TrainingSample[] } {
  for (let attempt = 0; attempt < 1000; attempt++) {
    const rng = new Rng(c.seed * 1000 + attempt);
    // wide open windows and short periods, so that a few events visit every piece of the time gate
    const model = randomModel(rng, {
      inputSize: c.inputSize, hidden: c.hidden, peephole: c.peephole, rOn: 0.45, outputs: c.outputs, mode: c.mode, tauRange: [1.5, 5], shiftMax: 10,
    });
    // a larger leak than training's 0.001 makes the closed piece's gradient large enough to check
    for (const layer of model.layers) layer.alpha = 0.05;
    const samples: TrainingSample[] = [];
    for (let s = 0; s < 3; s++) {
      const n = 6 + 2 * s;
      const t = new Float64Array(n);
      let now = rng.uniform(0, 50);
      for (let e = 0; e < n; e++) {
        now += rng.uniform(0.3, 1.6);
        t[e] = now;
      }
      const x = Float32Array.from({ length: n * c.inputSize }, () => rng.uniform(-1, 1));
      const sample: TrainingSample = { t, x };
      if (c.loss === "cross-entropy") sample.label = s % c.outputs;
      else sample.target = Float32Array.from({ length: (c.mode === "every" ? n : 1) * c.outputs }, () => rng.uniform(-0.5, 0.5));
      samples.push(sample);
    }
    if (phasesAreClear(model, samples, c.tauDirect ?? false)) return { model, samples };
  }
  throw new Error(`no seed gave clear phases for ${c.name}`);
}

/** The phase of every (layer, unit, event) as the trainer computes it: tau rounded to f32, or through f32 log tau. */
function* phases(model: FloatModel, samples: TrainingSample[], tauDirect: boolean): Generator<{ layer: number; unit: number; phi: number; rOn: number }> {
  for (const [n, layer] of model.layers.entries()) {
    for (let j = 0; j < layer.hiddenSize; j++) {
      const tau = tauDirect ? Math.fround(layer.tau[j]) : Math.exp(Math.fround(Math.log(layer.tau[j])));
      for (const { t } of samples) {
        for (let e = 0; e < t.length; e++) yield { layer: n, unit: j, phi: exactPhase(t[e] - t[0], Math.fround(layer.shift[j]), tau), rOn: layer.rOn[j] };
      }
    }
  }
}

/** Every unit sees rising, falling and closed events, and no phase sits within KINK_MARGIN of a kink. */
function phasesAreClear(model: FloatModel, samples: TrainingSample[], tauDirect: boolean): boolean {
  const seen = new Map<string, number[]>();
  for (const { layer, unit, phi, rOn: r } of phases(model, samples, tauDirect)) {
    if (Math.min(phi, 1 - phi, Math.abs(phi - r / 2), Math.abs(phi - r)) < KINK_MARGIN) return false;
    const key = `${layer}.${unit}`;
    if (!seen.has(key)) seen.set(key, [0, 0, 0]);
    seen.get(key)![phi < r / 2 ? 0 : phi < r ? 1 : 2]++;
  }
  return [...seen.values()].every((counts) => counts.every((count) => count > 0));
}

/** The trainer's loss (trainer.ts, loss.ts) in float64 from the reference's outputs, time from each first event. */
function referenceLoss(model: FloatModel, samples: TrainingSample[], loss: Loss): number {
  const engine = new ReferenceEngine(model, { alpha: "model" });
  const I = model.inputSize;
  const O = model.readout.outputSize;
  let total = 0;
  for (const sample of samples) {
    const n = sample.t.length;
    const stream = engine.createStream();
    const y = new Float64Array(n * O);
    const x = Float64Array.from(sample.x);
    const t = Float64Array.from(sample.t, (time) => time - sample.t[0]);
    stream.pushBatch(t, x.subarray(0, n * I), y);
    if (loss === "cross-entropy") {
      const last = y.subarray((n - 1) * O);
      const largest = Math.max(...last);
      const logSum = largest + Math.log(last.reduce((sum, v) => sum + Math.exp(v - largest), 0));
      total += logSum - last[sample.label!];
    } else if (model.readout.mode === "last") {
      let squares = 0;
      for (let o = 0; o < O; o++) squares += (y[(n - 1) * O + o] - sample.target![o]) ** 2;
      total += squares / O;
    } else {
      let squares = 0;
      for (let k = 0; k < n * O; k++) squares += (y[k] - sample.target![k]) ** 2;
      total += squares / (O * n);
    }
  }
  return total / samples.length;
}

/** Every parameter's difference of the float64 reference's loss, central, at theta. */
function centralDifferences(model: FloatModel, samples: TrainingSample[], c: Case, theta: Float64Array): Float64Array {
  const layout = { trainROn: c.trainROn, tauDirect: c.tauDirect };
  const lossAt = (th: Float64Array) => referenceLoss(modelFromParameters(model, th, layout), samples, c.loss);
  const numeric = new Float64Array(theta.length);
  for (let p = 0; p < theta.length; p++) {
    const saved = theta[p];
    theta[p] = saved + EPS;
    const up = lossAt(theta);
    theta[p] = saved - EPS;
    const down = lossAt(theta);
    theta[p] = saved;
    numeric[p] = (up - down) / (2 * EPS);
  }
  return numeric;
}

/** The trainer's gradient agrees with the differences in every group, each of which the sequences reach. */
function expectDifferences(model: FloatModel, c: Case, grad: Float32Array, numeric: Float64Array): void {
  const layout = { trainROn: c.trainROn, tauDirect: c.tauDirect };
  const overall = Math.max(...numeric.map(Math.abs));
  const groups = parameterGroups(model, layout);
  // the groups under test are there, one per layer: r_on itself when trained, tau or log tau
  expect(groups.filter((g) => g.name === "rOn")).toHaveLength(c.trainROn ? c.hidden.length : 0);
  expect(groups.filter((g) => g.name === (c.tauDirect ? "tau" : "logTau"))).toHaveLength(c.hidden.length);
  for (const group of groups) {
    const fd = numeric.subarray(group.offset, group.offset + group.length);
    const wasm = grad.subarray(group.offset, group.offset + group.length);
    const largest = Math.max(...fd.map(Math.abs));
    const where = `layer ${group.layer} ${group.name}`;
    // the group must carry a gradient worth checking: every group is reached by these sequences
    expect(largest, `${where}: largest |gradient|`).toBeGreaterThan(1e-5 * overall);
    for (let k = 0; k < group.length; k++) {
      const error = Math.abs(wasm[k] - fd[k]);
      // f32 arithmetic over ~30 events: relative 1e-3 where the component is not tiny, else a floor well
      // below the group's scale
      expect(error, `${where}[${k}]: wasm ${wasm[k]}, differences ${fd[k]}`).toBeLessThanOrEqual(1e-3 * Math.abs(fd[k]) + 1e-4 * largest + 1e-7 * overall);
    }
  }
}

describe.each(CASES)("gradient of $name", (c) => {
  const { model, samples } = makeCase(c);
  const layout = { trainROn: c.trainROn, tauDirect: c.tauDirect };
  let simd: { loss: number; grad: Float32Array; theta: Float32Array };
  let scalar: { loss: number; grad: Float32Array; theta: Float32Array };

  beforeAll(async () => {
    const run = async (useSimd: boolean) => {
      const trainer = await Trainer.create(model, { batchSize: 4, maxLength: 12, loss: c.loss, simd: useSimd, ...layout });
      trainer.loadBatch(samples);
      const loss = trainer.lossAndGradient();
      return { loss, grad: trainer.gradient().slice(), theta: trainer.parameters().slice() };
    };
    scalar = await run(false);
    simd = simdSupported() ? await run(true) : scalar;
  });

  it("has the reference's loss", () => {
    const loss = referenceLoss(modelFromParameters(model, scalar.theta, layout), samples, c.loss);
    expect(Math.abs(scalar.loss - loss)).toBeLessThan(1e-5 * Math.max(1, Math.abs(loss)));
  });

  it("matches central differences of the float64 reference in every parameter group", () => {
    expectDifferences(model, c, scalar.grad, centralDifferences(model, samples, c, Float64Array.from(scalar.theta)));
  });

  it("gives the same loss and gradient in the SIMD and scalar builds", () => {
    expect(simd.loss).toBe(scalar.loss);
    expect(Array.from(simd.grad)).toEqual(Array.from(scalar.grad));
  });
});

describe.each(CASES)("gradient with closed units skipped, $name", (c) => {
  const { model, samples } = makeCase(c);
  // the same model without a leak: what skipping closed units trains
  const shut: FloatModel = { ...model, layers: model.layers.map((layer) => ({ ...layer, alpha: 0 })) };
  const layout = { trainROn: c.trainROn, tauDirect: c.tauDirect };
  const builds = simdSupported() ? [false, true] : [false];
  const runs = new Map<string, { loss: number; grad: Float32Array; theta: Float32Array; computed: number }>();

  beforeAll(async () => {
    for (const simd of builds) {
      for (const [name, from, skipClosed] of [["skip", model, true], ["dense", shut, false]] as const) {
        const trainer = await Trainer.create(from, { batchSize: 4, maxLength: 12, loss: c.loss, simd, skipClosed, ...layout });
        trainer.loadBatch(samples);
        const loss = trainer.lossAndGradient();
        runs.set(`${name} ${simd}`, { loss, grad: trainer.gradient().slice(), theta: trainer.parameters().slice(), computed: trainer.unitsComputed() });
      }
    }
  });

  it("is the dense pass's at alpha = 0, bit for bit, in both builds", () => {
    for (const simd of builds) {
      const skip = runs.get(`skip ${simd}`)!;
      const dense = runs.get(`dense ${simd}`)!;
      expect(skip.loss).toBe(dense.loss);
      // up to the sign of a zero: the dense pass adds -0 where the skipping one adds nothing
      expect(Array.from(skip.grad, (v) => v + 0)).toEqual(Array.from(dense.grad, (v) => v + 0));
      expect(skip.grad.some((v) => v !== 0)).toBe(true);
    }
    const [scalar, simd] = builds.map((b) => runs.get(`skip ${b}`)!);
    if (simd) expect(Array.from(simd.grad)).toEqual(Array.from(scalar.grad));
  });

  it("matches central differences of the float64 reference at alpha = 0 in every parameter group", () => {
    const skip = runs.get("skip false")!;
    expectDifferences(shut, c, skip.grad, centralDifferences(shut, samples, c, Float64Array.from(skip.theta)));
  });

  it("computes the open (event, unit) pairs only, and the dense pass every one", () => {
    let open = 0;
    let all = 0;
    for (const { phi, rOn } of phases(model, samples, c.tauDirect ?? false)) {
      all++;
      if (phi < rOn) open++;
    }
    // the cases visit every piece of the gate, so the open pairs are some but not all
    expect(open).toBeGreaterThan(0);
    expect(open).toBeLessThan(all);
    for (const simd of builds) {
      expect(runs.get(`skip ${simd}`)!.computed).toBeCloseTo(open / all, 12);
      expect(runs.get(`dense ${simd}`)!.computed).toBe(1);
    }
  });
});
