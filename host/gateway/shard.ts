/**
 * One shard's devices and what a message does to them (docs/gateway.md, "Validation" and "No loss, no
 * duplication"), apart from the broker and the files: the gateway numbers each message, hands it here, writes the
 * message and its result to the WAL, and publishes what this returns. The same message on the same state always
 * gives the same result and the same state, so a WAL replay ends where the live run did.
 *
 * A reading may carry a label: after its prediction, the device's own readout takes one learning step from it
 * (docs/on-device-learning.md; docs/gateway.md, "Learning"), and the adapted readout is part of the device's state.
 *
 * No message stops a shard. Whatever a message holds ends as readings applied or readings refused and counted,
 * each refusal also published on the device's dead-letter topic. Should the engine fail all the same (throw after
 * its check accepted an event, or run out of memory for a new device's stream), the device is put back as it was
 * before the message, the message is counted as `engineError`, and the result says `failed`: the WAL records it,
 * and a replay refuses the message again without running it, whatever the engine would do this time.
 *
 * A device is created by the first message that has a reading of it applied, never by a refusal or a reset: what a
 * device sends can fill a shard's --max-devices only with devices whose readings the engine runs.
 *
 * Sequence numbers count within a run of the device (`boot`, docs/gateway.md, "Starting a device again"): a device
 * that cannot keep its counter across its own restarts starts a new run, whose numbering starts again; a message of
 * one of its last MAX_PAST_BOOTS runs before the current one is a redelivery.
 * Node-only through state.ts (BadStateError).
 */
import type { Engine, LearningRate, TimePolicy } from "../engine/engine.js";
import { learningTarget } from "../engine/readout-learning.js";
import { PhasorError } from "../errors.js";
import { deadLetterTopic, outputTopic, shardOf } from "./topics.js";
import { inputLimit, saturatesInput } from "../engine/input-range.js";
import { SENSOR_REJECTIONS, SensorStream, type ReadingCounters, type SensorLayout, type SensorSpec } from "./sensors.js";
import { MAX_PAST_BOOTS, parseMessage, type MessageLimits, type ParsedMessage } from "./payload.js";
import { BadStateError, type DeviceRecord, type ShardSnapshot, type UnpublishedReading } from "./state.js";

export type PublishMode = "every" | "change" | "interval";

/** A message to publish: a prediction or a dead letter. */
export interface Out {
  topic: string;
  payload: string;
}

/** Refusals of a message to a device, kept in its snapshot record. */
export const DEVICE_REJECTIONS = ["malformed", ...SENSOR_REJECTIONS, "badLabel", "engineError"] as const;
/**
 * Every refusal; each is also a counter of the shard (in its snapshot), for messages that reach no device (a bad
 * topic, another shard's device, one device too many) and for every refusal of a message from a device the shard
 * has no entry for, which creates none.
 */
export const REJECTIONS = [...DEVICE_REJECTIONS, "badTopic", "wrongShard", "tooManyDevices"] as const;
export type Rejection = (typeof REJECTIONS)[number];

/** A device's counts besides its encoder's (SensorStream.counters); labelsIgnored: labels of applied readings on a
 * gateway that does not learn (no --learn-rate); resets: reset messages that started its stream again; restarts:
 * new runs (`boot`) that started its sequence numbers again. */
const DEVICE_COUNTS = ["malformed", "badLabel", "duplicates", "seqGaps", "engineError", "labelsIgnored", "resets", "restarts"] as const;
type DeviceCounts = Record<(typeof DEVICE_COUNTS)[number], number>;
/** resets: reset messages of devices the shard has no entry for (they create none); stateResets: its state quarantined */
type ShardCounters = Record<Rejection | "resets" | "stateResets", number>;

/** Dead letters quote at most this much of the refused message (the WAL keeps all of it). */
const DEAD_LETTER_PAYLOAD_BYTES = 1 << 16;

export interface ShardConfig extends MessageLimits {
  engine: Engine;
  layout: SensorLayout;
  prefix: string;
  shards: number;
  index: number;
  timePolicy: TimePolicy;
  publish: PublishMode;
  /** publish mode "change": publish when the argmax changes or some output moves by more than this */
  changeThreshold: number;
  maxDevices: number;
  /** the step of the devices' readouts (--learn-rate, --learn-c); null: labels are counted, not learned from */
  learning: LearningRate | null;
  /** every refusal, for the (rate-limited) log */
  onRefusal(record: Refusal & { shard: number; device: string | null; live: boolean }): void;
  /** the first reading of a device (in this process) that an input of the fixed engine saturated, for the log */
  onSaturated?(record: InputSaturated): void;
}

