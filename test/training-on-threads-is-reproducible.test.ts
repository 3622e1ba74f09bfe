// Training on several threads (host/training/parallel.ts): a batch's loss and gradient are the one-thread ones up
// to the rounding of the chunks' sums, the same seed and thread count give the same run bit for bit, one thread is
// the trainer alone, the stability guard's probes run on the threads too, and a bad sample is refused by its place
// in the batch without stopping the threads.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import "../host/node.js";
import { StabilityGuard, TrainerObjective } from "../host/training/guard.js";
import { splitByEvents } from "../host/training/parallel.js";
import { generate } from "../host/training/tasks.js";
import { batchGradients } from "../host/training/threads.js";
import { Trainer, initialModel, type TrainerOptions } from "../host/training/trainer.js";
import { simdSupported } from "../host/engine/wasm-source.js";
import { phasor } from "./support/cli.js";
import { signProblem } from "./support/sign-problem.js";

const BUILDS = simdSupported() ? [true, false] : [false];

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "phasor-threads-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function trainer(simd: boolean, options: Partial<TrainerOptions> = {}): Promise<Trainer> {
  const model = initialModel({ inputSize: 1, hidden: [12], outputs: 2, rOn: 0.3, tauRange: [2, 8], shiftMax: 10 }, 3);
  return Trainer.create(model, { batchSize: 16, maxLength: 25, simd, ...options });
}

describe("splitting a batch by its events", () => {
  it("puts every sample in exactly one chunk, balances the events, and depends only on the batch and the count", () => {
    const samples = generate("freq1-async", 32, 4);
    const chunks = splitByEvents(samples, 4);
    expect(chunks.flat().sort((a, b) => a - b)).toEqual(samples.map((_, k) => k));
    const events = chunks.map((chunk) => chunk.reduce((n, k) => n + samples[k].t.length, 0));
    const longest = Math.max(...samples.map((s) => s.t.length));
    // greedy by longest first: no chunk exceeds another by more than the longest sequence
    expect(Math.max(...events) - Math.min(...events)).toBeLessThanOrEqual(longest);
    expect(splitByEvents(samples, 4)).toEqual(chunks);
    for (const chunk of chunks) expect(chunk).toEqual([...chunk].sort((a, b) => a - b));
    // fewer samples than chunks: no empty chunk
    expect(splitByEvents(samples.slice(0, 3), 4)).toHaveLength(3);
  });
});

