/**
 * The float model (formats.md, "Float model: JSON") as the host holds it: flat Float64Arrays in the file's
 * row order (row r = gate * H + unit, gates i, f, g, o), validated once on load.
 */
import { MAX_LAYERS, MAX_SIZE, R_ON_MIN, TAU_MAX, TAU_MIN } from "../../assembly/contract/plsm.js";
import { badModel, quote, sourceName } from "../errors.js";
import { lineAndColumn, repeatedInFile } from "../json-text.js";
import { refuseLookalikes } from "../misspelt.js";
import { F32_MAX } from "../engine/stream-checks.js";

export const GATES = ["i", "f", "g", "o"] as const;

export interface LayerParams {
  inputSize: number;
  hiddenSize: number;
  /** 4H x I, row-major */
  W: Float64Array;
  /** 4H x H, row-major */
  U: Float64Array;
  /** 4H */
  b: Float64Array;
  /** diagonal peepholes, H each, or null when absent (then they are zero) */
  peephole: { i: Float64Array; f: Float64Array; o: Float64Array } | null;
  tau: Float64Array;
  shift: Float64Array;
  rOn: Float64Array;
  /** the training leak; every inference engine uses alpha = 0 (plstm.md section 6) */
  alpha: number;
}

export type ReadoutMode = "last" | "every";

export interface Readout {
  mode: ReadoutMode;
  outputSize: number;
  /** O x H, row-major */
  V: Float64Array;
  d: Float64Array;
  labels?: string[];
}

export interface FloatModel {
  timeUnit: string;
  inputSize: number;
  layers: LayerParams[];
  readout: Readout;
}

/** formats.md: the only `format` and `version` this reader accepts. */
export const MODEL_FORMAT = "phasor-model";
export const MODEL_VERSION = 1;

/**
 * The time-gate values every engine computes the exact phase for (docs/fixed-point.md, "What the engines
 * accept"; assembly/model.ts holds .plsm files to the same): tau from 2^-20 to 2^42 time units, r_on from 2^-16
 * to 1. Any finite shift.
 */
export const TIME_GATE_RANGE = { tauMin: TAU_MIN, tauMax: TAU_MAX, rOnMin: R_ON_MIN } as const;

/** The largest model the .plsm format and the wasm engines hold (docs/plsm.md). */
export { MAX_LAYERS, MAX_SIZE };

/**
 * Reads a float model from parsed JSON (formats.md, "Float model: JSON"), checking every field before building
 * anything: a wrong format or version, a shape mismatch, a non-finite number, tau <= 0, r_on outside (0, 1] or
 * alpha < 0 throws a "bad-model" PhasorError naming the file, the field path and the expected shape. Unknown
 * fields are ignored (the format grows by optional fields). A missing `timeUnit` means "ms", a missing
 * `peephole` means none, a missing `alpha` means 0 (the inference value).
 */
export function parseModel(json: unknown, source: string): FloatModel {
  const fail = (path: string, why: string): never => {
    throw badModel(`${source}: ${path}`, why);
  };
  const top = objectAt(json, "(top level)", fail);
  refuseLookalikes(top, MODEL_FIELDS, "", fail);
  if (top.format !== MODEL_FORMAT) fail("format", `expected "${MODEL_FORMAT}", got ${describe(top.format)}`);
  if (top.version !== MODEL_VERSION) {
    fail("version", `unsupported version ${describe(top.version)}, this reader knows version ${MODEL_VERSION}`);
  }
  let timeUnit = "ms";
  if (top.timeUnit !== undefined) {
    if (typeof top.timeUnit !== "string" || top.timeUnit === "") {
      fail("timeUnit", `expected a non-empty string such as "ms", got ${describe(top.timeUnit)}`);
    }
    timeUnit = top.timeUnit as string;
  }
  const inputSize = sizeAt(top.inputSize, "inputSize", fail);
  const layersJson = top.layers;
  if (!Array.isArray(layersJson) || layersJson.length === 0 || layersJson.length > MAX_LAYERS) {
    fail("layers", `expected an array of 1 to ${MAX_LAYERS} layers, got ${countOf(layersJson)}`);
  }
  const layers: LayerParams[] = [];
  let layerInput = inputSize;
  let layerInputName = "inputSize";
  (layersJson as unknown[]).forEach((layerJson, n) => {
    const layer = parseLayer(layerJson, `layers[${n}]`, layerInput, layerInputName, fail);
    layers.push(layer);
    layerInput = layer.hiddenSize;
    layerInputName = `layers[${n}].hiddenSize`;
  });
  const readout = parseReadout(top.readout, layerInput, fail);
  return { timeUnit, inputSize, layers, readout };
}

