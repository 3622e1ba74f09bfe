/**
 * The gateway's load figure (docs/gateway.md, "Load"): one `phasor gateway` process, a mosquitto of its own on a
 * loopback port, 1,000 simulated devices. Measures
 *   1. throughput: every device's readings published as fast as the broker takes them (QoS 1, a window of
 *      unacknowledged messages), events/s = readings / (first publish to last prediction received); with
 *      `--batch 1,10,100`, once for each number of readings per message, one after the other against the same
 *      gateway and broker (`--rounds` repeats the sequence), so that the figures are side by side;
 *   2. latency: readings offered at a fixed fraction of the first throughput, in messages of the first batch
 *      size, publish-to-prediction time p50 / p99 / max (the publisher stamps "ts", the gateway copies it into
 *      every prediction, the collector subtracts).
 * Publisher and collector share this process, the gateway and the broker run in their own: on a small machine
 * they all compete for the same cores, and the figure is for the whole pipeline.
 *
 *   npx tsx tools/experiments/gateway-bench.ts [--devices 1000] [--readings 40] [--batch 1] [--rounds 1] [--hidden 16]
 *                                              [--engine fixed|float] [--window 2000] [--load 0.5] [--seconds 10] [--wal-sync] [--json]
 */
import "../../host/node.js";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseFlags } from "../cli/command.js";
import { Broker } from "../../test/support/broker.js";
import { Collector, DEMO_SENSORS, connectClient, demoModel, deviceReadings, publishReadings, type Reading } from "../../test/support/simulated-devices.js";