describe.each(BUILDS)("a batch on threads (simd %s)", (simd) => {
  const data = signProblem(5, 64);

  it("gives the one-thread loss and gradient up to rounding, and the same predictions bit for bit", async () => {
    const alone = await trainer(simd);
    const shared = await trainer(simd);
    const threads = await batchGradients(shared, 3);
    try {
      for (const batch of [data.slice(0, 16), data.slice(16, 21), data.slice(21, 22)]) {
        alone.loadBatch(batch);
        threads.loadBatch(batch);
        const loss = alone.lossAndGradient();
        expect(threads.lossAndGradient()).toBeCloseTo(loss, 6);
        const g = alone.gradient();
        const norm = Math.sqrt(g.reduce((s, v) => s + v * v, 0));
        const diff = Math.sqrt(shared.gradient().reduce((s, v, k) => s + (v - g[k]) ** 2, 0));
        expect(norm).toBeGreaterThan(0);
        expect(diff / norm).toBeLessThan(1e-5);
      }
      expect(threads.predict(data)).toEqual(alone.predict(data));
      // every thread predicts at the parameters of the moment, not at those of its last gradient
      shared.step();
      alone.setParameters(shared.parameters());
      expect(threads.predict(data)).toEqual(alone.predict(data));
    } finally {
      await threads.close();
    }
  });

  it("gives the same gradient bit for bit every time, and its probes leave theta and the gradient as they were", async () => {
    const shared = await trainer(simd, { optimizer: "sgd", lr: 0.05, momentum: 0.9 });
    const threads = await batchGradients(shared, 2);
    try {
      threads.loadBatch(data.slice(0, 16));
      const loss = threads.lossAndGradient();
      const theta = shared.parameters().slice();
      const grad = shared.gradient().slice();
      expect(threads.lossAndGradient()).toBe(loss);
      expect(shared.gradient()).toEqual(grad);
      const objective = new TrainerObjective(shared, threads);
      const out = new Float64Array(shared.parameterCount);
      const direction = Float64Array.from({ length: shared.parameterCount }, (_, k) => Math.cos(k + 1) / Math.sqrt(shared.parameterCount));
      const probed = objective.probe(direction, 1e-2, out);
      expect(probed).not.toBe(loss);
      expect(shared.parameters()).toEqual(theta);
      expect(shared.gradient()).toEqual(grad);
      // the probe is the threads' gradient at the moved point
      shared.setParameters(theta.map((v, k) => v + 1e-2 * direction[k]));
      expect(threads.lossAndGradient()).toBe(probed);
      expect(Float64Array.from(shared.gradient())).toEqual(out);
    } finally {
      await threads.close();
    }
  });

  it("skips closed units on every thread when asked: the gradient is the dense one at a leak of 0, bit for bit", async () => {
    const gradientOn = async (options: Partial<TrainerOptions>, alpha: number) => {
      const model = initialModel({ inputSize: 1, hidden: [12], outputs: 2, rOn: 0.3, tauRange: [2, 8], shiftMax: 10 }, 3);
      for (const layer of model.layers) layer.alpha = alpha;
      const shared = await Trainer.create(model, { batchSize: 16, maxLength: 25, simd, ...options });
      const threads = await batchGradients(shared, 2);
      try {
        threads.loadBatch(data.slice(0, 16));
        return { loss: threads.lossAndGradient(), grad: Array.from(shared.gradient(), (v) => v + 0) };
      } finally {
        await threads.close();
      }
    };
    const skipped = await gradientOn({ skipClosed: true }, 0.001);
    expect(skipped).toEqual(await gradientOn({}, 0));
    // and not the one at the model's leak: the workers did skip
    expect(skipped.grad).not.toEqual((await gradientOn({}, 0.001)).grad);
  });

  it("guards SGD on threads as on one: the same curvature and cap up to rounding, and the same steps twice, bit for bit", async () => {
    const steps = async (count: number) => {
      const shared = await trainer(simd, { optimizer: "sgd", lr: 0.5, momentum: 0.9 });
      const threads = await batchGradients(shared, count);
      const guard = new StabilityGuard(shared.parameterCount, { every: 2, seed: 4 });
      const objective = new TrainerObjective(shared, threads);
      const lambdas: (number | undefined)[] = [];
      const scales: number[] = [];
      try {
        for (let b = 0; b < 8; b++) {
          threads.loadBatch(data.slice(b * 8, b * 8 + 8));
          const step = guard.step(objective);
          lambdas.push(step.lambda);
          scales.push(step.scale);
        }
      } finally {
        await threads.close();
      }
      return { lambdas, scales, theta: shared.parameters().slice() };
    };
    const first = await steps(2);
    expect(first.lambdas.filter((l) => l !== undefined).length).toBe(4);
    expect(first.theta.every(Number.isFinite)).toBe(true);
    expect(await steps(2)).toEqual(first);
    // the guard sees the whole batch, whichever threads computed it: the sharpness of each checked batch and the
    // cap it sets are the one-thread ones, and at this rate the cap acts
    const one = await steps(1);
    first.lambdas.forEach((l, k) => (l === undefined ? expect(one.lambdas[k]).toBeUndefined() : expect(Math.abs(l / (one.lambdas[k] as number) - 1)).toBeLessThan(1e-3)));
    first.scales.forEach((scale, k) => expect(Math.abs(scale / one.scales[k] - 1)).toBeLessThan(1e-3));
    expect(Math.min(...one.scales)).toBeLessThan(1);
  });

  it("refuses a bad sample by its place in the batch, and goes on with the next batch", async () => {
    const shared = await trainer(simd);
    const threads = await batchGradients(shared, 2);
    try {
      const bad = data.slice(0, 12).map((s) => ({ ...s }));
      bad[9] = { ...bad[9], x: Float32Array.from(bad[9].x, (v, k) => (k === 2 ? NaN : v)) };
      expect(() => threads.loadBatch(bad)).toThrow(/sample 9: event 2 has an input that is not a finite number/);
      expect(() => threads.lossAndGradient()).toThrow(/no batch is loaded/);
      threads.loadBatch(data.slice(0, 12));
      expect(Number.isFinite(threads.lossAndGradient())).toBe(true);
    } finally {
      await threads.close();
    }
  });
});

