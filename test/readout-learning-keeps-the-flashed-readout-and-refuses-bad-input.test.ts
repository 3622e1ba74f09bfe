/**
 * What the readout's learning promises besides its bits (docs/on-device-learning.md, sections 3 to 5): the adapted
 * readout starts as the flashed one bit for bit, lives beside the image (which no step writes), goes back to the
 * flashed one on reset, moves between the library and the microcontroller module as bytes; the softmax and the
 * squared error the step uses are within their stated bounds; and every bad label, target, rate or readout is
 * refused with a reason, changing nothing.
 */
import "../host/node.js";
import { beforeAll, describe, expect, it } from "vitest";
import { createEngine, loadModelBytes } from "../host/engine/create.js";
import type { Engine } from "../host/engine/engine.js";
import { PhasorError } from "../host/errors.js";
import { quantize } from "../host/model/quantize.js";
import { calibrationStreams } from "./support/engines.js";
import { mcuLearningInstance, mcuInstance, mcuLoad, mcuRun, type McuLearningExports } from "./support/mcu.js";
import { Rng, randomModel, randomStream } from "./support/random.js";
import { parseReadout, plsmChecksum, readoutBytes, sealReadout } from "./support/readout-bytes.js";

/** A quantized model with input weights as large as a trained layer's, so that h spreads over [-1, 1]. */
function model(seed: number, outputs: number, mode: "last" | "every" = "last"): Uint8Array {
  const rng = new Rng(seed);
  const float = randomModel(rng, { inputSize: 2, hidden: [10], peephole: true, rOn: 0.4, outputs, mode, alpha: 0 });
  float.layers[0].W.forEach((v, k, W) => (W[k] = 8 * v));
  return quantize(float, calibrationStreams(seed, 2), "learning").bytes;
}

const events = randomStream(new Rng(3), { n: 300, inputSize: 2, start: "epoch", maxGap: 5 });

async function fixed(image: Uint8Array): Promise<Engine> {
  return createEngine(loadModelBytes(image, "learning.plsm"), { engine: "fixed" });
}

/** The outputs after every event of `events`, from a fresh sequence. */
function outputs(stream: ReturnType<Engine["createStream"]>): Float64Array {
  stream.reset();
  const y = new Float64Array(events.t.length * stream.outputSize);
  stream.pushBatch(events.t, events.x, y);
  return y;
}

