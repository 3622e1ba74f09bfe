/**
 * Float model to fixed-point model (docs/fixed-point.md): the number formats are chosen from the weights
 * themselves and from the ranges seen on calibration events, then written as a .plsm image.
 */
import type { Agreement } from "../engine/compare.js";
import { PhasorError, badModel, givenText, sourceName } from "../errors.js";
import type { FloatModel, ReadoutMode } from "./model.js";
import { ReferenceEngine } from "../engine/reference.js";
import type { EventSource } from "../engine/event-source.js";
import {
  FRAC_MAX, FRAC_MIN, INT8_LIMIT, MAX_TICKS_LOG2, MIN_OPEN_TICKS, PRE_FRAC, ROW_L1_LIMIT, decodePlsm, encodePlsm, halfOnOf, laneChunkL1, openTicks, type FixedPlan, type PlsmFile,
} from "./plsm.js";

/** One calibration sequence: n timestamps and n * inputSize inputs, event-major. */
export interface CalibrationSequence {
  t: Float64Array;
  x: Float32Array | Float64Array;
  /** where the events came from, for messages that name their lines (an event file) */
  source?: EventSource;
}

export interface QuantizeResult {
  bytes: Uint8Array;
  file: PlsmFile;
  plan: FixedPlan;
  calibration: {
    sequences: number;
    events: number;
    maxAbsInput: number;
    maxAbsCell: number;
  };
}

const I16_MAX = 32767;

/** The element of the gate matrices W and U: int16 (the default) or int8, the "16x8" scheme of TFLite Micro and
 * CMSIS-NN (docs/fixed-point.md, "int8 weights"). Biases, peepholes, the time gates and the readout keep their
 * formats in both. */
export type WeightWidth = "int16" | "int8";
export const WEIGHT_WIDTHS: readonly WeightWidth[] = ["int16", "int8"];
const I32_MAX = 2 ** 31 - 1;
/** The cell is Q11.20: |c| must stay below 2^11. */
const CELL_LIMIT = 2048;

/** plstm.md section 3: how close the fixed engine must be to the float64 reference. */
export const FIXED_TOLERANCE = { maxAbsH: 4e-3, maxAbsY: 1e-2, argmaxAgreement: 0.995 } as const;

/** What in an agreement of the fixed engine with the reference breaks FIXED_TOLERANCE, one sentence each. Argmax
 * agreement is a classification measure (plstm.md section 3): only a "last" readout is held to it. */
export function toleranceExceeded(error: Agreement, readout: ReadoutMode): string[] {
  const out: string[] = [];
  if (!(error.maxAbsH <= FIXED_TOLERANCE.maxAbsH)) out.push(`maxAbsH ${error.maxAbsH} exceeds ${FIXED_TOLERANCE.maxAbsH}`);
  if (!(error.maxAbsY <= FIXED_TOLERANCE.maxAbsY)) out.push(`maxAbsY ${error.maxAbsY} exceeds ${FIXED_TOLERANCE.maxAbsY}`);
  if (readout === "last" && !(error.argmaxAgreement >= FIXED_TOLERANCE.argmaxAgreement)) {
    out.push(`argmaxAgreement ${error.argmaxAgreement} is below ${FIXED_TOLERANCE.argmaxAgreement}`);
  }
  return out;
}

/** What bounds a row's sum of |w_q| (assembly/contract/plsm.ts): the whole row's (W and the readout, whose sums are
 * i32), or each lane-chunk's (U, whose sums are i64 but summed in i32 lanes by the SIMD build). */
type RowBound = "row" | "lanes";

/**
 * How U's row formats are chosen (docs/fixed-point.md, "U h in 64 bits"). "pairs": within the whole-row bound, so
 * the scalar builds sum U two rows per multiply (fixed/sums.ts, their faster kernel) and every engine before the
 * 64-bit U sums reads the file. "fine": the finest formats the lane-chunk bound allows, about two more bits on the
 * U of trained models, whose rows' sums of |w| are large; the scalar builds then sum U in lane-ordered pieces, more
 * operators a MAC. The SIMD build costs the same either way. `phasor quantize` and `phasor start` choose by the
 * error (quantizeChecked): "pairs" where it is within plstm.md section 3, "fine" otherwise.
 */
export type UFormats = "pairs" | "fine";

/**
 * The most fractional bits a row of weights can have: each |w| * 2^f rounds to at most `limit` (32767 for int16,
 * INT8_LIMIT for int8), the row's sum of |w_q| (bound "row") or each of its lane-chunk sums (bound "lanes",
 * laneChunkL1) stays within ROW_L1_LIMIT, and `extra` values (a bias at another scale) fit in i32. Undefined when no
 * format from FRAC_MIN up holds the row: the caller refuses the model.
 */
