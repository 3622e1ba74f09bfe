/**
 * The gateway's state folder damaged while the gateway runs (docs/gateway.md, "State on disk: damage while
 * running"): a shard's folder removed, the whole state folder removed, the open WAL segment removed, a snapshot
 * removed or replaced by a folder. A message is acknowledged to the broker only once a restart would find it on
 * disk: each test copies the state folder at the moment the gateway sends its PUBACK and starts a gateway on that
 * copy. Files that are not the gateway's are moved aside, never deleted.
 */
import "../host/node.js";
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { MqttClient } from "mqtt";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Engine } from "../host/engine/engine.js";
import { Gateway, type GatewayConfig } from "../host/gateway/gateway.js";
import { decodeSnapshot, shardDirectory } from "../host/gateway/state.js";
import { inputTopic } from "../host/gateway/topics.js";
import { PREFIX, SHARDS, demoEngine, demoGatewayConfig, deviceOf } from "./support/gateway.js";
import { Broker } from "./support/broker.js";
import { sleep, waitUntil } from "./support/gateway-process.js";
import { connectClient } from "./support/simulated-devices.js";

const FINGERPRINT = { model: "demo", engine: "fixed", sensors: "demo" };
const ALL = Array.from({ length: SHARDS }, (_, s) => s);

let engine: Engine;
let broker: Broker;
let publisher: MqttClient;
let root: string;
let dir: string;
let state: string;
let log: Record<string, unknown>[];
let running: Gateway[];
/** the state folder as it was at each PUBACK the gateway sent, in order */
let atAck: string[];
let tests = 0;

beforeAll(async () => {
  engine = await demoEngine();
  root = mkdtempSync(join(tmpdir(), "phasor-gateway-damage-"));
  broker = await Broker.start(join(root, "broker"));
  publisher = await connectClient(broker.url, "damage-publisher");
});
afterAll(async () => {
  await publisher?.endAsync(true);
  await broker?.stop("kill");
  engine?.dispose();
  rmSync(root, { recursive: true, force: true });
});
beforeEach(() => {
  dir = join(root, `test-${tests++}`);
  state = join(dir, "state");
  mkdirSync(dir, { recursive: true });
  log = [];
  running = [];
  atAck = [];
});
afterEach(async () => {
  for (const gateway of running) await gateway.stop().catch(() => undefined);
});

function config(stateDir: string, given: Partial<GatewayConfig> = {}): GatewayConfig {
  return demoGatewayConfig(engine, {
    fingerprint: FINGERPRINT,
    broker: broker.url,
    // a prefix and a session of the test's own: no message of another test is delivered to it
    prefix: `${PREFIX}${tests}`,
    shards: SHARDS,
    clientId: `damage-${tests}`,
    stateDir,
    log: (record) => log.push(record),
    ...given,
  });
}

/** A running gateway on `state`; every PUBACK it sends copies the state folder as it is at that moment. */
async function start(given: Partial<GatewayConfig> = {}): Promise<{ gateway: Gateway; stopped: Promise<unknown> }> {
  const before = log.length;
  const gateway = await Gateway.open(config(state, given));
  running.push(gateway);
  const client = (gateway as unknown as { client: MqttClient }).client;
  client.on("packetsend", (packet) => {
    if (packet.cmd !== "puback") return;
    const copy = join(dir, `at-ack-${atAck.length}`);
    if (existsSync(state)) cpSync(state, copy, { recursive: true });
    else mkdirSync(copy);
    atAck.push(copy);
  });
  const stopped = gateway.run();
  stopped.catch(() => undefined);
  await waitUntil(() => log.slice(before).some((r) => r.event === "ready"), 20_000, () => `the gateway is not ready: ${JSON.stringify(log.slice(-2))}`);
  return { gateway, stopped };
}

/** Publishes device k of `shard`'s reading `seq` and waits until the gateway has acknowledged it (10 s at most). */
async function reading(shard: number, seq: number, k = 0): Promise<void> {
  const acks = atAck.length;
  await publisher.publishAsync(inputTopic(`${PREFIX}${tests}`, SHARDS, deviceOf(shard, k), "accel"), `{"seq":${seq},"t":${1000 + seq},"v":[0.1,0.2,0.3]}`, { qos: 1 });
  await waitUntil(() => atAck.length > acks, 10_000, () => `the gateway did not acknowledge seq ${seq} of shard ${shard}; log: ${JSON.stringify(log.filter((r) => r.event !== "health").slice(-3))}`);
}

/** What a gateway started on `stateDir` (a copy: it is changed) finds: every device's last seq, by device. */
async function whatARestartFinds(stateDir: string): Promise<Record<string, number>> {
  const gateway = await Gateway.open(config(stateDir, { log: () => undefined }));
  await gateway.stop();
  const found: Record<string, number> = {};
  for (const shard of ALL) {
    const path = join(shardDirectory(stateDir, shard), "snapshot.bin");
    for (const device of decodeSnapshot(readFileSync(path), shard, path).devices) found[device.id] = device.lastSeq;
  }
  return found;
}