/**
 * Holds a model built in code (not read from a file) to the same rules as parseModel, with the same named-field
 * errors, and checks that every flat array has exactly the length its shape says: whatever the object holds, the
 * answer is the model or a "bad-model" PhasorError, never a TypeError. Every engine checks its model once, on
 * construction.
 */
export function checkModel(model: FloatModel, source: string): void {
  parseModel(modelJson(model, source), source);
}

/**
 * A model's JSON form (formats.md) from an object that may hold anything: a flat array of the wrong length fails
 * here with its field named; anything else that is wrong is left in place for parseModel to name.
 */
function modelJson(model: unknown, source: string): unknown {
  const fail = (path: string, why: string): never => {
    throw badModel(`${source}: ${path}`, why);
  };
  if (typeof model !== "object" || model === null) fail("(top level)", `expected a model object, got ${describe(model)}`);
  const m = model as Record<string, unknown>;
  // the fields this copies are the ones it knows: a misspelt one would be left behind unsaid, as a file's would be
  refuseLookalikes(m, MODEL_FIELDS, "", fail);
  const layers = m.layers;
  if (!Array.isArray(layers) || layers.length < 1 || layers.length > MAX_LAYERS) return { ...jsonHeader(m), layers };
  let inputSize = m.inputSize;
  const isSize = (x: unknown): x is number => typeof x === "number" && Number.isInteger(x) && x >= 1 && x <= MAX_SIZE;
  // rows x width, row-major, into rows; with a size that is not one, left for parseModel to name the size
  const rows = (values: unknown, path: string, rowCount: unknown, rowsPer: number, width: unknown): unknown => {
    if (!isArrayLike(values) || !isSize(rowCount) || !isSize(width)) return values;
    const count = rowsPer * rowCount;
    if (values.length !== count * width) fail(path, `expected ${count * width} numbers, got ${values.length}`);
    return Array.from({ length: count }, (_, r) => Array.from({ length: width }, (_, k) => values[r * width + k]));
  };
  // count numbers, into an array; with a size that is not one, left for parseModel to name the size
  const flat = (values: unknown, path: string, count: unknown, per = 1): unknown => {
    if (!isArrayLike(values) || !isSize(count)) return values;
    if (values.length !== per * count) fail(path, `expected ${per * count} numbers, got ${values.length}`);
    return Array.from(values);
  };
  const layersJson = layers.map((layer: unknown, n) => {
    if (typeof layer !== "object" || layer === null) {
      inputSize = undefined; // the sizes above it are unknown: parseModel names this layer first
      return layer;
    }
    const L = layer as Record<string, unknown>;
    const H = L.hiddenSize;
    const path = `layers[${n}]`;
    refuseLookalikes(L, IN_CODE_LAYER_FIELDS, `${path}.`, fail);
    const peepholeJson = (p: Record<string, unknown>) => {
      refuseLookalikes(p, PEEPHOLE_FIELDS, `${path}.peephole.`, fail);
      return { i: flat(p.i, `${path}.peephole.i`, H), f: flat(p.f, `${path}.peephole.f`, H), o: flat(p.o, `${path}.peephole.o`, H) };
    };
    if (isSize(inputSize) && L.inputSize !== inputSize) {
      fail(`${path}.inputSize`, `expected ${describe(inputSize)} (the size of the layer's input), got ${describe(L.inputSize)}`);
    }
    const peephole = L.peephole;
    const json = {
      hiddenSize: H,
      W: rows(L.W, `${path}.W`, H, 4, inputSize),
      U: rows(L.U, `${path}.U`, H, 4, H),
      b: flat(L.b, `${path}.b`, H, 4),
      peephole: typeof peephole === "object" && peephole !== null ? peepholeJson(peephole as Record<string, unknown>) : peephole,
      tau: flat(L.tau, `${path}.tau`, H),
      shift: flat(L.shift, `${path}.shift`, H),
      rOn: flat(L.rOn, `${path}.rOn`, H),
      alpha: L.alpha,
    };
    inputSize = H;
    return json;
  });
  const readout = m.readout;
  let readoutJson: unknown = readout;
  if (typeof readout === "object" && readout !== null) {
    const r = readout as Record<string, unknown>;
    refuseLookalikes(r, IN_CODE_READOUT_FIELDS, "readout.", fail);
    if (!isSize(r.outputSize)) fail("readout.outputSize", `expected a whole number from 1 to ${MAX_SIZE}, got ${describe(r.outputSize)}`);
    const V = rows(r.V, "readout.V", r.outputSize, 1, inputSize);
    readoutJson = { mode: r.mode, V, d: flat(r.d, "readout.d", r.outputSize), ...(r.labels !== undefined ? { labels: r.labels } : {}) };
  }
  return { ...jsonHeader(m), layers: layersJson, readout: readoutJson };
}

