// Issue 12, item 7, the engines' readers: seeded, bounded fuzzing of model JSON, .plsm images, stream snapshots of
// every engine and the arguments of push. Every case must end as a clean PhasorError (the message naming what is
// wrong) or run and give what the float64 reference gives; never a wasm trap, a TypeError or RangeError, a hang, or
// a stream changed by something it refused. A fixed number of cases per reader, from fixed seeds: the same cases on
// every run, in a few seconds.
import "../host/node.js";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { createEngine, loadModelBytes, type LoadedModel } from "../host/engine/create.js";
import type { Engine, SimdChoice, Stream } from "../host/engine/engine.js";
import { PhasorError, type ErrorCode } from "../host/errors.js";
import { parseModel, parseModelText, type FloatModel } from "../host/model/model.js";
import { crc32, decodePlsm, encodePlsm, type PlsmFile } from "../host/model/plsm.js";
import { quantize } from "../host/model/quantize.js";
import { MCU_INT8_PAGE_FILE, mcuInt8Instance, mcuLoad, type McuExports } from "./support/mcu.js";
import { Rng } from "./support/random.js";
import { firstDifference, stateOf } from "./support/engines.js";

const TINY = readFileSync("examples/tiny-model.json", "utf8");
// events inside the clock of any fixed model the fuzzing makes (at most 2^40 ticks per unit: 2^22 units)
const T = [0, 0.52, 2.48, 5.01, 9.75, 14, 14, 33.3, 60.5, 128];
const X = [0.31, 0.77, -0.2, 0.05, 0.9, -0.4, 0.1, 0, -1, 0.6];
const CALIBRATION = [{ t: Float64Array.from(T), x: Float64Array.from(X) }];
const BUILDS: SimdChoice[] = ["on", "off"];

/** What an action ended as: its value, or the PhasorError it threw. Anything else thrown fails the test. */
function attempt<V>(what: string, action: () => V, codes: ErrorCode[]): { value: V } | { error: PhasorError } {
  try {
    return { value: action() };
  } catch (err) {
    expect(err, `${what}: threw ${String(err)}`).toBeInstanceOf(PhasorError);
    expect(codes, `${what}: ${(err as PhasorError).message}`).toContain((err as PhasorError).code);
    return { error: err as PhasorError };
  }
}

async function attemptAsync<V>(what: string, action: () => Promise<V>, codes: ErrorCode[]): Promise<{ value: V } | { error: PhasorError }> {
  try {
    return { value: await action() };
  } catch (err) {
    expect(err, `${what}: threw ${String(err)}`).toBeInstanceOf(PhasorError);
    expect(codes, `${what}: ${(err as PhasorError).message}`).toContain((err as PhasorError).code);
    return { error: err as PhasorError };
  }
}

/** y after every event (one stream, one event at a time), or the first refusal's reason; never anything else. */
function outputs(engine: Engine, what: string): number[][] | string {
  const stream = engine.createStream();
  const ys: number[][] = [];
  for (let e = 0; e < T.length; e++) {
    const before = stream.snapshot();
    const r = attempt(`${what}: event ${e}`, () => stream.push(T[e], X.slice(e, e + 1).concat(Array(stream.inputSize - 1).fill(0))), ["bad-input"]);
    if ("error" in r) {
      expect(Buffer.from(stream.snapshot()).equals(Buffer.from(before)), `${what}: a refused event changed the state`).toBe(true);
      return r.error.refusal ?? "refused";
    }
    ys.push(Array.from(stream.output()));
  }
  return ys;
}

function expectClose(got: number[][] | string, want: number[][] | string, tolerance: number, what: string): void {
  if (typeof got === "string") {
    // only the wasm engines' clocks may refuse what the reference runs
    expect(got, what).toBe("timeRange");
    return;
  }
  expect(typeof want, `${what}: the reference refused (${want}) what the engine ran`).toBe("object");
  got.forEach((y, e) => y.forEach((v, o) => expect(Math.abs(v - (want as number[][])[e][o]), `${what}: event ${e}, y[${o}] ${v} vs ${(want as number[][])[e][o]}`).toBeLessThan(tolerance)));
}

