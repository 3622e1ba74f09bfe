// What a plain JavaScript caller can hand the library that it took and then answered wrongly, or failed on with an
// unclear error: output arrays of pushBatch sharing memory, a layer given as text, randomModel's, the Rng's and the
// topic helpers' arguments, a sensor stream's time policy. Each case says what happened before.
import "../host/node.js";
import { describe, expect, it } from "vitest";
import { createEngine, loadModelBytes } from "../host/engine/create.js";
import { EventParser, parseEvents } from "../host/engine/events.js";
import type { Engine } from "../host/engine/engine.js";
import { ExactPhase, timeGate } from "../host/engine/phase.js";
import { wasmFromUrl } from "../host/engine/wasm-source.js";
import { SensorStream, defaultSensorLayout, parseSensorLayout } from "../host/gateway/sensors.js";
import { deadLetterTopic, healthTopic, inputTopic, outputTopic, ownedShards, parseInputTopic, shardOf } from "../host/gateway/topics.js";
import { parseModelText } from "../host/model/model.js";
import { decodePlsm, encodePlsm } from "../host/model/plsm.js";
import { quantize } from "../host/model/quantize.js";
import { generate } from "../host/training/tasks.js";
import { asyncRejection, rejection, stateOf } from "./support/engines.js";
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
      const error = rejection(() => stream.pushBatch(T, X, both.subarray(0, 12), both), "bad-args", engine.kind);
      expect(error.message, engine.kind).toBe("batch: h shares memory with y: the outputs need arrays of their own");
      expect(stateOf(stream), engine.kind).toEqual(before);
    }
  });

  it("y over x: before, the reference read the outputs it had written as later inputs, the wasm engines did not", async () => {
    for (const engine of await engines()) {
      const buffer = new Float64Array(20);
      const x = buffer.subarray(0, 4);
      x.set(X);
      expect(rejection(() => engine.createStream().pushBatch(T, x, buffer.subarray(0, 12)), "bad-args", engine.kind).message).toBe("batch: y shares memory with x: the outputs need arrays of their own");
      // an h over the last number of x, and a y over t's bytes
      expect(rejection(() => engine.createStream().pushBatch(T, x, undefined, buffer.subarray(3, 19)), "bad-args", engine.kind).message).toMatch(/^batch: h shares memory with x/);
      const times = new Float64Array(12);
      times.set(T);
      expect(rejection(() => engine.createStream().pushBatch(times.subarray(0, 4), X, times), "bad-args", engine.kind).message).toMatch(/^batch: y shares memory with t/);
    }
  });

  it("a y or h longer than the batch's outputs: before, taken, the numbers past them left as they were, so a y laid out for another outputSize read as outputs", async () => {
    for (const engine of await engines()) {
      const stream = engine.createStream();
      const before = stateOf(stream);
      // laid out as if the model had 4 outputs: events 1..3 would be read from the wrong places
      const y = new Float64Array(4 * 4);
      expect(rejection(() => stream.pushBatch(T, X, y), "bad-input", engine.kind).message).toBe("batch: y has 16 numbers, 4 events x 3 outputs fill 12 (a longer buffer goes in as y.subarray(0, 12))");
      expect(rejection(() => stream.pushBatch(T, X, undefined, new Float64Array(17)), "bad-input", engine.kind).message).toMatch(/^batch: h has 17 numbers, 4 events x 4 \(hiddenSize\) fill 16/);
      expect(stateOf(stream), engine.kind).toEqual(before);
      stream.pushBatch(T, X, y.subarray(0, 12));
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

describe("the seeded generator's draws and the values its refusals show", () => {
  it("int(0), int(-3), int(2.5): before, 0, -2 and draws of a range no one asked for", () => {
    for (const n of [0, -3, 2.5, Number.NaN, 2 ** 54]) {
      const rng = new Rng(7);
      expect(rejection(() => rng.int(n), "bad-args", String(n)).message).toBe(`Rng.int(n): expected a whole number from 1 to 2^53, got ${n}`);
      // nothing was drawn: the next draw is the one a fresh generator makes
      expect(rng.nextU32()).toBe(new Rng(7).nextU32());
    }
    expect(new Rng(7).int(1)).toBe(0);
  });

  it("uniform and logUniform of what is no finite range: before, NaN (a string lo, a log of -1) or Infinity", () => {
    const rng = new Rng(7);
    expect(rejection(() => rng.uniform("a" as never, 1), "bad-args").message).toBe('Rng.uniform(lo, hi): expected finite numbers a finite distance apart, got "a", 1');
    expect(rejection(() => rng.uniform(-Infinity, 1), "bad-args").message).toMatch(/got -Infinity, 1$/);
    expect(rejection(() => rng.uniform(-1.7e308, 1.7e308), "bad-args").message).toMatch(/a finite distance apart/);
    expect(rejection(() => rng.logUniform(-1, 1), "bad-args").message).toBe("Rng.logUniform(lo, hi): expected finite numbers above 0, got -1, 1");
    expect(rejection(() => rng.logUniform(0, 1), "bad-args").message).toMatch(/above 0, got 0, 1$/);
    const value = rng.logUniform(2, 3);
    expect(value >= 2 && value <= 3).toBe(true);
  });

  it("a seed or a count given as text is shown as text: before, \"seed must be an integer in [0, 4294967295], got 5\"", () => {
    expect(rejection(() => new Rng("5" as never), "bad-args").message).toBe('seed must be an integer in [0, 4294967295], got "5"');
    expect(rejection(() => generate("adding", "3" as never, 1), "bad-args").message).toBe('n must be a non-negative integer, got "3"');
    expect(rejection(() => new Rng(5n as never), "bad-args").message).toBe("seed must be an integer in [0, 4294967295], got 5n");
  });
});

describe("the gateway's topic helpers build only topics the gateway writes", () => {
  it("outputTopic and deadLetterTopic of a device \"+\" or \"a/b\", a shard -1.5, a prefix \"a/\": before, returned as topics (a wildcard, another device's levels, an empty level)", () => {
    for (const topic of [outputTopic, deadLetterTopic]) {
      expect(rejection(() => topic("phasor", 3, "+"), "bad-args").message).toMatch(/^device "\+" is not a valid name/);
      expect(rejection(() => topic("phasor", 3, "a/b"), "bad-args").message).toMatch(/^device "a\/b" is not a valid name/);
      expect(rejection(() => topic("phasor", -1.5, "d1"), "bad-args").message).toBe("shard: expected a whole number from 0, got -1.5");
      expect(rejection(() => topic("phasor", "3" as never, "d1"), "bad-args").message).toBe('shard: expected a whole number from 0, got "3"');
      expect(rejection(() => topic("a/", 3, "d1"), "bad-args").message).toMatch(/^topic prefix "a\/": expected levels/);
    }
    expect(outputTopic("site/line-3", 3, "d1")).toBe("site/line-3/out/3/d1");
    expect(deadLetterTopic("site/line-3", 0, "d1")).toBe("site/line-3/dead/0/d1");
  });

  it("healthTopic of an instance that is no number, shardOf of a device that is no text, a prefix that is no text: before, a topic, the shard of no bytes, a TypeError", () => {
    expect(rejection(() => healthTopic("phasor", "x" as never), "bad-args").message).toBe('gateway instance: expected a whole number from 0, got "x"');
    expect(healthTopic("phasor", 2)).toBe("phasor/health/2");
    expect(rejection(() => shardOf(5 as never, 4), "bad-args").message).toBe("device: expected a name (a string), got 5");
    expect(shardOf("5", 1 << 19)).not.toBe(shardOf("", 1 << 19));
    // before: a shard of 7 digits, a topic level the gateway does not read as a shard, its readings never taken
    expect(rejection(() => inputTopic("phasor", 2_000_000, "d1", "s"), "bad-args").message).toBe("shards: expected a whole number from 1 to 1000000, got 2000000");
    expect(rejection(() => ownedShards(0, 1, 2_000_000), "bad-args").message).toMatch(/^shards: expected a whole number from 1 to 1000000/);
    expect(parseInputTopic("phasor", inputTopic("phasor", 1_000_000, "d1", "s"))).toMatchObject({ device: "d1", sensor: "s" });
    expect(rejection(() => inputTopic(undefined as never, 4, "d1", "s"), "bad-args").message).toMatch(/^topic prefix: expected levels like "phasor" \(a string\), got undefined/);
  });
});

describe("a sensor stream's time policy, readings and layout", () => {
  const layout = () => parseSensorLayout([{ name: "a", channels: 1, scale: [2] }], 1, "sensors.json");

  it("a time policy \"rejct\": before, run as clamp, so an earlier reading was taken at the previous time", async () => {
    const [engine] = await engines();
    expect(rejection(() => new SensorStream(engine.createStream(), layout(), "rejct" as never), "bad-args").message).toBe('timePolicy must be "reject" or "clamp", got "rejct"');
    const sensors = new SensorStream(engine.createStream(), layout(), "reject");
    expect(sensors.push("a", 5, [0.1])).toBe("accepted");
    expect(sensors.push("a", 4, [0.1])).toBe("timeBackwards");
  });

  it("a value given as text: before, a scale turned \"0.5\" into 1 and the reading was taken; values that are no array were a TypeError", async () => {
    const [engine] = await engines();
    const sensors = new SensorStream(engine.createStream(), layout());
    expect(sensors.push("a", 1, ["0.5"] as never)).toBe("nonFinite");
    expect(sensors.refusal).toBe('value 0 of sensor "a" is "0.5", not a number');
    expect(sensors.stream.stats().events).toBe(0);
    expect(sensors.push("a", "2" as never, [0.5])).toBe("nonFinite");
    expect(sensors.refusal).toBe('t is "2", not a finite number');
    expect(rejection(() => sensors.push("a", 1, null as never), "bad-args").message).toBe("sensor reading: values must be an array of numbers, got null");
    expect(sensors.push("a", 1, [0.5])).toBe("accepted");
  });

  it("a layout built in code with a slot beyond the inputs or one slot for two sensors: before, a channel's values went into no input, or two sensors shared one", async () => {
    const [engine] = await engines();
    const sensor = (name: string, slot: number) => ({ name, channels: 1, slots: Int32Array.from([slot]), hold: false, offset: null, scale: null });
    const beyond = { inputSize: 1, sensors: [sensor("a", 5)] };
    expect(rejection(() => new SensorStream(engine.createStream(), beyond), "bad-model").message).toBe("SensorStream layout: sensors[0].slots[0]: expected an input slot from 0 to 0, got 5");
    const shared = { inputSize: 1, sensors: [sensor("a", 0), sensor("b", 0)] };
    expect(rejection(() => new SensorStream(engine.createStream(), shared), "bad-model").message).toMatch(/slot 0 already belongs to sensor "a"/);
    expect(rejection(() => new SensorStream(engine.createStream(), {} as never), "bad-args").message).toMatch(/^SensorStream: layout must be a SensorLayout/);
    expect(new SensorStream(engine.createStream(), { inputSize: 1, sensors: [sensor("a", 0)] }).push("a", 1, [0.5])).toBe("accepted");
  });

  it("parseSensorLayout of an inputSize given as text: before, \"no free input slot left for channel 1 (inputSize 2)\"", () => {
    expect(rejection(() => parseSensorLayout([{ name: "a", channels: 2 }], "2" as never, "sensors.json"), "bad-args").message).toBe(
      'parseSensorLayout: inputSize (the model\'s) must be a whole number from 1, got "2"',
    );
    expect(parseSensorLayout([{ name: "a", channels: 2 }], 2, "sensors.json").sensors[0].channels).toBe(2);
    // before: a layout of inputSize "2", which every stream then refused as "for inputSize 2, the model takes 2"
    expect(rejection(() => defaultSensorLayout("2" as never), "bad-args").message).toBe('defaultSensorLayout: inputSize (the model\'s) must be a whole number from 1, got "2"');
    expect(defaultSensorLayout(2).sensors[0].channels).toBe(2);
  });
});

it("hidden(\"0\") and cell(\"0\"): before, \"layer 0 does not exist\" of the layer that does, worded one way by the reference and another by the wasm engines", async () => {
  const two = randomModel(new Rng(5), { ...SHAPE, hidden: [3, 2] });
  for (const engine of [...(await engines()), await createEngine(two, { engine: "reference" }), await createEngine(two, { engine: "float" })]) {
    const stream = engine.createStream();
    const layers = engine.model.layers.length;
    const which = layers === 1 ? "layer 0" : "layers 0..1";
    for (const read of [stream.hidden, stream.cell]) {
      expect(rejection(() => read.call(stream, "0" as never), "bad-args", engine.kind).message).toBe(`layer "0" does not exist: the model has ${which}`);
      expect(rejection(() => read.call(stream, layers), "bad-args", engine.kind).message).toBe(`layer ${layers} does not exist: the model has ${which}`);
      expect(read.call(stream, layers - 1).length).toBe(engine.model.layers[layers - 1].hiddenSize);
    }
  }
});

it("refusals name what was given: a Float32Array y was \"an object\", an eta \"0.1\" read as \"eta is 0.1\"", async () => {
  const [reference, float, fixed] = await engines();
  for (const engine of [reference, float, fixed]) {
    const batch = () => engine.createStream().pushBatch(T, X, new Float32Array(12) as never);
    expect(rejection(batch, "bad-args", engine.kind).message).toBe("batch: y is a Float32Array, expected a Float64Array or nothing");
    expect(rejection(() => engine.createStream().pushBatch(T, new Int16Array(4) as never), "bad-input", engine.kind).message).toBe("batch: x is an Int16Array, expected a Float32Array or a Float64Array");
  }
  const stream = fixed.createStream();
  stream.push(1, [0.2]);
  expect(rejection(() => stream.learning!.learn([0, 0, 1], { eta: "0.1" as never }), "bad-args").message).toBe('learning rate: eta is "0.1", expected a number in [2^-24, 1024]');
  expect(rejection(() => stream.learning!.learn([0, 0, 1], { eta: 0.1, c: "1" as never }), "bad-args").message).toMatch(/^learning rate: c is "1", expected/);
});

it("ExactPhase of periods that are no array, phaseFixed of a unit that does not exist or a negative fractionBits: before, a TypeError mixing BigInts, or floor(phi / 8) as if it were a seed", () => {
  const phase = new ExactPhase(Float64Array.from([3, 5]), Float64Array.from([0, 1]));
  expect(rejection(() => phase.phaseFixed(4, 2, 64), "bad-args").message).toBe("ExactPhase.phaseFixed: unit 2 does not exist, the units are 0..1");
  expect(rejection(() => phase.phaseFixed(4, 0, -3), "bad-args").message).toBe("ExactPhase.phaseFixed: fractionBits must be a whole number in 0..1024, got -3");
  expect(rejection(() => phase.phaseFixed(4, 0, 1.5), "bad-args").message).toMatch(/got 1\.5$/);
  expect(rejection(() => phase.phases("4" as never, new Float64Array(2)), "bad-args").message).toBe('t: expected a finite number, got "4"');
  // before: a phase of no units (units undefined), and a TypeError
  expect(rejection(() => new ExactPhase(3 as never, 1 as never), "bad-args").message).toBe("ExactPhase: tau must be an array of numbers, one per unit, got 3");
  expect(rejection(() => new ExactPhase([3], null as never), "bad-args").message).toBe("ExactPhase: shift must be an array of numbers, one per unit, got null");
  // phi_0(4) = (4 mod 3) / 3 = 1/3: floor(2^6 / 3) = 21
  expect(phase.phaseFixed(4, 0, 6)).toBe(21n);
});

describe("the model readers' and writers' names and metadata", () => {
  it("a reader called without its source: before, every refusal began \"undefined:\"; quantize wrote an object source into the file", () => {
    const bytes = new Uint8Array([1, 2, 3, 4, 5]);
    for (const read of [() => loadModelBytes(bytes, undefined as never), () => decodePlsm(bytes, undefined as never)]) {
      expect(rejection(read, "bad-args").message).toBe("reading a model file: source (the name its messages give the model, such as the file's) must be a string, got undefined");
    }
    expect(rejection(() => parseModelText("{", undefined as never), "bad-args").message).toMatch(/^parseModelText: source .* got undefined$/);
    const model = randomModel(new Rng(4), SHAPE);
    expect(rejection(() => quantize(model, [{ t: T, x: X }], { name: "m" } as never), "bad-args").message).toMatch(/^quantize: source .* got an object$/);
    // text that is no text is named, not read as "[object Object]"
    expect(rejection(() => parseModelText({} as never, "m.json"), "bad-model").message).toBe("m.json: expected the file's text (a string), got an object");
  });

  it("encodePlsm with a meta that names the time unit or the labels: before, the file said \"s\" for a model in ms, and decodePlsm gave the model back in s", () => {
    const model = randomModel(new Rng(4), SHAPE);
    expect(rejection(() => encodePlsm(model, undefined, { timeUnit: "s" }), "bad-args").message).toBe("encodePlsm: meta.timeUnit would replace the model's own timeUnit in the file; it is the model's to give");
    expect(rejection(() => encodePlsm(model, undefined, { labels: ["a", "b", "c"] }), "bad-args").message).toMatch(/^encodePlsm: meta\.labels would replace/);
    expect(rejection(() => encodePlsm(model, undefined, "notes" as never), "bad-args").message).toBe("encodePlsm: meta must be an object of JSON values");
    expect(decodePlsm(encodePlsm(model, undefined, { note: "mine" }), "m.plsm").model.timeUnit).toBe(model.timeUnit);
  });
});

it("createEngine of a loaded .plsm made by hand with another model beside its image: before, the fixed engine ran the image and reported the other model as its own, the reference ran the other", async () => {
  const plsm = decodePlsm(quantize(randomModel(new Rng(4), SHAPE), [{ t: T, x: X }], "m").bytes, "m.plsm");
  const image = { format: "plsm" as const, model: plsm.model, plsm, source: "m.plsm" };
  const other = randomModel(new Rng(5), SHAPE);
  for (const engine of ["fixed", "reference"] as const) {
    const error = await asyncRejection(() => createEngine({ ...image, model: other }, { engine }), "bad-args", engine);
    expect(error.message).toBe("m.plsm: a loaded .plsm's model must be its image's own (plsm.model, as loadModelBytes gives it), not another");
  }
  expect((await createEngine({ ...image }, { engine: "fixed" })).model.layers[0].tau).toEqual(image.plsm.model.layers[0].tau);
});

it("wasmFromUrl of a folder without its final \"/\": before, the builds were fetched from the folder above it (https://cdn.example/static/phasor-simd.wasm for .../static/wasm)", () => {
  expect(rejection(() => wasmFromUrl("https://cdn.example/static/wasm"), "bad-args").message).toBe(
    'wasmFromUrl: "https://cdn.example/static/wasm" is a folder\'s URL without its final "/": the wasm would be fetched from the folder above it',
  );
  expect(typeof wasmFromUrl("https://cdn.example/static/wasm/")).toBe("function");
  expect(typeof wasmFromUrl(new URL("https://cdn.example/static/wasm/"))).toBe("function");
  // before: a TypeError (Invalid URL) with no word of what or where; node has no page to read a relative URL against
  expect(rejection(() => wasmFromUrl("/static/wasm/"), "bad-args").message).toMatch(/^wasmFromUrl: "\/static\/wasm\/" is not a URL \(a relative one needs a page to be read against\)/);
  expect(rejection(() => wasmFromUrl(5 as never), "bad-args").message).toBe("wasmFromUrl: expected the wasm folder's URL (a string or a URL), got 5");
});

it("timeGate of a phase given as text, beyond [0, 1), or an r_on of 0: before, 1 for \"0.1\", and openness values no phase has", () => {
  for (const [phi, rOn, alpha] of [["0.1", 0.2, 0], [1.5, 0.2, 0.001], [0.1, 0, 0], [-0.1, 0.2, 0], [0.1, 0.2, Number.NaN], [0.1, 1.5, 0]] as [number, number, number][]) {
    expect(rejection(() => timeGate(phi, rOn, alpha), "bad-args", String(phi)).message).toMatch(/^timeGate\(phi, rOn, alpha\): expected phi in \[0, 1\), rOn in \(0, 1\] and alpha a finite number >= 0, got /);
  }
  expect(rejection(() => timeGate("0.1" as never, 0.2, 0), "bad-args").message).toMatch(/got "0\.1", 0\.2, 0$/);
  expect(timeGate(0.05, 0.2, 0)).toBe(0.5);
});

it("parseEvents and EventParser.push of what is no text: before, an object gave no events and no error, bytes a TypeError inside the reader", () => {
  expect(rejection(() => parseEvents({} as never, { inputSize: 1 }), "bad-args").message).toBe("EventParser.push: expected text (a string), got an object");
  const bytes = new TextEncoder().encode('{"t":1,"x":[0.5]}\n');
  expect(rejection(() => parseEvents(bytes as never, { inputSize: 1 }), "bad-args").message).toBe("EventParser.push: expected text (a string), got bytes, which pushBytes takes");
  expect(rejection(() => new EventParser({ inputSize: 1 }).pushBytes('{"t":1}' as never), "bad-args").message).toBe("EventParser.pushBytes: expected bytes (a Uint8Array), got text, which push takes");
  expect(new EventParser({ inputSize: 1 }).pushBytes(bytes).length).toBe(1);
  expect(rejection(() => new EventParser({ inputSize: "1" as never }), "bad-args").message).toBe('inputSize must be a positive integer, got "1"');
});

it("changing engine.model in place: before, the reference ran the new weights under the old snapshot checksum, the wasm engines did not", async () => {
  const [reference, float] = await engines();
  const run = (engine: Engine) => {
    const stream = engine.createStream();
    stream.pushBatch(T, X);
    return stream;
  };
  const before = [reference, float].map((engine) => Array.from(run(engine).output()));
  const saved = run(reference).snapshot();
  for (const engine of [reference, float]) {
    engine.model.layers[0].W.fill(0.9);
    engine.model.readout.d.fill(5);
  }
  expect(Array.from(run(reference).output())).toEqual(before[0]);
  expect(Array.from(run(float).output())).toEqual(before[1]);
  // a snapshot taken before still names the weights the stream runs
  const stream = reference.createStream();
  stream.restore(saved);
  expect(Array.from(stream.output())).toEqual(before[0]);
});

describe("a refusal shows the value it was given as given", () => {
  // before, these said `got ${String(value)}`: "got " for "", "got 16" for the text "16", "got [object Object]"
  const model = randomModel(new Rng(5), SHAPE);
  it("quantize's weights and U formats: text quoted, an object by its kind", () => {
    expect(rejection(() => quantize(model, [{ t: T, x: X }], "m", "" as never), "bad-args").message).toBe('quantize: weights must be one of int16, int8, got ""');
    expect(rejection(() => quantize(model, [{ t: T, x: X }], "m", "16" as never), "bad-args").message).toMatch(/got "16"$/);
    expect(rejection(() => quantize(model, [{ t: T, x: X }], "m", "int8", {} as never), "bad-args").message).toBe('quantize: U formats must be "pairs" or "fine", got an object');
  });
  it("an event parser's options and file name", () => {
    expect(rejection(() => new EventParser("x.ndjson" as never), "bad-args").message).toBe('EventParser: expected options as an object, got "x.ndjson"');
    expect(rejection(() => new EventParser({ inputSize: 1, file: 7 as never }), "bad-args").message).toBe("file must be a name (a string), got 7");
    expect(rejection(() => new EventParser({ inputSize: "1" as never }), "bad-args").message).toBe('inputSize must be a positive integer, got "1"');
    expect(rejection(() => new EventParser({ inputSize: 1, maxLineBytes: "16" as never }), "bad-args").message).toMatch(/got "16"$/);
    expect(rejection(() => new EventParser({ inputSize: 1, maxLineBytes: {} as never }), "bad-args").message).toMatch(/got an object$/);
  });
});
