/**
 * The .plsm container (docs/plsm.md): writing it from a float model (kind 2, f32, what the float wasm engine
 * runs) or from a float model and a fixed-point plan (kind 1, what `phasor quantize` writes), and reading a
 * fixed one back into the float model it stands for. The wasm module checks every image it is given
 * (assembly/model.ts); the reader here checks what it needs itself, so it never trusts a size it has not
 * compared with the file length.
 */
import {
  HEADER_BYTES, HEADER_FILE_BYTES, HEADER_INPUT_FRAC, HEADER_INPUT_SIZE, HEADER_KIND, HEADER_LAYER_COUNT, HEADER_META_AT, HEADER_META_BYTES,
  HEADER_OUTPUT_SIZE, HEADER_READOUT_AT, HEADER_READOUT_MODE, HEADER_TICKS_LOG2, HEADER_VERSION, KIND_FIXED, KIND_FLOAT, LAYER_DESC_BYTES,
  LANE_CHUNK_COLUMNS, LAYER_FLAGS, LAYER_INT8, LAYER_PEEPHOLES, INT8_LIMIT, LAYER_HIDDEN_SIZE, LAYER_INPUT_SIZE, LAYER_P_FRAC, LAYER_TIME_AT, LAYER_U_AT, LAYER_UNITS_AT, LAYER_W_AT, MAX_LAYERS, MAX_SIZE,
  PLSM_MAGIC, PLSM_VERSION, PRE_FRAC, READOUT_DESC_BYTES, READOUT_ROWS_AT, READOUT_V_AT, ROW_BIAS, ROW_L1_LIMIT, ROW_RECORD_BYTES, ROW_V_FRAC,
  TIME_HALF_ON, TIME_RECORD_BYTES, TIME_R_ON, TIME_SHIFT, TIME_STEP, TIME_STEP_LOW, TIME_TAU, UNIT_BIAS, UNIT_PEEPHOLE, UNIT_PEEPHOLE_FLOAT,
  UNIT_RECORD_BYTES, UNIT_U_FRAC, UNIT_W_FRAC, FRAC_MAX, FRAC_MIN, MAX_TICKS_LOG2, JSON_MAX_NESTING, MIN_OPEN_TICKS,
} from "../../assembly/contract/plsm.js";
import { PhasorError, badModel, sourceName } from "../errors.js";
import { nestedBeyond, repeatedName, tooDeepFirst } from "../json-text.js";
import { TIME_GATE_RANGE, checkModel, type FloatModel, type LayerParams } from "./model.js";

// The file's layout and ranges are the wasm reader's (assembly/contract/plsm.ts); these are what the host's users import.
export { FRAC_MAX, FRAC_MIN, INT8_LIMIT, KIND_FIXED, LANE_CHUNK_COLUMNS, KIND_FLOAT, MAX_TICKS_LOG2, MIN_OPEN_TICKS, PLSM_MAGIC, PLSM_VERSION, PRE_FRAC, ROW_L1_LIMIT };
/**
 * The largest sum of |w_q| over one lane-chunk of a U row of `columns` columns (assembly/contract/plsm.ts,
 * LANE_CHUNK_COLUMNS): the columns c of one 128-column chunk with c mod 8 in {2 lane, 2 lane + 1}, which one lane
 * of the SIMD build sums in i32. `at(c)` is column c's w_q.
 */
export function laneChunkL1(at: (c: number) => number, columns: number): { sum: number; chunk: number; lane: number } {
  const sums = new Float64Array(4 * Math.ceil(columns / LANE_CHUNK_COLUMNS));
  for (let c = 0; c < columns; c++) sums[4 * Math.floor(c / LANE_CHUNK_COLUMNS) + ((c >> 1) & 3)] += Math.abs(at(c));
  let worst = 0;
  for (let k = 1; k < sums.length; k++) if (sums[k] > sums[worst]) worst = k;
  return { sum: sums[worst] ?? 0, chunk: worst >> 2, lane: worst & 3 };
}

/** The largest image a wasm engine takes: 2 GiB of its 4 GiB of memory, the rest for streams and scratch. */
export const MAX_IMAGE_BYTES = 2 ** 31;

/** Number formats of a fixed-point model: everything the quantizer decides (docs/fixed-point.md). */
export interface FixedPlan {
  /** ticks per time unit = 2^ticksLog2 */
  ticksLog2: number;
  /** fractional bits of the quantized layer-0 input */
  inputFrac: number;
  layers: {
    /** fractional bits of each W row and U row, indexed like the model's rows (gate * H + unit) */
    wFrac: Int8Array;
    uFrac: Int8Array;
    pFrac: number;
    /** W and U as int8 (LAYER_INT8, within +-INT8_LIMIT) instead of int16, in the same row formats */
    int8?: boolean;
  }[];
  /** fractional bits of each readout row */
  vFrac: Int8Array;
}

