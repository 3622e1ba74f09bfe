// The trainer as a whole: it learns (SGD with momentum and Adam lower the loss of a small separable problem),
// the model it exports predicts in the reference what it predicts itself, the three calls of a step stay apart
// (the stability guard evaluates one batch at several points), the optimizers do what their formulas say, and
// memory is planned once.
import { describe, expect, it } from "vitest";
import "../host/node.js";
import { PhasorError } from "../host/errors.js";
import type { FloatModel } from "../host/model/model.js";
import { ReferenceEngine } from "../host/engine/reference.js";
import { generate } from "../host/training/tasks.js";
import {
  TAU_MIN,
  TRAINED_R_ON_MIN,
  Trainer,
  initialModel,
  modelFromParameters,
  parameterGroups,
  parametersOf,
  taskModelSpec,
  type TrainerOptions,
  type TrainingSample,
} from "../host/training/trainer.js";
import * as contract from "../assembly/contract/train.js";
import { compileBuild, moduleError, simdSupported } from "../host/engine/wasm-source.js";
import { Rng } from "./support/random.js";
import { signProblem } from "./support/sign-problem.js";

const BUILDS = simdSupported() ? [true, false] : [false];


function smallModel(seed: number, readout: "last" | "every" = "last", outputs = 2): FloatModel {
  return initialModel({ inputSize: 1, hidden: [6], outputs, readout, rOn: 0.3, tauRange: [2, 8], shiftMax: 10 }, seed);
}

function accuracy(trainer: Trainer, samples: TrainingSample[]): number {
  const y = trainer.predict(samples);
  return samples.filter((s, k) => (y[k][1] > y[k][0] ? 1 : 0) === s.label).length / samples.length;
}

function train(trainer: Trainer, samples: TrainingSample[], steps: number): number[] {
  trainer.loadBatch(samples);
  const losses: number[] = [];
  for (let k = 0; k < steps; k++) {
    losses.push(trainer.lossAndGradient());
    trainer.step();
  }
  losses.push(trainer.loss());
  return losses;
}

