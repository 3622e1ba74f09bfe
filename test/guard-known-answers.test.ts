// The stability guard against the known answers of shared/spec/stability.md section 5, on analytic objectives
// (host/training/guard.ts runs on any gradient oracle): the line criterion's sign and GD's fate on the 1-D family, the 2-D
// example where the line test is conservative, and the two-batch SGD example where only the worst batch matters.
import { describe, expect, it } from "vitest";
import { StabilityGuard } from "../host/training/guard.js";
import { AnalyticObjective } from "./support/analytic-objective.js";
import { Rng } from "../host/rng.js";

/** f(x) = a/2 x^2 + b/6 x^3 + c/24 x^4 */
function family(a: number, b: number, c: number) {
  return (x: Float64Array, _batch: number, out: Float64Array) => {
    const u = x[0];
    out[0] = a * u + (b / 2) * u * u + (c / 6) * u * u * u;
    return (a / 2) * u * u + (b / 6) * u ** 3 + (c / 24) * u ** 4;
  };
}

/** Plain GD for `steps` steps; the half-amplitude |x_t - x_{t-1}| / 2 at the end, or Infinity when it escaped. */
function gdOrbit(objective: AnalyticObjective, steps: number, scale = 1): number {
  let previous = Array.from(objective.x);
  let half = 0;
  for (let t = 0; t < steps; t++) {
    objective.lossAndGradient();
    objective.step(scale);
    if (!(objective.x.every((v) => Math.abs(v) < 10))) return Infinity;
    half = Math.abs(objective.x[0] - previous[0]) / 2;
    previous = Array.from(objective.x);
  }
  return half;
}

/** The half-amplitude of the period-2 orbit at eta = (2/a)(1 + mu), to leading order: delta^2 = 3 a^2 (eta a - 2) / (3 b^2 - a c). */
function predictedHalfAmplitude(a: number, b: number, c: number, mu = 0.05): number {
  return Math.sqrt((3 * a * a * (2 * mu)) / (3 * b * b - a * c));
}

// (a, b, c) over both signs of S = (3 b^2 - a c) / a, away from S = 0. The criterion is the leading order in the
// amplitude: where S > 0 the sweep keeps the orbits along which the curvature a + b x + c x^2 / 2 changes by at most
// 30 % (|b| delta / a and |c| delta^2 / 2a at most 0.3); larger orbits of this family can leave (a = 2, b = 1,
// c = 1 has S = 0.5 and delta = 1.1, and GD escapes).
const SWEEP: [number, number, number][] = [];
for (const a of [0.5, 1, 2]) {
  for (const b of [-1, -0.5, 0, 0.5, 1]) {
    for (const c of [-3, -1, 1, 3, 6]) {
      const S = (3 * b * b - a * c) / a;
      if (Math.abs(S) < 0.3) continue;
      const delta = S > 0 ? predictedHalfAmplitude(a, b, c) : 0;
      if ((Math.abs(b) * delta) / a <= 0.3 && (Math.abs(c) * delta * delta) / (2 * a) <= 0.3) SWEEP.push([a, b, c]);
    }
  }
}