export interface PlsmFile {
  kind: typeof KIND_FIXED | typeof KIND_FLOAT;
  /** the model the file stands for: for a fixed file, its weights de-quantized */
  model: FloatModel;
  plan?: FixedPlan;
  bytes: Uint8Array;
  meta: Record<string, unknown>;
  /** the metadata's text, as JSON.parse read it into `meta` (decodePlsm gives it): for a reader that looks for what
   * it dropped (a name of the gateway's given twice inside `sensors`) */
  metaText?: string;
}

// The padding of assembly/padding.ts, with which the module reads this layout (TypeScript cannot share its code).
const pad8 = (n: number) => (n + 7) & ~7;
const align16 = (n: number) => (n + 15) & ~15;

// The .plsm checksum, as assembly/crc32.ts computes it when the module checks a file (TypeScript cannot share its
// code; node's zlib crc32 is not in the browser).
let crcTable: Uint32Array | undefined;
export function crc32(bytes: Uint8Array, end = bytes.length): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < end; i++) c = crcTable[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Bytes of one W or U element of layer n: f32, int16, or int8 in a layer the plan gives int8 weights. */
function weightBytes(kind: number, plan: FixedPlan | undefined, n: number): number {
  return kind !== KIND_FIXED ? 4 : plan?.layers[n].int8 ? 1 : 2;
}

/** Refuses a file longer than a wasm engine holds (encodePlsm and withMetadata, before they write it). */
function checkImageBytes(fileBytes: number): void {
  if (fileBytes > MAX_IMAGE_BYTES) {
    throw badModel("model", `its .plsm image would take ${fileBytes} bytes, more than the ${MAX_IMAGE_BYTES} a wasm engine holds`);
  }
}

/** The length of a file whose metadata, its last region, starts at `metaAt`: the metadata padded to 4, the checksum. */
const imageBytes = (metaAt: number, metaBytes: number) => ((metaAt + metaBytes + 3) & ~3) + 4;

/** Offsets of every region of a file for the given shapes: the one place the layout is computed. */
function layout(model: FloatModel, kind: number, metaBytes: number, plan?: FixedPlan) {
  const eb = kind === KIND_FIXED ? 2 : 4;
  let at = align16(HEADER_BYTES + model.layers.length * LAYER_DESC_BYTES);
  const readoutDesc = at;
  at = align16(at + READOUT_DESC_BYTES);
  const layers = model.layers.map((L, n) => {
    const H = L.hiddenSize;
    const wb = weightBytes(kind, plan, n);
    const W = at;
    at = align16(at + H * 4 * pad8(L.inputSize) * wb);
    const U = at;
    at = align16(at + H * 4 * pad8(H) * wb);
    const units = at;
    at = align16(at + H * UNIT_RECORD_BYTES);
    const time = at;
    at = align16(at + H * TIME_RECORD_BYTES);
    return { W, U, units, time };
  });
  const lastH = model.layers[model.layers.length - 1].hiddenSize;
  const V = at;
  at = align16(at + model.readout.outputSize * pad8(lastH) * eb);
  const rows = at;
  at = align16(at + model.readout.outputSize * ROW_RECORD_BYTES);
  const meta = at;
  return { readoutDesc, layers, V, rows, meta, fileBytes: imageBytes(meta, metaBytes) };
}

function quantize(value: number, frac: number, limit: number): number {
  const q = Math.round(value * 2 ** frac);
  return Math.max(-limit, Math.min(limit, q));
}

/**
 * The phase advance per tick of a unit of period tau at 2^ticksLog2 ticks per time unit, as a Q0.96 fraction of a
 * period, from tau's exact binary value (BigInt): round(2^96 / (tau 2^ticksLog2)) mod 2^96, half up, split into
 * the high 64 bits (`step`, the Q0.64 step) and the low 32 (`low`); and `step64`, the step rounded to 64 bits
 * instead, as files held it before the low bits were written. assembly/phase.ts computes the same by long division.
 */
export function phaseStep(tau: number, ticksLog2: number): { step: bigint; low: number; step64: bigint } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, tau);
  const bits = view.getBigUint64(0);
  const exponentField = Number((bits >> 52n) & 0x7ffn);
  const mantissa = (bits & ((1n << 52n) - 1n)) | (exponentField === 0 ? 0n : 1n << 52n);
  const exponent = (exponentField === 0 ? 1 : exponentField) - 1075; // tau = mantissa * 2^exponent
  // 2^b / (mantissa 2^(exponent + ticksLog2)), rounded half up
  const rounded = (b: number) => {
    const k = b - exponent - ticksLog2;
    return k < 0 ? 0n : ((1n << BigInt(k + 1)) / mantissa + 1n) >> 1n;
  };
  const step96 = rounded(96) & ((1n << 96n) - 1n);
  return { step: step96 >> 32n, low: Number(step96 & 0xffffffffn), step64: rounded(64) & ((1n << 64n) - 1n) };
}

