import type { GuardedObjective } from "../../host/training/guard.js";

/**
 * An analytic objective for the guard's tests (the problems of stability.md section 5): a family of batch
 * gradients grad(x, batch) in float64, heavy-ball momentum (v <- beta v + g; x <- x - eta scale v, as the wasm
 * optimizer), and a batch chosen by the caller.
 */
export class AnalyticObjective implements GuardedObjective<{ x: Float64Array; m: Float64Array }> {
  readonly dimension: number;
  readonly curvatureCap = true;
  x: Float64Array;
  batch = 0;
  private m: Float64Array;
  private g: Float64Array;
  private readonly shifted: Float64Array;

  constructor(
    x0: ArrayLike<number>,
    readonly lr: number,
    readonly momentum: number,
    /** loss at x on a batch, gradient into out */
    private readonly f: (x: Float64Array, batch: number, out: Float64Array) => number,
  ) {
    this.dimension = x0.length;
    this.x = Float64Array.from(x0);
    this.m = new Float64Array(this.dimension);
    this.g = new Float64Array(this.dimension);
    this.shifted = new Float64Array(this.dimension);
  }
  point() {
    return this.x;
  }
  lossAndGradient() {
    return this.f(this.x, this.batch, this.g);
  }
  gradient() {
    return this.g;
  }
  probe(direction: Float64Array, e: number, out: Float64Array) {
    for (let i = 0; i < this.dimension; i++) this.shifted[i] = this.x[i] + e * direction[i];
    return this.f(this.shifted, this.batch, out);
  }
  step(scale: number, clip = 1) {
    for (let i = 0; i < this.dimension; i++) {
      this.m[i] = this.momentum * this.m[i] + clip * this.g[i];
      this.x[i] -= this.lr * scale * this.m[i];
    }
  }
  snapshot() {
    return { x: this.x.slice(), m: this.m.slice() };
  }
  restore(s: { x: Float64Array; m: Float64Array }) {
    this.x.set(s.x);
    this.m.set(s.m);
  }
}
