/**
 * A gateway in process (host/gateway/gateway.ts): its start (the WAL replayed, a snapshot round) and its stop (a
 * last round), without a broker, and its periodic rounds on a mosquitto of the test's own. A snapshot round
 * captures, encodes and writes one shard before it captures the next, so that the memory it holds is one shard's
 * snapshot, not every shard's at once; observed by the order of the captures and the finished writes, not by
 * timing or heap size. A WAL failure in the middle of a round ends its captures. And the WAL replay of a restart
 * takes the live path for messages of devices the gateway has never seen: refused ones create no device.
 */
import "../host/node.js";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { Engine } from "../host/engine/engine.js";
import { Gateway, type GatewayConfig } from "../host/gateway/gateway.js";
import { Shard } from "../host/gateway/shard.js";
import { ShardLog, decodeSnapshot, loadShard, shardDirectory } from "../host/gateway/state.js";
import { inputTopic } from "../host/gateway/topics.js";
import type { MqttClient } from "mqtt";
import { PREFIX, SHARDS, demoEngine, demoGatewayConfig, deviceOf } from "./support/gateway.js";
import { Broker } from "./support/broker.js";
import { waitUntil } from "./support/gateway-process.js";
import { connectClient } from "./support/simulated-devices.js";

/**
 * What the round did, in order: `capture <shard>` and `written <shard>` (its snapshot file renamed into place);
 * `failing` makes a shard's snapshot write fail, `beforeWrite` runs before a snapshot file is written.
 */
const observed = vi.hoisted(() => ({ events: [] as string[], failing: null as number | null, beforeWrite: null as ((shard: number) => Promise<void>) | null }));

vi.mock("../host/files.js", async (importOriginal) => {
  const files = await importOriginal<typeof import("../host/files.js")>();
  return {
    ...files,
    async writeFileAtomically(path: string, bytes: Uint8Array): Promise<void> {
      const shard = /shard-(\d+)[/\\]snapshot\.bin$/.exec(path)?.[1];
      if (shard !== undefined && Number(shard) === observed.failing) throw new Error(`${path}: cannot write: no space left on device`);
      if (shard !== undefined) await observed.beforeWrite?.(Number(shard));
      await files.writeFileAtomically(path, bytes);
      if (shard !== undefined) observed.events.push(`written ${shard}`);
    },
  };
});

const FINGERPRINT = { model: "demo", engine: "fixed", sensors: "demo" };
const ALL = Array.from({ length: SHARDS }, (_, s) => s);

let engine: Engine;
let dir: string;
let log: Record<string, unknown>[];
beforeAll(async () => {
  engine = await demoEngine();
  const capture = Shard.prototype.capture;
  vi.spyOn(Shard.prototype, "capture").mockImplementation(function (this: Shard, ...args) {
    observed.events.push(`capture ${this.config.index}`);
    return capture.apply(this, args);
  });
});
afterAll(() => engine?.dispose());
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "phasor-gateway-rounds-"));
  log = [];
  observed.events = [];
  observed.failing = null;
  observed.beforeWrite = null;
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function config(): GatewayConfig {
  // never connected: open() and stop() need no broker
  return demoGatewayConfig(engine, { fingerprint: FINGERPRINT, broker: "mqtt://127.0.0.1:1", prefix: PREFIX, shards: SHARDS, clientId: "rounds-test", stateDir: join(dir, "state"), log: (record) => log.push(record) });
}

/**
 * A state a gateway killed before its first snapshot leaves: every shard's empty snapshot, and a WAL with the
 * messages of each shard (`messages(shard)`: topic and payload) that the restart replays.
 */
async function crashedState(messages: (shard: number) => { topic: string; payload: string }[]): Promise<void> {
  for (const shard of ALL) {
    await loadShard(join(dir, "state"), { ...FINGERPRINT, shards: SHARDS, shard });
    const wal = new ShardLog(shardDirectory(join(dir, "state"), shard), false);
    messages(shard).forEach(({ topic, payload }, k) => wal.append({ e: k + 1, topic, payload: new TextEncoder().encode(payload) }));
    wal.close();
  }
  observed.events = [];
}

/** Three devices a shard, each with two good readings. */
function readings(shard: number): { topic: string; payload: string }[] {
  return [0, 1, 2].flatMap((k) => [
    { topic: inputTopic(PREFIX, SHARDS, deviceOf(shard, k), "accel"), payload: '{"seq":1,"t":1000,"v":[0.1,0.2,0.3]}' },
    { topic: inputTopic(PREFIX, SHARDS, deviceOf(shard, k), "temp"), payload: '{"seq":2,"t":1005,"v":22}' },
  ]);
}

function snapshotOnDisk(shard: number) {
  const path = join(shardDirectory(join(dir, "state"), shard), "snapshot.bin");
  return decodeSnapshot(readFileSync(path), shard, path);
}

