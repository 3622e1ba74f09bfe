/**
 * The stability guard of shared/spec/stability.md, for any objective that offers a gradient oracle on its current
 * batch: the same class guards the analytic problems of the spec's section 5 (pure TypeScript) and the wasm
 * trainer (`TrainerObjective`). Per step (stability.md section 4):
 *   1. loss and gradient; the watchdog rolls back to the last snapshot and halves the step scale when either is
 *      non-finite or spikes (a spike the same batch had at the last snapshot too is a hard batch, not one).
 *      Snapshots are taken only at points whose loss and gradient the watchdog passed, and a second rollback in a
 *      row goes one snapshot further back (a point can be finite on one batch and not on the next);
 *   2. lambda_B, the batch's sharpness, from 1-3 warm-started power-iteration steps on finite-difference
 *      Hessian-vector products of the same batch (section 3); 10 on the first check and on the first after a
 *      rollback, whose vector is no guide;
 *   3. the cap eta_B = min(eta, c 2 (1 + beta) / lambda), lambda the batch's own lambda_B or (worstOf) the largest
 *      of the last checks: the worst batch decides (section 1);
 *   4. optionally, clipping of a gradient far above its running average (a cliff);
 *   5. the period-2 monitor p_t = v . (theta_{t+1} - theta_t);
 *   6. the line criterion S_line = 3 T[v,v,v]^2 / lambda - Q[v,v,v,v] (section 2) as a diagnostic, and in
 *      full-batch phases (plain GD) the allowance of a step above 2 / lambda where S_line > 0.
 * Curvature can be checked every step or every k steps (the cap of the last check holds in between, the watchdog
 * is the backstop). Vectors are Float64Array and every dot product is accumulated in f64. Browser-safe.
 */
import { PhasorError, givenText, inRange, rangeText, type Range } from "../errors.js";
import { Rng } from "../rng.js";
import type { BatchGradients } from "./threads.js";
import type { Trainer, TrainerSnapshot } from "./trainer.js";

/**
 * What the guard needs from an objective and its optimizer. The point, the loaded batch and everything else stay
 * fixed between lossAndGradient() and step(): probe() evaluates the same batch at nearby points and leaves the
 * point and gradient() as they were.
 */
export interface GuardedObjective<S = unknown> {
  readonly dimension: number;
  /** the learning rate of a step of scale 1 */
  readonly lr: number;
  /** heavy-ball momentum beta (0 for plain gradient descent) */
  readonly momentum: number;
  /** false for a preconditioned optimizer (Adam): its step is not lr times the gradient, so only the watchdog acts */
  readonly curvatureCap: boolean;
  /** the current point (a live view or a copy; the guard only reads it) */
  point(): ArrayLike<number>;
  /** loss and gradient at the current point on the current batch; gradient() holds the gradient afterwards */
  lossAndGradient(): number;
  gradient(): ArrayLike<number>;
  /** the loss at point + e * direction and its gradient into `out`; the point and gradient() are left unchanged */
  probe(direction: Float64Array, e: number, out: Float64Array): number;
  /**
   * one optimizer update along gradient() with the learning rate times scale; with clip < 1 the gradient is
   * first multiplied by clip (clipping: it enters the momentum scaled)
   */
  step(scale: number, clip?: number): void;
  snapshot(): S;
  restore(snapshot: S): void;
}

export interface GuardOptions {
  /** safety factor c < 1 on the linear threshold (the Rayleigh quotient under-estimates lambda) */
  safety: number;
  /** Hessian-vector products per curvature check (warm-started power iteration), 1..100 */
  products: number;
  /** check curvature every k steps (1: every step); the cap of the last check holds in between */
  every: number;
  /**
   * products of the first check, whose vector starts random: power iteration needs ~10 from random (stability.md
   * section 3), and a first cap from an unconverged vector under-estimates lambda when the run is most fragile
   */
  startProducts: number;
  /**
   * the cap uses the largest lambda_B of the last this many checks: stability is decided by the worst batch, not
   * the current one (stability.md section 1), and between checks (every > 1) the unchecked batches are unseen.
   * 1: each check's own batch only; 0: every check since the start or the last rollback (the cap never rises)
   */
  worstOf: number;
  /**
   * the cap passes over the `ignore` largest lambda_B of those checks and uses the next one: a single estimate far
   * above all others (a finite-difference probe that crossed a kink of the time gate reads about |jump| / hvpStep)
   * would otherwise hold the rate down for the rest of the run under worstOf 0. A batch that is really sharp recurs
   * and soon fills the ignored places. With fewer checks than ignore + 1 the smallest of them counts. 0: none
   */
  ignore: number;
  /**
   * on a rollback, return the cap's memory of recent lambda_B to what it held when the snapshot was taken, rather
   * than forgetting it (the checks before the snapshot measured the region returned to; the ones after it may have
   * been taken on the way up the spike and are dropped either way). false: start the memory over
   */
  restoreWorst: boolean;
  /**
   * clip a gradient whose norm is above clipFactor times its running average to that size (stability.md section 4,
   * item 4: the cliffs of recurrent nets, which the curvature at the current point does not see); 0: never
   */
  clipFactor: number;
  /** forward differences cost 1 gradient per product, central 2 (more accurate) */
  difference: "forward" | "central";
  /** finite-difference length along the unit vector v for H v (stability.md section 3) */
  hvpStep: number;
  /** finite-difference length for T[v,v,v] and Q[v,v,v,v] (4 gradients per estimate) */
  lineStep: number;
  /** compute S_line every this many curvature checks; 0: never */
  lineEvery: number;
  /**
   * every batch is the full batch (plain GD on one objective): then, with no momentum, a step above the
   * threshold is allowed where S_line > 0, up to the bound of section 2 for a half-amplitude of lineAmplitude
   */
  fullBatch: boolean;
  lineAmplitude: number;
  /** a snapshot every N good steps (at the next point the watchdog passes) */
  snapshotEvery: number;
  /**
   * a loss above spikeFactor times its running average, and above the run's starting loss, is a spike, unless the
   * same batch's loss at the last snapshot was above 1 / spikeFactor of it
   */
  spikeFactor: number;
  /**
   * a gradient norm above this times its running average is a spike, unless the same batch's at the last snapshot
   * was above 1 / gradientSpikeFactor of it; 0: only non-finite gradients
   */
  gradientSpikeFactor: number;
  /** good steps before spikes are judged (the running averages settle) */
  warmupSteps: number;
  /** after this many good steps in a row a backed-off step scale doubles again, up to 1 */
  recoverAfter: number;
  /** a period-2 oscillation along v growing over this many steps shrinks the step scale */
  oscillationSteps: number;
  /** seed of the first power-iteration vector */
  seed: number;
}

