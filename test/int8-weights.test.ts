// int8 gate weights (docs/fixed-point.md, "int8 weights"; docs/plsm.md, layer flag bit 1): the quantizer holds
// every W and U weight in an int8 row format or refuses the model; the fixed engine's SIMD and scalar builds give
// the same bits on int8 models; the engine stays within plstm.md section 3's tolerances of the float64 reference
// running the model the file stands for; both readers refuse damaged int8 files; the int8 microcontroller build
// computes the library's bits, and each microcontroller build refuses the width it does not run.
import "../host/node.js";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compareEngines } from "../host/engine/compare.js";
import { createEngine, loadModelBytes, type LoadedModel } from "../host/engine/create.js";
import type { Engine } from "../host/engine/engine.js";
import type { FloatModel } from "../host/model/model.js";
import { INT8_LIMIT, ROW_L1_LIMIT, decodePlsm, encodePlsm, type PlsmFile } from "../host/model/plsm.js";
import { FIXED_TOLERANCE, planFormats, quantize } from "../host/model/quantize.js";
import { asyncRejection, calibrationStreams, expectSameBytes, expectSameState, rejection } from "./support/engines.js";
import { crc32, rewritten as rewrittenBytes } from "./support/plsm-bytes.js";
import { MCU_INT8_PAGE_FILE, mcuBuildWithArena, mcuInstance, mcuInt8Instance, mcuLearningInstance, mcuLoad, mcuRun, type McuExports } from "./support/mcu.js";
import { Rng, randomModel, randomStream, type RandomStream } from "./support/random.js";

interface Case {
  name: string;
  model: FloatModel;
  streams: RandomStream[];
}

/** Shapes that reach every multiply-accumulate path of both builds: one input (the paper's model), up to 8 (the
 * scalar narrow path), chunks of 32 and 8 columns, more than 128 columns (two SIMD chunks), sparse inputs, and
 * two and three layers; epoch-millisecond times and gaps up to two minutes. */
function cases(): Case[] {
  const rng = new Rng(808);
  const shapes: [number, number[], number, boolean][] = [
    [1, [110], 0.05, true],
    [3, [33, 17], 0.3, false],
    [40, [64, 9, 5], 1, true],
    [130, [140], 0.5, false],
  ];
  return shapes.map(([inputSize, hidden, rOn, peephole], k) => ({
    name: `I=${inputSize} H=[${hidden.join(", ")}] rOn=${rOn}`,
    model: randomModel(rng, { inputSize, hidden, peephole, rOn, outputs: 2 + (k % 2), mode: k % 2 ? "every" : "last" }),
    streams: [0, 1].map((s) =>
      randomStream(rng, { n: 250, inputSize, start: s === 0 ? "epoch" : rng.uniform(-1000, 1000), maxGap: s === 0 ? 50 : 120_000, sparsity: inputSize > 8 && s === 1 ? 0.95 : 0 }),
    ),
  }));
}
const CASES = cases();

function int8Image(model: FloatModel, seed: number): Uint8Array {
  return quantize(model, calibrationStreams(seed, model.inputSize, 2, 300), "int8.plsm", "int8").bytes;
}

async function fixedEngine(image: Uint8Array, simd: "on" | "off"): Promise<Engine> {
  return createEngine(loadModelBytes(image, "int8.plsm"), { engine: "fixed", simd });
}

