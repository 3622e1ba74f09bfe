/**
 * Seeded, bounded fuzzing of everything the gateway reads (issue 12, item 7): message payloads and topics, shard
 * snapshots and WAL files. A fixed number of cases per run, the same cases every run. Each case must end as a
 * clean refusal (counted, dead-lettered, or a "corrupt" BadStateError for a file) or as the result the unfuzzed
 * input gives; never an exception, a trap, a hang, or a change to any device the message was not for. Messages
 * carry `boot` ids too: the device's run, new runs, past runs again, and values that are not a run's id.
 */
import "../host/node.js";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Engine, TimePolicy } from "../host/engine/engine.js";
import { deadLetterTopic, inputTopic, outputTopic, shardOf } from "../host/gateway/topics.js";
import { Rng } from "../host/rng.js";
import type { Shard } from "../host/gateway/shard.js";
import { BadStateError, ShardLog, decodeSnapshot, encodeSnapshot, loadShard, shardDirectory, type Fingerprint, type WalEntry } from "../host/gateway/state.js";
import { PREFIX, SHARDS, demoEngine, demoShard, deviceOf, send, stateOfDevice, stateOfShard, statesOfDevices } from "./support/gateway.js";
import { memberNames, namesGivenTwice } from "./support/json-members.js";

const SHARD = 2;
const MESSAGES = 2500;
const SNAPSHOT_CASES = 400;
const WAL_CASES = 150;
const MAX_READINGS = 6;
const FINGERPRINT: Fingerprint = { model: "fuzz", engine: "fixed", sensors: "demo", shards: SHARDS, shard: SHARD };

