/**
 * The microcontroller builds sum U h's 32-column chunks by row pairs (assembly/fixed/sums.ts, docs/embedding.md,
 * "Memory: one static arena") for each layer whose U rows are within the whole-row bound and whose pairs fit in
 * the arena after the rest, in layer order: H x (H & ~31) x 16 bytes a layer, counted by arenaUsed(). Every other
 * layer sums U h row by row. Either way the bits are the library's fixed engine's: a pair split wrongly, or a layer
 * run from pairs it does not have (a copy that did not fit, one left from the model loaded before, one of rows
 * bounded only lane-chunk by lane-chunk), would change them.
 */
import "../host/node.js";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createEngine, loadModelBytes } from "../host/engine/create.js";
import { ROW_L1_LIMIT, decodePlsm } from "../host/model/plsm.js";
import { quantize } from "../host/model/quantize.js";
import { calibrationStreams } from "./support/engines.js";
import { MCU_INT8_FILE, MCU_INT8_PAGE_FILE, mcuBuildWithArena, mcuInstance, mcuLearningInstance, mcuLoad, mcuRun, type McuExports } from "./support/mcu.js";
import { Rng, randomModel, randomStream, type RandomStream } from "./support/random.js";
import { firstBitDifference } from "./support/same-bits.js";

const dir = mkdtempSync(join(tmpdir(), "phasor-mcu-pairs-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Bytes of a layer's row pairs, as docs/embedding.md gives them: its 32-column chunks of U, two i64 a column. */
const pairBytes = (H: number) => H * (H & ~31) * 16;
const align16 = (n: number) => (n + 15) & ~15;

const HIDDEN = [40, 33];
const INPUTS = 3;
const OUTPUTS = 2;

function model(seed: number) {
  return randomModel(new Rng(seed), { inputSize: INPUTS, hidden: HIDDEN, peephole: true, rOn: 0.5, outputs: OUTPUTS, mode: "every", alpha: 0 });
}

/** Sequences of epoch-millisecond times, and their events as one run with the first event of each. */
function events(seed: number): { sequences: RandomStream[]; t: Float64Array; x: Float32Array; starts: Set<number> } {
  const rng = new Rng(seed);
  const sequences = [0, 1, 2].map(() => randomStream(rng, { n: 200, inputSize: INPUTS, start: "epoch", maxGap: 2000 }));
  const t = Float64Array.from(sequences.flatMap((s) => Array.from(s.t)));
  const x = Float32Array.from(sequences.flatMap((s) => Array.from(s.x)));
  const starts = new Set(sequences.map((_, k) => sequences.slice(0, k).reduce((sum, s) => sum + s.t.length, 0)));
  return { sequences, t, x, starts };
}

/** y after every event from the library's scalar fixed engine, one sequence after another. */
async function libraryY(image: Uint8Array, sequences: RandomStream[]): Promise<Float64Array> {
  const engine = await createEngine(loadModelBytes(image, "pairs.plsm"), { engine: "fixed", simd: "off" });
  const stream = engine.createStream();
  const n = sequences.reduce((sum, s) => sum + s.t.length, 0);
  const y = new Float64Array(n * OUTPUTS);
  let at = 0;
  for (const s of sequences) {
    stream.reset();
    stream.pushBatch(s.t, s.x, y.subarray(at * OUTPUTS, (at + s.t.length) * OUTPUTS));
    at += s.t.length;
  }
  engine.dispose();
  return y;
}

/** Whether every U row of every layer of a fixed file sums |w_q| within the whole-row bound. */
function uRowsWithinBound(image: Uint8Array): boolean {
  const file = decodePlsm(image, "pairs.plsm");
  return file.model.layers.every((L, n) => {
    const H = L.hiddenSize;
    const uFrac = file.plan!.layers[n].uFrac;
    return Array.from({ length: 4 * H }, (_, r) => r).every((r) => {
      let l1 = 0;
      for (let c = 0; c < H; c++) l1 += Math.abs(L.U[r * H + c]) * 2 ** uFrac[r];
      return l1 <= ROW_L1_LIMIT;
    });
  });
}

function runMcu(mcu: McuExports, image: Uint8Array, e: ReturnType<typeof events>): Float64Array {
  expect(mcuLoad(mcu, image)).toBe(0);
  return mcuRun(mcu, e.t, e.x, INPUTS, OUTPUTS, e.starts);
}

describe("U h by row pairs in the microcontroller builds", () => {
  const image = quantize(model(13), calibrationStreams(14, INPUTS), "pairs").bytes;
  const e = events(15);

  it("lays out the pairs of every layer that has room, after the rest, and gives the library's bits", async () => {
    expect(uRowsWithinBound(image)).toBe(true);
    const expected = await libraryY(image, e.sequences);
    const mcu = await mcuInstance();
    expect(firstBitDifference(runMcu(mcu, image, e), expected)).toBe(-1);
    const paired = mcu.arenaUsed();
    const unpaired = paired - pairBytes(40) - pairBytes(33);
    expect(mcu.arenaNeeded()).toBe(paired);

    // an arena with room for the second layer's pairs only: the first sums U h row by row, the second by pairs
    const arena = unpaired + pairBytes(33);
    expect(pairBytes(40)).toBeGreaterThan(pairBytes(33));
    const small = new WebAssembly.Instance(new WebAssembly.Module(await mcuBuildWithArena(arena, dir)), {}).exports as unknown as McuExports;
    expect(firstBitDifference(runMcu(small, image, e), expected)).toBe(-1);
    expect(small.arenaUsed()).toBe(arena);
    // an arena with room for no pairs: both layers sum U h row by row
    const tight = new WebAssembly.Instance(new WebAssembly.Module(await mcuBuildWithArena(unpaired, dir)), {}).exports as unknown as McuExports;
    expect(firstBitDifference(runMcu(tight, image, e), expected)).toBe(-1);
    expect(tight.arenaUsed()).toBe(unpaired);
  });

  it("sums a model loaded after it from its own rows where they may not be paired", async () => {
    // the same model with the finest U formats the lane-chunk bound allows: its rows' sums of |w_q| pass the
    // whole-row bound, so its U h is summed row by row, with no pairs laid out
    const fine = quantize(model(13), calibrationStreams(14, INPUTS), "fine", "int16", "fine").bytes;
    expect(uRowsWithinBound(fine)).toBe(false);
    const expected = await libraryY(fine, e.sequences);
    const mcu = await mcuInstance();
    runMcu(mcu, image, e);
    const withPairs = mcu.arenaUsed();
    expect(firstBitDifference(runMcu(mcu, fine, e), expected)).toBe(-1);
    expect(withPairs - mcu.arenaUsed()).toBe(pairBytes(40) + pairBytes(33) + image.length - fine.length);
  });

  it("two 32-column chunks of pairs a row (H = 64), the library's bits", async () => {
    const wide = randomModel(new Rng(16), { inputSize: INPUTS, hidden: [64], peephole: true, rOn: 0.5, outputs: OUTPUTS, mode: "every", alpha: 0 });
    const bytes = quantize(wide, calibrationStreams(17, INPUTS), "pairs").bytes;
    expect(uRowsWithinBound(bytes)).toBe(true);
    const mcu = await mcuInstance();
    expect(firstBitDifference(runMcu(mcu, bytes, e), await libraryY(bytes, e.sequences))).toBe(-1);
    const fine = quantize(wide, calibrationStreams(17, INPUTS), "fine", "int16", "fine").bytes;
    const other = await mcuInstance();
    expect(mcuLoad(other, fine)).toBe(0);
    // the same shape without pairs: the arena the pairs take is the difference, but for the images' lengths
    expect(mcu.arenaUsed() - other.arenaUsed()).toBe(pairBytes(64) + align16(bytes.length) - align16(fine.length));
  });

  it("a layer without pairs sums its rows 16 columns at a time, then 8, with the library's bits (int16 and int8)", async () => {
    // H = 48: three 16-column chunks of U a row; H = 40: two and an 8-column one (and W x of 48 inputs: three). With
    // no pairs every U and W row is read from the image, and a weight read at a wrong column would change the bits.
    const rows = randomModel(new Rng(18), { inputSize: INPUTS, hidden: [48, 40], peephole: true, rOn: 0.5, outputs: OUTPUTS, mode: "every", alpha: 0 });
    const sameBits = async (mcu: McuExports, bytes: Uint8Array) => expect(firstBitDifference(runMcu(mcu, bytes, e), await libraryY(bytes, e.sequences))).toBe(-1);
    // int16: the "fine" U formats leave the rows outside the whole-row bound, so init lays out no pairs
    const fine = quantize(rows, calibrationStreams(19, INPUTS), "rows", "int16", "fine").bytes;
    expect(uRowsWithinBound(fine)).toBe(false);
    await sameBits(await mcuInstance(), fine);
    // int8 rows are always within it: a module whose arena has no room for the pairs
    const int8 = quantize(rows, calibrationStreams(19, INPUTS), "rows", "int8").bytes;
    const mcu = await mcuInstance(MCU_INT8_FILE);
    expect(mcuLoad(mcu, int8)).toBe(0);
    const unpaired = mcu.arenaUsed() - pairBytes(48) - pairBytes(40);
    const tight = new WebAssembly.Instance(new WebAssembly.Module(await mcuBuildWithArena(unpaired, dir, "int8")), {}).exports as unknown as McuExports;
    await sameBits(tight, int8);
    expect(tight.arenaUsed()).toBe(unpaired);
  });

  it("the learning module, which lays out no pairs, sums U's 32-column chunks from its rows, with the library's bits", async () => {
    const expected = await libraryY(image, e.sequences);
    const learning = await mcuLearningInstance();
    expect(firstBitDifference(runMcu(learning, image, e), expected)).toBe(-1);
    const mcu = await mcuInstance();
    runMcu(mcu, image, e);
    // the same layout but for the pairs and the learning module's readout, laid out after the rest
    expect(mcu.arenaUsed() - pairBytes(40) - pairBytes(33)).toBeLessThan(learning.arenaUsed());
  });

  it("in the int8 build too: pairs of int8 rows, the same layout after the image, the library's bits", async () => {
    const int8 = quantize(model(13), calibrationStreams(14, INPUTS), "pairs", "int8").bytes;
    const expected = await libraryY(int8, e.sequences);
    const mcu = await mcuInstance(MCU_INT8_FILE);
    expect(firstBitDifference(runMcu(mcu, int8, e), expected)).toBe(-1);
    const int16 = await mcuInstance();
    runMcu(int16, image, e);
    expect(mcu.arenaUsed() - align16(int8.length)).toBe(int16.arenaUsed() - align16(image.length));
    // the one-page build, which lays out no pairs either
    const page = await mcuInstance(MCU_INT8_PAGE_FILE);
    expect(firstBitDifference(runMcu(page, int8, e), expected)).toBe(-1);
  });
});
