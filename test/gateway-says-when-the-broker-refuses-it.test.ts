/**
 * A broker that refuses some of what the gateway publishes (mosquitto with an ACL): before, a refused prediction
 * or dead letter was dropped without a word (its WAL segment kept for ever, waiting for an acknowledgement that
 * would never come), and the gateway looked healthy. Now every refusal is counted in the health record and said on
 * the log, once per reason; and a broker that refuses the claim of the client id stops the start with one line.
 */
import "../host/node.js";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { inputTopic } from "../host/gateway/topics.js";
import { waitUntil, withTimeout } from "./support/gateway-process.js";
import { connectClient } from "./support/simulated-devices.js";
import { tinyGateways } from "./support/tiny-gateways.js";

const SHARDS = 2;

const world = tinyGateways("acl", SHARDS, (dir) => {
  // prefix "noout": everything but the predictions and dead letters; prefix "noclaim": only the readings
  const acl = ["topic readwrite noout/in/#", "topic readwrite noout/claim/#", "topic readwrite noout/health/#", "topic readwrite noclaim/in/#", ""];
  writeFileSync(join(dir, "acl"), acl.join("\n"));
  return [`acl_file ${join(dir, "acl")}`];
});

describe("a broker that refuses what the gateway publishes", () => {
  it("refused predictions are counted and said once per reason; the readings are applied all the same", async () => {
    const gateway = world.start("noout");
    await gateway.waitFor("ready");
    const publisher = await connectClient(world.broker.url, "acl-publisher");
    world.clients.push(publisher);
    for (let seq = 1; seq <= 3; seq++) await publisher.publishAsync(inputTopic("noout", SHARDS, "dev-a", "x"), `{"seq":${seq},"t":${seq},"v":[0.5]}`, { qos: 1 });
    await waitUntil(() => gateway.records.some((r) => r.event === "publish-failed"), 20_000, () => "a publish-failed line");
    await new Promise((resolve) => setTimeout(resolve, 300));
    const stopped = await gateway.stop();
    expect(stopped.applied).toBe(3);
    expect(stopped.publishFailures).toBe(3);
    // the refusal is the broker's answer: the WAL does not wait for another one (before: kept for ever, and
    // published again, to be refused again, by every start)
    expect(stopped.wal).toEqual({ segments: 0, entries: 0 });
    expect(gateway.records.filter((r) => r.event === "publish-failed")).toEqual([
      { event: "publish-failed", topic: expect.stringMatching(/^noout\/out\/\d\/dev-a$/), message: "Publish error: Not authorized" },
    ]);
  });

  it("a refused claim of the client id stops the start with one line and exit status 1", async () => {
    const gateway = world.start("noclaim");
    expect(await withTimeout(gateway.exited, 20_000, "the gateway did not stop")).toBe(1);
    expect(gateway.stderr).toMatch(/^phasor gateway: noclaim\/claim\/[0-9a-f]+: cannot claim the client id "phasor-noclaim-0of1-2": Publish error: Not authorized \(the gateway publishes and subscribes there: docs\/gateway\.md\)\n$/);
  });
});
