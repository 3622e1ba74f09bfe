/**
 * The sensor encoding (host/gateway/sensors.ts) and the topic layout (host/gateway/topics.ts): a reading fills only its
 * sensor's slots, hold sensors keep their last value, every refusal has its reason and leaves the device's state
 * as it was (also when the engine, not the encoder, refuses), and sharding is the documented pure function.
 */
import "../host/node.js";
import { describe, expect, it } from "vitest";
import { createEngine } from "../host/engine/create.js";
import { PhasorError } from "../host/errors.js";
import { fnv1a32, inputTopic, ownedShards, parseInputTopic, shardOf } from "../host/gateway/topics.js";
import { DeviceInput, SensorStream, defaultSensorLayout, parseSensorLayout, sensorLayoutToJson, type SensorLayout } from "../host/gateway/sensors.js";
import { wasmEngine, type WasmKind } from "./support/engines.js";
import { randomModel, Rng } from "./support/random.js";

const DECLARATION = {
  format: "phasor-sensors",
  version: 1,
  sensors: [
    { name: "accel", channels: 3, slots: [0, 1, 2] },
    { name: "temp", channels: 1, slots: [4], hold: true, offset: [20], scale: [0.5] },
    { name: "door", channels: 1 },
  ],
};

function layout() {
  return parseSensorLayout(DECLARATION, 6, "sensors.json");
}

