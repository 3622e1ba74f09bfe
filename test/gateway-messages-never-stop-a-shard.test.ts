/**
 * What one message does to a shard (host/gateway/shard.ts), in process: whatever it holds, it ends as readings
 * applied or readings refused, each refusal counted once under its reason and published on the device's
 * dead-letter topic, the device otherwise as it was and every other device untouched. Messages of several readings
 * behave as the same readings sent one by one. An engine that fails all the same is contained: the device is put
 * back as it was before the message, and a replay of the message's WAL entry refuses it again without running it.
 */
import "../host/node.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Engine } from "../host/engine/engine.js";
import { PhasorError } from "../host/errors.js";
import { deadLetterTopic, inputTopic, outputTopic, parseInputTopic } from "../host/gateway/topics.js";
import type { Out } from "../host/gateway/shard.js";
import { BadStateError, decodeSnapshot, encodeSnapshot } from "../host/gateway/state.js";
import { batchPayload, deviceReadings, demoLayout, readingPayload, referenceRun, type Reading } from "./support/simulated-devices.js";
import { PREFIX, SHARDS, demoEngine, demoShard, deviceOf, faultyEngine, send, stateOfDevice, stateOfShard } from "./support/gateway.js";

let engine: Engine;
beforeAll(async () => {
  engine = await demoEngine();
});
afterAll(() => engine?.dispose());

const SHARD = 1;
const DEVICE = deviceOf(SHARD, 0);
const OTHER = deviceOf(SHARD, 1);
const accel = (device = DEVICE) => inputTopic(PREFIX, SHARDS, device, "accel");
const temp = (device = DEVICE) => inputTopic(PREFIX, SHARDS, device, "temp");

interface DeadLetter {
  topic: string;
  payloadBytes: number;
  payload?: string;
  payloadBase64?: string;
  refused: { seq?: number; index?: number; reason: string; message: string }[];
}

function deadLetters(outs: Out[], device = DEVICE): DeadLetter[] {
  return outs.filter((o) => o.topic === deadLetterTopic(PREFIX, SHARD, device)).map((o) => JSON.parse(o.payload) as DeadLetter);
}

function predictions(outs: Out[], device = DEVICE): { seq: number; t: number; y: number[] }[] {
  return outs.filter((o) => o.topic === outputTopic(PREFIX, SHARD, device)).map((o) => JSON.parse(o.payload));
}

/** A shard where both devices have had two good readings. */
function started() {
  const shard = demoShard(engine, SHARD);
  for (const device of [DEVICE, OTHER]) {
    send(shard, accel(device), '{"seq":1,"t":1000,"v":[0.1,0.2,0.3]}');
    send(shard, temp(device), '{"seq":2,"t":1005,"v":22}');
  }
  return shard;
}

describe("the readings of issue 12 that stopped every gateway", () => {
  it.each([
    ["a value beyond a 32-bit float", accel, '{"seq":10,"t":1010,"v":[1e39,0,0]}', "nonFinite", /not a finite 32-bit float/],
    ["t jumping from 1000 to 1e300", accel, '{"seq":10,"t":1e300,"v":[0,0,0]}', "timeRange", /.+/],
    ["a finite reading that the sensor's scale takes beyond a 32-bit float", temp, '{"seq":10,"t":1010,"v":[3.5e39]}', "nonFinite", /not a finite 32-bit float/],
    ["a value of 1e999 (infinite in JSON)", accel, '{"seq":10,"t":1010,"v":[1e999,0,0]}', "nonFinite", /not a finite number/],
    ["t of -1e999, which a clamp would have turned into the previous time", accel, '{"seq":10,"t":-1e999,"v":[0,0,0]}', "nonFinite", /t is -Infinity/],
  ])("%s: counted, dead-lettered with its payload and reason, nothing else changes", (_name, topic, payload, reason, message) => {
    const shard = started();
    const before = { device: stateOfDevice(shard, DEVICE), other: stateOfDevice(shard, OTHER) };
    const result = send(shard, topic(), payload);
    expect(result.failed).toBe(false);
    expect(predictions(result.outs)).toEqual([]);
    const [letter] = deadLetters(result.outs);
    expect(letter).toMatchObject({ topic: topic(), payload, payloadBytes: payload.length, refused: [{ seq: 10, index: 0, reason }] });
    expect(letter.refused[0].message).toMatch(message);
    expect(shard.refusals).toMatchObject([{ seq: 10, reason }]);
    // the sequence number is used up, the counter says why, and nothing else of the device changed
    const after = JSON.parse(stateOfDevice(shard, DEVICE) as string);
    const was = JSON.parse(before.device as string);
    expect(after.counters[reason]).toBe(was.counters[reason] + 1);
    expect(after.lastSeq).toBe(10);
    expect({ ...after, counters: undefined, lastSeq: undefined }).toEqual({ ...was, counters: undefined, lastSeq: undefined });
    expect(stateOfDevice(shard, OTHER)).toBe(before.other);
    // and the device goes on: a reading just after its last good one is applied
    expect(predictions(send(shard, accel(), '{"seq":11,"t":1006,"v":[0,0,0]}').outs)).toHaveLength(1);
  });
});