function repaired(): { shard: unknown; found: unknown }[] {
  return log.filter((r) => r.event === "state-repaired").map((r) => ({ shard: r.shard, found: r.found }));
}

describe("a shard's folder removed while the gateway runs", () => {
  // before: the WAL segment stayed open on the removed folder; the message was written to a file no one could
  // find again and acknowledged, and a restart started the shard empty
  it("with its WAL segment open: the message is on disk before its PUBACK, the folder made whole again", async () => {
    const { gateway } = await start();
    await reading(1, 1);
    rmSync(shardDirectory(state, 1), { recursive: true });
    // the WAL's file is checked at most once every 10 ms
    await sleep(20);
    await reading(1, 2);
    expect(await whatARestartFinds(atAck[1])).toEqual({ [deviceOf(1)]: 2 });
    expect(repaired()).toEqual([{ shard: 1, found: [expect.stringMatching(/shard-1: the folder is gone or was replaced/), expect.stringMatching(/wal-0+1\.log: the open WAL segment was removed/)] }]);
    expect(gateway.health()).toMatchObject({ stateRepairs: 1, snapshots: { failures: 0 } });
    await reading(1, 3);
    expect(await whatARestartFinds(atAck[2])).toEqual({ [deviceOf(1)]: 3 });
    await gateway.stop();
    expect(await whatARestartFinds(state)).toEqual({ [deviceOf(1)]: 3 });
  });

  // before: the WAL could not be opened in the removed folder and the gateway stopped with "fatal"; its next start
  // found no folder and started the shard empty, every device of it back to zero state
  it("with no WAL segment open: the gateway does not stop, the folder is made whole before the PUBACK", async () => {
    const { gateway } = await start();
    await reading(1, 1);
    await reading(2, 1);
    // a snapshot round: every segment closed
    await gateway.stop();
    const again = await start();
    rmSync(shardDirectory(state, 1), { recursive: true });
    await reading(1, 2);
    expect(log.some((r) => r.event === "fatal")).toBe(false);
    expect(await whatARestartFinds(atAck[2])).toEqual({ [deviceOf(1)]: 2, [deviceOf(2)]: 1 });
    expect(again.gateway.health()).toMatchObject({ stateRepairs: 1 });
  });

  it("the open WAL segment alone removed: the same", async () => {
    await start();
    await reading(1, 1);
    const folder = shardDirectory(state, 1);
    for (const name of readdirSync(folder).filter((n) => n.startsWith("wal-"))) rmSync(join(folder, name));
    await sleep(20);
    await reading(1, 2);
    expect(await whatARestartFinds(atAck[1])).toEqual({ [deviceOf(1)]: 2 });
    expect(repaired()).toEqual([{ shard: 1, found: [expect.stringMatching(/wal-0+1\.log: the open WAL segment was removed/)] }]);
  });
});

describe("the whole state folder removed while the gateway runs", () => {
  it("every shard's folder and lock are made again, idle shards at the next snapshot round", async () => {
    const { gateway } = await start({ snapshotIntervalMs: 100 });
    await reading(1, 1);
    await reading(2, 1);
    await snapshottedByARound(2);
    rmSync(state, { recursive: true });
    await reading(1, 2);
    expect(await whatARestartFinds(atAck[2])).toMatchObject({ [deviceOf(1)]: 2 });
    await waitUntil(() => new Set(repaired().map((r) => r.shard)).size === SHARDS, 10_000, () => `repaired: ${JSON.stringify(repaired())}; log: ${JSON.stringify(log.slice(-2))}`);
    for (const shard of ALL) expect(readFileSync(join(state, `shard-${shard}.lock`), "utf8")).toMatch(new RegExp(`^${process.pid}\\b`));
    expect(gateway.health()).toMatchObject({ stateRepairs: SHARDS });
    await gateway.stop();
    expect(await whatARestartFinds(state)).toEqual({ [deviceOf(1)]: 2, [deviceOf(2)]: 1 });
  });
});

describe("damage the gateway cannot repair", () => {
  it("a file where the state folder was: the gateway stops with a fatal line, the message not acknowledged", async () => {
    const { stopped } = await start();
    await reading(1, 1);
    rmSync(state, { recursive: true });
    writeFileSync(state, "not a folder");
    const acks = atAck.length;
    await publisher.publishAsync(inputTopic(`${PREFIX}${tests}`, SHARDS, deviceOf(1), "accel"), '{"seq":2,"t":1002,"v":[0.1,0.2,0.3]}', { qos: 1 });
    await expect(stopped).rejects.toThrow(/shard 1: its files were damaged while the gateway ran .*shard-1: the folder is gone/);
    expect(log.filter((r) => r.event === "fatal")).toHaveLength(1);
    expect(atAck.length).toBe(acks);
  });
});

