/**
 * Fresh models: seeded random weights and the paper's time-gate initialisation (tau log-uniform, shift uniform),
 * for training, benchmarks and tests. The same seed gives the same model on every run
 * of one JS engine (host/rng.ts says why not across engines).
 */
import type { FloatModel, LayerParams, ReadoutMode } from "./model.js";
import type { Rng } from "../rng.js";

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