export const DEFAULT_GUARD: GuardOptions = {
  safety: 0.85,
  products: 1,
  every: 1,
  startProducts: 10,
  worstOf: 1,
  ignore: 0,
  restoreWorst: false,
  clipFactor: 0,
  difference: "forward",
  hvpStep: 3e-3,
  lineStep: 3e-2,
  lineEvery: 0,
  fullBatch: false,
  lineAmplitude: 1e-2,
  snapshotEvery: 50,
  spikeFactor: 5,
  gradientSpikeFactor: 50,
  warmupSteps: 20,
  recoverAfter: 200,
  oscillationSteps: 3,
  seed: 1,
};

/**
 * The ranges of the options that training exposes as settings (host/training/settings.ts takes them from here, so
 * the guard and the settings accept the same values). A probe longer than 10 along a unit vector measures no
 * curvature at the point; more than 100 products a check is power iteration run to no purpose.
 */
export const GUARD_RANGES = {
  every: { min: 1, max: 1_000_000, whole: true },
  products: { min: 1, max: 100, whole: true },
  lineEvery: { min: 0, max: 1_000_000, whole: true },
  worstOf: { min: 0, max: 100_000, whole: true },
  ignore: { min: 0, max: 100, whole: true },
  clipFactor: { min: 1, max: Infinity, orZero: true },
  hvpStep: { min: 0, max: 10, minOpen: true },
} satisfies Partial<Record<keyof GuardOptions, Range>>;

/** What one guarded step did. */
export interface GuardStep {
  /** the loss at the point before the step (NaN or a spike when rolled back) */
  loss: number;
  gradientNorm: number;
  /** the step was refused and the point rolled back to the last snapshot */
  rolledBack: boolean;
  /** the step scale applied (cap times back-off); 0 when rolled back */
  scale: number;
  /** this step's curvature estimate (the Rayleigh quotient), or undefined without a check this step */
  lambda?: number;
  /** S_line, when computed this step */
  sLine?: number;
}

/** Counts over a stretch of steps (an epoch): what `phasor train` prints. */
export interface GuardStats {
  steps: number;
  /** median and max of lambda_B over the curvature checks; null without a check */
  lambdaMedian: number | null;
  lambdaMax: number | null;
  /** 2 / eta and the heavy-ball threshold 2 (1 + beta) / eta at the nominal rate */
  twoOverEta: number;
  threshold: number;
  /** mean effective learning rate eta times the applied scale over the good steps */
  effectiveLr: number;
  /** steps whose cap was below the nominal rate */
  cappedSteps: number;
  /** steps whose gradient was clipped (clipFactor) */
  clippedSteps: number;
  rollbacks: number;
  /** of the rollbacks, those for a non-finite loss, gradient or probe */
  nonFinite: number;
  oscillations: number;
  curvatureChecks: number;
  /** gradients evaluated besides the step's own */
  extraGradients: number;
  /** median S_line over its computations, null when not computed */
  sLine: number | null;
  /** the back-off scale at the end */
  backoff: number;
}