function writeHeader(view: DataView, model: FloatModel, kind: number, L: ReturnType<typeof layout>, plan?: FixedPlan) {
  view.setUint32(0, PLSM_MAGIC, true);
  view.setUint16(HEADER_VERSION, PLSM_VERSION, true);
  view.setUint16(HEADER_KIND, kind, true);
  view.setUint32(HEADER_FILE_BYTES, L.fileBytes, true);
  view.setUint32(HEADER_INPUT_SIZE, model.inputSize, true);
  view.setUint32(HEADER_LAYER_COUNT, model.layers.length, true);
  view.setUint32(HEADER_OUTPUT_SIZE, model.readout.outputSize, true);
  view.setUint32(HEADER_READOUT_MODE, model.readout.mode === "last" ? 0 : 1, true);
  view.setInt32(HEADER_TICKS_LOG2, plan ? plan.ticksLog2 : 0, true);
  view.setInt32(HEADER_INPUT_FRAC, plan ? plan.inputFrac : 0, true);
  view.setUint32(HEADER_READOUT_AT, L.readoutDesc, true);
  view.setUint32(HEADER_META_AT, L.meta, true);
}

/**
 * Writes a .plsm image; kind 1 (fixed) when a plan is given, kind 2 (float32) otherwise. The model is held to the
 * JSON reader's rules first: a short array or a NaN would otherwise be written into a file that reads back as
 * another model, or not at all.
 */
export function encodePlsm(model: FloatModel, plan?: FixedPlan, meta: Record<string, unknown> = {}): Uint8Array {
  checkModel(model, "model");
  if (typeof meta !== "object" || meta === null || Array.isArray(meta)) throw new PhasorError("bad-args", "encodePlsm: meta must be an object of JSON values");
  // the reader takes these two back into the model it decodes: a meta's would stand in for the model's own
  for (const key of ["timeUnit", "labels"]) {
    if (meta[key] !== undefined) throw new PhasorError("bad-args", `encodePlsm: meta.${key} would replace the model's own ${key} in the file; it is the model's to give`);
  }
  const kind = plan ? KIND_FIXED : KIND_FLOAT;
  const metaText = metadataBytes({ timeUnit: model.timeUnit, ...(model.readout.labels ? { labels: model.readout.labels } : {}), ...meta });
  const L = layout(model, kind, metaText.length, plan);
  checkImageBytes(L.fileBytes);
  const bytes = new Uint8Array(L.fileBytes);
  const view = new DataView(bytes.buffer);
  writeHeader(view, model, kind, L, plan);
  view.setUint32(HEADER_META_BYTES, metaText.length, true);
  model.layers.forEach((layer, n) => {
    const d = HEADER_BYTES + n * LAYER_DESC_BYTES;
    const at = L.layers[n];
    view.setUint32(d + LAYER_INPUT_SIZE, layer.inputSize, true);
    view.setUint32(d + LAYER_HIDDEN_SIZE, layer.hiddenSize, true);
    view.setUint32(d + LAYER_FLAGS, (layer.peephole ? LAYER_PEEPHOLES : 0) | (plan?.layers[n].int8 ? LAYER_INT8 : 0), true);
    view.setInt32(d + LAYER_P_FRAC, plan ? plan.layers[n].pFrac : 0, true);
    view.setUint32(d + LAYER_W_AT, at.W, true);
    view.setUint32(d + LAYER_U_AT, at.U, true);
    view.setUint32(d + LAYER_UNITS_AT, at.units, true);
    view.setUint32(d + LAYER_TIME_AT, at.time, true);
    writeLayer(view, layer, at, plan?.layers[n], plan?.ticksLog2 ?? 0);
  });
  view.setUint32(L.readoutDesc + READOUT_V_AT, L.V, true);
  view.setUint32(L.readoutDesc + READOUT_ROWS_AT, L.rows, true);
  const { V, d, outputSize } = model.readout;
  const H = model.layers[model.layers.length - 1].hiddenSize;
  const Hp = pad8(H);
  for (let o = 0; o < outputSize; o++) {
    for (let j = 0; j < H; j++) {
      const w = V[o * H + j];
      if (plan) view.setInt16(L.V + 2 * (o * Hp + j), quantize(w, plan.vFrac[o], 32767), true);
      else view.setFloat32(L.V + 4 * (o * Hp + j), w, true);
    }
    if (plan) {
      view.setInt32(L.rows + ROW_RECORD_BYTES * o + ROW_BIAS, quantize(d[o], plan.vFrac[o] + 15, 0x7fffffff), true);
      view.setInt32(L.rows + ROW_RECORD_BYTES * o + ROW_V_FRAC, plan.vFrac[o], true);
    } else {
      view.setFloat32(L.rows + ROW_RECORD_BYTES * o + ROW_BIAS, d[o], true);
    }
  }
  bytes.set(metaText, L.meta);
  view.setUint32(L.fileBytes - 4, crc32(bytes, L.fileBytes - 4), true);
  return bytes;
}