function jsonHeader(m: Record<string, unknown>): object {
  return { format: MODEL_FORMAT, version: MODEL_VERSION, timeUnit: m.timeUnit, inputSize: m.inputSize };
}

function isArrayLike(x: unknown): x is ArrayLike<unknown> {
  if (typeof x !== "object" || x === null) return false;
  const length = (x as { length?: unknown }).length;
  return typeof length === "number" && Number.isInteger(length) && length >= 0;
}

/** parseModel on the text of a model file; text that is not JSON is rejected the same way. */
export function parseModelText(text: string, source: string): FloatModel {
  sourceName("parseModelText", source);
  if (typeof text !== "string") throw badModel(source, `expected the file's text (a string), got ${describe(text)}`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw badModel(source, `not valid JSON (${(e as Error).message})${jsonPlace(text, (e as Error).message)}`);
  }
  // JSON.parse kept the last of a name given twice, which parseModel cannot tell from a name given once
  const repeated = repeatedInFile(text, json);
  if (repeated !== undefined) throw badModel(source, repeated);
  return parseModel(json, source);
}

/**
 * ", at line L, column C" of where JSON.parse stopped, when its message gives the offset (V8: "at position N"), and
 * why, for the NaN and Infinity that Python's json.dumps writes for non-finite floats (V8 quotes the text instead
 * of an offset for those, and stops after the sign of -Infinity).
 */
function jsonPlace(text: string, message: string): string {
  const position = /at position (\d+)/.exec(message);
  let offset = position === null ? -1 : Number(position[1]);
  let nonFinite = offset > 0 && text.startsWith("-Infinity", offset - 1);
  if (nonFinite) offset--;
  if (position === null && /^Unexpected token '[NI]'/.test(message)) {
    offset = text.search(/NaN|Infinity/);
    nonFinite = offset >= 0;
  }
  if (offset < 0) return "";
  const place = `, at ${lineAndColumn(text, offset)}`;
  return nonFinite ? `${place}: NaN and Infinity are no JSON numbers, and a model's numbers must be finite` : place;
}

/** The exact JSON object of formats.md for a model: parseModel(modelToJson(m)) gives m back, number for number. */
export function modelToJson(model: FloatModel): object {
  return modelJson(model, "model") as object;
}

type Fail = (path: string, why: string) => never;