describe("messages of several readings", () => {
  const readings = deviceReadings(DEVICE, 40, 7);

  function run(messages: (Reading | Reading[])[]) {
    const shard = demoShard(engine, SHARD);
    const outs = messages.flatMap((m) => send(shard, Array.isArray(m) ? (m[0].sensor === "accel" ? accel() : temp()) : m.sensor === "accel" ? accel() : temp(), Array.isArray(m) ? batchPayload(m) : readingPayload(m)).outs);
    return { shard, outs };
  }

  it("give the same predictions and state as the same readings one per message", () => {
    const single = run(readings);
    const batches: Reading[][] = [];
    for (let k = 0; k < readings.length; k += 7) batches.push(readings.slice(k, k + 7));
    const batched = run(batches);
    const reference = referenceRun(engine, demoLayout(), readings);
    expect(predictions(batched.outs).map((p) => p.seq)).toEqual([...reference.y.keys()]);
    expect(predictions(batched.outs).map((p) => p.y)).toEqual([...reference.y.values()]);
    expect(batched.outs).toEqual(single.outs);
    expect(stateOfDevice(batched.shard, DEVICE)).toBe(stateOfDevice(single.shard, DEVICE));
    // mixed sensors in one message: the temp readings named their sensor
    expect(batches.some((b) => b.some((r) => r.sensor !== b[0].sensor))).toBe(true);
  });

  it("validate, apply and count each reading on its own, in order, with one dead letter for the refused ones", () => {
    const shard = started();
    const payload = JSON.stringify({
      seq: 20,
      readings: [
        { t: 1010, v: [0.1, 0.1, 0.1] },
        { t: 1011, v: [1e39, 0, 0] },
        { t: 1012, v: [0.1, 0.1] },
        { t: 1013, v: 21, sensor: "temp" },
        { t: 1013, v: [0, 0, 0], sensor: "gyro" },
        "not a reading",
        { t: 900, v: [0, 0, 0] },
        { t: "soon", v: [0, 0, 0] },
        { t: 1014, v: [0.3, 0.2, 0.1] },
      ],
    });
    const result = send(shard, accel(), payload);
    expect(predictions(result.outs).map((p) => [p.seq, p.t])).toEqual([
      [20, 1010],
      [23, 1013],
      [28, 1014],
    ]);
    const [letter] = deadLetters(result.outs);
    expect(letter.payload).toBe(payload);
    expect(letter.refused.map((r) => [r.seq, r.index, r.reason])).toEqual([
      [21, 1, "nonFinite"],
      [22, 2, "wrongChannels"],
      [24, 4, "unknownSensor"],
      [25, 5, "malformed"],
      [26, 6, "timeBackwards"],
      [27, 7, "malformed"],
    ]);
    const device = JSON.parse(stateOfDevice(shard, DEVICE) as string);
    expect(device.lastSeq).toBe(28);
    expect(device.counters).toMatchObject({ accepted: 5, nonFinite: 1, wrongChannels: 1, unknownSensor: 1, malformed: 2, timeBackwards: 1, duplicates: 0, seqGaps: 17 });

    // the same as the good readings one by one
    const alone = started();
    const good = [
      ['{"seq":20,"t":1010,"v":[0.1,0.1,0.1]}', accel()],
      ['{"seq":23,"t":1013,"v":21}', temp()],
      ['{"seq":28,"t":1014,"v":[0.3,0.2,0.1]}', accel()],
    ];
    const aloneOuts = good.flatMap(([p, topic]) => send(alone, topic, p).outs);
    expect(predictions(result.outs)).toEqual(predictions(aloneOuts));
    expect(JSON.parse(stateOfDevice(alone, DEVICE) as string).stream).toBe(device.stream);
  });

  // before: each applied, the misspelt label and the boot inside a reading lost without a word
  it("a reading with a misspelt field, or a message's field, is malformed alone; fields of the device's own are left alone", () => {
    const shard = started();
    const burst = '{"seq":40,"readings":[{"t":1010,"v":[1,1,1],"lable":1},{"t":1011,"v":[1,1,1],"boot":"b2"},{"t":1012,"v":[1,1,1],"fw":"1.2","id":7,"x":0,"meta":{"rssi":-70}}]}';
    const result = send(shard, accel(), burst);
    expect(deadLetters(result.outs)[0].refused).toEqual([
      { seq: 40, index: 0, reason: "malformed", message: expect.stringMatching(/^"lable" looks like "label" misspelt/) },
      { seq: 41, index: 1, reason: "malformed", message: '"boot" in a reading: it belongs to the message, beside "readings"' },
    ]);
    expect(predictions(result.outs).map((p) => p.seq)).toEqual([42]);
    const own = send(shard, accel(), '{"seq":43,"t":1013,"v":[1,1,1],"fw":"1.2","id":"press-7","x":0,"note":"ok"}');
    expect(predictions(own.outs).map((p) => p.seq)).toEqual([43]);
    expect(deadLetters(own.outs)).toEqual([]);
  });

  // before: each applied, JSON.parse's last of the two taken and the other dropped unsaid
  it("a reading that gives a field of the gateway's twice is malformed alone; fields of the device's own may repeat", () => {
    const shard = started();
    const burst =
      '{"seq":40,"readings":[{"t":1010,"v":[9,9,9],"v":[1,1,1]},{"t":1011,"v":[1,1,1],"fw":1,"fw":2,"meta":{"t":1,"t":2}},{"t":1012,"t":1013,"v":[1,1,1],"label":1,"label":2},{"\\u0074":1014,"v":[1,1,1],"t":1015}],"fw":"1.2","fw":"1.3"}';
    const result = send(shard, accel(), burst);
    expect(deadLetters(result.outs)[0].refused).toEqual([
      { seq: 40, index: 0, reason: "malformed", message: '"v" is given twice' },
      { seq: 42, index: 2, reason: "malformed", message: '"t" is given twice' },
      { seq: 43, index: 3, reason: "malformed", message: '"t" is given twice' },
    ]);
    expect(predictions(result.outs).map((p) => p.seq)).toEqual([41]);
    const own = send(shard, accel(), '{"seq":44,"t":1016,"v":[1,1,1],"fw":"1.2","fw":"1.3","meta":{"seq":1,"seq":2,"v":[{"t":1,"t":2}]}}');
    expect(predictions(own.outs).map((p) => p.seq)).toEqual([44]);
    expect(deadLetters(own.outs)).toEqual([]);
  });

  it("use one sequence number per reading: a redelivery is all duplicates, an overlapping message applies only the new ones", () => {
    const shard = started();
    const message = '{"seq":5,"readings":[{"t":1010,"v":[1,1,1]},{"t":1011,"v":[1,1,1]},{"t":1012,"v":[1,1,1]}]}';
    expect(predictions(send(shard, accel(), message).outs).map((p) => p.seq)).toEqual([5, 6, 7]);
    const state = stateOfDevice(shard, DEVICE);
    const again = send(shard, accel(), message);
    expect(again.outs).toEqual([]);
    const counters = JSON.parse(stateOfDevice(shard, DEVICE) as string).counters;
    expect(counters.duplicates).toBe(3);
    expect({ ...JSON.parse(stateOfDevice(shard, DEVICE) as string), counters: undefined }).toEqual({ ...JSON.parse(state as string), counters: undefined });
    const overlapping = '{"seq":6,"readings":[{"t":1011,"v":[1,1,1]},{"t":1012,"v":[1,1,1]},{"t":1013,"v":[1,1,1]}]}';
    expect(predictions(send(shard, accel(), overlapping).outs).map((p) => p.seq)).toEqual([8]);
  });

  it.each([
    ["t and v beside readings", '{"seq":30,"t":1,"v":[1,1,1],"readings":[{"t":1,"v":[1,1,1]}]}', /not both/],
    ["no readings at all", '{"seq":30,"readings":[]}', /non-empty array/],
    ["readings that are not an array", '{"seq":30,"readings":{"t":1}}', /non-empty array/],
    ["more readings than --max-readings", JSON.stringify({ seq: 30, readings: Array.from({ length: 5 }, (_, k) => ({ t: 2000 + k, v: [0, 0, 0] })) }), /5 readings, at most 4 per message/],
    ["sequence numbers past 2^53 - 1", `{"seq":${Number.MAX_SAFE_INTEGER},"readings":[{"t":2000,"v":[0,0,0]},{"t":2001,"v":[0,0,0]}]}`, /past 2\^53/],
    ["ts that is not a number", '{"seq":30,"t":2000,"v":[0,0,0],"ts":"now"}', /ts is not a finite number/],
    // before: applied, the field lost without a word (a rebooted device in the run "", a label never learned from)
    ["boot misspelt", '{"seq":30,"bot":"b1","t":2000,"v":[0,0,0]}', /^"bot" looks like "boot" misspelt/],
    ["label misspelt", '{"seq":30,"t":2000,"v":[0,0,0],"lable":1}', /^"lable" looks like "label" misspelt/],
    ["a label in capitals", '{"seq":30,"t":2000,"v":[0,0,0],"Label":1}', /^"Label" looks like "label" misspelt/],
    ["ts in capitals", '{"seq":30,"t":2000,"v":[0,0,0],"TS":1700000000000}', /^"TS" looks like "ts" misspelt/],
    ["readings misspelt", '{"seq":30,"t":2000,"v":[0,0,0],"reading":[]}', /^"reading" looks like "readings" misspelt/],
    ["a label beside readings", '{"seq":30,"readings":[{"t":2000,"v":[0,0,0]}],"label":1}', /^"label" beside "readings": it belongs in each reading$/],
    // before: applied with the last of the two, the other dropped without a word
    ["t given twice", '{"seq":30,"t":2000,"v":[0,0,0],"t":2001}', /^"t" is given twice$/],
    ["v given twice", '{"seq":30,"v":[1,1,1],"t":2000,"v":[0,0,0]}', /^"v" is given twice$/],
    ["label given twice", '{"seq":30,"t":2000,"v":[0,0,0],"label":0,"label":1}', /^"label" is given twice$/],
    ["sensor given twice", '{"seq":30,"t":2000,"v":[0,0,0],"sensor":"temp","sensor":"accel"}', /^"sensor" is given twice$/],
    ["ts given twice", '{"seq":30,"ts":1,"t":2000,"v":[0,0,0],"ts":2}', /^"ts" is given twice$/],
    ["readings given twice", '{"seq":30,"readings":[{"t":2000,"v":[0,0,0]}],"readings":[{"t":2001,"v":[0,0,0]}]}', /^"readings" is given twice$/],
    ["reset given twice", '{"seq":30,"reset":true,"reset":true}', /^"reset" is given twice$/],
    // the names before the values, a misspelt one first, as in a reading and an event line (before: "ts" given twice
    // was said first here, and a ts that is no number before either)
    ["a misspelt field and one given twice", '{"seq":30,"t":2000,"v":[0,0,0],"Ts":1,"ts":1,"ts":2}', /^"Ts" looks like "ts" misspelt/],
    ["ts given twice, the last no number", '{"seq":30,"ts":1,"t":2000,"v":[0,0,0],"ts":"x"}', /^"ts" is given twice$/],
  ])("a message with %s is malformed as a whole: counted once, its seq used up", (_name, payload, why) => {
    const shard = demoShard(engine, SHARD, { maxReadings: 4 });
    send(shard, accel(), '{"seq":1,"t":1000,"v":[0.1,0.2,0.3]}');
    const before = JSON.parse(stateOfDevice(shard, DEVICE) as string);
    const result = send(shard, accel(), payload);
    const [letter] = deadLetters(result.outs);
    expect(letter.refused).toHaveLength(1);
    expect(letter.refused[0].reason).toBe("malformed");
    expect(letter.refused[0].message).toMatch(why);
    const after = JSON.parse(stateOfDevice(shard, DEVICE) as string);
    expect(after.counters.malformed).toBe(1);
    expect(after.stream).toBe(before.stream);
    expect(after.input).toEqual(before.input);
  });
});