/** The top-level names of the metadata that readers take: timeUnit and labels (decodePlsm, phasor-wasi), sensors
 * (the gateway). */
const METADATA_READ = ["timeUnit", "labels", "sensors"];

/**
 * A metadata object as a .plsm holds it (UTF-8 JSON), refused when it nests arrays and objects deeper than
 * phasor-wasi reads (JSON_MAX_NESTING): a file written with it would run under `phasor run` and be refused on the
 * device. Only a sensor declaration with fields of its own can go so deep; `phasor quantize` asks before it quantizes
 * (`what` names what would go there).
 */
export function metadataBytes(meta: Record<string, unknown>, what = "a .plsm's metadata"): Uint8Array {
  const text = new TextEncoder().encode(JSON.stringify(meta));
  if (nestedBeyond(text, JSON_MAX_NESTING) >= 0) {
    throw new PhasorError("bad-model", `${what} would nest arrays and objects more than ${JSON_MAX_NESTING} deep, which phasor-wasi does not read`);
  }
  return text;
}

/**
 * The image of a decoded .plsm with another metadata object and nothing else changed. The metadata is the file's
 * last region, so every byte before it stays as it is, and only its length, the file's and the checksum follow:
 * `phasor quantize` adds a sensor declaration this way to the image it has checked on the fixed engine, without
 * quantizing again. `timeUnit` and `labels` are the model's: a `meta` that changes them is refused, as encodePlsm
 * refuses one that gives them.
 */
export function withMetadata(file: PlsmFile, meta: Record<string, unknown>): Uint8Array {
  if (typeof meta !== "object" || meta === null || Array.isArray(meta)) throw new PhasorError("bad-args", "withMetadata: meta must be an object of JSON values");
  for (const key of ["timeUnit", "labels"]) {
    if (JSON.stringify(meta[key]) !== JSON.stringify(file.meta[key])) {
      throw new PhasorError("bad-args", `withMetadata: meta.${key} would change the model's own ${key} in the file; it is the model's to give`);
    }
  }
  const view = new DataView(file.bytes.buffer, file.bytes.byteOffset, file.bytes.byteLength);
  const metaAt = view.getUint32(HEADER_META_AT, true);
  // every writer here puts it last; a file that does not would lose what follows it
  if (imageBytes(metaAt, view.getUint32(HEADER_META_BYTES, true)) !== file.bytes.length) {
    throw new PhasorError("bad-args", "withMetadata: the file's metadata is not its last region, so it cannot be replaced in place");
  }
  const metaText = metadataBytes(meta);
  const fileBytes = imageBytes(metaAt, metaText.length);
  checkImageBytes(fileBytes);
  const bytes = new Uint8Array(fileBytes);
  bytes.set(file.bytes.subarray(0, metaAt));
  bytes.set(metaText, metaAt);
  const out = new DataView(bytes.buffer);
  out.setUint32(HEADER_FILE_BYTES, fileBytes, true);
  out.setUint32(HEADER_META_BYTES, metaText.length, true);
  out.setUint32(fileBytes - 4, crc32(bytes, fileBytes - 4), true);
  return bytes;
}

