/**
 * Seeded, deterministic test fixtures: random float models (host/model/init.ts) and random irregular event streams. The
 * same seed gives the same model and events on every run and every machine (integer PRNG, no Math.random).
 */
import { Rng } from "../../host/rng.js";

export { Rng };

export { randomModel, type RandomModelOptions } from "../../host/model/init.js";

export interface RandomStreamOptions {
  n: number;
  inputSize: number;
  /** the first timestamp, or "epoch" for a random epoch-millisecond start around 1.7e12; default 0 */
  start?: number | "epoch";
  /** "irregular" (default): gaps log-uniform on [minGap, maxGap]; "regular": every gap is `gap` */
  gaps?: "irregular" | "regular";
  /** default 0.006 (ms) */
  minGap?: number;
  /** default 120000 (two minutes, in ms) */
  maxGap?: number;
  /** the gap of "regular" streams; default 1 */
  gap?: number;
  /** fraction of input values that are exactly 0; default 0 */
  sparsity?: number;
}

export interface RandomStream {
  /** n non-decreasing timestamps */
  t: Float64Array;
  /** n * inputSize values in [-1, 1], event-major */
  x: Float32Array;
}

export function randomStream(rng: Rng, options: RandomStreamOptions): RandomStream {
  const { n, inputSize } = options;
  const minGap = options.minGap ?? 0.006;
  const maxGap = options.maxGap ?? 120_000;
  const sparsity = options.sparsity ?? 0;
  const t = new Float64Array(n);
  let now = options.start === "epoch" ? 1.7e12 + rng.uniform(0, 1e10) : (options.start ?? 0);
  for (let e = 0; e < n; e++) {
    if (e > 0) now += options.gaps === "regular" ? (options.gap ?? 1) : rng.logUniform(minGap, maxGap);
    t[e] = now;
  }
  const x = new Float32Array(n * inputSize);
  for (let k = 0; k < x.length; k++) x[k] = rng.next() < sparsity ? 0 : rng.uniform(-1, 1);
  return { t, x };
}