describe("refused messages that reach no device", () => {
  it("a bad topic, a device of another shard and one device too many are counted by the shard; those naming a device are dead-lettered", () => {
    const shard = demoShard(engine, SHARD, { maxDevices: 1 });
    send(shard, accel(), '{"seq":1,"t":1000,"v":[0.1,0.2,0.3]}');
    expect(send(shard, `${PREFIX}/in/${SHARD}/${DEVICE}`, "{}").outs).toEqual([]);
    const stranger = deviceOf((SHARD + 1) % SHARDS);
    const wrong = send(shard, `${PREFIX}/in/${SHARD}/${stranger}/accel`, '{"seq":1,"t":1,"v":[0,0,0]}');
    expect(deadLetters(wrong.outs, stranger)[0].refused[0].reason).toBe("wrongShard");
    const full = send(shard, accel(OTHER), '{"seq":1,"t":1,"v":[0,0,0]}');
    expect(deadLetters(full.outs, OTHER)[0].refused[0]).toMatchObject({ reason: "tooManyDevices", message: expect.stringMatching(/--max-devices/) });
    expect(shard.counters).toMatchObject({ badTopic: 1, wrongShard: 1, tooManyDevices: 1, engineError: 0 });
    expect([...shard.devices.keys()]).toEqual([DEVICE]);
  });

  // before: "not UTF-8 JSON" for each of them, which said neither which nor where
  it.each([
    ["an empty payload", "", "an empty message, not a JSON object"],
    ["blanks", "  \n", "not JSON: Unexpected end of JSON input"],
    ["NaN", '{"seq":6,"t":4,"v":[NaN,2,3]}', `not JSON: Unexpected token 'N', ..."t":4,"v":[NaN,2,3]}" is not valid JSON`],
    ["a message cut short", '{"seq":1', "not JSON: Expected ',' or '}' after property value in JSON at position 8"],
    ["text after the object", '{"seq":1} x', "not JSON: Unexpected non-whitespace character after JSON at position 10"],
    ["bytes that are not UTF-8", Uint8Array.of(0x7b, 0xc0, 0xaf, 0x7d), "not UTF-8 (JSON text is UTF-8, RFC 8259)"],
    // before: parsed whole first, 90 ms of the shard's time for a 1 MiB message of "[" (the broker delivers
    // every device's messages one after another), and then refused as "not a JSON object"
    ["arrays nested 100 deep", `${"[".repeat(100)}${"]".repeat(100)}`, "nested deeper than 32 arrays and objects, at byte 32"],
    ["a reading nested 40 deep", `{"seq":1,"t":1,"v":[1,2,3],"meta":${'{"a":'.repeat(40)}1${"}".repeat(40)}}`, "nested deeper than 32 arrays and objects, at byte 189"],
    // before: applied as seq 2 of the run "b", the 1 and the run "a" dropped unsaid; its seq is not used, as for a bad boot
    ["seq given twice", '{"seq":1,"t":1,"v":[1,2,3],"seq":2}', '"seq" is given twice'],
    ["boot given twice", '{"seq":1,"boot":"a","t":1,"v":[1,2,3],"boot":"b"}', '"boot" is given twice'],
  ])("%s is malformed, and the dead letter says why", (_name, payload, why) => {
    const shard = demoShard(engine, SHARD);
    expect(deadLetters(send(shard, accel(), payload).outs)[0].refused).toEqual([{ reason: "malformed", message: why }]);
  });

  it("brackets in strings are not nesting, and a reading with a few levels of its own is applied", () => {
    const shard = demoShard(engine, SHARD);
    const deep = `{"seq":1,"t":1,"v":[1,2,3],"note":"${"[{".repeat(50)}","meta":${'{"a":'.repeat(30)}1${"}".repeat(30)}}`;
    expect(predictions(send(shard, accel(), deep).outs)).toHaveLength(1);
  });

  it("a payload that is not UTF-8 is malformed and dead-lettered in base64", () => {
    const shard = demoShard(engine, SHARD);
    const bytes = Uint8Array.of(0x7b, 0xff, 0xfe, 0x7d);
    const [letter] = deadLetters(send(shard, accel(), bytes).outs);
    expect(letter).toMatchObject({ payloadBase64: Buffer.from(bytes).toString("base64"), payloadBytes: 4, refused: [{ reason: "malformed" }] });
    // also where the bad bytes come last: an incomplete character at the end of a whole message is not UTF-8
    const cut = new TextEncoder().encode('{"seq":1,"t":1,"v":[1,2,3]}é').subarray(0, -1);
    expect(deadLetters(send(shard, accel(), cut).outs)[0]).toMatchObject({ payloadBase64: Buffer.from(cut).toString("base64") });
  });
});

