// PROTOTYPE CHECK (branch wt-dense): test/gate-sums-agree-at-every-width.test.ts with every comparison but the
// snapshot's bytes, which the dense-gate prototype (fixed/step.ts, timeGateDense) leaves different: it keeps no wake
// keys or wheel and lists the open units in index order. y, h and c of every layer and the stats after every event.
// assembly/fixed/sums.ts: the SIMD build sums a unit's four gate rows side by side, 1 to 16 vectors of 8 columns
// a chunk (a switch on the count), and a one-input layer of at most 128 units (LANE_CHUNK_COLUMNS) in one pass with
// its W x; the scalar build sums the same rows as row pairs. Their integer sums must be the same: compared here byte
// for byte after every event, at the widths where the kernels change: one vector, a full chunk of 16 (H = 128), one
// column past it (H = 129, a second chunk of one vector), two chunks and more, an input of more than a chunk (W x
// in chunks too) and a sparse one (only its nonzero columns read), with int16 and int8 weights, on one and two
// layers, with few units open and all of them.
import "../host/node.js";
import { describe, it } from "vitest";
import { createEngine, loadModelBytes } from "../host/engine/create.js";
import { quantize } from "../host/model/quantize.js";
import { calibrationStreams, expectSameBytes } from "./support/engines.js";
import type { Stream } from "../host/engine/engine.js";
import { expect } from "vitest";
import { Rng, randomModel, randomStream } from "./support/random.js";

interface Shape {
  inputSize: number;
  hidden: number[];
  rOn: number;
  /** fraction of input values exactly 0 (an event with at most a quarter of its inputs nonzero is sparse) */
  sparsity: number;
}

const SHAPES: Shape[] = [
  { inputSize: 1, hidden: [1], rOn: 1, sparsity: 0 },
  { inputSize: 1, hidden: [9], rOn: 0.3, sparsity: 0 },
  { inputSize: 1, hidden: [128], rOn: 1, sparsity: 0 },
  { inputSize: 1, hidden: [129], rOn: 0.3, sparsity: 0.2 },
  { inputSize: 1, hidden: [127, 260], rOn: 1, sparsity: 0 },
  { inputSize: 130, hidden: [33], rOn: 1, sparsity: 0 },
  { inputSize: 130, hidden: [136, 7], rOn: 0.3, sparsity: 0.9 },
];

describe.each(["int16", "int8"] as const)("%s weights: the SIMD and scalar builds' gate sums agree at every width", (weights) => {
  it.each(SHAPES.map((s) => [`I=${s.inputSize} H=[${s.hidden.join(", ")}] r_on=${s.rOn} sparsity=${s.sparsity}`, s] as const))("%s", async (_, shape) => {
    const rng = new Rng(shape.inputSize * 1000 + shape.hidden[0]);
    const model = randomModel(rng, { inputSize: shape.inputSize, hidden: shape.hidden, peephole: true, rOn: shape.rOn, outputs: 2, mode: "every" });
    const bytes = quantize(model, calibrationStreams(5, shape.inputSize, 2, 150), "widths", weights).bytes;
    const [simd, scalar] = await Promise.all((["on", "off"] as const).map((s) => createEngine(loadModelBytes(bytes, "widths.plsm"), { engine: "fixed", simd: s })));
    const [a, b] = [simd.createStream(), scalar.createStream()];
    const s = randomStream(rng, { n: 120, inputSize: shape.inputSize, maxGap: 50, sparsity: shape.sparsity });
    for (let e = 0; e < s.t.length; e++) {
      const x = s.x.subarray(e * shape.inputSize, (e + 1) * shape.inputSize);
      a.push(s.t[e], x);
      b.push(s.t[e], x);
      expectSameStateButSchedule(a, b, shape.hidden.length, `event ${e}`);
    }
  });
});

function expectSameStateButSchedule(a: Stream, b: Stream, layers: number, what: string): void {
  expectSameBytes(a.output(), b.output(), `${what}: y`);
  for (let l = 0; l < layers; l++) {
    expectSameBytes(a.hidden(l), b.hidden(l), `${what}: layer ${l} h`);
    expectSameBytes(a.cell(l), b.cell(l), `${what}: layer ${l} c`);
  }
  expect(a.stats(), `${what}: stats`).toEqual(b.stats());
}
