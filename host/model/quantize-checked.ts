/**
 * Quantizing as `phasor quantize` and `phasor start` do it: the fixed engine runs the new model on the calibration
 * events beside the float64 reference, and the result says how far apart they are and what of plstm.md section 3
 * that breaks. U's row formats are chosen by that distance (quantize.ts, UFormats): the whole-row formats, which
 * the scalar builds sum faster, where they are within the tolerances; the finer lane-chunk formats otherwise.
 */
import { compareEngines, type Agreement } from "../engine/compare.js";
import { createEngine } from "../engine/create.js";
import type { MemoryReport } from "../engine/engine.js";
import { PhasorError, givenText } from "../errors.js";
import type { FloatModel } from "./model.js";
import { FIXED_TOLERANCE, quantize, toleranceExceeded, type CalibrationSequence, type QuantizeResult, type UFormats, type WeightWidth } from "./quantize.js";

/** "auto" tries "pairs" and takes "fine" when "pairs" breaks the tolerances and "fine" changes U's formats. */
export type UFormatChoice = "auto" | UFormats;
export const U_FORMAT_CHOICES: readonly UFormatChoice[] = ["auto", "pairs", "fine"];

export interface CheckedQuantization {
  result: QuantizeResult;
  /** the U formats the result has */
  uFormats: UFormats;
  /** the fixed engine against the reference running the model the file stands for: the float model, or with int8
   * weights the int8 model */
  error: Agreement;
  /** with int8 weights: the fixed engine against the float model */
  weightError?: Agreement;
  /** what breaks plstm.md section 3, one sentence each (empty: within it) */
  beyond: string[];
  /** the fixed engine's memory for the result */
  memory: MemoryReport;
}

export async function quantizeChecked(
  model: FloatModel,
  calibration: CalibrationSequence[],
  source: string,
  weights: WeightWidth = "int16",
  u: UFormatChoice = "auto",
): Promise<CheckedQuantization> {
  if (!U_FORMAT_CHOICES.includes(u)) throw new PhasorError("bad-args", `quantize: U formats must be one of ${U_FORMAT_CHOICES.join(", ")}, got ${givenText(u)}`);
  const first = await checked(model, calibration, source, weights, u === "fine" ? "fine" : "pairs");
  if (u !== "auto" || first.beyond.length === 0) return first;
  const fine = quantize(model, calibration, source, weights, "fine");
  // where the lane-chunk bound gives no U row a finer format (int8 rows never reach the whole-row bound) the
  // files are the same
  if (sameFormats(fine, first.result)) return first;
  return checked(model, calibration, source, weights, "fine", fine);
}

async function checked(
  model: FloatModel,
  calibration: CalibrationSequence[],
  source: string,
  weights: WeightWidth,
  uFormats: UFormats,
  result = quantize(model, calibration, source, weights, uFormats),
): Promise<CheckedQuantization> {
  const int8 = weights === "int8";
  const fixed = await createEngine({ format: "plsm", model: result.file.model, plsm: result.file, source }, { engine: "fixed" });
  // int8 weights change the model by more than the engine's tolerances: the engine is held to the model the file
  // stands for, and the file to the float model by its decisions
  const reference = await createEngine(int8 ? result.file.model : model, { engine: "reference" });
  const original = int8 ? await createEngine(model, { engine: "reference" }) : undefined;
  try {
    const error = compareEngines(fixed, reference, calibration);
    const weightError = original ? compareEngines(fixed, original, calibration) : undefined;
    const beyond = toleranceExceeded(error, model.readout.mode);
    if (weightError && model.readout.mode === "last" && !(weightError.argmaxAgreement >= FIXED_TOLERANCE.argmaxAgreement)) {
      beyond.push(`with int8 weights the argmax agrees with the float model's on ${weightError.argmaxAgreement} of the sequences, below ${FIXED_TOLERANCE.argmaxAgreement}`);
    }
    return { result, uFormats, error, ...(weightError ? { weightError } : {}), beyond, memory: fixed.memory() };
  } finally {
    fixed.dispose();
    reference.dispose();
    original?.dispose();
  }
}

function sameFormats(a: QuantizeResult, b: QuantizeResult): boolean {
  return a.plan.layers.every((L, n) => L.uFrac.every((f, r) => f === b.plan.layers[n].uFrac[r]));
}
