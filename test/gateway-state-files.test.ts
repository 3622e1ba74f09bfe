/**
 * The gateway's files (tools/gateway/state.ts): a snapshot reads back exactly and any damage to it is found;
 * a shard's state is loaded only when it is whole, fits the running configuration and the WAL continues the
 * snapshot; a torn last WAL line (power loss mid-write) is dropped; WAL segments go only once covered and acked.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, appendFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  BadStateError,
  ShardLog,
  decodeSnapshot,
  encodeSnapshot,
  loadShard,
  lockShard,
  shardDirectory,
  type Fingerprint,
  type ShardSnapshot,
} from "../tools/gateway/state.js";

const FINGERPRINT: Fingerprint = { model: "ab".repeat(32), engine: "fixed", sensors: "cd".repeat(32), shards: 4, shard: 1 };
const dirs: string[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "phasor-gateway-state-"));
  dirs.push(dir);
  return dir;
}

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function sample(): ShardSnapshot {
  return {
    fingerprint: FINGERPRINT,
    cut: 41,
    counters: { badTopic: 2, wrongShard: 0, tooManyDevices: 0, stateResets: 0 },
    devices: [
      { id: "pump-1", lastSeq: 17, input: { lastT: 1.7e12 + 0.125, held: [0, 0, 0.3] }, counters: { accepted: 17, malformed: 1 }, published: null, stream: Uint8Array.from({ length: 40 }, (_, k) => k * 7) },
      { id: "pump-2", lastSeq: 3, input: { lastT: null, held: [0, 0, 0] }, counters: {}, published: [0.5, -0.25], stream: Uint8Array.from({ length: 40 }, (_, k) => 255 - k) },
    ],
  };
}

function problemOf(action: () => unknown): BadStateError {
  try {
    action();
  } catch (err) {
    expect(err).toBeInstanceOf(BadStateError);
    return err as BadStateError;
  }
  throw new Error("expected a BadStateError");
}

async function asyncProblemOf(action: () => Promise<unknown>): Promise<BadStateError> {
  try {
    await action();
  } catch (err) {
    expect(err).toBeInstanceOf(BadStateError);
    return err as BadStateError;
  }
  throw new Error("expected a BadStateError");
}

describe("shard snapshots", () => {
  it("read back exactly what was written", () => {
    expect(decodeSnapshot(encodeSnapshot(sample()), 1, "s")).toEqual(sample());
  });

  it("find every damaged byte and every truncation", () => {
    const bytes = encodeSnapshot(sample());
    for (let at = 0; at < bytes.length; at++) {
      const damaged = bytes.slice();
      damaged[at] ^= 0x10;
      expect(problemOf(() => decodeSnapshot(damaged, 1, "s")).problem, `byte ${at}`).toBe("corrupt");
    }
    for (const length of [0, 3, 15, bytes.length >> 1, bytes.length - 1]) {
      expect(problemOf(() => decodeSnapshot(bytes.subarray(0, length), 1, "s")).message).toMatch(/corrupt state/);
    }
  });
});

describe("loading a shard", () => {
  it("creates a new shard whole, then loads it with its WAL", async () => {
    const state = tempDir();
    const fresh = await loadShard(state, FINGERPRINT);
    expect(fresh.snapshot.cut).toBe(0);
    expect(fresh.segments).toEqual([]);
    const log = new ShardLog(shardDirectory(state, 1), false);
    for (let e = 1; e <= 3; e++) log.append({ e, topic: `t/${e}`, payload: Uint8Array.of(e, 0, 255), out: e === 2 ? { topic: "o", payload: "{}" } : undefined });
    log.close();
    const again = await loadShard(state, FINGERPRINT);
    expect(again.segments).toHaveLength(1);
    expect(again.segments[0].entries.map((x) => [x.e, x.topic, Array.from(x.payload), x.out])).toEqual([
      [1, "t/1", [1, 0, 255], undefined],
      [2, "t/2", [2, 0, 255], { topic: "o", payload: "{}" }],
      [3, "t/3", [3, 0, 255], undefined],
    ]);
  });

  it("reports a missing snapshot, a WAL that does not continue it, a damaged WAL line, and another configuration", async () => {
    const missing = tempDir();
    await loadShard(missing, FINGERPRINT);
    rmSync(join(shardDirectory(missing, 1), "snapshot.bin"));
    expect((await asyncProblemOf(() => loadShard(missing, FINGERPRINT))).problem).toBe("missing");

    const gap = tempDir();
    await loadShard(gap, FINGERPRINT);
    const log = new ShardLog(shardDirectory(gap, 1), false);
    log.append({ e: 5, topic: "t", payload: new Uint8Array() });
    log.close();
    expect((await asyncProblemOf(() => loadShard(gap, FINGERPRINT))).message).toMatch(/covers WAL entries up to 0 but the WAL starts at 5/);

    const damaged = tempDir();
    await loadShard(damaged, FINGERPRINT);
    const log2 = new ShardLog(shardDirectory(damaged, 1), false);
    log2.append({ e: 1, topic: "t", payload: new Uint8Array() });
    log2.append({ e: 2, topic: "t", payload: new Uint8Array() });
    log2.close();
    const [segment] = readdirSync(shardDirectory(damaged, 1)).filter((name) => name.startsWith("wal-"));
    const path = join(shardDirectory(damaged, 1), segment);
    writeFileSync(path, readFileSync(path, "utf8").replace('"topic":"t"', '"topic":"x"'));
    expect((await asyncProblemOf(() => loadShard(damaged, FINGERPRINT))).message).toMatch(/:1: checksum mismatch/);

    const other = tempDir();
    await loadShard(other, FINGERPRINT);
    const problem = await asyncProblemOf(() => loadShard(other, { ...FINGERPRINT, model: "ef".repeat(32) }));
    expect(problem.problem).toBe("incompatible");
    expect(problem.message).toMatch(/written for model "abab/);
  });

  it("drops a torn last WAL line (never acknowledged) and keeps the whole ones", async () => {
    const state = tempDir();
    await loadShard(state, FINGERPRINT);
    const dir = shardDirectory(state, 1);
    const log = new ShardLog(dir, false);
    log.append({ e: 1, topic: "t", payload: Uint8Array.of(1) });
    log.close();
    const [segment] = readdirSync(dir).filter((name) => name.startsWith("wal-"));
    appendFileSync(join(dir, segment), '0badc0de {"e":2,"top');
    const loaded = await loadShard(state, FINGERPRINT);
    expect(loaded.tornTail).toBe(true);
    expect(loaded.segments[0].entries.map((x) => x.e)).toEqual([1]);
    expect((await loadShard(state, FINGERPRINT)).tornTail).toBe(false);
  });
});

describe("WAL segments and locks", () => {
  it("deletes a segment only when a snapshot covers it and its predictions are acknowledged", async () => {
    const state = tempDir();
    await loadShard(state, FINGERPRINT);
    const dir = shardDirectory(state, 1);
    const log = new ShardLog(dir, false);
    const first = log.append({ e: 1, topic: "t", payload: new Uint8Array() });
    log.append({ e: 2, topic: "t", payload: new Uint8Array() });
    first.pending = 1;
    log.rotate();
    log.append({ e: 3, topic: "t", payload: new Uint8Array() });
    log.cleanup(2);
    expect(log.size).toEqual({ segments: 2, entries: 3 });
    first.pending = 0;
    log.cleanup(1);
    expect(log.size.segments).toBe(2);
    log.cleanup(2);
    expect(log.size).toEqual({ segments: 1, entries: 1 });
    log.close();
    expect(existsSync(first.path)).toBe(false);
  });

  it("lets one running process own a shard, and takes over the lock of a dead one", async () => {
    const state = tempDir();
    const release = lockShard(state, 3);
    const lockPath = `${shardDirectory(state, 3)}.lock`;
    expect(readFileSync(lockPath, "utf8").trim()).toBe(String(process.pid));
    release();
    expect(existsSync(lockPath)).toBe(false);

    const other = spawn(process.execPath, ["-e", "setTimeout(() => {}, 20000)"]);
    try {
      writeFileSync(lockPath, `${other.pid}\n`);
      expect(problemOf(() => lockShard(state, 3)).problem).toBe("locked");
    } finally {
      other.kill("SIGKILL");
      await new Promise((resolve) => other.once("exit", resolve));
    }
    lockShard(state, 3)();
  });
});
