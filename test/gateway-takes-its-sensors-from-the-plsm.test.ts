/**
 * A sensor declaration that `phasor quantize` keeps in the .plsm's metadata (docs/plsm.md, docs/gateway.md,
 * "Sensors"), against a real mosquitto: `phasor gateway --model M.plsm` without --sensors encodes readings by it,
 * --sensors still overrides it, a declaration there that the gateway cannot use is refused, and a state is of the
 * declaration the gateway runs, wherever it came from (the model is fingerprinted by its file's bytes).
 * Before: the declaration was left out of the .plsm, and the gateway on it read every input as one sensor "x".
 */
import "../host/node.js";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEngine, loadModelBytes } from "../host/engine/create.js";
import type { Engine } from "../host/engine/engine.js";
import { parseSensorLayout } from "../host/gateway/sensors.js";
import { modelToJson } from "../host/model/model.js";
import { decodePlsm, encodePlsm } from "../host/model/plsm.js";
import { Broker } from "./support/broker.js";
import { phasor } from "./support/cli.js";
import { withMetadataText } from "./support/plsm-bytes.js";
import { GatewayProcess, waitUntil, withTimeout } from "./support/gateway-process.js";
import { Rng, randomModel, randomStream } from "./support/random.js";
import { Collector, DEMO_SENSORS, connectClient, publishReadings, referenceRun, type Reading } from "./support/simulated-devices.js";

const SHARDS = 2;
const INPUTS = 4;
/** one sensor of all four inputs: another declaration than DEMO_SENSORS' accel and temp */
const WHOLE = { format: "phasor-sensors", version: 1, sensors: [{ name: "all", channels: INPUTS }] };

let dir: string;
let broker: Broker;
/** quantized from the same model.json with the same events, without a declaration and with DEMO_SENSORS */
let plainPath: string;
let declaredPath: string;
let sensorsPath: string;
let wholePath: string;
let engine: Engine;
const gateways: GatewayProcess[] = [];
const clients: MqttClient[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "phasor-plsm-sensors-"));
  broker = await Broker.start(join(dir, "broker"));
  const rng = new Rng(20261206);
  const model = randomModel(rng, { inputSize: INPUTS, hidden: [8], peephole: true, rOn: 0.3, outputs: 3, mode: "every", shiftMax: 10 });
  const modelPath = join(dir, "model.json");
  const stream = randomStream(rng, { n: 200, inputSize: INPUTS, maxGap: 20 });
  const events = Array.from(stream.t, (t, e) => JSON.stringify({ t, x: Array.from(stream.x.subarray(e * INPUTS, (e + 1) * INPUTS)) }));
  const eventsPath = join(dir, "events.ndjson");
  writeFileSync(eventsPath, events.join("\n") + "\n");
  sensorsPath = join(dir, "sensors.json");
  writeFileSync(sensorsPath, JSON.stringify(DEMO_SENSORS));
  wholePath = join(dir, "whole.json");
  writeFileSync(wholePath, JSON.stringify(WHOLE));
  plainPath = join(dir, "plain.plsm");
  declaredPath = join(dir, "declared.plsm");
  // the same file quantized again once it declares its sensors (the model's "sensors" field)
  for (const [out, sensors] of [[plainPath, undefined], [declaredPath, DEMO_SENSORS]] as const) {
    writeFileSync(modelPath, JSON.stringify({ ...modelToJson(model), sensors }));
    const run = phasor(["quantize", "--model", modelPath, "--calib", eventsPath, "--out", out]);
    expect(run.status, run.stderr).toBe(0);
  }
  engine = await createEngine(loadModelBytes(new Uint8Array(readFileSync(plainPath)), "plain.plsm"), { engine: "fixed" });
});