/** Everything the guard carries from step to step, for resuming a run exactly. */
export interface GuardState<S = unknown> {
  /** the snapshots a rollback returns to, oldest first */
  snapshots: S[];
  snapshotDue: boolean;
  rollbacksInARow: number;
  v: Float64Array;
  lambda: number;
  shift: number;
  capScale: number;
  backoff: number;
  emaLoss: number;
  emaGradient: number;
  startLoss: number;
  goodSteps: number;
  sinceIncident: number;
  stepIndex: number;
  checks: number;
  displacements: number[];
  benign: boolean;
  /**
   * lambda_B of the last worstOf checks, newest last; with worstOf 0 only the ignore + 1 largest, largest first
   * (absent in older checkpoints)
   */
  recent?: number[];
  /** the next check starts its vector over (absent in older checkpoints) */
  cold?: boolean;
  /** `recent` as it was when each snapshot was taken (absent in older checkpoints: empty) */
  snapshotRecent?: number[][];
}

/** Median of a list (not changed). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const m = sorted.length >> 1;
  return sorted.length % 2 ? sorted[m] : 0.5 * (sorted[m - 1] + sorted[m]);
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i] * b[i];
  return sum;
}

function allFinite(a: ArrayLike<number>): boolean {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return false;
  return true;
}

/** What a curvature check measured: lambda_B (NaN when a probe blew up), and S_line when it was computed. */
interface CurvatureCheck {
  lambda: number;
  sLine?: number;
}

/** The curvature along v and the line criterion's derivatives, from gradients only (stability.md section 3). */
export interface LineProbe {
  /** h''(center) = T[v,v,v], h'''(center) = Q[v,v,v,v] with h(s) = v . g(theta + s v) */
  third: number;
  fourth: number;
  /** h'(center) = v . H v, from the same probes */
  curvature: number;
  sLine: number;
}

export class StabilityGuard<S = unknown> {
  readonly options: GuardOptions;
  private readonly n: number;
  /** the unit power-iteration vector, warm-started from step to step */
  private v: Float64Array;
  private readonly hv: Float64Array;
  private readonly gPlus: Float64Array;
  private readonly gMinus: Float64Array;
  private readonly before: Float64Array;
  /** the last two snapshots at points the watchdog passed, oldest first */
  private snaps: S[] = [];
  /** `recent` at each snapshot, for restoreWorst */
  private snapRecent: number[][] = [];
  private snapshotDue = true;
  private rollbacksInARow = 0;
  private lambda = NaN;
  /**
   * sigma of the shifted power iteration on H + sigma I: a negative eigenvalue larger in size than the largest
   * positive one would otherwise win (away from a minimum), and the cap needs the largest positive one
   */
  private shift = 0;
  private capScale = 1;
  private backoff = 1;
  private emaLoss = NaN;
  private emaGradient = NaN;
  private startLoss = NaN;
  private goodSteps = 0;
  private sinceIncident = 0;
  private stepIndex = 0;
  private checks = 0;
  /** the last displacements along v, newest last */
  private displacements: number[] = [];
  /** lambda_B of the last worstOf checks, newest last; with worstOf 0 the ignore + 1 largest, largest first */
  private recent: number[] = [];
  /** the next check runs startProducts: at the start, and after a rollback (the blown-up point's v and shift are no guide) */
  private cold = true;
  /** the last check allowed a step above the threshold because S_line > 0: the oscillation is the predicted one */
  private benign = false;
  private stats = this.emptyCounts();

  constructor(dimension: number, options: Partial<GuardOptions> = {}) {
    const o = { ...DEFAULT_GUARD, ...options };
    const bad = (what: string) => {
      throw new PhasorError("bad-args", `guard: ${what}`);
    };
    if (!(o.safety > 0 && o.safety <= 1)) bad(`safety must be in (0, 1], got ${givenText(o.safety)}`);
    for (const [name, range] of Object.entries(GUARD_RANGES)) {
      if (!inRange(o[name as keyof typeof GUARD_RANGES], range)) bad(`${name} must be ${rangeText(range)}, got ${givenText(o[name as keyof typeof GUARD_RANGES])}`);
    }
    if (!(Number.isInteger(o.startProducts) && o.startProducts >= 1 && o.startProducts <= 100)) bad(`startProducts must be a whole number in 1..100, got ${givenText(o.startProducts)}`);
    if (o.worstOf > 0 && o.ignore >= o.worstOf) bad(`ignore (${o.ignore}) must be below worstOf (${o.worstOf}): the cap needs a check left to use`);
    if (o.difference !== "forward" && o.difference !== "central") bad(`difference must be "forward" or "central", got ${givenText(o.difference)}`);
    if (!(o.lineStep > 0 && o.lineAmplitude >= 0)) bad("lineStep must be > 0, lineAmplitude >= 0");
    if (!(Number.isInteger(o.snapshotEvery) && o.snapshotEvery >= 1)) bad(`snapshotEvery must be a whole number >= 1, got ${givenText(o.snapshotEvery)}`);
    if (!(o.spikeFactor > 1)) bad(`spikeFactor must be > 1, got ${givenText(o.spikeFactor)}`);
    this.options = o;
    this.n = dimension;
    const rng = new Rng(o.seed);
    this.v = Float64Array.from({ length: dimension }, () => rng.normal());
    this.normalise(this.v);
    this.hv = new Float64Array(dimension);
    this.gPlus = new Float64Array(dimension);
    this.gMinus = new Float64Array(dimension);
    this.before = new Float64Array(dimension);
  }

