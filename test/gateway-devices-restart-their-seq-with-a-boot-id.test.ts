/**
 * Devices that cannot keep their sequence number across their own restarts (docs/gateway.md, "Starting a device
 * again"): each run of a device sends its own `boot` id, and a run the shard has not seen starts the device's
 * sequence numbering again, so that its readings are applied instead of dropped as duplicates until `seq` passes
 * the old run's. A message of one of the last 8 runs before the current one is a redelivery (a duplicate); an
 * invalid `boot` makes a message malformed. The runs are part of the device's state: in the snapshots (version 3;
 * versions 1 and 2 still read, as the run "") and replayed from the WAL to the same bytes.
 */
import "../host/node.js";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Engine } from "../host/engine/engine.js";
import { Gateway } from "../host/gateway/gateway.js";
import type { Out } from "../host/gateway/shard.js";
import { BadStateError, ShardLog, decodeSnapshot, encodeSnapshot, loadShard, shardDirectory, type Fingerprint } from "../host/gateway/state.js";
import { deadLetterTopic, inputTopic, outputTopic } from "../host/gateway/topics.js";
import { Broker } from "./support/broker.js";
import { PREFIX, SHARDS, demoEngine, demoGatewayConfig, demoShard, deviceOf, faultyEngine, send, stateOfDevice } from "./support/gateway.js";
import { GatewayProcess, waitUntil } from "./support/gateway-process.js";
import { DEMO_SENSORS, connectClient, demoModel } from "./support/simulated-devices.js";

let engine: Engine;
beforeAll(async () => {
  engine = await demoEngine();
});
afterAll(() => engine?.dispose());

const SHARD = 3;
const DEVICE = deviceOf(SHARD, 0);
const FINGERPRINT: Fingerprint = { model: "demo", engine: "fixed", sensors: "demo", shards: SHARDS, shard: SHARD };
const accel = inputTopic(PREFIX, SHARDS, DEVICE, "accel");

/** A reading of the accelerometer: seq, time, run (none: no `boot` field). */
function reading(seq: number, t: number, boot?: string | number): string {
  return JSON.stringify({ seq, ...(boot === undefined ? {} : { boot }), t, v: [0.1 * (t % 7), -0.2, 0.001 * (t % 1000)] });
}

function predictions(outs: Out[]): { seq: number; boot?: string; t: number; y: number[] }[] {
  return outs.filter((o) => o.topic === outputTopic(PREFIX, SHARD, DEVICE)).map((o) => JSON.parse(o.payload));
}

function deadLetters(outs: Out[]): { refused: { seq?: number; reason: string; message: string }[] }[] {
  return outs.filter((o) => o.topic === deadLetterTopic(PREFIX, SHARD, DEVICE)).map((o) => JSON.parse(o.payload));
}

function device(shard: ReturnType<typeof demoShard>): { lastSeq: number; boot?: string; pastBoots?: string[]; counters: Record<string, number>; stream: string; input: unknown } {
  return JSON.parse(stateOfDevice(shard, DEVICE) as string);
}

/** A device that ran as "7f3a" up to seq 5 (times 1000 to 1005) and then rebooted as "c201", seq 0 to 2. */
function rebooted() {
  const shard = demoShard(engine, SHARD);
  const first = [0, 1, 2, 3, 4, 5].map((seq) => reading(seq, 1000 + seq, "7f3a"));
  for (const payload of first) send(shard, accel, payload);
  const second = [0, 1, 2].map((seq) => reading(seq, 1006 + seq, "c201"));
  const outs = second.flatMap((payload) => send(shard, accel, payload).outs);
  return { shard, first, second, outs };
}

