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
      expect(simd.memory()).toEqual(scalar.memory());
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
});