describe("the 1-D family f = a/2 x^2 + b/6 x^3 + c/24 x^4", () => {
  it("has both signs of S in the sweep, many of each", () => {
    expect(SWEEP.filter(([a, b, c]) => 3 * b * b - a * c > 0).length).toBeGreaterThanOrEqual(10);
    expect(SWEEP.filter(([a, b, c]) => 3 * b * b - a * c < 0).length).toBeGreaterThanOrEqual(10);
  });

  it.each(SWEEP)("a %s, b %s, c %s: lambda = a and S_line = S from gradients; GD at (2/a)(1.05) oscillates with the predicted amplitude iff S > 0", (a, b, c) => {
    const S = (3 * b * b - a * c) / a;
    const eta = (2 / a) * 1.05;
    const guard = new StabilityGuard(1, { products: 3 });
    const atMinimum = new AnalyticObjective([0], eta, 0, family(a, b, c));
    atMinimum.lossAndGradient();
    expect(guard.estimateSharpness(atMinimum)).toBeCloseTo(a, 2);
    const line = guard.lineProbe(atMinimum);
    expect(Math.sign(line.sLine)).toBe(Math.sign(S));
    expect(line.sLine).toBeCloseTo(S, 6);

    const half = gdOrbit(new AnalyticObjective([1e-3], eta, 0, family(a, b, c)), 4000);
    if (S > 0) {
      const predicted = predictedHalfAmplitude(a, b, c);
      expect(half / predicted).toBeGreaterThan(0.9);
      expect(half / predicted).toBeLessThan(1.1);
    } else {
      expect(half).toBe(Infinity);
    }
  });

  it.each(SWEEP)("a %s, b %s, c %s: the guard in a full-batch phase keeps the benign orbit and stops the escape", (a, b, c) => {
    const S = (3 * b * b - a * c) / a;
    const eta = (2 / a) * 1.05;
    const predicted = S > 0 ? predictedHalfAmplitude(a, b, c) : 0;
    const guard = new StabilityGuard(1, { products: 2, lineEvery: 1, fullBatch: true, lineAmplitude: 1.5 * predicted || 0.1 });
    const objective = new AnalyticObjective([1e-3], eta, 0, family(a, b, c));
    let steps = 0;
    for (let t = 0; t < 4000; t++) {
      const step = guard.step(objective);
      expect(step.rolledBack).toBe(false);
      if (step.scale === 1) steps++;
    }
    const x = objective.x[0];
    if (S > 0) {
      // the step stays at eta above 2 / a, and the orbit is the one GD alone would have
      expect(steps).toBe(4000);
      const before = objective.x[0];
      objective.lossAndGradient();
      objective.step(1);
      expect(Math.abs(objective.x[0] - before) / 2 / predicted).toBeGreaterThan(0.9);
      expect(Math.abs(objective.x[0] - before) / 2 / predicted).toBeLessThan(1.1);
    } else {
      expect(Math.abs(x)).toBeLessThan(1e-9);
    }
  });
});

describe("the 2-D example f = l/2 x^2 + m/2 y^2 + beta/2 x^2 y + gamma/24 x^4", () => {
  const l = 2;
  const m = 0.5;
  const f = (beta: number, gamma: number) => (p: Float64Array, _batch: number, out: Float64Array) => {
    const [x, y] = p;
    out[0] = l * x + beta * x * y + (gamma / 6) * x ** 3;
    out[1] = m * y + (beta / 2) * x * x;
    return (l / 2) * x * x + (m / 2) * y * y + (beta / 2) * x * x * y + (gamma / 24) * x ** 4;
  };
  const cases: [number, number][] = [];
  for (const beta of [0, 0.5, 1, 1.5]) for (const gamma of [-1, 1, 4, 9]) if (Math.abs((3 * beta * beta) / m - gamma) > 0.5) cases.push([beta, gamma]);

  it("covers the region where the line test is conservative, and both others", () => {
    const region = (beta: number, gamma: number) => [gamma > 0, (3 * beta * beta) / m - gamma > 0].join();
    expect(new Set(cases.map(([b, g]) => region(b, g)))).toEqual(new Set(["true,true", "true,false", "false,true"]));
  });

  it.each(cases)("beta %s, gamma %s: S_line = -gamma, S = 3 beta^2/m - gamma, and GD above 2/l stays bounded iff S > 0", (beta, gamma) => {
    const S = (3 * beta * beta) / m - gamma;
    const eta = (2 / l) * 1.05;
    const guard = new StabilityGuard(2, { products: 20, seed: 3 });
    const atMinimum = new AnalyticObjective([0, 0], eta, 0, f(beta, gamma));
    atMinimum.lossAndGradient();
    expect(guard.estimateSharpness(atMinimum)).toBeCloseTo(l, 2);
    const line = guard.lineProbe(atMinimum);
    expect(line.sLine).toBeCloseTo(-gamma, 3);
    // S_line <= S: the line test never calls stable what is not
    expect(line.sLine).toBeLessThanOrEqual(S + 1e-6);
    const half = gdOrbit(new AnalyticObjective([1e-3, 0], eta, 0, f(beta, gamma)), 6000);
    if (S > 0) {
      // delta^2 ~ 3 lambda (eta lambda - 2) / S
      const predicted = Math.sqrt((3 * l * (eta * l - 2)) / S);
      expect(half / predicted).toBeGreaterThan(0.8);
      expect(half / predicted).toBeLessThan(1.2);
    } else {
      expect(half).toBe(Infinity);
    }
    // conservative exactly where predicted: the line test calls unstable a stable orbit iff gamma > 0 and 3 beta^2 / m > gamma
    const lineSaysStable = line.sLine > 0;
    const stable = half < Infinity;
    expect(lineSaysStable !== stable).toBe(gamma > 0 && (3 * beta * beta) / m > gamma);
  });
});

