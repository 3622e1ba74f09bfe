/**
 * Fresh models: seeded random weights and the paper's time-gate initialisation (tau log-uniform, shift uniform),
 * for training, benchmarks and tests. The same seed gives the same model on every run
 * of one JS engine (host/rng.ts says why not across engines).
 */
import { checkModel, type FloatModel, type LayerParams, type ReadoutMode } from "./model.js";
import { PhasorError, givenText, knownOptions } from "../errors.js";
import { Rng } from "../rng.js";

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
  /** how the weights and biases are drawn (WeightInit); default "scaled" */
  weightInit?: WeightInit;
}

/**
 * "scaled": weights uniform in (-1, 1) / sqrt(fan-in) (fan-in I + H for the gates, H for the readout), biases
 * uniform in (-0.1, 0.1) with the forget gate's near +1, peepholes uniform in (-0.3, 0.3).
 * "authors": as the authors' frequency-task code sets its layer up (plstm.md section 5): W, U and the peepholes
 * N(0, 0.1), the input gate's bias -0.1 and the other biases 0; the readout Glorot-uniform (uniform in
 * (-1, 1) sqrt(6 / (H + O))) with bias 0.
 */
export type WeightInit = "scaled" | "authors";
export const WEIGHT_INITS: readonly WeightInit[] = ["scaled", "authors"];

/**
 * A model with weights and biases drawn as options.weightInit says, log-uniform periods and uniform shifts,
 * checked as a model file is: options that make no model (no layers, an r_on of NaN) are refused, not returned.
 */
export function randomModel(rng: Rng, options: RandomModelOptions): FloatModel {
  if (!(rng instanceof Rng)) throw new PhasorError("bad-args", "randomModel(rng, options): the first argument must be an Rng (new Rng(seed))");
  if (typeof options !== "object" || options === null) throw new PhasorError("bad-args", "randomModel(rng, options): options must be an object");
  knownOptions("randomModel", options, ["inputSize", "hidden", "peephole", "rOn", "outputs", "mode", "tauRange", "shiftMax", "alpha", "weightInit"]);
  if (!Array.isArray(options.hidden)) throw new PhasorError("bad-args", "randomModel: hidden must be an array of layer sizes");
  // what only steers the draws is checked here: checkModel sees the model they made, never these
  const refuse = (what: string, expected: string, got: unknown): never => {
    throw new PhasorError("bad-args", `randomModel: ${what} must be ${expected}, got ${Array.isArray(got) ? `[${got.map(givenText).join(", ")}]` : givenText(got)}`);
  };
  if (typeof options.peephole !== "boolean") refuse("peephole", "true or false", options.peephole);
  const weightInit = options.weightInit ?? "scaled";
  if (!WEIGHT_INITS.includes(weightInit)) refuse("weightInit", WEIGHT_INITS.map((w) => `"${w}"`).join(" or "), weightInit);
  const tauRange = options.tauRange ?? [Math.E, Math.E ** 3];
  const positive = (v: unknown) => typeof v === "number" && Number.isFinite(v) && v > 0;
  if (!Array.isArray(tauRange) || tauRange.length !== 2 || !positive(tauRange[0]) || !positive(tauRange[1]) || tauRange[0] > tauRange[1]) {
    refuse("tauRange", "[lo, hi] with 0 < lo <= hi, finite", tauRange);
  }
  const [tauLo, tauHi] = tauRange;
  const shiftMax = options.shiftMax ?? 100;
  if (typeof shiftMax !== "number" || !Number.isFinite(shiftMax) || shiftMax < 0) refuse("shiftMax", "a finite number >= 0", shiftMax);
  const authors = weightInit === "authors";
  const uniformArray = (n: number, scale: number, offset = 0) => Float64Array.from({ length: n }, () => offset + scale * rng.uniform(-1, 1));
  const normalArray = (n: number, sd: number) => Float64Array.from({ length: n }, () => sd * rng.normal());
  const weights = (n: number, fanIn: number) => (authors ? normalArray(n, 0.1) : uniformArray(n, 1 / Math.sqrt(fanIn)));
  const peepholes = (H: number) => (authors ? normalArray(H, 0.1) : uniformArray(H, 0.3));
  const layers: LayerParams[] = [];
  let inputSize = options.inputSize;
  for (const H of options.hidden) {
    const b = authors ? new Float64Array(4 * H) : uniformArray(4 * H, 0.1);
    // the forget gate's rows (H .. 2H): remember by default; the authors' code starts them at 0 and the input
    // gate's (0 .. H) at -0.1
    for (let j = 0; j < H; j++) {
      if (authors) b[j] = -0.1;
      else b[H + j] += 1;
    }
    layers.push({
      inputSize,
      hiddenSize: H,
      W: weights(4 * H * inputSize, inputSize + H),
      U: weights(4 * H * H, inputSize + H),
      b,
      peephole: options.peephole ? { i: peepholes(H), f: peepholes(H), o: peepholes(H) } : null,
      tau: Float64Array.from({ length: H }, () => rng.logUniform(tauLo, tauHi)),
      shift: Float64Array.from({ length: H }, () => rng.uniform(0, shiftMax)),
      rOn: new Float64Array(H).fill(options.rOn),
      alpha: options.alpha ?? 0.001,
    });
    inputSize = H;
  }
  const model: FloatModel = {
    timeUnit: "ms",
    inputSize: options.inputSize,
    layers,
    readout: {
      mode: options.mode,
      outputSize: options.outputs,
      V: uniformArray(options.outputs * inputSize, authors ? Math.sqrt(6 / (inputSize + options.outputs)) : 1 / Math.sqrt(inputSize)),
      d: authors ? new Float64Array(options.outputs) : uniformArray(options.outputs, 0.1),
    },
  };
  checkModel(model, "randomModel");
  return model;
}

