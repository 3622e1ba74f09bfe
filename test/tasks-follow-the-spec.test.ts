/**
 * The built-in tasks against shared/spec/tasks.md: every exact property of every sample (ranges, event times,
 * formulas, labels, markers), recomputed from the draws the sample records, and the statistics of the draws
 * over a few thousand samples (positive fractions, means of the uniform draws, the adding task's baseline MSE).
 */
import { describe, expect, it } from "vitest";
import { MAX_SEED, Rng } from "../host/rng.js";
import {
  TASK_NAMES,
  TASKS,
  generate,
  samples,
  type AddingDraws,
  type Freq1Draws,
  type Freq2Draws,
  type Sample,
  type TaskName,
} from "../host/training/tasks.js";

const mean = (values: number[]) => values.reduce((sum, v) => sum + v, 0) / values.length;

function freq1Draws(sample: Sample): Freq1Draws {
  if (sample.draws.kind !== "freq1") throw new Error(`expected freq1 draws, got ${sample.draws.kind}`);
  return sample.draws;
}

function freq2Draws(sample: Sample): Freq2Draws {
  if (sample.draws.kind !== "freq2") throw new Error(`expected freq2 draws, got ${sample.draws.kind}`);
  return sample.draws;
}

function addingDraws(sample: Sample): AddingDraws {
  if (sample.draws.kind !== "adding") throw new Error(`expected adding draws, got ${sample.draws.kind}`);
  return sample.draws;
}

function nonDecreasing(t: Float64Array): boolean {
  for (let e = 1; e < t.length; e++) if (!(t[e] >= t[e - 1])) return false;
  return true;
}

