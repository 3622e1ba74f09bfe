// plstm.md section 3: the SIMD and scalar builds give bit-identical state and outputs for the same model and
// events. That is the contract of the fixed engine (integer sums cannot differ); the float engine keeps the same
// lane order in both builds (assembly/float/dot.ts) and is held to it too. Compared here byte for byte: y, h and c
// of every layer after every event, the pushBatch outputs, the snapshots and the stats.
import "../host/node.js";
import { describe, expect, it } from "vitest";
import { createEngine, loadModelBytes } from "../host/engine/create.js";
import type { Engine } from "../host/engine/engine.js";
import type { FloatModel } from "../host/model/model.js";
import { quantize } from "../host/model/quantize.js";
import { Rng, randomModel, randomStream, type RandomStream } from "./support/random.js";
import { calibrationStreams, expectSameBytes, expectSameState, type WasmKind } from "./support/engines.js";

const pick = <T>(rng: Rng, values: T[]): T => values[rng.int(values.length)];

interface Case {
  name: string;
  model: FloatModel;
  streams: RandomStream[];
}

/** Random shapes, including sizes that are not multiples of the SIMD width, and streams of every kind. */
function randomCases(count: number): Case[] {
  const rng = new Rng(77);
  return Array.from({ length: count }, (_, k) => {
    const inputSize = pick(rng, [1, 2, 3, 5, 8, 9, 16, 17, 33, 64]);
    const hidden = Array.from({ length: 1 + rng.int(2) }, () => pick(rng, [1, 3, 7, 8, 9, 16, 31, 32, 33, 64, 110]));
    const peephole = rng.next() < 0.5;
    const rOn = pick(rng, [0.05, 0.1, 0.3, 0.7, 1]);
    const model = randomModel(rng, { inputSize, hidden, peephole, rOn, outputs: 1 + rng.int(4), mode: rng.next() < 0.5 ? "every" : "last" });
    const streams = [0, 1].map(() =>
      randomStream(rng, {
        n: 200 + rng.int(400),
        inputSize,
        start: rng.next() < 0.5 ? "epoch" : rng.uniform(-1000, 1000),
        maxGap: pick(rng, [1, 50, 120_000]),
        sparsity: pick(rng, [0, 0.5, 0.95]),
      }),
    );
    return { name: `case ${k}: I=${inputSize} H=[${hidden.join(", ")}] peephole=${peephole} rOn=${rOn}`, model, streams };
  });
}

/** The same model on both builds: the fixed engine from one quantized image, so only the build differs. */
async function bothBuilds(kind: WasmKind, model: FloatModel, calibrationSeed: number): Promise<[Engine, Engine]> {
  if (kind === "float") return [await createEngine(model, { engine: "float", simd: "on" }), await createEngine(model, { engine: "float", simd: "off" })];
  const q = quantize(model, calibrationStreams(calibrationSeed, model.inputSize, 2, 300));
  const loaded = loadModelBytes(q.bytes, "model.plsm");
  return [await createEngine(loaded, { engine: "fixed", simd: "on" }), await createEngine(loaded, { engine: "fixed", simd: "off" })];
}

const CASES = randomCases(14);