const FLAGS = {
  devices: { kind: "number", integer: true, min: 1, default: 1000, help: "simulated devices" },
  readings: { kind: "number", integer: true, min: 2, default: 40, help: "readings per device in a throughput run (rounded up to a multiple of the largest --batch)" },
  batch: { kind: "string", value: "N,N,...", help: "readings per message, one throughput run for each (default 1)" },
  rounds: { kind: "number", integer: true, min: 1, default: 1, help: "times the throughput runs of every --batch are repeated, in turn" },
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
const batches = (flags.batch ?? "1").split(",").map((text) => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new Error(`gateway-bench: --batch ${flags.batch}: expected numbers of readings per message from 1 to 1000, like 1,10,100`);
  return n;
});
const perRun = Math.ceil(flags.readings / Math.max(...batches)) * Math.max(...batches);
const dir = mkdtempSync(join(tmpdir(), "phasor-gateway-bench-"));
const broker = await Broker.start(join(dir, "broker"));
const { plsm, model } = demoModel(99, flags.hidden);
writeFileSync(join(dir, "model.plsm"), plsm);
writeFileSync(join(dir, "sensors.json"), JSON.stringify(DEMO_SENSORS));
const gatewayArgs = [
  ...(process.env.GATEWAY_BENCH_PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${process.env.GATEWAY_BENCH_PROFILE}`] : []),
  "--import", "tsx", "tools/cli/phasor.ts", "gateway", "--model", join(dir, "model.plsm"), "--sensors", join(dir, "sensors.json"),
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
  const throughputReadings = flags.rounds * batches.length * perRun;
  // the same seed gives the same readings, longer lists only add to the end: the latency run continues each device
  let perDevice = devices.map((d) => deviceReadings(d, 1 + throughputReadings, 5));
  /** the readings of seq in [from, to) of every device, `batch` of one device to a message, devices interleaved */
  const slice = (from: number, to: number, batch = 1): (Reading | Reading[])[] => {
    const out: (Reading | Reading[])[] = [];
    for (let seq = from; seq < to; seq += batch) for (const readings of perDevice) out.push(batch === 1 ? readings[seq] : readings.slice(seq, Math.min(seq + batch, to)));
    return out;
  };

  // warm-up: every device's first reading (creates the 1,000 streams)
  await publishReadings(publisher, PREFIX, SHARDS, slice(0, 1), { stamp: true, window: flags.window });
  await until(() => collector.count() >= devices.length, MAX_WAIT_MS, "warm-up predictions");

  // 1. throughput, for each number of readings per message in turn
  const runs: { batch: number; round: number; events: number; messages: number; seconds: number; eventsPerSec: number; publishSeconds: number; latency: ReturnType<typeof percentiles> }[] = [];
  let next = 1;
  for (let round = 0; round < flags.rounds; round++) {
    for (const batch of batches) {
      latencies = [];
      const burst = slice(next, next + perRun, batch);
      next += perRun;
      const events = perRun * devices.length;
      const target = collector.count() + events;
      const began = performance.now();
      await publishReadings(publisher, PREFIX, SHARDS, burst, { stamp: true, window: flags.window });
      const published = performance.now();
      await until(() => collector.count() >= target, MAX_WAIT_MS, `throughput predictions, ${batch} readings per message`);
      const seconds = (performance.now() - began) / 1000;
      runs.push({ batch, round, events, messages: burst.length, seconds, eventsPerSec: events / seconds, publishSeconds: (published - began) / 1000, latency: percentiles(latencies) });
    }
  }
  const throughput = runs[0];

  // 2. latency at a fixed offered rate, paced in 10 ms ticks, in messages of the first batch size
  latencies = [];
  const batch = batches[0];
  const rate = throughput.eventsPerSec * flags.load;
  const total = Math.round(rate * flags.seconds);
  const latencyReadings = Math.ceil(total / devices.length / batch) * batch;
  perDevice = devices.map((d) => deviceReadings(d, next + latencyReadings, 5));
  const paced = slice(next, next + latencyReadings, batch).slice(0, Math.ceil(total / batch));
  const pacedEvents = paced.reduce((n, m) => n + (Array.isArray(m) ? m.length : 1), 0);
  const latencyTarget = collector.count() + pacedEvents;
  const start = performance.now();
  let sent = 0;
  const pending: Promise<void>[] = [];
  while (sent < paced.length) {
    const due = Math.min(paced.length, Math.floor(((performance.now() - start) / 1000) * (rate / batch)));
    if (due > sent) {
      pending.push(publishReadings(publisher, PREFIX, SHARDS, paced.slice(sent, due), { stamp: true, window: flags.window }));
      sent = due;
    }
    await sleep(10);
  }
  await Promise.all(pending);
  await until(() => collector.count() >= latencyTarget, MAX_WAIT_MS, "latency-run predictions");
  const latency = { batch, offeredEventsPerSec: rate, events: pacedEvents, ...percentiles(latencies) };

  const result = {
    devices: devices.length,
    model: { inputSize: model.inputSize, hidden: flags.hidden, outputs: model.readout.outputSize },
    engine: flags.engine,
    walSync: flags["wal-sync"],
    throughput: runs,
    latency,
    cores: (await import("node:os")).cpus().length,
  };
  if (flags.json) console.log(JSON.stringify(result));
  else {
    console.log(`gateway load, ${devices.length} devices, model I=${model.inputSize} H=${flags.hidden} O=${model.readout.outputSize}, ${flags.engine} engine, ${result.cores} cores, broker, gateway and clients on one machine`);
    for (const run of runs) {
      console.log(
        `throughput, ${run.batch} reading${run.batch === 1 ? "" : "s"} per message${flags.rounds > 1 ? ` (round ${run.round + 1})` : ""}: ${run.events} events in ${run.messages} messages, ${run.seconds.toFixed(2)} s = ` +
          `${Math.round(run.eventsPerSec)} events/s, ${Math.round(run.messages / run.seconds)} messages/s (publish-to-prediction under that load: p50 ${run.latency.p50} ms, p99 ${run.latency.p99} ms)`,
      );
    }
    console.log(`latency at ${Math.round(rate)} events/s (${Math.round(flags.load * 100)} % of the first throughput), ${batch} reading${batch === 1 ? "" : "s"} per message: p50 ${latency.p50} ms, p99 ${latency.p99} ms, max ${latency.max} ms over ${latency.events} events`);
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