  private emptyCounts() {
    return {
      steps: 0, lambdas: [] as number[], lrSum: 0, good: 0, cappedSteps: 0, clippedSteps: 0, rollbacks: 0, nonFinite: 0, oscillations: 0,
      curvatureChecks: 0, extraGradients: 0, sLines: [] as number[],
    };
  }

  private normalise(x: Float64Array): number {
    const norm = Math.sqrt(dot(x, x));
    if (norm > 0 && Number.isFinite(norm)) for (let i = 0; i < x.length; i++) x[i] /= norm;
    return norm;
  }

  /** The current sharpness estimate and its vector (a copy). */
  get sharpness(): { lambda: number; v: Float64Array } {
    return { lambda: this.lambda, v: this.v.slice() };
  }

  /** The step scale the back-off allows now (1 when nothing went wrong recently). */
  get backoffScale(): number {
    return this.backoff;
  }

  /**
   * H v on the current batch at the current point, into this.hv; returns false when a probe was not finite.
   * Forward: (g(theta + e v) - g(theta)) / e; central: (g(theta + e v) - g(theta - e v)) / (2 e).
   */
  private hessianVector(objective: GuardedObjective<S>, g: ArrayLike<number>): boolean {
    const e = this.options.hvpStep;
    const hv = this.hv;
    if (this.options.difference === "forward") {
      objective.probe(this.v, e, this.gPlus);
      this.stats.extraGradients += 1;
      for (let i = 0; i < this.n; i++) hv[i] = (this.gPlus[i] - g[i]) / e;
    } else {
      objective.probe(this.v, e, this.gPlus);
      objective.probe(this.v, -e, this.gMinus);
      this.stats.extraGradients += 2;
      for (let i = 0; i < this.n; i++) hv[i] = (this.gPlus[i] - this.gMinus[i]) / (2 * e);
    }
    return allFinite(hv);
  }

  /**
   * Warm-started power iteration on H + sigma I: `products` steps of lambda = v . H v, v <- (H v + sigma v) / |.|.
   * sigma follows the most negative Rayleigh quotient seen (decaying by 1 % a check), so that the iteration finds
   * the largest positive eigenvalue also where a negative one is larger in size. Returns the last Rayleigh quotient
   * of H, or NaN on a non-finite probe.
   */
  estimateSharpness(objective: GuardedObjective<S>, g: ArrayLike<number> = objective.gradient(), products = this.options.products): number {
    let lambda = NaN;
    this.shift *= 0.99;
    for (let k = 0; k < products; k++) {
      if (!this.hessianVector(objective, g)) return NaN;
      lambda = dot(this.v, this.hv);
      if (lambda < 0) this.shift = Math.max(this.shift, -lambda);
      const sigma = this.shift;
      for (let i = 0; i < this.n; i++) this.hv[i] += sigma * this.v[i];
      const norm = Math.sqrt(dot(this.hv, this.hv));
      if (!(norm > 0)) break;
      for (let i = 0; i < this.n; i++) this.v[i] = this.hv[i] / norm;
    }
    return lambda;
  }

  /**
   * T[v,v,v] and Q[v,v,v,v] along the current v at theta + center v, from h(s) = v . g(theta + s v) at s = center,
   * center +- e, center +- 2e (4 gradients, 5 off the current point), and S_line = 3 T^2 / lambda - Q with
   * lambda = h'(center) from the same probes (stability.md sections 2 and 3).
   */
  lineProbe(objective: GuardedObjective<S>, g: ArrayLike<number> = objective.gradient(), center = 0): LineProbe {
    const e = this.options.lineStep;
    const h = (step: number) => {
      objective.probe(this.v, step, this.gPlus);
      this.stats.extraGradients++;
      return dot(this.v, this.gPlus);
    };
    const h0 = center === 0 ? dot(this.v, g) : h(center);
    const h1 = h(center + e);
    const hm1 = h(center - e);
    const h2 = h(center + 2 * e);
    const hm2 = h(center - 2 * e);
    const third = (h1 - 2 * h0 + hm1) / (e * e);
    const fourth = (h2 - 2 * h1 + 2 * hm1 - hm2) / (2 * e * e * e);
    // a fourth-order central first derivative, from the same four probes
    const curvature = (8 * (h1 - hm1) - (h2 - hm2)) / (12 * e);
    return { third, fourth, curvature, sLine: (3 * third * third) / curvature - fourth };
  }

  /** The lambda_B the cap uses: the (ignore + 1)-th largest of the recent checks (the smallest, with fewer). */
  private worstCounted(): number {
    if (this.recent.length === 0) return -Infinity;
    const sorted = this.options.worstOf === 0 ? this.recent : [...this.recent].sort((a, b) => b - a);
    return sorted[Math.min(this.options.ignore, sorted.length - 1)];
  }

