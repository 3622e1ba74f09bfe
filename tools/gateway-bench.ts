/**
 * The gateway's load figure (docs/gateway.md, "Load"): one `phasor gateway` process, a mosquitto of its own on a
 * loopback port, 1,000 simulated devices. Measures
 *   1. throughput: every device's readings published as fast as the broker takes them (QoS 1, a window of
 *      unacknowledged messages), events/s = readings / (first publish to last prediction received);
 *   2. latency: readings offered at a fixed fraction of that rate, publish-to-prediction time p50 / p99 / max
 *      (the publisher stamps "ts", the gateway copies it into the prediction, the collector subtracts).
 * Publisher and collector share this process, the gateway and the broker run in their own: on a small machine
 * they all compete for the same cores, and the figure is for the whole pipeline.
 *
 *   npx tsx tools/gateway-bench.ts [--devices 1000] [--readings 40] [--hidden 16] [--engine fixed|float]
 *                                  [--window 2000] [--load 0.5] [--seconds 10] [--wal-sync] [--json]
 */
import "../host/node.js";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseFlags } from "./command.js";
import { Broker } from "./gateway/broker.js";
import { Collector, DEMO_SENSORS, connectClient, demoModel, deviceReadings, publishReadings, type Reading } from "./gateway/simulate.js";

const FLAGS = {
  devices: { kind: "number", integer: true, min: 1, default: 1000, help: "simulated devices" },
  readings: { kind: "number", integer: true, min: 2, default: 40, help: "readings per device in the throughput run" },
  hidden: { kind: "number", integer: true, min: 1, default: 16, help: "hidden units of the demo model" },
  engine: { kind: "enum", values: ["fixed", "float"], default: "fixed", help: "engine the gateway runs" },
  window: { kind: "number", integer: true, min: 1, default: 2000, help: "unacknowledged publishes at a time in the throughput run" },
  load: { kind: "number", min: 0.01, default: 0.5, help: "offered rate of the latency run, as a fraction of the measured throughput" },
  seconds: { kind: "number", min: 1, default: 10, help: "length of the latency run" },
  "wal-sync": { kind: "boolean", help: "run the gateway with --wal-sync" },
  json: { kind: "boolean", help: "print one JSON line instead of the table" },
} as const;

const PREFIX = "bench";
const SHARDS = 16;
const MAX_WAIT_MS = 120_000;