function writeLayer(
  view: DataView,
  layer: LayerParams,
  at: { W: number; U: number; units: number; time: number },
  plan: FixedPlan["layers"][number] | undefined,
  ticksLog2: number,
) {
  const { inputSize: I, hiddenSize: H } = layer;
  const Ip = pad8(I);
  const Hp = pad8(H);
  /** Element e of a W or U region at `base`, in row format `frac`: f32, int16 or int8 as the layer holds them. */
  const setWeight = (base: number, e: number, w: number, frac: number) => {
    if (!plan) view.setFloat32(base + 4 * e, w, true);
    else if (plan.int8) view.setInt8(base + e, quantize(w, frac, INT8_LIMIT));
    else view.setInt16(base + 2 * e, quantize(w, frac, 32767), true);
  };
  for (let j = 0; j < H; j++) {
    for (let g = 0; g < 4; g++) {
      const r = g * H + j; // the model's row of gate g, unit j
      for (let i = 0; i < I; i++) setWeight(at.W, (j * 4 + g) * Ip + i, layer.W[r * I + i], plan ? plan.wFrac[r] : 0);
      for (let i = 0; i < H; i++) setWeight(at.U, (j * 4 + g) * Hp + i, layer.U[r * H + i], plan ? plan.uFrac[r] : 0);
    }
    const u = at.units + j * UNIT_RECORD_BYTES;
    const peep = layer.peephole ? [layer.peephole.i[j], layer.peephole.f[j], layer.peephole.o[j], 0] : [0, 0, 0, 0];
    for (let g = 0; g < 4; g++) {
      const b = layer.b[g * H + j];
      if (plan) {
        view.setInt32(u + UNIT_BIAS + 4 * g, quantize(b, PRE_FRAC, 0x7fffffff), true);
        view.setInt8(u + UNIT_W_FRAC + g, plan.wFrac[g * H + j]);
        view.setInt8(u + UNIT_U_FRAC + g, plan.uFrac[g * H + j]);
        view.setInt16(u + UNIT_PEEPHOLE + 2 * g, quantize(peep[g], plan.pFrac, 32767), true);
      } else {
        view.setFloat32(u + UNIT_BIAS + 4 * g, b, true);
        view.setFloat32(u + UNIT_PEEPHOLE_FLOAT + 4 * g, peep[g], true);
      }
    }
    const t = at.time + j * TIME_RECORD_BYTES;
    view.setFloat64(t + TIME_TAU, layer.tau[j], true);
    view.setFloat64(t + TIME_SHIFT, layer.shift[j], true);
    if (plan) {
      const { step, low } = phaseStep(layer.tau[j], ticksLog2);
      view.setBigUint64(t + TIME_STEP, step, true);
      view.setUint32(t + TIME_HALF_ON, halfOnOf(layer.rOn[j]), true);
      view.setUint32(t + TIME_STEP_LOW, low, true);
    } else {
      view.setFloat64(t + TIME_R_ON, layer.rOn[j], true);
    }
  }
}

/** r_on / 2 in Q0.32, as a fixed file holds it. */
export function halfOnOf(rOn: number): number {
  return Math.max(1, Math.min(0x80000000, Math.round(rOn * 2 ** 31)));
}

/** The ticks a unit's open window spans in a fixed file, computed as assembly/model.ts computes it. */
export function openTicks(tau: number, ticksLog2: number, rOn: number): number {
  return tau * 2 ** ticksLog2 * rOn;
}

/** A model file's bytes, checked to be bytes: anything else (a string, an array of numbers) is not read as one. */
export function modelFileBytes(bytes: unknown, source: string): Uint8Array {
  sourceName("reading a model file", source);
  if (!(bytes instanceof Uint8Array)) throw new PhasorError("bad-args", `${source}: expected the file's bytes as a Uint8Array, got ${bytes === null ? "null" : typeof bytes}`);
  return bytes;
}

/**
 * Reads a fixed-point .plsm back into the float model it stands for (weights de-quantized, tau and shift
 * exact, r_on as the file holds it). Checks magic, version, kind, length and checksum first, then reads
 * through bounds-checked views only.
 */