/**
 * A reading whose value, after its sensor's offset and scale, is beyond what the model's input format holds
 * (|input| above `limit`, docs/fixed-point.md): the engine ran it as the bound. The first such value of the reading.
 */
export interface InputSaturated {
  shard: number;
  device: string;
  sensor: string;
  channel: number;
  /** the value as the device sent it, and as the engine took it (after offset and scale) */
  value: number;
  input: number;
  limit: number;
  live: boolean;
}

/** One refused message or reading: sequence number and index in the message where there are such. */
export interface Refusal {
  seq?: number;
  index?: number;
  reason: Rejection;
  message: string;
}

export interface Device {
  id: string;
  sensors: SensorStream;
  /** the highest sequence number seen in the current run, -1 before the first */
  lastSeq: number;
  /** the current run's id ("": messages without `boot`) */
  boot: string;
  /** the ids of the runs before it, the most recent first, at most MAX_PAST_BOOTS */
  pastBoots: string[];
  /** duplicates: readings delivered again (sequence number already seen), dropped; seqGaps: sequence numbers skipped */
  counts: DeviceCounts;
  /** the last published prediction (publish mode "change") */
  published: Float64Array | null;
  /** the reading whose prediction waits for the next tick (publish mode "interval"), null when none waits */
  unpublished: UnpublishedReading | null;
  /** publish-to-processing delay of the last reading that carried "ts", ms */
  lagMs: number;
  /** whether the log has said that a reading of the device saturated an input (once a device, in this process) */
  saturationSaid: boolean;
}

/** What a message did: what to publish, and whether the engine failed on it (the WAL records that). */
export interface MessageResult {
  outs: Out[];
  failed: boolean;
}

export type ShardTopic = { device: string; sensor: string } | { problem: string };

export class Shard {
  readonly devices = new Map<string, Device>();
  readonly counters = Object.fromEntries([...REJECTIONS, "resets", "stateResets"].map((key) => [key, 0])) as ShardCounters;
  private readonly labelled: boolean;
  /** the layout's sensors by name, for saySaturated: looked up at each reading until a device's first saturation */
  private readonly sensorsByName: Map<string, SensorSpec>;

  constructor(readonly config: ShardConfig) {
    const { readout } = config.engine.model;
    this.labelled = readout.labels !== undefined || readout.mode === "last";
    this.sensorsByName = new Map(config.layout.sensors.map((sensor) => [sensor.name, sensor]));
  }

  /**
   * What the WAL keeps of a message: all of it, or, of a message over --max-payload-bytes, the first bytes its dead
   * letter quotes; with the size as received (`size` of message()), that is all a replay needs to refuse it again.
   */
  walPayload(payload: Uint8Array): Uint8Array {
    return payload.length > this.config.maxPayloadBytes ? payload.subarray(0, DEAD_LETTER_PAYLOAD_BYTES) : payload;
  }