describe("the quantizer's int8 weights", () => {
  it.each(CASES.map((c) => [c.name, c] as const))("%s: each W and U weight is held to within half its row's step, the finest that holds the row in +-127", (_, c) => {
    const { plan, file, bytes } = quantize(c.model, calibrationStreams(3, c.model.inputSize, 1, 100), "m", "int8");
    const int16 = quantize(c.model, calibrationStreams(3, c.model.inputSize, 1, 100), "m").bytes;
    expect(bytes.length, "about half the int16 image").toBeLessThan(0.6 * int16.length);
    c.model.layers.forEach((L, n) => {
      const lp = plan.layers[n];
      expect(lp.int8).toBe(true);
      const back = file.model.layers[n];
      for (const [w, q, fracs, width] of [[L.W, back.W, lp.wFrac, L.inputSize], [L.U, back.U, lp.uFrac, L.hiddenSize]] as const) {
        for (let r = 0; r < 4 * L.hiddenSize; r++) {
          const step = 2 ** -fracs[r];
          let maxQ = 0;
          let l1 = 0;
          for (let i = 0; i < width; i++) {
            const k = r * width + i;
            expect(Math.abs(q[k] - w[k])).toBeLessThanOrEqual(step / 2);
            const wq = Math.round(q[k] / step);
            expect(Number.isInteger(q[k] / step) && Math.abs(wq) <= INT8_LIMIT).toBe(true);
            maxQ = Math.max(maxQ, Math.abs(wq));
            l1 += Math.abs(wq);
          }
          // one more fractional bit would overflow +-127 or the row-sum bound
          expect(maxQ * 2 > INT8_LIMIT || l1 * 2 > ROW_L1_LIMIT || fracs[r] === 30, `layer ${n} row ${r}`).toBe(true);
        }
      }
      // what stays as wide as before: biases, peepholes, the time gates
      expect(Array.from(back.tau)).toEqual(Array.from(L.tau));
      expect(Array.from(back.shift)).toEqual(Array.from(L.shift));
    });
    expect(plan.vFrac).toEqual(quantize(c.model, calibrationStreams(3, c.model.inputSize, 1, 100), "m").plan.vFrac);
  });

  it("refuses a row no format can hold, naming the layer, the matrix and the row, in either width", () => {
    const model = randomModel(new Rng(5), { inputSize: 2, hidden: [3], peephole: false, rOn: 0.5, outputs: 2, mode: "last" });
    model.layers[0].U[7] = 1e7; // beyond 127 * 2^16 for int8
    const int8 = rejection(() => planFormats(model, 1, "m.json", "int8"), "bad-model");
    expect(int8.message).toMatch(/^m\.json: layers\[0\]\.U row 2: no fixed format holds this row \(largest \|w\| 10000000\): the coarsest, Q\(-16\), holds \|w\| up to 8323072/);
    expect(() => planFormats(model, 1, "m.json", "int16"), "int16 holds it").not.toThrow();
    model.layers[0].W[1] = 3e9; // beyond 32767 * 2^16 for int16
    expect(rejection(() => planFormats(model, 1, "m.json", "int16"), "bad-model").message).toMatch(/^m\.json: layers\[0\]\.W row 0: no fixed format holds this row/);
  });

  it("writes the flag only where asked: an int16 file is the bytes it always was", () => {
    const c = CASES[1];
    const calibration = calibrationStreams(3, c.model.inputSize, 1, 100);
    const plan = planFormats(c.model, 1);
    const before = encodePlsm(c.model, plan);
    expect(encodePlsm(c.model, { ...plan, layers: plan.layers.map((L) => ({ ...L, int8: false })) })).toEqual(before);
    const flags = (bytes: Uint8Array, n: number) => new DataView(bytes.buffer).getUint32(64 + 64 * n + 8, true);
    expect([flags(before, 0), flags(before, 1)]).toEqual([0, 0]);
    const int8 = quantize(c.model, calibration, "m", "int8").bytes;
    expect([flags(int8, 0), flags(int8, 1)]).toEqual([2, 2]);
  });
});