describe("a device that restarts its seq with a new boot id", () => {
  // before: the new run's readings were duplicates (seq 0..2 at or below 5), dropped with no prediction
  it("gets the new run's readings applied, as the same readings with a kept counter are, and counts one restart", () => {
    const { shard, outs } = rebooted();
    const kept = demoShard(engine, SHARD);
    const keptOuts = Array.from({ length: 9 }, (_, seq) => send(kept, accel, reading(seq, 1000 + seq)).outs).slice(6).flat();
    expect(predictions(outs).map((p) => p.seq)).toEqual([0, 1, 2]);
    expect(predictions(outs).map((p) => p.y)).toEqual(predictions(keptOuts).map((p) => p.y));
    const after = device(shard);
    expect(after).toMatchObject({ lastSeq: 2, boot: "c201", pastBoots: ["7f3a"], counters: { restarts: 1, duplicates: 0, seqGaps: 0, accepted: 9 } });
    // the stream went on through the restart: the same state as a device that kept its counter
    expect([after.stream, after.input]).toEqual([device(kept).stream, device(kept).input]);
  });

  // before: [] (dropped as duplicates) for the new run's first reading, so the test fails at its set-up
  it("takes a message of the previous run delivered again as a duplicate: nothing applied, nothing published", () => {
    const { shard, first } = rebooted();
    const before = device(shard);
    // seq 3 of "7f3a" is above the new run's last seq (2): only its run tells it from a new reading
    expect(send(shard, accel, first[3]).outs).toEqual([]);
    const burst = JSON.stringify({ seq: 3, boot: "7f3a", readings: [{ t: 1003, v: [0, 0, 0] }, { t: 1004, v: [0, 0, 0] }] });
    expect(send(shard, accel, burst).outs).toEqual([]);
    expect(send(shard, accel, JSON.stringify({ seq: 4, boot: "7f3a", reset: true })).outs).toEqual([]);
    const after = device(shard);
    expect({ ...after, counters: undefined }).toEqual({ ...before, counters: undefined });
    expect(after.counters).toEqual({ ...before.counters, duplicates: 4 });
    // and the current run goes on
    expect(predictions(send(shard, accel, reading(3, 1009, "c201")).outs).map((p) => p.seq)).toEqual([3]);
  });

  // before: the reset and the reading after it were duplicates; the device kept its old stream and time
  it("that resets as it boots starts both a new run and a new stream", () => {
    const shard = demoShard(engine, SHARD);
    for (let seq = 0; seq < 4; seq++) send(shard, accel, reading(seq, 5e6 + seq, "7f3a"));
    expect(send(shard, accel, JSON.stringify({ seq: 0, boot: "7f3a1", reset: true })).outs).toEqual([]);
    const outs = send(shard, accel, reading(1, 3, "7f3a1")).outs;
    const fresh = demoShard(engine, SHARD);
    expect(predictions(outs)).toEqual(predictions(send(fresh, accel, reading(1, 3)).outs).map((p) => ({ ...p, boot: "7f3a1" })));
    expect(device(shard)).toMatchObject({ stream: device(fresh).stream, input: device(fresh).input, lastSeq: 1, boot: "7f3a1", counters: { restarts: 1, resets: 1, timeBackwards: 0, duplicates: 0 } });
  });

  // before: every run after the first was dropped (boot ignored, seq 0 a duplicate)
  it("forgets the ninth run before the current one: a message of it is taken as a new run", () => {
    const shard = demoShard(engine, SHARD);
    const runs = Array.from({ length: 10 }, (_, k) => `run-${k}`);
    runs.forEach((boot, k) => expect(predictions(send(shard, accel, reading(0, 1000 + k, boot)).outs), boot).toHaveLength(1));
    expect(device(shard)).toMatchObject({ boot: "run-9", pastBoots: ["run-8", "run-7", "run-6", "run-5", "run-4", "run-3", "run-2", "run-1"], counters: { restarts: 9 } });
    // the eighth is still known: a duplicate
    expect(send(shard, accel, reading(1, 1100, "run-1")).outs).toEqual([]);
    expect(device(shard).counters).toMatchObject({ duplicates: 1, restarts: 9 });
    // the ninth is not: a new run, its reading applied
    expect(predictions(send(shard, accel, reading(1, 1101, "run-0")).outs).map((p) => p.seq)).toEqual([1]);
    expect(device(shard)).toMatchObject({ boot: "run-0", pastBoots: ["run-9", "run-8", "run-7", "run-6", "run-5", "run-4", "run-3", "run-2"], counters: { restarts: 10 } });
  });

  // before: the same run as the first message's was not a number's decimal string; there was no run at all
  it("takes a number and its decimal string for the same run, and a message without boot for the run with no id", () => {
    const shard = demoShard(engine, SHARD);
    send(shard, accel, reading(0, 1000, 5));
    send(shard, accel, reading(1, 1001, "5"));
    expect(device(shard)).toMatchObject({ boot: "5", counters: { restarts: 0, accepted: 2 } });
    expect(predictions(send(shard, accel, reading(0, 1002)).outs)).toHaveLength(1);
    expect(device(shard)).toMatchObject({ pastBoots: ["5"], counters: { restarts: 1, accepted: 3 } });
    expect(device(shard).boot).toBeUndefined();
  });

  // before: a prediction had no run, so the new run's seq 0 had the key (device, seq) of the old run's
  it("has predictions that say their run with their seq, also one that waited for its tick across a new run", () => {
    const { outs } = rebooted();
    expect(predictions(outs).map((p) => [p.boot, p.seq])).toEqual([["c201", 0], ["c201", 1], ["c201", 2]]);
    expect(Object.keys(predictions(outs)[0]).slice(0, 4)).toEqual(["seq", "boot", "t", "y"]);
    const shard = demoShard(engine, SHARD, { publish: "interval" });
    send(shard, accel, reading(4, 1000, "7f3a"));
    // a new run whose first message is refused: the prediction waiting is still the old run's reading's
    expect(deadLetters(send(shard, accel, JSON.stringify({ seq: 0, boot: "c201", t: 1001, v: [1, 2] })).outs)).toHaveLength(1);
    const restored = demoShard(engine, SHARD, { publish: "interval" });
    restored.restore(decodeSnapshot(encodeSnapshot(shard.capture(2, FINGERPRINT)), SHARD, "snapshot.bin"));
    for (const tick of [shard.fresh(), restored.fresh()]) expect(predictions(tick).map((p) => [p.boot, p.seq, p.t])).toEqual([["7f3a", 4, 1000]]);
  });

  // before: the new run's message was a duplicate, never run, so the engine could not fail on it
  it("whose engine fails on the new run's first message: put back, then the run and its seq taken, as a replay does", () => {
    let failing = false;
    const faulty = faultyEngine(engine, { push: () => failing });
    const live = demoShard(faulty, SHARD);
    const messages = [reading(0, 1000, "a"), reading(1, 1001, "a"), reading(0, 1002, "b"), reading(1, 1003, "b")];
    messages.slice(0, 2).forEach((payload) => send(live, accel, payload));
    const before = device(live);
    failing = true;
    expect(send(live, accel, messages[2]).failed).toBe(true);
    failing = false;
    expect(device(live)).toEqual({ ...before, boot: "b", pastBoots: ["a"], lastSeq: 0, counters: { ...before.counters, engineError: 1, restarts: 1 } });
    // the replay of the failed entry does not run it, and ends in the same state
    const replay = demoShard(engine, SHARD);
    messages.slice(0, 2).forEach((payload) => send(replay, accel, payload, false));
    replay.failed({ device: DEVICE, sensor: "accel" }, new TextEncoder().encode(messages[2]));
    expect(stateOfDevice(replay, DEVICE)).toBe(stateOfDevice(live, DEVICE));
    expect(send(live, accel, messages[3]).outs).toEqual(send(replay, accel, messages[3]).outs);
  });

  // before: the device had no run to keep
  it("of a device the shard has never seen: a message that creates it gives it its run, a reset creates nothing", () => {
    const shard = demoShard(engine, SHARD);
    send(shard, accel, JSON.stringify({ seq: 7, boot: "a", reset: true }));
    expect(shard.devices.has(DEVICE)).toBe(false);
    send(shard, accel, reading(0, 1000, "b"));
    expect(device(shard)).toMatchObject({ boot: "b", lastSeq: 0, counters: { restarts: 0 } });
    expect(device(shard).pastBoots).toBeUndefined();
  });
});