  /**
   * One guarded step of `objective` on its current batch: the phases of stability.md section 4 in its order. The
   * line diagnostic (item 6) runs inside the curvature check, since it may raise the cap that check sets.
   */
  step(objective: GuardedObjective<S>): GuardStep {
    if (objective.dimension !== this.n) throw new PhasorError("bad-args", `guard: the objective has ${objective.dimension} parameters, the guard ${this.n}`);
    this.stats.steps++;
    this.stepIndex++;
    const loss = objective.lossAndGradient();
    const g = objective.gradient();
    const gradientNorm = Math.sqrt(dot(g, g));
    let verdict = this.watchdog(loss, gradientNorm);
    if (verdict === "spike" && this.asHardAtSnapshot(objective, loss, gradientNorm)) verdict = "pass";
    if (verdict !== "pass") return this.rollback(objective, loss, gradientNorm, verdict === "non-finite");
    this.keepSnapshot(objective);
    let check: CurvatureCheck | undefined;
    if (objective.curvatureCap && (this.stepIndex - 1) % this.options.every === 0) {
      check = this.checkCurvature(objective, g);
      if (!Number.isFinite(check.lambda)) return this.rollback(objective, loss, gradientNorm, true);
    }
    const scale = this.capScale * this.backoff;
    if (this.capScale < 1) this.stats.cappedSteps++;
    const clip = this.clipping(gradientNorm);
    this.stepWithMonitor(objective, scale, clip);
    this.afterGoodStep(loss, gradientNorm);
    this.stats.lrSum += objective.lr * scale;
    this.stats.good++;
    return { loss, gradientNorm, rolledBack: false, scale, lambda: check?.lambda, sLine: check?.sLine };
  }

  /**
   * Section 4, item 1, the watchdog: a non-finite loss or gradient, or a spike (a loss far above its running
   * average and above where the run started, or a gradient far above its own), is rolled back.
   */
  private watchdog(loss: number, gradientNorm: number): "pass" | "spike" | "non-finite" {
    const o = this.options;
    if (!(Number.isFinite(loss) && Number.isFinite(gradientNorm))) return "non-finite";
    const judged = this.goodSteps >= o.warmupSteps;
    // in a benign oscillation (S_line > 0) the orbit grows to its predicted half-amplitude lineAmplitude: loss and
    // gradient may grow up to what that amplitude gives (lambda delta^2 / 2 and lambda delta) without a spike
    const lambdaPlus = this.benign ? Math.max(this.lambda, 0) : 0;
    const lossReference = Math.max(this.emaLoss, 0.5 * lambdaPlus * o.lineAmplitude ** 2);
    const gradientReference = Math.max(this.emaGradient, lambdaPlus * o.lineAmplitude);
    // during the warm-up the reference is the mean loss of the good steps so far: a run can blow up in its first
    // steps, and that is a spike too
    const spike =
      this.goodSteps > 0 &&
      ((loss > o.spikeFactor * lossReference && (!judged || loss > this.startLoss)) ||
        (judged && o.gradientSpikeFactor > 0 && gradientNorm > o.gradientSpikeFactor * gradientReference));
    return spike ? "spike" : "pass";
  }

  /**
   * Section 4, item 1: whether a batch whose loss or gradient the watchdog took for a spike was as hard at the last
   * snapshot (same batch, section 3): its loss there above 1 / spikeFactor of this one, and its gradient above
   * 1 / gradientSpikeFactor of this one. Then the batch is hard, not the point: the steps since the snapshot did not
   * lead away, and nothing is rolled back. A batch's loss varies widely from batch to batch when batches are small:
   * with a batch of one sequence, most steps of the adding task were rolled back and the step scale halved each
   * time, down to 1e-34, and the run stopped learning. Costs two gradients, only on a suspected spike; the point
   * and its gradient are left as they were.
   */
  private asHardAtSnapshot(objective: GuardedObjective<S>, loss: number, gradientNorm: number): boolean {
    const snapshot = this.snaps.at(-1);
    if (snapshot === undefined) return false;
    const o = this.options;
    const here = objective.snapshot();
    objective.restore(snapshot);
    const before = objective.lossAndGradient();
    const g = objective.gradient();
    const gradientBefore = Math.sqrt(dot(g, g));
    objective.restore(here);
    objective.lossAndGradient();
    this.stats.extraGradients += 2;
    return loss <= o.spikeFactor * before && (o.gradientSpikeFactor === 0 || gradientNorm <= o.gradientSpikeFactor * gradientBefore);
  }

  /** Section 4, item 1: the snapshot a rollback returns to, taken only at a point the watchdog passed. */
  private keepSnapshot(objective: GuardedObjective<S>): void {
    this.rollbacksInARow = 0;
    if (!this.snapshotDue) return;
    this.snaps.push(objective.snapshot());
    this.snapRecent.push([...this.recent]);
    if (this.snaps.length > 2) {
      this.snaps.shift();
      this.snapRecent.shift();
    }
    this.snapshotDue = false;
  }