export function rowFormat(
  w: ArrayLike<number>,
  start: number,
  length: number,
  bound: RowBound,
  extra?: { value: number; offset: number },
  limit = I16_MAX,
): number | undefined {
  let maxAbs = 0;
  for (let i = 0; i < length; i++) maxAbs = Math.max(maxAbs, Math.abs(w[start + i]));
  let f = maxAbs > 0 ? Math.min(FRAC_MAX, Math.floor(Math.log2(limit / maxAbs))) : 15;
  for (; f >= FRAC_MIN; f--) {
    const q = (i: number) => Math.abs(Math.round(w[start + i] * 2 ** f));
    let l1 = 0;
    let fits = true;
    for (let i = 0; i < length && fits; i++) {
      l1 += q(i);
      fits = q(i) <= limit;
    }
    if (extra && Math.abs(Math.round(extra.value * 2 ** (f + extra.offset))) > I32_MAX) fits = false;
    if (fits && (l1 <= ROW_L1_LIMIT || (bound === "lanes" && laneChunkL1(q, length).sum <= ROW_L1_LIMIT))) return f;
  }
  return undefined;
}

/** rowFormat of row r (of `length` values from r * length) of a model's matrix, or the model refused naming it. */
function rowFormatOf(
  w: ArrayLike<number>,
  r: number,
  length: number,
  bound: RowBound,
  what: string,
  limit: number,
  extra?: { value: number; offset: number },
): number {
  const f = rowFormat(w, r * length, length, bound, extra, limit);
  if (f === undefined) {
    let maxAbs = 0;
    for (let i = 0; i < length; i++) maxAbs = Math.max(maxAbs, Math.abs(w[r * length + i]));
    throw badModel(
      what,
      `no fixed format holds this row (largest |w| ${maxAbs}): the coarsest, Q(${FRAC_MIN}), holds |w| up to ${limit * 2 ** -FRAC_MIN} ` +
        `with a sum of |w_q| up to ${ROW_L1_LIMIT}${bound === "lanes" ? " in each SIMD lane of a 128-column chunk" : ""}` +
        `${extra ? ` and its bias ${extra.value} in i32` : ""}`,
    );
  }
  return f;
}

function valueFormat(maxAbs: number): number {
  if (!(maxAbs > 0)) return 14;
  return Math.max(FRAC_MIN, Math.min(FRAC_MAX, Math.floor(Math.log2(I16_MAX / maxAbs))));
}

/**
 * The fewest ticks per time unit, 2^ticksLog2, with every open window r_on tau (r_on as the file holds it) at least
 * MIN_OPEN_TICKS ticks, in the readers' own arithmetic (openTicks): fewest, so the 2^62-tick clock lasts longest.
 * A window too short even at 2^40 ticks per unit is refused, naming the unit.
 */
function ticksFormat(model: FloatModel, source: string): number {
  let log2 = 0;
  model.layers.forEach((L, n) => {
    for (let j = 0; j < L.hiddenSize; j++) {
      const rOn = halfOnOf(L.rOn[j]) * 2 ** -31;
      while (log2 < MAX_TICKS_LOG2 && !(openTicks(L.tau[j], log2, rOn) >= MIN_OPEN_TICKS)) log2++;
      if (!(openTicks(L.tau[j], log2, rOn) >= MIN_OPEN_TICKS)) {
        throw badModel(
          `${source}: layers[${n}].rOn[${j}] x tau[${j}]`,
          `the open window ${L.rOn[j] * L.tau[j]} is shorter than the ${MIN_OPEN_TICKS} ticks the fixed engine needs at its finest ` +
            `2^${MAX_TICKS_LOG2} ticks per time unit (at least ${MIN_OPEN_TICKS * 2 ** -MAX_TICKS_LOG2} time units)`,
        );
      }
    }
  });
  return log2;
}