describe("an invalid boot", () => {
  const invalid: [string, unknown][] = [
    ["an empty string", ""],
    ["65 characters", "b".repeat(65)],
    ["a space", "7f 3a"],
    ["a slash", "7f/3a"],
    ["a character beyond ASCII", "bööt"],
    ["a negative number", -1],
    ["a fraction", 1.5],
    ["a number beyond 2^53 - 1", 2 ** 53],
    ["null", null],
    ["an object", { id: 1 }],
    ["an array", ["7f3a"]],
    ["a boolean", true],
  ];
  const forms: [string, (boot: unknown) => string][] = [
    ["a reading", (boot) => JSON.stringify({ seq: 9, boot, t: 2000, v: [0, 0, 0] })],
    ["readings", (boot) => JSON.stringify({ seq: 9, boot, readings: [{ t: 2000, v: [0, 0, 0] }] })],
    ["a reset", (boot) => JSON.stringify({ seq: 9, boot, reset: true })],
  ];
  // before: each was applied (boot ignored), or for the reset, applied as a reset
  it.each(invalid.flatMap(([name, boot]) => forms.map(([form, payload]) => [name, form, payload(boot)] as const)))(
    "%s in %s: the whole message malformed and dead-lettered, the device unchanged",
    (_name, _form, payload) => {
      const shard = demoShard(engine, SHARD);
      send(shard, accel, reading(0, 1000, "7f3a"));
      const before = device(shard);
      const outs = send(shard, accel, payload).outs;
      expect(predictions(outs)).toEqual([]);
      const [letter] = deadLetters(outs);
      // its seq is not read: which run it counts in is what boot would have said
      expect(letter.refused).toEqual([{ reason: "malformed", message: "boot is not a run's id: a string of 1 to 64 characters of A-Z a-z 0-9 . _ : -, or an integer from 0 to 2^53 - 1" }]);
      expect(device(shard)).toEqual({ ...before, counters: { ...before.counters, malformed: 1 } });
    },
  );

  it("of a device the shard has never seen: counted by the shard, no device created", () => {
    const shard = demoShard(engine, SHARD);
    const [letter] = deadLetters(send(shard, accel, reading(0, 1000, "")).outs);
    expect(letter.refused[0]).toMatchObject({ reason: "malformed", message: expect.stringMatching(/^boot is not a run's id/) });
    expect(shard.devices.has(DEVICE)).toBe(false);
    expect(shard.counters.malformed).toBe(1);
  });
});

/** The same message sequence for the snapshot and the replay: three runs, a redelivery, a reset, a bad boot. */
const MESSAGES = [
  reading(0, 1000, "a"),
  reading(1, 1001, "a"),
  JSON.stringify({ seq: 2, boot: "a", readings: [{ t: 1002, v: [1, 2, 3] }, { t: 1003, v: 21, sensor: "temp" }] }),
  reading(0, 1004, "b"),
  reading(1, 1001, "a"),
  JSON.stringify({ seq: 0, boot: 17, reset: true }),
  reading(1, 7, 17),
  reading(2, 8, "x y"),
  reading(2, 9, "17"),
];

function live() {
  const shard = demoShard(engine, SHARD);
  for (const payload of MESSAGES) send(shard, accel, payload);
  return shard;
}

/** `bytes` (a snapshot) with its header changed by `edit` and its version set, the checksum made right. */
function rewritten(bytes: Uint8Array, version: number, edit: (header: { devices: Record<string, unknown>[] }) => void): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = view.getUint32(8, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + length)));
  edit(header);
  const text = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(bytes.length - length + text.length);
  const outView = new DataView(out.buffer);
  out.set(bytes.subarray(0, 12));
  outView.setUint32(4, version, true);
  outView.setUint32(8, text.length, true);
  out.set(text, 12);
  out.set(bytes.subarray(12 + length, bytes.length - 4), 12 + text.length);
  outView.setUint32(out.length - 4, crc32(out.subarray(0, out.length - 4)), true);
  return out;
}

