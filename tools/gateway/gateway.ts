/**
 * The sensor gateway (docs/gateway.md): readings from an MQTT broker, one Phased LSTM stream per device on one
 * shared engine, predictions back to the broker, state that survives restarts.
 *
 * Exactly-once in state, the short version (docs/gateway.md, "No loss, no duplication"): a message is applied,
 * written to the shard's WAL, and only then acknowledged (PUBACK) to the broker, so an acknowledged message is
 * always on disk; snapshots bound the WAL; every reading carries its device's sequence number, and the snapshot
 * and the WAL carry the last one applied, so a message the broker delivers again after a crash is recognised and
 * not applied twice.
 */
import { connect, type IPublishPacket, type MqttClient } from "mqtt";
import type { Engine, TimePolicy } from "../../host/engine.js";
import { PhasorError } from "../../host/errors.js";
import { healthTopic, outputTopic, ownedShards, parseInputTopic, shardOf, shardSubscription } from "../../host/gateway-topics.js";
import { SENSOR_REJECTIONS, SensorStream, type SensorLayout } from "../../host/sensors.js";
import {
  BadStateError,
  ShardLog,
  encodeSnapshot,
  loadShard,
  lockShard,
  quarantineShard,
  shardDirectory,
  type DeviceRecord,
  type Fingerprint,
  type ShardSnapshot,
  type WalSegment,
} from "./state.js";
import { join } from "node:path";
import { writeFileAtomically } from "../io.js";

export type PublishMode = "every" | "change" | "interval";

export interface GatewayConfig {
  engine: Engine;
  layout: SensorLayout;
  /** model, engine and sensors hashes: the state of another configuration is never loaded */
  fingerprint: Omit<Fingerprint, "shard" | "shards">;
  broker: string;
  prefix: string;
  shards: number;
  instance: number;
  instances: number;
  clientId: string;
  stateDir: string;
  publish: PublishMode;
  /** publish mode "change": publish when the argmax changes or some output moves by more than this */
  changeThreshold: number;
  publishIntervalMs: number;
  snapshotIntervalMs: number;
  healthIntervalMs: number;
  timePolicy: TimePolicy;
  /** what to do with missing, corrupt or incompatible state: refuse to start, or quarantine it and start afresh */
  onBadState: "fail" | "reset";
  maxDevicesPerShard: number;
  outputQos: 0 | 1;
  walSync: boolean;
  /** one JSON record per call: ready, health, state problems, connection changes, stopped */
  log(record: Record<string, unknown>): void;
}

/** Refusals that belong to a device (its topic named one), kept in its snapshot. */
const DEVICE_REJECTIONS = ["malformed", ...SENSOR_REJECTIONS] as const;
/** Refusals of messages that reach no device, kept in the shard's snapshot. */
const SHARD_REJECTIONS = ["badTopic", "wrongShard", "tooManyDevices"] as const;
export const REJECTIONS = [...DEVICE_REJECTIONS, ...SHARD_REJECTIONS] as const;
export type Rejection = (typeof REJECTIONS)[number];

interface Device {
  id: string;
  sensors: SensorStream;
  /** the highest sequence number seen, -1 before the first */
  lastSeq: number;
  malformed: number;
  /** messages delivered again (sequence number already seen): acknowledged and dropped */
  duplicates: number;
  /** sequence numbers skipped: messages lost before they reached the broker */
  seqGaps: number;
  published: Float64Array | null;
  /** the latest prediction, and whether it was published yet (publish mode "interval") */
  latest: { seq: number; t: number; ts: number | undefined } | null;
  fresh: boolean;
  /** publish-to-processing delay of the last reading that carried "ts", ms */
  lagMs: number;
}

interface Shard {
  index: number;
  log: ShardLog;
  /** the last WAL entry number */
  e: number;
  /** the cut of the newest snapshot on disk */
  cutOnDisk: number;
  devices: Map<string, Device>;
  counters: Record<(typeof SHARD_REJECTIONS)[number] | "stateResets", number>;
  release: () => void;
}

