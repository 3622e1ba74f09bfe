/**
 * Seeded, deterministic test fixtures: random float models and random irregular event streams. The same seed
 * gives the same model and events on every run and every machine (integer PRNG, no Math.random).
 */
import type { FloatModel, LayerParams, ReadoutMode } from "../../host/model.js";
import { Rng } from "../../host/rng.js";

export { Rng };

export interface RandomModelOptions {
  inputSize: number;
  /** hidden size of each layer */
  hidden: number[];
  peephole: boolean;
  /** open ratio of every unit */
  rOn: number;
  outputs: number;
  mode: ReadoutMode;
  /** periods are log-uniform on this range; default [e^1, e^3] */
  tauRange?: [number, number];
  /** shifts are uniform on [0, shiftMax); default 100 */
  shiftMax?: number;
  /** the training leak; default 0.001 */
  alpha?: number;
}

/**
 * A model with weights uniform in (-1, 1) / sqrt(fan-in) (fan-in I + H for the gates, H for the readout),
 * small biases with the forget gate's near +1, small peepholes, log-uniform periods and uniform shifts.
 */
export function randomModel(rng: Rng, options: RandomModelOptions): FloatModel {
  const [tauLo, tauHi] = options.tauRange ?? [Math.E, Math.E ** 3];
  const shiftMax = options.shiftMax ?? 100;
  const uniformArray = (n: number, scale: number, offset = 0) => Float64Array.from({ length: n }, () => offset + scale * rng.uniform(-1, 1));
  const layers: LayerParams[] = [];
  let inputSize = options.inputSize;
  for (const H of options.hidden) {
    const scale = 1 / Math.sqrt(inputSize + H);
    const b = uniformArray(4 * H, 0.1);
    for (let j = 0; j < H; j++) b[H + j] += 1; // forget gate rows: remember by default
    layers.push({
      inputSize,
      hiddenSize: H,
      W: uniformArray(4 * H * inputSize, scale),
      U: uniformArray(4 * H * H, scale),
      b,
      peephole: options.peephole ? { i: uniformArray(H, 0.3), f: uniformArray(H, 0.3), o: uniformArray(H, 0.3) } : null,
      tau: Float64Array.from({ length: H }, () => rng.logUniform(tauLo, tauHi)),
      shift: Float64Array.from({ length: H }, () => rng.uniform(0, shiftMax)),
      rOn: new Float64Array(H).fill(options.rOn),
      alpha: options.alpha ?? 0.001,
    });
    inputSize = H;
  }
  return {
    timeUnit: "ms",
    inputSize: options.inputSize,
    layers,
    readout: {
      mode: options.mode,
      outputSize: options.outputs,
      V: uniformArray(options.outputs * inputSize, 1 / Math.sqrt(inputSize)),
      d: uniformArray(options.outputs, 0.1),
    },
  };
}

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
