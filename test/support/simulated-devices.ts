/**
 * Simulated devices for the gateway's fault tests and load benchmark: a small quantized model with two sensors at
 * different rates, deterministic readings per device, MQTT clients that publish them and collect the
 * predictions, and the in-process run over the same readings that the gateway's results must equal.
 */
import { connect, type MqttClient } from "mqtt";
import type { Engine } from "../../host/engine/engine.js";
import { inputTopic } from "../../host/gateway/topics.js";
import { randomModel } from "../../host/model/init.js";
import type { FloatModel } from "../../host/model/model.js";
import { quantize } from "../../host/model/quantize.js";
import { Rng } from "../../host/rng.js";
import { DeviceInput, SensorStream, parseSensorLayout, type ReadingOutcome, type SensorLayout } from "../../host/gateway/sensors.js";

/** An accelerometer (3 channels, every ~10 ms) and a thermometer (1 channel, every ~100 ms, held, scaled). */
export const DEMO_SENSORS = {
  format: "phasor-sensors",
  version: 1,
  sensors: [
    { name: "accel", channels: 3, slots: [0, 1, 2] },
    { name: "temp", channels: 1, slots: [3], hold: true, offset: [20], scale: [0.1] },
  ],
};

export function demoLayout(): SensorLayout {
  return parseSensorLayout(DEMO_SENSORS, 4, "demo sensors");
}

/** One message a device publishes: `payload` is its exact text (malformed ones included). */
export interface Reading {
  device: string;
  sensor: string;
  seq: number;
  t: number;
  v: number[];
  /** the message text when it is not the plain JSON of seq, t, v (malformed readings) */
  raw?: string;
}

/** The demo model: 4 inputs (the two sensors), `hidden` units, 3 outputs with labels, quantized on demo readings. */
export function demoModel(seed: number, hidden = 16): { model: FloatModel; plsm: Uint8Array } {
  const model = randomModel(new Rng(seed), { inputSize: 4, hidden: [hidden], peephole: true, rOn: 0.1, outputs: 3, mode: "every", tauRange: [20, 400], shiftMax: 200, alpha: 0 });
  model.readout.labels = ["idle", "walk", "run"];
  const layout = demoLayout();
  const calibration = [0, 1, 2].map((k) => {
    const input = new DeviceInput(layout);
    const readings = deviceReadings(`calibration-${k}`, 300, seed + k);
    const t = new Float64Array(readings.length);
    const x = new Float64Array(readings.length * 4);
    readings.forEach((r, e) => {
      input.encode(r.sensor, r.t, r.v);
      t[e] = input.t;
      x.set(input.x, e * 4);
    });
    return { t, x };
  });
  return { model, plsm: quantize(model, calibration, "demo-model").bytes };
}

/**
 * `count` readings of one device, seq 0..count-1: accel about every 10 ms, temp about every 100 ms, irregular
 * gaps, starting at an epoch-millisecond time. The same device name and seed give the same readings.
 */
export function deviceReadings(device: string, count: number, seed: number): Reading[] {
  const rng = new Rng((seed ^ hashName(device)) >>> 0);
  let t = 1.7e12 + Math.floor(rng.uniform(0, 1e6));
  let nextTemp = t;
  const readings: Reading[] = [];
  for (let seq = 0; seq < count; seq++) {
    if (t >= nextTemp) {
      readings.push({ device, sensor: "temp", seq, t, v: [20 + rng.uniform(-5, 5)] });
      nextTemp = t + rng.uniform(80, 120);
    } else {
      readings.push({ device, sensor: "accel", seq, t, v: [rng.uniform(-1, 1), rng.uniform(-1, 1), rng.uniform(-1, 1)] });
    }
    t += rng.uniform(2, 18);
  }
  return readings;
}

function hashName(name: string): number {
  let h = 0;
  for (let k = 0; k < name.length; k++) h = (Math.imul(h, 31) + name.charCodeAt(k)) >>> 0;
  return h;
}

export function readingPayload(reading: Reading, ts?: number): string {
  if (reading.raw !== undefined) return reading.raw;
  return JSON.stringify(ts === undefined ? { seq: reading.seq, t: reading.t, v: reading.v } : { seq: reading.seq, t: reading.t, v: reading.v, ts });
}

/**
 * One message of several readings of a device (docs/gateway.md): consecutive sequence numbers from the first
 * reading's; each reading names its sensor where it is not the first one's (the topic's).
 */