  /**
   * Section 4, items 2, 3 and 6: lambda_B of this batch, the cap eta_B it sets with the recent ones, and every
   * lineEvery checks the line diagnostic, which in a full-batch phase may allow a step above the threshold. A
   * non-finite lambda (a probe that blew up) leaves the cap as it was; the caller rolls back.
   */
  private checkCurvature(objective: GuardedObjective<S>, g: ArrayLike<number>): CurvatureCheck {
    const o = this.options;
    const lambda = this.curvatureEstimate(objective, g);
    if (!Number.isFinite(lambda)) return { lambda };
    const eta = objective.lr;
    let allowed = this.cap(objective.momentum);
    this.benign = false;
    let sLine: number | undefined;
    if (o.lineEvery > 0 && this.checks % o.lineEvery === 0) {
      const line = this.lineDiagnostic(objective, g, eta, objective.momentum);
      sLine = line.sLine;
      allowed = line.allowed ?? allowed;
    }
    this.capScale = Math.min(1, allowed / eta);
    return { lambda, sLine };
  }

  /**
   * Section 4, item 2 (the estimate: section 3): lambda_B by warm-started power iteration, startProducts products
   * when the vector is no guide (the first check, the first after a rollback); kept among the recent ones the cap
   * reads: the last worstOf, or with no window (0) the ignore + 1 largest so far, which stand for all of them.
   */
  private curvatureEstimate(objective: GuardedObjective<S>, g: ArrayLike<number>): number {
    const o = this.options;
    const lambda = this.estimateSharpness(objective, g, this.cold ? Math.max(o.startProducts, o.products) : o.products);
    this.cold = false;
    this.stats.curvatureChecks++;
    this.checks++;
    if (!Number.isFinite(lambda)) return lambda;
    this.lambda = lambda;
    this.stats.lambdas.push(lambda);
    if (o.worstOf === 0) {
      this.recent.push(lambda);
      this.recent.sort((a, b) => b - a);
      if (this.recent.length > o.ignore + 1) this.recent.length = o.ignore + 1;
    } else {
      this.recent.push(lambda);
      if (this.recent.length > o.worstOf) this.recent.shift();
    }
    return lambda;
  }

  /**
   * Section 4, item 3: the largest learning rate the cap allows, c 2 (1 + beta) / lambda with lambda the positive
   * curvature of the worst recent batch past the ignored outliers (section 1: the worst batch decides); a negative
   * Rayleigh quotient (away from a minimum) sets no cap.
   */
  private cap(beta: number): number {
    const worst = this.worstCounted();
    const linear = (2 * (1 + beta)) / worst;
    return worst > 0 ? this.options.safety * linear : Infinity;
  }

  /**
   * Section 4, item 6: S_line along v. In a full-batch phase of plain GD with S_line > 0, section 2 allows a step up
   * to (2 / lambda)(1 + S delta^2 / (6 lambda)), whose orbit stays within delta (`allowed`), and the oscillation it
   * starts is the predicted one (`benign`): derived for plain GD on one objective, so only there.
   */
  private lineDiagnostic(objective: GuardedObjective<S>, g: ArrayLike<number>, eta: number, beta: number): { sLine?: number; allowed?: number } {
    const o = this.options;
    // in a full-batch oscillation the iterates sit on both sides of the minimum: the criterion is the minimum's, so
    // it is measured at the middle of the last step along v
    const d = this.displacements;
    const center = o.fullBatch && d.length ? -0.5 * d[d.length - 1] : 0;
    const probe = this.lineProbe(objective, g, center);
    if (!Number.isFinite(probe.sLine)) return {};
    const sLine = probe.sLine;
    this.stats.sLines.push(sLine);
    const lambdaC = probe.curvature;
    if (!(o.fullBatch && beta === 0 && lambdaC > 0 && sLine > 0)) return { sLine };
    const linearC = 2 / lambdaC;
    this.benign = eta > o.safety * linearC;
    return { sLine, allowed: linearC * (1 + (sLine * o.lineAmplitude ** 2) / (6 * lambdaC)) };
  }

  /**
   * Section 4, item 4: the factor that clips a gradient far above its running average (a cliff the curvature at the
   * current point does not see) to clipFactor times that average; 1 when it is not clipped.
   */
  private clipping(gradientNorm: number): number {
    const o = this.options;
    const clipAt = this.goodSteps >= o.warmupSteps && o.clipFactor > 0 ? o.clipFactor * this.emaGradient : Infinity;
    const clip = gradientNorm > clipAt ? clipAt / gradientNorm : 1;
    if (clip < 1) this.stats.clippedSteps++;
    return clip;
  }

  /**
   * The update, and section 4, item 5, the oscillation monitor on its displacement along v: only where curvature
   * is checked, since it needs v, the sharpest direction.
   */
  private stepWithMonitor(objective: GuardedObjective<S>, scale: number, clip: number): void {
    const monitor = objective.curvatureCap && this.checks > 0;
    if (monitor) this.before.set(objective.point());
    objective.step(scale, clip);
    if (monitor) this.monitorOscillation(objective.point(), !this.benign);
  }