export function decodePlsm(bytes: Uint8Array, source: string): PlsmFile {
  const fail = (why: string) => badModel(source, why);
  modelFileBytes(bytes, source);
  if (bytes.length < HEADER_BYTES + 4) throw fail(`${bytes.length} bytes is too short for a .plsm header and checksum`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== PLSM_MAGIC) throw fail("bad magic: not a .plsm file");
  const version = view.getUint16(HEADER_VERSION, true);
  if (version !== PLSM_VERSION) throw fail(`unsupported .plsm version ${version} (this reader knows version ${PLSM_VERSION})`);
  const kind = view.getUint16(HEADER_KIND, true);
  if (kind !== KIND_FIXED && kind !== KIND_FLOAT) throw fail(`unknown .plsm kind ${kind}`);
  const fileBytes = view.getUint32(HEADER_FILE_BYTES, true);
  if (fileBytes !== bytes.length) throw fail(`header says ${fileBytes} bytes but the file has ${bytes.length} (truncated or padded)`);
  if (view.getUint32(fileBytes - 4, true) !== crc32(bytes, fileBytes - 4)) throw fail("checksum mismatch: the file is corrupted");
  const inputSize = view.getUint32(HEADER_INPUT_SIZE, true);
  const layerCount = view.getUint32(HEADER_LAYER_COUNT, true);
  const outputSize = view.getUint32(HEADER_OUTPUT_SIZE, true);
  const mode = view.getUint32(HEADER_READOUT_MODE, true);
  if (layerCount < 1 || layerCount > MAX_LAYERS || inputSize < 1 || inputSize > MAX_SIZE || outputSize < 1 || outputSize > MAX_SIZE || mode > 1) {
    throw fail(`implausible header: inputSize ${inputSize}, ${layerCount} layers, outputSize ${outputSize}, readout mode ${mode}`);
  }
  const need = (offset: number, length: number, what: string, aligned = true) => {
    if (offset < HEADER_BYTES || offset + length > fileBytes - 4) throw fail(`${what} (offset ${offset}, ${length} bytes) lies outside the file`);
    if (aligned && offset % 16 !== 0) throw fail(`${what} at offset ${offset} is not 16-byte aligned`);
  };
  const inRange = (value: number, lo: number, hi: number, what: string) => {
    if (!(Number.isInteger(value) && value >= lo && value <= hi)) throw fail(`${what} ${value} is outside ${lo}..${hi}`);
  };
  /** The checks of assembly/model.ts on weight rows: zero padding; fixed rows without -32768 and with sum |w_q|
   * <= ROW_L1_LIMIT (so no i32 dot product can overflow), or for U (`lanes`) each lane-chunk's sum (laneChunkL1);
   * float rows finite. */
  const checkRows = (at: number, rows: number, used: number, padded: number, what: string, int8 = false, lanes = false) => {
    const read = (e: number) =>
      kind !== KIND_FIXED ? view.getFloat32(at + 4 * e, true) : int8 ? view.getInt8(at + e) : view.getInt16(at + 2 * e, true);
    for (let r = 0; r < rows; r++) {
      let l1 = 0;
      for (let i = 0; i < padded; i++) {
        const w = read(r * padded + i);
        // padding is +0 in every bit, as assembly/model.ts checks it: -0 is refused too
        if (i >= used && !Object.is(w, 0)) throw fail(`${what} row ${r} has nonzero padding`);
        if (kind === KIND_FIXED && w === (int8 ? -128 : -32768)) throw fail(`${what} row ${r} holds ${w}, outside the symmetric ${int8 ? "int8" : "int16"} range`);
        if (!Number.isFinite(w)) throw fail(`${what} row ${r} holds a non-finite weight`);
        l1 += Math.abs(w);
      }
      if (kind === KIND_FIXED && l1 > ROW_L1_LIMIT) {
        if (!lanes) throw fail(`${what} row ${r}: sum of |w| is ${l1}, over ${ROW_L1_LIMIT} (a 32-bit sum could overflow)`);
        const worst = laneChunkL1((c) => read(r * padded + c), padded);
        if (worst.sum > ROW_L1_LIMIT) {
          const from = worst.chunk * LANE_CHUNK_COLUMNS;
          throw fail(
            `${what} row ${r}: sum of |w| is ${worst.sum} over its columns ${from}..${Math.min(from + LANE_CHUNK_COLUMNS, padded) - 1} with ` +
              `c mod 8 in {${2 * worst.lane}, ${2 * worst.lane + 1}}, over ${ROW_L1_LIMIT} (SIMD lane ${worst.lane} of a ` +
              `${LANE_CHUNK_COLUMNS}-column chunk: its 32-bit sum could overflow)`,
          );
        }
      }
    }
  };
  need(HEADER_BYTES, layerCount * LAYER_DESC_BYTES, "layer table");
  const eb = kind === KIND_FIXED ? 2 : 4;
  /** Element e of a weight region at `at` in row format `frac`, de-quantized; wb its element's bytes. */
  const weight = (at: number, e: number, wb: number, frac: number) =>
    wb === 4 ? view.getFloat32(at + 4 * e, true) : (wb === 1 ? view.getInt8(at + e) : view.getInt16(at + 2 * e, true)) * 2 ** -frac;
  const ticksLog2 = view.getInt32(HEADER_TICKS_LOG2, true);
  const inputFrac = view.getInt32(HEADER_INPUT_FRAC, true);
  if (kind === KIND_FIXED) {
    inRange(ticksLog2, 0, MAX_TICKS_LOG2, "ticksLog2");
    inRange(inputFrac, FRAC_MIN, FRAC_MAX, "inputFrac");
  }
  const plan: FixedPlan = { ticksLog2, inputFrac, layers: [], vFrac: new Int8Array(outputSize) };
  const layers: LayerParams[] = [];
  let I = inputSize;
  for (let n = 0; n < layerCount; n++) {
    const d = HEADER_BYTES + n * LAYER_DESC_BYTES;
    const layerI = view.getUint32(d + LAYER_INPUT_SIZE, true);
    const H = view.getUint32(d + LAYER_HIDDEN_SIZE, true);
    if (layerI !== I) throw fail(`layer ${n} input size ${layerI} does not match the size below it, ${I}`);
    if (H < 1 || H > MAX_SIZE) throw fail(`layer ${n} hidden size ${H} is outside 1..${MAX_SIZE}`);
    const flags = view.getUint32(d + LAYER_FLAGS, true);
    // int8 weights are a fixed-point format only
    if (flags > (kind === KIND_FIXED ? LAYER_PEEPHOLES | LAYER_INT8 : LAYER_PEEPHOLES)) throw fail(`layer ${n} has unknown flags ${flags}`);
    const peephole = (flags & LAYER_PEEPHOLES) !== 0;
    const int8 = (flags & LAYER_INT8) !== 0;
    const wb = int8 ? 1 : eb;
    const pFrac = view.getInt32(d + LAYER_P_FRAC, true);
    if (kind === KIND_FIXED) inRange(pFrac, FRAC_MIN, FRAC_MAX, `layer ${n} peephole format`);
    const [W, U, units, time] = [LAYER_W_AT, LAYER_U_AT, LAYER_UNITS_AT, LAYER_TIME_AT].map((k) => view.getUint32(d + k, true));
    const Ip = pad8(I);
    const Hp = pad8(H);
    need(W, H * 4 * Ip * wb, `layer ${n} W`);
    need(U, H * 4 * Hp * wb, `layer ${n} U`);
    need(units, H * UNIT_RECORD_BYTES, `layer ${n} unit records`);
    need(time, H * TIME_RECORD_BYTES, `layer ${n} time records`);
    checkRows(W, 4 * H, I, Ip, `layer ${n} W`, int8);
    checkRows(U, 4 * H, H, Hp, `layer ${n} U`, int8, true);
    const p: LayerParams = {
      inputSize: I,
      hiddenSize: H,
      W: new Float64Array(4 * H * I),
      U: new Float64Array(4 * H * H),
      b: new Float64Array(4 * H),
      peephole: peephole ? { i: new Float64Array(H), f: new Float64Array(H), o: new Float64Array(H) } : null,
      tau: new Float64Array(H),
      shift: new Float64Array(H),
      rOn: new Float64Array(H),
      alpha: 0,
    };
    const lp = { wFrac: new Int8Array(4 * H), uFrac: new Int8Array(4 * H), pFrac, ...(int8 ? { int8 } : {}) };
    for (let j = 0; j < H; j++) {
      const u = units + j * UNIT_RECORD_BYTES;
      for (let g = 0; g < 4; g++) {
        const r = g * H + j;
        const wf = kind === KIND_FIXED ? view.getInt8(u + UNIT_W_FRAC + g) : 0;
        const uf = kind === KIND_FIXED ? view.getInt8(u + UNIT_U_FRAC + g) : 0;
        inRange(wf, FRAC_MIN, FRAC_MAX, `layer ${n} unit ${j} W row format`);
        inRange(uf, FRAC_MIN, FRAC_MAX, `layer ${n} unit ${j} U row format`);
        lp.wFrac[r] = wf;
        lp.uFrac[r] = uf;
        for (let i = 0; i < I; i++) p.W[r * I + i] = weight(W, (j * 4 + g) * Ip + i, wb, wf);
        for (let i = 0; i < H; i++) p.U[r * H + i] = weight(U, (j * 4 + g) * Hp + i, wb, uf);
        p.b[r] = kind === KIND_FIXED ? view.getInt32(u + UNIT_BIAS + 4 * g, true) * 2 ** -PRE_FRAC : view.getFloat32(u + UNIT_BIAS + 4 * g, true);
      }
      if (p.peephole) {
        const pe = (g: number) => (kind === KIND_FIXED ? view.getInt16(u + UNIT_PEEPHOLE + 2 * g, true) * 2 ** -pFrac : view.getFloat32(u + UNIT_PEEPHOLE_FLOAT + 4 * g, true));
        p.peephole.i[j] = pe(0);
        p.peephole.f[j] = pe(1);
        p.peephole.o[j] = pe(2);
      }
      const t = time + j * TIME_RECORD_BYTES;
      p.tau[j] = view.getFloat64(t + TIME_TAU, true);
      p.shift[j] = view.getFloat64(t + TIME_SHIFT, true);
      p.rOn[j] = kind === KIND_FIXED ? view.getUint32(t + TIME_HALF_ON, true) * 2 ** -31 : view.getFloat64(t + TIME_R_ON, true);
      checkTimeGate(p.tau[j], p.shift[j], p.rOn[j], kind === KIND_FIXED ? ticksLog2 : undefined, view, t, (why) => fail(`layer ${n} unit ${j}: ${why}`));
      const biases = [0, 1, 2, 3].map((g) => p.b[g * H + j]);
      const peeps = p.peephole ? [p.peephole.i[j], p.peephole.f[j], p.peephole.o[j]] : [];
      if (![...biases, ...peeps].every(Number.isFinite)) throw fail(`layer ${n} unit ${j}: a bias or peephole is not finite`);
    }
    plan.layers.push(lp);
    layers.push(p);
    I = H;
  }
  const readoutDesc = view.getUint32(HEADER_READOUT_AT, true);
  need(readoutDesc, READOUT_DESC_BYTES, "readout descriptor");
  const Vat = view.getUint32(readoutDesc + READOUT_V_AT, true);
  const rows = view.getUint32(readoutDesc + READOUT_ROWS_AT, true);
  const Hp = pad8(I);
  need(Vat, outputSize * Hp * eb, "readout V");
  need(rows, outputSize * ROW_RECORD_BYTES, "readout rows");
  checkRows(Vat, outputSize, I, Hp, "readout V");
  const V = new Float64Array(outputSize * I);
  const dv = new Float64Array(outputSize);
  for (let o = 0; o < outputSize; o++) {
    const row = rows + ROW_RECORD_BYTES * o;
    const vf = kind === KIND_FIXED ? view.getInt32(row + ROW_V_FRAC, true) : 0;
    inRange(vf, FRAC_MIN, FRAC_MAX, `readout row ${o} format`);
    plan.vFrac[o] = vf;
    for (let j = 0; j < I; j++) V[o * I + j] = weight(Vat, o * Hp + j, eb, vf);
    dv[o] = kind === KIND_FIXED ? view.getInt32(row + ROW_BIAS, true) * 2 ** -(vf + 15) : view.getFloat32(row + ROW_BIAS, true);
    if (!Number.isFinite(dv[o])) throw fail(`readout row ${o}: the bias is not finite`);
  }
  const metaAt = view.getUint32(HEADER_META_AT, true);
  const metaBytes = view.getUint32(HEADER_META_BYTES, true);
  need(metaAt, metaBytes, "metadata", false);
  const metaText = new TextDecoder().decode(bytes.subarray(metaAt, metaAt + metaBytes));
  // checked as phasor-wasi checks it (assembly/wasi/labels.ts), in its order and words: both readers take a file or
  // not. It reads in order and stops at its nesting bound, so a text too deep before it goes wrong is "too deep"
  if (tooDeepFirst(metaText, JSON_MAX_NESTING)) {
    throw fail(`metadata nests arrays and objects more than ${JSON_MAX_NESTING} deep, which phasor-wasi does not read`);
  }
  let meta: Record<string, unknown>;
  try {
    meta = JSON.parse(metaText);
  } catch {
    throw fail("metadata is not valid JSON");
  }
  if (meta === null || typeof meta !== "object" || Array.isArray(meta)) throw fail("metadata is not a JSON object");
  // JSON.parse kept the last of a name given twice: labels, a time unit or a sensor declaration other than the ones
  // written. Below them the names are the gateway's (sensor-declaration.ts) or no reader's.
  const repeated = repeatedName(metaText, (name, path) => path.length === 0 && METADATA_READ.includes(name));
  if (repeated !== undefined) throw fail(`metadata gives "${repeated.name}" twice: JSON would keep only the last`);
  const labels = Array.isArray(meta.labels) && meta.labels.length === outputSize ? meta.labels.map(String) : undefined;
  const model: FloatModel = {
    timeUnit: typeof meta.timeUnit === "string" ? meta.timeUnit : "ms",
    inputSize,
    layers,
    readout: { mode: mode === 0 ? "last" : "every", outputSize, V, d: dv, ...(labels ? { labels } : {}) },
  };
  return { kind: kind as PlsmFile["kind"], model, plan: kind === KIND_FIXED ? plan : undefined, bytes, meta, metaText };
}

