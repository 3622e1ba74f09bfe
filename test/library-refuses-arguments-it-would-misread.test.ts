// What a plain JavaScript caller can hand the library that it took and then answered wrongly, or failed on with an
// unclear error: output arrays of pushBatch sharing memory, a layer given as text, randomModel's, the Rng's and the
// topic helpers' arguments, a sensor stream's time policy. Each case says what happened before.
import "../host/node.js";
import { describe, expect, it } from "vitest";
import { createEngine, loadModelBytes } from "../host/engine/create.js";
import type { Engine } from "../host/engine/engine.js";
import { quantize } from "../host/model/quantize.js";
import { rejection, stateOf } from "./support/engines.js";
import { Rng, randomModel } from "./support/random.js";

// one input, three outputs: an output written over x lands on the inputs of later events
const SHAPE = { inputSize: 1, hidden: [4], peephole: true, rOn: 0.5, outputs: 3, mode: "every" as const };
const T = Float64Array.from([1, 2, 3, 4]);
const X = Float64Array.from([0.3, -0.4, 0.5, -0.6]);

async function engines(): Promise<Engine[]> {
  const model = randomModel(new Rng(4), SHAPE);
  const plsm = loadModelBytes(quantize(model, [{ t: T, x: X }], "m").bytes, "m.plsm");
  return [await createEngine(model, { engine: "reference" }), await createEngine(model, { engine: "float" }), await createEngine(plsm, { engine: "fixed" })];
}

describe("pushBatch's outputs in memory of their own", () => {
  it("y and h the same array: before, accepted, and each engine left its own mixture of outputs and hidden states", async () => {
    for (const engine of await engines()) {
      const stream = engine.createStream();
      const before = stateOf(stream);
      const both = new Float64Array(16);
      const error = rejection(() => stream.pushBatch(T, X, both, both), "bad-args", engine.kind);
      expect(error.message, engine.kind).toBe("batch: h shares memory with y: the outputs need arrays of their own");
      expect(stateOf(stream), engine.kind).toEqual(before);
    }
  });

  it("y over x: before, the reference read the outputs it had written as later inputs, the wasm engines did not", async () => {
    for (const engine of await engines()) {
      const buffer = new Float64Array(20);
      const x = buffer.subarray(0, 4);
      x.set(X);
      expect(rejection(() => engine.createStream().pushBatch(T, x, buffer), "bad-args", engine.kind).message).toBe("batch: y shares memory with x: the outputs need arrays of their own");
      // an h that starts where x ends, and a y over t's bytes
      expect(rejection(() => engine.createStream().pushBatch(T, x, undefined, buffer.subarray(3)), "bad-args", engine.kind).message).toMatch(/^batch: h shares memory with x/);
      const times = new Float64Array(12);
      times.set(T);
      expect(rejection(() => engine.createStream().pushBatch(times.subarray(0, 4), X, times), "bad-args", engine.kind).message).toMatch(/^batch: y shares memory with t/);
    }
  });

  it("arrays side by side in one buffer are taken, and every engine gives its own answer for them as for separate arrays", async () => {
    for (const engine of await engines()) {
      const buffer = new Float64Array(4 + 12 + 16);
      const x = buffer.subarray(0, 4);
      x.set(X);
      const y = buffer.subarray(4, 16);
      const h = buffer.subarray(16);
      engine.createStream().pushBatch(T, x, y, h);
      const [y2, h2] = [new Float64Array(12), new Float64Array(16)];
      engine.createStream().pushBatch(T, X, y2, h2);
      expect(Array.from(y), engine.kind).toEqual(Array.from(y2));
      expect(Array.from(h), engine.kind).toEqual(Array.from(h2));
    }
  });
});
