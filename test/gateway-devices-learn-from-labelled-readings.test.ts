/**
 * A gateway's devices learn from labelled readings (docs/gateway.md, "Learning"; docs/on-device-learning.md): a
 * reading's "label" takes one step of its device's own readout after the reading's prediction, with the bits of a
 * library stream fed the same readings and labels; a label the readout cannot take refuses its reading (badLabel)
 * before anything changes; without --learn-rate labels are counted and ignored; the adapted readout is part of the
 * device's state (in the snapshots since version 2, version 1 still read), put back with the rest when the engine
 * fails, and a replay learns the same.
 */
import "../host/node.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Engine, LearningRate } from "../host/engine/engine.js";
import { deadLetterTopic, inputTopic, outputTopic } from "../host/gateway/topics.js";
import { SensorStream } from "../host/gateway/sensors.js";
import type { Out, Shard } from "../host/gateway/shard.js";
import { decodeSnapshot, encodeSnapshot } from "../host/gateway/state.js";
import { crc32 } from "node:zlib";
import { deviceReadings, demoLayout, type Reading } from "./support/simulated-devices.js";
import { PREFIX, SHARDS, demoEngine, demoShard, deviceOf, faultyEngine, send, stateOfDevice } from "./support/gateway.js";

let engine: Engine;
beforeAll(async () => {
  engine = await demoEngine();
});
afterAll(() => engine?.dispose());

const SHARD = 2;
const DEVICE = deviceOf(SHARD, 0);
const OTHER = deviceOf(SHARD, 1);
const RATE: LearningRate = { eta: 0.3, c: 0.9 };
const FINGERPRINT = { model: "m", engine: "fixed", sensors: "s", shards: SHARDS, shard: SHARD };

const topic = (r: Reading) => inputTopic(PREFIX, SHARDS, r.device, r.sensor);
/** Every fourth reading labelled with a class of the demo model's 3. */
const labelOf = (r: Reading) => (r.seq % 4 === 3 ? r.seq % 3 : undefined);
const payload = (r: Reading, label = labelOf(r)) => JSON.stringify(label === undefined ? { seq: r.seq, t: r.t, v: r.v } : { seq: r.seq, t: r.t, v: r.v, label });

function predictions(outs: Out[], device = DEVICE): { seq: number; y: number[] }[] {
  return outs.filter((o) => o.topic === outputTopic(PREFIX, SHARD, device)).map((o) => JSON.parse(o.payload));
}

function readoutOf(shard: Shard, id: string): Uint8Array | null {
  return shard.capture(0, FINGERPRINT).devices.find((d) => d.id === id)?.readout ?? null;
}

const readings = deviceReadings(DEVICE, 80, 11);