describe("two batches f_B = a_B/2 x^2 + x^4/4: the worst batch decides", () => {
  const eta = 1;
  const PATHS = 1000;
  const STEPS = 500;
  const grad = (a1: number) => (p: Float64Array, batch: number, out: Float64Array) => {
    const a = batch === 1 ? a1 : 0.9;
    const x = p[0];
    out[0] = a * x + x ** 3;
    return (a / 2) * x * x + x ** 4 / 4;
  };
  /** Each path draws its batches from its own seed; returns how many paths escaped and the largest final |x|. */
  function paths(a1: number, guarded: boolean): { diverged: number; worst: number } {
    let diverged = 0;
    let worst = 0;
    for (let s = 1; s <= PATHS; s++) {
      const rng = new Rng(s);
      const objective = new AnalyticObjective([0.1], eta, 0, grad(a1));
      const guard = guarded ? new StabilityGuard(1, { seed: s }) : null;
      let escaped = false;
      for (let t = 0; t < STEPS && !escaped; t++) {
        objective.batch = rng.nextU32() & 1 ? 1 : 2;
        if (guard) guard.step(objective);
        else {
          objective.lossAndGradient();
          objective.step(1);
        }
        escaped = !(Math.abs(objective.x[0]) < 1e6);
      }
      if (escaped) diverged++;
      else worst = Math.max(worst, Math.abs(objective.x[0]));
    }
    return { diverged, worst };
  }

  it("is linearly stable in mean square at eta a_1 = 2.35, eta a_2 = 0.9, with batch 1 alone unstable", () => {
    expect(((1 - 2.35) ** 2 + (1 - 0.9) ** 2) / 2).toBeLessThan(1);
    expect(Math.abs(1 - 2.35)).toBeGreaterThan(1);
  });

  it("unguarded SGD diverges on some of 1,000 seeded paths at eta a_1 = 2.35, on none at 1.9", () => {
    const unstable = paths(2.35, false);
    expect(unstable.diverged).toBeGreaterThan(0);
    expect(unstable.diverged).toBeLessThan(PATHS / 10);
    expect(paths(1.9, false).diverged).toBe(0);
  });

  it("guarded SGD converges on every path: each batch's step is capped below 2 / lambda_B", () => {
    const guarded = paths(2.35, true);
    expect(guarded.diverged).toBe(0);
    expect(guarded.worst).toBeLessThan(1e-6);
  });
});

