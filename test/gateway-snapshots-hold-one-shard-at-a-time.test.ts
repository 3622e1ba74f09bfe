/**
 * A gateway in process (host/gateway/gateway.ts), without a broker: its start (the WAL replayed, a snapshot round)
 * and its stop (a last round). A snapshot round captures, encodes and writes one shard before it captures the
 * next, so that the memory it holds is one shard's snapshot, not every shard's at once; observed by the order of the captures and the finished writes, not by timing or heap size.
 * And the WAL replay of a restart takes the live path for messages of devices the gateway has never seen: refused
 * ones create no device.
 */
import "../host/node.js";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { Engine } from "../host/engine/engine.js";
import { Gateway, type GatewayConfig } from "../host/gateway/gateway.js";
import { Shard } from "../host/gateway/shard.js";
import { ShardLog, decodeSnapshot, loadShard, shardDirectory } from "../host/gateway/state.js";
import { inputTopic } from "../host/gateway/topics.js";
import { PREFIX, SHARDS, demoEngine, demoGatewayConfig, deviceOf } from "./support/gateway.js";

/** What the round did, in order: `capture <shard>` and `written <shard>` (its snapshot file renamed into place). */
const observed = vi.hoisted(() => ({ events: [] as string[], failing: null as number | null }));

vi.mock("../host/files.js", async (importOriginal) => {
  const files = await importOriginal<typeof import("../host/files.js")>();
  return {
    ...files,
    async writeFileAtomically(path: string, bytes: Uint8Array): Promise<void> {
      const shard = /shard-(\d+)[/\\]snapshot\.bin$/.exec(path)?.[1];
      if (shard !== undefined && Number(shard) === observed.failing) throw new Error(`${path}: cannot write: no space left on device`);
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