afterAll(async () => {
  for (const gateway of gateways) if (gateway.child.exitCode === null) await gateway.kill();
  for (const client of clients) await client.endAsync(true).catch(() => undefined);
  await broker?.stop("kill");
  engine?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

function startGateway(prefix: string, args: string[]): GatewayProcess {
  const gateway = new GatewayProcess([
    ...args, "--state", join(dir, `state-${prefix}`), "--broker", broker.url, "--prefix", prefix, "--shards", String(SHARDS), "--health-interval", "60000",
  ]);
  gateways.push(gateway);
  return gateway;
}

/**
 * Publishes one device's readings to a ready gateway and waits for the prediction of each, or for a refusal on its
 * log: the predictions' y by seq, and the reasons of what it refused.
 */
async function send(gateway: GatewayProcess, prefix: string, readings: Reading[]): Promise<{ y: Map<number, number[]>; refused: unknown[] }> {
  const collector = await Collector.start(broker.url, `${prefix}-collector-${gateways.length}`, prefix);
  const publisher = await connectClient(broker.url, `${prefix}-publisher-${gateways.length}`);
  clients.push(collector.client, publisher);
  await publishReadings(publisher, prefix, SHARDS, readings);
  const refusals = () => gateway.records.filter((r) => r.event === "refused");
  const device = readings[0].device;
  await waitUntil(
    () => readings.every((r) => collector.predictions.get(device)?.has(r.seq)) || refusals().length > 0,
    20_000,
    () => `the predictions of ${device}'s readings; log: ${JSON.stringify(gateway.records.slice(-3))}`,
  );
  const y = new Map([...(collector.predictions.get(device) ?? new Map<number, string>())].map(([seq, payload]) => [seq, (JSON.parse(payload) as { y: number[] }).y]));
  return { y, refused: refusals().map((r) => r.reason) };
}

/** y of every reading of a device run in process by a declaration, by seq */
function expected(declaration: unknown, readings: Reading[]): Map<number, number[]> {
  return referenceRun(engine, parseSensorLayout(declaration, INPUTS, "expected"), readings).y;
}

const temp = (seq: number, t: number, v: number): Reading => ({ device: "press-1", sensor: "temp", seq, t, v: [v] });
const accel = (seq: number, t: number, v: number[]): Reading => ({ device: "press-1", sensor: "accel", seq, t, v });

describe("phasor gateway on a .plsm that carries a sensor declaration", () => {
  it("encodes readings by it without --sensors, and by --sensors where that is given", async () => {
    // temp (slot 3, offset 20, scale 0.1, held) and then accel (slots 0-2): the prediction after accel is the
    // model's on [0.1, -0.2, 0.3, (24 - 20) * 0.1] only if each reading went into its sensor's slots
    const readings = [temp(1, 1000, 24), accel(2, 1012.5, [0.1, -0.2, 0.3])];
    const declared = startGateway("declared", ["--model", declaredPath]);
    await declared.waitFor("ready");
    const got = await send(declared, "declared", readings);
    expect(got.refused).toEqual([]);
    expect(got.y).toEqual(expected(DEMO_SENSORS, readings));
    await declared.stop();

    // --sensors in place of the .plsm's: "temp" is no sensor of it
    const overridden = startGateway("overridden", ["--model", declaredPath, "--sensors", wholePath]);
    await overridden.waitFor("ready");
    const all: Reading = { device: "press-1", sensor: "all", seq: 1, t: 1000, v: [0.5, 0.25, -0.5, 1] };
    expect((await send(overridden, "overridden", [all])).y).toEqual(expected(WHOLE, [all]));
    const refused = await send(overridden, "overridden", [temp(2, 1001, 24)]);
    expect(refused.refused).toEqual(["unknownSensor"]);
    await overridden.stop();
  });

  it("refuses to start on a declaration in the metadata that it cannot use, naming the file, rather than use the default", async () => {
    const plain = decodePlsm(new Uint8Array(readFileSync(plainPath)), plainPath);
    const badPath = join(dir, "bad-sensors.plsm");
    writeFileSync(badPath, encodePlsm(plain.model, plain.plan, { sensors: [{ name: "a", channels: INPUTS + 1 }] }));
    const gateway = startGateway("bad", ["--model", badPath]);
    const status = await withTimeout(gateway.exited, 20_000, "the gateway's exit on a bad declaration");
    expect(status).toBe(2);
    expect(gateway.stderr).toBe(`phasor gateway: ${badPath}: metadata sensors: sensors[0].channels: expected an integer from 1 to the model's inputSize ${INPUTS}, got ${INPUTS + 1}\n`);
    expect(gateway.records).toEqual([]);
  });

  it("refuses to start on a declaration in the metadata that gives a name twice, which JSON.parse would drop", async () => {
    // written by a writer other than ours: the readers of .plsm files check the metadata's top level, the gateway the
    // declaration's own names, as in a --sensors file
    const plain = decodePlsm(new Uint8Array(readFileSync(plainPath)), plainPath);
    const twicePath = join(dir, "twice-sensors.plsm");
    const text = `{"timeUnit":${JSON.stringify(plain.meta.timeUnit)},\n"sensors":[{"name":"a","channels":1,"name":"b"}]}`;
    writeFileSync(twicePath, withMetadataText(plain, text));
    const gateway = startGateway("twice", ["--model", twicePath]);
    expect(await withTimeout(gateway.exited, 20_000, "the gateway's exit on a name given twice")).toBe(2);
    expect(gateway.stderr).toBe(`phasor gateway: ${twicePath}: metadata: sensors[0].name is given twice (line 2, column 37): JSON would keep only the last\n`);
    expect(gateway.records).toEqual([]);
  });

  it("fingerprints the declaration it runs, not where it came from, and the model by its file", async () => {
    // the same declaration, once from the metadata and once from --sensors as the bare array: one configuration
    const bare = join(dir, "bare.json");
    writeFileSync(bare, JSON.stringify(DEMO_SENSORS.sensors));
    const first = [temp(1, 1000, 24)];
    const before = startGateway("moved", ["--model", declaredPath]);
    await before.waitFor("ready");
    expect((await send(before, "moved", first)).refused).toEqual([]);
    await before.stop();
    const second = [accel(2, 1012.5, [0.1, -0.2, 0.3])];
    const after = startGateway("moved", ["--model", declaredPath, "--sensors", bare]);
    await after.waitFor("ready");
    const got = await send(after, "moved", second);
    expect(got.refused).toEqual([]);
    // the device went on where it was
    expect(got.y.get(2)).toEqual(expected(DEMO_SENSORS, [...first, ...second]).get(2));
    await after.stop();

    const state = join(dir, "state-moved");
    const gateway = (args: string[]) => phasor(["gateway", ...args, "--state", state, "--broker", broker.url, "--prefix", "moved", "--shards", String(SHARDS)]);
    // another declaration over that .plsm is another configuration
    const other = gateway(["--model", declaredPath, "--sensors", wholePath]);
    expect(other.status, other.stderr).toBe(1);
    expect(other.stderr).toMatch(/incompatible state: .* for sensors /);
    // and the .plsm without the declaration is another file, whose checksum the streams' snapshots do not hold
    const older = gateway(["--model", plainPath, "--sensors", sensorsPath]);
    expect(older.status, older.stderr).toBe(1);
    expect(older.stderr).toMatch(/incompatible state: .* for model /);
  });
});