const { flags } = parseFlags(process.argv.slice(2), FLAGS);
const dir = mkdtempSync(join(tmpdir(), "phasor-gateway-bench-"));
const broker = await Broker.start(join(dir, "broker"));
const { plsm, model } = demoModel(99, flags.hidden);
writeFileSync(join(dir, "model.plsm"), plsm);
writeFileSync(join(dir, "sensors.json"), JSON.stringify(DEMO_SENSORS));
const gatewayArgs = [
  ...(process.env.GATEWAY_BENCH_PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${process.env.GATEWAY_BENCH_PROFILE}`] : []),
  "--import", "tsx", "tools/phasor.ts", "gateway", "--model", join(dir, "model.plsm"), "--sensors", join(dir, "sensors.json"),
  "--engine", flags.engine, "--state", join(dir, "state"), "--broker", broker.url, "--prefix", PREFIX, "--shards", String(SHARDS),
  "--health-interval", "600000", ...(flags["wal-sync"] ? ["--wal-sync"] : []),
];
const gateway = spawn(process.execPath, gatewayArgs, { stdio: ["ignore", "pipe", "inherit"] });
let log = "";
gateway.stdout.on("data", (chunk: Buffer) => (log += chunk.toString()));

try {
  await until(() => log.includes('"event":"ready"'), 30_000, "the gateway did not become ready");
  const collector = await Collector.start(broker.url, "bench-collector", PREFIX);
  const publisher = await connectClient(broker.url, "bench-publisher");
  let latencies: number[] = [];
  collector.onPrediction = (_device, _seq, payload) => latencies.push(Date.now() - (JSON.parse(payload) as { ts: number }).ts);

  const devices = Array.from({ length: flags.devices }, (_, k) => `bench-${k}`);
  // the same seed gives the same readings, longer lists only add to the end: the latency run continues each device
  let perDevice = devices.map((d) => deviceReadings(d, 1 + flags.readings, 5));
  const slice = (from: number, to: number): Reading[] => {
    const out: Reading[] = [];
    for (let seq = from; seq < to; seq++) for (const readings of perDevice) out.push(readings[seq]);
    return out;
  };

  // warm-up: every device's first reading (creates the 1,000 streams)
  await publishReadings(publisher, PREFIX, SHARDS, slice(0, 1), { stamp: true, window: flags.window });
  await until(() => collector.count() >= devices.length, MAX_WAIT_MS, "warm-up predictions");

  // 1. throughput
  latencies = [];
  const burst = slice(1, 1 + flags.readings);
  const target = collector.count() + burst.length;
  const began = performance.now();
  await publishReadings(publisher, PREFIX, SHARDS, burst, { stamp: true, window: flags.window });
  const published = performance.now();
  await until(() => collector.count() >= target, MAX_WAIT_MS, "throughput predictions");
  const seconds = (performance.now() - began) / 1000;
  const throughput = { events: burst.length, seconds, eventsPerSec: burst.length / seconds, publishSeconds: (published - began) / 1000, latency: percentiles(latencies) };

  // 2. latency at a fixed offered rate, paced in 10 ms ticks
  latencies = [];
  const rate = throughput.eventsPerSec * flags.load;
  const total = Math.round(rate * flags.seconds);
  perDevice = devices.map((d) => deviceReadings(d, 1 + flags.readings + Math.ceil(total / devices.length), 5));
  const paced = slice(1 + flags.readings, 1 + flags.readings + Math.ceil(total / devices.length)).slice(0, total);
  const latencyTarget = collector.count() + paced.length;
  const start = performance.now();
  let sent = 0;
  const pending: Promise<void>[] = [];
  while (sent < paced.length) {
    const due = Math.min(paced.length, Math.floor(((performance.now() - start) / 1000) * rate));
    if (due > sent) {
      pending.push(publishReadings(publisher, PREFIX, SHARDS, paced.slice(sent, due), { stamp: true, window: flags.window }));
      sent = due;
    }
    await sleep(10);
  }
  await Promise.all(pending);
  await until(() => collector.count() >= latencyTarget, MAX_WAIT_MS, "latency-run predictions");
  const latency = { offeredEventsPerSec: rate, events: paced.length, ...percentiles(latencies) };

  const result = {
    devices: devices.length,
    model: { inputSize: model.inputSize, hidden: flags.hidden, outputs: model.readout.outputSize },
    engine: flags.engine,
    walSync: flags["wal-sync"],
    throughput,
    latency,
    cores: (await import("node:os")).cpus().length,
  };
  if (flags.json) console.log(JSON.stringify(result));
  else {
    console.log(`gateway load, ${devices.length} devices, model I=${model.inputSize} H=${flags.hidden} O=${model.readout.outputSize}, ${flags.engine} engine, ${result.cores} cores, broker, gateway and clients on one machine`);
    console.log(`throughput: ${throughput.events} events in ${seconds.toFixed(2)} s = ${Math.round(throughput.eventsPerSec)} events/s (publish-to-prediction under that load: p50 ${throughput.latency.p50} ms, p99 ${throughput.latency.p99} ms)`);
    console.log(`latency at ${Math.round(rate)} events/s (${Math.round(flags.load * 100)} % of that): p50 ${latency.p50} ms, p99 ${latency.p99} ms, max ${latency.max} ms over ${latency.events} events`);
  }
  await collector.close();
  await publisher.endAsync(true);
} finally {
  gateway.kill("SIGTERM");
  await new Promise((resolve) => gateway.once("exit", resolve));
  await broker.stop();
  rmSync(dir, { recursive: true, force: true });
}

function percentiles(values: number[]): { p50: number; p99: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return { p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] ?? NaN };
}

async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`gateway-bench: timed out: ${what}`);
    await sleep(5);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