describe("the adapted readout and the flashed one", () => {
  let image: Uint8Array;
  let engine: Engine;
  beforeAll(async () => {
    image = model(5, 3);
    engine = await fixed(image);
  });

  it("before any step, the adapted readout computes the flashed readout's bits, in the library and in the module", async () => {
    const flashed = engine.createStream();
    const adapted = engine.createStream();
    adapted.learning!.load(adapted.learning!.save());
    expect(adapted.learning!.adapted).toBe(true);
    const y = outputs(flashed);
    expect(Buffer.from(outputs(adapted).buffer).equals(Buffer.from(y.buffer))).toBe(true);
    expect(Array.from(adapted.output())).toEqual(Array.from(flashed.output()));

    const learner = await mcuLearningInstance();
    expect(mcuLoad(learner, image)).toBe(0);
    learner.readoutSave();
    expect(learner.readoutLoad()).toBe(0);
    const inference = await mcuInstance();
    expect(mcuLoad(inference, image)).toBe(0);
    const starts = new Set([0]);
    expect(Array.from(mcuRun(learner, events.t, events.x, 2, 3, starts))).toEqual(Array.from(mcuRun(inference, events.t, events.x, 2, 3, starts)));
    expect(Array.from(mcuRun(learner, events.t, events.x, 2, 3, starts))).toEqual(Array.from(y));
  });

  it("learning moves the outputs; reset brings back the flashed readout; steps are counted", () => {
    const stream = engine.createStream();
    const before = outputs(stream);
    for (let k = 0; k < 20; k++) stream.learning!.learn(k % 3, { eta: 0.3 });
    expect(stream.learning!.steps).toBe(20);
    expect(parseReadout(stream.learning!.save()).steps).toBe(20);
    expect(Array.from(outputs(stream))).not.toEqual(Array.from(before));
    stream.learning!.reset();
    expect(stream.learning!.adapted).toBe(false);
    expect(stream.learning!.steps).toBe(0);
    expect(Array.from(outputs(stream))).toEqual(Array.from(before));
  });

  it("the module's steps never write the image: the flashed weights stay as the host wrote them", async () => {
    const mcu = await mcuLearningInstance();
    expect(mcuLoad(mcu, image)).toBe(0);
    mcuRun(mcu, events.t.subarray(0, 40), events.x.subarray(0, 80), 2, 3, new Set([0]));
    for (let k = 0; k < 50; k++) expect(mcu.learn(k % 3, 0.5, 0.9)).toBeGreaterThanOrEqual(0);
    expect(Buffer.from(new Uint8Array(mcu.memory.buffer, mcu.modelBuffer(), image.length)).equals(Buffer.from(image))).toBe(true);
    mcu.readoutReset();
    const inference = await mcuInstance();
    expect(mcuLoad(inference, image)).toBe(0);
    const starts = new Set([0]);
    expect(Array.from(mcuRun(mcu, events.t, events.x, 2, 3, starts))).toEqual(Array.from(mcuRun(inference, events.t, events.x, 2, 3, starts)));
  });

  it("a readout moves as bytes from the library to the module and back", async () => {
    const stream = engine.createStream();
    stream.pushBatch(events.t.subarray(0, 30), events.x.subarray(0, 60));
    for (let k = 0; k < 10; k++) stream.learning!.learn(k % 3, { eta: 0.2 });
    const saved = stream.learning!.save();
    const mcu = await mcuLearningInstance();
    expect(mcuLoad(mcu, image)).toBe(0);
    new Uint8Array(mcu.memory.buffer, mcu.readoutBuffer(), saved.length).set(saved);
    expect(mcu.readoutLoad()).toBe(0);
    expect(Array.from(mcuRun(mcu, events.t, events.x, 2, 3, new Set([0])))).toEqual(Array.from(outputs(stream)));
    expect(mcu.learn(1, 0.2, 0.9)).toBeGreaterThanOrEqual(0);
    const back = new Uint8Array(mcu.memory.buffer, mcu.readoutBuffer(), mcu.readoutSave()).slice();
    stream.learning!.learn(1, { eta: 0.2 });
    expect(Buffer.from(back).equals(Buffer.from(stream.learning!.save()))).toBe(true);
  });

  it("the float engine and the reference have no learning readout", async () => {
    const float = randomModel(new Rng(1), { inputSize: 2, hidden: [4], peephole: false, rOn: 0.5, outputs: 2, mode: "last" });
    for (const kind of ["float", "reference"] as const) {
      expect((await createEngine(float, { engine: kind })).createStream().learning).toBeNull();
    }
  });
});