describe("a snapshot damaged while the gateway runs", () => {
  // before: a round skipped the shard (no message since its last snapshot), and a restart refused its folder
  // without a snapshot as a lost snapshot
  it("removed from an idle shard: written again at the next round", async () => {
    await start({ snapshotIntervalMs: 100 });
    await reading(1, 1);
    const snapshot = await snapshottedByARound(1);
    rmSync(snapshot);
    await waitUntil(() => repaired().length > 0, 10_000, () => "the snapshot was not written again");
    expect(repaired()).toEqual([{ shard: 1, found: [expect.stringMatching(/snapshot\.bin: the snapshot was removed or replaced/)] }]);
    expect(await whatARestartFinds(copyOf(state))).toEqual({ [deviceOf(1)]: 1 });
  });

  // before: a restart loaded the older snapshot and refused the WAL after it, which did not continue its cut
  it("overwritten in place by an older copy: written again at the next round", async () => {
    const { gateway, snapshot, older } = await snapshotsOfTwoReadings();
    const inode = statSync(snapshot).ino;
    writeFileSync(snapshot, older);
    expect(statSync(snapshot).ino).toBe(inode);
    await waitUntil(() => repaired().length > 0, 10_000, () => "the snapshot was not written again");
    expect(repaired()).toEqual([{ shard: 1, found: [expect.stringMatching(/snapshot\.bin: the snapshot was removed or replaced/)] }]);
    expect(await whatARestartFinds(copyOf(state))).toEqual({ [deviceOf(1)]: 2 });
    expect(gateway.health()).toMatchObject({ stateRepairs: 1 });
  });

  // before: found by the snapshot's modification time only, which a write within a step of the file system's clock
  // (a kernel tick without fine-grained times) leaves as it was: here the time is put back as it was
  it("overwritten in place by an older copy of the same size and time: found by the CRC in its last bytes", async () => {
    const { gateway, snapshot, older } = await snapshotsOfTwoReadings();
    const before = statSync(snapshot, { bigint: true });
    const times = join(dir, "times");
    writeFileSync(times, "");
    execFileSync("touch", ["-r", snapshot, times]);
    // one synchronous step: no round of the gateway (in this process) comes in between
    writeFileSync(snapshot, older);
    execFileSync("touch", ["-m", "-r", times, snapshot]);
    const after = statSync(snapshot, { bigint: true });
    expect([after.ino, after.size, after.mtimeNs]).toEqual([before.ino, before.size, before.mtimeNs]);
    await waitUntil(() => repaired().length > 0, 10_000, () => "the snapshot was not written again");
    expect(repaired()).toEqual([{ shard: 1, found: [expect.stringMatching(/snapshot\.bin: the snapshot was removed or replaced/)] }]);
    expect(await whatARestartFinds(copyOf(state))).toEqual({ [deviceOf(1)]: 2 });
    expect(gateway.health()).toMatchObject({ stateRepairs: 1 });
  });

  // before: every round failed to rename the new snapshot over the folder, and a restart refused the shard as corrupt
  it("replaced by a folder: the folder is moved aside whole, the snapshot written again", async () => {
    await start({ snapshotIntervalMs: 100 });
    await reading(1, 1);
    const snapshot = await snapshottedByARound(1);
    rmSync(snapshot);
    mkdirSync(snapshot);
    writeFileSync(join(snapshot, "someones.txt"), "kept");
    await waitUntil(() => repaired().length > 0, 10_000, () => `the snapshot was not written again; log: ${JSON.stringify(log.slice(-2))}`);
    expect(statSync(snapshot).isFile()).toBe(true);
    const aside = readdirSync(join(state, "quarantine"));
    expect(aside).toEqual([expect.stringMatching(/^shard-1-.*-snapshot\.bin$/)]);
    expect(readFileSync(join(state, "quarantine", aside[0], "someones.txt"), "utf8")).toBe("kept");
    expect(await whatARestartFinds(copyOf(state))).toEqual({ [deviceOf(1)]: 1 });
  });
});

/**
 * A gateway with rounds every 100 ms, shard 1's device sent seq 1 and seq 2: the snapshot's path once a round
 * has written seq 2 there, and its bytes when it held seq 1.
 */
async function snapshotsOfTwoReadings(): Promise<{ gateway: Gateway; snapshot: string; older: Buffer }> {
  const { gateway } = await start({ snapshotIntervalMs: 100 });
  await reading(1, 1);
  const snapshot = await snapshottedByARound(1);
  const older = readFileSync(snapshot);
  await reading(1, 2);
  await waitUntil(() => decodeSnapshot(readFileSync(snapshot), 1, snapshot).devices[0].lastSeq === 2, 10_000, () => "no round snapshotted seq 2");
  return { gateway, snapshot, older };
}

/** Waits until a periodic round has written `shard`'s snapshot with its one device; the snapshot's path. */
async function snapshottedByARound(shard: number): Promise<string> {
  const path = join(shardDirectory(state, shard), "snapshot.bin");
  await waitUntil(() => decodeSnapshot(readFileSync(path), shard, path).devices.length === 1, 10_000, () => `no round snapshotted shard ${shard}`);
  return path;
}

function copyOf(stateDir: string): string {
  const copy = join(dir, `copy-${readdirSync(dir).length}`);
  cpSync(stateDir, copy, { recursive: true });
  return copy;
}