describe.each(BUILDS)("trainer (simd %s)", (simd) => {
  const samples = signProblem(1, 24);

  it.each<[string, Partial<TrainerOptions>]>([
    ["SGD with momentum", { optimizer: "sgd", lr: 0.05, momentum: 0.9 }],
    ["Adam", { optimizer: "adam", lr: 0.02 }],
  ])("%s lowers the loss of a separable problem and learns it", async (_, options) => {
    const trainer = await Trainer.create(smallModel(2), { batchSize: 32, maxLength: 25, simd, ...options });
    const before = accuracy(trainer, samples);
    const losses = train(trainer, samples, 120);
    expect(losses[losses.length - 1]).toBeLessThan(0.3 * losses[0]);
    expect(accuracy(trainer, samples)).toBeGreaterThan(Math.max(before, 0.95));
  });

  it("lowers a squared error read at every event (readout every)", async () => {
    const rng = new Rng(3);
    const everySamples = samples.map((s) => ({ t: s.t, x: s.x, target: Float32Array.from(s.x, (v) => 0.5 * v + 0.1 * rng.uniform(-1, 1)) }));
    const trainer = await Trainer.create(smallModel(4, "every", 1), { batchSize: 32, maxLength: 25, simd, optimizer: "adam", lr: 0.02 });
    expect(trainer.lossKind).toBe("mse");
    const losses = train(trainer, everySamples, 80);
    expect(losses[losses.length - 1]).toBeLessThan(0.3 * losses[0]);
  });

  it.each(["sequence", "absolute"] as const)("exports a model that predicts in the reference what it predicts itself (time origin %s)", async (timeOrigin) => {
    const trainer = await Trainer.create(smallModel(5), { batchSize: 8, maxLength: 25, simd, timeOrigin, optimizer: "adam", lr: 0.02 });
    train(trainer, samples.slice(0, 8), 30);
    const predicted = trainer.predict(samples);
    const engine = new ReferenceEngine(trainer.toModel()); // alpha 0, as at inference
    samples.forEach((sample, k) => {
      const stream = engine.createStream();
      const origin = timeOrigin === "sequence" ? sample.t[0] : 0;
      stream.pushBatch(Float64Array.from(sample.t, (t) => t - origin), Float64Array.from(sample.x));
      const y = stream.output();
      for (let o = 0; o < y.length; o++) expect(Math.abs(y[o] - predicted[k][o]), `sample ${k} output ${o}`).toBeLessThan(1e-4);
    });
  });

  it("keeps its memory after the first step: nothing is allocated per step", async () => {
    const trainer = await Trainer.create(smallModel(6), { batchSize: 8, maxLength: 25, simd });
    trainer.loadBatch(samples.slice(0, 8));
    trainer.lossAndGradient();
    trainer.step();
    const bytes = trainer.memoryBytes;
    for (let k = 0; k < 20; k++) {
      trainer.loadBatch(samples.slice(k % 16, (k % 16) + 1 + (k % 8)));
      trainer.lossAndGradient();
      trainer.step(0.5);
    }
    trainer.predict(samples);
    trainer.loss();
    expect(trainer.memoryBytes).toBe(bytes);
    const plan = trainer.memory();
    expect(plan.arenaBytes).toBe(plan.parameterBytes + plan.inputBytes + plan.workBytes);
    expect(plan.parameterBytes).toBeGreaterThanOrEqual(4 * 4 * trainer.parameterCount);
  });

  it("evaluates the loaded batch at any theta, again and again, untouched by predict()", async () => {
    const trainer = await Trainer.create(smallModel(7), { batchSize: 8, maxLength: 25, simd });
    trainer.loadBatch(samples.slice(0, 6));
    const loss = trainer.lossAndGradient();
    const grad = trainer.gradient().slice();
    const theta = trainer.parameters().slice();
    // theta + e v, its gradient, and back: the stability guard's finite-difference probe
    const shifted = theta.map((value, k) => value + 1e-3 * Math.sin(k));
    trainer.setParameters(shifted);
    const shiftedLoss = trainer.lossAndGradient();
    expect(shiftedLoss).not.toBe(loss);
    trainer.predict(samples);
    trainer.setParameters(theta);
    expect(trainer.lossAndGradient()).toBe(loss);
    expect(trainer.gradient()).toEqual(grad);
    expect(trainer.loss()).toBe(loss);
  });

  it("moves theta by the optimizers' formulas: momentum, step scale, clipping, Adam's first step", async () => {
    const model = smallModel(8);
    const batch = samples.slice(0, 8);
    const norm = (a: ArrayLike<number>) => Math.sqrt(Array.from(a).reduce((sum, v) => sum + v * v, 0));
    const moveOf = async (options: Partial<TrainerOptions>, scales: number[]) => {
      const trainer = await Trainer.create(model, { batchSize: 8, maxLength: 25, simd, ...options });
      trainer.loadBatch(batch);
      const theta0 = Float64Array.from(trainer.parameters());
      const grad = Float64Array.from({ length: theta0.length });
      let gradNorm = 0;
      for (const scale of scales) {
        trainer.lossAndGradient();
        grad.set(trainer.gradient());
        gradNorm = trainer.step(scale);
      }
      const move = Float64Array.from(trainer.parameters(), (v, k) => v - theta0[k]);
      return { move, grad, gradNorm };
    };
    // plain SGD: theta -= lr scale g
    const plain = await moveOf({ optimizer: "sgd", lr: 0.1, momentum: 0 }, [0.5]);
    expect(plain.gradNorm).toBeCloseTo(norm(plain.grad), 5);
    plain.move.forEach((d, k) => expect(Math.abs(d + 0.05 * plain.grad[k])).toBeLessThan(1e-6));
    // clipping to a norm below the gradient's: the step has length lr * clipNorm
    const clipped = await moveOf({ optimizer: "sgd", lr: 0.1, momentum: 0, clipNorm: 0.1 * plain.gradNorm }, [1]);
    expect(norm(clipped.move) / (0.1 * 0.1 * plain.gradNorm)).toBeCloseTo(1, 3);
    // heavy ball: a first step of scale 0 only fills v = g; the second (same theta, same g) moves by
    // lr (beta g + g)
    const heavy = await moveOf({ optimizer: "sgd", lr: 0.1, momentum: 0.9 }, [0, 1]);
    heavy.move.forEach((d, k) => expect(Math.abs(d + 0.1 * 1.9 * heavy.grad[k])).toBeLessThan(1e-6));
    // Adam's first step is lr * g / (|g| + eps): lr in size wherever g is not tiny
    const adam = await moveOf({ optimizer: "adam", lr: 0.01 }, [1]);
    adam.move.forEach((d, k) => {
      if (Math.abs(adam.grad[k]) > 1e-5) expect(Math.abs(d + 0.01 * Math.sign(adam.grad[k]))).toBeLessThan(1e-4);
    });
  });

  it("moves log tau and shift at timeLrScale times the rate of the other groups, with SGD and with Adam", async () => {
    const model = smallModel(8);
    const batch = samples.slice(0, 8);
    const groups = parameterGroups(model);
    const isTime = new Uint8Array(parametersOf(model).length);
    for (const g of groups) if (g.name === "logTau" || g.name === "shift") isTime.fill(1, g.offset, g.offset + g.length);
    const moveOf = async (options: Partial<TrainerOptions>) => {
      const trainer = await Trainer.create(model, { batchSize: 8, maxLength: 25, simd, ...options });
      trainer.loadBatch(batch);
      const theta0 = Float64Array.from(trainer.parameters());
      trainer.lossAndGradient();
      const grad = Float64Array.from(trainer.gradient());
      trainer.step();
      return { move: Float64Array.from(trainer.parameters(), (v, k) => v - theta0[k]), grad, scales: Array.from(trainer.lrScales()) };
    };
    const sgd = await moveOf({ optimizer: "sgd", lr: 0.1, momentum: 0.9, timeLrScale: 0.25 });
    expect(sgd.scales.every((v, k) => v === (isTime[k] ? 0.25 : 1))).toBe(true);
    let timeMoved = 0;
    sgd.move.forEach((d, k) => {
      const expected = -0.1 * (isTime[k] ? 0.25 : 1) * sgd.grad[k];
      expect(Math.abs(d - expected)).toBeLessThan(1e-6 + 1e-5 * Math.abs(expected));
      if (isTime[k] && Math.abs(d) > 1e-6) timeMoved++;
    });
    expect(timeMoved).toBeGreaterThan(0);
    // Adam's first step is lr * s * sign(g): a quarter of lr on the time groups
    const adam = await moveOf({ optimizer: "adam", lr: 0.01, timeLrScale: 0.25 });
    adam.move.forEach((d, k) => {
      if (Math.abs(adam.grad[k]) > 1e-5) expect(Math.abs(d + (isTime[k] ? 0.0025 : 0.01) * Math.sign(adam.grad[k]))).toBeLessThan(1e-4);
    });
    // 0 freezes them exactly
    const frozen = await moveOf({ optimizer: "sgd", lr: 0.1, timeLrScale: 0 });
    frozen.move.forEach((d, k) => {
      if (isTime[k]) expect(d).toBe(0);
    });
  });

  it("moves a trained r_on at rOnLrScale times the rate of the weights, apart from the time groups' own", async () => {
    const model = smallModel(8);
    const trainer = await Trainer.create(model, { batchSize: 8, maxLength: 25, simd, optimizer: "sgd", lr: 0.1, momentum: 0.9, trainROn: true, timeLrScale: 0.25, rOnLrScale: 0.01 });
    const expected = new Float32Array(trainer.parameterCount).fill(1);
    for (const g of trainer.groups) {
      if (g.name === "logTau" || g.name === "shift") expected.fill(0.25, g.offset, g.offset + g.length);
      if (g.name === "rOn") expected.fill(0.01, g.offset, g.offset + g.length);
    }
    expect(Array.from(trainer.lrScales())).toEqual(Array.from(expected));
    trainer.loadBatch(samples.slice(0, 8));
    const theta0 = Float64Array.from(trainer.parameters());
    trainer.lossAndGradient();
    const grad = Float64Array.from(trainer.gradient());
    trainer.step();
    const ron = trainer.groups.find((g) => g.name === "rOn")!;
    let moved = 0;
    for (let k = ron.offset; k < ron.offset + ron.length; k++) {
      const d = trainer.parameters()[k] - theta0[k];
      expect(Math.abs(d + 0.1 * 0.01 * grad[k])).toBeLessThan(1e-7 + 1e-5 * Math.abs(grad[k]));
      if (d !== 0) moved++;
    }
    expect(moved).toBeGreaterThan(0);
    await expect(Trainer.create(model, { batchSize: 8, maxLength: 25, trainROn: true, rOnLrScale: -1 })).rejects.toThrow(/rOnLrScale must be a number in 0..1e6/);
  });

  it("restores a snapshot and continues exactly as from the point it was taken", async () => {
    const trainer = await Trainer.create(smallModel(9), { batchSize: 8, maxLength: 25, simd });
    trainer.loadBatch(samples.slice(0, 8));
    for (let k = 0; k < 3; k++) {
      trainer.lossAndGradient();
      trainer.step();
    }
    const snapshot = trainer.snapshot();
    const run = () => {
      for (let k = 0; k < 3; k++) {
        trainer.lossAndGradient();
        trainer.step();
      }
      return trainer.parameters().slice();
    };
    const first = run();
    trainer.restore(snapshot);
    expect(trainer.stepCount).toBe(3);
    expect(run()).toEqual(first);
  });

  it("rejects a bad sample with a message that names it, and leaves no batch loaded", async () => {
    const trainer = await Trainer.create(smallModel(10), { batchSize: 4, maxLength: 25, simd });
    trainer.loadBatch(samples.slice(0, 4));
    const loss = trainer.loss();
    const bad = (sample: TrainingSample, pattern: RegExp) => {
      let error: unknown;
      try {
        trainer.loadBatch([samples[0], sample]);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(PhasorError);
      expect((error as PhasorError).code).toBe("bad-input");
      expect((error as PhasorError).message).toMatch(pattern);
    };
    const t = Float64Array.from(samples[1].t);
    [t[2], t[3]] = [t[3], t[2]];
    bad({ ...samples[1], t }, /sample 1: event 3 .*earlier/);
    bad({ ...samples[1], label: 2 }, /sample 1: label must be a whole number in 0\.\.1/);
    bad({ t: new Float64Array(26), x: new Float32Array(26), label: 0 }, /sample 1: has 26 events, expected 1\.\.25/);
    bad({ ...samples[1], x: Float32Array.from(samples[1].x).subarray(1) }, /sample 1: x has/);
    bad({ ...samples[1], x: Float32Array.from(samples[1].x, (v, k) => (k === 4 ? NaN : v)) }, /sample 1: event 4 has an input that is not a finite number/);
    expect(() => trainer.loadBatch(samples.slice(0, 5))).toThrow(/expected 1\.\.4 \(batchSize\) samples, got 5/);
    // after a rejected batch none is loaded, never half of one
    expect(() => trainer.loss()).toThrow(/no batch is loaded/);
    trainer.loadBatch(samples.slice(0, 4));
    expect(trainer.loss()).toBe(loss);
    // nor the batch before it, when the host refuses the batch before the module sees it (a label, a count): before,
    // loss, gradient and step went on with the previous batch, unsaid
    const tooMany = () => expect(() => trainer.loadBatch(samples.slice(0, 5))).toThrow(/expected 1\.\.4/);
    for (const refuse of [() => bad({ ...samples[1], label: 2 }, /label must be/), tooMany]) {
      trainer.loadBatch(samples.slice(0, 4));
      refuse();
      expect(() => trainer.loss()).toThrow(/no batch is loaded/);
      expect(() => trainer.lossAndGradient()).toThrow(/no batch is loaded/);
    }
  });
});

describe("trainer setup", () => {
  it("has no optimizer in the module until the host configures one: a step before trainConfigure is refused", async () => {
    const instance = await WebAssembly.instantiate(await compileBuild("train-scalar"), {});
    const e = instance.exports as unknown as {
      memory: WebAssembly.Memory;
      errorPtr(): number;
      errorLen(): number;
      trainDescriptor(): number;
      trainCreate(): number;
      trainConfigure(tr: number, optimizer: number, lr: number, beta1: number, beta2: number, epsilon: number, clipNorm: number): number;
      trainStep(tr: number, scale: number): number;
    };
    const words = new Int32Array(e.memory.buffer, e.trainDescriptor(), contract.DESCRIPTOR_HEAD_WORDS + contract.DESCRIPTOR_LAYER_WORDS);
    words[contract.DESCRIPTOR_LAYER_COUNT] = 1;
    words[contract.DESCRIPTOR_INPUT_SIZE] = 1;
    words[contract.DESCRIPTOR_OUTPUT_SIZE] = 2;
    words[contract.DESCRIPTOR_READOUT_MODE] = contract.READOUT_LAST;
    words[contract.DESCRIPTOR_LOSS] = contract.LOSS_CROSS_ENTROPY;
    words[contract.DESCRIPTOR_TIME_ORIGIN] = contract.ORIGIN_SEQUENCE;
    words[contract.DESCRIPTOR_BATCH_SIZE] = 1;
    words[contract.DESCRIPTOR_MAX_LENGTH] = 4;
    words[contract.DESCRIPTOR_HEAD_WORDS] = 3;
    const tr = e.trainCreate();
    expect(tr).not.toBe(0);
    expect(e.trainStep(tr, 1)).toBeNaN();
    expect(moduleError(e)).toMatch(/no optimizer: trainConfigure was not called/);
    expect(e.trainConfigure(tr, contract.OPTIMIZER_SGD, 0.1, 0.9, 0.999, 1e-8, 0)).toBe(0);
    expect(e.trainStep(tr, 1)).not.toBeNaN();
  });

  it("describes theta's groups in the documented order, and a model goes through theta and back", () => {
    const model = initialModel({ inputSize: 2, hidden: [3, 4], outputs: 2 }, 11);
    const groups = parameterGroups(model);
    expect(groups.map((g) => `${g.layer}:${g.name}`)).toEqual([
      ...[0, 1].flatMap((n) => ["W", "U", "b", "peephole.i", "peephole.f", "peephole.o", "logTau", "shift"].map((name) => `${n}:${name}`)),
      "-1:V",
      "-1:d",
    ]);
    expect(groups.map((g) => g.length)).toEqual([24, 36, 12, 3, 3, 3, 3, 3, 48, 64, 16, 4, 4, 4, 4, 4, 8, 2]);
    groups.forEach((g, k) => expect(g.offset).toBe(k === 0 ? 0 : groups[k - 1].offset + groups[k - 1].length));
    const back = modelFromParameters(model, parametersOf(model));
    expect(back.layers[1].U).toEqual(model.layers[1].U);
    back.layers.forEach((layer, n) => layer.tau.forEach((tau, j) => expect(tau).toBeCloseTo(model.layers[n].tau[j], 12)));
    expect(back.readout).toEqual(model.readout);
  });

  it("with a trained r_on, adds an r_on group after each layer's shift holding r_on itself, and the model goes through it and back", () => {
    const model = initialModel({ inputSize: 2, hidden: [3, 4], outputs: 2, rOn: 0.2 }, 11);
    model.layers[1].rOn[2] = 0.7;
    const groups = parameterGroups(model, { trainROn: true });
    expect(groups.map((g) => `${g.layer}:${g.name}`)).toEqual([
      ...[0, 1].flatMap((n) => ["W", "U", "b", "peephole.i", "peephole.f", "peephole.o", "logTau", "shift", "rOn"].map((name) => `${n}:${name}`)),
      "-1:V",
      "-1:d",
    ]);
    const theta = parametersOf(model, { trainROn: true });
    const ron = groups.find((g) => g.layer === 1 && g.name === "rOn")!;
    expect(theta[ron.offset + 2]).toBe(0.7);
    const back = modelFromParameters(model, theta, { trainROn: true });
    back.layers.forEach((layer, n) => expect(Array.from(layer.rOn)).toEqual(Array.from(model.layers[n].rOn)));
    theta[ron.offset] = 0.33;
    expect(modelFromParameters(model, theta, { trainROn: true }).layers[1].rOn[0]).toBe(0.33);
  });

  it("with tau learned itself, theta holds tau in place of log tau, and the model goes through it and back", () => {
    const model = initialModel({ inputSize: 2, hidden: [3, 4], outputs: 2 }, 11);
    const groups = parameterGroups(model, { tauDirect: true });
    expect(groups.filter((g) => g.name === "tau").map((g) => g.layer)).toEqual([0, 1]);
    expect(groups.some((g) => g.name === "logTau")).toBe(false);
    const theta = parametersOf(model, { tauDirect: true });
    const tau = groups.find((g) => g.layer === 0 && g.name === "tau")!;
    expect(Array.from(theta.subarray(tau.offset, tau.offset + 3))).toEqual(Array.from(model.layers[0].tau));
    expect(modelFromParameters(model, theta, { tauDirect: true })).toEqual(model);
  });

  it("trains r_on only when asked: it moves, stays in [0.01, 1], and the exported model carries it", async () => {
    const samples = signProblem(3, 16);
    const model = smallModel(12);
    const run = async (trainROn: boolean) => {
      const trainer = await Trainer.create(model, { batchSize: 16, maxLength: 25, optimizer: "adam", lr: 0.05, trainROn });
      expect(trainer.parameterCount).toBe(parametersOf(model).length + (trainROn ? 6 : 0));
      train(trainer, samples, 40);
      return { r: trainer.rOnValues(), exported: trainer.toModel().layers[0].rOn };
    };
    const fixed = await run(false);
    expect(Array.from(fixed.exported)).toEqual(Array.from(model.layers[0].rOn));
    const trained = await run(true);
    expect(trained.r.some((r, j) => Math.abs(r - model.layers[0].rOn[j]) > 1e-3)).toBe(true);
    trained.r.forEach((r, j) => {
      expect(r >= TRAINED_R_ON_MIN && r <= 1).toBe(true);
      expect(trained.exported[j]).toBe(r);
    });
  });

  it.each(BUILDS)("clips a trained r_on to [0.01, 1] and a directly learned tau to 0.01 after every update (simd %s)", async (simd) => {
    const model = smallModel(14);
    const trainer = await Trainer.create(model, { batchSize: 4, maxLength: 25, optimizer: "sgd", lr: 1, momentum: 0, simd, trainROn: true, tauDirect: true });
    trainer.loadBatch(signProblem(5, 4));
    trainer.lossAndGradient();
    const ron = trainer.groups.find((g) => g.name === "rOn")!;
    const tau = trainer.groups.find((g) => g.name === "tau")!;
    // a gradient that throws unit 0's r_on below 0, unit 1's above 1 and unit 2's tau below 0, and moves unit 3's
    // r_on and tau inside their ranges
    const grad = trainer.gradient();
    grad.fill(0);
    grad.set([10, -10, 0, 0.01], ron.offset);
    grad.set([0, 0, 100, -0.5], tau.offset);
    trainer.step();
    const theta = trainer.parameters();
    expect(Array.from(theta.subarray(ron.offset, ron.offset + 3))).toEqual([TRAINED_R_ON_MIN, 1, 0.3].map(Math.fround));
    expect(theta[ron.offset + 3]).toBeCloseTo(0.29, 6);
    expect(theta[tau.offset + 2]).toBe(Math.fround(TAU_MIN));
    expect(theta[tau.offset + 3]).toBeCloseTo(model.layers[0].tau[3] + 0.5, 5);
    // the clipped values are what the model is: r_on 0.01 and 1, tau 0.01
    const exported = trainer.toModel().layers[0];
    expect([exported.rOn[0], exported.rOn[1], exported.tau[2]]).toEqual([Math.fround(TRAINED_R_ON_MIN), 1, Math.fround(TAU_MIN)]);
  });

  it("refuses to train an r_on or learn a tau outside the ranges they are kept in, and says which unit", async () => {
    const model = smallModel(13);
    model.layers[0].rOn[4] = 0.005;
    await expect(Trainer.create(model, { batchSize: 4, maxLength: 25, trainROn: true })).rejects.toThrow(/layer 0 unit 4: r_on is 0.005; a trained r_on must be in \[0.01, 1\]/);
    // fixed, any r_on in (0, 1] is valid
    await expect(Trainer.create(model, { batchSize: 4, maxLength: 25 })).resolves.toBeInstanceOf(Trainer);
    model.layers[0].rOn[4] = 1;
    await expect(Trainer.create(model, { batchSize: 4, maxLength: 25, trainROn: true })).resolves.toBeInstanceOf(Trainer);
    model.layers[0].tau[2] = 0.004;
    await expect(Trainer.create(model, { batchSize: 4, maxLength: 25, tauDirect: true })).rejects.toThrow(/layer 0 unit 2: tau is 0.004; a directly learned tau must be at least 0.01/);
    await expect(Trainer.create(model, { batchSize: 4, maxLength: 25 })).resolves.toBeInstanceOf(Trainer);
  });

  it("initialises a task's model as tasks.md's protocol says, the same for the same seed", () => {
    const model = initialModel(taskModelSpec("freq1-async"), 42);
    expect(initialModel(taskModelSpec("freq1-async"), 42)).toEqual(model);
    expect(initialModel(taskModelSpec("freq1-async"), 43)).not.toEqual(model);
    const [layer] = model.layers;
    expect([model.inputSize, layer.hiddenSize, model.readout.outputSize, model.readout.mode]).toEqual([1, 110, 2, "last"]);
    expect(layer.alpha).toBe(0.001);
    for (let j = 0; j < 110; j++) {
      expect(layer.rOn[j]).toBe(0.05);
      expect(layer.tau[j]).toBeGreaterThanOrEqual(Math.E);
      expect(layer.tau[j]).toBeLessThanOrEqual(Math.E ** 3);
      expect(layer.shift[j]).toBeGreaterThanOrEqual(0);
      expect(layer.shift[j]).toBeLessThan(100);
      expect(layer.b[110 + j]).toBeGreaterThan(0.8); // forget gate
    }
    const adding = taskModelSpec("adding");
    expect([adding.inputSize, adding.outputs]).toEqual([2, 1]);
  });

  it("trains on host/training/tasks.ts samples as they are (adding: the label is the target)", async () => {
    const data = generate("adding", 4, 1);
    const trainer = await Trainer.create(initialModel({ ...taskModelSpec("adding"), hidden: [8] }, 1), { batchSize: 4, maxLength: 510 });
    expect(trainer.lossKind).toBe("mse");
    trainer.loadBatch(data);
    const loss = trainer.lossAndGradient();
    const y = trainer.predict(data);
    const expected = data.reduce((sum, s, k) => sum + (y[k][0] - s.label) ** 2, 0) / data.length;
    // predict uses alpha 0 and the loss alpha 0.001: close, not equal
    expect(loss).toBeCloseTo(expected, 2);
    expect(Number.isFinite(norm2(trainer.gradient()))).toBe(true);
  });

  it("refuses options that make no sense", async () => {
    const model = smallModel(12);
    await expect(Trainer.create(model, { batchSize: 0, maxLength: 10 })).rejects.toThrow(/batchSize/);
    await expect(Trainer.create(model, { batchSize: 4, maxLength: 10, loss: "cross-entropy", lr: -1 })).rejects.toThrow(/learning rate/);
    await expect(Trainer.create(smallModel(12, "every", 1), { batchSize: 4, maxLength: 10, loss: "cross-entropy" })).rejects.toThrow(/readout "last"/);
    await expect(Trainer.create(model, { batchSize: 4, maxLength: 10, timeLrScale: -1 })).rejects.toThrow(/timeLrScale/);
    await expect(Trainer.create(model, { batchSize: 4, maxLength: 10, timeLrScale: Number.NaN })).rejects.toThrow(/timeLrScale/);
  });
});

function norm2(a: ArrayLike<number>): number {
  let sum = 0;
  for (let k = 0; k < a.length; k++) sum += a[k] * a[k];
  return Math.sqrt(sum);
}
