// docs/fixed-point.md, "U h in 64 bits": a U row is bounded only lane-chunk by lane-chunk (assembly/contract/plsm.ts,
// LANE_CHUNK_COLUMNS), so its U h can pass 2^31 and every build must sum it exactly in 64 bits. The models here have
// U rows far over the whole-row bound of 65538 (within the lane-chunk one) and are driven so that h stays near 1
// and their U h sums reach about 2.5 x 2^31: an i32 sum would wrap by 2^32, 2 in the gate's pre-activation, and
// h would leave plstm.md section 3's tolerances. The SIMD, scalar and microcontroller builds must give the same
// bits and stay within them; a file over the lane-chunk bound is refused by the host and library readers, naming the
// row (the microcontroller builds, which need no bound on U, run it exactly); the quantizer uses the bound for
// finer U formats.
import "../host/node.js";
import { describe, expect, it } from "vitest";
import { compareEngines } from "../host/engine/compare.js";
import { createEngine, loadModelBytes, type LoadedModel } from "../host/engine/create.js";
import type { Engine } from "../host/engine/engine.js";
import { ReferenceEngine } from "../host/engine/reference.js";
import type { FloatModel } from "../host/model/model.js";
import { LANE_CHUNK_COLUMNS, ROW_L1_LIMIT, decodePlsm, encodePlsm, type PlsmFile } from "../host/model/plsm.js";
import { planFormats, quantize, rowFormat, toleranceExceeded } from "../host/model/quantize.js";
import { asyncRejection, rejection } from "./support/engines.js";
import { mcuInstance, mcuLoad, mcuRun } from "./support/mcu.js";
import { rewritten } from "./support/plsm-bytes.js";
import { Rng, randomModel, randomStream, type RandomStream } from "./support/random.js";

/** U's row format: w_q = w 2^16. */
const U_FRAC = 16;

/**
 * A model of H units, one input, always open, whose U weights are all positive, w_q from 1400 to 2039: a lane-chunk
 * of up to 32 columns sums to at most 65,248, a row of H columns to about 1,720 H (H = 96: 165,000, two and a half
 * times the whole-row bound). The input starts g positive, U h then keeps i, f, g and o high: c settles near 5 and
 * h near 0.98, and an i32 U h, 2 lower in every pre-activation, would leave h near 0.66.
 */
function wideModel(H: number, seed: number): { model: FloatModel; bytes: Uint8Array } {
  const model = randomModel(new Rng(seed), { inputSize: 1, hidden: [H], peephole: false, rOn: 1, outputs: 2, mode: "every" });
  const L = model.layers[0];
  for (let r = 0; r < 4 * H; r++) for (let c = 0; c < H; c++) L.U[r * H + c] = (1400 + ((r * 31 + c * 17) % 640)) * 2 ** -U_FRAC;
  for (let j = 0; j < H; j++) {
    // i, f, g, o: W x of g brings the first event's h up, U h the rest
    [0, -1, 0, 2].forEach((b, g) => (L.b[g * H + j] = b));
    [0, 0, 1, 0].forEach((w, g) => (L.W[g * H + j] = w));
  }
  const plan = planFormats(model, 1);
  plan.layers[0].uFrac.fill(U_FRAC);
  return { model, bytes: encodePlsm(model, plan) };
}

/** Sequences with inputs in [0.5, 1]. */
function streams(seed: number): RandomStream[] {
  const rng = new Rng(seed);
  return [0, 1, 2].map(() => {
    const s = randomStream(rng, { n: 150, inputSize: 1, start: "epoch" });
    s.x.forEach((_, i) => (s.x[i] = 0.5 + 0.5 * rng.next()));
    return s;
  });
}

/** y and h after every event of every sequence. */
function run(engine: Engine, sequences: RandomStream[]): { y: Float64Array; h: Float64Array } {
  const stream = engine.createStream();
  const [O, H] = [stream.outputSize, stream.hiddenSize];
  const n = sequences.reduce((sum, s) => sum + s.t.length, 0);
  const y = new Float64Array(n * O);
  const h = new Float64Array(n * H);
  let at = 0;
  for (const s of sequences) {
    stream.reset();
    const k = s.t.length;
    stream.pushBatch(s.t, s.x, y.subarray(at * O, (at + k) * O), h.subarray(at * H, (at + k) * H));
    at += k;
  }
  return { y, h };
}