describe("the thread count", () => {
  it("is a whole number from 1, and more than one is refused where there are no worker threads", async () => {
    const shared = await trainer(false);
    await expect(batchGradients(shared, 0)).rejects.toThrow(/threads must be a whole number in 1\.\.256, got 0/);
    await expect(batchGradients(shared, 1.5)).rejects.toThrow(/threads must be a whole number/);
    vi.resetModules();
    // a fresh copy of the module, as a browser has it: nothing installed the worker threads
    const fresh: typeof import("../host/training/threads.js") = await import("../host/training/threads.js");
    await expect(fresh.batchGradients(shared, 2)).rejects.toThrow(/threads 2: training on more than one thread needs node's worker threads/);
    // the kind of failure after which a caller that must end with a model goes on on one thread
    await expect(fresh.batchGradients(shared, 2)).rejects.toBeInstanceOf(fresh.ThreadsUnavailable);
    const one = await fresh.batchGradients(shared, 1);
    one.loadBatch(signProblem(1, 4));
    expect(Number.isFinite(one.lossAndGradient())).toBe(true);
  });
});

describe("phasor train --threads", () => {
  const tiny = ["train", "--task", "freq1-async", "--hidden", "8", "--per-epoch", "96", "--validation", "40", "--batch", "16", "--seed", "3"];
  const lines = (stdout: string) =>
    stdout
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line))
      // what the clock says differs from run to run
      .map(({ seconds, sequencesPerSec, ...rest }) => (void seconds, void sequencesPerSec, rest));

  it("gives the same run bit for bit twice with 2 threads, and 1 thread is the run without the flag", () => {
    const a = phasor([...tiny, "--epochs", "2", "--threads", "2", "--out", join(dir, "a.json")]);
    const b = phasor([...tiny, "--epochs", "2", "--threads", "2", "--out", join(dir, "b.json")]);
    expect(a.status).toBe(0);
    expect(b.status).toBe(0);
    expect(lines(b.stdout).slice(0, 2)).toEqual(lines(a.stdout).slice(0, 2));
    expect(readFileSync(join(dir, "b.json"), "utf8")).toBe(readFileSync(join(dir, "a.json"), "utf8"));
    const one = phasor([...tiny, "--epochs", "2", "--threads", "1", "--out", join(dir, "one.json")]);
    const plain = phasor([...tiny, "--epochs", "2", "--out", join(dir, "plain.json")]);
    expect(one.status).toBe(0);
    expect(lines(one.stdout).slice(0, 2)).toEqual(lines(plain.stdout).slice(0, 2));
    expect(readFileSync(join(dir, "one.json"), "utf8")).toBe(readFileSync(join(dir, "plain.json"), "utf8"));
    // the threads round the batch's sums differently, so their model differs, but it is the same training
    expect(readFileSync(join(dir, "a.json"), "utf8")).not.toBe(readFileSync(join(dir, "one.json"), "utf8"));
    expect(lines(a.stdout)[1].loss).toBeCloseTo(lines(one.stdout)[1].loss, 2);
  });

  it("runs SGD under the guard on threads, resumes on the checkpoint's thread count to the same bits, and refuses another count", () => {
    const sgd = [...tiny, "--optimizer", "sgd", "--threads", "3"];
    const whole = phasor([...sgd, "--epochs", "3", "--out", join(dir, "whole.json")]);
    expect(whole.status).toBe(0);
    const epochs = lines(whole.stdout).slice(0, 3);
    for (const e of epochs) expect(e.guard.curvatureChecks).toBeGreaterThan(0);
    const first = phasor([...sgd, "--epochs", "2", "--out", join(dir, "s.json")]);
    expect(first.status).toBe(0);
    const checkpoint = join(dir, "s.checkpoint.json");
    // no --threads: the checkpoint's 3, and the third epoch is the uninterrupted run's
    const resumed = phasor([...tiny, "--optimizer", "sgd", "--epochs", "3", "--resume", checkpoint, "--out", join(dir, "s.json")]);
    expect(resumed.status).toBe(0);
    expect(lines(resumed.stdout)[0]).toEqual(epochs[2]);
    expect(readFileSync(join(dir, "s.json"), "utf8")).toBe(readFileSync(join(dir, "whole.json"), "utf8"));
    const other = phasor([...tiny, "--optimizer", "sgd", "--epochs", "4", "--threads", "2", "--resume", checkpoint, "--out", join(dir, "o.json")]);
    expect(other.status).toBe(2);
    expect(other.stderr).toMatch(/cannot change threads 2 \(the checkpoint has 3\).*--threads 3 or no --threads/);
    // a checkpoint from before --threads trained on one thread
    const old = JSON.parse(readFileSync(checkpoint, "utf8"));
    delete old.settings.threads;
    writeFileSync(join(dir, "old.checkpoint.json"), JSON.stringify(old));
    const older = phasor([...tiny, "--optimizer", "sgd", "--epochs", "4", "--threads", "2", "--resume", join(dir, "old.checkpoint.json"), "--out", join(dir, "o.json")]);
    expect(older.status).toBe(2);
    expect(older.stderr).toMatch(/cannot change threads 2 \(the checkpoint has 1\)/);
    const zero = phasor([...tiny, "--epochs", "2", "--threads", "0", "--out", join(dir, "z.json")]);
    expect(zero.status).toBe(2);
    expect(zero.stderr).toMatch(/--threads/);
    // a thread for every sequence of the batch at most: each worker holds a trainer of its own
    const many = phasor([...tiny, "--epochs", "2", "--threads", "17", "--out", join(dir, "m.json")]);
    expect(many.status).toBe(2);
    expect(many.stderr).toMatch(/threads \(17\) must be at most batchSize \(16\)/);
    expect(existsSync(join(dir, "m.json"))).toBe(false);
  });
});