  /**
   * One message on this shard's topic. `live` is false for a WAL replay (no lag measured); `size` is the message's
   * size as received where `payload` holds only its first bytes (walPayload). A message whose WAL entry says it
   * failed is given to failed() instead.
   */
  message(topic: ShardTopic, rawTopic: string, payload: Uint8Array, live: boolean, size = payload.length): MessageResult {
    const { config } = this;
    if ("problem" in topic) {
      this.counters.badTopic++;
      config.onRefusal({ shard: config.index, device: null, live, reason: "badTopic", message: `${topic.problem}` });
      return { outs: [], failed: false };
    }
    const { device: id, sensor } = topic;
    if (shardOf(id, config.shards) !== config.index) {
      this.counters.wrongShard++;
      const why = `device "${id}" belongs to shard ${shardOf(id, config.shards)} of ${config.shards}, not ${config.index}: its publisher has another shard count`;
      return { outs: [this.refuse(id, rawTopic, payload, size, [{ reason: "wrongShard", message: why }], live)], failed: false };
    }
    let device = this.devices.get(id);
    if (device === undefined && this.devices.size >= config.maxDevices) {
      this.counters.tooManyDevices++;
      const why = `shard ${config.index} has ${config.maxDevices} devices already (--max-devices)`;
      return { outs: [this.refuse(id, rawTopic, payload, size, [{ reason: "tooManyDevices", message: why }], live)], failed: false };
    }
    const parsed = parseMessage(payload, sensor, config, size);
    const created = device === undefined;
    // a device is created by its first applied reading, never by a refusal: garbage under ever new device names
    // would otherwise fill the shard to --max-devices and shut every real new device out
    if (created && !parsed.ok) {
      this.counters.malformed++;
      return { outs: [this.refuse(id, rawTopic, payload, size, [malformed(parsed)], live)], failed: false };
    }
    if (created && parsed.ok && parsed.reset) {
      // nor by a reset, which would leave it as a new device is: it stays unknown, the reset counted by the shard
      this.counters.resets++;
      return { outs: [], failed: false };
    }
    // the device as it was before the message, to put back should the engine fail: what a snapshot keeps (what
    // waits to be published among it)
    let before: { record: DeviceRecord; lagMs: number } | undefined;
    try {
      if (device === undefined) {
        // only a message that parsed gets here (above): the device starts in its run
        device = this.newDevice(id, parsed.seq === null ? "" : parsed.boot);
        this.devices.set(id, device);
      } else {
        before = { record: this.record(device), lagMs: device.lagMs };
      }
      const outs = this.readings(device, parsed, rawTopic, payload, size, live);
      if (created && device.sensors.counters.accepted + device.sensors.counters.clamped === 0) this.forget(device);
      return { outs, failed: false };
    } catch (err) {
      if (created) this.drop(id);
      else if (before !== undefined) {
        this.restoreDevice(device as Device, before.record);
        (device as Device).lagMs = before.lagMs;
      }
      const why = `the engine failed: ${(err as Error).message}`;
      this.failed(topic, payload, size);
      return { outs: [this.refuse(id, rawTopic, payload, size, [{ reason: "engineError", message: why }], live)], failed: true };
    }
  }

  /**
   * What a message the engine failed on does to the state, live (after the device was put back) and in a replay
   * of its WAL entry (which does not run it again): counted once, its sequence numbers used up.
   */
  failed(topic: ShardTopic, payload: Uint8Array, size = payload.length): void {
    if ("problem" in topic) return;
    const device = this.devices.get(topic.device);
    if (device === undefined) {
      this.counters.engineError++;
      return;
    }
    device.counts.engineError++;
    const parsed = parseMessage(payload, topic.sensor, this.config, size);
    const first = parsed.seq;
    if (first === null || !this.enterRun(device, parsed.boot)) return;
    const last = parsed.ok && !parsed.reset ? parsed.seq + parsed.readings.length - 1 : first;
    if (last <= device.lastSeq) return;
    this.useSeq(device, Math.max(first, device.lastSeq + 1));
    device.lastSeq = last;
  }

  /** A device's readings, in order: sequence numbers, encoding, the engine; predictions and a dead letter to publish. */
  private readings(device: Device, parsed: ParsedMessage, rawTopic: string, payload: Uint8Array, size: number, live: boolean): Out[] {
    const outs: Out[] = [];
    const refused: Refusal[] = [];
    if (parsed.seq !== null && !this.enterRun(device, parsed.boot)) {
      // a message of an earlier run delivered again: each of its readings a duplicate, as within a run
      device.counts.duplicates += parsed.ok && !parsed.reset ? parsed.readings.length : 1;
      return outs;
    }
    if (!parsed.ok) {
      if (parsed.seq !== null) {
        if (parsed.seq <= device.lastSeq) {
          device.counts.duplicates++;
          return outs;
        }
        // a message with a readable seq uses it up, whatever becomes of it
        this.useSeq(device, parsed.seq);
      }
      device.counts.malformed++;
      refused.push(malformed(parsed));
    } else if (parsed.reset) {
      if (parsed.seq <= device.lastSeq) {
        device.counts.duplicates++;
        return outs;
      }
      this.useSeq(device, parsed.seq);
      this.reset(device, outs);
    } else {
      let applied = false;
      parsed.readings.forEach((reading, index) => {
        const seq = parsed.seq + index;
        if (seq <= device.lastSeq) {
          device.counts.duplicates++;
          return;
        }
        this.useSeq(device, seq);
        if ("malformed" in reading) {
          device.counts.malformed++;
          refused.push({ seq, index, reason: "malformed", message: reading.malformed });
          return;
        }
        // the label is checked before the reading changes anything, and learned from after its prediction
        let target: number | number[] | undefined;
        if (reading.label !== undefined) {
          try {
            learningTarget(reading.label, device.sensors.stream.outputSize);
            target = reading.label;
          } catch (err) {
            device.counts.badLabel++;
            refused.push({ seq, index, reason: "badLabel", message: (err as PhasorError).message });
            return;
          }
        }
        const outcome = device.sensors.push(reading.sensor, reading.t, reading.values);
        if (outcome !== "accepted" && outcome !== "clamped") {
          refused.push({ seq, index, reason: outcome, message: device.sensors.refusal });
          return;
        }
        applied = true;
        if (!device.saturationSaid && this.config.engine.inputFrac !== null) this.saySaturated(device, reading.sensor, reading.values, live);
        const out = this.prediction(device, seq, device.sensors.input.t, parsed.ts);
        if (out) outs.push(out);
        if (target !== undefined) this.learn(device, target);
      });
      if (applied && live && parsed.ts !== undefined) device.lagMs = Date.now() - parsed.ts;
    }
    if (refused.length > 0) outs.push(this.refuse(device.id, rawTopic, payload, size, refused, live));
    return outs;
  }