/** The largest |U h| of any row, in the file's integers (h in Q0.15 as the engine holds it), over the events. */
function largestUhSum(file: PlsmFile, h: Float64Array, sequences: RandomStream[]): number {
  const L = file.model.layers[0];
  const H = L.hiddenSize;
  let largest = 0;
  let at = 0;
  for (const s of sequences) {
    for (let e = 0; e < s.t.length; e++, at++) {
      for (let r = 0; r < 4 * H; r++) {
        let sum = 0;
        for (let c = 0; c < H; c++) sum += Math.round(L.U[r * H + c] * 2 ** U_FRAC) * Math.round(h[at * H + c] * 32768);
        largest = Math.max(largest, Math.abs(sum));
      }
    }
  }
  return largest;
}

describe("U rows over the whole-row bound, within the lane-chunk bound", () => {
  it.each([
    [96, "one 96-column chunk"],
    [136, "two chunks, 128 and 8 columns"],
  ])("H=%i (%s): the SIMD and scalar builds give the same bits, within plstm.md section 3 of the float64 reference", async (H) => {
    const { bytes } = wideModel(H, 3);
    const file = decodePlsm(bytes, "wide.plsm");
    const U = file.model.layers[0].U;
    const rowL1 = Array.from({ length: 4 * H }, (_, r) => U.subarray(r * H, (r + 1) * H).reduce((sum, w) => sum + Math.abs(w) * 2 ** U_FRAC, 0));
    expect(Math.min(...rowL1)).toBeGreaterThan(2 * ROW_L1_LIMIT);
    const sequences = streams(4);
    const [simd, scalar] = await Promise.all((["on", "off"] as const).map((s) => createEngine(loadModelBytes(bytes, "wide.plsm"), { engine: "fixed", simd: s })));
    const a = run(simd, sequences);
    const b = run(scalar, sequences);
    expect(Buffer.from(a.y.buffer).equals(Buffer.from(b.y.buffer))).toBe(true);
    expect(Buffer.from(a.h.buffer).equals(Buffer.from(b.h.buffer))).toBe(true);
    // h near 1 and U h far past the i32 range: a wrapped sum would be off by 2^32
    expect(Math.min(...a.h.subarray(a.h.length - H))).toBeGreaterThan(0.95);
    expect(largestUhSum(file, a.h, sequences)).toBeGreaterThan(2 ** 32);
    const error = compareEngines(simd, new ReferenceEngine(file.model), sequences);
    expect(toleranceExceeded(error, "every")).toEqual([]);
  });

  it("H=96: the microcontroller build gives the library's bits", async () => {
    const { bytes } = wideModel(96, 3);
    const sequences = streams(4);
    const library = run(await createEngine(loadModelBytes(bytes, "wide.plsm"), { engine: "fixed", simd: "on" }), sequences);
    const mcu = await mcuInstance();
    expect(mcuLoad(mcu, bytes)).toBe(0);
    const t = Float64Array.from(sequences.flatMap((s) => Array.from(s.t)));
    const x = Float32Array.from(sequences.flatMap((s) => Array.from(s.x)));
    const starts = new Set(sequences.map((_, k) => sequences.slice(0, k).reduce((sum, s) => sum + s.t.length, 0)));
    const y = mcuRun(mcu, t, x, 1, 2, starts);
    expect(Buffer.from(y.buffer).equals(Buffer.from(library.y.buffer))).toBe(true);
  });
});