// ---- mutations of JSON values ----

const NUMBERS = [0, -0, 1, -1, 2.5, 1e-300, 5e-324, 2 ** -20, 2 ** -20 * (1 - 2 ** -53), 2 ** 42, 2 ** 42 * (1 + 2 ** -52), 2 ** -16, 1e38, 3.5e38, 1e308, -1e308, 65536, 65537, 1e9, -7, NaN, Infinity, -Infinity];
const OTHERS: unknown[] = ["1", "", null, true, [], {}, [1, 2], { a: 1 }, "ms"];

type Json = Record<string, unknown> | unknown[];

/** Every place in a JSON value: [container, key] pairs. */
function places(value: unknown, out: [Json, string | number][] = []): [Json, string | number][] {
  if (Array.isArray(value)) value.forEach((v, k) => (out.push([value, k]), places(v, out)));
  else if (typeof value === "object" && value !== null) for (const k of Object.keys(value)) out.push([value as Json, k]), places((value as Record<string, unknown>)[k], out);
  return out;
}

/** One to three random changes: a value replaced by an extreme number or by another type, deleted, or repeated. */
function mutate(rng: Rng, json: unknown): void {
  const count = 1 + rng.int(3);
  for (let m = 0; m < count; m++) {
    const all = places(json);
    const [container, key] = all[rng.int(all.length)];
    const get = () => (container as Record<string | number, unknown>)[key];
    const set = (v: unknown) => ((container as Record<string | number, unknown>)[key] = v);
    const kind = rng.int(5);
    if (kind <= 1) set(NUMBERS[rng.int(NUMBERS.length)]);
    else if (kind === 2) set(OTHERS[rng.int(OTHERS.length)]);
    else if (kind === 3) Array.isArray(container) ? container.splice(key as number, 1) : delete (container as Record<string, unknown>)[key];
    else if (Array.isArray(container)) container.push(structuredClone(get()));
    else set(typeof get() === "number" ? (get() as number) * rng.logUniform(1e-3, 1e3) : get());
  }
}

/** Is every weight of the model small enough that f32 arithmetic stays within 1e-4 of float64 (plstm.md section 3)? */
function moderate(model: FloatModel): boolean {
  const weights = model.layers.flatMap((L) => [L.W, L.U, L.b, ...(L.peephole ? [L.peephole.i, L.peephole.f, L.peephole.o] : [])]);
  return [...weights, model.readout.V, model.readout.d].every((a) => Array.from(a).every((w) => Math.abs(w) <= 4));
}

/** An accepted model on every engine: float within 1e-4 of the reference for moderate weights; the fixed engine
 * either refused by the quantizer, or bit-identical across builds and within the spec's tolerance where the
 * quantizer's calibration says it is (what `phasor quantize` checks). */
async function runsLikeTheReference(model: FloatModel, what: string): Promise<void> {
  const reference = outputs(await createEngine(model, { engine: "reference" }), `${what}, reference`);
  for (const simd of BUILDS) {
    const float = await attemptAsync(`${what}, float`, () => createEngine(model, { engine: "float", simd }), ["bad-model"]);
    expect("value" in float, `${what}: the float engine refused a model the JSON reader took: ${"error" in float ? float.error.message : ""}`).toBe(true);
    if ("value" in float) {
      const got = outputs(float.value, `${what}, float`);
      if (moderate(model)) expectClose(got, reference, 1e-4, `${what}, float (simd ${simd})`);
    }
  }
  const q = attempt(`${what}, quantize`, () => quantize(model, CALIBRATION, "fuzz"), ["bad-model"]);
  if ("error" in q) return;
  const runs = [];
  for (const simd of BUILDS) runs.push(outputs(await createEngine(loadModelBytes(q.value.bytes, "fuzz.plsm"), { engine: "fixed", simd }), `${what}, fixed`));
  expect(runs[1], `${what}: fixed SIMD and scalar`).toEqual(runs[0]);
}