describe("the guard's memory: the worst recent batch, the warm-up, the start after a rollback", () => {
  // two quadratic batches, curvatures 4 and 1, plain GD at eta 1
  const quadratic = (p: Float64Array, batch: number, out: Float64Array) => {
    const a = batch === 1 ? 4 : batch === 2 ? 1 : 0;
    out[0] = a * p[0];
    return (a / 2) * p[0] ** 2;
  };
  /** What a step that leads away does: the point lands far off, where the loss is far above anything seen. */
  const throwFarOff = (objective: AnalyticObjective) => {
    objective.x[0] = 1e3;
  };

  it("with worstOf 2, a step on the flat batch is capped by the sharp batch checked just before", () => {
    const own = new StabilityGuard(1, { seed: 1 });
    const worst = new StabilityGuard(1, { seed: 1, worstOf: 2 });
    const a = new AnalyticObjective([0.5], 1, 0, quadratic);
    const b = new AnalyticObjective([0.5], 1, 0, quadratic);
    for (let t = 0; t < 6; t++) {
      a.batch = b.batch = 1 + (t & 1);
      const sa = own.step(a);
      const sb = worst.step(b);
      expect(sa.lambda).toBeCloseTo(a.batch === 1 ? 4 : 1, 3);
      // each batch its own: the flat batch runs at the full rate (its cap 0.85 * 2 / 1 is above 1)
      expect(sa.scale).toBeCloseTo(a.batch === 1 ? (0.85 * 2) / 4 : 1, 3);
      // the window: after the first step every step is capped by lambda = 4
      expect(sb.scale).toBeCloseTo((0.85 * 2) / 4, 3);
    }
  });

  it("with worstOf 0, the cap never rises again after a sharp batch, and keeps one number, not a window", () => {
    const window = new StabilityGuard(1, { seed: 1, worstOf: 3 });
    const all = new StabilityGuard(1, { seed: 1, worstOf: 0 });
    const a = new AnalyticObjective([0.5], 1, 0, quadratic);
    const b = new AnalyticObjective([0.5], 1, 0, quadratic);
    for (let t = 0; t < 8; t++) {
      // one sharp batch first, then only flat ones
      a.batch = b.batch = t === 0 ? 1 : 2;
      const sa = window.step(a);
      const sb = all.step(b);
      // a window of 3 forgets the sharp batch at the 4th step: back to the flat batch's full rate
      expect(sa.scale).toBeCloseTo(t < 3 ? (0.85 * 2) / 4 : 1, 3);
      expect(sb.scale).toBeCloseTo((0.85 * 2) / 4, 3);
    }
    expect(all.state().recent).toHaveLength(1);
    expect(all.state().recent![0]).toBeCloseTo(4, 3);
  });

  it("with ignore 1, one sharp batch is passed over until it comes again, under worstOf 0 and a window alike", () => {
    for (const worstOf of [0, 6]) {
      const guard = new StabilityGuard(1, { seed: 1, worstOf, ignore: 1 });
      const objective = new AnalyticObjective([0.5], 1, 0, quadratic);
      // sharp, flat, flat, sharp, flat, flat
      const batches = [1, 2, 2, 1, 2, 2];
      const scales = batches.map((batch) => {
        objective.batch = batch;
        return guard.step(objective).scale;
      });
      // the very first check is all there is, and counts; then the sharp one is passed over and the flat batches
      // run at the full rate; once the sharp batch comes again it holds two places and caps every step
      expect(scales[0]).toBeCloseTo((0.85 * 2) / 4, 3);
      expect(scales[1]).toBeCloseTo(1, 3);
      expect(scales[2]).toBeCloseTo(1, 3);
      for (const scale of scales.slice(3)) expect(scale).toBeCloseTo((0.85 * 2) / 4, 3);
      if (worstOf === 0) expect(guard.state().recent).toHaveLength(2);
    }
    expect(() => new StabilityGuard(1, { worstOf: 2, ignore: 2 })).toThrow(/ignore \(2\) must be below worstOf \(2\)/);
  });

  it("with restoreWorst, a rollback returns the cap's memory to the snapshot's; without, it starts over", () => {
    const scaleAfterRollback = (restoreWorst: boolean) => {
      const guard = new StabilityGuard(1, { seed: 1, worstOf: 0, restoreWorst, snapshotEvery: 2 });
      const objective = new AnalyticObjective([0.5], 1, 0, quadratic);
      // a sharp batch, then flat ones: the snapshot after the second good step holds lambda = 4
      for (const batch of [1, 2, 2, 2]) {
        objective.batch = batch;
        expect(guard.step(objective).rolledBack).toBe(false);
      }
      expect(guard.state().snapshotRecent?.at(-1)?.[0]).toBeCloseTo(4, 3);
      // and a checkpoint carries it
      const twin = new StabilityGuard(1, { seed: 1, worstOf: 0, restoreWorst, snapshotEvery: 2 });
      twin.setState(guard.state());
      expect(twin.state().snapshotRecent).toEqual(guard.state().snapshotRecent);
      throwFarOff(objective);
      expect(guard.step(objective).rolledBack).toBe(true);
      const after = guard.step(objective);
      expect(after.rolledBack).toBe(false);
      return after.scale;
    };
    // the step scale is halved by the rollback either way; the cap is the sharp batch's only when restored
    expect(scaleAfterRollback(true)).toBeCloseTo((0.5 * (0.85 * 2)) / 4, 3);
    expect(scaleAfterRollback(false)).toBeCloseTo(0.5, 3);
  });

  it("rolls back a loss that blows up during the warm-up, and starts the power iteration over after it", () => {
    const guard = new StabilityGuard<{ x: Float64Array; m: Float64Array }>(1, { seed: 2, products: 1, startProducts: 10 });
    const objective = new AnalyticObjective([0.5], 0.1, 0, quadratic);
    objective.batch = 2;
    for (let t = 0; t < 3; t++) expect(guard.step(objective).rolledBack).toBe(false);
    const snapshot = guard.state().snapshots[0].x[0];
    throwFarOff(objective);
    const spike = guard.step(objective);
    expect(spike.rolledBack).toBe(true);
    expect(objective.x[0], "back at the snapshot").toBe(snapshot);
    expect(guard.step(objective).rolledBack).toBe(false);
    const stats = guard.takeStats(objective);
    expect(stats.rollbacks).toBe(1);
    // 10 products on the first check, 1 on the next two, 2 gradients to compare the spike with the same batch at the
    // snapshot, 10 again on the first check after the rollback
    expect(stats.extraGradients).toBe(10 + 1 + 1 + 2 + 10);
  });

  it("does not take a batch that was as hard at the last snapshot for a spike: small batches of widely varying loss train on", () => {
    // one batch in ten is a hundred times harder at every point, as one sequence can be when a batch holds one: the
    // loss of such a batch is far above the running average, yet at the snapshot it was as far above, and the
    // steps since did not lead away. Plain GD at eta 0.005 is stable on every batch (eta 100 < 2), so no rollback
    // is right; before, every hard batch was rolled back and halved the step scale
    const hard = (p: Float64Array, batch: number, out: Float64Array) => {
      const weight = batch === 1 ? 100 : 1;
      out[0] = weight * (p[0] - 1);
      return (weight / 2) * (1 + (p[0] - 1) ** 2);
    };
    const guard = new StabilityGuard(1, { seed: 4 });
    const objective = new AnalyticObjective([0], 0.005, 0, hard);
    const rng = new Rng(5);
    let hardBatches = 0;
    for (let t = 0; t < 400; t++) {
      objective.batch = t > 30 && rng.next() < 0.1 ? 1 : 2;
      if (objective.batch === 1) hardBatches++;
      expect(guard.step(objective).rolledBack, `step ${t}`).toBe(false);
    }
    expect(hardBatches).toBeGreaterThan(20);
    expect(guard.takeStats(objective).rollbacks).toBe(0);
    expect(guard.backoffScale).toBe(1);
    // and it learned: x went most of the way from 0 to the minimum at 1
    expect(objective.x[0]).toBeGreaterThan(0.9);
  });

  it("clips a cliff: a gradient far above its running average enters the step at clipFactor times that average", () => {
    // a cliff: batch 4 has a 40x steeper slope at the same point (the loss stays low, so it is not a spike)
    const cliff = (p: Float64Array, batch: number, out: Float64Array) => {
      const slope = batch === 4 ? 40 : 1;
      out[0] = slope;
      return 1e-3 * p[0];
    };
    const guard = new StabilityGuard(1, { seed: 3, clipFactor: 3, warmupSteps: 5 });
    const objective = new AnalyticObjective([0], 0.1, 0, cliff);
    objective.batch = 2;
    for (let t = 0; t < 6; t++) guard.step(objective);
    const before = objective.x[0];
    objective.batch = 4;
    const step = guard.step(objective);
    expect(step.rolledBack).toBe(false);
    // the running average of |g| is 1: the step moves by lr * 3, not lr * 40 (no curvature: no cap)
    expect(objective.x[0] - before).toBeCloseTo(-0.1 * 3, 9);
    expect(guard.takeStats(objective).clippedSteps).toBe(1);
  });
});