export interface Health {
  event: "health" | "stopped";
  instance: number;
  status: "starting" | "running" | "stopping" | "stopped";
  connected: boolean;
  shards: number[];
  devices: number;
  /** messages received from the broker by this process (redeliveries included) */
  received: number;
  /** readings applied to a stream, over the devices' whole history (accepted + clamped) */
  applied: number;
  clamped: number;
  duplicates: number;
  seqGaps: number;
  rejected: Record<Rejection, number>;
  rejectedTotal: number;
  /** predictions published by this process */
  outputs: number;
  /** WAL entries replayed on start */
  replayed: number;
  /** messages on a shard this gateway does not own (a subscription left in the session by another configuration) */
  notOwned: number;
  lag: { devices: number; p50Ms: number | null; p99Ms: number | null; maxMs: number | null; worst: { device: string; ms: number }[] };
  wal: { segments: number; entries: number };
  snapshots: { rounds: number; failures: number; lastMs: number | null };
  stateResets: number;
  uptimeS: number;
}

export class Gateway {
  private readonly shards = new Map<number, Shard>();
  private readonly client: MqttClient;
  private readonly started = Date.now();
  private status: Health["status"] = "starting";
  private connected = false;
  /** new messages are left unacknowledged (the broker delivers them to the next session) */
  private closing = false;
  private received = 0;
  private outputs = 0;
  private replayed = 0;
  private notOwned = 0;
  private rounds = 0;
  private roundFailures = 0;
  private lastRoundMs: number | null = null;
  private round: Promise<void> | null = null;
  private timers: ReturnType<typeof setInterval>[] = [];
  private stopped: Promise<Health> | null = null;
  private finish: (result: Health | Error) => void = () => undefined;
  private readonly labelled: boolean;

  private constructor(private readonly config: GatewayConfig) {
    this.labelled = config.engine.model.readout.labels !== undefined || config.engine.model.readout.mode === "last";
    this.client = connect(config.broker, {
      manualConnect: true,
      clientId: config.clientId,
      protocolVersion: 5,
      // a persistent session: the broker keeps the subscriptions and queues QoS 1 messages while we are away
      clean: false,
      properties: { sessionExpiryInterval: 0xffffffff },
      reconnectPeriod: 500,
      connectTimeout: 5000,
      will: {
        topic: healthTopic(config.prefix, config.instance),
        payload: Buffer.from(JSON.stringify({ instance: config.instance, status: "offline" })),
        qos: 1,
        retain: true,
      },
    });
    this.client.handleMessage = (packet: IPublishPacket, callback: (error?: Error) => void) => {
      if (this.closing) return;
      try {
        this.received++;
        this.handle(packet.topic, typeof packet.payload === "string" ? Buffer.from(packet.payload) : packet.payload);
      } catch (err) {
        this.fail(err);
        return;
      }
      // the PUBACK goes out only now, after the message is in the WAL
      callback();
    };
    this.client.on("connect", (connack) => {
      this.connected = true;
      config.log({ event: "connected", broker: config.broker, sessionPresent: connack.sessionPresent });
    });
    this.client.on("close", () => {
      if (this.connected) config.log({ event: "disconnected", broker: config.broker });
      this.connected = false;
    });
    this.client.on("error", (err) => config.log({ event: "mqtt-error", message: err.message }));
  }

  /**
   * Takes the owned shards' locks, loads and checks their state, replays their WALs and writes a fresh snapshot;
   * does not connect yet (run() does). Bad state is a BadStateError listing every problem (policy "fail") or
   * is moved to quarantine and reported (policy "reset").
   */
  static async open(config: GatewayConfig): Promise<Gateway> {
    const gateway = new Gateway(config);
    try {
      await gateway.load();
    } catch (err) {
      // the client never connected (manualConnect): there is nothing to close
      for (const shard of gateway.shards.values()) shard.release();
      throw err;
    }
    return gateway;
  }

