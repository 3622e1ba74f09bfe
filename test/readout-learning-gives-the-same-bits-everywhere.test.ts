/**
 * Fine-tuning the readout gives the same bits everywhere (docs/on-device-learning.md): the library's fixed engine
 * (SIMD and scalar builds), the learning microcontroller module in node, the C host on the standard wasm C API
 * (against the wasmtime wheel's engine) and the module on the wasmtime wheel itself (tools/devices/wasmtime-mcu.py) print
 * the same outputs before and after every step and end with the same readout bytes; the float64 step on the same
 * samples stays within the integer step's stated deviation.
 */
import "../host/node.js";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEngine, loadModelBytes } from "../host/engine/create.js";
import { FloatReadout } from "../host/engine/readout-learning.js";
import { cHost, runCHost } from "./support/c-host.js";
import {
  integerStepDeviation, labelledCsv, learningFixtures, libraryLearningRun, mcuLearningRun, wasmtimeMcu, type LearningRun,
} from "./support/learning.js";
import { MCU_LEARN_FILE, mcuLearningInstance, mcuLoad } from "./support/mcu.js";
import { parseReadout } from "./support/readout-bytes.js";
import { firstBitDifference } from "./support/same-bits.js";
import { runNodeWasi } from "./support/wasi.js";

const RATE = { eta: 0.5, c: 0.9 };

const FIXTURES = learningFixtures();