describe("messages refused from a device the shard has never seen", () => {
  const FINGERPRINT = { model: "", engine: "", sensors: "", shards: SHARDS, shard: SHARD };
  /** Each message a device could send first that has no reading the shard applies, with what it is refused for. */
  const REFUSED_FIRST: [string, (device: string) => string, string, string[]][] = [
    ["not JSON", accel, "hello", ["malformed"]],
    ["a reading of a bad type, with a seq", accel, '{"seq":1,"t":"soon","v":[1,2,3]}', ["malformed"]],
    ["a message over --max-payload-bytes", accel, `{"seq":1,"t":1,"v":[1,2,3],"pad":"${"x".repeat(300)}"}`, ["malformed"]],
    ["a sensor that is not declared", (device) => inputTopic(PREFIX, SHARDS, device, "gyro"), '{"seq":1,"t":1,"v":[1,2,3]}', ["unknownSensor"]],
    ["two values for a sensor of three channels", accel, '{"seq":1,"t":1,"v":[1,2]}', ["wrongChannels"]],
    ["a value beyond a 32-bit float", accel, '{"seq":1,"t":1,"v":[1e39,0,0]}', ["nonFinite"]],
    ["a label that is not a class", accel, '{"seq":1,"t":1,"v":[1,2,3],"label":7}', ["badLabel"]],
    ["a burst of which no reading is applied", accel, '{"seq":1,"readings":[{"t":1,"v":[1,2]},"no",{"t":2,"v":[null,0,0]}]}', ["wrongChannels", "malformed", "nonFinite"]],
  ];
  const options = { maxDevices: 2, maxPayloadBytes: 256 };
  /** Every message of REFUSED_FIRST, each under 3 device names of its own, none seen before: 24 devices. */
  const garbage = REFUSED_FIRST.flatMap(([, topic, payload], k) => [0, 1, 2].map((n) => ({ device: deviceOf(SHARD, 10 + 3 * k + n), topic, payload })));

  // before: each of them created its device (an engine stream, a sequence number, counters), so that garbage under
  // new device names filled the shard to --max-devices, and then every real new device was refused as tooManyDevices
  it("does not create the device: refusals counted by the shard and dead-lettered, and real new devices still come in", () => {
    const shard = demoShard(engine, SHARD, options);
    for (const { device, topic, payload } of garbage) {
      const result = send(shard, topic(device), payload);
      expect(result.failed).toBe(false);
      expect(predictions(result.outs, device)).toEqual([]);
      expect(deadLetters(result.outs, device)).toHaveLength(1);
      expect(result.outs).toHaveLength(1);
    }
    expect(shard.devices.size).toBe(0);
    expect(shard.counters).toMatchObject({ malformed: 3 * 4, unknownSensor: 3, wrongChannels: 3 * 2, nonFinite: 3 * 2, badLabel: 3, tooManyDevices: 0 });
    // a device whose first message is good is created; so is the next one, up to --max-devices
    expect(predictions(send(shard, accel(), '{"seq":1,"t":1000,"v":[0.1,0.2,0.3]}').outs)).toHaveLength(1);
    expect(predictions(send(shard, accel(OTHER), '{"seq":1,"t":1000,"v":[0.1,0.2,0.3]}').outs, OTHER)).toHaveLength(1);
    expect([...shard.devices.keys()]).toEqual([DEVICE, OTHER]);
  });

  it("a device whose refused messages came first starts as one that never sent them", () => {
    const shard = demoShard(engine, SHARD, options);
    for (const [, topic, payload] of REFUSED_FIRST) send(shard, topic(DEVICE), payload);
    const good = '{"seq":1,"t":1000,"v":[0.1,0.2,0.3]}';
    const fresh = demoShard(engine, SHARD, options);
    expect(send(shard, accel(), good).outs).toEqual(send(fresh, accel(), good).outs);
    expect(stateOfDevice(shard, DEVICE)).toBe(stateOfDevice(fresh, DEVICE));
  });

  it("a burst with one reading applied creates the device, its refused readings counted by it", () => {
    const shard = demoShard(engine, SHARD, options);
    const result = send(shard, accel(), '{"seq":1,"readings":[{"t":1,"v":[1,2]},{"t":2,"v":[0.1,0.2,0.3]}]}');
    expect(predictions(result.outs).map((p) => p.seq)).toEqual([2]);
    expect(deadLetters(result.outs)[0].refused).toMatchObject([{ seq: 1, index: 0, reason: "wrongChannels" }]);
    expect(JSON.parse(stateOfDevice(shard, DEVICE) as string)).toMatchObject({ lastSeq: 2, counters: { wrongChannels: 1, accepted: 1 } });
    expect(shard.counters.wrongChannels).toBe(0);
  });

  it("a reset creates no device either, and is counted by the shard", () => {
    const shard = demoShard(engine, SHARD, options);
    expect(send(shard, accel(), '{"seq":5,"reset":true}').outs).toEqual([]);
    expect(shard.devices.size).toBe(0);
    expect(shard.counters.resets).toBe(1);
  });

  it("ends in the same state through a WAL replay, and through a snapshot and the replay of the rest", () => {
    const messages = [...garbage.map(({ device, topic, payload }) => ({ topic: topic(device), payload })), { topic: accel(), payload: '{"seq":1,"t":1000,"v":[0.1,0.2,0.3]}' }];
    const live = demoShard(engine, SHARD, options);
    for (const { topic, payload } of messages) send(live, topic, payload);
    const replay = demoShard(engine, SHARD, options);
    for (const { topic, payload } of messages) send(replay, topic, payload, false);
    expect(stateOfShard(replay)).toBe(stateOfShard(live));
    const half = Math.floor(messages.length / 2);
    const first = demoShard(engine, SHARD, options);
    for (const { topic, payload } of messages.slice(0, half)) send(first, topic, payload);
    const resumed = demoShard(engine, SHARD, options);
    resumed.restore(decodeSnapshot(encodeSnapshot(first.capture(half, FINGERPRINT)), SHARD, "snapshot"));
    for (const { topic, payload } of messages.slice(half)) send(resumed, topic, payload, false);
    expect(stateOfShard(resumed)).toBe(stateOfShard(live));
    expect([...resumed.devices.keys()]).toEqual([DEVICE]);
  });
});