  /**
   * After a good step: the watchdog's running averages (and the starting loss a spike must also exceed), a
   * backed-off scale doubling again after recoverAfter good steps, and the next snapshot due.
   */
  private afterGoodStep(loss: number, gradientNorm: number): void {
    const o = this.options;
    this.goodSteps++;
    this.sinceIncident++;
    const decay = this.goodSteps <= o.warmupSteps ? 1 / this.goodSteps : 0.02;
    this.emaLoss = this.goodSteps === 1 ? loss : this.emaLoss + decay * (loss - this.emaLoss);
    this.emaGradient = this.goodSteps === 1 ? gradientNorm : this.emaGradient + decay * (gradientNorm - this.emaGradient);
    // the mean loss of the first good steps: a spike must also be worse than where the run started
    if (this.goodSteps === o.warmupSteps) this.startLoss = this.emaLoss;
    if (this.sinceIncident >= o.recoverAfter && this.backoff < 1) {
      this.backoff = Math.min(1, 2 * this.backoff);
      this.sinceIncident = 0;
    }
    if (this.goodSteps % o.snapshotEvery === 0) this.snapshotDue = true;
  }

  /**
   * p_t = v . (theta_{t+1} - theta_t): alternating in sign and growing over oscillationSteps steps shrinks the scale
   * (unless `judge` is false: an oscillation the line criterion called benign).
   */
  private monitorOscillation(after: ArrayLike<number>, judge: boolean): void {
    let p = 0;
    for (let i = 0; i < this.n; i++) p += this.v[i] * (after[i] - this.before[i]);
    const d = this.displacements;
    d.push(p);
    const need = this.options.oscillationSteps + 1;
    if (d.length > need) d.shift();
    if (d.length < need || !judge) return;
    for (let k = 1; k < need; k++) {
      if (!(d[k] * d[k - 1] < 0 && Math.abs(d[k]) > Math.abs(d[k - 1]))) return;
    }
    this.backoff *= 0.5;
    this.sinceIncident = 0;
    this.stats.oscillations++;
    d.length = 0;
  }

  private rollback(objective: GuardedObjective<S>, loss: number, gradientNorm: number, nonFinite: boolean): GuardStep {
    this.rollbacksInARow++;
    if (this.rollbacksInARow >= 2 && this.snaps.length > 1) {
      this.snaps.pop();
      this.snapRecent.pop();
    }
    // before the first snapshot (a first point that fails) there is nothing to return to: the step is skipped
    const target = this.snaps.at(-1);
    if (target !== undefined) objective.restore(target);
    this.backoff *= 0.5;
    this.sinceIncident = 0;
    this.displacements.length = 0;
    // what was measured on the way up the spike says nothing about the point returned to: a large negative
    // curvature there would keep the shift (and so the power iteration) flat for hundreds of checks
    this.shift = 0;
    this.recent = this.options.restoreWorst && target !== undefined ? [...(this.snapRecent.at(-1) ?? [])] : [];
    this.cold = true;
    this.stats.rollbacks++;
    if (nonFinite) this.stats.nonFinite++;
    return { loss, gradientNorm, rolledBack: true, scale: 0 };
  }

  /** The counts since the last call (or the start), and a fresh count from here. */
  takeStats(objective: { lr: number; momentum: number }): GuardStats {
    const s = this.stats;
    this.stats = this.emptyCounts();
    return {
      steps: s.steps,
      lambdaMedian: s.lambdas.length ? median(s.lambdas) : null,
      lambdaMax: s.lambdas.length ? Math.max(...s.lambdas) : null,
      twoOverEta: 2 / objective.lr,
      threshold: (2 * (1 + objective.momentum)) / objective.lr,
      effectiveLr: s.good ? s.lrSum / s.good : 0,
      cappedSteps: s.cappedSteps,
      clippedSteps: s.clippedSteps,
      rollbacks: s.rollbacks,
      nonFinite: s.nonFinite,
      oscillations: s.oscillations,
      curvatureChecks: s.curvatureChecks,
      extraGradients: s.extraGradients,
      sLine: s.sLines.length ? median(s.sLines) : null,
      backoff: this.backoff,
    };
  }

  state(): GuardState<S> {
    return {
      snapshots: [...this.snaps],
      snapshotDue: this.snapshotDue,
      rollbacksInARow: this.rollbacksInARow,
      v: this.v.slice(), lambda: this.lambda, shift: this.shift, capScale: this.capScale, backoff: this.backoff, emaLoss: this.emaLoss, emaGradient: this.emaGradient,
      startLoss: this.startLoss, goodSteps: this.goodSteps, sinceIncident: this.sinceIncident, stepIndex: this.stepIndex, checks: this.checks,
      displacements: [...this.displacements],
      benign: this.benign,
      recent: [...this.recent],
      cold: this.cold,
      snapshotRecent: this.snapRecent.map((r) => [...r]),
    };
  }