describe("the fixed engine on int8 weights", () => {
  it.each(CASES.map((c, k) => [c.name, c, k] as const))("%s: SIMD and scalar give the same bits at every event", async (_, c, k) => {
    const image = int8Image(c.model, 900 + k);
    const [simd, scalar] = [await fixedEngine(image, "on"), await fixedEngine(image, "off")];
    expect([simd.simd, scalar.simd]).toEqual([true, false]);
    const layers = c.model.layers.length;
    for (const [s, stream] of c.streams.entries()) {
      const [a, b] = [simd.createStream(), scalar.createStream()];
      for (let e = 0; e < stream.t.length; e++) {
        const x = stream.x.subarray(e * c.model.inputSize, (e + 1) * c.model.inputSize);
        a.push(stream.t[e], x);
        b.push(stream.t[e], x);
        expectSameState(a, b, layers, `stream ${s}, event ${e}`);
      }
      expect(a.stats().unitUpdates, "units were updated").toBeGreaterThan(0);
    }
  });

  it("rows near the row-sum bound with saturated inputs: the largest sums, the same bits", async () => {
    const I = 600;
    const model = randomModel(new Rng(61), { inputSize: I, hidden: [4], peephole: true, rOn: 1, outputs: 2, mode: "every" });
    // |w| = 0.42 in every W row: Q(8), 600 int8 weights of 108 whose sum, 64,800, is just under the bound; the inputs
    // have the weights' signs, so every product adds
    for (let k = 0; k < model.layers[0].W.length; k++) model.layers[0].W[k] = (k % 3 === 0 ? -1 : 1) * 0.42;
    const saturated = { t: Float64Array.from({ length: 40 }, (_, e) => e * 0.5), x: new Float32Array(40 * I) };
    for (let k = 0; k < saturated.x.length; k++) saturated.x[k] = k % 3 === 0 ? -1 : 1;
    const { bytes, plan } = quantize(model, [saturated], "bound", "int8");
    const rowL1 = Math.round(0.42 * 2 ** plan.layers[0].wFrac[0]) * I;
    expect(rowL1).toBeGreaterThan(0.98 * ROW_L1_LIMIT);
    expect(rowL1).toBeLessThanOrEqual(ROW_L1_LIMIT);
    const [simd, scalar] = [await fixedEngine(bytes, "on"), await fixedEngine(bytes, "off")];
    const [a, b] = [simd.createStream(), scalar.createStream()];
    for (let e = 0; e < 40; e++) {
      const x = saturated.x.subarray(e * I, (e + 1) * I);
      a.push(saturated.t[e], x);
      b.push(saturated.t[e], x);
      expectSameState(a, b, 1, `event ${e}`);
    }
  });

  // The .plsm stands for its de-quantized weights (decodePlsm): the engine's own arithmetic (int16 inputs and h,
  // exact i32 sums, the Q7.24 and Q11.20 formats, the tables) is the int16 engine's, so it is held to the
  // spec's tolerances against the float64 reference running that model, on fresh streams.
  it.each(CASES.map((c, k) => [c.name, c, k] as const))("%s: within plstm.md section 3 of the float64 reference of the model the file stands for", async (_, c, k) => {
    const image = int8Image(c.model, 900 + k);
    const file = decodePlsm(image, "int8.plsm");
    const reference = await createEngine({ format: "json", model: file.model, source: "int8.plsm" }, { engine: "reference" });
    for (const simd of ["on", "off"] as const) {
      const engine = await fixedEngine(image, simd);
      const error = compareEngines(engine, reference, c.streams);
      expect(error.maxAbsH).toBeLessThanOrEqual(FIXED_TOLERANCE.maxAbsH);
      expect(error.maxAbsY).toBeLessThanOrEqual(FIXED_TOLERANCE.maxAbsY);
      expect(error.maxAbsH, "the engine is not merely the reference").toBeGreaterThan(0);
    }
  });
});

