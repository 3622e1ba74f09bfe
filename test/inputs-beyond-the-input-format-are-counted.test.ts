/**
 * The fixed engine holds a layer-0 input as round(x 2^inputFrac) in i16, inputFrac set by the quantizer from the
 * largest calibration |x|; an input beyond 32767 / 2^inputFrac saturates to it (docs/fixed-point.md). Before, that
 * was silent: a sensor reading ten times the calibration's range ran as the range's edge, and nothing said so.
 * Now a stream's stats count such inputs (inputsSaturated, kept in its snapshots), and `phasor run` and phasor-wasi
 * warn with the count, the bound and the line of the first.
 */
import "../host/node.js";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEngine, loadModelBytes } from "../host/engine/create.js";
import type { Engine } from "../host/engine/engine.js";
import { ReferenceEngine } from "../host/engine/reference.js";
import { modelToJson } from "../host/model/model.js";
import { quantize } from "../host/model/quantize.js";
import { Gateway } from "../host/gateway/gateway.js";
import { ShardLog, loadShard, shardDirectory } from "../host/gateway/state.js";
import { inputTopic } from "../host/gateway/topics.js";
import { phasor } from "./support/cli.js";
import { PREFIX, SHARDS, demoEngine, demoGatewayConfig, deviceOf } from "./support/gateway.js";
import { rejection } from "./support/engines.js";
import { Rng, randomModel } from "./support/random.js";
import { runNodeWasi } from "./support/wasi.js";

// three inputs; calibration inputs within +-0.75 on every channel, so that inputFrac is 15 (|x| up to 32767 / 2^15)
const model = randomModel(new Rng(41), { inputSize: 3, hidden: [6], peephole: true, rOn: 0.3, outputs: 2, mode: "last" });
const calibration = [0, 1].map((k) => {
  const n = 200;
  const t = Float64Array.from({ length: n }, (_, e) => e * 1.5 + k);
  const x = Float64Array.from({ length: n * 3 }, (_, i) => 0.75 * Math.sin(i * 0.7 + k));
  return { t, x };
});
const quantized = quantize(model, calibration, "m.json");
const LIMIT = 32767 / 2 ** 15;

let dir: string;
const engines: Engine[] = [];
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "phasor-saturation-"));
  writeFileSync(join(dir, "m.plsm"), quantized.bytes);
  writeFileSync(join(dir, "m.json"), JSON.stringify(modelToJson(model)));
});
afterAll(() => {
  for (const engine of engines) engine.dispose();
  rmSync(dir, { recursive: true, force: true });
});

async function fixed(simd: "on" | "off"): Promise<Engine> {
  const engine = await createEngine(loadModelBytes(quantized.bytes, "m.plsm"), { engine: "fixed", simd });
  engines.push(engine);
  return engine;
}

/** Events at t = 0, 1, ...: each row three inputs. */
function batch(rows: number[][]): { t: Float64Array; x: Float64Array } {
  return { t: Float64Array.from(rows, (_, e) => e), x: Float64Array.from(rows.flat()) };
}