/**
 * The time-gate checks of both readers (assembly/model.ts checkUnits, in the same order and arithmetic): tau and
 * r_on within TIME_GATE_RANGE, a finite shift; in a fixed file (ticksLog2 given) an open window of at least
 * MIN_OPEN_TICKS ticks and tau's own phase step, at the record's offset `at`.
 */
function checkTimeGate(tau: number, shift: number, rOn: number, ticksLog2: number | undefined, view: DataView, at: number, fail: (why: string) => Error): void {
  const { tauMin, tauMax, rOnMin } = TIME_GATE_RANGE;
  if (!(tau >= tauMin && tau <= tauMax)) throw fail(`tau must be a period in [2^-20, 2^42] time units (got ${tau})`);
  if (!Number.isFinite(shift)) throw fail(`shift must be a finite number (got ${shift})`);
  if (!(rOn >= rOnMin && rOn <= 1)) throw fail(`the open ratio r_on must be in [2^-16, 1] (got ${rOn})`);
  if (ticksLog2 === undefined) return;
  const ticks = openTicks(tau, ticksLog2, rOn);
  if (!(ticks >= MIN_OPEN_TICKS)) throw fail(`the open window r_on tau must span at least ${MIN_OPEN_TICKS} ticks (got ${ticks})`);
  const expected = phaseStep(tau, ticksLog2);
  const step = view.getBigUint64(at + TIME_STEP, true);
  const low = view.getUint32(at + TIME_STEP_LOW, true);
  if (!((step === expected.step && low === expected.low) || (low === 0 && step === expected.step64))) {
    throw fail("the phase step per tick does not match tau and ticksLog2");
  }
}