describe("the errors the step learns from are within their stated bounds", () => {
  /** A readout of zero weights and biases z: from a fresh stream (h = 0, G = 1), a step of eta moves d by exactly
   * -eta error. */
  async function errorOfOneStep(image: Uint8Array, z: number[], target: number | number[], eta = 1): Promise<number[]> {
    const engine = await fixed(image);
    const stream = engine.createStream();
    const O = z.length;
    const start = { V: new Float64Array(O * 10), d: Float64Array.from(z), modelChecksum: plsmChecksum(image), steps: 0 };
    stream.learning!.load(readoutBytes(start));
    expect(stream.learning!.learn(target, { eta, c: 1 }).capped).toBe(false);
    const after = parseReadout(stream.learning!.save());
    engine.dispose();
    return z.map((v, o) => (v - after.d[o]) / eta);
  }

  it("cross-entropy: p within 2.1e-5 of the softmax, for 2 to 6 classes and logits up to +-40", async () => {
    const rng = new Rng(77);
    let worst = 0;
    for (const O of [2, 6]) {
      const image = model(30 + O, O);
      for (let k = 0; k < 60; k++) {
        const spread = [0.1, 3, 40][k % 3];
        const z = Array.from({ length: O }, () => Math.round(rng.uniform(-spread, spread) * 2 ** 38) * 2 ** -38);
        const label = rng.int(O);
        const error = await errorOfOneStep(image, z, label);
        const top = Math.max(...z);
        const sum = z.reduce((a, v) => a + Math.exp(v - top), 0);
        z.forEach((v, o) => (worst = Math.max(worst, Math.abs(error[o] + (o === label ? 1 : 0) - Math.exp(v - top) / sum))));
      }
    }
    expect(worst).toBeLessThan(2.1e-5);
    expect(worst).toBeGreaterThan(0);
  });

  it("squared error: z - y within 2^-16, saturated at +-512", async () => {
    const image = model(40, 1, "every");
    const rng = new Rng(78);
    for (let k = 0; k < 40; k++) {
      const z = Math.round(rng.uniform(-100, 100) * 2 ** 38) * 2 ** -38;
      const y = rng.uniform(-100, 100);
      const [error] = await errorOfOneStep(image, [z], [y]);
      expect(Math.abs(error - (z - y))).toBeLessThanOrEqual(2 ** -16);
    }
    const [far] = await errorOfOneStep(image, [0], [-1000], 0.25);
    expect(far).toBe(512);
  });
});