describe("model JSON", () => {
  it("400 mutated models: refused with the field named, or run on every engine as the reference runs them", async () => {
    const rng = new Rng(12_001);
    let accepted = 0;
    for (let c = 0; c < 400; c++) {
      const json = JSON.parse(TINY);
      mutate(rng, json);
      const what = `JSON case ${c}`;
      const parsed = attempt(what, () => parseModel(json, "fuzz.json"), ["bad-model"]);
      if ("error" in parsed) {
        expect(parsed.error.message, what).toMatch(/^fuzz\.json: /);
        continue;
      }
      accepted++;
      await runsLikeTheReference(parsed.value, what);
    }
    // the mutations are not all refusals: some accepted models are run
    expect(accepted).toBeGreaterThan(20);
  });

  it("300 damaged texts: refused as not JSON or by field, never anything else", () => {
    const rng = new Rng(12_002);
    for (let c = 0; c < 300; c++) {
      let text = TINY;
      const kind = rng.int(4);
      const at = rng.int(text.length);
      if (kind === 0) text = text.slice(0, at);
      else if (kind === 1) text = text.slice(0, at) + "[{\"-1e999,\u0000".charAt(rng.int(10)) + text.slice(at);
      else if (kind === 2) text = text.slice(0, at) + text.slice(at + 1 + rng.int(20));
      else text = text.replace(/\d/g, (d) => (rng.next() < 0.05 ? "9e9" : d));
      const r = attempt(`text case ${c}`, () => parseModelText(text, "fuzz.json"), ["bad-model"]);
      if ("error" in r) expect(r.error.message).toMatch(/^fuzz\.json: /);
    }
  });

  it("200 mutated in-code models: createEngine answers each as the JSON reader does", async () => {
    const rng = new Rng(12_003);
    for (let c = 0; c < 200; c++) {
      const model = parseModelText(TINY, "tiny") as unknown as Record<string, unknown>;
      // mutate the object built in code: flat typed arrays, sizes, whole fields
      const layer = (model.layers as Record<string, unknown>[])[0];
      const field = ["W", "U", "b", "tau", "shift", "rOn", "hiddenSize", "inputSize", "peephole"][rng.int(9)];
      const value = layer[field];
      const kind = rng.int(4);
      if (kind === 0 && ArrayBuffer.isView(value)) layer[field] = (value as Float64Array).subarray(rng.int(2));
      else if (kind === 1 && ArrayBuffer.isView(value)) (value as Float64Array)[rng.int((value as Float64Array).length)] = NUMBERS[rng.int(NUMBERS.length)];
      else if (kind === 2) layer[field] = OTHERS[rng.int(OTHERS.length)];
      else layer[field] = NUMBERS[rng.int(NUMBERS.length)];
      const answers = [];
      for (const engine of ["reference", "float"] as const) {
        const r = await attemptAsync(`in-code case ${c}, ${engine}`, () => createEngine(model as unknown as FloatModel, { engine }), ["bad-model"]);
        answers.push("error" in r ? r.error.message : "accepted");
      }
      expect(answers[1], `in-code case ${c}: float and reference`).toBe(answers[0]);
    }
  });
});

// ---- .plsm images ----

const FIXED_FILE = quantize(parseModelText(TINY, "tiny"), CALIBRATION, "tiny").bytes;
const INT8_FILE = quantize(parseModelText(TINY, "tiny"), CALIBRATION, "tiny", "int8").bytes;
const FLOAT_FILE = encodePlsm(parseModelText(TINY, "tiny"));

function resealed(bytes: Uint8Array): Uint8Array {
  new DataView(bytes.buffer, bytes.byteOffset).setUint32(bytes.length - 4, crc32(bytes, bytes.length - 4), true);
  return bytes;
}

/** A damaged image: flipped bits, a rewritten word (resealed, so the checks rather than the CRC must catch it),
 * cut short or padded. Returns the bytes and whether only the time records were touched. */