  /** Tells the log (onSaturated) of the first channel of an applied reading that the engine ran saturated. */
  private saySaturated(device: Device, sensorName: string, values: ArrayLike<number>, live: boolean): void {
    const inputFrac = this.config.engine.inputFrac as number;
    const sensor = this.sensorsByName.get(sensorName);
    if (sensor === undefined) return;
    const x = device.sensors.input.x;
    for (let channel = 0; channel < sensor.channels; channel++) {
      const input = x[sensor.slots[channel]];
      if (!saturatesInput(input, inputFrac)) continue;
      device.saturationSaid = true;
      const { index: shard } = this.config;
      this.config.onSaturated?.({ shard, device: device.id, sensor: sensorName, channel, value: values[channel], input, limit: inputLimit(inputFrac), live });
      return;
    }
  }

  /**
   * A reset message: the device's stream and encoder start again as a new device's (a device whose clock jumped
   * ahead gets its later readings applied again); its adapted readout, sequence number and counters stay. A
   * prediction that waits for its tick is published first, while the state it answers is still there.
   */
  private reset(device: Device, outs: Out[]): void {
    const waiting = device.unpublished === null ? [] : this.fresh([device]);
    outs.push(...waiting);
    device.sensors.stream.reset();
    device.sensors.input.reset();
    device.published = null;
    device.counts.resets++;
  }

  /** One step of the device's readout from a checked label, or the label counted as ignored where nothing learns. */
  private learn(device: Device, target: number | number[]): void {
    const { learning } = device.sensors.stream;
    if (this.config.learning === null || learning === null) device.counts.labelsIgnored++;
    else learning.learn(target, this.config.learning);
  }

  /**
   * The message's run against the device's: its current run goes on; one of its past runs is a redelivery from
   * before a restart (false); any other is a new run, whose sequence numbers start again (no gap counted), the
   * current run the most recent past one. The stream goes on: a device whose clock restarted too sends a reset.
   */
  private enterRun(device: Device, boot: string): boolean {
    if (boot === device.boot) return true;
    if (device.pastBoots.includes(boot)) return false;
    device.pastBoots.unshift(device.boot);
    if (device.pastBoots.length > MAX_PAST_BOOTS) device.pastBoots.length = MAX_PAST_BOOTS;
    device.boot = boot;
    device.lastSeq = -1;
    device.counts.restarts++;
    return true;
  }

  /** The device's sequence number moves to `seq` (above its last): the numbers skipped are gaps. */
  private useSeq(device: Device, seq: number): void {
    if (device.lastSeq >= 0) device.counts.seqGaps += seq - device.lastSeq - 1;
    device.lastSeq = seq;
  }

  /**
   * The dead letter of a message with refusals, on <prefix>/dead/<shard>/<device>: the message as received (text,
   * or base64 when it is not UTF-8; the first 64 KiB) and every refusal. Its content depends only on the message
   * and the state, so a copy published again after a restart is identical. `size` is the message's as received.
   */
  private refuse(device: string, rawTopic: string, payload: Uint8Array, size: number, refused: Refusal[], live: boolean): Out {
    for (const refusal of refused) this.config.onRefusal({ shard: this.config.index, device, live, ...refusal });
    const shown = payload.subarray(0, DEAD_LETTER_PAYLOAD_BYTES);
    const text = quotedText(shown, shown.length < size);
    const body = {
      topic: rawTopic,
      payloadBytes: size,
      ...(text === undefined ? { payloadBase64: Buffer.from(shown).toString("base64") } : { payload: text }),
      refused,
    };
    return { topic: deadLetterTopic(this.config.prefix, this.config.index, device), payload: JSON.stringify(body) };
  }