describe("bad input is refused with its reason and changes nothing", () => {
  let image: Uint8Array;
  let engine: Engine;
  beforeAll(async () => {
    image = model(9, 3);
    engine = await fixed(image);
  });

  function adaptedStream() {
    const stream = engine.createStream();
    stream.pushBatch(events.t.subarray(0, 20), events.x.subarray(0, 40));
    stream.learning!.learn(2, { eta: 0.1 });
    return stream;
  }

  it("a label, target or rate out of range", () => {
    const stream = adaptedStream();
    const saved = stream.learning!.save();
    const cases: [unknown, unknown, string, RegExp][] = [
      [3, { eta: 0.1 }, "bad-input", /class 3 is not one of the readout's outputs, 0 to 2/],
      [1.5, { eta: 0.1 }, "bad-input", /class 1\.5 is not one of the readout's outputs/],
      [-1, { eta: 0.1 }, "bad-input", /class -1 is not one/],
      [[1, 2], { eta: 0.1 }, "bad-input", /2 target values, the readout has 3 outputs/],
      [[1, NaN, 0], { eta: 0.1 }, "bad-input", /target 1 is NaN, expected a finite number within \+-2\^23/],
      [[1, 0, 1e7], { eta: 0.1 }, "bad-input", /target 2 is 10000000/],
      ["1", { eta: 0.1 }, "bad-input", /expected a class \(an integer\) or 3 target values, got string/],
      [1, { eta: 0 }, "bad-args", /eta is 0, expected a number in \[2\^-24, 1024\]/],
      [1, { eta: 2000 }, "bad-args", /eta is 2000/],
      [1, { eta: NaN }, "bad-args", /eta is NaN/],
      [1, {}, "bad-args", /eta is undefined/],
      [1, { eta: 0.1, c: 0 }, "bad-args", /c is 0, expected a number in \[2\^-16, 1\] \(or Infinity: no cap\)/],
      [1, { eta: 0.1, c: 1.5 }, "bad-args", /c is 1\.5/],
      [1, null, "bad-args", /expected \{ eta, c\? \}/],
    ];
    for (const [target, rate, code, message] of cases) {
      let error: unknown;
      try {
        stream.learning!.learn(target as number, rate as { eta: number });
      } catch (e) {
        error = e;
      }
      expect(error, String(message)).toBeInstanceOf(PhasorError);
      expect((error as PhasorError).code).toBe(code);
      expect((error as PhasorError).message).toMatch(message);
      expect(Buffer.from(stream.learning!.save()).equals(Buffer.from(saved))).toBe(true);
    }
    const single = engine.createStream();
    expect(() => single.learning!.learn([0.5, 0, 0], { eta: 0.1 })).not.toThrow();
  });

  it("on a readout of one output, a number is the target value", async () => {
    const one = await fixed(model(11, 1, "every"));
    const [a, b] = [one.createStream(), one.createStream()];
    a.learning!.learn(0.5, { eta: 0.1 });
    b.learning!.learn([0.5], { eta: 0.1 });
    expect(Buffer.from(a.learning!.save()).equals(Buffer.from(b.learning!.save()))).toBe(true);
    expect(() => a.learning!.learn(1e9, { eta: 0.1 })).toThrow(/target 0 is 1000000000, expected a finite number within \+-2\^23/);
  });

  it("readout bytes that are damaged, of another model, the wrong size or out of range", async () => {
    const stream = adaptedStream();
    const saved = stream.learning!.save();
    const damaged = saved.slice();
    damaged[40] ^= 1;
    const other = (await fixed(model(12, 3))).createStream().learning!.save();
    const wrongMagic = saved.slice();
    wrongMagic[0] = 0x51;
    sealReadout(wrongMagic);
    const values = parseReadout(saved);
    const tooLarge = readoutBytes({ ...values, d: values.d.map((v, o) => (o === 1 ? 300 : v)) });
    const cases: [Uint8Array, RegExp][] = [
      [damaged, /the checksum does not match: the bytes are damaged/],
      [other, /adapted from another model \(its checksum or sizes differ\)/],
      [saved.subarray(0, 100), /100 bytes, an adapted readout of this model has \d+/],
      [wrongMagic, /not an adapted readout \(magic, version 1 or reserved bytes\)/],
      [tooLarge, /a bias is beyond \+-\(2\^46 - 1\) in Q25\.38/],
    ];
    for (const [bytes, message] of cases) {
      expect(() => stream.learning!.load(bytes), String(message)).toThrow(message);
      expect(Buffer.from(stream.learning!.save()).equals(Buffer.from(saved))).toBe(true);
    }
    const fresh = engine.createStream();
    expect(() => fresh.learning!.load(damaged)).toThrow(/damaged/);
    expect(fresh.learning!.adapted).toBe(false);
  });

  it("the module answers with its status codes, and always caps", async () => {
    const mcu: McuLearningExports = await mcuLearningInstance();
    expect(mcu.learn(0, 0.1, 0.9), "before init").toBe(-3);
    expect(mcu.readoutSave()).toBe(-3);
    expect(mcu.readoutLoad()).toBe(-3);
    expect(mcu.readoutSize()).toBe(0);
    expect(mcuLoad(mcu, image)).toBe(0);
    const size = mcu.readoutSave();
    const saved = new Uint8Array(mcu.memory.buffer, mcu.readoutBuffer(), size).slice();
    for (const [label, eta, c] of [[3, 0.1, 0.9], [-2, 0.1, 0.9], [0, 0, 0.9], [0, 2000, 0.9], [0, NaN, 0.9], [0, 0.1, 0], [0, 0.1, 1.5], [0, 0.1, Infinity]]) {
      expect(mcu.learn(label, eta, c), `learn(${label}, ${eta}, ${c})`).toBe(-2);
    }
    new Float64Array(mcu.memory.buffer, mcu.targetBuffer(), 3).set([0, NaN, 0]);
    expect(mcu.learn(-1, 0.1, 0.9)).toBe(-2);
    const damaged = saved.slice();
    damaged[50] ^= 4;
    new Uint8Array(mcu.memory.buffer, mcu.readoutBuffer(), size).set(damaged);
    expect(mcu.readoutLoad()).toBe(-1);
    expect(mcu.readoutSave()).toBe(size);
    expect(Buffer.from(new Uint8Array(mcu.memory.buffer, mcu.readoutBuffer(), size)).equals(Buffer.from(saved))).toBe(true);
  });
});