function parseLayer(json: unknown, path: string, inputSize: number, inputName: string, fail: Fail): LayerParams {
  const layer = objectAt(json, path, fail);
  refuseLookalikes(layer, LAYER_FIELDS, `${path}.`, fail);
  const H = sizeAt(layer.hiddenSize, `${path}.hiddenSize`, fail);
  const vector = (field: string, check?: ElementCheck) =>
    vectorAt(layer[field], `${path}.${field}`, H, "hiddenSize", fail, check);
  const W = matrixAt(layer.W, `${path}.W`, 4 * H, "4 x hiddenSize", inputSize, inputName, fail);
  const U = matrixAt(layer.U, `${path}.U`, 4 * H, "4 x hiddenSize", H, "hiddenSize", fail);
  const b = vectorAt(layer.b, `${path}.b`, 4 * H, "4 x hiddenSize", fail);
  let peephole: LayerParams["peephole"] = null;
  if (layer.peephole !== null && layer.peephole !== undefined) {
    const p = objectAt(layer.peephole, `${path}.peephole`, fail);
    refuseLookalikes(p, PEEPHOLE_FIELDS, `${path}.peephole.`, fail);
    const gate = (g: "i" | "f" | "o") => vectorAt(p[g], `${path}.peephole.${g}`, H, "hiddenSize", fail);
    peephole = { i: gate("i"), f: gate("f"), o: gate("o") };
  }
  const { tauMin, tauMax, rOnMin } = TIME_GATE_RANGE;
  const tau = vector("tau", (x) => (x >= tauMin && x <= tauMax ? null : "a period in [2^-20, 2^42] time units (the range every engine computes exactly)"));
  const shift = vector("shift", () => null);
  const rOn = vector("rOn", (x) => (x >= rOnMin && x <= 1 ? null : "an open ratio in [2^-16, 1] (the range every engine computes exactly)"));
  let alpha = 0;
  if (layer.alpha !== undefined) {
    alpha = finiteAt(layer.alpha, `${path}.alpha`, fail);
    if (alpha < 0) fail(`${path}.alpha`, `expected a leak alpha >= 0, got ${alpha}`);
  }
  return { inputSize, hiddenSize: H, W, U, b, peephole, tau, shift, rOn, alpha };
}

function parseReadout(json: unknown, H: number, fail: Fail): Readout {
  const readout = objectAt(json, "readout", fail);
  refuseLookalikes(readout, READOUT_FIELDS, "readout.", fail);
  const mode = readout.mode;
  if (mode !== "last" && mode !== "every") fail("readout.mode", `expected "last" or "every", got ${describe(mode)}`);
  const rows = readout.V;
  if (!Array.isArray(rows) || rows.length === 0) {
    fail("readout.V", `expected a non-empty array of rows (one per output) of ${H} numbers (hiddenSize of the last layer), got ${countOf(rows)}`);
  }
  const O = (rows as unknown[]).length;
  if (O > MAX_SIZE) fail("readout.V", `expected at most ${MAX_SIZE} rows (outputs), got ${O}`);
  const V = matrixAt(rows, "readout.V", O, "outputs", H, "hiddenSize of the last layer", fail);
  const d = vectorAt(readout.d, "readout.d", O, "one per row of readout.V", fail);
  const result: Readout = { mode: mode as ReadoutMode, outputSize: O, V, d };
  if (readout.labels !== undefined) {
    const labels = readout.labels;
    if (!Array.isArray(labels) || labels.length !== O) {
      fail("readout.labels", `expected ${O} strings (one per row of readout.V), got ${countOf(labels)}`);
    }
    (labels as unknown[]).forEach((label, k) => {
      if (typeof label !== "string") fail(`readout.labels[${k}]`, `expected a string, got ${describe(label)}`);
    });
    result.labels = [...(labels as string[])];
  }
  return result;
}

/** Returns null when x is acceptable, otherwise what was expected ("a period > 0"). */
type ElementCheck = (x: number) => string | null;

