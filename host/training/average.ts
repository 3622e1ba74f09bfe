/**
 * An exponential moving average of the parameters over training steps (Polyak averaging with a forgetting
 * factor): after step t it is sum_k (1 - d) d^(t - k) theta_k / (1 - d^t), the average with the start-up bias
 * divided out, so the first steps count as much as they should and no more. SGD with a large step rattles around
 * a minimum from batch to batch; the average sits nearer its centre, which is why validation and the kept model
 * use it when training asks for one. Float64 throughout: with d = 0.999 the increments are a thousandth of a step.
 */
import { PhasorError, givenText } from "../errors.js";

export interface AverageState {
  decay: number;
  /** sum_k (1 - d) d^(t - k) theta_k */
  sum: Float64Array;
  /** 1 - d^t over the steps taken since the last reset: the sum's total weight */
  weight: number;
}

export class ParameterAverage {
  readonly decay: number;
  private readonly sum: Float64Array;
  private weight = 0;

  constructor(size: number, decay: number) {
    if (!(decay >= 0 && decay < 1)) throw new PhasorError("bad-args", `the parameter average's decay must be in [0, 1), got ${givenText(decay)}`);
    this.decay = decay;
    this.sum = new Float64Array(size);
  }

  get size(): number {
    return this.sum.length;
  }

  /** Whether any step has gone in since the start or the last reset. */
  get empty(): boolean {
    return this.weight === 0;
  }

  /**
   * Takes one step's parameters in. A theta with a non-finite number is left out (returns false): it would poison
   * the average for good, and the stability guard rolls such a step back anyway.
   */
  add(theta: ArrayLike<number>): boolean {
    if (theta.length !== this.sum.length) throw new PhasorError("bad-input", `parameter average: theta has ${theta.length} numbers, the average ${this.sum.length}`);
    for (let i = 0; i < theta.length; i++) if (!Number.isFinite(theta[i])) return false;
    const d = this.decay;
    const fresh = 1 - d;
    for (let i = 0; i < theta.length; i++) this.sum[i] = d * this.sum[i] + fresh * theta[i];
    this.weight = d * this.weight + fresh;
    return true;
  }

  /** Forgets every step so far (after a rollback the steps that led away are not to be averaged in). */
  reset(): void {
    this.sum.fill(0);
    this.weight = 0;
  }

  /** The average into `out`; when empty, `fallback` (the current parameters) instead. */
  valueInto(out: Float32Array, fallback: ArrayLike<number>): Float32Array {
    if (out.length !== this.sum.length || fallback.length !== this.sum.length) {
      throw new PhasorError("bad-input", `parameter average: asked for ${out.length} numbers, the average has ${this.sum.length}`);
    }
    if (this.empty) {
      out.set(fallback);
      return out;
    }
    for (let i = 0; i < out.length; i++) out[i] = this.sum[i] / this.weight;
    return out;
  }

  state(): AverageState {
    return { decay: this.decay, sum: this.sum.slice(), weight: this.weight };
  }

  /** Continues from a state() (of a checkpoint); the decay and size must be this average's. */
  setState(state: AverageState): void {
    if (state.decay !== this.decay) throw new PhasorError("bad-input", `checkpoint: the parameter average decays by ${state.decay}, this run by ${this.decay}`);
    if (state.sum.length !== this.sum.length) throw new PhasorError("bad-input", `checkpoint: the parameter average has ${state.sum.length} numbers, the model ${this.sum.length} parameters`);
    if (!(state.weight >= 0 && state.weight <= 1)) throw new PhasorError("bad-input", `checkpoint: the parameter average's weight must be in [0, 1], got ${state.weight}`);
    this.sum.set(state.sum);
    this.weight = state.weight;
  }
}