describe("a snapshot round", () => {
  // before: every shard was captured and encoded before the first file was written, so a round held every
  // shard's device records and snapshot bytes at once: [capture 0, capture 1, capture 2, capture 3, written 0, ...]
  it("captures, encodes and writes one shard before it captures the next, at start and at stop", async () => {
    await crashedState(readings);
    const gateway = await Gateway.open(config());
    const oneAtATime = ALL.flatMap((s) => [`capture ${s}`, `written ${s}`]);
    expect(observed.events).toEqual(oneAtATime);
    // each snapshot at its shard's cut: every replayed entry in it, every device with its last seq
    for (const shard of ALL) {
      const snapshot = snapshotOnDisk(shard);
      expect(snapshot.cut).toBe(readings(shard).length);
      expect(snapshot.devices.map((d) => [d.id, d.lastSeq])).toEqual([0, 1, 2].map((k) => [deviceOf(shard, k), 2]));
    }
    observed.events = [];
    const stopped = await gateway.stop();
    expect(observed.events).toEqual(oneAtATime);
    expect(stopped).toMatchObject({ devices: 3 * SHARDS, applied: 6 * SHARDS, snapshots: { rounds: 2, failures: 0 } });
  });

  it("goes on to the other shards when one shard's snapshot cannot be written, and says so", async () => {
    await crashedState(readings);
    observed.failing = 1;
    const gateway = await Gateway.open(config());
    expect(observed.events).toEqual(ALL.flatMap((s) => (s === 1 ? ["capture 1"] : [`capture ${s}`, `written ${s}`])));
    expect(log.filter((r) => r.event === "snapshot-failed").map((r) => r.message)).toEqual([expect.stringMatching(/shard-1[/\\]snapshot\.bin: cannot write: no space left/)]);
    // the shard whose snapshot failed keeps its old snapshot and its WAL: a restart replays it
    expect(snapshotOnDisk(1).cut).toBe(0);
    expect(snapshotOnDisk(2).cut).toBe(readings(2).length);
    observed.failing = null;
    expect(await gateway.stop()).toMatchObject({ snapshots: { rounds: 2, failures: 1 } });
    expect(snapshotOnDisk(1).cut).toBe(readings(1).length);
  });
});

describe("a restart after a crash", () => {
  // before: the replay, like the live run, created a device for each of them
  it("replays refused messages and resets of devices it has never seen without creating them", async () => {
    const garbage = (shard: number) =>
      [
        "hello",
        '{"seq":1,"t":1,"v":[1,2]}',
        '{"seq":1,"t":1,"v":[1e39,0,0]}',
        '{"seq":1,"reset":true}',
      ].map((payload, k) => ({ topic: inputTopic(PREFIX, SHARDS, deviceOf(shard, 10 + k), "accel"), payload }));
    await crashedState((shard) => [...garbage(shard), ...readings(shard)]);
    const first = await Gateway.open(config());
    const health = first.health();
    expect(health).toMatchObject({ devices: 3 * SHARDS, resets: SHARDS, replayed: 10 * SHARDS });
    expect(health.rejected).toMatchObject({ malformed: SHARDS, wrongChannels: SHARDS, nonFinite: SHARDS, tooManyDevices: 0 });
    for (const shard of ALL) expect(snapshotOnDisk(shard).devices.map((d) => d.id)).toEqual([0, 1, 2].map((k) => deviceOf(shard, k)));
    await first.stop();
    // and from the snapshot, the same
    const again = await Gateway.open(config());
    expect(again.health()).toMatchObject({ devices: 3 * SHARDS, resets: SHARDS, rejected: health.rejected, rejectedTotal: health.rejectedTotal });
    await again.stop();
  });
});

describe("a WAL that cannot be written in the middle of a periodic round", () => {
  // before the shards were snapshotted one after the other, every capture of a round came before its first write,
  // so no message could come in between; now one can, and the round must not capture a state the WAL does not have
  it("stops the round's captures: the message that was not logged is in no snapshot", async () => {
    const broker = await Broker.start(join(dir, "broker"));
    const clients: MqttClient[] = [];
    try {
      const logged = (record: Record<string, unknown>) => {
        log.push(record);
        if (record.event === "fatal") observed.events.push("fatal");
      };
      const gateway = await Gateway.open({ ...config(), broker: broker.url, snapshotIntervalMs: 50, log: logged });
      const running = gateway.run();
      running.catch(() => undefined);
      await waitUntil(() => log.some((r) => r.event === "ready"), 20_000, () => "the gateway is not ready");
      const publisher = await connectClient(broker.url, "rounds-publisher");
      clients.push(publisher);
      const reading = (shard: number, seq: number) => publisher.publishAsync(inputTopic(PREFIX, SHARDS, deviceOf(shard), "accel"), `{"seq":${seq},"t":${1000 + seq},"v":[0.1,0.2,0.3]}`, { qos: 1 });
      // a reading in every shard, and every shard snapshotted since: each WAL at the start of a new segment
      for (const shard of ALL) await reading(shard, 1);
      await waitUntil(() => ALL.every((shard) => snapshotOnDisk(shard).devices.length === 1), 20_000, () => "the periodic rounds did not snapshot every shard");
      // while the next round writes shard 0: new readings of shards 1 and 3, then one of shard 2, whose next WAL
      // segment's name is taken by a folder, so that its WAL cannot be opened and the gateway stops (a removed shard
      // folder is made again: gateway-state-folder-damaged-while-running.test.ts)
      observed.beforeWrite = async (shard) => {
        if (shard !== 0) return;
        observed.beforeWrite = null;
        observed.events = ["capture 0"];
        const received = gateway.health().received;
        await reading(1, 2);
        await reading(3, 2);
        mkdirSync(join(shardDirectory(join(dir, "state"), 2), "wal-000000000000002.log"));
        await reading(2, 2);
        await waitUntil(() => gateway.health().received === received + 3, 20_000, () => "the readings did not reach the gateway");
      };
      await reading(0, 2);
      await expect(running).rejects.toThrow(/shard-2[/\\]wal-0+\d+\.log: cannot open the WAL: it is a directory/);
      await waitUntil(() => observed.events.includes("written 0"), 20_000, () => observed.events.join(", "));
      expect(observed.events).toEqual(["capture 0", "fatal", "written 0"]);
      // shards 1 and 3 kept the snapshots from before their readings of seq 2 (their WAL has those)
      for (const shard of [1, 3]) expect(snapshotOnDisk(shard).devices.map((d) => d.lastSeq)).toEqual([1]);
    } finally {
      for (const client of clients) await client.endAsync(true);
      await broker.stop("kill");
    }
  });
});