describe("labelled readings on a shard that learns", () => {
  it("each label takes one step of the device's readout after the reading's prediction: a library stream's bits", () => {
    const shard = demoShard(engine, SHARD, { learning: RATE });
    const outs = readings.flatMap((r) => send(shard, topic(r), payload(r)).outs);

    const reference = new SensorStream(engine.createStream(), demoLayout());
    const expected: number[][] = [];
    for (const r of readings) {
      reference.push(r.sensor, r.t, r.v);
      expected.push(Array.from(reference.stream.output()));
      const label = labelOf(r);
      if (label !== undefined) reference.stream.learning!.learn(label, RATE);
    }
    expect(predictions(outs).map((p) => p.y)).toEqual(expected);
    const readout = readoutOf(shard, DEVICE);
    expect(readout).not.toBeNull();
    expect(Buffer.from(readout as Uint8Array).equals(Buffer.from(reference.stream.learning!.save()))).toBe(true);
    expect(reference.stream.learning!.steps).toBe(readings.filter((r) => labelOf(r) !== undefined).length);
    // the outputs moved: the labels were learned from
    const unlabelled = new SensorStream(engine.createStream(), demoLayout());
    for (const r of readings) unlabelled.push(r.sensor, r.t, r.v);
    expect(Array.from(unlabelled.stream.output())).not.toEqual(expected.at(-1));
  });

  it("labels in a message of several readings learn as the same readings one by one", () => {
    const single = demoShard(engine, SHARD, { learning: RATE });
    for (const r of readings.slice(0, 24)) send(single, topic(r), payload(r));
    const batched = demoShard(engine, SHARD, { learning: RATE });
    for (let k = 0; k < 24; k += 8) {
      const group = readings.slice(k, k + 8);
      const body = group.map((r) => ({ t: r.t, v: r.v, sensor: r.sensor, ...(labelOf(r) === undefined ? {} : { label: labelOf(r) }) }));
      send(batched, topic(group[0]), JSON.stringify({ seq: group[0].seq, readings: body }));
    }
    expect(stateOfDevice(batched, DEVICE)).toBe(stateOfDevice(single, DEVICE));
  });

  it("a label the readout cannot take refuses its reading as badLabel, dead-lettered, nothing changed", () => {
    const shard = demoShard(engine, SHARD, { learning: RATE });
    for (const r of readings.slice(0, 10)) send(shard, topic(r), payload(r));
    send(shard, topic(readings[0]).replace(DEVICE, OTHER), '{"seq":1,"t":1.7e12,"v":[0,0,0],"label":1}');
    const next = readings[10];
    const cases: [unknown, string, RegExp][] = [
      [3, "badLabel", /class 3 is not one of the readout's outputs, 0 to 2/],
      [1.5, "badLabel", /class 1\.5 is not one/],
      [[0.5, 1], "badLabel", /2 target values, the readout has 3 outputs/],
      [[0, 0, 1e9], "badLabel", /target 2 is 1000000000/],
      ["run", "malformed", /label is not a number or an array of numbers/],
      [[0, null, 1], "malformed", /label is not a number or an array of numbers/],
    ];
    let seq = next.seq;
    for (const [label, reason, message] of cases) {
      const before = { device: JSON.parse(stateOfDevice(shard, DEVICE) as string), other: stateOfDevice(shard, OTHER) };
      const result = send(shard, topic(next), JSON.stringify({ seq, t: next.t, v: next.v, label }));
      expect(predictions(result.outs)).toEqual([]);
      const letters = result.outs.filter((o) => o.topic === deadLetterTopic(PREFIX, SHARD, DEVICE)).map((o) => JSON.parse(o.payload));
      expect(letters).toHaveLength(1);
      expect(letters[0].refused).toMatchObject([{ seq, index: 0, reason }]);
      expect(letters[0].refused[0].message).toMatch(message);
      const after = JSON.parse(stateOfDevice(shard, DEVICE) as string);
      expect(after.counters[reason]).toBe((before.device.counters[reason] ?? 0) + 1);
      expect({ ...after, counters: undefined, lastSeq: undefined }).toEqual({ ...before.device, counters: undefined, lastSeq: undefined });
      expect(stateOfDevice(shard, OTHER)).toBe(before.other);
      seq++;
    }
  });

  it("without a learning rate, labels are counted as ignored and the readings apply as without them", () => {
    const ignoring = demoShard(engine, SHARD);
    const plain = demoShard(engine, SHARD);
    const outs = readings.flatMap((r) => send(ignoring, topic(r), payload(r)).outs);
    const plainOuts = readings.flatMap((r) => send(plain, topic(r), JSON.stringify({ seq: r.seq, t: r.t, v: r.v })).outs);
    expect(outs).toEqual(plainOuts);
    const device = JSON.parse(stateOfDevice(ignoring, DEVICE) as string);
    expect(device.counters.labelsIgnored).toBe(readings.filter((r) => labelOf(r) !== undefined).length);
    expect(device.readout).toBeNull();
  });
});

describe("the adapted readout is part of the device's state", () => {
  function learned(): Shard {
    const shard = demoShard(engine, SHARD, { learning: RATE });
    for (const r of readings.slice(0, 40)) send(shard, topic(r), payload(r));
    send(shard, topic(readings[0]).replace(DEVICE, OTHER), JSON.stringify({ seq: 0, t: readings[0].t, v: readings[0].v }));
    return shard;
  }

  it("through a snapshot file and a fresh shard, the devices go on as if nothing happened", () => {
    const live = learned();
    const bytes = encodeSnapshot(live.capture(9, FINGERPRINT));
    // version 3 since the devices' runs (boot) were added: the readout bytes are as version 2 wrote them
    expect(new DataView(bytes.buffer).getUint32(4, true)).toBe(3);
    const restored = demoShard(engine, SHARD, { learning: RATE });
    restored.restore(decodeSnapshot(bytes, SHARD, "snapshot.bin"));
    expect(stateOfDevice(restored, DEVICE)).toBe(stateOfDevice(live, DEVICE));
    expect(readoutOf(restored, OTHER)).toBeNull();
    for (const r of readings.slice(40)) {
      expect(send(restored, topic(r), payload(r)).outs).toEqual(send(live, topic(r), payload(r)).outs);
    }
    expect(stateOfDevice(restored, DEVICE)).toBe(stateOfDevice(live, DEVICE));
  });

  it("a version 1 snapshot (before readouts) still loads, its devices on the model's readout", () => {
    const plain = demoShard(engine, SHARD);
    for (const r of readings.slice(0, 20)) send(plain, topic(r), JSON.stringify({ seq: r.seq, t: r.t, v: r.v }));
    const snapshot = plain.capture(5, FINGERPRINT);
    // version 1 as it was written: no readoutBytes in the header, no readout bytes after the stream's
    const header = new TextEncoder().encode(JSON.stringify({
      fingerprint: snapshot.fingerprint,
      cut: snapshot.cut,
      counters: snapshot.counters,
      devices: snapshot.devices.map((d) => ({ id: d.id, lastSeq: d.lastSeq, input: d.input, counters: d.counters, published: d.published, bytes: d.stream.length })),
    }));
    const streams = snapshot.devices.map((d) => d.stream);
    const bytes = new Uint8Array(12 + header.length + streams.reduce((n, s) => n + s.length, 0) + 4);
    const view = new DataView(bytes.buffer);
    view.setUint32(0, 0x53574750, true);
    view.setUint32(4, 1, true);
    view.setUint32(8, header.length, true);
    bytes.set(header, 12);
    let at = 12 + header.length;
    for (const s of streams) {
      bytes.set(s, at);
      at += s.length;
    }
    view.setUint32(at, crc32(bytes.subarray(0, at)), true);
    const restored = demoShard(engine, SHARD, { learning: RATE });
    restored.restore(decodeSnapshot(bytes, SHARD, "snapshot.bin"));
    expect(stateOfDevice(restored, DEVICE)).toBe(stateOfDevice(plain, DEVICE));
    expect(readoutOf(restored, DEVICE)).toBeNull();
  });

  it("a snapshot whose readout is not one of this model is refused as corrupt", () => {
    const snapshot = learned().capture(3, FINGERPRINT);
    const device = snapshot.devices.find((d) => d.id === DEVICE)!;
    device.readout = device.readout!.slice(0, 60);
    const shard = demoShard(engine, SHARD, { learning: RATE });
    expect(() => shard.restore(decodeSnapshot(encodeSnapshot(snapshot), SHARD, "snapshot.bin"))).toThrow(/corrupt state: device .*: adapted readout: 60 bytes, an adapted readout of this model has \d+/);
  });

  it("an engine that fails in a learning step: the device is put back, readout included, and the replay does the same", () => {
    let failing = false;
    const shard = demoShard(faultyEngine(engine, { learn: () => failing }), SHARD, { learning: RATE });
    for (const r of readings.slice(0, 20)) send(shard, topic(r), payload(r));
    const before = stateOfDevice(shard, DEVICE);
    failing = true;
    const labelled = readings.slice(20).find((r) => labelOf(r) !== undefined) as Reading;
    const result = send(shard, topic(labelled), payload(labelled));
    expect(result.failed).toBe(true);
    const after = JSON.parse(stateOfDevice(shard, DEVICE) as string);
    const was = JSON.parse(before as string);
    expect(after.readout).toBe(was.readout);
    expect(after.stream).toBe(was.stream);
    expect(after.counters.engineError).toBe(1);
  });
});
