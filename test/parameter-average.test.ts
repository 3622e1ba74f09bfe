// The moving average of the parameters (host/training/average.ts, `phasor train --average D`): it is the bias-corrected
// exponential average that its formula says, written out here as a plain weighted sum; it never takes in a
// non-finite step; a training run scores, keeps and checkpoints it while the trainer's own parameters go on
// untouched; and its checkpoint holds it (test/cli-train.test.ts resumes it bit for bit).
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import "../host/node.js";
import { ParameterAverage } from "../host/training/average.js";
import { learningCurveSvg } from "../host/training/report.js";
import { parametersOf } from "../host/training/trainer.js";
import { TrainingRun, defaultSettings } from "../host/training/training.js";
import { phasor } from "./support/cli.js";
import { Rng } from "./support/random.js";

/** sum_k (1 - d) d^(t - k) theta_k / sum_k (1 - d) d^(t - k), k = 1..t: the definition, not the recursion */
function weightedAverage(thetas: Float64Array[], d: number): Float64Array {
  const t = thetas.length;
  const out = new Float64Array(thetas[0].length);
  let total = 0;
  thetas.forEach((theta, k) => {
    const w = (1 - d) * d ** (t - 1 - k);
    total += w;
    theta.forEach((x, i) => (out[i] += w * x));
  });
  return out.map((x) => x / total);
}

describe("the parameter average", () => {
  it("is the weighted sum of the steps with the start-up bias divided out", () => {
    const rng = new Rng(17);
    for (const d of [0, 0.5, 0.9, 0.999]) {
      const avg = new ParameterAverage(5, d);
      const thetas: Float64Array[] = [];
      for (let t = 1; t <= 40; t++) {
        const theta = Float64Array.from({ length: 5 }, () => rng.uniform(-3, 3));
        thetas.push(theta);
        expect(avg.add(theta)).toBe(true);
        const got = avg.valueInto(new Float32Array(5), new Float32Array(5));
        const want = weightedAverage(thetas, d);
        for (let i = 0; i < 5; i++) expect(got[i]).toBeCloseTo(want[i], 5);
      }
    }
    // a constant is its own average from the first step on, even with a long memory
    const avg = new ParameterAverage(3, 0.999);
    avg.add([1.5, -2, 7]);
    expect(Array.from(avg.valueInto(new Float32Array(3), [0, 0, 0]))).toEqual([1.5, -2, 7]);
  });

  it("leaves out a step with a non-finite number, and starts again after a reset", () => {
    const avg = new ParameterAverage(2, 0.5);
    const out = new Float32Array(2);
    expect(Array.from(avg.valueInto(out, [4, 5]))).toEqual([4, 5]); // empty: the fallback
    avg.add([2, 2]);
    avg.add([4, 4]);
    const before = Array.from(avg.valueInto(out, [0, 0]));
    expect(avg.add([NaN, 1])).toBe(false);
    expect(avg.add([1, Infinity])).toBe(false);
    expect(Array.from(avg.valueInto(out, [0, 0]))).toEqual(before);
    avg.reset();
    expect(avg.empty).toBe(true);
    expect(Array.from(avg.valueInto(out, [9, 8]))).toEqual([9, 8]);
    avg.add([6, 6]);
    expect(Array.from(avg.valueInto(out, [0, 0]))).toEqual([6, 6]);
  });

  it("refuses a decay outside [0, 1), a theta of another size and a foreign state", () => {
    expect(() => new ParameterAverage(3, 1)).toThrow(/decay must be in \[0, 1\)/);
    expect(() => new ParameterAverage(3, -0.1)).toThrow(/decay must be in \[0, 1\)/);
    const avg = new ParameterAverage(3, 0.9);
    expect(() => avg.add([1, 2])).toThrow(/theta has 2 numbers, the average 3/);
    expect(() => avg.setState({ decay: 0.99, sum: new Float64Array(3), weight: 0.5 })).toThrow(/decays by 0.99, this run by 0.9/);
    expect(() => avg.setState({ decay: 0.9, sum: new Float64Array(4), weight: 0.5 })).toThrow(/has 4 numbers, the model 3 parameters/);
    expect(() => avg.setState({ decay: 0.9, sum: new Float64Array(3), weight: 2 })).toThrow(/weight must be in \[0, 1\]/);
  });
});