describe("a message over --max-payload-bytes", () => {
  it("is refused before it is decoded, and refused again the same way from what the WAL keeps of it", () => {
    const shard = started();
    const before = stateOfDevice(shard, DEVICE);
    const limit = 100_000;
    const large = new TextEncoder().encode(`{"seq":3,"t":1010,"v":[0.1,0.2,0.3],"pad":"${"é".repeat(limit)}"}`);
    const live = demoShard(engine, SHARD, { maxPayloadBytes: limit });
    live.restore(shard.capture(0, { model: "", engine: "", sensors: "", shards: SHARDS, shard: SHARD }));
    const { outs } = send(live, accel(), large);
    expect(predictions(outs)).toEqual([]);
    const [letter] = deadLetters(outs);
    expect(letter.payloadBytes).toBe(large.length);
    // quoted as text up to the last whole character within 64 KiB, although the cut falls inside an "é" (before:
    // the whole quote in base64, as if the message were not UTF-8)
    expect(letter.payloadBase64).toBeUndefined();
    expect(new TextEncoder().encode(letter.payload).length).toBe((1 << 16) - 1);
    expect(new TextDecoder().decode(large).startsWith(letter.payload as string)).toBe(true);
    expect(letter.refused).toEqual([{ reason: "malformed", message: `${large.length} bytes, at most ${limit} per message (--max-payload-bytes)` }]);
    expect(live.devices.get(DEVICE)?.counts.malformed).toBe(1);
    // nothing but the counter changed; the seq is not read, so the next reading goes on from the last one
    const after = JSON.parse(stateOfDevice(live, DEVICE) as string);
    expect({ ...after, counters: { ...after.counters, malformed: 0 } }).toEqual(JSON.parse(before as string));
    expect(predictions(send(live, accel(), '{"seq":3,"t":1010,"v":[0.1,0.2,0.3]}').outs)).toHaveLength(1);

    // the WAL keeps the first 64 KiB and the size; a replay refuses it again, also with a limit raised since
    const kept = live.walPayload(large);
    expect(kept).toEqual(large.subarray(0, 1 << 16));
    expect(live.walPayload(large.subarray(0, limit))).toHaveLength(limit);
    for (const maxPayloadBytes of [limit, 1 << 20]) {
      const replay = demoShard(engine, SHARD, { maxPayloadBytes });
      replay.restore(shard.capture(0, { model: "", engine: "", sensors: "", shards: SHARDS, shard: SHARD }));
      const parsed = parseInputTopic(PREFIX, accel());
      const again = replay.message(parsed as NonNullable<typeof parsed>, accel(), kept, false, large.length);
      const [replayed] = deadLetters(again.outs);
      expect(replayed.payloadBytes).toBe(large.length);
      expect(replayed.payload).toBe(letter.payload);
      expect(replayed.refused[0].reason).toBe("malformed");
      if (maxPayloadBytes === limit) expect(again.outs).toEqual(outs);
      else expect(replayed.refused[0].message).toMatch(/more than --max-payload-bytes when it was received/);
    }
  });

  it.each([1, 2, 3])("quotes a message cut %i bytes into a 4-byte character as text up to that character", (into) => {
    const shard = demoShard(engine, SHARD, { maxPayloadBytes: 1 << 17 });
    const head = `{"seq":1,"t":1,"v":[1,2,3],"pad":"${"x".repeat((1 << 16) - into - 34)}`;
    const payload = `${head}${"😀".repeat(1 << 15)}"}`;
    const [letter] = deadLetters(send(shard, accel(), payload).outs);
    expect(new TextEncoder().encode(head).length).toBe((1 << 16) - into);
    expect(letter.payload).toBe(head);
  });
});