  setState(state: GuardState<S>): void {
    if (state.v.length !== this.n) throw new PhasorError("bad-input", `guard state: v has ${state.v.length} numbers, the guard ${this.n}`);
    // JSON writes NaN (nothing measured yet) as null
    const num = (x: unknown) => (typeof x === "number" ? x : NaN);
    this.v = Float64Array.from(state.v);
    this.lambda = num(state.lambda);
    this.shift = num(state.shift);
    this.capScale = num(state.capScale);
    this.backoff = num(state.backoff);
    this.emaLoss = num(state.emaLoss);
    this.emaGradient = num(state.emaGradient);
    this.startLoss = num(state.startLoss);
    this.goodSteps = num(state.goodSteps);
    this.sinceIncident = num(state.sinceIncident);
    this.stepIndex = num(state.stepIndex);
    this.checks = num(state.checks);
    this.displacements = state.displacements.map(num);
    this.benign = state.benign === true;
    this.recent = (state.recent ?? []).map(num);
    this.cold = state.cold ?? this.checks === 0;
    this.snaps = [...state.snapshots];
    this.snapRecent = state.snapshots.map((_, k) => (state.snapshotRecent?.[k] ?? []).map(num));
    this.snapshotDue = state.snapshotDue;
    this.rollbacksInARow = num(state.rollbacksInARow);
  }
}

/**
 * The wasm trainer as a guarded objective: probes write theta + e v into the trainer's parameters, evaluate the
 * loaded batch, and put theta and the step's gradient back bit for bit. `schedule` multiplies the learning rate
 * (a per-epoch decay): the cap compares lambda with the rate actually used.
 *
 * With per-parameter learning-rate multipliers D (Trainer.lrScales: the time-gate groups slower), SGD's step is
 * theta <- theta - eta D v, v <- beta v + g. In the coordinates z = D^(-1/2) theta that is plain heavy ball on the
 * gradient D^(1/2) g, whose linear stability is decided by the largest eigenvalue of D^(1/2) H D^(1/2): so the
 * objective shows the guard z, D^(1/2) g and probes along D^(1/2) u, and the guard's lambda, cap and monitor are
 * those of the update the trainer really makes. A frozen parameter (multiplier 0) is a coordinate that never moves.
 */
export class TrainerObjective implements GuardedObjective<TrainerSnapshot> {
  readonly dimension: number;
  readonly momentum: number;
  readonly curvatureCap: boolean;
  schedule = 1;
  private readonly base: Float32Array;
  private readonly savedGradient: Float32Array;
  /** D^(1/2), or null when every multiplier is 1 (then z is theta) */
  private readonly root: Float32Array | null;
  private readonly z: Float32Array;
  private readonly zGradient: Float32Array;

  /**
   * `gradients` evaluates the trainer's loaded batch at its parameters into its gradient(): the trainer itself, or
   * its batches split among threads (host/training/threads.ts)
   */
  constructor(
    private readonly trainer: Trainer,
    private readonly gradients: Pick<BatchGradients, "lossAndGradient"> = trainer,
  ) {
    this.dimension = trainer.parameterCount;
    this.momentum = trainer.optimizer === "sgd" ? trainer.momentum : 0;
    this.curvatureCap = trainer.optimizer === "sgd";
    this.base = new Float32Array(this.dimension);
    this.savedGradient = new Float32Array(this.dimension);
    const scales = trainer.lrScales();
    this.root = scales.every((s) => s === 1) ? null : Float32Array.from(scales, Math.sqrt);
    this.z = new Float32Array(this.root ? this.dimension : 0);
    this.zGradient = new Float32Array(this.root ? this.dimension : 0);
  }
  get lr(): number {
    return this.trainer.lr * this.schedule;
  }
  point(): Float32Array {
    const theta = this.trainer.parameters();
    const root = this.root;
    if (!root) return theta;
    for (let i = 0; i < this.dimension; i++) this.z[i] = root[i] > 0 ? theta[i] / root[i] : 0;
    return this.z;
  }
  lossAndGradient(): number {
    const loss = this.gradients.lossAndGradient();
    if (this.root) this.scaleGradient(this.trainer.gradient(), this.zGradient);
    return loss;
  }
  gradient(): Float32Array {
    return this.root ? this.zGradient : this.trainer.gradient();
  }
  probe(direction: Float64Array, e: number, out: Float64Array): number {
    const theta = this.trainer.parameters();
    const base = this.base;
    const root = this.root;
    base.set(theta);
    this.savedGradient.set(this.trainer.gradient());
    for (let i = 0; i < this.dimension; i++) theta[i] = base[i] + e * direction[i] * (root ? root[i] : 1);
    const loss = this.gradients.lossAndGradient();
    if (root) this.scaleGradient(this.trainer.gradient(), out);
    else out.set(this.trainer.gradient());
    theta.set(base);
    this.trainer.gradient().set(this.savedGradient);
    return loss;
  }
  step(scale: number, clip = 1): void {
    if (clip < 1) {
      // the gradient is the step's to use from here: nothing reads it after the update
      const g = this.trainer.gradient();
      for (let i = 0; i < this.dimension; i++) g[i] *= clip;
    }
    this.trainer.step(scale * this.schedule);
  }
  snapshot(): TrainerSnapshot {
    return this.trainer.snapshot();
  }
  restore(snapshot: TrainerSnapshot): void {
    this.trainer.restore(snapshot);
  }
  private scaleGradient(g: Float32Array, out: Float32Array | Float64Array): void {
    const root = this.root as Float32Array;
    for (let i = 0; i < this.dimension; i++) out[i] = g[i] * root[i];
  }
}