describe("a training run with --average", () => {
  it("scores and keeps the average of its steps and leaves the trainer's parameters alone", async () => {
    const settings = defaultSettings("freq1-async", { hidden: 6, epochs: 1, perEpoch: 160, validation: 60, batchSize: 16, seed: 5, lr: 0.01, average: 0.8 });
    const run = await TrainingRun.create(settings);
    const thetas: Float64Array[] = [];
    await run.run({ onBatch: () => void thetas.push(Float64Array.from(run.trainer.parameters())) });
    expect(thetas).toHaveLength(10);
    const want = weightedAverage(thetas, 0.8);
    const kept = parametersOf(run.bestModel().model, run.trainer.layout);
    for (let i = 0; i < want.length; i++) expect(kept[i]).toBeCloseTo(want[i], 5);
    // the last step's parameters are still the trainer's, not the average's
    expect(Array.from(run.trainer.parameters())).toEqual(Array.from(Float32Array.from(thetas[9])));
    // the record has both scores; the raw one is what an unaveraged run of the same seed scores
    const record = run.history[0];
    expect(record.valAccuracy).toBe(run.validate().accuracy);
    const plain = await TrainingRun.create({ ...settings, average: 0 });
    await plain.run();
    expect(record.rawValAccuracy).toBe(plain.history[0].valAccuracy);
    expect(plain.history[0].rawValAccuracy).toBeUndefined();
  });

  it("refuses a decay of 1 or more", async () => {
    await expect(TrainingRun.create(defaultSettings("freq1-async", { hidden: 4, average: 1 }))).rejects.toThrow(/average .* must be in \[0, 1\)/);
  });
});

describe("phasor train --average", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "phasor-average-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const tiny = ["train", "--task", "freq1-async", "--hidden", "8", "--per-epoch", "96", "--validation", "40", "--batch", "16", "--seed", "6", "--average", "0.9"];
  const lines = (stdout: string) => stdout.trimEnd().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);

  it("checkpoints the average with its weight, 1 - d^steps", () => {
    const run = phasor([...tiny, "--epochs", "3", "--out", join(dir, "whole.json")]);
    expect(run.status).toBe(0);
    const checkpoint = JSON.parse(readFileSync(join(dir, "whole.checkpoint.json"), "utf8"));
    expect(checkpoint.average.decay).toBe(0.9);
    // 3 epochs of 96 / 16 = 6 steps, none rolled back: the weight is 1 - d^18
    expect(checkpoint.average.weight).toBeCloseTo(1 - 0.9 ** 18, 12);
    expect(lines(run.stdout)[2].rawValAccuracy).toEqual(expect.any(Number));
    // the learning curve draws both scores; a plain run's draws one
    const svg = readFileSync(join(dir, "whole.svg"), "utf8");
    expect(svg).toMatch(/validation accuracy of the parameter average.*of the last step's parameters/);
    expect(svg.match(/<polyline /g)).toHaveLength(3);
    const history = checkpoint.history.map((r: Record<string, unknown>) => ({ ...r, rawValAccuracy: undefined }));
    const plain = learningCurveSvg(history);
    expect(plain).not.toMatch(/last step's parameters/);
    expect(plain.match(/<polyline /g)).toHaveLength(2);
  });

  it("refuses to resume an averaged run without its average, or with another decay", () => {
    const plain = phasor(["train", "--task", "freq1-async", "--hidden", "8", "--per-epoch", "96", "--validation", "40", "--batch", "16", "--seed", "6", "--epochs", "1", "--out", join(dir, "p.json")]);
    expect(plain.status).toBe(0);
    const switched = phasor([...tiny, "--epochs", "2", "--out", join(dir, "p.json"), "--resume", join(dir, "p.checkpoint.json")]);
    expect(switched.status).toBe(2);
    expect(switched.stderr).toMatch(/cannot change average 0.9 \(the checkpoint has 0\)/);
    const bad = phasor([...tiny.slice(0, -1), "1", "--epochs", "1", "--out", join(dir, "q.json")]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/must be in \[0, 1\)/);
  });
});