/** Weights, biases, peepholes and the readout: the float engine holds them as f32, so every engine refuses more. */
const weightCheck: ElementCheck = (x) => (Math.abs(x) <= F32_MAX ? null : "a number within the 32-bit float range (+-3.4e38) the engines take");

// The format's names at each level of a model file (formats.md; `sensors`, the gateway's sensor declaration,
// docs/gateway.md). A file's fields of its own are ignored, but not one that looks like one of these misspelt: an
// optional field misspelt would be ignored with them, and the model run as if it were absent.
const MODEL_FIELDS = ["format", "version", "timeUnit", "inputSize", "layers", "readout", "sensors"];
const LAYER_FIELDS = ["hiddenSize", "W", "U", "b", "peephole", "tau", "shift", "rOn", "alpha"];
const PEEPHOLE_FIELDS = ["i", "f", "o"];
const READOUT_FIELDS = ["mode", "V", "d", "labels"];
/** A model built in code holds each layer's input size and the readout's output size beside them (LayerParams, Readout). */
const IN_CODE_LAYER_FIELDS = [...LAYER_FIELDS, "inputSize"];
const IN_CODE_READOUT_FIELDS = [...READOUT_FIELDS, "outputSize"];

function objectAt(json: unknown, path: string, fail: Fail): Record<string, unknown> {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    fail(path, `expected an object, got ${describe(json)}`);
  }
  return json as Record<string, unknown>;
}

function finiteAt(json: unknown, path: string, fail: Fail): number {
  if (typeof json !== "number" || !Number.isFinite(json)) fail(path, `expected a finite number, got ${describe(json)}`);
  return json as number;
}

function sizeAt(json: unknown, path: string, fail: Fail): number {
  if (typeof json !== "number" || !Number.isInteger(json) || json < 1 || json > MAX_SIZE) {
    fail(path, `expected a whole number from 1 to ${MAX_SIZE}, got ${describe(json)}`);
  }
  return json as number;
}

function vectorAt(
  json: unknown,
  path: string,
  length: number,
  meaning: string,
  fail: Fail,
  check: ElementCheck = weightCheck,
  out = new Float64Array(length),
  offset = 0,
): Float64Array {
  if (!Array.isArray(json) || json.length !== length) {
    fail(path, `expected ${length} numbers (${meaning}), got ${countOf(json)}`);
  }
  const values = json as unknown[];
  for (let k = 0; k < length; k++) {
    const x = finiteAt(values[k], `${path}[${k}]`, fail);
    const expected = check(x);
    if (expected) fail(`${path}[${k}]`, `expected ${expected}, got ${x}`);
    out[offset + k] = x;
  }
  return out;
}

/** rows x cols, row-major, from an array of row arrays. */
function matrixAt(
  json: unknown,
  path: string,
  rows: number,
  rowsMeaning: string,
  cols: number,
  colsMeaning: string,
  fail: Fail,
): Float64Array {
  if (!Array.isArray(json) || json.length !== rows) {
    fail(path, `expected ${rows} rows (${rowsMeaning}) of ${cols} numbers (${colsMeaning}), got ${countOf(json)}`);
  }
  const out = new Float64Array(rows * cols);
  (json as unknown[]).forEach((row, r) => vectorAt(row, `${path}[${r}]`, cols, colsMeaning, fail, undefined, out, r * cols));
  return out;
}

/** How a wrong length reads in a message: "2" for an array of 2 entries, otherwise what was there instead. */
function countOf(json: unknown): string {
  if (Array.isArray(json)) return `${json.length}`;
  return json === undefined ? describe(json) : `${describe(json)}, not an array`;
}

/** How a wrong value reads in a message: the value itself for a scalar. */
function describe(json: unknown): string {
  if (json === undefined) return "nothing (missing)";
  if (Array.isArray(json)) return `an array of ${json.length}`;
  if (typeof json === "number") return `${json}`;
  if (typeof json === "string") return quote(json);
  if (typeof json === "bigint") return `${json}n`;
  if (json === null) return "null";
  return typeof json === "object" ? "an object" : `a ${typeof json}`;
}
