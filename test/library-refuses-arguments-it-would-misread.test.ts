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

describe("randomModel's options that steer the draws", () => {
  const options = { inputSize: 1, hidden: [3], peephole: true, rOn: 0.1, outputs: 1, mode: "every" as const };
  const make = (more: object) => () => randomModel(new Rng(1), { ...options, ...more } as never);

  it("a weightInit it does not know: before, the scaled weights were drawn in its place", () => {
    expect(rejection(make({ weightInit: "author" }), "bad-args").message).toBe('randomModel: weightInit must be "scaled" or "authors", got "author"');
    // the authors' input-gate bias is -0.1 exactly, the scaled ones are drawn
    expect(randomModel(new Rng(1), { ...options, weightInit: "authors" }).layers[0].b[0]).toBe(-0.1);
  });

  it("peephole as the text \"false\": before, a model with peepholes", () => {
    expect(rejection(make({ peephole: "false" }), "bad-args").message).toBe('randomModel: peephole must be true or false, got "false"');
    expect(randomModel(new Rng(1), { ...options, peephole: false }).layers[0].peephole).toBeNull();
  });

  it("a tauRange that is no [lo, hi] or a shiftMax below 0: before, a TypeError, a third number dropped, or negative shifts", () => {
    expect(rejection(make({ tauRange: 3 }), "bad-args").message).toBe("randomModel: tauRange must be [lo, hi] with 0 < lo <= hi, finite, got 3");
    expect(rejection(make({ tauRange: [5, 1, 100] }), "bad-args").message).toMatch(/tauRange must be .* got \[5, 1, 100\]$/);
    expect(rejection(make({ tauRange: [5, 2] }), "bad-args").message).toMatch(/tauRange must be/);
    expect(rejection(make({ shiftMax: -5 }), "bad-args").message).toBe("randomModel: shiftMax must be a finite number >= 0, got -5");
    expect(rejection(make({ shiftMax: "50" }), "bad-args").message).toBe('randomModel: shiftMax must be a finite number >= 0, got "50"');
    const model = randomModel(new Rng(1), { ...options, tauRange: [2, 2], shiftMax: 0 });
    expect(Array.from(model.layers[0].tau)).toEqual([2, 2, 2]);
    expect(Array.from(model.layers[0].shift)).toEqual([0, 0, 0]);
  });
});