describe.each(["fixed", "float"] as WasmKind[])("the %s engine: SIMD and scalar builds agree bit for bit", (kind) => {
  it("the builds are the ones asked for", async () => {
    const [simd, scalar] = await bothBuilds(kind, CASES[0].model, 1);
    expect(simd.simd).toBe(true);
    expect(scalar.simd).toBe(false);
  });

  CASES.forEach((c, index) => {
    it(`${c.name}: every event, one at a time and in batches`, async () => {
      const [simd, scalar] = await bothBuilds(kind, c.model, 500 + index);
      const layers = c.model.layers.length;
      const I = c.model.inputSize;
      const O = c.model.readout.outputSize;
      const H = c.model.layers[layers - 1].hiddenSize;
      for (const [k, s] of c.streams.entries()) {
        // one at a time: the whole state after every event
        const [a, b] = [simd.createStream(), scalar.createStream()];
        for (let e = 0; e < s.t.length; e++) {
          const x = s.x.subarray(e * I, (e + 1) * I);
          a.push(s.t[e], x);
          b.push(s.t[e], x);
          expectSameState(a, b, layers, `stream ${k}, event ${e}`);
        }
        // in batches: the y and h written after every event
        const n = s.t.length;
        const ys = [new Float64Array(n * O), new Float64Array(n * O)];
        const hs = [new Float64Array(n * H), new Float64Array(n * H)];
        const [p, q] = [simd.createStream(), scalar.createStream()];
        p.pushBatch(s.t, s.x, ys[0], hs[0]);
        q.pushBatch(s.t, s.x, ys[1], hs[1]);
        expectSameBytes(ys[0], ys[1], `stream ${k}, batch y`);
        expectSameBytes(hs[0], hs[1], `stream ${k}, batch h`);
        expectSameState(p, q, layers, `stream ${k}, after the batch`);
        // and the batch run is the one-at-a-time run
        expectSameBytes(p.snapshot(), a.snapshot(), `stream ${k}, batch vs one at a time`);
      }
      // the scalar fixed engine holds U, and W where the input is wider than 8, twice more in row pairs
      // (fixed/sums.ts): 4 rows of pad8(columns) i32 a unit
      const pad8 = (n: number) => 8 * Math.ceil(n / 8);
      const pairs = (units: number, columns: number) => 16 * units * pad8(columns);
      const copy =
        kind === "fixed" ? c.model.layers.reduce((sum, L) => sum + pairs(L.hiddenSize, L.hiddenSize) + (L.inputSize > 8 ? pairs(L.hiddenSize, L.inputSize) : 0), 0) : 0;
      // and the SIMD fixed engine its dense time gate's timing (fixed/step.ts, storeDenseTiming): 12 bytes a unit, in
      // groups of 8, and 16 a layer; and each stream the gate's base phases beside its block (layOutDenseBases): 4
      // bytes a unit, in groups of 8, and 16 a layer, which its snapshots leave out
      const groups = (L: { hiddenSize: number }) => Math.ceil(L.hiddenSize / 8);
      const dense = kind === "fixed" ? c.model.layers.reduce((sum, L) => sum + 16 + 96 * groups(L), 0) : 0;
      const bases = kind === "fixed" ? c.model.layers.reduce((sum, L) => sum + 16 + 32 * groups(L), 0) : 0;
      expect(scalar.memory()).toEqual({
        weightsBytes: simd.memory().weightsBytes - dense + copy,
        stateBytesPerStream: simd.memory().stateBytesPerStream - bases,
        scratchBytes: simd.memory().scratchBytes,
      });
      expect(simd.createStream().snapshot().length).toBe(scalar.memory().stateBytesPerStream);
    });
  });

  it("a snapshot taken on one build continues identically on the other", async () => {
    const c = CASES[3];
    const [simd, scalar] = await bothBuilds(kind, c.model, 42);
    const s = c.streams[0];
    const I = c.model.inputSize;
    const half = Math.floor(s.t.length / 2);
    const first = simd.createStream();
    first.pushBatch(s.t.subarray(0, half), s.x.subarray(0, half * I));
    const saved = first.snapshot();
    const other = scalar.createStream();
    other.restore(saved);
    const rest = { t: s.t.subarray(half), x: s.x.subarray(half * I) };
    first.pushBatch(rest.t, rest.x);
    other.pushBatch(rest.t, rest.x);
    expectSameState(first, other, c.model.layers.length, "continued on the other build");
    // and back: scalar to SIMD
    const back = simd.createStream();
    back.restore(other.snapshot());
    expectSameBytes(back.snapshot(), first.snapshot(), "restored on the SIMD build");
  });

  it("rows at the row-sum limit with saturated inputs (the largest sums the dot products can see)", async () => {
    const rng = new Rng(91);
    const I = 64;
    const model = randomModel(rng, { inputSize: I, hidden: [32, 16], peephole: true, rOn: 1, outputs: 3, mode: "every" });
    // |w| = 0.25 everywhere: a row of 64 quantizes to 64 x 1024 = 65536, at the row-sum limit, so with inputs at
    // +-32767 a gate's sum reaches 2^31 - 2^15
    for (const L of model.layers) for (let k = 0; k < L.W.length; k++) L.W[k] = Math.sign(L.W[k]) * 0.25;
    const [simd, scalar] = await bothBuilds(kind, model, 92);
    const [a, b] = [simd.createStream(), scalar.createStream()];
    const L0 = model.layers[0];
    for (let e = 0; e < 300; e++) {
      // inputs beyond the calibration range (they saturate in the fixed engine), signed like one row's weights
      const row = rng.int(4 * L0.hiddenSize);
      const scale = pick(rng, [1, 2, 50, 1e4]) * (rng.next() < 0.5 ? -1 : 1);
      const x = Float32Array.from({ length: I }, (_, i) => scale * Math.sign(L0.W[row * I + i]));
      a.push(e * 0.37, x);
      b.push(e * 0.37, x);
      expectSameState(a, b, 2, `event ${e}`);
    }
  });

  it("U rows at the row-sum limit with h near saturation, of both signs (the largest sums of U h's row pairs)", async () => {
    const rng = new Rng(93);
    const H = 64;
    const model = randomModel(rng, { inputSize: 1, hidden: [H], peephole: true, rOn: 1, outputs: 2, mode: "every" });
    const L = model.layers[0];
    // unit j's h is driven to the sign s(j) and stays there: |U| = 0.25 quantizes to 1024 a weight, 65536 a row,
    // at the limit; i and o see sum |h| / 4 and open, g sees s(j) sum |h| / 4, f is open in half the units and shut
    // in the other half, so the scalar build's pairs (i, f) and (g, o) hold sums of both signs in both halves, up
    // to 65536 x 32766 = 2^31 - 2^17
    const s = (j: number) => (j % 2 === 0 ? 1 : -1);
    const f = (j: number) => (j % 4 < 2 ? 1 : -1);
    for (let j = 0; j < H; j++) {
      for (let c = 0; c < H; c++) {
        L.U[(0 * H + j) * H + c] = 0.25 * s(c);
        L.U[(1 * H + j) * H + c] = 0.25 * s(c) * f(j);
        L.U[(2 * H + j) * H + c] = 0.25 * s(c) * s(j);
        L.U[(3 * H + j) * H + c] = 0.25 * s(c);
      }
      L.b[0 * H + j] = 2;
      L.b[2 * H + j] = 2 * s(j);
      L.b[3 * H + j] = 2;
    }
    const [simd, scalar] = await bothBuilds(kind, model, 94);
    const [a, b] = [simd.createStream(), scalar.createStream()];
    let largest = 0;
    for (let e = 0; e < 200; e++) {
      const x = Float32Array.of(rng.uniform(-1, 1));
      a.push(e * 0.37, x);
      b.push(e * 0.37, x);
      expectSameState(a, b, 1, `event ${e}`);
      largest = Math.max(largest, ...Array.from(b.hidden(0), Math.abs));
    }
    // the sums did reach the range the test is for: |h| near 1 in every unit, so sum |h| / 4 near 2^31 in Q terms
    expect(largest).toBeGreaterThan(0.9);
  });
});