/** same times, values and labels, bit for bit: cheaper for expect() than comparing thousands of arrays */
function sameSamples(a: Sample[], b: Sample[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((s, k) => s.label === b[k].label && sameArray(s.t, b[k].t) && sameArray(s.x, b[k].x));
}

function sameArray(a: Float64Array, b: Float64Array): boolean {
  return a.length === b.length && a.every((v, k) => Object.is(v, b[k]));
}

describe("every task", () => {
  it.each(TASK_NAMES)("%s: the same seed gives the same samples, another seed others", (task) => {
    const a = generate(task, 40, 7);
    expect(sameSamples(a, generate(task, 40, 7))).toBe(true);
    const other = generate(task, 40, 8);
    expect(other.filter((s, k) => !sameArray(s.x, a[k].x)).length).toBe(40);
  });

  it.each(TASK_NAMES)("%s: generate(n) is the first n of samples(), whatever n", (task) => {
    const long = generate(task, 70, 3);
    expect(sameSamples(generate(task, 33, 3), long.slice(0, 33))).toBe(true);
    const stream = samples(task, 3);
    const drawn = Array.from({ length: 70 }, () => stream.next().value);
    expect(sameSamples(drawn, long)).toBe(true);
  });

  it.each(TASK_NAMES)("%s: shapes agree with TASKS (inputSize, one time per event)", (task) => {
    const info = TASKS[task];
    expect(info.name).toBe(task);
    expect(info.readout).toBe("last");
    expect(info.timeUnit).toBe("ms");
    for (const s of generate(task, 20, 1)) {
      expect(s.t.length).toBeGreaterThan(0);
      expect(s.x.length).toBe(s.t.length * info.inputSize);
      expect(s.x.every(Number.isFinite)).toBe(true);
      expect(nonDecreasing(s.t)).toBe(true);
    }
  });

  it("describes the tasks and the paper's numbers as tasks.md gives them", () => {
    for (const task of ["freq1-standard", "freq1-highres", "freq1-async", "freq2"] as TaskName[]) {
      expect(TASKS[task]).toMatchObject({ inputSize: 1, outputSize: 2, kind: "classification", loss: "cross-entropy" });
      expect(TASKS[task].labels).toHaveLength(2);
    }
    expect(TASKS.adding).toMatchObject({ inputSize: 2, outputSize: 1, kind: "regression", loss: "mse" });
    expect(TASKS["freq1-standard"].paper.reported[0]).toMatchObject({ model: "Phased LSTM", percent: 99.18, std: 0.23 });
    expect(TASKS["freq1-highres"].paper.reported.map((r) => r.percent)).toEqual([99.49, 62.11, 51.72]);
    expect(TASKS["freq1-async"].paper.reported.map((r) => [r.percent, r.std])).toEqual([
      [98.28, 0.15],
      [65.47, 12.48],
      [63.2, 13.54],
    ]);
    expect(TASKS["freq1-async"].paper.protocol).toMatchObject({ hidden: 110, rOn: 0.05, batch: 32, epochs: 70, trainPerEpoch: 5000, validation: 500 });
    expect(TASKS["freq1-async"].paper.protocol?.tauRange[1]).toBeCloseTo(20.09, 2);
    expect(TASKS.freq2.paper.protocol?.epochs).toBe(300);
    expect(TASKS["freq1-standard"].paper.baseline.value).toBeCloseTo(0.52, 2);
    expect(TASKS.freq2.paper.baseline.value).toBeCloseTo(0.5, 2);
    expect(TASKS.adding.paper.baseline).toMatchObject({ metric: "mse" });
    expect(TASKS.adding.paper.baseline.value).toBeCloseTo(0.167, 3);
  });

  it("refuses an unknown task, a bad n and a bad seed", () => {
    expect(() => generate("freq3" as TaskName, 1, 0)).toThrow(/unknown task "freq3" \(tasks: freq1-standard, /);
    expect(() => samples("freq3" as TaskName, 0)).toThrow(/unknown task/);
    expect(() => samples("adding", -1)).toThrow(/seed must be an integer/);
    expect(() => generate("adding", -1, 0)).toThrow(/n must be a non-negative integer/);
    expect(() => generate("adding", 1.5, 0)).toThrow(/n must be a non-negative integer/);
    expect(() => generate("adding", 1, -1)).toThrow(/seed must be an integer in \[0, 4294967295\]/);
    expect(() => generate("adding", 1, MAX_SEED + 1)).toThrow(/seed must be an integer/);
    expect(() => generate("adding", 1, 0.5)).toThrow(/seed must be an integer/);
    expect(generate("adding", 0, 0)).toEqual([]);
    expect(generate("adding", 1, MAX_SEED)).toHaveLength(1);
  });
});

describe("freq1 (tasks.md, 'freq1')", () => {
  const variants = ["freq1-standard", "freq1-highres", "freq1-async"] as const;
  const N = 3200;
  const data = Object.fromEntries(variants.map((task) => [task, generate(task, N, 11)])) as Record<(typeof variants)[number], Sample[]>;

  it.each(variants)("%s: draws in their ranges, the first 16 of every 32 with T ~ U(5, 6)", (task) => {
    data[task].forEach((s, k) => {
      const d = freq1Draws(s);
      if (k % 32 < 16) {
        expect(d.period).toBeGreaterThanOrEqual(5);
        expect(d.period).toBeLessThanOrEqual(6);
      } else {
        expect(d.period).toBeGreaterThanOrEqual(1);
        expect(d.period).toBeLessThanOrEqual(100);
      }
      expect(d.durationMs).toBeGreaterThanOrEqual(15);
      expect(d.durationMs).toBeLessThan(125);
      expect(d.startMs).toBeGreaterThanOrEqual(0);
      expect(d.startMs).toBeLessThanOrEqual(125 - d.durationMs);
      expect(d.offset).toBeGreaterThanOrEqual(0);
      expect(d.offset).toBeLessThanOrEqual(d.durationMs);
    });
  });

  it.each(variants)("%s: label 1 iff 5 <= T <= 6; timestamps in [0, 125]; x(t) = sin(2 pi t / T - offset)", (task) => {
    for (const s of data[task]) {
      const d = freq1Draws(s);
      expect(s.label).toBe(d.period >= 5 && d.period <= 6 ? 1 : 0);
      expect(s.t[0]).toBeGreaterThanOrEqual(0);
      expect(s.t[s.t.length - 1]).toBeLessThanOrEqual(125);
      expect(nonDecreasing(s.t)).toBe(true);
      let worst = 0;
      for (let e = 0; e < s.t.length; e++) worst = Math.max(worst, Math.abs(s.x[e] - Math.sin((2 * Math.PI * s.t[e]) / d.period - d.offset)));
      expect(worst).toBe(0);
    }
  });

  it("freq1-standard: t = start, start + 1, ... while t < start + duration (15 to 125 events)", () => {
    for (const s of data["freq1-standard"]) {
      const { startMs, durationMs } = freq1Draws(s);
      const n = s.t.length;
      expect(n).toBeGreaterThanOrEqual(15);
      expect(n).toBeLessThanOrEqual(125);
      expect(Array.from(s.t)).toEqual(Array.from({ length: n }, (_, k) => startMs + k));
      expect(s.t[n - 1]).toBeLessThan(startMs + durationMs);
      expect(startMs + n).toBeGreaterThanOrEqual(startMs + durationMs);
    }
  });

  it("freq1-highres: the same every 0.1 ms (150 to 1250 events)", () => {
    const counts = data["freq1-highres"].map((s) => s.t.length);
    expect(Math.min(...counts)).toBeGreaterThanOrEqual(150);
    expect(Math.max(...counts)).toBeLessThanOrEqual(1250);
    for (const s of data["freq1-highres"]) {
      const { startMs, durationMs } = freq1Draws(s);
      const n = s.t.length;
      expect(s.t.every((t, k) => t === startMs + k / 10)).toBe(true);
      let worstStep = 0;
      for (let k = 1; k < n; k++) worstStep = Math.max(worstStep, Math.abs(s.t[k] - s.t[k - 1] - 0.1));
      expect(worstStep).toBeLessThan(1e-12);
      expect(s.t[n - 1]).toBeLessThan(startMs + durationMs);
      expect(startMs + n / 10).toBeGreaterThanOrEqual(startMs + durationMs);
    }
  });

  it("freq1-async: n ~ floor(U(15, 125)) times uniform in [start, start + duration), sorted", () => {
    const counts = data["freq1-async"].map((s) => s.t.length);
    expect(counts.every((n) => Number.isInteger(n) && n >= 15 && n <= 124)).toBe(true);
    // U(15, 125) floored: mean 69.5 (the mean of 3,200 has a std of 0.56), and both ends reached
    expect(Math.abs(mean(counts) - 69.5)).toBeLessThan(2);
    expect(Math.min(...counts)).toBe(15);
    expect(Math.max(...counts)).toBe(124);
    const positions: number[] = [];
    for (const s of data["freq1-async"]) {
      const { startMs, durationMs } = freq1Draws(s);
      expect(s.t.every((t) => t >= startMs && t < startMs + durationMs)).toBe(true);
      for (const t of s.t) positions.push((t - startMs) / durationMs);
    }
    // uniform in the window: mean 1/2, variance 1/12
    expect(mean(positions)).toBeCloseTo(0.5, 2);
    expect(mean(positions.map((p) => (p - 0.5) ** 2))).toBeCloseTo(1 / 12, 2);
  });

  it.each(variants)("%s: about 52 %% positives, the draws distributed as tasks.md says", (task) => {
    const all = data[task];
    const positives = mean(all.map((s) => s.label));
    // half the data is positive by construction, the log-uniform half adds ln(1.2) / ln(100) of itself
    expect(Math.abs(positives - 0.5198)).toBeLessThan(0.01);
    const logHalf = all.filter((_, k) => k % 32 >= 16).map((s) => freq1Draws(s).period);
    // ln T uniform on [0, ln 100]: mean ln 10, variance (ln 100)^2 / 12
    const logs = logHalf.map(Math.log);
    expect(Math.abs(mean(logs) - Math.log(10))).toBeLessThan(0.1);
    expect(Math.abs(mean(logs.map((v) => (v - Math.log(10)) ** 2)) - Math.log(100) ** 2 / 12)).toBeLessThan(0.12);
    const posHalf = all.filter((_, k) => k % 32 < 16).map((s) => freq1Draws(s).period);
    expect(mean(posHalf)).toBeCloseTo(5.5, 1);
    const draws = all.map(freq1Draws);
    expect(Math.abs(mean(draws.map((d) => d.durationMs)) - 70)).toBeLessThan(2);
    expect(mean(draws.map((d) => d.startMs / (125 - d.durationMs)))).toBeCloseTo(0.5, 1);
    expect(mean(draws.map((d) => d.offset / d.durationMs))).toBeCloseTo(0.5, 1);
  });
});

describe("freq2 (tasks.md, 'freq2')", () => {
  const N = 3200;
  const all = generate("freq2", N, 5);

  it("n ~ floor(U(100, 1000)) sorted times uniform in [start, start + duration) within [0, 100]", () => {
    const counts = all.map((s) => s.t.length);
    expect(counts.every((n) => Number.isInteger(n) && n >= 100 && n < 1000)).toBe(true);
    expect(Math.abs(mean(counts) - 549.5)).toBeLessThan(16);
    for (const s of all) {
      const { startMs, durationMs } = freq2Draws(s);
      expect(durationMs).toBeGreaterThanOrEqual(1);
      expect(durationMs).toBeLessThan(100);
      expect(startMs).toBeGreaterThanOrEqual(0);
      expect(startMs).toBeLessThanOrEqual(100 - durationMs);
      expect(nonDecreasing(s.t)).toBe(true);
      expect(s.t[0]).toBeGreaterThanOrEqual(startMs);
      expect(s.t[s.t.length - 1]).toBeLessThan(startMs + durationMs);
      expect(s.t[s.t.length - 1]).toBeLessThanOrEqual(100);
    }
    const draws = all.map(freq2Draws);
    expect(Math.abs(mean(draws.map((d) => d.durationMs)) - 50.5)).toBeLessThan(2);
    expect(mean(draws.map((d) => d.startMs / (100 - d.durationMs)))).toBeCloseTo(0.5, 1);
    expect(mean(draws.map((d) => d.offsets[0] / d.durationMs))).toBeCloseTo(0.5, 1);
    expect(mean(draws.map((d) => d.offsets[1] / d.durationMs))).toBeCloseTo(0.5, 1);
  });

  it("P1 ~ U(5, 6) and P2 ~ U(13, 15) for the first 16 of every 32, log-uniform on [1, 100] otherwise", () => {
    const logs: number[] = [];
    all.forEach((s, k) => {
      const [p1, p2, s1, s2] = [...freq2Draws(s).periods, ...freq2Draws(s).offsets];
      expect(s1).toBeGreaterThanOrEqual(0);
      expect(s2).toBeGreaterThanOrEqual(0);
      if (k % 32 < 16) {
        expect(p1 >= 5 && p1 <= 6 && p2 >= 13 && p2 <= 15).toBe(true);
      } else {
        expect(p1 >= 1 && p1 <= 100 && p2 >= 1 && p2 <= 100).toBe(true);
        logs.push(Math.log(p1), Math.log(p2));
      }
    });
    expect(Math.abs(mean(logs) - Math.log(10))).toBeLessThan(0.1);
  });

  it("label 1 iff P1 in [5, 6] and P2 in [13, 15], about 50 % positives; x(t) = sin(t / P1 - s1) + sin(t / P2 - s2)", () => {
    for (const s of all) {
      const { periods, offsets } = freq2Draws(s);
      const [p1, p2] = periods;
      expect(s.label).toBe(p1 >= 5 && p1 <= 6 && p2 >= 13 && p2 <= 15 ? 1 : 0);
      let worst = 0;
      for (let e = 0; e < s.t.length; e++) {
        const expected = Math.sin(s.t[e] / p1 - offsets[0]) + Math.sin(s.t[e] / p2 - offsets[1]);
        worst = Math.max(worst, Math.abs(s.x[e] - expected));
      }
      expect(worst).toBe(0);
    }
    expect(Math.abs(mean(all.map((s) => s.label)) - 0.5)).toBeLessThan(0.01);
  });
});

describe("adding (tasks.md, 'adding')", () => {
  const N = 6000;
  const all = generate("adding", N, 9);

  it("lengths 490 to 510 (uniform integer) with timestamps 0, 1, 2, ...", () => {
    const counts = new Map<number, number>();
    for (const s of all) {
      counts.set(s.t.length, (counts.get(s.t.length) ?? 0) + 1);
      expect(s.t.every((t, e) => t === e)).toBe(true);
    }
    expect([...counts.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 21 }, (_, k) => 490 + k));
    // 6,000 / 21 = 286 per length
    for (const c of counts.values()) expect(Math.abs(c - N / 21)).toBeLessThan(80);
  });

  it("values ~ U(-0.5, 0.5); exactly two markers, one in the first 10 %, one in the last half; target their sum", () => {
    const values: number[] = [];
    let firstAtEnd = 0;
    let secondAtMiddle = 0;
    for (const s of all) {
      const length = s.t.length;
      const marked: number[] = [];
      let inRange = true;
      for (let e = 0; e < length; e++) {
        const value = s.x[2 * e];
        const marker = s.x[2 * e + 1];
        inRange &&= value >= -0.5 && value < 0.5 && (marker === 0 || marker === 1);
        if (marker === 1) marked.push(e);
        if (e < 50) values.push(value);
      }
      expect(inRange).toBe(true);
      expect(marked).toEqual(addingDraws(s).markers);
      const [first, second] = marked;
      // step k covers [k, k + 1) of the sequence: wholly in the first 10 %, wholly in the last half
      expect(first + 1).toBeLessThanOrEqual(length / 10);
      expect(second).toBeGreaterThanOrEqual(length / 2);
      expect(second).toBeLessThan(length);
      if (first === Math.floor(length / 10) - 1) firstAtEnd++;
      if (second === Math.ceil(length / 2)) secondAtMiddle++;
      expect(s.label).toBe(s.x[2 * first] + s.x[2 * second]);
    }
    // the markers reach the ends of their ranges
    expect(firstAtEnd).toBeGreaterThan(0);
    expect(secondAtMiddle).toBeGreaterThan(0);
    expect(Math.min(...all.map((s) => addingDraws(s).markers[0]))).toBe(0);
    expect(all.some((s) => addingDraws(s).markers[1] === s.t.length - 1)).toBe(true);
    expect(Math.abs(mean(values))).toBeLessThan(0.005);
    expect(mean(values.map((v) => v * v))).toBeCloseTo(1 / 12, 3);
  });

  it("predicting 0 has an MSE of about 0.167, the baseline of tasks.md", () => {
    const mse = mean(all.map((s) => s.label * s.label));
    expect(Math.abs(mse - 0.167)).toBeLessThan(0.01);
    expect(Math.abs(mean(all.map((s) => s.label)))).toBeLessThan(0.02);
  });
});

describe("the seeded generator", () => {
  it("is the one test/support/random.ts hands out", async () => {
    const support = await import("./support/random.js");
    expect(support.Rng).toBe(Rng);
  });

  it("gives uniform numbers in [0, 1) and unrelated streams for neighbouring seeds", () => {
    const a = new Rng(1);
    const b = new Rng(2);
    const xs = Array.from({ length: 20000 }, () => a.next());
    const ys = Array.from({ length: 20000 }, () => b.next());
    expect(xs.every((v) => v >= 0 && v < 1)).toBe(true);
    expect(mean(xs)).toBeCloseTo(0.5, 2);
    const correlation = mean(xs.map((x, k) => (x - 0.5) * (ys[k] - 0.5))) * 12;
    expect(Math.abs(correlation)).toBeLessThan(0.05);
  });
});
