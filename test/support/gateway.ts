/**
 * Fixtures of the gateway suites that run a shard in process (host/gateway/shard.ts): the demo model's engine, a
 * shard of it, an engine that fails where a test says (a trap after it changed the state, memory that runs out),
 * and the bytes of everything a shard holds, to tell whether a message changed anything.
 */
import { createEngine, loadModelBytes } from "../../host/engine/create.js";
import type { Engine, ReadoutLearning, Stream, StreamOptions } from "../../host/engine/engine.js";
import { parseInputTopic, inputTopic } from "../../host/gateway/topics.js";
import { Shard, type Refusal, type ShardConfig } from "../../host/gateway/shard.js";
import type { GatewayConfig } from "../../host/gateway/gateway.js";
import { demoLayout, demoModel } from "./simulated-devices.js";
import { DEFAULT_MAX_PAYLOAD_BYTES } from "../../host/gateway/payload.js";

export const PREFIX = "plant";
export const SHARDS = 4;

export async function demoEngine(seed = 2024): Promise<Engine> {
  return createEngine(loadModelBytes(demoModel(seed).plsm, "demo.plsm"), { engine: "fixed" });
}

/** A shard of the demo layout on `engine`, its refusals gathered in `refusals`. */
export function demoShard(engine: Engine, index: number, options: Partial<ShardConfig> = {}): Shard & { refusals: Refusal[] } {
  const refusals: Refusal[] = [];
  const shard = new Shard({
    engine,
    layout: demoLayout(),
    prefix: PREFIX,
    shards: SHARDS,
    index,
    timePolicy: "reject",
    publish: "every",
    changeThreshold: 0.05,
    maxDevices: 1000,
    maxReadings: 1000,
    maxPayloadBytes: DEFAULT_MAX_PAYLOAD_BYTES,
    learning: null,
    onRefusal: (record) => refusals.push(record),
    ...options,
  });
  return Object.assign(shard, { refusals });
}

/**
 * The configuration of a gateway in process on the demo layout, one instance; what a test gives overrides it.
 * Snapshots and health only at start and stop unless it says otherwise.
 */
export function demoGatewayConfig(
  engine: Engine,
  given: Pick<GatewayConfig, "fingerprint" | "broker" | "prefix" | "shards" | "clientId" | "stateDir" | "log"> & Partial<GatewayConfig>,
): GatewayConfig {
  return {
    engine,
    layout: demoLayout(),
    instance: 0,
    instances: 1,
    publish: "every",
    changeThreshold: 0,
    publishIntervalMs: 1000,
    snapshotIntervalMs: 3_600_000,
    healthIntervalMs: 3_600_000,
    timePolicy: "reject",
    onBadState: "fail",
    maxDevicesPerShard: 1000,
    maxReadings: 1000,
    maxPayloadBytes: DEFAULT_MAX_PAYLOAD_BYTES,
    learning: null,
    outputQos: 1,
    walSync: false,
    ...given,
  };
}

/** A device name of shard `index` (the k-th one found). */
export function deviceOf(index: number, k = 0): string {
  for (let n = 0, found = 0; ; n++) {
    const name = `unit-${n}`;
    if (parseInputTopic(PREFIX, inputTopic(PREFIX, SHARDS, name, "accel"))?.shard === index && found++ === k) return name;
  }
}

/** Sends one message as the gateway does: topic parsed, payload bytes. */
export function send(shard: Shard, topic: string, payload: string | Uint8Array, live = true): ReturnType<Shard["message"]> {
  const parsed = parseInputTopic(PREFIX, topic);
  if (parsed === undefined) throw new Error(`not an input topic: ${topic}`);
  return shard.message(parsed, topic, typeof payload === "string" ? new TextEncoder().encode(payload) : payload, live);
}

/** Everything the shard holds, as bytes and JSON: equal fingerprints mean no message changed anything. */
export function stateOfShard(shard: Shard): string {
  const snapshot = shard.capture(0, { model: "", engine: "", sensors: "", shards: SHARDS, shard: shard.config.index });
  const base64 = (bytes: Uint8Array | null) => (bytes === null ? null : Buffer.from(bytes).toString("base64"));
  return JSON.stringify({ ...snapshot, devices: snapshot.devices.map((d) => ({ ...d, stream: base64(d.stream), readout: base64(d.readout) })) });
}

/** The state of every device, by id, as JSON. */
export function statesOfDevices(shard: Shard): Map<string, string> {
  const all = JSON.parse(stateOfShard(shard)) as { devices: { id: string }[] };
  return new Map(all.devices.map((d) => [d.id, JSON.stringify(d)]));
}

/** The state of one device, or undefined. */
export function stateOfDevice(shard: Shard, id: string): string | undefined {
  return statesOfDevices(shard).get(id);
}

/**
 * `engine` with streams that fail where `faults` says: `push` runs the event and then throws as a wasm trap
 * would (the state half-changed), `learn` takes the readout's learning step and then throws so, `create` makes
 * createStream throw as memory that cannot grow would.
 */
export function faultyEngine(
  engine: Engine,
  faults: { push?: (t: number, x: ArrayLike<number>) => boolean; learn?: () => boolean; create?: () => boolean },
): Engine {
  return {
    kind: engine.kind,
    simd: engine.simd,
    model: engine.model,
    inputFrac: engine.inputFrac,
    memory: () => engine.memory(),
    dispose: () => engine.dispose(),
    createStream(options?: StreamOptions): Stream {
      if (faults.create?.()) throw new RangeError("WebAssembly.Memory.grow(): Maximum memory size exceeded");
      const inner = engine.createStream(options);
      return {
        inputSize: inner.inputSize,
        outputSize: inner.outputSize,
        hiddenSize: inner.hiddenSize,
        push(t, x) {
          inner.push(t, x);
          if (faults.push?.(t, x)) throw new WebAssembly.RuntimeError("unreachable");
        },
        check: (t, x) => inner.check(t, x),
        pushBatch: (t, x, y, h) => inner.pushBatch(t, x, y, h),
        output: () => inner.output(),
        hidden: (layer) => inner.hidden(layer),
        cell: (layer) => inner.cell(layer),
        reset: () => inner.reset(),
        snapshot: () => inner.snapshot(),
        restore: (bytes) => inner.restore(bytes),
        stats: () => inner.stats(),
        dispose: () => inner.dispose(),
        learning: inner.learning && faultyLearning(inner.learning, () => faults.learn?.() ?? false),
      };
    },
  };
}

/** A readout whose learn() takes its step and then throws as a trap would, where `fails` says. */
function faultyLearning(inner: ReadoutLearning, fails: () => boolean): ReadoutLearning {
  return {
    learn(target, rate) {
      const step = inner.learn(target, rate);
      if (fails()) throw new WebAssembly.RuntimeError("unreachable");
      return step;
    },
    get adapted() {
      return inner.adapted;
    },
    get steps() {
      return inner.steps;
    },
    save: () => inner.save(),
    load: (bytes) => inner.load(bytes),
    reset: () => inner.reset(),
  };
}
