/**
 * Readings a device published with the retain flag, against a real mosquitto: the broker keeps the last one of
 * each topic and hands it to a subscription when it is made. The gateway subscribes at every start, on the same
 * persistent session; each retained message must reach it once, not once more per start, so that a good reading is
 * not counted again as a duplicate and a refused one is not counted and dead-lettered again.
 */
import "../host/node.js";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inputTopic, shardOf } from "../host/gateway/topics.js";
import { Broker } from "./support/broker.js";
import { phasor } from "./support/cli.js";
import { GatewayProcess, waitUntil } from "./support/gateway-process.js";
import { Collector, connectClient } from "./support/simulated-devices.js";

const PREFIX = "retained";
const SHARDS = 4;

let dir: string;
let broker: Broker;
const gateways: GatewayProcess[] = [];
const clients: MqttClient[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "phasor-retained-"));
  broker = await Broker.start(join(dir, "broker"));
  const quantized = phasor(["quantize", "--model", "examples/tiny-model.json", "--calib", "examples/events.ndjson", "--out", join(dir, "tiny.plsm")]);
  expect(quantized.status, quantized.stderr).toBe(0);
});

afterAll(async () => {
  for (const gateway of gateways) if (gateway.child.exitCode === null) await gateway.kill();
  for (const client of clients) await client.endAsync(true).catch(() => undefined);
  await broker?.stop("kill");
  rmSync(dir, { recursive: true, force: true });
});

function start(): GatewayProcess {
  const args = ["--model", join(dir, "tiny.plsm"), "--state", join(dir, "state"), "--broker", broker.url, "--prefix", PREFIX, "--shards", String(SHARDS), "--health-interval", "60000"];
  const gateway = new GatewayProcess(args);
  gateways.push(gateway);
  return gateway;
}

describe("retained readings", () => {
  it("are taken once by the first start, and not again by the next ones on the same session", async () => {
    const publisher = await connectClient(broker.url, "retained-publisher");
    clients.push(publisher);
    const topic = (device: string) => inputTopic(PREFIX, SHARDS, device, "x");
    // before any gateway: what the first subscription finds retained (a good reading, a malformed one, one of a
    // bad topic); and, with the gateway running, one more retained reading that it gets live
    await publisher.publishAsync(topic("dev-a"), '{"seq":1,"t":0,"v":[0.5]}', { qos: 1, retain: true });
    await publisher.publishAsync(topic("dev-b"), "garbage", { qos: 1, retain: true });
    await publisher.publishAsync(`${PREFIX}/in/${shardOf("dev-c", SHARDS)}/dev-c`, '{"seq":1,"t":0,"v":[0.5]}', { qos: 1, retain: true });
    const collector = await Collector.start(broker.url, "retained-collector", PREFIX);

    const counts = (stopped: Record<string, unknown>) => {
      const rejected = stopped.rejected as Record<string, number>;
      return { received: stopped.received, applied: stopped.applied, duplicates: stopped.duplicates, malformed: rejected.malformed, badTopic: rejected.badTopic };
    };
    // a reading published after the gateway is ready reaches it after what its subscription brought: once its
    // prediction is in, every retained message the broker sent at the subscription has been handled
    const runOnce = async (marker: number, retainLive: boolean) => {
      const gateway = start();
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
