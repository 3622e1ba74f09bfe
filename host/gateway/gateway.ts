/**
 * The sensor gateway (docs/gateway.md): readings from an MQTT broker, one Phased LSTM stream per device on one
 * shared engine, predictions back to the broker, state that survives restarts.
 *
 * Exactly-once in state, the short version (docs/gateway.md, "No loss, no duplication"): a message is applied,
 * written to the shard's WAL, and only then acknowledged (PUBACK) to the broker, so an acknowledged message is
 * always on disk; snapshots bound the WAL; every reading carries its device's sequence number, and the snapshot
 * and the WAL carry the last one applied, so a message the broker delivers again after a crash is recognised and
 * not applied twice.
 *
 * Node-only (MQTT client, files), like state.ts and shard.ts; sensors.ts, topics.ts and payload.ts are browser-safe.
 */
import { connect, type IPublishPacket, type MqttClient } from "mqtt";
import type { Engine, LearningRate, TimePolicy } from "../engine/engine.js";
import { PhasorError } from "../errors.js";
import { claimTopic, healthTopic, ownedShards, parseInputTopic, shardSubscription } from "./topics.js";
import { SENSOR_REJECTIONS, type SensorLayout } from "./sensors.js";
import { REJECTIONS, Shard, type Out, type PublishMode, type Refusal, type Rejection } from "./shard.js";
import {
  BadStateError,
  ShardLog,
  encodeSnapshot,
  loadShard,
  lockInode,
  lockShard,
  quarantineShard,
  remakeShardFolder,
  shardDamage,
  shardDirectory,
  snapshotIdentity,
  type Fingerprint,
  type ShardFiles,
  type WalSegment,
} from "./state.js";
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { join } from "node:path";
import { writeFileAtomically } from "../files.js";

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
  /** readings one message may carry */
  maxReadings: number;
  /** bytes one message may hold */
  maxPayloadBytes: number;
  /** the step the devices' readouts learn from labelled readings with; null: labels are counted, not learned from */
  learning: LearningRate | null;
  outputQos: 0 | 1;
  walSync: boolean;
  /** one JSON record per call: ready, health, state problems, refusals (rate-limited), connection changes, stopped */
  log(record: Record<string, unknown>): void;
}

/** A shard this gateway owns: its devices, its WAL, its lock. */
interface OwnedShard {
  index: number;
  state: Shard;
  log: ShardLog;
  /** the last WAL entry number */
  e: number;
  /** the cut of the newest snapshot on disk */
  cutOnDisk: number;
  /** the inodes of the folder, snapshot and lock the gateway made, to notice damage while it runs */
  files: ShardFiles;
  release: () => void;
}

/** Between attempts to connect to the broker. */
const RECONNECT_MS = 500;

/** At most this many refusal lines per window; the rest are counted in a "refusals-suppressed" line. */
const REFUSAL_LINES = 20;
const REFUSAL_WINDOW_MS = 10_000;

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
  /** learning steps the devices' readouts took from labelled readings (over their whole history), and labels of
   * readings applied where nothing learns (no --learn-rate) */
  learned: number;
  labelsIgnored: number;
  /** reset messages that started a device's stream again (over the devices' whole history) */
  resets: number;
  /** new runs of devices (`boot`) that started their sequence numbers again (over the devices' whole history) */
  restarts: number;
  /**
   * input values the fixed engine saturated to the model's input format (Engine.inputFrac: readings beyond the range
   * the model was calibrated on run as its edge), summed over the devices since each one's stream last started (a
   * reset starts it again): how many, on how many devices, and the five devices with the most
   */
  inputsSaturated: { values: number; devices: number; worst: { device: string; values: number }[] };
  /** predictions published by this process */
  outputs: number;
  /** predictions and dead letters the broker refused (an ACL, a size limit) or that could not be sent */
  publishFailures: number;
  /** WAL entries replayed on start */
  replayed: number;
  /** of those, entries whose replay published other predictions or dead letters than their live run (replay-differs) */
  replayDiffered: number;
  /** messages on a shard this gateway does not own (a subscription left in the session by another configuration) */
  notOwned: number;
  lag: { devices: number; p50Ms: number | null; p99Ms: number | null; maxMs: number | null; worst: { device: string; ms: number }[] };
  wal: { segments: number; entries: number };
  snapshots: { rounds: number; failures: number; lastMs: number | null };
  stateResets: number;
  /** shards whose files were found damaged while the gateway ran and were written whole again (state-repaired) */
  stateRepairs: number;
  uptimeS: number;
}