let engine: Engine;
const dirs: string[] = [];
beforeAll(async () => {
  engine = await demoEngine();
});
afterAll(() => {
  engine?.dispose();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** The draws of one fuzz run: a seeded Rng and the shapes messages and files are made of. */
class Fuzz {
  readonly rng: Rng;
  constructor(seed: number) {
    this.rng = new Rng(seed);
  }
  int(n: number): number {
    return this.rng.int(n);
  }
  chance(p: number): boolean {
    return this.rng.uniform(0, 1) < p;
  }
  pick<T>(list: readonly T[]): T {
    return list[this.rng.int(list.length)];
  }
  /** a JSON number token: mostly ordinary, else at the edges of what float64, float32 and the clock hold */
  number(ordinary: () => number, odd = 0.05): string {
    if (!this.chance(odd)) return String(ordinary());
    return this.pick(["0", "-0", "1e-320", "5e-324", "3.4e38", "3.5e38", "-3.5e38", "1e39", "1e300", "-1e300", "1e999", "-1e999", "9007199254740993", "null", '"1"', "true", "[]", "{}", "[1]"]);
  }
  /** text with a few random edits: a flipped or deleted character, an inserted one (control, quote, bracket,
   * non-ASCII), a repeated or cut piece */
  mutate(text: string): string {
    let out = text;
    for (let k = 1 + this.int(3); k > 0; k--) {
      const at = this.int(out.length + 1);
      const edit = this.int(5);
      if (edit === 0) out = out.slice(0, at) + String.fromCharCode(this.int(0x80)) + out.slice(at + 1);
      else if (edit === 1) out = out.slice(0, at) + out.slice(at + 1 + this.int(8));
      else if (edit === 2) out = out.slice(0, at) + this.pick(['"', "{", "}", "[", "]", ",", ":", "\u001b[2J", "\u0007", "é", "\ud83d", "\u2028", "e9", "-", "."]) + out.slice(at);
      else if (edit === 3) out = out.slice(0, at) + out.slice(Math.max(0, at - 10), at) + out.slice(at);
      else out = out.slice(0, at);
    }
    return out;
  }
  bytes(n: number): Uint8Array {
    return Uint8Array.from({ length: n }, () => this.int(256));
  }
}

const CHANNELS: Record<string, number> = { accel: 3, temp: 1 };

/** What the fuzzer knows of a device, to make most of its messages plausible: its run too (`boot`, "" for none). */
interface Known {
  seq: number;
  t: number;
  boot: string;
  /** the runs before it, the most recent first */
  past: string[];
  /** runs begun so far, for a new run's id */
  runs: number;
}

function known(): Known {
  return { seq: 0, t: 1.7e12, boot: "", past: [], runs: 0 };
}

/** A value that is not a run's id, as JSON. */
const BAD_BOOTS = ['""', `"${"b".repeat(65)}"`, '"7f 3a"', '"a/b"', '"bööt"', "-1", "1.5", "9007199254740992", "null", "{}", '["7f3a"]', "true"];

/**
 * The `boot` of a message, as its JSON member with a leading comma (none for the run ""): mostly the device's
 * current run; else a new run (a string, or a number, which is its decimal string), after which its seq starts
 * again; one of its last three runs again (its seq anything: the run, not the number, says it is not new); or a
 * value that is not a run's id. The odd ones do not move what the fuzzer expects next.
 */
function bootMember(f: Fuzz, known: Known, seqOf: { odd: boolean }): string {
  const member = (boot: string) => (boot === "" ? "" : `,"boot":${/^\d+$/.test(boot) && f.chance(0.5) ? boot : JSON.stringify(boot)}`);
  const kind = f.int(40);
  if (kind === 0) {
    known.past.unshift(known.boot);
    known.boot = f.chance(0.3) ? String(known.runs++) : `r${known.runs++}`;
    known.seq = -1;
  } else if (kind === 1 && known.past.length > 0) {
    seqOf.odd = true;
    return member(f.pick(known.past.slice(0, 3)));
  } else if (kind === 2) {
    seqOf.odd = true;
    return `,"boot":${f.pick(BAD_BOOTS)}`;
  }
  return member(known.boot);
}

function readingText(f: Fuzz, known: Known, sensor: string, named: boolean): string {
  const t = f.chance(0.85) ? known.t + f.rng.uniform(0, 30) : f.chance(0.5) ? known.t - f.rng.uniform(0, 30) : known.t;
  known.t = Math.max(known.t, t);
  const channels = f.chance(0.9) ? CHANNELS[sensor] ?? 1 : f.int(5);
  const values = Array.from({ length: channels }, () => f.number(() => f.rng.uniform(-30, 30)));
  const v = channels === 1 && f.chance(0.5) ? values[0] : `[${values.join(",")}]`;
  const parts = [`"t":${f.number(() => t, 0.02)}`, `"v":${v}`];
  if (named) parts.push(`"sensor":${JSON.stringify(f.pick(["accel", "temp", "gyro", "", "accel/x"]))}`);
  if (f.chance(0.05)) parts.reverse();
  // a field given twice, another value first: JSON.parse would keep the last, the first dropped unsaid
  if (f.chance(0.04)) parts.unshift(`${f.pick(parts).split(":")[0]}:0`);
  return `{${parts.join(",")}}`;
}

/** Mostly nothing; else a field of the message's given before its own, as the first of two (with a comma). */
function messageFieldTwice(f: Fuzz): string {
  return f.chance(0.03) ? `${f.pick(['"seq":0', '"ts":0', '"boot":"b0"'])},` : "";
}

/** One fuzzed message: a plausible reading or batch, edited text, or something else entirely. */
function payloadOf(f: Fuzz, known: Known, sensor: string): string | Uint8Array {
  const kind = f.int(20);
  const run = { odd: false };
  const boot = kind < 18 ? bootMember(f, known, run) : "";
  // mostly the device's next number; else a number seen already, a gap, or no sequence number at all (the odd
  // ones do not move what the fuzzer expects next, so one of them does not spoil the device's later messages)
  const seq = () => {
    if (run.odd) return String(f.int(50));
    if (f.chance(0.85)) return String(++known.seq);
    return f.pick([String(known.seq), String(known.seq - 3), String((known.seq += 50)), "-1", "1.5", '"7"', "null", "9007199254740992", "1e400"]);
  };
  const ts = () => (f.chance(0.2) ? `,"ts":${f.number(() => 1.7e12)}` : "");
  if (kind < 9) return `{${messageFieldTwice(f)}"seq":${seq()}${boot},${readingText(f, known, sensor, f.chance(0.05)).slice(1, -1)}${ts()}}`;
  if (kind < 14) {
    const n = f.chance(0.9) ? 1 + f.int(MAX_READINGS) : f.pick([0, MAX_READINGS + 1]);
    const first = seq();
    if (!run.odd && first === String(known.seq)) known.seq += Math.max(0, n - 1);
    const readings = Array.from({ length: n }, () => (f.chance(0.95) ? readingText(f, known, sensor, f.chance(0.3)) : f.pick(["null", "1", '"r"', "[]"])));
    return `{${messageFieldTwice(f)}"seq":${first}${boot},"readings":[${readings.join(",")}]${ts()}}`;
  }
  if (kind < 18) return f.mutate(`{"seq":${seq()}${boot},${readingText(f, known, sensor, false).slice(1, -1)}}`);
  if (kind === 18) return f.bytes(f.int(40));
  return f.pick([
    "",
    "null",
    "[]",
    "1e999",
    '"text"',
    `{"__proto__":{"seq":${known.seq + 1}},"t":1,"v":[1,2,3]}`,
    `{"seq":${++known.seq},"t":${known.t},"v":[1,2,3],"constructor":{"prototype":1},"__proto__":null}`,
    `{"seq":${++known.seq},"t":${known.t},"v":[1,2,3],"readings":[]}`,
    `{"seq":${++known.seq},"readings":{"length":2}}`,
    `${"[".repeat(5000)}${"]".repeat(5000)}`,
    `{"seq":${++known.seq},"t":${known.t},"v":${"[".repeat(100)}1${"]".repeat(100)}}`,
    `{"seq":${++known.seq},"t":${known.t},"v":[${"0,".repeat(4000)}0]}`,
  ]);
}

/** A topic of the shard: mostly a known device and a declared sensor, else anything under <prefix>/in/<shard>/. */
function topicOf(f: Fuzz, devices: string[]): { topic: string; device: string | null; sensor: string } {
  const head = `${PREFIX}/in/${SHARD}/`;
  if (f.chance(0.9)) {
    const device = f.chance(0.97) ? f.pick(devices) : deviceOf(SHARD, 4 + f.int(6));
    const sensor = f.chance(0.95) ? f.pick(["accel", "temp"]) : f.pick(["gyro", "x", "temp.1"]);
    return { topic: `${head}${device}/${sensor}`, device, sensor };
  }
  const other = deviceOf((SHARD + 1) % SHARDS);
  const rest = f.pick([`${other}/accel`, ".hidden/accel", "a b/accel", `${"d".repeat(65)}/accel`, "dev", "dev/accel/extra", "/accel", "dev/", "ü/temp", "dev/\u0000", "+/#"]);
  return { topic: head + rest, device: rest === `${other}/accel` ? other : null, sensor: "accel" };
}

/** Readings applied and refused so far, over every device and the shard: each reading of a message adds one. */
function accounted(shard: Shard): { applied: number; refused: number; duplicates: number } {
  let applied = 0;
  let refused = 0;
  let duplicates = 0;
  for (const device of shard.devices.values()) {
    const { accepted, clamped, ...rejections } = device.sensors.counters;
    applied += accepted + clamped;
    refused += Object.values(rejections).reduce((a, b) => a + b, 0) + device.counts.malformed + device.counts.engineError;
    duplicates += device.counts.duplicates;
  }
  // the shard also counts resets of devices it has no entry for, which are no refusals
  const { stateResets, resets, ...counters } = shard.counters;
  expect([stateResets, resets]).toEqual([0, 0]);
  refused += Object.values(counters).reduce((a, b) => a + b, 0);
  return { applied, refused, duplicates };
}

/** The fields the gateway reads, in a message and (the last four) in a reading of `readings` (docs/gateway.md). */
const GATEWAY_FIELDS = ["seq", "boot", "ts", "reset", "readings", "t", "v", "label", "sensor"];

/**
 * The reading a prediction answers, read from the payload by the test itself: sensor, t, v, ts and boot as sent;
 * with the gateway's fields the message and the reading give twice, which a reading applied must have none of.
 */
function readingOf(payload: string, seq: number, topicSensor: string): { sensor: string; t: number; v: unknown; ts?: number; boot?: unknown; twice: string[] } {
  const message = JSON.parse(payload) as { seq: number; readings?: Record<string, unknown>[]; ts?: number; boot?: unknown } & Record<string, unknown>;
  const r = message.readings ? message.readings[seq - message.seq] : message;
  const ofReading = (path: (string | number)[]) => path.length === 0 || (path.length === 2 && path[0] === "readings" && path[1] === seq - message.seq);
  const twice = namesGivenTwice(memberNames(payload), (m) => ofReading(m.path) && GATEWAY_FIELDS.includes(m.name));
  return { sensor: (r.sensor as string | undefined) ?? topicSensor, t: r.t as number, v: r.v, ts: message.ts, boot: message.boot, twice };
}

describe.each(["reject", "clamp"] as TimePolicy[])("fuzzed messages and topics, time policy %s", (timePolicy) => {
  it(`${MESSAGES} messages: each counted once, refused cleanly or applied as its unfuzzed readings are, no other device touched`, () => {
    const f = new Fuzz(timePolicy === "reject" ? 12 : 13);
    const options = { timePolicy, maxReadings: MAX_READINGS, maxDevices: 6 };
    const shard = demoShard(engine, SHARD, options);
    // the same applied readings, sent clean one by one: the unfuzzed reference
    const mirror = demoShard(engine, SHARD, options);
    const devices = [0, 1, 2, 3].map((k) => deviceOf(SHARD, k));
    const knowns = new Map<string, Known>();
    const sent: { topic: string; payload: Uint8Array }[] = [];
    let halfway: ReturnType<Shard["capture"]> | undefined;
    const outcomes = { applied: 0, refused: 0, duplicates: 0 };
    for (let n = 0; n < MESSAGES; n++) {
      if (n === MESSAGES / 2) halfway = shard.capture(n, FINGERPRINT);
      const { topic, device, sensor } = topicOf(f, devices);
      const key = device ?? "";
      if (!knowns.has(key)) knowns.set(key, known());
      const payload = payloadOf(f, knowns.get(key) as Known, sensor);
      const bytes = typeof payload === "string" ? new TextEncoder().encode(payload) : payload;
      sent.push({ topic, payload: bytes });
      const states = statesOfDevices(shard);
      const mine = device === null ? undefined : states.get(device);
      const before = accounted(shard);
      let result: ReturnType<Shard["message"]> | undefined;
      expect(() => (result = send(shard, topic, bytes)), `message ${n} on ${topic}: ${String(payload).slice(0, 200)}`).not.toThrow();
      const { outs, failed } = result as ReturnType<Shard["message"]>;
      const after = accounted(shard);
      const where = `message ${n} on ${topic}: ${typeof payload === "string" ? payload.slice(0, 200) : "bytes"}`;
      expect(failed, where).toBe(false);

      // every other device is as it was
      const now = statesOfDevices(shard);
      for (const [id, state] of states) if (id !== device) expect(now.get(id), `${where}: device ${id}`).toBe(state);
      const predictions = outs.filter((o) => device !== null && o.topic === outputTopic(PREFIX, SHARD, device));
      const letters = outs.filter((o) => device !== null && o.topic === deadLetterTopic(PREFIX, SHARD, device));
      expect(predictions.length + letters.length, `${where}: only the device's own topics`).toBe(outs.length);
      expect(letters.length, where).toBeLessThanOrEqual(1);

      // each reading accounted for once: applied (and predicted), refused (and dead-lettered), or a duplicate
      const refused = letters.flatMap((o) => (JSON.parse(o.payload) as { refused: unknown[] }).refused).length;
      expect(after.applied - before.applied, where).toBe(predictions.length);
      expect(after.refused - before.refused, where).toBe(device === null ? 1 : refused);
      expect(after.applied + after.refused + after.duplicates - before.applied - before.refused - before.duplicates, where).toBeGreaterThanOrEqual(1);
      if (predictions.length === 0 && mine !== undefined) {
        const [was, is] = [JSON.parse(mine), JSON.parse(now.get(device as string) as string)];
        expect([is.stream, is.input], `${where}: nothing applied, nothing changed`).toEqual([was.stream, was.input]);
      }
      for (const [key, value] of Object.entries(after)) outcomes[key as keyof typeof outcomes] += value - before[key as keyof typeof before];

      // the same readings, clean, give the same predictions
      for (const prediction of predictions) {
        const { seq } = JSON.parse(prediction.payload) as { seq: number };
        const reading = readingOf(new TextDecoder().decode(bytes), seq, sensor);
        expect(reading.twice, `${where}: seq ${seq} applied with a field given twice`).toEqual([]);
        // the run as the message gave it: a new run of the fuzzed device's is one of the mirror's at its first reading
        const clean = send(mirror, inputTopic(PREFIX, SHARDS, device as string, reading.sensor), JSON.stringify({ seq, boot: reading.boot, t: reading.t, v: reading.v, ts: reading.ts }));
        expect(clean.outs, where).toEqual([prediction]);
      }
    }
    const fresh = { stream: Buffer.from(engine.createStream().snapshot()).toString("base64"), input: { lastT: null, held: [0, 0, 0, 0] } };
    for (const device of shard.devices.keys()) {
      const fuzzed = JSON.parse(stateOfDevice(shard, device) as string);
      const clean = mirror.devices.has(device) ? JSON.parse(stateOfDevice(mirror, device) as string) : fresh;
      expect([fuzzed.stream, fuzzed.input], device).toEqual([clean.stream, clean.input]);
    }
    // the cases reach every outcome, every reason, and more than one device
    expect(outcomes.applied).toBeGreaterThan(MESSAGES / 4);
    expect(outcomes.refused).toBeGreaterThan(MESSAGES / 4);
    expect(outcomes.duplicates).toBeGreaterThan(10);
    const restarts = [...shard.devices.values()].reduce((n, device) => n + device.counts.restarts, 0);
    expect(restarts).toBeGreaterThan(10);
    expect(shard.refusals.filter((r) => r.message.startsWith("boot is not a run's id")).length).toBeGreaterThan(10);
    expect(shard.refusals.filter((r) => r.message.endsWith("is given twice")).length).toBeGreaterThan(10);
    const reasons = new Set(shard.refusals.map((r) => r.reason));
    for (const reason of ["malformed", "unknownSensor", "wrongChannels", "nonFinite", "badTopic", "wrongShard", "tooManyDevices", ...(timePolicy === "reject" ? ["timeBackwards"] : [])]) {
      expect(reasons, reason).toContain(reason);
    }

    // a WAL replay of every message, and a snapshot halfway plus the replay of the rest, end where the live run did
    const replay = demoShard(engine, SHARD, options);
    for (const { topic, payload } of sent) send(replay, topic, payload, false);
    expect(stateOfShard(replay)).toBe(stateOfShard(shard));
    const resumed = demoShard(engine, SHARD, options);
    resumed.restore(decodeSnapshot(encodeSnapshot(halfway as ReturnType<Shard["capture"]>), SHARD, "halfway"));
    for (const { topic, payload } of sent.slice(MESSAGES / 2)) send(resumed, topic, payload, false);
    expect(stateOfShard(resumed)).toBe(stateOfShard(shard));
  });
});

/** A shard after a few hundred plausible messages: the snapshot and WAL that the file cases damage. */
function usedShard(): { shard: Shard; entries: WalEntry[] } {
  const f = new Fuzz(21);
  const shard = demoShard(engine, SHARD, { maxReadings: MAX_READINGS });
  const devices = [0, 1, 2].map((k) => deviceOf(SHARD, k));
  const knowns = new Map(devices.map((d) => [d, known()]));
  const entries: WalEntry[] = [];
  for (let e = 1; e <= 60; e++) {
    const device = f.pick(devices);
    const sensor = f.pick(["accel", "temp"]);
    const topic = inputTopic(PREFIX, SHARDS, device, sensor);
    const k = knowns.get(device) as Known;
    // a new run every so often, so that the snapshot has runs to damage
    if (e % 7 === 0) {
      k.boot = `r${e}`;
      k.seq = -1;
    }
    const payload = new TextEncoder().encode(`{"seq":${++k.seq}${k.boot === "" ? "" : `,"boot":"${k.boot}"`},${readingText(f, k, sensor, false).slice(1, -1)}}`);
    const { outs, failed } = send(shard, topic, payload);
    entries.push({ e, topic, payload, outs, failed });
  }
  return { shard, entries };
}

/** `bytes` with the CRC-32 at the end made right again: damage the checksum cannot see. */
function recrc(bytes: Uint8Array): Uint8Array {
  new DataView(bytes.buffer, bytes.byteOffset).setUint32(bytes.length - 4, crc32(bytes.subarray(0, bytes.length - 4)), true);
  return bytes;
}

/** One damaged copy of a snapshot: raw bytes, the header's JSON (checksum fixed), or a device's state bytes (fixed). */
function damageSnapshot(f: Fuzz, good: Uint8Array): { bytes: Uint8Array; checksummed: boolean } {
  const kind = f.int(3);
  if (kind === 0) {
    const bytes = good.slice();
    for (let k = 1 + f.int(4); k > 0; k--) bytes[f.int(bytes.length)] ^= 1 + f.int(255);
    return { bytes: f.chance(0.2) ? bytes.subarray(0, f.int(bytes.length)) : bytes, checksummed: false };
  }
  const headerLength = new DataView(good.buffer, good.byteOffset).getUint32(8, true);
  if (kind === 1) {
    const header = f.mutate(new TextDecoder().decode(good.subarray(12, 12 + headerLength)));
    const text = new TextEncoder().encode(header);
    const bytes = new Uint8Array(good.length - headerLength + text.length);
    bytes.set(good.subarray(0, 12));
    new DataView(bytes.buffer).setUint32(8, text.length, true);
    bytes.set(text, 12);
    bytes.set(good.subarray(12 + headerLength), 12 + text.length);
    return { bytes: recrc(bytes), checksummed: true };
  }
  const bytes = good.slice();
  const streams = 12 + headerLength;
  for (let k = 1 + f.int(3); k > 0; k--) bytes[streams + f.int(bytes.length - 4 - streams)] = f.int(256);
  return { bytes: recrc(bytes), checksummed: true };
}

describe("fuzzed shard snapshots", () => {
  it(`${SNAPSHOT_CASES} damaged snapshots: refused as corrupt, or loaded whole into a shard that goes on working`, () => {
    const f = new Fuzz(31);
    const { shard } = usedShard();
    const good = encodeSnapshot(shard.capture(60, FINGERPRINT));
    const seen = { refused: 0, loaded: 0 };
    for (let n = 0; n < SNAPSHOT_CASES; n++) {
      const { bytes, checksummed } = damageSnapshot(f, good);
      let snapshot;
      try {
        snapshot = decodeSnapshot(bytes, SHARD, "fuzzed");
        const target = demoShard(engine, SHARD);
        target.restore(snapshot);
        // loaded: every device takes a message, and the state writes and reads back as it is
        for (const id of target.devices.keys()) expect(() => send(target, inputTopic(PREFIX, SHARDS, id, "accel"), '{"seq":9000000,"t":1.8e12,"v":[0.1,0.2,0.3]}'), `case ${n}`).not.toThrow();
        expect(decodeSnapshot(encodeSnapshot(target.capture(61, FINGERPRINT)), SHARD, "again").devices.length).toBe(target.devices.size);
        seen.loaded++;
      } catch (err) {
        expect(err, `case ${n}: ${(err as Error).stack}`).toBeInstanceOf(BadStateError);
        expect((err as BadStateError).problem).toBe("corrupt");
        seen.refused++;
        continue;
      }
      // the checksum cannot have let raw damage through
      expect(checksummed, `case ${n}: raw damage loaded`).toBe(true);
    }
    expect(seen.refused).toBeGreaterThan(SNAPSHOT_CASES / 4);
    expect(seen.loaded).toBeGreaterThan(10);
  });
});

describe("fuzzed WAL files", () => {
  it(`${WAL_CASES} damaged WAL segments: refused as corrupt, or a torn tail dropped and the rest replayed as the original`, async () => {
    const f = new Fuzz(41);
    const { shard, entries } = usedShard();
    const root = mkdtempSync(join(tmpdir(), "phasor-gateway-fuzz-"));
    dirs.push(root);
    const seen = { refused: 0, loaded: 0, torn: 0 };
    for (let n = 0; n < WAL_CASES; n++) {
      const state = join(root, `case-${n}`);
      await loadShard(state, FINGERPRINT);
      const log = new ShardLog(shardDirectory(state, SHARD), false);
      for (const entry of entries) log.append(entry);
      log.close();
      const file = join(shardDirectory(state, SHARD), "wal-000000000000001.log");
      const lines = (await import("node:fs")).readFileSync(file, "utf8").split("\n").slice(0, -1);
      const kind = f.int(4);
      if (kind === 0) {
        // a line's JSON edited and its checksum made right: content no gateway writes
        const k = f.int(lines.length);
        const json = f.mutate(lines[k].slice(9));
        lines[k] = `${crc32(json).toString(16).padStart(8, "0")} ${json}`;
        writeFileSync(file, `${lines.join("\n")}\n`);
      } else if (kind === 1) {
        writeFileSync(file, `${lines.join("\n")}\n`.slice(0, f.int(lines.join("\n").length)));
      } else if (kind === 2) {
        const k = f.int(lines.length);
        lines.splice(k, 1 + f.int(2), ...(f.chance(0.5) ? [lines[f.int(lines.length)]] : []));
        writeFileSync(file, `${lines.join("\n")}\n`);
      } else {
        const text = Buffer.from(`${lines.join("\n")}\n`);
        for (let k = 1 + f.int(3); k > 0; k--) text[f.int(text.length)] ^= 1 + f.int(255);
        writeFileSync(file, text);
      }
      let loaded;
      try {
        loaded = await loadShard(state, FINGERPRINT);
      } catch (err) {
        expect(err, `case ${n}: ${(err as Error).stack}`).toBeInstanceOf(BadStateError);
        seen.refused++;
        continue;
      }
      seen.loaded++;
      // what loads replays without an exception; a cut-short file is the original's first entries
      const replay = demoShard(engine, SHARD, { maxReadings: MAX_READINGS });
      const replayed = loaded.segments.flatMap((s) => s.entries);
      for (const entry of replayed) {
        const parsed = parseTopic(entry.topic);
        if (parsed === undefined) continue;
        expect(() => (entry.failed ? replay.failed(parsed, entry.payload) : replay.message(parsed, entry.topic, entry.payload, false)), `case ${n}`).not.toThrow();
      }
      if (kind === 1) {
        seen.torn += loaded.tornTail ? 1 : 0;
        const reference = demoShard(engine, SHARD, { maxReadings: MAX_READINGS });
        for (const entry of entries.slice(0, replayed.length)) send(reference, entry.topic, entry.payload, false);
        expect(replayed.map((e) => e.e)).toEqual(entries.slice(0, replayed.length).map((e) => e.e));
        expect(stateOfShard(replay), `case ${n}`).toBe(stateOfShard(reference));
      }
      rmSync(state, { recursive: true, force: true });
    }
    expect(seen.refused).toBeGreaterThan(WAL_CASES / 4);
    expect(seen.torn).toBeGreaterThan(5);
    // the whole WAL replays to the live shard's state
    const whole = demoShard(engine, SHARD, { maxReadings: MAX_READINGS });
    for (const entry of entries) send(whole, entry.topic, entry.payload, false);
    expect(stateOfShard(whole)).toBe(stateOfShard(shard));
  });
});

function parseTopic(topic: string): { device: string; sensor: string } | { problem: string } | undefined {
  const levels = topic.split("/");
  if (levels.length !== 5 || `${levels[0]}/${levels[1]}/${levels[2]}` !== `${PREFIX}/in/${SHARD}`) return undefined;
  return shardOf(levels[3], SHARDS) === SHARD ? { device: levels[3], sensor: levels[4] } : { problem: "not this shard's" };
}
