/**
 * A mosquitto of a suite's own and `phasor gateway` processes on examples/tiny-model.json (quantized), for the
 * suites that try one broker behaviour at a time: registers the suite's beforeAll and afterAll (the broker and
 * every gateway and client stopped whatever happened).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { MqttClient } from "mqtt";
import { afterAll, beforeAll, expect } from "vitest";
import { Broker } from "./broker.js";
import { phasor } from "./cli.js";
import { GatewayProcess } from "./gateway-process.js";

export interface TinyGateways {
  dir: string;
  broker: Broker;
  /** clients the suite made, ended in afterAll */
  clients: MqttClient[];
  /** a gateway on the tiny model with its own state folder for `prefix` */
  start(prefix: string, extra?: string[]): GatewayProcess;
}

/** `brokerConfig` gives extra lines of the broker's config (it may write files into the suite's folder first). */
export function tinyGateways(name: string, shards: number, brokerConfig: (dir: string) => string[] = () => []): TinyGateways {
  const gateways: GatewayProcess[] = [];
  const world: TinyGateways = {
    dir: "",
    broker: undefined as unknown as Broker,
    clients: [],
    start(prefix, extra = []) {
      const args = ["--model", join(world.dir, "tiny.plsm"), "--state", join(world.dir, `state-${prefix}`), "--broker", world.broker.url, "--prefix", prefix, "--shards", String(shards), "--health-interval", "60000", ...extra];
      const gateway = new GatewayProcess(args);
      gateways.push(gateway);
      return gateway;
    },
  };
  beforeAll(async () => {
    world.dir = mkdtempSync(join(tmpdir(), `phasor-${name}-`));
    world.broker = await Broker.start(join(world.dir, "broker"), { config: brokerConfig(world.dir) });
    const quantized = phasor(["quantize", "--model", "examples/tiny-model.json", "--calib", "examples/events.ndjson", "--out", join(world.dir, "tiny.plsm")]);
    expect(quantized.status, quantized.stderr).toBe(0);
  });
  afterAll(async () => {
    for (const gateway of gateways) if (gateway.child.exitCode === null) await gateway.kill();
    for (const client of world.clients) await client.endAsync(true).catch(() => undefined);
    await world.broker?.stop("kill");
    rmSync(world.dir, { recursive: true, force: true });
  });
  return world;
}