function damaged(rng: Rng, good: Uint8Array): Uint8Array {
  const bytes = good.slice();
  const view = new DataView(bytes.buffer);
  const kind = rng.int(6);
  if (kind === 0) {
    bytes[rng.int(bytes.length)] ^= 1 << rng.int(8);
    return bytes;
  }
  if (kind === 1) return rng.next() < 0.5 ? bytes.slice(0, rng.int(bytes.length)) : Uint8Array.from([...bytes, ...Array(1 + rng.int(16)).fill(0)]);
  const at = 4 * rng.int((bytes.length - 8) / 4);
  if (kind === 2) view.setUint32(at, [0, 1, 0xffffffff, 0x7fffffff, 0x80000000, 64, 65537, rng.nextU32()][rng.int(8)], true);
  else if (kind === 3 && at + 8 <= bytes.length - 4) view.setFloat64(at, NUMBERS[rng.int(NUMBERS.length)], true);
  else bytes[at + rng.int(4)] = rng.int(256);
  return resealed(bytes);
}

/** Whether every byte that differs between two images of the same length lies in a layer's time records. */
function onlyTimeRecords(good: Uint8Array, bytes: Uint8Array): boolean {
  if (bytes.length !== good.length) return false;
  const view = new DataView(good.buffer);
  const layers = view.getUint32(16, true);
  const records: [number, number][] = [];
  for (let n = 0; n < layers; n++) {
    const desc = 64 + 64 * n;
    records.push([view.getUint32(desc + 28, true), view.getUint32(desc + 28, true) + 32 * view.getUint32(desc + 4, true)]);
  }
  // the checksum, resealed after every edit, differs too
  return bytes.every((b, k) => b === good[k] || k >= good.length - 4 || records.some(([from, to]) => k >= from && k < to));
}

describe(".plsm images", () => {
  for (const [name, kind, good, seed] of [["fixed", "fixed", FIXED_FILE, 12_004], ["int8", "fixed", INT8_FILE, 12_006], ["float", "float", FLOAT_FILE, 12_005]] as const) {
    it(`300 damaged ${name} images: both readers refuse them, or both accept and every build runs them as the reference`, async () => {
      const rng = new Rng(seed);
      const meta = new DataView(good.buffer).getUint32(40, true);
      for (let c = 0; c < 300; c++) {
        const bytes = damaged(rng, good);
        const what = `${name} image case ${c}`;
        const host = attempt(`${what}, decodePlsm`, () => decodePlsm(bytes, "fuzz.plsm"), ["bad-model"]);
        if ("error" in host) expect(host.error.message).toMatch(/^fuzz\.plsm: /);
        const file: PlsmFile = "value" in host ? host.value : { kind: kind === "fixed" ? 1 : 2, model: parseModelText(TINY, "tiny"), bytes, meta: {} };
        const loaded: LoadedModel = { format: "plsm", model: file.model, plsm: { ...file, bytes }, source: "fuzz.plsm" };
        const runs: (number[][] | string)[] = [];
        for (const simd of BUILDS) {
          const wasm = await attemptAsync(`${what}, wasm loader`, () => createEngine(loaded, { engine: kind, simd }), ["bad-model"]);
          if ("error" in wasm) {
            expect(wasm.error.message).toMatch(/^fuzz\.plsm: /);
            continue;
          }
          // the host reader also checks the metadata (and where the header says it is), which the wasm reader skips:
          // only there may they differ
          const changed = firstDifference(good, bytes);
          const inMetadata = bytes.length === good.length && (changed >= meta || (changed >= 40 && changed < 48));
          expect("value" in host || inMetadata, `${what}: the wasm loader took a file decodePlsm refused (${"error" in host ? host.error.message : ""})`).toBe(true);
          runs.push(outputs(wasm.value, what));
        }
        if (runs.length === 0) {
          expect("error" in host, `${what}: decodePlsm took a file the wasm loader refused (${firstDifference(good, bytes)})`).toBe(true);
          continue;
        }
        expect(runs, `${what}: every build accepts or none`).toHaveLength(2);
        if (kind === "fixed") expect(runs[1], `${what}: SIMD and scalar`).toEqual(runs[0]);
        // a fixed file's formats (inputFrac, row formats) are the file's to choose and may saturate what the
        // reference does not: held to the reference where only time records changed, which the readers check fully
        if ("value" in host && moderate(host.value.model) && (kind === "float" || onlyTimeRecords(good, bytes))) {
          const reference = outputs(await createEngine(host.value.model, { engine: "reference" }), `${what}, reference`);
          expectClose(runs[0], reference, kind === "fixed" ? 1e-2 : 1e-4, what);
        }
      }
    });
  }
});