  private async load(): Promise<void> {
    const { config } = this;
    const problems: BadStateError[] = [];
    for (const index of ownedShards(config.instance, config.instances, config.shards)) {
      const release = lockShard(config.stateDir, index);
      const fingerprint: Fingerprint = { ...config.fingerprint, shards: config.shards, shard: index };
      const shard: Shard = {
        index,
        log: new ShardLog(shardDirectory(config.stateDir, index), config.walSync),
        e: 0,
        cutOnDisk: 0,
        devices: new Map(),
        counters: { badTopic: 0, wrongShard: 0, tooManyDevices: 0, stateResets: 0 },
        release,
      };
      this.shards.set(index, shard);
      let loaded;
      try {
        loaded = await loadShard(config.stateDir, fingerprint);
        this.restore(shard, loaded.snapshot);
      } catch (err) {
        if (!(err instanceof BadStateError)) throw err;
        config.log({ event: "bad-state", shard: index, problem: err.problem, message: err.message, policy: config.onBadState });
        if (config.onBadState === "fail") {
          problems.push(err);
          continue;
        }
        const movedTo = quarantineShard(config.stateDir, index);
        config.log({ event: "state-reset", shard: index, quarantined: movedTo });
        for (const device of shard.devices.values()) device.sensors.stream.dispose();
        shard.devices.clear();
        loaded = await loadShard(config.stateDir, fingerprint);
        this.restore(shard, loaded.snapshot);
        shard.counters.stateResets = 1;
      }
      if (loaded.tornTail) config.log({ event: "wal-torn-tail", shard: index, message: "the last WAL line was cut short by a crash and was dropped (it was never acknowledged)" });
      const cut = shard.e;
      for (const { segment, entries } of loaded.segments) {
        shard.log.closed.push(segment);
        for (const entry of entries) {
          if (entry.e <= cut) {
            // in the snapshot already; its prediction may not have reached the broker
            if (entry.out) this.publishOutput(entry.out, segment);
            continue;
          }
          this.handle(entry.topic, Buffer.from(entry.payload), { e: entry.e, segment });
          this.replayed++;
        }
      }
    }
    if (problems.length > 0) {
      throw new PhasorError(
        "runtime",
        `the gateway state cannot be loaded (use --on-bad-state reset to quarantine it and start those shards afresh):\n  ${problems.map((p) => p.message).join("\n  ")}`,
      );
    }
    await this.snapshotRound(true);
  }

  private restore(shard: Shard, snapshot: ShardSnapshot): void {
    shard.e = snapshot.cut;
    shard.cutOnDisk = snapshot.cut;
    for (const key of Object.keys(shard.counters) as (keyof Shard["counters"])[]) shard.counters[key] = snapshot.counters[key] ?? 0;
    for (const record of snapshot.devices) {
      const device = this.newDevice(record.id);
      try {
        device.sensors.stream.restore(record.stream);
        device.sensors.input.restore(record.input);
      } catch (err) {
        throw new BadStateError(shard.index, "corrupt", `device ${record.id}: ${(err as Error).message}`);
      }
      device.lastSeq = record.lastSeq;
      for (const key of Object.keys(device.sensors.counters) as (keyof SensorStream["counters"])[]) device.sensors.counters[key] = record.counters[key] ?? 0;
      device.malformed = record.counters.malformed ?? 0;
      device.duplicates = record.counters.duplicates ?? 0;
      device.seqGaps = record.counters.seqGaps ?? 0;
      device.published = record.published ? Float64Array.from(record.published) : null;
      shard.devices.set(record.id, device);
    }
  }

  private newDevice(id: string): Device {
    const stream = this.config.engine.createStream();
    return {
      id,
      sensors: new SensorStream(stream, this.config.layout, this.config.timePolicy),
      lastSeq: -1,
      malformed: 0,
      duplicates: 0,
      seqGaps: 0,
      published: null,
      latest: null,
      fresh: false,
      lagMs: NaN,
    };
  }