describe("both readers refuse damaged int8 files", () => {
  const c = CASES[1];
  const GOOD = int8Image(c.model, 77);
  const GOOD_FILE = decodePlsm(GOOD, "good.plsm");
  const view = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const desc = (n: number, field: number) => view(GOOD).getUint32(64 + 64 * n + field, true);
  const [W0, U0, UNITS0] = [desc(0, 16), desc(0, 20), desc(0, 24)];
  const H0 = c.model.layers[0].hiddenSize;

  const rewritten = (edit: (v: DataView) => void) => rewrittenBytes(GOOD, edit);
  const asLoaded = (bytes: Uint8Array): LoadedModel => {
    const plsm: PlsmFile = { ...GOOD_FILE, bytes };
    return { format: "plsm", model: GOOD_FILE.model, plsm, source: "bad.plsm" };
  };

  const CASES_BAD: [string, Uint8Array, RegExp][] = [
    ["an int8 weight of -128", rewritten((v) => v.setInt8(U0 + 5, -128)), /overflow|outside|-128/],
    ["nonzero int8 padding (I = 3 of 8)", rewritten((v) => v.setInt8(W0 + 3, 1)), /padding/],
    ["a W row format (its scale) of 31", rewritten((v) => v.setInt8(UNITS0 + 16, 31)), /row format|W or U/],
    ["a U row format of -17", rewritten((v) => v.setInt8(UNITS0 + 32 + 20 + 1, -17)), /row format|W or U/],
    ["the U section running past the end of the file", rewritten((v) => v.setUint32(64 + 20, GOOD.length - 16 * Math.ceil(H0 / 4), true)), /U/],
    ["an unknown layer flag beside int8", rewritten((v) => v.setUint32(64 + 8, 6, true)), /flags/],
    ["truncated inside the int8 section", GOOD.slice(0, U0 + 40), /bytes|truncated|short/],
  ];

  it.each(CASES_BAD)("%s: decodePlsm and the wasm loader (SIMD and scalar) refuse it", async (_, bad, message) => {
    expect(bad).not.toEqual(GOOD);
    const decoded = rejection(() => decodePlsm(bad, "bad.plsm"), "bad-model");
    expect(decoded.message).toMatch(/^bad\.plsm: /);
    expect(decoded.message).toMatch(message);
    for (const simd of ["on", "off"] as const) {
      const e = await asyncRejection(() => createEngine(asLoaded(bad), { engine: "fixed", simd }), "bad-model");
      expect(e.message).toMatch(/^bad\.plsm: /);
      expect(e.message).toMatch(message);
    }
  });

  it("int8 weights in a float file (kind 2) are refused as an unknown flag", async () => {
    const float = encodePlsm(c.model);
    const v = view(float);
    v.setUint32(64 + 8, v.getUint32(64 + 8, true) | 2, true);
    v.setUint32(float.length - 4, crc32(float.subarray(0, float.length - 4)), true);
    expect(rejection(() => decodePlsm(float, "f.plsm"), "bad-model").message).toMatch(/flags/);
    const loaded: LoadedModel = { format: "plsm", model: c.model, plsm: { kind: 2, model: c.model, bytes: float, meta: {} }, source: "f.plsm" };
    expect((await asyncRejection(() => createEngine(loaded, { engine: "float" }), "bad-model")).message).toMatch(/flags/);
  });
});

describe("the microcontroller builds and int8 weights", () => {
  it.each(CASES.slice(0, 3).map((c, k) => [c.name, c, k] as const))("%s: build/phasor-mcu-int8.wasm gives the library's bits", async (_, c, k) => {
    const image = int8Image(c.model, 900 + k);
    const mcu = await mcuInt8Instance();
    expect(mcuLoad(mcu, image)).toBe(0);
    const engine = await fixedEngine(image, "off");
    const O = c.model.readout.outputSize;
    for (const s of c.streams) {
      const y = mcuRun(mcu, s.t, s.x, c.model.inputSize, O, new Set([0]));
      const expected = new Float64Array(s.t.length * O);
      engine.createStream().pushBatch(s.t, s.x, expected);
      expectSameBytes(y, expected, "y at every event");
    }
  });

  it("each build refuses the width it does not run (init -1), and runs the one it does", async () => {
    const c = CASES[1];
    const int8 = int8Image(c.model, 5);
    const int16 = quantize(c.model, calibrationStreams(5, c.model.inputSize, 2, 300), "m").bytes;
    const [inference, learning, eight] = [await mcuInstance(), await mcuLearningInstance(), await mcuInt8Instance()];
    expect([mcuLoad(inference, int8), mcuLoad(learning, int8), mcuLoad(eight, int16)]).toEqual([-1, -1, -1]);
    expect([mcuLoad(inference, int16), mcuLoad(learning, int16), mcuLoad(eight, int8)]).toEqual([0, 0, 0]);
  });
});