// The one-page microcontroller build takes an image apart at init (docs/embedding.md, "One 64 KiB page"): on damaged
// images it must answer as the two-page int8 build does (both refuse, or both run them with the same bits), but for
// the files it alone refuses: regions out of the order phasor quantize writes them, which only an offset in the
// layer table or the header can bring about.
describe(".plsm images on the one-page build", () => {
  /** init's answer and, when it took the image, y after each event (or the status of a refused push). */
  function mcuOutputs(mcu: McuExports, bytes: Uint8Array): (number | number[])[] {
    if (bytes.length > mcu.arenaBytes()) return [mcu.init(bytes.length)];
    const status = mcuLoad(mcu, bytes);
    if (status !== 0) return [status];
    return T.map((t, e) => {
      new Float32Array(mcu.memory.buffer, mcu.inputBuffer(), 1)[0] = X[e];
      const pushed = mcu.push(t);
      return pushed !== 0 ? pushed : Array.from(new Float64Array(mcu.memory.buffer, mcu.output(), 2));
    });
  }

  it("300 damaged int8 images: it answers as build/phasor-mcu-int8.wasm does, or refuses (-1) one whose region offsets changed", async () => {
    const [page, two] = [await mcuInt8Instance(MCU_INT8_PAGE_FILE), await mcuInt8Instance()];
    const offsets = (bytes: Uint8Array) => {
      const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      return [v.getUint32(36, true), ...[16, 20, 24, 28].map((field) => v.getUint32(64 + field, true))];
    };
    const rng = new Rng(12_007);
    let ran = 0;
    for (let c = 0; c < 300; c++) {
      const bytes = damaged(rng, INT8_FILE);
      const what = `int8 image case ${c}`;
      const expected = mcuOutputs(two, bytes);
      const got = mcuOutputs(page, bytes);
      const moved = bytes.length >= 96 && offsets(bytes).some((o, k) => o !== offsets(INT8_FILE)[k]);
      if (got[0] === -1 && expected[0] !== -1) expect(moved, `${what}: refused by the one-page build alone`).toBe(true);
      else expect(got, what).toEqual(expected);
      if (got.length > 1) ran++;
    }
    expect(ran, "some damaged images still run").toBeGreaterThan(50);
  });
});

// ---- stream snapshots ----

const SNAPSHOT_ENGINES = ["reference", "float SIMD", "float scalar", "fixed SIMD", "fixed scalar"] as const;

async function snapshotEngine(name: (typeof SNAPSHOT_ENGINES)[number]): Promise<Engine> {
  const model = parseModelText(TINY, "tiny");
  if (name === "reference") return createEngine(model, { engine: "reference" });
  const simd = name.endsWith("SIMD") ? "on" : "off";
  if (name.startsWith("float")) return createEngine(model, { engine: "float", simd });
  return createEngine(loadModelBytes(FIXED_FILE, "tiny.plsm"), { engine: "fixed", simd });
}