let host = "";
let dir = "";
beforeAll(() => {
  host = cHost();
  dir = mkdtempSync(join(tmpdir(), "phasor-learning-bits-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function expectSameRun(run: LearningRun, expected: LearningRun, who: string): void {
  expect(run.y.length, who).toBe(expected.y.length);
  expect(firstBitDifference(Array.from(run.y), Array.from(expected.y)), `${who}: first output that differs`).toBe(-1);
  expect(Buffer.from(run.readout).equals(Buffer.from(expected.readout)), `${who}: the readout's bytes`).toBe(true);
}

describe.each(FIXTURES.map((f) => [f.name, f] as const))("learning on %s", (_, f) => {
  let library: LearningRun;
  const samples: { h: Float64Array; label: number }[] = [];

  beforeAll(async () => {
    const engine = await createEngine(loadModelBytes(f.image, "learning.plsm"), { engine: "fixed", simd: "on" });
    library = libraryLearningRun(engine.createStream(), f.sequences, RATE, f.every, (h, label) => samples.push({ h, label }));
    engine.dispose();
  });

  it("the readout learned: it took a step for every label and moved", () => {
    const learned = parseReadout(library.readout);
    const labels = f.sequences.reduce((n, s) => n + (f.every ? s.labels.filter((v) => !Number.isNaN(v)).length : 1), 0);
    expect(learned.steps).toBe(labels);
    expect(samples).toHaveLength(labels);
    const flashed = new FloatReadout(f.model.readout);
    expect(Math.max(...learned.V.map((v, k) => Math.abs(v - flashed.V[k])))).toBeGreaterThan(1e-3);
  });

  it("the scalar build gives the SIMD build's bits", async () => {
    const engine = await createEngine(loadModelBytes(f.image, "learning.plsm"), { engine: "fixed", simd: "off" });
    expectSameRun(libraryLearningRun(engine.createStream(), f.sequences, RATE, f.every), library, "scalar");
  });

  it("the learning microcontroller module in node gives the library's bits", async () => {
    const mcu = await mcuLearningInstance();
    expect(mcuLoad(mcu, f.image)).toBe(0);
    expectSameRun(mcuLearningRun(mcu, f.sequences, f.inputSize, f.outputSize, RATE, f.every), library, "MCU module in node");
  });

  it("the C host and the wasmtime wheel give the library's bits", () => {
    const model = join(dir, `${f.outputSize}.plsm`);
    const events = join(dir, `${f.outputSize}.csv`);
    writeFileSync(model, f.image);
    writeFileSync(events, labelledCsv(f.inputSize, f.sequences));
    const saved = join(dir, `${f.outputSize}-c.readout`);
    const c = runCHost(host, ["--model", model, "--events", events, "--learn", String(RATE.eta), "--learn-c", String(RATE.c), "--readout-out", saved]);
    expect(c.stderr).toBe("");
    expect(c.status).toBe(0);
    const printed = c.stdout.toString("utf8").trimEnd().split("\n").flatMap((line) => (JSON.parse(line) as { y: number[] }).y);
    expectSameRun({ y: Float64Array.from(printed), readout: readFileSync(saved) }, library, "C host");

    const wasmtimeSaved = join(dir, `${f.outputSize}-wasmtime.readout`);
    const w = wasmtimeMcu([MCU_LEARN_FILE, model, events, "--learn", String(RATE.eta), "--learn-c", String(RATE.c), "--readout-out", wasmtimeSaved]);
    expect(w.stderr).toBe("");
    expect(w.status).toBe(0);
    expectSameRun({ y: w.y, readout: readFileSync(wasmtimeSaved) }, library, "wasmtime");
  });

  it("a saved readout, loaded by the C host, goes on from where it was", () => {
    const model = join(dir, `${f.outputSize}.plsm`);
    const events = join(dir, `${f.outputSize}.csv`);
    const saved = join(dir, `${f.outputSize}-library.readout`);
    writeFileSync(saved, library.readout);
    const c = runCHost(host, ["--model", model, "--events", events, "--readout-in", saved]);
    expect(c.status).toBe(0);
    const again = join(dir, `${f.outputSize}-again.readout`);
    const chained = runCHost(host, ["--model", model, "--events", events, "--readout-in", saved, "--readout-out", again]);
    expect(chained.status).toBe(0);
    expect(readFileSync(again).equals(Buffer.from(library.readout)), "without --learn the readout is saved as it was loaded").toBe(true);
  });

  it("a readout the C host refuses: the reason phasor-wasi gives for the same bytes, exit 2", async () => {
    // before, the C host said only "not a readout of this model, damaged, or out of range" for all of these: the
    // microcontroller module answers -1 and has no bytes for the reason
    const model = join(dir, `${f.outputSize}.plsm`);
    const reseal = (bytes: Buffer) => (bytes.writeUInt32LE(crc32(bytes.subarray(0, bytes.length - 4)), bytes.length - 4), bytes);
    const variant = (change: (bytes: Buffer) => Buffer) => change(Buffer.from(library.readout));
    const cases: [string, Buffer, string][] = [
      ["magic", variant((b) => ((b[0] ^= 1), b)), "not an adapted readout (magic, version 1 or reserved bytes)"],
      ["a weight's byte", variant((b) => ((b[b.length - 10] ^= 4), b)), "the checksum does not match: the bytes are damaged"],
      ["another model's checksum", variant((b) => reseal((b.writeUInt32LE(b.readUInt32LE(8) ^ 1, 8), b))), "adapted from another model (its checksum or sizes differ)"],
      ["a bias of 2^46", variant((b) => reseal((b.writeBigInt64LE(1n << 46n, 32), b))), "a bias is beyond +-(2^46 - 1) in Q25.38"],
      ["a byte short", variant((b) => b.subarray(0, b.length - 1)), `${library.readout.length - 1} bytes, an adapted readout of this model has ${library.readout.length}`],
      ["a byte over", variant((b) => Buffer.concat([b, Buffer.alloc(1)])), `longer than an adapted readout of this model (${library.readout.length} bytes)`],
    ];
    for (const [what, bytes, reason] of cases) {
      const file = `${f.outputSize}-refused.readout`;
      writeFileSync(join(dir, file), bytes);
      const c = runCHost(host, ["--model", model, "--events", join(dir, `${f.outputSize}.csv`), "--readout-in", join(dir, file)]);
      expect(c.stderr, what).toBe(`phasor_host: ${join(dir, file)}: not a readout this model can take: ${reason}\n`);
      expect(c.status, what).toBe(2);
      const wasi = await runNodeWasi("simd", ["--model", `${f.outputSize}.plsm`, "--readout-in", file], "", dir);
      expect(wasi.stderr, `${what}, phasor-wasi`).toBe(`phasor-wasi: ${file}: not a readout this model can take: ${reason}\n`);
    }
  });

  it("the float64 step on the same samples lands within the integer step's stated deviation", () => {
    const float = new FloatReadout(f.model.readout);
    for (const { h, label } of samples) float.learn(h, label, RATE);
    const learned = parseReadout(library.readout);
    let s = 0;
    learned.V.forEach((v, k) => (s += (v - float.V[k]) ** 2));
    learned.d.forEach((v, o) => (s += (v - float.d[o]) ** 2));
    // both start from the model's readout: the .plsm's rounding of V and d is the same for both (the de-quantized model)
    expect(Math.sqrt(s)).toBeLessThanOrEqual(samples.length * integerStepDeviation(f.outputSize, f.hidden, RATE.c));
  });
});
