/**
 * The readout's learning step (docs/on-device-learning.md) on the host: the checks every implementation makes of a
 * target and a rate, worded once, and the step in float64, the comparison for the fixed engine's integer step
 * (assembly/fixed/readout-learning.ts) and the subject of the tests of the guarantee.
 */
import type { LearningRate, LearningStep } from "./engine.js";
import { PhasorError, badInput, givenText, knownOptions } from "../errors.js";

/** The bounds the integer step holds (assembly/fixed/readout-learning.ts): eta in Q40.24, c in Q0.16, targets in Q25.38. */
export const ETA_MIN = 2 ** -24;
export const ETA_MAX = 1024;
export const C_MIN = 2 ** -16;
export const TARGET_MAX = 2 ** 23;
export const DEFAULT_C = 0.9;

/** A checked learning target: a class, or one target value per output. */
export type LearningTarget = { kind: "class"; label: number } | { kind: "values"; values: Float64Array };

/**
 * The target, checked against a readout of `outputs` outputs, or a bad-input PhasorError saying what is wrong. A
 * number is a class when the readout has 2 or more outputs and the target value when it has one (the rule of
 * phasor_host --learn and of the gateway's labelled readings); an array holds one target value per output.
 */
export function learningTarget(target: unknown, outputs: number): LearningTarget {
  const where = "learning target";
  if (typeof target === "number" && outputs >= 2) {
    if (!Number.isInteger(target) || target < 0 || target >= outputs) {
      throw badInput(where, `class ${target} is not one of the readout's outputs, 0 to ${outputs - 1}`);
    }
    return { kind: "class", label: target };
  }
  const list = typeof target === "number" ? [target] : target;
  if (typeof list !== "object" || list === null || typeof (list as ArrayLike<unknown>).length !== "number") {
    throw badInput(where, `expected a class (an integer) or ${outputs} target values, got ${list === null ? "null" : typeof list}`);
  }
  const values = list as ArrayLike<unknown>;
  if (values.length !== outputs) throw badInput(where, `${values.length} target values, the readout has ${outputs} outputs`);
  const checked = new Float64Array(outputs);
  for (let o = 0; o < outputs; o++) {
    const v = values[o];
    if (typeof v !== "number" || !(Math.abs(v) <= TARGET_MAX)) {
      throw badInput(where, `target ${o} is ${typeof v === "number" ? v : typeof v}, expected a finite number within +-2^23`);
    }
    checked[o] = v;
  }
  return { kind: "values", values: checked };
}

/** eta and c checked, c defaulted; a bad-args PhasorError otherwise. */
export function learningRate(rate: unknown): { eta: number; c: number } {
  if (typeof rate !== "object" || rate === null) throw new PhasorError("bad-args", "learning rate: expected { eta, c? }");
  knownOptions("learning rate", rate, ["eta", "c"]);
  const { eta, c = DEFAULT_C } = rate as LearningRate;
  if (typeof eta !== "number" || !(eta >= ETA_MIN && eta <= ETA_MAX)) {
    throw new PhasorError("bad-args", `learning rate: eta is ${givenText(eta)}, expected a number in [2^-24, 1024]`);
  }
  if (typeof c !== "number" || !((c >= C_MIN && c <= 1) || c === Infinity)) {
    throw new PhasorError("bad-args", `learning rate: c is ${givenText(c)}, expected a number in [2^-16, 1] (or Infinity: no cap)`);
  }
  return { eta, c };
}

/**
 * A readout y = V h + d learning in float64 with the device's capped step (docs/on-device-learning.md, section 1),
 * from the h a caller gives it (for instance a fixed stream's hidden(), so that only the step's arithmetic differs).
 */
export class FloatReadout {
  /** O x H, row-major, as a model's readout */
  readonly V: Float64Array;
  readonly d: Float64Array;
  readonly hiddenSize: number;
  steps = 0;