describe("sensor declarations", () => {
  it("reads slots, fills free slots in order, and keeps hold, offset and scale", () => {
    const l = layout();
    expect(l.sensors.map((s) => [s.name, Array.from(s.slots), s.hold])).toEqual([
      ["accel", [0, 1, 2], false],
      ["temp", [4], true],
      ["door", [3], false],
    ]);
    expect(parseSensorLayout(sensorLayoutToJson(l), 6, "again")).toEqual(l);
    expect(defaultSensorLayout(2).sensors[0]).toMatchObject({ name: "x", channels: 2, slots: Int32Array.from([0, 1]) });
    // the bare array, as a model file's "sensors" field holds it, with a default hold
    expect(parseSensorLayout({ hold: true, sensors: [{ name: "a", channels: 1 }] }, 1, "m").sensors[0].hold).toBe(true);
    // fields of the file's own that differ from the format's by more than a letter are still ignored
    const own = parseSensorLayout({ ...DECLARATION, site: "press 7", sensors: DECLARATION.sensors.map((s) => ({ ...s, unit: "m/s^2", note: "" })) }, 6, "own");
    expect(own).toEqual(l);
  });

  it.each([
    [{ sensors: [] }, /sensors: expected a non-empty array/],
    [{ format: "other", sensors: [{ name: "a", channels: 1 }] }, /format: expected "phasor-sensors"/],
    [{ sensors: [{ name: "a/b", channels: 1 }] }, /sensors\[0\]\.name: expected a name/],
    [{ sensors: [{ name: "a", channels: 1 }, { name: "a", channels: 1 }] }, /sensors\[1\]\.name: sensor "a" is declared twice/],
    [{ sensors: [{ name: "a", channels: 7 }] }, /sensors\[0\]\.channels: expected an integer from 1 to the model's inputSize 6/],
    [{ sensors: [{ name: "a", channels: 2, slots: [0] }] }, /sensors\[0\]\.slots: expected 2 slot indices/],
    [{ sensors: [{ name: "a", channels: 1, slots: [6] }] }, /sensors\[0\]\.slots\[0\]: expected an input slot from 0 to 5/],
    [{ sensors: [{ name: "a", channels: 1, slots: [2] }, { name: "b", channels: 1, slots: [2] }] }, /sensors\[1\]\.slots\[0\]: slot 2 already belongs to sensor "a"/],
    [{ sensors: [{ name: "a", channels: 4 }, { name: "b", channels: 3 }] }, /sensors\[1\]\.channels: no free input slot left/],
    [{ sensors: [{ name: "a", channels: 1, scale: [Infinity] }] }, /sensors\[0\]\.scale: expected 1 finite numbers/],
    // before: each taken for a field of the file's own and ignored, the readings then neither offset, scaled nor held
    [{ sensors: [{ name: "a", channels: 1, offsets: [20] }] }, /^sensors\.json: sensors\[0\]\.offsets: looks like "offset" misspelt \(a field of your own must differ from the format's by more than case or one letter\)$/],
    [{ sensors: [{ name: "a", channels: 1, Scale: [0.1] }] }, /^sensors\.json: sensors\[0\]\.Scale: looks like "scale" misspelt/],
    [{ sensors: [{ name: "a", channels: 1, slot: [0] }] }, /^sensors\.json: sensors\[0\]\.slot: looks like "slots" misspelt/],
    [{ Hold: true, sensors: [{ name: "a", channels: 1 }] }, /^sensors\.json: Hold: looks like "hold" misspelt/],
    [{ format: "phasor-sensors", sensor: [{ name: "a", channels: 1 }], sensors: [{ name: "b", channels: 1 }] }, /^sensors\.json: sensor: looks like "sensors" misspelt/],
  ])("refuses %j", (json, message) => {
    let error: unknown;
    try {
      parseSensorLayout(json, 6, "sensors.json");
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PhasorError);
    expect((error as PhasorError).code).toBe("bad-model");
    expect((error as PhasorError).message).toMatch(message);
  });
});

describe("encoding readings", () => {
  it("fills only the sensor's slots: others are zero, hold sensors keep their last (scaled) value", () => {
    const input = new DeviceInput(layout());
    expect(input.encode("accel", 1, [0.1, 0.2, 0.3])).toBe("accepted");
    expect(Array.from(input.x)).toEqual([0.1, 0.2, 0.3, 0, 0, 0]);
    expect(input.encode("temp", 2, [24])).toBe("accepted");
    expect(Array.from(input.x)).toEqual([0, 0, 0, 0, 2, 0]);
    expect(input.encode("door", 3, [1])).toBe("accepted");
    expect(Array.from(input.x)).toEqual([0, 0, 0, 1, 2, 0]);
    expect(input.encode("accel", 3, [1, 1, 1])).toBe("accepted");
    expect(Array.from(input.x)).toEqual([1, 1, 1, 0, 2, 0]);
    expect(input.t).toBe(3);
  });

  it("refuses unknown sensors, wrong channel counts, non-finite values and time going backwards, changing nothing", () => {
    const input = new DeviceInput(layout());
    input.encode("temp", 10, [30]);
    const before = input.state();
    expect(input.encode("gyro", 11, [1])).toBe("unknownSensor");
    expect(input.encode("accel", 11, [1, 2])).toBe("wrongChannels");
    expect(input.encode("accel", 11, [1, NaN, 2])).toBe("nonFinite");
    expect(input.encode("accel", Infinity, [1, 2, 3])).toBe("nonFinite");
    expect(input.encode("accel", 9.5, [1, 2, 3])).toBe("timeBackwards");
    expect(input.state()).toEqual(before);
    // equal time is in order (non-decreasing, plstm.md section 4)
    expect(input.encode("accel", 10, [1, 2, 3])).toBe("accepted");
    // finite, but not once scaled
    const scaled = new DeviceInput(parseSensorLayout({ sensors: [{ name: "big", channels: 1, scale: [10] }] }, 1, "s"));
    expect(scaled.encode("big", 0, [1e308])).toBe("nonFinite");
    expect(scaled.state()).toEqual({ lastT: null, held: [0] });
  });

  it("with time policy clamp, applies a late reading at the previous time", () => {
    const input = new DeviceInput(layout(), "clamp");
    input.encode("door", 10, [1]);
    expect(input.encode("door", 4, [0])).toBe("clamped");
    expect(input.t).toBe(10);
  });

  it("state() and restore() carry the held values and the last time to another encoder", () => {
    const a = new DeviceInput(layout());
    a.encode("temp", 5, [22]);
    const b = new DeviceInput(layout());
    b.restore(JSON.parse(JSON.stringify(a.state())));
    expect(b.encode("temp", 4, [1])).toBe("timeBackwards");
    b.encode("accel", 6, [0, 0, 0]);
    expect(b.x[4]).toBe(1);
  });

  it("a SensorStream pushes accepted readings to its stream and counts every outcome", async () => {
    const model = randomModel(new Rng(5), { inputSize: 6, hidden: [4], peephole: false, rOn: 0.5, outputs: 2, mode: "every" });
    const engine = await createEngine(model, { engine: "reference" });
    const device = new SensorStream(engine.createStream(), layout());
    const plain = engine.createStream();
    device.push("accel", 1, [0.5, -0.5, 0.25]);
    device.push("gyro", 2, [1]);
    device.push("temp", 3, [21]);
    device.push("temp", 2, [21]);
    plain.push(1, [0.5, -0.5, 0.25, 0, 0, 0]);
    plain.push(3, [0, 0, 0, 0, 0.5, 0]);
    expect(device.stream.output()).toEqual(plain.output());
    expect(device.counters).toEqual({ accepted: 2, clamped: 0, unknownSensor: 1, wrongChannels: 0, nonFinite: 0, timeBackwards: 1, timeRange: 0 });
    expect(() => new SensorStream(engine.createStream(), defaultSensorLayout(3))).toThrow(/inputSize 3, the model takes 6/);
    engine.dispose();
  });
});

// issue 12, item 1: readings the encoder found fine but the engine refuses (a value beyond a 32-bit float, raw
// or after scale; a time beyond the engine's clock) made SensorStream.push throw after it had moved the device's
// last time forward, and made the gateway stop.
describe.each(["fixed", "float"] as WasmKind[])("readings the %s engine would refuse", (kind) => {
  const SCALED: SensorLayout = parseSensorLayout({ sensors: [{ name: "x", channels: 1 }, { name: "big", channels: 1, scale: [10] }] }, 2, "s");
  const model = randomModel(new Rng(12), { inputSize: 2, hidden: [6], peephole: true, rOn: 0.3, outputs: 2, mode: "every" });

  async function device(): Promise<SensorStream> {
    const sensors = new SensorStream((await wasmEngine(kind, model)).createStream(), SCALED);
    expect(sensors.push("x", 1000, [0.5])).toBe("accepted");
    return sensors;
  }

  it.each([
    ["a value beyond a 32-bit float: {\"t\":1001,\"v\":[1e39]}", "x", 1001, [1e39], "nonFinite", /not a finite 32-bit float/],
    ["a finite reading that the sensor's scale takes beyond a 32-bit float", "big", 1001, [1e38], "nonFinite", /not a finite 32-bit float/],
    ["t jumping to 1e300", "x", 1e300, [0.5], "timeRange", /.+/],
  ] as const)("refuses %s, counts it under its reason and changes nothing, the last time included", async (_name, sensor, t, values, reason, message) => {
    const sensors = await device();
    const before = { stream: sensors.stream.snapshot(), input: sensors.input.state() };
    expect(sensors.push(sensor, t, values)).toBe(reason);
    expect(sensors.refusal).toMatch(message);
    expect(sensors.counters[reason]).toBe(1);
    expect(Buffer.from(sensors.stream.snapshot()).equals(Buffer.from(before.stream))).toBe(true);
    expect(sensors.input.state()).toEqual(before.input);
    // the device's time did not move: a reading just after the last good one is in order
    expect(sensors.push("x", 1000.5, [0.25])).toBe("accepted");
  });
});

describe("topic layout and sharding", () => {
  it("hashes device names with 32-bit FNV-1a (published test vectors)", () => {
    expect(fnv1a32("")).toBe(0x811c9dc5);
    expect(fnv1a32("a")).toBe(0xe40c292c);
    expect(fnv1a32("foobar")).toBe(0xbf9cf968);
  });

  it("puts every device in one shard and every shard in one gateway, spreading 1,000 devices evenly", () => {
    const shards = 16;
    const counts = new Array(shards).fill(0);
    for (let d = 0; d < 1000; d++) counts[shardOf(`device-${d}`, shards)]++;
    expect(Math.min(...counts)).toBeGreaterThan(1000 / shards / 2);
    const owners = [0, 1, 2].map((k) => ownedShards(k, 3, shards));
    expect(owners.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: shards }, (_, s) => s));
    expect(() => ownedShards(3, 3, shards)).toThrow(PhasorError);
    expect(() => ownedShards(0, 4, 3)).toThrow(/every gateway needs at least one shard/);
  });

  it("refuses to build a topic the gateway would count as badTopic, or a shard of no shard count", () => {
    for (const device of ["a/b", "+", "#", "", "x".repeat(65), ".hidden"]) {
      expect(() => inputTopic("site/a", 8, device, "temp"), device).toThrow(/device .* is not a valid name/);
      expect(() => inputTopic("site/a", 8, "pump-7", device), device).toThrow(/sensor .* is not a valid name/);
    }
    for (const prefix of ["", "/site", "site/", "site/+", "a//b"]) expect(() => inputTopic(prefix, 8, "pump-7", "temp"), prefix).toThrow(/topic prefix/);
    for (const shards of [0, -1, 1.5, NaN, Infinity]) {
      expect(() => shardOf("pump-7", shards), String(shards)).toThrow(/shards: expected a whole number from 1/);
      expect(() => inputTopic("site/a", shards, "pump-7", "temp"), String(shards)).toThrow(PhasorError);
    }
  });

  it("builds and splits input topics, naming what is wrong with a bad one", () => {
    const topic = inputTopic("site/a", 8, "pump-7", "temp");
    expect(topic).toBe(`site/a/in/${shardOf("pump-7", 8)}/pump-7/temp`);
    expect(parseInputTopic("site/a", topic)).toEqual({ shard: shardOf("pump-7", 8), device: "pump-7", sensor: "temp" });
    expect(parseInputTopic("site/a", "site/a/in/3/pump-7")).toMatchObject({ shard: 3, problem: expect.stringMatching(/1 levels after the shard/) });
    expect(parseInputTopic("site/a", "site/a/in/3/.hidden/temp")).toMatchObject({ shard: 3, problem: expect.stringMatching(/not a valid name/) });
    expect(parseInputTopic("site/a", "site/b/in/3/pump/temp")).toBeUndefined();
    // a name from a topic is quoted escaped and cut short: no control character reaches a terminal through a log
    const hostile = parseInputTopic("site/a", `site/a/in/3/\u001b[2J\u009b31m${"x".repeat(100)}/temp`) as { problem: string };
    expect(hostile.problem).toBe(`device "\\u001b[2J\\u009b31m${"x".repeat(56)}..." is not a valid name`);
    expect(parseInputTopic("site/a", "site/a/in/x/pump/temp")).toBeUndefined();
  });
});