export function planFormats(model: FloatModel, maxAbsInput: number, source = "model", weights: WeightWidth = "int16", u: UFormats = "pairs"): FixedPlan {
  const limit = weights === "int8" ? INT8_LIMIT : I16_MAX;
  const layers = model.layers.map((L, n) => {
    const H = L.hiddenSize;
    // a bias Q7.24 cannot hold would be clamped in the file: refused, so that no model is silently changed
    L.b.forEach((b, r) => {
      if (!(Math.abs(Math.round(b * 2 ** PRE_FRAC)) <= I32_MAX)) {
        throw badModel(`${source}: layers[${n}].b[${r}]`, `${b} is outside the fixed engine's bias range (-128, 128): biases are Q7.24 (docs/fixed-point.md)`);
      }
    });
    const wFrac = new Int8Array(4 * H);
    const uFrac = new Int8Array(4 * H);
    for (let r = 0; r < 4 * H; r++) {
      wFrac[r] = rowFormatOf(L.W, r, L.inputSize, "row", `${source}: layers[${n}].W row ${r}`, limit);
      uFrac[r] = rowFormatOf(L.U, r, H, u === "fine" ? "lanes" : "row", `${source}: layers[${n}].U row ${r}`, limit);
    }
    let maxPeep = 0;
    if (L.peephole) for (const p of [L.peephole.i, L.peephole.f, L.peephole.o]) for (const v of p) maxPeep = Math.max(maxPeep, Math.abs(v));
    return { wFrac, uFrac, pFrac: valueFormat(maxPeep), ...(weights === "int8" ? { int8: true } : {}) };
  });
  const { V, d, outputSize } = model.readout;
  const H = model.layers[model.layers.length - 1].hiddenSize;
  const vFrac = new Int8Array(outputSize);
  for (let o = 0; o < outputSize; o++) vFrac[o] = rowFormatOf(V, o, H, "row", `${source}: readout.V row ${o}`, I16_MAX, { value: d[o], offset: 15 });
  return { ticksLog2: ticksFormat(model, source), inputFrac: valueFormat(maxAbsInput), layers, vFrac };
}

/**
 * The calibration sequences, checked before any of them runs: every input counts towards the input format, so x
 * must hold exactly t.length x inputSize numbers (extra ones would widen the format unseen), and there must be
 * events at all (formats chosen from no events would be the defaults, unsaid).
 */
function checkCalibration(calibration: CalibrationSequence[], inputSize: number): void {
  if (!Array.isArray(calibration)) throw new PhasorError("bad-args", `calibration: expected an array of sequences, got ${givenText(calibration)}`);
  let events = 0;
  calibration.forEach((seq, k) => {
    const where = `calibration sequence ${k}`;
    if (typeof seq !== "object" || seq === null || !(seq.t instanceof Float64Array) || !(seq.x instanceof Float32Array || seq.x instanceof Float64Array)) {
      throw new PhasorError("bad-input", `${where}: expected { t: Float64Array, x: Float32Array or Float64Array }`);
    }
    if (seq.x.length !== seq.t.length * inputSize) {
      throw new PhasorError("bad-input", `${where}: x has ${seq.x.length} numbers, ${seq.t.length} events x ${inputSize} (inputSize) need ${seq.t.length * inputSize}`);
    }
    events += seq.t.length;
  });
  if (events === 0) throw new PhasorError("bad-input", "calibration: no events to calibrate on");
}

/** Quantizes `model` with the input and cell ranges seen when the reference runs the calibration sequences; its W
 * and U as int16 or, with weights "int8", as int8; U's row formats as `u` says. */
export function quantize(model: FloatModel, calibration: CalibrationSequence[], source = "model", weights: WeightWidth = "int16", u: UFormats = "pairs"): QuantizeResult {
  if (!WEIGHT_WIDTHS.includes(weights)) throw new PhasorError("bad-args", `quantize: weights must be one of ${WEIGHT_WIDTHS.join(", ")}, got ${givenText(weights)}`);
  if (u !== "pairs" && u !== "fine") throw new PhasorError("bad-args", `quantize: U formats must be "pairs" or "fine", got ${givenText(u)}`);
  sourceName("quantize", source);
  checkCalibration(calibration, model.inputSize);
  const reference = new ReferenceEngine(model);
  let maxAbsInput = 0;
  let maxAbsCell = 0;
  let events = 0;
  for (const seq of calibration) {
    for (const v of seq.x) maxAbsInput = Math.max(maxAbsInput, Math.abs(v));
    const stream = reference.createStream();
    for (let e = 0; e < seq.t.length; e++) {
      stream.push(seq.t[e], seq.x.subarray(e * model.inputSize, (e + 1) * model.inputSize));
      for (let n = 0; n < model.layers.length; n++) for (const c of stream.cell(n)) maxAbsCell = Math.max(maxAbsCell, Math.abs(c));
    }
    events += seq.t.length;
  }
  if (maxAbsCell >= CELL_LIMIT) {
    throw new PhasorError("bad-model", `${source}: the cell state reaches ${maxAbsCell.toPrecision(4)} on the calibration events, beyond the fixed engine's range of +-${CELL_LIMIT}`);
  }
  const plan = planFormats(model, maxAbsInput, source, weights, u);
  const bytes = encodePlsm(model, plan, { quantizedFrom: source, calibrationEvents: events });
  const file = decodePlsm(bytes, source);
  return { bytes, file, plan, calibration: { sequences: calibration.length, events, maxAbsInput, maxAbsCell } };
}