describe("an engine that fails all the same", () => {
  // 0.42 in the first accel channel makes the faulty engine run the event and then trap
  const TRAP = 0.42;

  it("is contained: the device as it was before the message, counted once, dead-lettered, the entry marked failed", () => {
    const faulty = faultyEngine(engine, { push: (_t, x) => x[0] === TRAP });
    const shard = demoShard(faulty, SHARD);
    send(shard, accel(), '{"seq":1,"t":1000,"v":[0.1,0.2,0.3]}');
    send(shard, accel(OTHER), '{"seq":1,"t":1000,"v":[0.1,0.2,0.3]}');
    const before = { device: JSON.parse(stateOfDevice(shard, DEVICE) as string), other: stateOfDevice(shard, OTHER) };
    // two good readings before the one that traps: the whole message is put back
    const result = send(shard, accel(), `{"seq":2,"readings":[{"t":1001,"v":[0,0,0]},{"t":1002,"v":[0,0,0]},{"t":1003,"v":[${TRAP},0,0]}]}`);
    expect(result.failed).toBe(true);
    expect(predictions(result.outs)).toEqual([]);
    expect(deadLetters(result.outs)[0].refused).toMatchObject([{ reason: "engineError", message: expect.stringMatching(/the engine failed: unreachable/) }]);
    const after = JSON.parse(stateOfDevice(shard, DEVICE) as string);
    expect(after.stream).toBe(before.device.stream);
    expect(after.input).toEqual(before.device.input);
    expect(after.counters).toEqual({ ...before.device.counters, engineError: 1 });
    expect(after.lastSeq).toBe(4);
    expect(stateOfDevice(shard, OTHER)).toBe(before.other);
    expect(predictions(send(shard, accel(), '{"seq":5,"t":1001,"v":[0,0,0]}').outs)).toHaveLength(1);
  });

  it("publishes nothing at the next interval for a message that was put back", () => {
    const shard = demoShard(faultyEngine(engine, { push: (_t, x) => x[0] === TRAP }), SHARD, { publish: "interval" });
    send(shard, accel(), '{"seq":1,"t":1000,"v":[0.1,0.2,0.3]}');
    expect(predictions(shard.fresh()).map((p) => p.seq)).toEqual([1]);
    expect(send(shard, accel(), `{"seq":2,"readings":[{"t":1001,"v":[0,0,0]},{"t":1003,"v":[${TRAP},0,0]}]}`).failed).toBe(true);
    expect(shard.fresh()).toEqual([]);
  });

  it("a new device whose stream cannot be made is counted by the shard and not created", () => {
    let failing = true;
    const shard = demoShard(faultyEngine(engine, { create: () => failing }), SHARD);
    const result = send(shard, accel(), '{"seq":1,"t":1000,"v":[0.1,0.2,0.3]}');
    expect(result.failed).toBe(true);
    expect(shard.devices.size).toBe(0);
    expect(shard.counters.engineError).toBe(1);
    failing = false;
    expect(predictions(send(shard, accel(), '{"seq":2,"t":1000,"v":[0.1,0.2,0.3]}').outs)).toHaveLength(1);
  });

  it("a snapshot with more devices than the engine has room for is a one-line runtime error, not a corrupt state", () => {
    const shard = demoShard(engine, SHARD);
    send(shard, accel(), '{"seq":1,"t":1000,"v":[0.1,0.2,0.3]}');
    const full = demoShard(faultyEngine(engine, { create: () => true }), SHARD);
    let error: unknown;
    try {
      full.restore(shard.capture(1, { model: "", engine: "", sensors: "", shards: SHARDS, shard: SHARD }));
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(PhasorError);
    expect(error).not.toBeInstanceOf(BadStateError);
    expect((error as PhasorError).message).toMatch(/^shard 1: no stream for device unit-\d+ \(0 devices restored\): WebAssembly\.Memory\.grow/);
  });

  it("a replay of the failed message's entry refuses it again, even where the engine would now take it", () => {
    let trapping = true;
    const live = demoShard(faultyEngine(engine, { push: (_t, x) => trapping && x[0] === TRAP }), SHARD);
    const replay = demoShard(engine, SHARD);
    const messages = [
      '{"seq":1,"t":1000,"v":[0.1,0.2,0.3]}',
      `{"seq":2,"readings":[{"t":1001,"v":[0,0,0]},{"t":1003,"v":[${TRAP},0,0]}]}`,
      '{"seq":4,"t":1004,"v":[0.5,0.5,0.5]}',
    ];
    for (const payload of messages) {
      const result = send(live, accel(), payload);
      // what the gateway does with a WAL entry marked failed
      if (result.failed) replay.failed({ device: DEVICE, sensor: "accel" }, new TextEncoder().encode(payload));
      else send(replay, accel(), payload, false);
    }
    trapping = false;
    expect(stateOfDevice(replay, DEVICE)).toBe(stateOfDevice(live, DEVICE));
    expect(JSON.parse(stateOfDevice(replay, DEVICE) as string).counters.engineError).toBe(1);
  });
});

describe("--time-policy clamp", () => {
  // issue 12, item 5: docs/gateway.md promises the time the event ran at, the previous time for a clamped reading
  it.each(["every", "change", "interval"] as const)("publishes the time a clamped reading ran at (publish %s)", (publish) => {
    const shard = demoShard(engine, SHARD, { timePolicy: "clamp", publish, changeThreshold: 0 });
    send(shard, accel(), '{"seq":1,"t":1000,"v":[0.1,0.2,0.3]}');
    shard.fresh();
    const late = send(shard, accel(), '{"seq":2,"t":990,"v":[0.9,-0.9,0.5]}');
    const published = publish === "interval" ? shard.fresh() : late.outs;
    expect(predictions(published).map((p) => [p.seq, p.t])).toEqual([[2, 1000]]);
    expect(JSON.parse(stateOfDevice(shard, DEVICE) as string).counters.clamped).toBe(1);
  });
});

describe("--publish interval across a restart", () => {
  // before: a device's latest prediction waited for the next tick in memory only; a graceful stop or a crash
  // between the reading and the tick lost it for good (until the device's next reading), the snapshot knowing
  // nothing of it
  it("the latest prediction not yet published at a snapshot is published at the first tick after it", () => {
    const live = demoShard(engine, SHARD, { publish: "interval" });
    send(live, accel(), '{"seq":1,"t":1000,"v":[0.1,0.2,0.3]}');
    send(live, accel(OTHER), '{"seq":1,"t":1000,"v":[0.1,0.2,0.3]}');
    expect(predictions(live.fresh()).map((p) => p.seq)).toEqual([1]);
    // DEVICE has a reading after the tick, OTHER has not
    send(live, accel(), '{"seq":2,"t":1005,"v":[0.3,0.2,0.1],"ts":1700000000001}');
    const restarted = demoShard(engine, SHARD, { publish: "interval" });
    const fingerprint = { model: "", engine: "", sensors: "", shards: SHARDS, shard: SHARD };
    restarted.restore(decodeSnapshot(encodeSnapshot(live.capture(3, fingerprint)), SHARD, "snapshot"));
    const first = restarted.fresh();
    expect(predictions(first).map((p) => [p.seq, p.t, (p as { ts?: number }).ts])).toEqual([[2, 1005, 1700000000001]]);
    expect(predictions(first, OTHER)).toEqual([]);
    // what the live shard would have published at its tick, and once: the next tick has nothing
    expect(first).toEqual(live.fresh());
    expect(restarted.fresh()).toEqual([]);
  });
});

describe("a device that resets its stream", () => {
  // before: one reading with a time far ahead (a clock that jumped) left every later reading of the device refused
  // as timeBackwards for good (with --time-policy clamp, applied at that time), and nothing could bring the device
  // back short of quarantining its whole shard
  it("gets its later readings applied again after a far-future one, as a new device's", () => {
    const shard = started();
    expect(predictions(send(shard, accel(), '{"seq":3,"t":1e15,"v":[0.1,0.2,0.3]}').outs)).toHaveLength(1);
    expect(deadLetters(send(shard, accel(), '{"seq":4,"t":1010,"v":[0.1,0.2,0.3]}').outs)[0].refused[0].reason).toBe("timeBackwards");
    expect(send(shard, accel(), '{"seq":5,"reset":true}').outs).toEqual([]);
    const after = predictions(send(shard, accel(), '{"seq":6,"t":1011,"v":[0.1,0.2,0.3]}').outs);
    const fresh = demoShard(engine, SHARD);
    expect(after).toEqual(predictions(send(fresh, accel(), '{"seq":6,"t":1011,"v":[0.1,0.2,0.3]}').outs));
    expect(JSON.parse(stateOfDevice(shard, DEVICE) as string)).toMatchObject({
      stream: JSON.parse(stateOfDevice(fresh, DEVICE) as string).stream,
      input: { lastT: 1011, held: [0, 0, 0, 0] },
      lastSeq: 6,
      counters: { resets: 1, timeBackwards: 1, accepted: 4 },
    });
    expect(stateOfDevice(shard, OTHER)).toBe(stateOfDevice(started(), OTHER));
  });

  it("is a message of its own: counted once, a redelivery a duplicate, anything else in it malformed", () => {
    const shard = started();
    send(shard, accel(), '{"seq":3,"reset":true,"ts":1700000000000}');
    expect(send(shard, accel(), '{"seq":3,"reset":true}').outs).toEqual([]);
    for (const [seq, extra] of [[4, '"t":1,"v":[1,2,3]'], [5, '"readings":[{"t":1,"v":[1,2,3]}]'], [6, '"label":1']] as const) {
      const [letter] = deadLetters(send(shard, accel(), `{"seq":${seq},"reset":true,${extra}}`).outs);
      expect(letter.refused).toEqual([{ seq, reason: "malformed", message: 'a reset carries nothing but "seq", "ts" and "boot"' }]);
    }
    expect(deadLetters(send(shard, accel(), '{"seq":7,"reset":1}').outs)[0].refused[0].message).toBe('reset is not true');
    expect(JSON.parse(stateOfDevice(shard, DEVICE) as string).counters).toMatchObject({ resets: 1, duplicates: 1, malformed: 4 });
  });

  it("publishes the prediction that waited for its tick before it resets (--publish interval)", () => {
    const shard = demoShard(engine, SHARD, { publish: "interval" });
    send(shard, accel(), '{"seq":1,"t":1000,"v":[0.1,0.2,0.3]}');
    const waiting = demoShard(engine, SHARD, { publish: "interval" });
    send(waiting, accel(), '{"seq":1,"t":1000,"v":[0.1,0.2,0.3]}');
    expect(send(shard, accel(), '{"seq":2,"reset":true}').outs).toEqual(waiting.fresh());
    expect(shard.fresh()).toEqual([]);
  });

  it("ends in the same state through a snapshot and a WAL replay", () => {
    const messages = ['{"seq":1,"t":1000,"v":[0.1,0.2,0.3]}', '{"seq":2,"reset":true}', '{"seq":3,"t":5,"v":[0.3,0.2,0.1]}'];
    const live = demoShard(engine, SHARD);
    for (const m of messages) send(live, accel(), m);
    const replay = demoShard(engine, SHARD);
    for (const m of messages) send(replay, accel(), m, false);
    expect(stateOfDevice(replay, DEVICE)).toBe(stateOfDevice(live, DEVICE));
    const restored = demoShard(engine, SHARD);
    restored.restore(decodeSnapshot(encodeSnapshot(live.capture(3, { model: "", engine: "", sensors: "", shards: SHARDS, shard: SHARD })), SHARD, "snapshot"));
    expect(stateOfDevice(restored, DEVICE)).toBe(stateOfDevice(live, DEVICE));
  });
});
