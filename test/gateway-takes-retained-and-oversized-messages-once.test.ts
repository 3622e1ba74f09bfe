/**
 * Messages the broker hands over that the other gateway suites do not send, against a real mosquitto:
 * - readings a device published with the retain flag: the broker keeps the last one of each topic and hands it to
 *   a subscription when it is made. The gateway subscribes at every start, on the same persistent session; each
 *   retained message must reach it once, not once more per start, so that a good reading is not counted again as
 *   a duplicate and a refused one is not counted and dead-lettered again;
 * - a message larger than --max-payload-bytes: refused before it is decoded, and recorded in the WAL by its first
 *   64 KiB and its size, so that a few large messages cannot make a WAL segment the next start cannot read.
 */
import "../host/node.js";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DEFAULT_MAX_PAYLOAD_BYTES } from "../host/gateway/payload.js";
import { inputTopic, shardOf } from "../host/gateway/topics.js";
import { waitUntil, withTimeout } from "./support/gateway-process.js";
import { Collector, connectClient } from "./support/simulated-devices.js";
import { tinyGateways } from "./support/tiny-gateways.js";

const PREFIX = "retained";
const SHARDS = 4;

const world = tinyGateways("retained", SHARDS);

describe("retained readings", () => {
  it("are taken once by the first start, and not again by the next ones on the same session", async () => {
    const publisher = await connectClient(world.broker.url, "retained-publisher");
    world.clients.push(publisher);
    const topic = (device: string) => inputTopic(PREFIX, SHARDS, device, "x");
    // before any gateway: what the first subscription finds retained (a good reading, a malformed one, one of a
    // bad topic); and, with the gateway running, one more retained reading that it gets live
    await publisher.publishAsync(topic("dev-a"), '{"seq":1,"t":0,"v":[0.5]}', { qos: 1, retain: true });
    await publisher.publishAsync(topic("dev-b"), "garbage", { qos: 1, retain: true });
    await publisher.publishAsync(`${PREFIX}/in/${shardOf("dev-c", SHARDS)}/dev-c`, '{"seq":1,"t":0,"v":[0.5]}', { qos: 1, retain: true });
    const collector = await Collector.start(world.broker.url, "retained-collector", PREFIX);

    const counts = (stopped: Record<string, unknown>) => {
      const rejected = stopped.rejected as Record<string, number>;
      return { received: stopped.received, applied: stopped.applied, duplicates: stopped.duplicates, malformed: rejected.malformed, badTopic: rejected.badTopic };
    };
    // a reading published after the gateway is ready reaches it after what its subscription brought: once its
    // prediction is in, every retained message the broker sent at the subscription has been handled
    const runOnce = async (marker: number, retainLive: boolean) => {
      const gateway = world.start(PREFIX);
      await gateway.waitFor("ready");
      await publisher.publishAsync(topic("dev-d"), `{"seq":${marker},"t":${marker},"v":[0.25]}`, { qos: 1, retain: retainLive });
      await waitUntil(() => collector.predictions.get("dev-d")?.has(marker) === true, 20_000, () => `the prediction of dev-d's reading ${marker}`);
      const stopped = await gateway.stop();
      return { counts: counts(stopped), refused: gateway.records.filter((r) => r.event === "refused").map((r) => r.reason) };
    };

    const first = await runOnce(1, true);
    expect(first.counts).toEqual({ received: 4, applied: 2, duplicates: 0, malformed: 1, badTopic: 1 });
    expect(first.refused.sort()).toEqual(["badTopic", "malformed"]);
    for (const marker of [2, 3]) {
      const next = await runOnce(marker, false);
      // before: each start got all four retained messages again (received 5, duplicates +2, malformed and
      // badTopic +1, two more refusals logged and dead-lettered)
      expect(next.counts, `start ${marker}`).toEqual({ received: 1, applied: marker + 1, duplicates: 0, malformed: 1, badTopic: 1 });
      expect(next.refused, `start ${marker}`).toEqual([]);
    }
    expect([...(collector.predictions.get("dev-a")?.keys() ?? [])]).toEqual([1]);
    await collector.close();
  });
});

describe("a message larger than --max-payload-bytes", () => {
  it("(default 1 MiB) is refused as malformed with its size, its WAL entry keeps 64 KiB of it, and a kill and replay count it once", async () => {
    const prefix = "large";
    const device = "dev-large";
    const shard = shardOf(device, SHARDS);
    // no snapshot but the one at start: the kill leaves the messages in the WAL, to be replayed
    const flags = ["--snapshot-interval", "3600000"];
    const collector = await Collector.start(world.broker.url, "large-collector", prefix);
    const letters: string[] = [];
    const watcher = await connectClient(world.broker.url, "large-dead-letters");
    world.clients.push(watcher);
    watcher.on("message", (_topic, payload) => letters.push(payload.toString()));
    await watcher.subscribeAsync(`${prefix}/dead/#`, { qos: 1 });
    const publisher = await connectClient(world.broker.url, "large-publisher");
    world.clients.push(publisher);

    const first = world.start(prefix, flags);
    await first.waitFor("ready");
    // a well-formed reading padded to 3 MiB (before: applied, and written whole, base64, to the WAL), then a
    // small one that is applied
    const large = `{"seq":1,"t":0,"v":[0.5],"pad":"${"x".repeat(3 << 20)}"}`;
    const topic = inputTopic(prefix, SHARDS, device, "x");
    await publisher.publishAsync(topic, large, { qos: 1 });
    await publisher.publishAsync(topic, '{"seq":2,"t":1,"v":[0.25]}', { qos: 1 });
    await waitUntil(() => collector.predictions.get(device)?.has(2) === true, 20_000, () => "the prediction of the small reading");
    await waitUntil(() => letters.length === 1, 20_000, () => "the dead letter of the large message");
    const letter = JSON.parse(letters[0]) as { payloadBytes: number; payload: string; refused: { reason: string; message: string }[] };
    expect(letter.payloadBytes).toBe(large.length);
    expect(letter.payload).toBe(large.slice(0, 1 << 16));
    expect(letter.refused).toEqual([{ reason: "malformed", message: `${large.length} bytes, at most ${DEFAULT_MAX_PAYLOAD_BYTES} per message (--max-payload-bytes)` }]);
    expect([...collector.predictions.get(device)!.keys()]).toEqual([2]);

    await first.kill();
    const walDir = join(world.dir, `state-${prefix}`, `shard-${shard}`);
    const wal = readdirSync(walDir).filter((name) => name.startsWith("wal-")).map((name) => readFileSync(join(walDir, name), "utf8")).join("");
    expect(wal.split("\n").filter((line) => line !== "")).toHaveLength(2);
    expect(wal.length).toBeLessThan(200_000);

    // the replay refuses it again from what the WAL kept: counted once, the same dead letter
    const second = world.start(prefix, flags);
    await second.waitFor("ready");
    const stopped = await withTimeout(second.stop(), 20_000, "the second gateway's stop");
    expect(stopped.replayed).toBe(2);
    expect(stopped.applied).toBe(1);
    expect((stopped.rejected as Record<string, number>).malformed).toBe(1);
    await waitUntil(() => letters.length === 2, 20_000, () => "the dead letter published again by the replay");
    expect(letters[1]).toBe(letters[0]);
    await collector.close();
  });
});