describe("a fixed stream counts the inputs it saturates", () => {
  it("has the quantizer's input format: the test's bound holds", async () => {
    expect(quantized.plan.inputFrac).toBe(15);
    expect((await fixed("off")).inputFrac).toBe(15);
  });

  for (const simd of ["on", "off"] as const) {
    it(`counts each value beyond +-32767 / 2^inputFrac, none within (${simd === "on" ? "SIMD" : "scalar"} build)`, async () => {
      const stream = (await fixed(simd)).createStream();
      // within: 0, the bound itself, just under it, -bound; beyond: 1.01 bound, -1.01 bound, 100 bound
      const { t, x } = batch([
        [0, LIMIT, -LIMIT],
        [0.999 * LIMIT, 1.01 * LIMIT, 0],
        [-1.01 * LIMIT, 100 * LIMIT, 0.5],
      ]);
      stream.pushBatch(t, x);
      expect(stream.stats().inputsSaturated).toBe(3);
      // one at a time, as push() takes them, the same count goes on
      stream.push(3, [0, 0, -1e30]);
      stream.push(4, [0.1, 0.2, 0.3]);
      expect(stream.stats()).toMatchObject({ events: 5, inputsSaturated: 4 });
      // kept in the snapshot and put back by restore, on another stream of the engine
      const snapshot = stream.snapshot();
      const restored = (await fixed(simd)).createStream();
      restored.restore(snapshot);
      expect(restored.stats().inputsSaturated).toBe(4);
      // reset starts the count again
      stream.reset();
      expect(stream.stats().inputsSaturated).toBe(0);
    });
  }

  it("a saturated input runs as the bound itself: the same outputs as the bound, unlike the float engine's", async () => {
    const engine = await fixed("on");
    const [at, beyond] = [engine.createStream(), engine.createStream()];
    at.push(0, [LIMIT, 0, 0]);
    beyond.push(0, [5 * LIMIT, 0, 0]);
    expect(Array.from(beyond.output())).toEqual(Array.from(at.output()));
    expect([at.stats().inputsSaturated, beyond.stats().inputsSaturated]).toEqual([0, 1]);
  });

  it("is 0 on the float and reference engines, which take any finite input as it is", async () => {
    const float = await createEngine(model, { engine: "float", simd: "on" });
    engines.push(float);
    const reference = new ReferenceEngine(model);
    expect([float.inputFrac, reference.inputFrac]).toEqual([null, null]);
    for (const engine of [float, reference]) {
      const stream = engine.createStream();
      const { t, x } = batch([[100, -100, 1e30]]);
      stream.pushBatch(t, x);
      expect(stream.stats().inputsSaturated).toBe(0);
    }
  });

  it("refuses a snapshot that counts more saturated inputs than its events held", async () => {
    const stream = (await fixed("off")).createStream();
    const { t, x } = batch([[9, 9, 9], [0, 0, 0]]);
    stream.pushBatch(t, x);
    expect(stream.stats().inputsSaturated).toBe(3);
    const snapshot = stream.snapshot();
    const view = new DataView(snapshot.buffer, snapshot.byteOffset, snapshot.byteLength);
    // the count is the i64 at byte 48 of the stream header (assembly/model.ts, S_SATURATED): 2 events of 3 inputs hold 6
    expect(view.getBigInt64(48, true)).toBe(3n);
    view.setBigInt64(48, 6n, true);
    stream.restore(snapshot);
    expect(stream.stats().inputsSaturated).toBe(6);
    for (const bad of [7n, -1n]) {
      view.setBigInt64(48, bad, true);
      const err = rejection(() => stream.restore(snapshot), "bad-input", "restore");
      expect(err.message).toMatch(/stream header is corrupt/);
    }
  });
});

describe("phasor run and phasor-wasi warn of saturated inputs", () => {
  const lines = [
    '{"t":0,"x":[0.1,0.2,0.3],"seq":"a"}',
    '{"t":1,"x":[0.1,3,0.3],"seq":"a"}',
    '{"t":2,"x":[-5,3,0.3],"seq":"a"}',
    '{"t":0,"x":[0.1,0.2,0.3],"seq":"b"}',
    '{"t":1,"x":[0.1,0.2,1e6],"seq":"b"}',
  ];
  const warning = (program: string, file: string) =>
    `${program}: warning: 4 input values were beyond what the model's fixed-point input holds (|x| at most 32767 / 2^15 = ${LIMIT}, ` +
    `set from its calibration events) and saturated to it, the first at ${file}:2: quantize the model again on calibration events ` +
    "that span the inputs' range, or run the float model\n";

  it("phasor run: the count over every sequence, the bound, the first line; the outputs as before", () => {
    const events = join(dir, "beyond.ndjson");
    writeFileSync(events, lines.join("\n") + "\n");
    for (const emit of ["every", "last"]) {
      const run = phasor(["run", "--model", join(dir, "m.plsm"), "--events", events, "--emit", emit]);
      expect(run.status, run.stderr).toBe(0);
      expect(run.stderr).toBe(warning("phasor run", events));
      expect(run.stdout.trimEnd().split("\n")).toHaveLength(emit === "every" ? 5 : 2);
    }
    // within the bound: no warning; the float engine: none either
    const within = join(dir, "within.ndjson");
    writeFileSync(within, [lines[0], lines[3]].join("\n") + "\n");
    expect(phasor(["run", "--model", join(dir, "m.plsm"), "--events", within]).stderr).toBe("");
    expect(phasor(["run", "--model", join(dir, "m.json"), "--events", events]).stderr).toBe("");
    // one value: the singular
    const one = join(dir, "one.ndjson");
    writeFileSync(one, lines[0] + "\n" + lines[1] + "\n");
    expect(phasor(["run", "--model", join(dir, "m.plsm"), "--events", one]).stderr).toMatch(/^phasor run: warning: 1 input value was beyond .*, the first at .*one\.ndjson:2: /);
  });

  it("phasor eval: the count in its line, and the warning; none for the float model", () => {
    const events = join(dir, "labelled-beyond.ndjson");
    writeFileSync(events, lines.map((line) => line.replace("}", ',"label":1}')).join("\n") + "\n");
    const fixed = phasor(["eval", "--model", join(dir, "m.plsm"), "--events", events]);
    expect(fixed.status, fixed.stderr).toBe(0);
    expect(JSON.parse(fixed.stdout)).toMatchObject({ sequences: 2, events: 5, inputsSaturated: 4 });
    expect(fixed.stderr).toBe(warning("phasor eval", events));
    const float = phasor(["eval", "--model", join(dir, "m.json"), "--events", events]);
    expect(JSON.parse(float.stdout)).toMatchObject({ inputsSaturated: 0 });
    expect(float.stderr).toBe("");
  });

  it("phasor run warns before the message of a run that fails later, of the lines run until then", () => {
    const input = [...lines.slice(0, 3), '{"t":1,"x":[0,0,0],"seq":"a"}'].join("\n") + "\n";
    const run = phasor(["run", "--model", join(dir, "m.plsm"), "--events", "-"], input);
    expect(run.status).toBe(2);
    expect(run.stderr).toBe(
      warning("phasor run", "stdin").replace("4 input values", "3 input values") + "phasor run: stdin:4: time goes backwards within seq \"a\": t = 1 after t = 2\n",
    );
  });

  it("phasor-wasi: the same words, scalar and SIMD", async () => {
    const input = lines.join("\n") + "\n";
    const cli = phasor(["run", "--model", join(dir, "m.plsm"), "--events", "-"], input);
    for (const build of ["scalar", "simd"] as const) {
      const run = await runNodeWasi(build, ["--model", "m.plsm"], input, dir);
      expect(run.status).toBe(0);
      expect(run.stdout.toString("utf8")).toBe(cli.stdout);
      expect(run.stderr).toBe(warning("phasor-wasi", "stdin"));
    }
  });
});