  private prediction(device: Device, seq: number, t: number, ts: number | undefined): Out | undefined {
    const { publish, changeThreshold } = this.config;
    const reading: UnpublishedReading = { seq, t };
    if (ts !== undefined) reading.ts = ts;
    if (device.boot !== "") reading.boot = device.boot;
    if (publish === "interval") {
      device.unpublished = reading;
      return undefined;
    }
    const y = device.sensors.stream.output();
    if (publish === "change" && device.published !== null && !changed(device.published, y, changeThreshold)) return undefined;
    if (publish === "change") device.published = y;
    return { topic: outputTopic(this.config.prefix, this.config.index, device.id), payload: this.predictionPayload(reading, y) };
  }

  /** A prediction's JSON; `boot` with its `seq` where the reading's run has an id, since `seq` counts within a run. */
  predictionPayload({ seq, boot, t, ts }: UnpublishedReading, y: Float64Array): string {
    const body: Record<string, unknown> = boot === undefined ? { seq, t, y: Array.from(y) } : { seq, boot, t, y: Array.from(y) };
    if (this.labelled) {
      const label = argmax(y);
      body.label = label;
      const name = this.config.engine.model.readout.labels?.[label];
      if (name !== undefined) body.name = name;
    }
    if (ts !== undefined) body.ts = ts;
    return JSON.stringify(body);
  }

  /** publish mode "interval": the latest prediction of every device (of `devices`) that had a reading since the last tick */
  fresh(devices: Iterable<Device> = this.devices.values()): Out[] {
    const outs: Out[] = [];
    for (const device of devices) {
      if (device.unpublished === null) continue;
      const reading = device.unpublished;
      device.unpublished = null;
      outs.push({ topic: outputTopic(this.config.prefix, this.config.index, device.id), payload: this.predictionPayload(reading, device.sensors.stream.output()) });
    }
    return outs;
  }

  private newDevice(id: string, boot: string): Device {
    const stream = this.config.engine.createStream();
    return {
      id,
      sensors: new SensorStream(stream, this.config.layout, this.config.timePolicy),
      lastSeq: -1,
      boot,
      pastBoots: [],
      counts: { malformed: 0, badLabel: 0, duplicates: 0, seqGaps: 0, engineError: 0, labelsIgnored: 0, resets: 0, restarts: 0 },
      published: null,
      unpublished: null,
      lagMs: NaN,
      saturationSaid: false,
    };
  }

  /**
   * A device that the message of its first readings created and that had none of them applied goes again, its
   * refusals counted by the shard: what it leaves is what a device the shard has no entry for is, so the next
   * message finds it unknown again, in a replay as live.
   */
  private forget(device: Device): void {
    const counts: Record<(typeof DEVICE_REJECTIONS)[number], number> = Object.assign({}, device.sensors.counters, device.counts);
    for (const reason of DEVICE_REJECTIONS) this.counters[reason] += counts[reason];
    this.drop(device.id);
  }

  private drop(id: string): void {
    const device = this.devices.get(id);
    if (device === undefined) return;
    this.devices.delete(id);
    device.sensors.stream.dispose();
  }

  /** Everything a snapshot keeps of a device (the gateway's snapshot, or the state to put back after a failure). */
  private record(device: Device): DeviceRecord {
    const record: DeviceRecord = {
      id: device.id,
      lastSeq: device.lastSeq,
      input: device.sensors.input.state(),
      // Object.assign, not a spread: this runs before every message, and node 20 spreads two objects 20x slower
      counters: Object.assign({}, device.sensors.counters, device.counts),
      published: device.published ? Array.from(device.published) : null,
      unpublished: device.unpublished,
      stream: device.sensors.stream.snapshot(),
      readout: device.sensors.stream.learning?.adapted ? device.sensors.stream.learning.save() : null,
    };
    // left out where a device never sent `boot`, as the snapshots do
    if (device.boot !== "") record.boot = device.boot;
    if (device.pastBoots.length > 0) record.pastBoots = device.pastBoots.slice();
    return record;
  }