describe("the runs in the snapshots", () => {
  // before: version 2, no runs in it
  it("are written in version 3 and read back: the restored device knows its past runs", () => {
    const shard = live();
    expect(device(shard)).toMatchObject({ boot: "17", pastBoots: ["b", "a"], counters: { restarts: 2, resets: 1, duplicates: 1, malformed: 1 } });
    const bytes = encodeSnapshot(shard.capture(9, FINGERPRINT));
    expect(new DataView(bytes.buffer).getUint32(4, true)).toBe(3);
    const restored = demoShard(engine, SHARD);
    restored.restore(decodeSnapshot(bytes, SHARD, "snapshot.bin"));
    expect(stateOfDevice(restored, DEVICE)).toBe(stateOfDevice(shard, DEVICE));
    for (const payload of [reading(2, 1005, "b"), reading(3, 10, "17")]) expect(send(restored, accel, payload).outs).toEqual(send(shard, accel, payload).outs);
    expect(stateOfDevice(restored, DEVICE)).toBe(stateOfDevice(shard, DEVICE));
  });

  it("of a version 2 snapshot: every device in the run with no id, no past runs", () => {
    const plain = demoShard(engine, SHARD);
    for (let seq = 0; seq < 3; seq++) send(plain, accel, reading(seq, 1000 + seq));
    // a version 2 header as it was written: the same fields as version 3's for a device that never sent boot
    const bytes = rewritten(encodeSnapshot(plain.capture(3, FINGERPRINT)), 2, () => undefined);
    const restored = demoShard(engine, SHARD);
    restored.restore(decodeSnapshot(bytes, SHARD, "snapshot.bin"));
    expect(stateOfDevice(restored, DEVICE)).toBe(stateOfDevice(plain, DEVICE));
    expect(predictions(send(restored, accel, reading(3, 1003)).outs)).toHaveLength(1);
    expect(predictions(send(restored, accel, reading(0, 1004, "a")).outs)).toHaveLength(1);
    expect(device(restored)).toMatchObject({ boot: "a", pastBoots: [""], counters: { restarts: 1 } });
  });

  const corrupt: [string, number, (d: Record<string, unknown>) => void, RegExp][] = [
    ["an empty boot (the run with no id is left out)", 3, (d) => (d.boot = ""), /boot is not a run's id/],
    ["a boot with a space", 3, (d) => (d.boot = "a b"), /boot is not a run's id/],
    ["a boot that is a number", 3, (d) => (d.boot = 17), /boot is not a run's id/],
    ["pastBoots that is not a list", 3, (d) => (d.pastBoots = "a"), /pastBoots is not a list of 1 to 8 runs' ids/],
    ["an empty pastBoots (left out when empty)", 3, (d) => (d.pastBoots = []), /pastBoots is not a list of 1 to 8 runs' ids/],
    ["nine past runs", 3, (d) => (d.pastBoots = ["1", "2", "3", "4", "5", "6", "7", "8", "9"]), /pastBoots is not a list of 1 to 8 runs' ids/],
    ["a past run that is not an id", 3, (d) => (d.pastBoots = ["b", "a/b"]), /pastBoots is not a list of 1 to 8 runs' ids/],
    ["a past run twice", 3, (d) => (d.pastBoots = ["b", "a", "b"]), /pastBoots holds the run "b" twice/],
    ["the current run among the past ones", 3, (d) => (d.pastBoots = ["b", "17"]), /pastBoots holds its current run "17"/],
    ["a boot in a version 2 snapshot", 2, () => undefined, /boot and pastBoots are not fields of a version 2 snapshot/],
  ];
  // before: each loaded (the fields were not read), or failed on the version
  it.each(corrupt)("with %s: refused as corrupt, naming the device and the field", (_name, version, edit, message) => {
    const bytes = rewritten(encodeSnapshot(live().capture(9, FINGERPRINT)), version, (header) => edit(header.devices[0]));
    const load = () => decodeSnapshot(bytes, SHARD, "snapshot.bin");
    expect(load).toThrow(BadStateError);
    expect(load).toThrow(new RegExp(`^shard ${SHARD}: corrupt state: snapshot\\.bin: device 0: ${DEVICE}: `));
    expect(load).toThrow(message);
  });
});

describe("the runs through a WAL replay", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "phasor-gateway-boot-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** The device's state in the snapshot of a gateway's state folder, as stateOfDevice gives it. */
  function deviceOnDisk(state: string): string | undefined {
    const path = join(shardDirectory(state, SHARD), "snapshot.bin");
    const shard = demoShard(engine, SHARD);
    shard.restore(decodeSnapshot(readFileSync(path), SHARD, path));
    return stateOfDevice(shard, DEVICE);
  }

  // before: the replay ended in the live run's state too, but with the new runs' readings dropped
  it("end in the live run's bytes: a gateway in process on the WAL a kill before the first snapshot leaves", async () => {
    const state = join(dir, "state");
    // what a gateway killed after these messages leaves: the empty snapshot of its start and every message in the WAL
    await loadShard(state, FINGERPRINT);
    const wal = new ShardLog(shardDirectory(state, SHARD), false);
    MESSAGES.forEach((payload, k) => wal.append({ e: k + 1, topic: accel, payload: new TextEncoder().encode(payload) }));
    wal.close();
    const config = demoGatewayConfig(engine, { fingerprint: { model: "demo", engine: "fixed", sensors: "demo" }, broker: "mqtt://127.0.0.1:1", prefix: PREFIX, shards: SHARDS, clientId: "boot-test", stateDir: state, log: () => undefined });
    const gateway = await Gateway.open(config);
    expect(gateway.health()).toMatchObject({ replayed: MESSAGES.length, restarts: 2, duplicates: 1 });
    await gateway.stop();
    expect(deviceOnDisk(state)).toBe(stateOfDevice(live(), DEVICE));
    expect(JSON.parse(deviceOnDisk(state) as string)).toMatchObject({ boot: "17", pastBoots: ["b", "a"], lastSeq: 2, counters: { accepted: 7, restarts: 2 } });
  });

  // before: as above, the second and third runs' readings dropped (restarts undefined in the health line)
  it("end in the live run's bytes: `phasor gateway` on a mosquitto, killed with SIGKILL after the messages and restarted", async () => {
    // every packet in the broker's log, so that the test sees the gateway's PUBACKs arrive
    const broker = await Broker.start(join(dir, "broker"), { config: ["log_type all"] });
    const gateways: GatewayProcess[] = [];
    const publisher = await connectClient(broker.url, "boot-publisher");
    try {
      const model = join(dir, "model.plsm");
      const sensors = join(dir, "sensors.json");
      // the demo engine of the in-process shards is this model's (demoEngine's seed)
      writeFileSync(model, demoModel(2024).plsm);
      writeFileSync(sensors, JSON.stringify(DEMO_SENSORS));
      const state = join(dir, "state");
      const start = () => {
        // no periodic snapshot: the kill leaves every message in the WAL, for the restart to replay
        const args = ["--model", model, "--sensors", sensors, "--state", state, "--broker", broker.url, "--prefix", PREFIX, "--shards", String(SHARDS), "--snapshot-interval", "3600000", "--health-interval", "60000"];
        const gateway = new GatewayProcess(args);
        gateways.push(gateway);
        return gateway;
      };
      const first = start();
      await first.waitFor("ready");
      for (const payload of MESSAGES) await publisher.publishAsync(accel, payload, { qos: 1 });
      const walLines = () => readdirSync(shardDirectory(state, SHARD)).filter((name) => name.startsWith("wal-")).map((name) => readFileSync(join(shardDirectory(state, SHARD), name), "utf8").split("\n").length - 1).reduce((a, b) => a + b, 0);
      await waitUntil(() => walLines() === MESSAGES.length, 20_000, () => `${walLines()} of ${MESSAGES.length} messages in the WAL`);
      // the last message's PUBACK goes when its handler returns, just after its WAL write; killed before the broker has
      // it, the gateway would get that message again after the restart, one more duplicate. The broker's log has every
      // delivery of a reading to the gateway (its client and message id) and every PUBACK it receives
      const unacknowledged = () => {
        const log = readFileSync(join(dir, "broker", "mosquitto.log"), "utf8");
        const delivered = [...log.matchAll(/Sending PUBLISH to (\S+) \(d\d, q1, r\d, m(\d+), '[^']*\/in\//g)].map((m) => `${m[1]} ${m[2]}`);
        const acknowledged = new Set([...log.matchAll(/Received PUBACK from (\S+) \(Mid: (\d+),/g)].map((m) => `${m[1]} ${m[2]}`));
        return { delivered: delivered.length, waiting: delivered.filter((d) => !acknowledged.has(d)).length };
      };
      await waitUntil(
        () => unacknowledged().delivered === MESSAGES.length && unacknowledged().waiting === 0,
        20_000,
        () => `${JSON.stringify(unacknowledged())}: the broker's deliveries of the ${MESSAGES.length} readings and the PUBACKs it is waiting for`,
      );
      await first.kill();
      const second = start();
      await second.waitFor("ready");
      const stopped = await second.stop();
      expect(stopped).toMatchObject({ replayed: MESSAGES.length, restarts: 2, duplicates: 1, applied: 7 });
      expect(deviceOnDisk(state)).toBe(stateOfDevice(live(), DEVICE));
    } finally {
      await publisher.endAsync(true);
      for (const gateway of gateways) if (gateway.child.exitCode === null) await gateway.kill();
      await broker.stop("kill");
    }
  });
});