  /** Connects, subscribes to the owned shards, and resolves with the final health once stop() has run. */
  async run(): Promise<Health> {
    const { config } = this;
    this.stopped ??= new Promise<Health>((resolve, reject) => {
      this.finish = (result) => (result instanceof Error ? reject(result) : resolve(result));
    });
    this.client.connect();
    const connected = new Promise<void>((resolve) => this.client.once("connect", () => resolve()));
    await Promise.race([connected, this.stopped]);
    if (this.closing) return this.stopped;
    const subscriptions = [...this.shards.keys()].map((s) => ({ topic: shardSubscription(config.prefix, s), qos: 1 as const }));
    await this.client.subscribeAsync(Object.fromEntries(subscriptions.map((s) => [s.topic, { qos: s.qos }])));
    this.status = "running";
    this.timers.push(setInterval(() => void this.snapshotRound(false), config.snapshotIntervalMs));
    this.timers.push(setInterval(() => this.reportHealth(), config.healthIntervalMs));
    if (config.publish === "interval") this.timers.push(setInterval(() => this.publishFresh(), config.publishIntervalMs));
    config.log({ event: "ready", instance: config.instance, shards: [...this.shards.keys()], clientId: config.clientId, subscriptions: subscriptions.map((s) => s.topic) });
    this.reportHealth();
    return this.stopped;
  }

  /**
   * Graceful stop: new messages stay unacknowledged (the broker keeps them for the next session), a last
   * snapshot covers everything applied, the connection closes (the will marks the gateway offline), locks go.
   */
  async stop(): Promise<Health> {
    if (this.closing) return this.stopped ?? this.health("stopped");
    this.stopped ??= new Promise<Health>((resolve, reject) => {
      this.finish = (result) => (result instanceof Error ? reject(result) : resolve(result));
    });
    this.status = "stopping";
    this.closing = true;
    for (const timer of this.timers) clearInterval(timer);
    await this.snapshotRound(true);
    await new Promise<void>((resolve) => this.client.end(true, {}, () => resolve()));
    for (const shard of this.shards.values()) {
      shard.log.close();
      shard.log.cleanup(shard.cutOnDisk);
      shard.release();
    }
    this.status = "stopped";
    const health = this.health("stopped");
    this.finish(health);
    return health;
  }

  /** A failure that leaves the state unsafe to snapshot (the WAL cannot be written): stop without acknowledging more. */
  private fail(err: unknown): void {
    if (this.closing) return;
    this.closing = true;
    for (const timer of this.timers) clearInterval(timer);
    this.config.log({ event: "fatal", message: (err as Error).message });
    this.client.end(true);
    for (const shard of this.shards.values()) shard.release();
    this.finish(err instanceof PhasorError ? err : new PhasorError("runtime", `gateway stopped: ${(err as Error).message}`));
  }

  /**
   * One message, live (entry number next in the shard's WAL, written here) or replayed from the WAL on start
   * (`replay`). Deterministic given the state, so that a replay ends in the state the live run had.
   */
  private handle(topic: string, payload: Buffer, replay?: { e: number; segment: WalSegment }): void {
    const parsed = parseInputTopic(this.config.prefix, topic);
    const shard = parsed && this.shards.get(parsed.shard);
    if (!parsed || !shard) {
      this.notOwned++;
      return;
    }
    const e = replay ? replay.e : shard.e + 1;
    shard.e = e;
    let out: { topic: string; payload: string } | undefined;
    if ("problem" in parsed) shard.counters.badTopic++;
    else if (shardOf(parsed.device, this.config.shards) !== shard.index) shard.counters.wrongShard++;
    else {
      let device = shard.devices.get(parsed.device);
      if (device === undefined && shard.devices.size < this.config.maxDevicesPerShard) {
        device = this.newDevice(parsed.device);
        shard.devices.set(parsed.device, device);
      }
      if (device === undefined) shard.counters.tooManyDevices++;
      else out = this.reading(shard, device, parsed.sensor, payload, replay === undefined);
    }
    const segment = replay ? replay.segment : shard.log.append({ e, topic, payload, out });
    if (out) this.publishOutput(out, segment);
  }

