/**
 * The gateway's files (host/gateway/state.ts): a snapshot reads back exactly and any damage to it is found;
 * a shard's state is loaded only when it is whole, fits the running configuration and the WAL continues the
 * snapshot; a file whose checksum holds but whose content is not what a gateway writes is refused as corrupt;
 * a torn last WAL line (power loss mid-write) is dropped; WAL segments go only once covered and acked; a lock is
 * held only by a process that can still run.
 */
import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, writeSync, appendFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32 } from "node:zlib";
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
} from "../host/gateway/state.js";

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
      { id: "pump-1", lastSeq: 17, input: { lastT: 1.7e12 + 0.125, held: [0, 0, 0.3] }, counters: { accepted: 17, malformed: 1 }, published: null, unpublished: { seq: 17, t: 1.7e12 + 0.125, ts: 1.7e12 }, stream: Uint8Array.from({ length: 40 }, (_, k) => k * 7), readout: null },
      { id: "pump-2", lastSeq: 3, input: { lastT: null, held: [0, 0, 0] }, counters: {}, published: [0.5, -0.25], unpublished: null, stream: Uint8Array.from({ length: 40 }, (_, k) => 255 - k), readout: Uint8Array.from({ length: 24 }, (_, k) => 3 * k) },
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
    const outs = [{ topic: "o", payload: "{}" }, { topic: "d", payload: '{"refused":[]}' }];
    for (let e = 1; e <= 3; e++) log.append({ e, topic: `t/${e}`, payload: Uint8Array.of(e, 0, 255), outs: e === 2 ? outs : [], failed: e === 3 });
    // the first bytes of a message refused for its size, with the size it had
    log.append({ e: 4, topic: "t/4", payload: Uint8Array.of(4, 0), bytes: 5_000_000, outs: [] });
    log.close();
    const again = await loadShard(state, FINGERPRINT);
    expect(again.segments).toHaveLength(1);
    expect(again.segments[0].entries.map((x) => [x.e, x.topic, Array.from(x.payload), x.outs, x.failed, x.bytes])).toEqual([
      [1, "t/1", [1, 0, 255], [], false, undefined],
      [2, "t/2", [2, 0, 255], outs, false, undefined],
      [3, "t/3", [3, 0, 255], [], true, undefined],
      [4, "t/4", [4, 0], [], false, 5_000_000],
    ]);
  });

  it("reads the WAL lines of the first version, with one prediction as `out`", async () => {
    const state = tempDir();
    await loadShard(state, FINGERPRINT);
    const json = JSON.stringify({ e: 1, topic: "t", p: Buffer.from("{}").toString("base64"), out: { topic: "o", payload: "{}" } });
    writeFileSync(join(shardDirectory(state, 1), "wal-000000000000001.log"), `${walCrc(json)} ${json}\n`);
    const loaded = await loadShard(state, FINGERPRINT);
    expect(loaded.segments[0].entries[0].outs).toEqual([{ topic: "o", payload: "{}" }]);
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

  // before: read whole as one string, which V8 refused ("Cannot create a string longer than 0x1fffffe8
  // characters"), so that every start of the gateway failed; 385 messages at the 1 MiB --max-payload-bytes make one
  // between two snapshots
  it("reads a WAL segment longer than the longest string V8 makes, and finds its torn tail", async () => {
    const state = tempDir();
    await loadShard(state, FINGERPRINT);
    const dir = shardDirectory(state, 1);
    const p = Buffer.alloc(1 << 20, 0x41).toString("base64");
    const lines = Math.ceil((2 ** 29 - 24) / (p.length + 40)) + 1;
    const fd = openSync(join(dir, "wal-000000000000001.log"), "w");
    for (let e = 1; e <= lines; e++) {
      const json = JSON.stringify({ e, topic: `t/${e}`, p });
      writeSync(fd, `${walCrc(json)} ${json}\n`);
    }
    writeSync(fd, '0badc0de {"e":');
    closeSync(fd);
    const loaded = await loadShard(state, FINGERPRINT);
    const { entries } = loaded.segments[0];
    expect(entries).toHaveLength(lines);
    expect(entries.every((entry, k) => entry.e === k + 1 && entry.topic === `t/${k + 1}` && entry.payload.length === 1 << 20)).toBe(true);
    expect(loaded.tornTail).toBe(true);
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

describe("what a gateway killed mid-write leaves", () => {
  it("is removed by the next load: a partial snapshot beside the real one, a new shard's folder never renamed", async () => {
    const state = tempDir();
    await loadShard(state, FINGERPRINT);
    const dir = shardDirectory(state, 1);
    // a process that writes large snapshots of the shard, as a gateway does, killed (SIGKILL) while one is written
    const big = { ...sample(), fingerprint: FINGERPRINT, cut: 0 };
    big.devices[0].stream = new Uint8Array(32 << 20);
    const snapshotFile = join(state, "big-snapshot.bin");
    writeFileSync(snapshotFile, encodeSnapshot(big));
    const script = `import("./host/files.ts").then(async ({ writeFileAtomically }) => { const bytes = (await import("node:fs")).readFileSync(${JSON.stringify(snapshotFile)}); for (;;) await writeFileAtomically(${JSON.stringify(join(dir, "snapshot.bin"))}, bytes); })`;
    const writer = spawn(process.execPath, ["--import", "tsx", "-e", script], { stdio: "ignore" });
    const exited = new Promise((resolve) => writer.once("exit", resolve));
    const partials = () => readdirSync(dir).filter((name) => name.endsWith(".partial"));
    const deadline = Date.now() + 20_000;
    // killed while it writes its second snapshot or a later one: the first is in place
    const written = () => statSync(join(dir, "snapshot.bin")).size > 32 << 20;
    while (!(written() && partials().length > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
    writer.kill("SIGKILL");
    await exited;
    expect(partials()).toHaveLength(1);
    mkdirSync(`${dir}.new-${process.pid + 1}`);
    writeFileSync(join(`${dir}.new-${process.pid + 1}`, "snapshot.bin"), "half made");

    const loaded = await loadShard(state, FINGERPRINT);
    expect(loaded.snapshot.devices.map((d) => d.stream.length)).toEqual([32 << 20, 40]);
    expect(readdirSync(dir)).toEqual(["snapshot.bin"]);
    expect(readdirSync(state).sort()).toEqual(["big-snapshot.bin", "shard-1"]);
  });
});

/** The CRC field of a WAL line, as state.ts writes it. */
function walCrc(json: string): string {
  return crc32(json).toString(16).padStart(8, "0");
}

/** The snapshot's bytes with its header replaced and the CRC made right again: damage a checksum cannot see. */
function withHeader(change: (header: Record<string, any>) => void): Uint8Array {
  const bytes = encodeSnapshot(sample());
  const view = new DataView(bytes.buffer);
  const length = view.getUint32(8, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + length)));
  change(header);
  const text = new TextEncoder().encode(JSON.stringify(header));
  const rest = bytes.subarray(12 + length, bytes.length - 4);
  const out = new Uint8Array(12 + text.length + rest.length + 4);
  out.set(bytes.subarray(0, 12));
  new DataView(out.buffer).setUint32(8, text.length, true);
  out.set(text, 12);
  out.set(rest, 12 + text.length);
  new DataView(out.buffer).setUint32(out.length - 4, crc32(out.subarray(0, out.length - 4)), true);
  return out;
}

describe("files whose checksum holds but whose content is not a gateway's", () => {
  it.each([
    ["a null fingerprint", (h: Record<string, any>) => (h.fingerprint = null)],
    ["counters that are not counts", (h: Record<string, any>) => (h.counters = { badTopic: "2" })],
    ["no counters", (h: Record<string, any>) => delete h.counters],
    ["a device that is not an object", (h: Record<string, any>) => (h.devices[0] = 7)],
    ["a device id that is not a name", (h: Record<string, any>) => (h.devices[0].id = "../../etc")],
    ["a lastSeq that is a string", (h: Record<string, any>) => (h.devices[0].lastSeq = "17")],
    ["held values that are not numbers", (h: Record<string, any>) => (h.devices[0].input.held = ["a", 0, 0])],
    ["a lastT that is not finite", (h: Record<string, any>) => (h.devices[0].input = { lastT: "soon", held: [0, 0, 0] })],
    ["device counters that are null", (h: Record<string, any>) => (h.devices[1].counters = null)],
    ["a negative counter", (h: Record<string, any>) => (h.devices[1].counters = { accepted: -1 })],
    ["a published prediction of strings", (h: Record<string, any>) => (h.devices[1].published = ["x"])],
    ["a state length that is not a count", (h: Record<string, any>) => (h.devices[0].bytes = 1.5)],
    ["a prediction waiting for the tick without a seq", (h: Record<string, any>) => (h.devices[0].unpublished = { t: 1 })],
    ["a prediction waiting for the tick at a time that is not finite", (h: Record<string, any>) => (h.devices[0].unpublished = { seq: 1, t: "now" })],
  ])("a snapshot with %s is corrupt", (_name, change) => {
    expect(problemOf(() => decodeSnapshot(withHeader(change), 1, "s")).problem).toBe("corrupt");
  });

  it.each([
    ["not an object", "[1,2]"],
    ["no entry number", '{"topic":"t","p":""}'],
    ["an entry number of 0", '{"e":0,"topic":"t","p":""}'],
    ["a topic that is a number", '{"e":1,"topic":5,"p":""}'],
    ["a payload that is not base64", '{"e":1,"topic":"t","p":"***"}'],
    ["no payload", '{"e":1,"topic":"t"}'],
    ["outputs that are not messages", '{"e":1,"topic":"t","p":"","outs":[{"topic":1}]}'],
    ["a failed flag that is not a boolean", '{"e":1,"topic":"t","p":"","failed":"yes"}'],
    ["a size that is not a count", '{"e":1,"topic":"t","p":"AAAA","bytes":"9"}'],
    ["a size no larger than the bytes kept", '{"e":1,"topic":"t","p":"AAAA","bytes":3}'],
  ])("a WAL line with a right checksum and %s is corrupt", async (_name, json) => {
    const state = tempDir();
    await loadShard(state, FINGERPRINT);
    writeFileSync(join(shardDirectory(state, 1), "wal-000000000000001.log"), `${walCrc(json)} ${json}\n`);
    const problem = await asyncProblemOf(() => loadShard(state, FINGERPRINT));
    expect(problem.problem).toBe("corrupt");
    expect(problem.message).toMatch(/:1: checksum matches but the line is not (JSON|a WAL entry)/);
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
    expect(readFileSync(lockPath, "utf8").trim().split(" ")[0]).toBe(String(process.pid));
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

  // issue 12, item 5: a gateway killed with SIGKILL stays a zombie until its parent reaps it, and kill(pid, 0)
  // still succeeds on it: a restart half a second after the kill was refused as "held by a running process"
  it("takes over the lock of a killed process its parent has not reaped yet (a zombie)", async () => {
    const state = tempDir();
    // the shell starts a child and becomes `sleep` (exec), which never waits for it: killed, the child stays a zombie
    const parent = spawn("sh", ["-c", "sleep 30 & echo $!; exec sleep 30"], { stdio: ["ignore", "pipe", "ignore"] });
    try {
      const pid = Number(await new Promise<string>((resolve) => parent.stdout.once("data", (chunk: Buffer) => resolve(chunk.toString().trim()))));
      // the shell prints the pid before it becomes `sleep`, and until then it may reap the killed child itself
      const execDeadline = Date.now() + 5000;
      while (readFileSync(`/proc/${parent.pid}/comm`, "utf8").trim() !== "sleep" && Date.now() < execDeadline) await new Promise((r) => setTimeout(r, 10));
      writeFileSync(`${shardDirectory(state, 2)}.lock`, `${pid}\n`);
      expect(problemOf(() => lockShard(state, 2)).problem).toBe("locked");
      process.kill(pid, "SIGKILL");
      const deadline = Date.now() + 5000;
      while (!/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8")) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(readFileSync(`/proc/${pid}/stat`, "utf8")).toMatch(/\) Z /);
      lockShard(state, 2)();
    } finally {
      parent.kill("SIGKILL");
    }
  });

  it("takes over a lock whose pid now belongs to another process (another start time)", () => {
    const state = tempDir();
    // this process is running, but it did not start at clock tick 1
    writeFileSync(`${shardDirectory(state, 0)}.lock`, `${process.ppid} 1\n`);
    lockShard(state, 0)();
    writeFileSync(`${shardDirectory(state, 0)}.lock`, `${process.ppid}\n`);
    expect(problemOf(() => lockShard(state, 0)).problem).toBe("locked");
  });
});