  /** A copy of `readout` (a model's, or any V of O x H numbers, row-major, and d of O) to learn from. */
  constructor(readout: { V: ArrayLike<number>; d: ArrayLike<number> }) {
    if (typeof readout !== "object" || readout === null) throw new PhasorError("bad-args", "FloatReadout: expected a readout { V, d }");
    this.V = finiteNumbers("FloatReadout: V", readout.V);
    this.d = finiteNumbers("FloatReadout: d", readout.d);
    // V is O x H: a length that is no whole multiple of O would give a fractional H and rows that straddle outputs
    if (this.d.length === 0 || this.V.length === 0 || this.V.length % this.d.length !== 0) {
      throw new PhasorError("bad-args", `FloatReadout: V has ${this.V.length} numbers, not a whole number of rows of the ${this.d.length} outputs d has`);
    }
    this.hiddenSize = this.V.length / this.d.length;
  }

  get outputSize(): number {
    return this.d.length;
  }

  /** h must be this readout's H finite numbers: a short one read undefined, and NaN went into V. */
  private checkHidden(h: ArrayLike<number>): void {
    if (typeof h !== "object" || h === null || h.length !== this.hiddenSize) {
      throw badInput("FloatReadout", `h has ${typeof h === "object" && h !== null ? h.length : "no"} numbers, the readout takes ${this.hiddenSize}`);
    }
    for (let j = 0; j < this.hiddenSize; j++) {
      if (typeof h[j] !== "number" || !Number.isFinite(h[j])) throw badInput("FloatReadout", `h[${j}] is ${String(h[j])}, expected a finite number`);
    }
  }

  output(h: ArrayLike<number>): Float64Array {
    this.checkHidden(h);
    const H = this.hiddenSize;
    return this.d.map((d, o) => {
      let z = d;
      for (let j = 0; j < H; j++) z += this.V[o * H + j] * h[j];
      return z;
    });
  }

  /** One step from h towards target; G = ||h||^2 + 1, the cap c 2 / G (squared error) or c 4 / G (cross-entropy). */
  learn(h: ArrayLike<number>, target: number | ArrayLike<number>, rate: LearningRate): LearningStep {
    this.checkHidden(h);
    const goal = learningTarget(target, this.outputSize);
    const { eta, c } = learningRate(rate);
    const H = this.hiddenSize;
    let G = 1;
    for (let j = 0; j < H; j++) G += h[j] * h[j];
    const z = this.output(h);
    const error = goal.kind === "class" ? softmaxError(z, goal.label) : z.map((v, o) => v - goal.values[o]);
    const cap = (c * (goal.kind === "class" ? 4 : 2)) / G;
    const step = Math.min(eta, cap);
    error.forEach((e, o) => {
      const a = step * e;
      for (let j = 0; j < H; j++) this.V[o * H + j] -= a * h[j];
      this.d[o] -= a;
    });
    this.steps++;
    return { capped: cap < eta };
  }
}

/** A copy of `values` when it is an array-like of finite numbers; a bad-args error naming `what` otherwise. */
function finiteNumbers(what: string, values: unknown): Float64Array {
  const list = values as ArrayLike<unknown>;
  if (typeof values !== "object" || values === null || typeof list.length !== "number") throw new PhasorError("bad-args", `${what}: expected an array of numbers`);
  const out = new Float64Array(list.length);
  for (let k = 0; k < list.length; k++) {
    const v = list[k];
    if (typeof v !== "number" || !Number.isFinite(v)) throw new PhasorError("bad-args", `${what}[${k}] is ${String(v)}, expected a finite number`);
    out[k] = v;
  }
  return out;
}

/** p - e_label, p = softmax(z) */
function softmaxError(z: Float64Array, label: number): Float64Array {
  const top = Math.max(...z);
  const terms = z.map((v) => Math.exp(v - top));
  const sum = terms.reduce((a, b) => a + b, 0);
  return terms.map((v, o) => v / sum - (o === label ? 1 : 0));
}