  /** A reading for a device: sequence check, payload check, encoding, the stream; the prediction to publish, if any. */
  private reading(shard: Shard, device: Device, sensor: string, payload: Buffer, live: boolean): { topic: string; payload: string } | undefined {
    let message: unknown;
    try {
      message = JSON.parse(payload.toString("utf8"));
    } catch {
      device.malformed++;
      return undefined;
    }
    const m = message as { seq?: unknown; t?: unknown; v?: unknown; ts?: unknown };
    if (typeof message !== "object" || message === null || Array.isArray(message) || !Number.isSafeInteger(m.seq) || (m.seq as number) < 0) {
      device.malformed++;
      return undefined;
    }
    const seq = m.seq as number;
    if (seq <= device.lastSeq) {
      device.duplicates++;
      return undefined;
    }
    if (device.lastSeq >= 0) device.seqGaps += seq - device.lastSeq - 1;
    // from here on the message has used its sequence number, whatever becomes of it
    device.lastSeq = seq;
    const t = m.t === null ? NaN : m.t;
    const values = typeof m.v === "number" || m.v === null ? [m.v] : m.v;
    if (typeof t !== "number" || !Array.isArray(values) || !values.every((v) => typeof v === "number" || v === null) || (m.ts !== undefined && typeof m.ts !== "number")) {
      device.malformed++;
      return undefined;
    }
    const outcome = device.sensors.push(sensor, t, values.map((v) => (v === null ? NaN : (v as number))));
    if (outcome !== "accepted" && outcome !== "clamped") return undefined;
    const ts = m.ts as number | undefined;
    if (live && ts !== undefined) device.lagMs = Date.now() - ts;
    return this.prediction(shard, device, seq, device.sensors.input.t, ts);
  }

  private prediction(shard: Shard, device: Device, seq: number, t: number, ts: number | undefined): { topic: string; payload: string } | undefined {
    const { publish, changeThreshold } = this.config;
    if (publish === "interval") {
      device.latest = { seq, t, ts };
      device.fresh = true;
      return undefined;
    }
    const y = device.sensors.stream.output();
    if (publish === "change" && device.published !== null && !changed(device.published, y, changeThreshold)) return undefined;
    if (publish === "change") device.published = y;
    return { topic: outputTopic(this.config.prefix, shard.index, device.id), payload: this.predictionPayload(seq, t, y, ts) };
  }

  private predictionPayload(seq: number, t: number, y: Float64Array, ts: number | undefined): string {
    const body: Record<string, unknown> = { seq, t, y: Array.from(y) };
    if (this.labelled) {
      const label = argmax(y);
      body.label = label;
      const name = this.config.engine.model.readout.labels?.[label];
      if (name !== undefined) body.name = name;
    }
    if (ts !== undefined) body.ts = ts;
    return JSON.stringify(body);
  }

  private publishOutput(out: { topic: string; payload: string }, segment: WalSegment | null): void {
    const qos = this.config.outputQos;
    if (qos === 1 && segment) segment.pending++;
    this.outputs++;
    this.client.publish(out.topic, out.payload, { qos }, (err) => {
      // on an error the segment stays, and the prediction is published again by the next start
      if (!err && qos === 1 && segment) segment.pending--;
    });
  }

  /** publish mode "interval": the latest prediction of every device that had a reading since the last tick */
  private publishFresh(): void {
    for (const shard of this.shards.values()) {
      for (const device of shard.devices.values()) {
        if (!device.fresh || device.latest === null) continue;
        device.fresh = false;
        const { seq, t, ts } = device.latest;
        const payload = this.predictionPayload(seq, t, device.sensors.stream.output(), ts);
        this.publishOutput({ topic: outputTopic(this.config.prefix, shard.index, device.id), payload }, null);
      }
    }
  }