// docs/embedding.md, "One 64 KiB page": the module's static data, the paper's model and its state in one page
describe("the one-page build", () => {
  const PAPER_H = 110;
  /** The largest H of an (I = 1, 2 outputs, peepholes) model that fits, found by loading H and H + 1 below. */
  const LARGEST_H = 111;
  const shaped = (inputSize: number, hidden: number[], rOn: number, seed: number) =>
    randomModel(new Rng(seed), { inputSize, hidden, peephole: true, rOn, outputs: 2, mode: "last" });
  const page = () => mcuInt8Instance(MCU_INT8_PAGE_FILE);

  /** Three sequences from epoch-millisecond times, each started with reset(): y at every event from the page build
   * and from the library's fixed engine (SIMD and scalar) must be the same bytes. Returns the fraction of (unit,
   * event) pairs the library found open. */
  async function sameBits(mcu: McuExports, model: FloatModel, image: Uint8Array, seed: number): Promise<number> {
    const rng = new Rng(seed);
    const I = model.inputSize;
    const streams = [0, 1, 2].map(() => randomStream(rng, { n: 300, inputSize: I, start: "epoch", maxGap: 20 }));
    const t = Float64Array.from(streams.flatMap((s) => Array.from(s.t)));
    const x = Float32Array.from(streams.flatMap((s) => Array.from(s.x)));
    const y = mcuRun(mcu, t, x, I, 2, new Set([0, 300, 600]));
    let updates = 0;
    for (const simd of ["on", "off"] as const) {
      const engine = await fixedEngine(image, simd);
      const expected = new Float64Array(y.length);
      streams.forEach((s, k) => {
        const stream = engine.createStream();
        stream.pushBatch(s.t, s.x, expected.subarray(600 * k, 600 * (k + 1)));
        updates += simd === "on" ? stream.stats().unitUpdates : 0;
      });
      expectSameBytes(y, expected, `y at every event (library ${simd === "on" ? "SIMD" : "scalar"})`);
    }
    return updates / (t.length * model.layers.reduce((sum, L) => sum + L.hiddenSize, 0));
  }

  it("is one page, the arena to its end, and runs the paper's model (H = 110, I = 1, 2 outputs, peepholes, r_on 0.05) with the library's bits", async () => {
    const mcu = await page();
    expect(mcu.memory.buffer.byteLength).toBe(65536);
    expect(mcu.modelBuffer() + mcu.arenaBytes()).toBe(65536);
    const model = shaped(1, [PAPER_H], 0.05, PAPER_H);
    const image = int8Image(model, PAPER_H);
    expect(mcuLoad(mcu, image)).toBe(0);
    expect(mcu.arenaUsed()).toBeLessThanOrEqual(mcu.arenaBytes());
    const open = await sameBits(mcu, model, image, 4);
    expect(open, "units opened and closed").toBeGreaterThan(0.01);
    expect(open).toBeLessThan(0.5);
  });

  // Open units are summed and updated 8 at a time: many open units (r_on up to 1) take several blocks; a one-input
  // layer above a layer of one unit is compacted too; inputs wider than one are not.
  it.each([
    [1, [PAPER_H], 0.6],
    [1, [1, 12], 0.5],
    [3, [20, 9], 1],
  ] as const)("I = %d, H = %j, r_on %d: the library's bits", async (I, hidden, rOn) => {
    const model = shaped(I, [...hidden], rOn, 31 + hidden[0]);
    const image = int8Image(model, 5);
    const mcu = await page();
    expect(mcuLoad(mcu, image)).toBe(0);
    expect(await sameBits(mcu, model, image, 6)).toBeGreaterThan(0.2);
  });

  it(`holds H = ${LARGEST_H} and not H = ${LARGEST_H + 1}, and says what that one needs: what a build with a larger arena takes for it`, async () => {
    const mcu = await page();
    expect(mcuLoad(mcu, int8Image(shaped(1, [LARGEST_H], 0.05, 7), 7))).toBe(0);
    expect(mcu.arenaUsed()).toBeLessThanOrEqual(mcu.arenaBytes());
    const over = int8Image(shaped(1, [LARGEST_H + 1], 0.05, 7), 7);
    expect(mcuLoad(mcu, over)).toBe(-4);
    const needed = mcu.arenaNeeded();
    expect(needed).toBeGreaterThan(mcu.arenaBytes());
    expect(new Uint8Array(mcu.memory.buffer, mcu.modelBuffer(), over.length), "a model that does not fit is left as written").toEqual(over);
    const dir = mkdtempSync(join(tmpdir(), "phasor-page-"));
    try {
      const larger = new WebAssembly.Instance(new WebAssembly.Module(await mcuBuildWithArena(2 * 65536, dir, "page")), {}).exports as unknown as McuExports;
      expect(mcuLoad(larger, over)).toBe(0);
      expect(larger.arenaUsed()).toBe(needed);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("takes the image apart at init: an init without it written again is refused (-1), and with it the stream starts over", async () => {
    const model = shaped(1, [40], 0.3, 8);
    const image = int8Image(model, 8);
    const stream = randomStream(new Rng(9), { n: 200, inputSize: 1, start: "epoch", maxGap: 20 });
    const mcu = await page();
    expect(mcuLoad(mcu, image)).toBe(0);
    const first = mcuRun(mcu, stream.t, stream.x, 1, 2, new Set([0]));
    expect(new Uint8Array(mcu.memory.buffer, mcu.modelBuffer(), image.length)).not.toEqual(image);
    expect(mcu.init(image.length), "the image is no longer there").toBe(-1);
    expect(mcu.push(stream.t[0]), "and no model runs").toBe(-3);
    expect(mcuLoad(mcu, image)).toBe(0);
    expectSameBytes(mcuRun(mcu, stream.t, stream.x, 1, 2, new Set()), first, "y after the image is written again");
  });

  it("refuses (-1) a file whose regions are not in the order phasor quantize writes them, which the two-page build runs", async () => {
    const model = shaped(1, [16], 0.5, 10);
    const image = int8Image(model, 10);
    const v = new DataView(image.buffer, image.byteOffset, image.byteLength);
    const [units, time] = [v.getUint32(64 + 24, true), v.getUint32(64 + 28, true)];
    const swapped = rewrittenBytes(image, (w) => {
      w.setUint32(64 + 24, time, true);
      w.setUint32(64 + 28, units, true);
      const bytes = new Uint8Array(w.buffer, w.byteOffset, w.byteLength);
      const unitRecords = bytes.slice(units, units + 16 * 32);
      bytes.copyWithin(units, time, time + 16 * 32);
      bytes.set(unitRecords, time);
    });
    expect(mcuLoad(await page(), swapped)).toBe(-1);
    const two = await mcuInt8Instance();
    expect(mcuLoad(two, swapped)).toBe(0);
    const stream = randomStream(new Rng(11), { n: 100, inputSize: 1, start: "epoch", maxGap: 20 });
    const expected = new Float64Array(200);
    (await fixedEngine(image, "off")).createStream().pushBatch(stream.t, stream.x, expected);
    expectSameBytes(mcuRun(two, stream.t, stream.x, 1, 2, new Set([0])), expected, "the same model, its records swapped");
  });
});