describe("a U row over the lane-chunk bound", () => {
  // H = 96: row 5 (unit 1, gate f) given 32767 at columns 2, 3 and 10, which SIMD lane 1 of the first chunk sums
  const H = 96;
  const { bytes } = wideModel(H, 3);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const uAt = view.getUint32(64 + 20, true);
  const bad = rewritten(bytes, (v) => [2, 3, 10].forEach((c) => v.setInt16(uAt + 5 * 2 * H + 2 * c, 32767, true)));
  const good = decodePlsm(bytes, "wide.plsm");
  const message = /layer 0 U row 5.*(lane|SIMD).*65538|layer 0 U row 5.*65538.*(lane|SIMD)/;

  it("is what the test means: its lane-chunk is over 65538, the same columns one less are not", () => {
    const lane1 = (b: Uint8Array) => {
      const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
      let sum = 0;
      for (let c = 2; c < LANE_CHUNK_COLUMNS && c < H; c += 8) sum += Math.abs(v.getInt16(uAt + 5 * 2 * H + 2 * c, true)) + Math.abs(v.getInt16(uAt + 5 * 2 * H + 2 * (c + 1), true));
      return sum;
    };
    expect(lane1(bad)).toBeGreaterThan(ROW_L1_LIMIT);
    expect(lane1(bytes)).toBeLessThanOrEqual(ROW_L1_LIMIT);
  });

  it("is refused by decodePlsm, naming the row", () => {
    const e = rejection(() => decodePlsm(bad, "bad.plsm"), "bad-model", "decodePlsm");
    expect(e.message).toMatch(message);
    expect(e.message).toMatch(/columns 0\.\.95 with c mod 8 in \{2, 3\}/);
  });

  it("is refused by the wasm loader of the SIMD and scalar builds, naming the row", async () => {
    const loaded: LoadedModel = { format: "plsm", model: good.model, plsm: { ...good, bytes: bad }, source: "bad.plsm" };
    for (const simd of ["on", "off"] as const) {
      const e = await asyncRejection(() => createEngine(loaded, { engine: "fixed", simd }), "bad-model", `wasm loader, simd ${simd}`);
      expect(e.message).toMatch(message);
    }
  });

  it("runs on the microcontroller build, which sums U h in 64 bits from the first column (docs/plsm.md), as the float64 reference does", async () => {
    const mcu = await mcuInstance();
    expect(mcuLoad(mcu, bad)).toBe(0);
    const model = structuredClone(good.model);
    // file row 5 is unit 1's gate f, the model's row H + 1
    for (const c of [2, 3, 10]) model.layers[0].U[(H + 1) * H + c] = 32767 * 2 ** -U_FRAC;
    const sequences = streams(5);
    const t = Float64Array.from(sequences.flatMap((s) => Array.from(s.t)));
    const x = Float32Array.from(sequences.flatMap((s) => Array.from(s.x)));
    const starts = new Set(sequences.map((_, k) => sequences.slice(0, k).reduce((sum, s) => sum + s.t.length, 0)));
    const y = mcuRun(mcu, t, x, 1, 2, starts);
    const expected = new Float64Array(y.length);
    const stream = new ReferenceEngine(model).createStream();
    let at = 0;
    for (const s of sequences) {
      stream.reset();
      stream.pushBatch(s.t, s.x, expected.subarray(2 * at, 2 * (at + s.t.length)));
      at += s.t.length;
    }
    const worst = y.reduce((m, v, i) => Math.max(m, Math.abs(v - expected[i])), 0);
    expect(worst).toBeLessThanOrEqual(1e-2);
  });
});

describe("the quantizer", () => {
  it("gives U rows of large sum |w| finer formats than the whole-row bound allowed, and the fixed model is closer to the float one", async () => {
    // H = 64, U weights uniform on +-0.5: each row's sum of |w| is about 16, so the whole-row bound held U to
    // about Q12; each lane-chunk holds a quarter of the row
    const rng = new Rng(11);
    const model = randomModel(rng, { inputSize: 2, hidden: [64], peephole: true, rOn: 0.5, outputs: 2, mode: "every" });
    const L = model.layers[0];
    L.U.forEach((_, i) => (L.U[i] = rng.uniform(-0.5, 0.5)));
    const calibration = [0, 1, 2].map(() => randomStream(rng, { n: 200, inputSize: 2 }));
    const q = quantize(model, calibration, "large-u", "int16", "fine");
    const H = 64;
    const uFrac = q.plan.layers[0].uFrac;
    let finer = 0;
    for (let r = 0; r < 4 * H; r++) {
      const before = rowFormat(L.U, r * H, H, "row")!;
      expect(uFrac[r], `row ${r}`).toBeGreaterThanOrEqual(before);
      finer += uFrac[r] - before;
    }
    // a quarter of the sum is 2 bits finer where |w| does not cap the format first: 1.59 bits on average here
    expect(finer / (4 * H)).toBeGreaterThanOrEqual(1.5);
    // the same model with the formats of the whole-row bound: the quantization error of U, and the fixed engine's
    // distance to the float64 reference, both shrink
    const plan = planFormats(model, q.calibration.maxAbsInput);
    plan.layers[0].uFrac.forEach((_, r) => (plan.layers[0].uFrac[r] = rowFormat(L.U, r * H, H, "row")!));
    const coarse = decodePlsm(encodePlsm(model, plan), "coarse.plsm");
    const uError = (file: PlsmFile) => file.model.layers[0].U.reduce((m, w, i) => Math.max(m, Math.abs(w - L.U[i])), 0);
    expect(uError(q.file)).toBeLessThan(uError(coarse) / 3);
    const reference = new ReferenceEngine(model);
    const distance = async (image: Uint8Array) =>
      compareEngines(await createEngine(loadModelBytes(image, "m.plsm"), { engine: "fixed", simd: "on" }), reference, calibration).maxAbsH;
    const [fine, before] = [await distance(q.bytes), await distance(coarse.bytes)];
    expect(fine).toBeLessThan(before);
  });
});