  /**
   * Snapshots every shard that changed since its last snapshot (all of them with `all`): the state is captured
   * synchronously at the current WAL entry (the cut), the WAL moves to a new segment, the file is written
   * atomically, and then the segments the snapshot covers are deleted once their predictions are acknowledged.
   */
  private snapshotRound(all: boolean): Promise<void> {
    const run = async (): Promise<void> => {
      const began = Date.now();
      const writes: Promise<void>[] = [];
      for (const shard of this.shards.values()) {
        if (!all && shard.e === shard.cutOnDisk) continue;
        const path = join(shardDirectory(this.config.stateDir, shard.index), "snapshot.bin");
        const write = async () => {
          const snapshot = this.capture(shard);
          shard.log.rotate();
          await writeFileAtomically(path, encodeSnapshot(snapshot));
          shard.cutOnDisk = snapshot.cut;
        };
        writes.push(write());
      }
      const results = await Promise.allSettled(writes);
      for (const shard of this.shards.values()) shard.log.cleanup(shard.cutOnDisk);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
      this.rounds++;
      this.lastRoundMs = Date.now() - began;
      if (failed) {
        this.roundFailures++;
        this.config.log({ event: "snapshot-failed", message: (failed.reason as Error).message });
      }
    };
    // rounds never overlap: a round asked for while one runs follows it
    const next = (this.round ?? Promise.resolve()).then(run);
    this.round = next.finally(() => {
      if (this.round === next) this.round = null;
    });
    return next;
  }

  private capture(shard: Shard): ShardSnapshot {
    const devices: DeviceRecord[] = [];
    for (const device of shard.devices.values()) {
      devices.push({
        id: device.id,
        lastSeq: device.lastSeq,
        input: device.sensors.input.state(),
        counters: { ...device.sensors.counters, malformed: device.malformed, duplicates: device.duplicates, seqGaps: device.seqGaps },
        published: device.published ? Array.from(device.published) : null,
        stream: device.sensors.stream.snapshot(),
      });
    }
    return {
      fingerprint: { ...this.config.fingerprint, shards: this.config.shards, shard: shard.index },
      cut: shard.e,
      counters: { ...shard.counters },
      devices,
    };
  }

  private reportHealth(): void {
    const health = this.health("health");
    this.config.log(health as unknown as Record<string, unknown>);
    if (this.connected) this.client.publish(healthTopic(this.config.prefix, this.config.instance), JSON.stringify(health), { qos: 0, retain: true });
  }

  /** Counters summed over every device and shard, and the devices' lag. */
  health(event: Health["event"] = "health"): Health {
    const rejected = Object.fromEntries(REJECTIONS.map((r) => [r, 0])) as Record<Rejection, number>;
    let devices = 0;
    let applied = 0;
    let clamped = 0;
    let duplicates = 0;
    let seqGaps = 0;
    let stateResets = 0;
    let segments = 0;
    let entries = 0;
    const lags: { device: string; ms: number }[] = [];
    for (const shard of this.shards.values()) {
      for (const r of SHARD_REJECTIONS) rejected[r] += shard.counters[r];
      stateResets += shard.counters.stateResets;
      const size = shard.log.size;
      segments += size.segments;
      entries += size.entries;
      for (const device of shard.devices.values()) {
        devices++;
        const c = device.sensors.counters;
        applied += c.accepted + c.clamped;
        clamped += c.clamped;
        for (const r of SENSOR_REJECTIONS) rejected[r] += c[r];
        rejected.malformed += device.malformed;
        duplicates += device.duplicates;
        seqGaps += device.seqGaps;
        if (Number.isFinite(device.lagMs)) lags.push({ device: device.id, ms: device.lagMs });
      }
    }
    lags.sort((a, b) => a.ms - b.ms);
    const at = (q: number) => (lags.length === 0 ? null : lags[Math.min(lags.length - 1, Math.floor(q * lags.length))].ms);
    return {
      event,
      instance: this.config.instance,
      status: this.status,
      connected: this.connected,
      shards: [...this.shards.keys()],
      devices,
      received: this.received,
      applied,
      clamped,
      duplicates,
      seqGaps,
      rejected,
      rejectedTotal: Object.values(rejected).reduce((a, b) => a + b, 0),
      outputs: this.outputs,
      replayed: this.replayed,
      notOwned: this.notOwned,
      lag: { devices: lags.length, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: lags.length ? lags[lags.length - 1].ms : null, worst: lags.slice(-5).reverse() },
      wal: { segments, entries },
      snapshots: { rounds: this.rounds, failures: this.roundFailures, lastMs: this.lastRoundMs },
      stateResets,
      uptimeS: Math.round((Date.now() - this.started) / 1000),
    };
  }
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