export class Gateway {
  private readonly shards = new Map<number, OwnedShard>();
  private readonly client: MqttClient;
  private readonly started = Date.now();
  private status: Health["status"] = "starting";
  private connected = false;
  /** new messages are left unacknowledged (the broker delivers them to the next session) */
  private closing = false;
  /** the WAL could not be written: the state in memory is no longer safe to snapshot (fail()) */
  private broken = false;
  private received = 0;
  private outputs = 0;
  private replayed = 0;
  private replayDiffered = 0;
  private notOwned = 0;
  /** predictions and dead letters the broker refused or that could not be sent, and the reasons said so far */
  private publishFailures = 0;
  private readonly publishReasons = new Set<string>();
  private rounds = 0;
  private roundFailures = 0;
  private stateRepairs = 0;
  private lastRoundMs: number | null = null;
  /** the last snapshot round asked for (the next one follows it), and how many asked for have not ended */
  private round: Promise<void> = Promise.resolve();
  private roundsPending = 0;
  private timers: ReturnType<typeof setInterval>[] = [];
  private stopped: Promise<Health> | null = null;
  private finish: (result: Health | Error) => void = () => undefined;
  private refusalWindow = { start: 0, logged: 0, suppressed: 0 };
  /** this start's claim of the client id, and the connection it is made and watched on (claimSeen) */
  private readonly claim: { clientId: string; started: number; nonce: string };
  /** this start's claim has come back from the broker: any other claim after it is of a later start */
  private claimed = false;
  private readonly claimClient: MqttClient;