  private restoreDevice(device: Device, record: DeviceRecord): void {
    const { learning } = device.sensors.stream;
    if (record.readout !== null && learning === null) throw new PhasorError("bad-input", "it has an adapted readout, and this engine does not learn");
    // the readout first: refused bytes leave the device as it was
    if (record.readout !== null) learning?.load(record.readout);
    else learning?.reset();
    device.sensors.stream.restore(record.stream);
    device.sensors.input.restore(record.input);
    device.lastSeq = record.lastSeq;
    device.boot = record.boot ?? "";
    device.pastBoots = record.pastBoots?.slice() ?? [];
    const counters = device.sensors.counters;
    for (const key of Object.keys(counters) as (keyof ReadingCounters)[]) counters[key] = record.counters[key] ?? 0;
    for (const key of DEVICE_COUNTS) device.counts[key] = record.counters[key] ?? 0;
    device.published = record.published ? Float64Array.from(record.published) : null;
    device.unpublished = record.unpublished;
  }

  /** The shard's state at `cut` (the last WAL entry it includes). */
  capture(cut: number, fingerprint: ShardSnapshot["fingerprint"]): ShardSnapshot {
    return { fingerprint, cut, counters: { ...this.counters }, devices: [...this.devices.values()].map((device) => this.record(device)) };
  }

  /** Loads a snapshot's devices and counters; a device state that does not fit this shard or engine is "corrupt". */
  restore(snapshot: ShardSnapshot): void {
    const { index, shards } = this.config;
    for (const key of Object.keys(this.counters) as (keyof ShardCounters)[]) this.counters[key] = snapshot.counters[key] ?? 0;
    for (const record of snapshot.devices) {
      if (shardOf(record.id, shards) !== index) throw new BadStateError(index, "corrupt", `device ${record.id} does not belong to shard ${index}`);
      if (this.devices.has(record.id)) throw new BadStateError(index, "corrupt", `device ${record.id} appears twice`);
      if (record.published !== null && record.published.length !== this.config.engine.model.readout.outputSize) {
        throw new BadStateError(index, "corrupt", `device ${record.id}: its last published prediction has ${record.published.length} outputs`);
      }
      let device: Device;
      try {
        device = this.newDevice(record.id, "");
      } catch (err) {
        // not the state's fault: the engine has no room for the shard's devices (one line, exit status 1)
        throw new PhasorError("runtime", `shard ${index}: no stream for device ${record.id} (${this.devices.size} devices restored): ${(err as Error).message}`);
      }
      this.devices.set(record.id, device);
      try {
        this.restoreDevice(device, record);
      } catch (err) {
        throw new BadStateError(index, "corrupt", `device ${record.id}: ${(err as Error).message}`);
      }
    }
  }

  /** Frees every device's stream (a shard moved to quarantine, or the gateway stopping). */
  clear(): void {
    for (const id of [...this.devices.keys()]) this.drop(id);
  }
}

/** The refusal of a message that is malformed as a whole, with its sequence number where it has a readable one. */
function malformed(parsed: ParsedMessage & { ok: false }): Refusal {
  return { ...(parsed.seq === null ? {} : { seq: parsed.seq }), reason: "malformed", message: parsed.why };
}

/**
 * The first bytes of a message as text, or undefined where they are not UTF-8. Where they are only the first bytes
 * (`cut`), a character the cut split (a UTF-8 lead byte at the end with fewer continuation bytes than it
 * announces) is left out, not taken for bytes that are not UTF-8.
 */
function quotedText(shown: Uint8Array, cut: boolean): string | undefined {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(cut ? shown.subarray(0, shown.length - splitCharacter(shown)) : shown);
  } catch {
    return undefined;
  }
}

/** How many bytes at the end of `bytes` are a UTF-8 character cut short (0 to 3). */
function splitCharacter(bytes: Uint8Array): number {
  for (let back = 1; back <= Math.min(3, bytes.length); back++) {
    const byte = bytes[bytes.length - back];
    if ((byte & 0xc0) === 0x80) continue;
    const length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return length > back ? back : 0;
  }
  return 0;
}

function changed(before: Float64Array, after: Float64Array, threshold: number): boolean {
  if (argmax(before) !== argmax(after)) return true;
  for (let k = 0; k < after.length; k++) if (Math.abs(after[k] - before[k]) > threshold) return true;
  return false;
}

function argmax(values: Float64Array): number {
  let best = 0;
  for (let k = 1; k < values.length; k++) if (values[k] > values[best]) best = k;
  return best;
}