describe("the gateway's health counts the saturated inputs of its devices", () => {
  it("how many, on how many devices, the devices with the most; kept across a restart", async () => {
    const engine = await demoEngine();
    engines.push(engine);
    const state = join(dir, "gateway-state");
    const shard = 1;
    const [calm, loud] = [deviceOf(shard, 0), deviceOf(shard, 1)];
    // the demo model is calibrated on accelerations within a few units: 1000 on two channels is far beyond
    const messages = [
      [calm, { seq: 0, t: 10, v: [0.1, -0.2, 0.3] }],
      [loud, { seq: 0, t: 10, v: [0.1, -0.2, 0.3] }],
      [loud, { seq: 1, t: 20, v: [1000, -1000, 0.3] }],
      [calm, { seq: 1, t: 20, v: [0.2, -0.1, 0.3] }],
      [loud, { seq: 2, t: 30, v: [0.1, 1e9, 0.3] }],
    ] as const;
    await loadShard(state, { model: "demo", engine: "fixed", sensors: "demo", shards: SHARDS, shard });
    const wal = new ShardLog(shardDirectory(state, shard), false);
    messages.forEach(([device, reading], k) =>
      wal.append({ e: k + 1, topic: inputTopic(PREFIX, SHARDS, device, "accel"), payload: new TextEncoder().encode(JSON.stringify(reading)) }),
    );
    wal.close();
    const lines: Record<string, unknown>[] = [];
    const open = () =>
      Gateway.open(
        demoGatewayConfig(engine, { fingerprint: { model: "demo", engine: "fixed", sensors: "demo" }, broker: "mqtt://127.0.0.1:1", prefix: PREFIX, shards: SHARDS, clientId: "saturation-test", stateDir: state, log: (line) => lines.push(line) }),
      );
    const expected = { values: 3, devices: 1, worst: [{ device: loud, values: 3 }] };
    const gateway = await open();
    expect(gateway.health()).toMatchObject({ replayed: messages.length, applied: messages.length, inputsSaturated: expected });
    // the log says it once for the device, at its first such reading (here replayed from the WAL), naming the channel
    const limit = 32767 / 2 ** (engine.inputFrac as number);
    expect(limit).toBeLessThan(1000);
    expect(lines.filter((line) => line.event === "input-saturated")).toEqual([
      { event: "input-saturated", shard, device: loud, sensor: "accel", channel: 0, value: 1000, input: 1000, limit, replayed: true },
    ]);
    await gateway.stop();
    // from the snapshot the stop wrote: the streams' counts are in it
    const again = await open();
    expect(again.health()).toMatchObject({ replayed: 0, inputsSaturated: expected });
    await again.stop();
  });
});