  private constructor(private readonly config: GatewayConfig) {
    this.client = connect(config.broker, {
      manualConnect: true,
      clientId: config.clientId,
      protocolVersion: 5,
      // a persistent session: the broker keeps the subscriptions and queues QoS 1 messages while we are away
      clean: false,
      properties: { sessionExpiryInterval: 0xffffffff },
      reconnectPeriod: RECONNECT_MS,
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
      let lost: OwnedShard | undefined;
      try {
        this.received++;
        lost = this.handle(packet.topic, typeof packet.payload === "string" ? Buffer.from(packet.payload) : packet.payload);
      } catch (err) {
        this.fail(err);
        return;
      }
      // the PUBACK goes out only now, after the message is in the WAL; a WAL entry on a removed file waits for the
      // shard's snapshot written whole again (mqtt.js takes the next message only after the PUBACK)
      if (lost === undefined) callback();
      else {
        this.repairNow(lost).then(
          () => this.closing || callback(),
          (err) => this.fail(err),
        );
      }
    };
    this.client.on("connect", (connack) => {
      this.connected = true;
      config.log({ event: "connected", broker: config.broker, sessionPresent: connack.sessionPresent });
    });
    this.client.on("close", () => {
      if (this.connected) config.log({ event: "disconnected", broker: config.broker });
      this.connected = false;
    });
    this.logErrors(this.client, "session");
    // the claim: a connection of its own (a gateway's session cannot tell it was taken over: mosquitto just closes
    // the old connection), on which every start of a gateway announces that it holds the client id
    this.claim = { clientId: config.clientId, started: Date.now(), nonce: randomBytes(8).toString("hex") };
    this.claimClient = connect(config.broker, { manualConnect: true, clientId: `phasor-claim-${this.claim.nonce}`, protocolVersion: 5, clean: true, reconnectPeriod: RECONNECT_MS, connectTimeout: 5000 });
    this.logErrors(this.claimClient, "claim");
    this.claimClient.on("message", (_topic, payload) => this.claimSeen(payload));
  }

  /**
   * A connection's errors on the log, each once until the connection is made again: a broker that is down would
   * otherwise give the same line at every attempt, twice a second for as long as it is down.
   */
  private logErrors(client: MqttClient, connection: "session" | "claim"): void {
    let last: string | null = null;
    client.on("connect", () => (last = null));
    client.on("error", (err) => {
      if (err.message === last) return;
      last = err.message;
      this.config.log({ event: "mqtt-error", connection, message: err.message, retryMs: RECONNECT_MS });
    });
  }

  /**
   * A claim of this gateway's client id (its own, or another gateway's). Two gateways with one client id take the
   * session from each other twice a second, each applying part of every device's readings to its own copy of the
   * state; so the older gives way, and says why. Older by the broker's order, not by clocks (a device without a
   * clock of its own may start in 1970): the broker hands a subscriber the claims of one topic in the order it took
   * them, the retained one (an earlier start) first, so a claim that comes after this gateway's own is a later
   * start, also where it comes as the retained one when the claim's connection is made again.
   */
  private claimSeen(payload: Buffer): void {
    let other: { nonce?: unknown; host?: unknown; pid?: unknown };
    try {
      other = JSON.parse(payload.toString());
    } catch {
      return;
    }
    if (other.nonce === this.claim.nonce) {
      this.claimed = true;
      return;
    }
    if (!this.claimed || this.closing) return;
    const message =
      `another gateway (pid ${String(other.pid)} on ${String(other.host)}) started with the client id "${this.config.clientId}" ` +
      "(--client-id, or the --prefix, --instance, --instances and --shards that make it): two would take the broker " +
      "session from each other and split the devices' readings between them, so this one, the older, stops";
    this.config.log({ event: "fatal", message });
    void this.stop(new PhasorError("runtime", message));
  }

  /** Subscribes to the claims of this gateway's client id, then claims it (retained, so later starts see it). */
  private async claimClientId(): Promise<void> {
    const topic = claimTopic(this.config.prefix, this.config.clientId);
    this.claimClient.connect();
    await new Promise<void>((resolve) => this.claimClient.once("connect", () => resolve()));
    const body = { ...this.claim, host: hostname(), pid: process.pid };
    try {
      await this.claimClient.subscribeAsync(topic, { qos: 1 });
      await this.claimClient.publishAsync(topic, JSON.stringify(body), { qos: 1, retain: true });
    } catch (err) {
      throw new PhasorError("runtime", `${topic}: cannot claim the client id "${this.config.clientId}": ${(err as Error).message} (the gateway publishes and subscribes there: docs/gateway.md)`);
    }
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
      gateway.releaseAll();
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
      const shard: OwnedShard = {
        index,
        state: this.newShardState(index),
        log: new ShardLog(shardDirectory(config.stateDir, index), config.walSync),
        e: 0,
        cutOnDisk: 0,
        files: { lock: lockInode(config.stateDir, index) },
        release,
      };
      this.shards.set(index, shard);
      let loaded;
      try {
        loaded = await loadShard(config.stateDir, fingerprint);
        shard.state.restore(loaded.snapshot);
      } catch (err) {
        if (!(err instanceof BadStateError)) throw err;
        config.log({ event: "bad-state", shard: index, problem: err.problem, message: err.message, policy: config.onBadState });
        if (config.onBadState === "fail") {
          problems.push(err);
          continue;
        }
        const movedTo = quarantineShard(config.stateDir, index);
        config.log({ event: "state-reset", shard: index, quarantined: movedTo });
        shard.state.clear();
        shard.state = this.newShardState(index);
        loaded = await loadShard(config.stateDir, fingerprint);
        shard.state.restore(loaded.snapshot);
        shard.state.counters.stateResets = 1;
      }
      shard.e = shard.cutOnDisk = loaded.snapshot.cut;
      if (loaded.tornTail) config.log({ event: "wal-torn-tail", shard: index, message: "the last WAL line was cut short by a crash and was dropped (it was never acknowledged)" });
      const cut = shard.e;
      for (const { segment, entries } of loaded.segments) {
        shard.log.closed.push(segment);
        for (const entry of entries) {
          if (entry.e <= cut) {
            // in the snapshot already; what it published may not have reached the broker
            for (const out of entry.outs ?? []) this.publishOutput(out, segment);
            continue;
          }
          this.handle(entry.topic, entry.payload, { e: entry.e, segment, failed: entry.failed === true, outs: entry.outs ?? [], size: entry.bytes ?? entry.payload.length });
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

  private newShardState(index: number): Shard {
    const { config } = this;
    return new Shard({
      engine: config.engine,
      layout: config.layout,
      prefix: config.prefix,
      shards: config.shards,
      index,
      timePolicy: config.timePolicy,
      publish: config.publish,
      changeThreshold: config.changeThreshold,
      maxDevices: config.maxDevicesPerShard,
      maxReadings: config.maxReadings,
      maxPayloadBytes: config.maxPayloadBytes,
      learning: config.learning,
      onRefusal: (record) => this.logRefusal(record),
      // once a device and process: a device whose readings saturate says so at each reading, which would flood the log
      onSaturated: ({ live, ...record }) => config.log({ event: "input-saturated", ...record, ...(live ? {} : { replayed: true }) }),
    });
  }

  /** A refusal on the log, at most REFUSAL_LINES per window; the count of the others follows the window. */
  private logRefusal(record: Refusal & { shard: number; device: string | null; live: boolean }): void {
    const now = Date.now();
    if (now - this.refusalWindow.start >= REFUSAL_WINDOW_MS) {
      this.flushRefusals();
      this.refusalWindow = { start: now, logged: 0, suppressed: 0 };
    }
    if (this.refusalWindow.logged >= REFUSAL_LINES) {
      this.refusalWindow.suppressed++;
      return;
    }
    this.refusalWindow.logged++;
    const { live, ...rest } = record;
    this.config.log({ event: "refused", ...rest, ...(live ? {} : { replayed: true }) });
  }

  private flushRefusals(): void {
    if (this.refusalWindow.suppressed === 0) return;
    this.config.log({ event: "refusals-suppressed", count: this.refusalWindow.suppressed, windowMs: REFUSAL_WINDOW_MS, message: `${this.refusalWindow.suppressed} more refusals were counted but not logged` });
    this.refusalWindow.suppressed = 0;
  }

  /** Connects, subscribes to the owned shards, and resolves with the final health once stop() has run. */
  async run(): Promise<Health> {
    const { config } = this;
    this.stopped ??= new Promise<Health>((resolve, reject) => {
      this.finish = (result) => (result instanceof Error ? reject(result) : resolve(result));
    });
    // claimed before the session is taken, so that an older gateway with this client id stops first
    try {
      await Promise.race([this.claimClientId(), this.stopped]);
    } catch (err) {
      this.fail(err);
    }
    if (this.closing) return this.stopped;
    this.client.connect();
    const connected = new Promise<void>((resolve) => this.client.once("connect", () => resolve()));
    await Promise.race([connected, this.stopped]);
    if (this.closing) return this.stopped;
    const subscriptions = [...this.shards.keys()].map((s) => ({ topic: shardSubscription(config.prefix, s), qos: 1 as const }));
    // retain handling 1 (MQTT 5, 3.8.3.1): the broker sends a topic's retained reading when the subscription is
    // made, not each time a start subscribes again on the same session, which would count it again every start
    await this.client.subscribeAsync(Object.fromEntries(subscriptions.map((s) => [s.topic, { qos: s.qos, rh: 1 }])));
    this.status = "running";
    // a tick while a round runs is skipped, not queued: rounds slower than the interval would queue without end
    this.timers.push(
      setInterval(() => {
        if (this.roundsPending === 0) void this.snapshotRound(false);
      }, config.snapshotIntervalMs),
    );
    this.timers.push(setInterval(() => this.reportHealth(), config.healthIntervalMs));
    if (config.publish === "interval") this.timers.push(setInterval(() => this.publishFresh(), config.publishIntervalMs));
    config.log({ event: "ready", instance: config.instance, shards: [...this.shards.keys()], clientId: config.clientId, subscriptions: subscriptions.map((s) => s.topic) });
    this.reportHealth();
    return this.stopped;
  }

  /**
   * Graceful stop: new messages stay unacknowledged (the broker keeps them for the next session), the connection
   * closes (the will marks the gateway offline), a last snapshot covers everything applied, locks go.
   * With `reason`, run() ends with it (a stop the gateway decided on, not one it was asked for).
   */
  async stop(reason?: PhasorError): Promise<Health> {
    if (this.closing) return this.stopped ?? this.health("stopped");
    this.stopped ??= new Promise<Health>((resolve, reject) => {
      this.finish = (result) => (result instanceof Error ? reject(result) : resolve(result));
    });
    this.status = "stopping";
    this.closing = true;
    for (const timer of this.timers) clearInterval(timer);
    // the connection first: it must not reconnect during the snapshot (a gateway another one displaced would take
    // the session back for a moment), and nothing it brings now would be acknowledged
    await Promise.all([this.client, this.claimClient].map(closeClient));
    await this.snapshotRound(true);
    let failure: unknown;
    for (const shard of this.shards.values()) {
      try {
        shard.log.close();
        shard.log.cleanup(shard.cutOnDisk);
      } catch (err) {
        failure ??= err;
      }
    }
    failure ??= this.releaseAll();
    this.status = "stopped";
    const health = this.health("stopped");
    // a file that could not be closed or released: said in one line, exit status 1, after the last snapshot
    this.finish(failure === undefined ? (reason ?? health) : runtimeError(failure));
    return health;
  }

  /** Releases every shard's lock; the first failure, if any, after trying them all. */
  private releaseAll(): unknown {
    let failure: unknown;
    for (const shard of this.shards.values()) {
      try {
        shard.release();
      } catch (err) {
        failure ??= err;
      }
    }
    return failure;
  }

  /** A failure that leaves the state unsafe to snapshot (the WAL cannot be written): stop without acknowledging more. */
  private fail(err: unknown): void {
    if (this.closing) return;
    this.closing = true;
    this.broken = true;
    for (const timer of this.timers) clearInterval(timer);
    this.config.log({ event: "fatal", message: (err as Error).message });
    void closeClient(this.client);
    void closeClient(this.claimClient);
    // the failure to report is this one, not a lock that could not be removed after it
    this.releaseAll();
    this.finish(runtimeError(err));
  }

  /**
   * One message, live (entry number next in the shard's WAL, written here) or replayed from the WAL on start
   * (`replay`). Deterministic given the state, so that a replay ends in the state the live run had; a message the
   * engine failed on is not run again but refused as its entry records (host/gateway/shard.ts).
   */
  private handle(topic: string, payload: Uint8Array, replay?: { e: number; segment: WalSegment; failed: boolean; outs: Out[]; size: number }): OwnedShard | undefined {
    const parsed = parseInputTopic(this.config.prefix, topic);
    const shard = parsed && this.shards.get(parsed.shard);
    if (!parsed || !shard) {
      this.notOwned++;
      return undefined;
    }
    const e = replay ? replay.e : shard.e + 1;
    shard.e = e;
    const size = replay ? replay.size : payload.length;
    let outs: Out[];
    let failed: boolean;
    if (replay?.failed) {
      shard.state.failed(parsed, payload, size);
      ({ outs, failed } = replay);
    } else {
      ({ outs, failed } = shard.state.message(parsed, topic, payload, replay === undefined, size));
      if (replay !== undefined) this.checkReplay(shard.index, e, replay.outs, outs);
    }
    let segment = replay?.segment;
    if (segment === undefined) {
      const kept = shard.state.walPayload(payload);
      segment = shard.log.append({ e, topic, payload: kept, ...(kept.length < size ? { bytes: size } : {}), outs, failed });
    }
    for (const out of outs) this.publishOutput(out, segment);
    return segment.lost ? shard : undefined;
  }

  /**
   * A replayed message gives what its live run gave (handle is deterministic given the state), unless the gateway
   * now works otherwise: another --learn-rate, or an upgrade whose rules refuse what an older version applied (a
   * field given twice, or misspelt). The replay's outputs stand and are published, but the difference is said, once an
   * entry: the live run's predictions and dead letters are in the WAL entry's `outs`.
   */
  private checkReplay(shard: number, e: number, recorded: Out[], replayed: Out[]): void {
    const same = recorded.length === replayed.length && recorded.every((out, k) => out.topic === replayed[k].topic && out.payload === replayed[k].payload);
    if (same) return;
    this.replayDiffered++;
    this.config.log({
      event: "replay-differs",
      shard,
      entry: e,
      recorded: recorded.map((out) => out.topic),
      replayed: replayed.map((out) => out.topic),
      message: "the WAL entry's replay published other predictions or dead letters than its live run: the gateway now works otherwise (another --learn-rate, or a version whose rules differ)",
    });
  }

  private publishOutput(out: Out, segment: WalSegment | null): void {
    const qos = this.config.outputQos;
    if (qos === 1 && segment) segment.pending++;
    this.outputs++;
    this.client.publish(out.topic, out.payload, { qos }, (err) => {
      if (err) this.publishFailed(out.topic, err);
      // the broker's answer is final, a refusal too (an MQTT 5 reason code: sending it again at the next start would
      // be refused again, and keep the segment for ever); a publish that got no answer (the connection went) keeps
      // its segment, and is published again by the next start
      const answered = !err || typeof (err as { code?: unknown }).code === "number";
      if (answered && qos === 1 && segment) segment.pending--;
    });
  }

  /** A prediction or dead letter the broker refused, or that could not be sent: counted, and said once per reason. */
  private publishFailed(topic: string, err: Error): void {
    this.publishFailures++;
    if (this.publishReasons.has(err.message)) return;
    this.publishReasons.add(err.message);
    this.config.log({ event: "publish-failed", topic, message: err.message });
  }

  /** publish mode "interval": the latest prediction of every device that had a reading since the last tick */
  private publishFresh(): void {
    for (const shard of this.shards.values()) for (const out of shard.state.fresh()) this.publishOutput(out, null);
  }

  /**
   * Snapshots every shard that changed since its last snapshot (all of them with `all`), one shard after the
   * other: a shard's state is captured at its current WAL entry (the cut), its WAL moves to a new segment and the
   * file is written atomically before the next shard is captured, so that the memory a round holds is one shard's
   * snapshot, not every shard's at once (every device's records and bytes, which grow with the devices). Messages
   * that come in between go to the WAL of their shard: after the cut of a shard already written, before that of
   * one still to come. Then the segments the snapshots cover are deleted once their predictions are acknowledged.
   */
  private snapshotRound(all: boolean): Promise<void> {
    const run = async (): Promise<void> => {
      const began = Date.now();
      const failures: unknown[] = [];
      for (const shard of this.shards.values()) {
        // a round that a WAL failure came in the middle of captures no more: the message that could not be logged
        // is in its shard's state, not acknowledged, and will be delivered again, so no snapshot may hold it
        if (this.broken) break;
        let damage: string[];
        try {
          damage = shardDamage(this.config.stateDir, shard.index, shard.files, shard.log);
        } catch (err) {
          failures.push(err);
          continue;
        }
        if (damage.length > 0) {
          await this.repair(shard, damage).catch((err) => failures.push(err));
          continue;
        }
        if (!all && shard.e === shard.cutOnDisk) continue;
        try {
          await this.snapshotShard(shard);
        } catch (err) {
          failures.push(err);
        }
      }
      for (const shard of this.shards.values()) {
        try {
          shard.log.cleanup(shard.cutOnDisk);
        } catch (err) {
          failures.push(err);
        }
      }
      this.rounds++;
      this.lastRoundMs = Date.now() - began;
      // the WAL keeps what a failed snapshot would have covered: the gateway goes on, and says so
      if (failures.length > 0) {
        this.roundFailures++;
        this.config.log({ event: "snapshot-failed", message: (failures[0] as Error).message });
      }
    };
    return this.inTurn(run);
  }

  /** Runs `step` after every round and repair asked for before it: two never write a shard's files at once. */
  private inTurn(step: () => Promise<void>): Promise<void> {
    this.roundsPending++;
    const next = this.round.then(step).finally(() => this.roundsPending--);
    // a round that failed all the same does not keep the later ones from running
    this.round = next.catch(() => undefined);
    return next;
  }

  /**
   * A message's WAL entry is on a removed file (or on none: the folder was gone): the shard's files are made whole
   * again, its snapshot at a cut that includes the message, before the message is acknowledged. Resolves once
   * they are.
   */
  private repairNow(shard: OwnedShard): Promise<void> {
    const e = shard.e;
    return this.inTurn(async () => {
      if (this.broken) throw new PhasorError("runtime", "the gateway stopped before the shard's files were made whole again");
      const damage = shardDamage(this.config.stateDir, shard.index, shard.files, shard.log);
      // a round that ran first found the damage and wrote a snapshot that holds the message
      if (damage.length === 0 && shard.cutOnDisk >= e) return;
      await this.repair(shard, damage.length > 0 ? damage : [`${shardDirectory(this.config.stateDir, shard.index)}: the WAL could not be written there`]);
    });
  }

  /**
   * Damage found in a shard's files while the gateway runs (shardDamage): the folder and the lock made again,
   * what is not the gateway's moved aside, and a snapshot of the shard as it is in memory written at a cut, so
   * that the disk holds every message acknowledged before the damage and after it. One `state-repaired` line.
   * A repair that fails stops the gateway with a `fatal` line: the WAL may be on a file no restart can read, so no
   * further message may be acknowledged.
   */
  private async repair(shard: OwnedShard, damage: string[]): Promise<void> {
    const { stateDir } = this.config;
    try {
      shard.release = lockShard(stateDir, shard.index);
      shard.files.lock = lockInode(stateDir, shard.index);
      const movedAside = remakeShardFolder(stateDir, shard.index, shard.log);
      await this.snapshotShard(shard);
      this.stateRepairs++;
      this.config.log({ event: "state-repaired", shard: shard.index, found: damage, cut: shard.cutOnDisk, ...(movedAside.length > 0 ? { movedAside } : {}) });
    } catch (err) {
      this.fail(new PhasorError("runtime", `shard ${shard.index}: its files were damaged while the gateway ran (${damage.join("; ")}) and cannot be written whole again: ${(err as Error).message}`));
      throw err;
    }
  }

  /**
   * One shard's snapshot: captured and its WAL rotated in one synchronous step, so that no message comes in
   * between. Only the encoded bytes are held while the write waits for the disk, not the captured records.
   */
  private async snapshotShard(shard: OwnedShard): Promise<void> {
    const cut = shard.e;
    const bytes = encodeSnapshot(shard.state.capture(cut, { ...this.config.fingerprint, shards: this.config.shards, shard: shard.index }));
    shard.log.rotate();
    await writeFileAtomically(join(shardDirectory(this.config.stateDir, shard.index), "snapshot.bin"), bytes);
    shard.cutOnDisk = cut;
    Object.assign(shard.files, snapshotIdentity(this.config.stateDir, shard.index, bytes));
  }

  private reportHealth(): void {
    this.flushRefusals();
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
    let learned = 0;
    let labelsIgnored = 0;
    let resets = 0;
    let restarts = 0;
    const saturating: { device: string; values: number }[] = [];
    let stateResets = 0;
    let segments = 0;
    let entries = 0;
    const lags: { device: string; ms: number }[] = [];
    for (const shard of this.shards.values()) {
      const { counters } = shard.state;
      for (const r of REJECTIONS) rejected[r] += counters[r];
      resets += counters.resets;
      stateResets += counters.stateResets;
      const size = shard.log.size;
      segments += size.segments;
      entries += size.entries;
      for (const device of shard.state.devices.values()) {
        devices++;
        const c = device.sensors.counters;
        applied += c.accepted + c.clamped;
        clamped += c.clamped;
        for (const r of SENSOR_REJECTIONS) rejected[r] += c[r];
        rejected.malformed += device.counts.malformed;
        rejected.badLabel += device.counts.badLabel;
        rejected.engineError += device.counts.engineError;
        learned += device.sensors.stream.learning?.steps ?? 0;
        labelsIgnored += device.counts.labelsIgnored;
        resets += device.counts.resets;
        restarts += device.counts.restarts;
        duplicates += device.counts.duplicates;
        seqGaps += device.counts.seqGaps;
        const saturated = device.sensors.stream.stats().inputsSaturated;
        if (saturated > 0) saturating.push({ device: device.id, values: saturated });
        if (Number.isFinite(device.lagMs)) lags.push({ device: device.id, ms: device.lagMs });
      }
    }
    lags.sort((a, b) => a.ms - b.ms);
    saturating.sort((a, b) => b.values - a.values || (a.device < b.device ? -1 : 1));
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
      learned,
      labelsIgnored,
      resets,
      restarts,
      inputsSaturated: { values: saturating.reduce((sum, d) => sum + d.values, 0), devices: saturating.length, worst: saturating.slice(0, 5) },
      outputs: this.outputs,
      publishFailures: this.publishFailures,
      replayed: this.replayed,
      replayDiffered: this.replayDiffered,
      notOwned: this.notOwned,
      lag: { devices: lags.length, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: lags.length ? lags[lags.length - 1].ms : null, worst: lags.slice(-5).reverse() },
      wal: { segments, entries },
      snapshots: { rounds: this.rounds, failures: this.roundFailures, lastMs: this.lastRoundMs },
      stateResets,
      stateRepairs: this.stateRepairs,
      uptimeS: Math.round((Date.now() - this.started) / 1000),
    };
  }
}

/** Ends a client at once; one that never started to connect (the broker was down at the start) has nothing to end,
 * and mqtt.js throws on it. */
function closeClient(client: MqttClient): Promise<void> {
  if (client.stream === undefined) return Promise.resolve();
  return new Promise((resolve) => client.end(true, {}, () => resolve()));
}

function runtimeError(err: unknown): PhasorError {
  return err instanceof PhasorError ? err : new PhasorError("runtime", `gateway stopped: ${(err as Error).message}`);
}