export function batchPayload(readings: Reading[], ts?: number): string {
  const [first] = readings;
  readings.forEach((r, k) => {
    if (r.device !== first.device || r.seq !== first.seq + k) throw new Error("batchPayload: one device's readings with consecutive seq");
  });
  const body = readings.map((r) => (r.sensor === first.sensor ? { t: r.t, v: r.v } : { t: r.t, v: r.v, sensor: r.sensor }));
  return JSON.stringify(ts === undefined ? { seq: first.seq, readings: body } : { seq: first.seq, readings: body, ts });
}

/**
 * What an uninterrupted run gives for one device's readings, in process: the outcome of every reading, y after
 * every applied one (by seq), and the final state bytes. Readings the gateway refuses before the encoder
 * (malformed ones) are left out by the caller.
 */
export function referenceRun(engine: Engine, layout: SensorLayout, readings: Reading[]): { y: Map<number, number[]>; outcomes: ReadingOutcome[]; state: Uint8Array } {
  const device = new SensorStream(engine.createStream(), layout);
  const y = new Map<number, number[]>();
  const outcomes = readings.map((r) => {
    const outcome = device.push(r.sensor, r.t, r.v);
    if (outcome === "accepted" || outcome === "clamped") y.set(r.seq, Array.from(device.stream.output()));
    return outcome;
  });
  const state = device.stream.snapshot();
  device.stream.dispose();
  return { y, outcomes, state };
}

/** An MQTT 5 client with a persistent session (the broker queues QoS 1 messages for it while it is away). */
export async function connectClient(url: string, clientId: string): Promise<MqttClient> {
  const client = connect(url, { clientId, protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 0xffffffff }, reconnectPeriod: 200, connectTimeout: 5000 });
  await new Promise<void>((resolve, reject) => {
    client.once("connect", () => resolve());
    client.once("error", reject);
  });
  client.on("error", () => undefined);
  return client;
}

/**
 * Publishes readings at QoS 1, one message per reading or per array of a device's readings (batchPayload), at
 * most `window` unacknowledged messages at a time (so a broker restart just pauses it: the client keeps the
 * unacknowledged ones and sends them again), optionally stamping `ts` for latency.
 */
export async function publishReadings(client: MqttClient, prefix: string, shards: number, messages: (Reading | Reading[])[], options: { window?: number; stamp?: boolean; topic?: (r: Reading) => string } = {}): Promise<void> {
  const window = options.window ?? 100;
  const inFlight = new Set<Promise<unknown>>();
  for (const message of messages) {
    const reading = Array.isArray(message) ? message[0] : message;
    const topic = options.topic?.(reading) ?? inputTopic(prefix, shards, reading.device, reading.sensor);
    const ts = options.stamp ? Date.now() : undefined;
    const sent = client.publishAsync(topic, Array.isArray(message) ? batchPayload(message, ts) : readingPayload(message, ts), { qos: 1 });
    inFlight.add(sent);
    void sent.finally(() => inFlight.delete(sent));
    if (inFlight.size >= window) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
}

/** Every prediction received, by device and seq; a second copy of one (a redelivery) must be identical. */
export class Collector {
  readonly predictions = new Map<string, Map<number, string>>();
  copies = 0;
  readonly conflicts: string[] = [];
  /** called with each new prediction (not with copies) */
  onPrediction: (device: string, seq: number, payload: string) => void = () => undefined;

  private constructor(readonly client: MqttClient) {}

  static async start(url: string, clientId: string, prefix: string): Promise<Collector> {
    const client = await connectClient(url, clientId);
    const collector = new Collector(client);
    client.on("message", (topic, payload) => collector.take(topic, payload.toString()));
    await client.subscribeAsync(`${prefix}/out/#`, { qos: 1 });
    return collector;
  }

  private take(topic: string, payload: string): void {
    const device = topic.slice(topic.lastIndexOf("/") + 1);
    const seq = (JSON.parse(payload) as { seq: number }).seq;
    let byDevice = this.predictions.get(device);
    if (byDevice === undefined) this.predictions.set(device, (byDevice = new Map()));
    const before = byDevice.get(seq);
    if (before === undefined) {
      byDevice.set(seq, payload);
      this.onPrediction(device, seq, payload);
      return;
    }
    this.copies++;
    if (before !== payload) this.conflicts.push(`${device} seq ${seq}: ${before} then ${payload}`);
  }

  count(): number {
    let n = 0;
    for (const byDevice of this.predictions.values()) n += byDevice.size;
    return n;
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}