describe("stream snapshots", () => {
  for (const name of SNAPSHOT_ENGINES) {
    it(`400 damaged snapshots of the ${name} engine: refused with the stream untouched, or a state the engine runs on`, async () => {
      const engine = await snapshotEngine(name);
      const source = engine.createStream();
      for (let e = 0; e < 6; e++) source.push(T[e], [X[e]]);
      const good = source.snapshot();
      const rng = new Rng(12_100 + SNAPSHOT_ENGINES.indexOf(name));
      let refused = 0;
      for (let c = 0; c < 400; c++) {
        const bytes = good.slice();
        const view = new DataView(bytes.buffer);
        const kind = rng.int(5);
        if (kind === 0) bytes[rng.int(bytes.length)] ^= 1 << rng.int(8);
        else if (kind === 1) bytes[rng.int(bytes.length)] = rng.int(256);
        else if (kind === 2) view.setFloat64(8 * rng.int(bytes.length / 8), NUMBERS[rng.int(NUMBERS.length)], true);
        else if (kind === 3) view.setBigInt64(8 * rng.int(bytes.length / 8), [-(2n ** 63n), 2n ** 63n - 1n, -1n, 1n << 40n][rng.int(4)], true);
        const input = kind === 4 ? (rng.next() < 0.5 ? bytes.slice(0, rng.int(bytes.length)) : Uint8Array.from([...bytes, 0, 0, 0, 0, 0, 0, 0, 0])) : bytes;
        const target: Stream = engine.createStream();
        target.push(0, [0.2]);
        const before = stateOf(target);
        const what = `${name} snapshot case ${c}`;
        const r = attempt(what, () => target.restore(input), ["bad-input"]);
        if ("error" in r) {
          refused++;
          expect(r.error.message, what).toMatch(/^snapshot: /);
          expect(Buffer.from(stateOf(target).bytes).equals(Buffer.from(before.bytes)), `${what}: a refused snapshot changed the stream`).toBe(true);
          continue;
        }
        // accepted: the state is one the engine runs on, and its outputs stay finite and h within [-1, 1]
        for (let e = 6; e < T.length; e++) {
          const step = attempt(`${what}, event ${e}`, () => target.push(T[e], [X[e]]), ["bad-input"]);
          if ("error" in step) continue; // a damaged last time may make an event early: refused is fine
          expect(target.output().every(Number.isFinite), `${what}: y after event ${e}`).toBe(true);
          expect(target.hidden().every((h) => Math.abs(h) <= 1), `${what}: h after event ${e}`).toBe(true);
        }
      }
      expect(refused).toBeGreaterThan(100);
    });
  }
});

// ---- the arguments of push ----

describe("event arguments", () => {
  it("300 random t and x of random types: every engine answers alike, and a refusal changes nothing", async () => {
    const engines: Engine[] = [];
    for (const name of SNAPSHOT_ENGINES) engines.push(await snapshotEngine(name));
    const streams: Stream[] = engines.map((e) => {
      const s = e.createStream();
      s.push(1, [0.1]);
      return s;
    });
    const rng = new Rng(12_200);
    const values = (): unknown => {
      const k = rng.int(4);
      if (k === 0) return NUMBERS[rng.int(NUMBERS.length)];
      if (k === 1) return OTHERS[rng.int(OTHERS.length)];
      if (k === 2) return 5n;
      return 1 + rng.uniform(0, 10);
    };
    const fresh = () => {
      streams.forEach((s, k) => {
        s.dispose();
        streams[k] = engines[k].createStream();
        streams[k].push(1, [0.1]);
      });
    };
    for (let c = 0; c < 300; c++) {
      const t = values();
      const x = rng.next() < 0.7 ? [values()] : values();
      const answers = streams.map((s, k) => {
        const before = stateOf(s);
        const checked = attempt(`case ${c}, ${SNAPSHOT_ENGINES[k]} check`, () => s.check(t as number, x as number[]), []);
        const pushed = attempt(`case ${c}, ${SNAPSHOT_ENGINES[k]} push`, () => s.push(t as number, x as number[]), ["bad-input"]);
        const refusal = "error" in pushed ? [pushed.error.refusal, pushed.error.message] : null;
        const answer = "value" in checked && checked.value ? [checked.value.refusal, checked.value.message] : null;
        expect(answer, `case ${c}, ${SNAPSHOT_ENGINES[k]}: check answers as push does`).toEqual(refusal);
        if (refusal) expect(Buffer.from(stateOf(s).bytes).equals(Buffer.from(before.bytes))).toBe(true);
        return refusal;
      });
      // the reference has no clock to run out of, and float and fixed clocks differ; otherwise all five agree
      const clockRanOut = answers.some((a) => a?.[0] === "timeRange");
      for (let k = 1; k < answers.length; k++) if (!clockRanOut) expect(answers[k], `case ${c}: ${SNAPSHOT_ENGINES[k]}`).toEqual(answers[0]);
      if (clockRanOut) fresh(); // the streams' last times now differ: start them again alike
    }
  });
});
