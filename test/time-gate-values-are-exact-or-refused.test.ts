// Issue 12, item 2: every engine computes the exact phase of plstm.md section 4 for every time-gate value it
// accepts, and a model with a value outside the accepted ranges (docs/fixed-point.md, "What the engines accept":
// tau in [2^-20, 2^42], r_on in [2^-16, 1], any finite shift; in a fixed file an open window of at least 4096 ticks)
// is refused at load by every reader, naming the field and the range. Each boundary is tried from both sides
// against the float64 reference (host/engine/reference.ts, BigInt phase), and so are streams that run to the end of the
// engines' clocks. Expected values come from the reference and host/engine/phase.ts, never from the engine under test.
import "../host/node.js";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { createEngine, loadModelBytes, type LoadedModel } from "../host/engine/create.js";
import type { Engine, SimdChoice } from "../host/engine/engine.js";
import { PhasorError } from "../host/errors.js";
import { modelToJson, parseModel, parseModelText, type FloatModel } from "../host/model/model.js";
import { ExactPhase } from "../host/engine/phase.js";
import { crc32, decodePlsm, encodePlsm, phaseStep } from "../host/model/plsm.js";
import { quantize } from "../host/model/quantize.js";
import { WasmInstance } from "../host/engine/wasm.js";
import { Rng, randomModel } from "./support/random.js";
import { asyncRejection, rejection } from "./support/engines.js";

const TINY = readFileSync("examples/tiny-model.json", "utf8");
/** The issue's events: a stream that starts at 0 and jumps to epoch milliseconds. */
const ISSUE_T = [0, 0.52, 1.7e12 + 0.25, 1.7e12 + 3.5];
const ISSUE_X = [0.31, 0.77, -0.2, 0.05];
const TOLERANCE = { float: { h: 1e-4, y: 1e-4 }, fixed: { h: 4e-3, y: 1e-2 } };
const BUILDS: SimdChoice[] = ["on", "off"];

/** The tiny example model with one time-gate value of one unit changed. */
function tinyWith(field: "tau" | "shift" | "rOn", unit: number, value: number): FloatModel {
  const model = parseModelText(TINY, "tiny-model.json");
  model.layers[0][field][unit] = value;
  return model;
}

interface Run {
  /** per event: y and h, or the refusal */
  y: (number[] | string)[];
  h: (number[] | string)[];
}

/** Pushes the events one by one; a refused event is recorded by its reason and must leave the state as it was. */
function run(engine: Engine, t: number[], x: number[][]): Run {
  const stream = engine.createStream();
  const out: Run = { y: [], h: [] };
  t.forEach((time, e) => {
    const before = stream.snapshot();
    try {
      stream.push(time, x[e]);
    } catch (err) {
      expect(err, `event ${e} at t=${time}`).toBeInstanceOf(PhasorError);
      expect(Buffer.from(stream.snapshot()).equals(Buffer.from(before)), "a refused event changed the state").toBe(true);
      out.y.push((err as PhasorError).refusal ?? "?");
      out.h.push((err as PhasorError).refusal ?? "?");
      return;
    }
    out.y.push(Array.from(stream.output()));
    out.h.push(Array.from(stream.hidden()));
  });
  return out;
}

/**
 * Every engine on the model and events, against the reference. Only the wasm engines' clocks may refuse an
 * event ("timeRange"), and only when the reference is exact there too: the events before it must match.
 */
async function expectEnginesMatch(model: FloatModel, t: number[], x: number[][], what: string, calibration?: { t: number[]; x: number[][] }): Promise<void> {
  const reference = run(await createEngine(model, { engine: "reference" }), t, x);
  expect(reference.y.every((y) => Array.isArray(y)), `${what}: the reference refused an event`).toBe(true);
  const calib = calibration ?? { t, x };
  const quantized = quantize(model, [{ t: Float64Array.from(calib.t), x: Float64Array.from(calib.x.flat()) }], "test.plsm");
  for (const simd of BUILDS) {
    const engines: [keyof typeof TOLERANCE, Engine][] = [
      ["float", await createEngine(model, { engine: "float", simd })],
      ["fixed", await createEngine(loadModelBytes(quantized.bytes, "test.plsm"), { engine: "fixed", simd })],
    ];
    for (const [kind, engine] of engines) {
      const got = run(engine, t, x);
      got.y.forEach((y, e) => {
        const where = `${what}: ${kind} (simd ${simd}), event ${e} at t=${t[e]}`;
        if (typeof y === "string") {
          expect(y, where).toBe("timeRange");
          return;
        }
        const want = reference.y[e] as number[];
        y.forEach((v, o) => expect(Math.abs(v - want[o]), `${where}: y[${o}] ${v}, reference ${want[o]}`).toBeLessThan(TOLERANCE[kind].y));
        (got.h[e] as number[]).forEach((v, j) => {
          const ref = (reference.h[e] as number[])[j];
          expect(Math.abs(v - ref), `${where}: h[${j}] ${v}, reference ${ref}`).toBeLessThan(TOLERANCE[kind].h);
        });
      });
    }
  }
}

/**
 * Events in and around the open windows of a unit (tau, shift, r_on) in the periods that follow t0: before each
 * window, at fractions of it, and after it, so that k is tried on both slopes; inputs in (-1, 1).
 */
function eventsInWindows(rng: Rng, t0: number, tau: number, shift: number, rOn: number): { t: number[]; x: number[][] } {
  const first = Math.ceil((t0 - shift) / tau);
  const times = new Set<number>([t0]);
  for (let n = first; n < first + 3; n++) {
    for (const f of [-0.5, 0.05, 0.3, 0.5, 0.7, 0.95, 1.5]) times.add(shift + n * tau + f * rOn * tau);
  }
  const t = [...times].filter((v) => v >= t0).sort((a, b) => a - b);
  return { t, x: t.map(() => [rng.uniform(-1, 1)]) };
}

/** Events relative to a period: n events from t0, gaps uniform on (0, spread tau), inputs in (-1, 1). */
function eventsAround(rng: Rng, t0: number, tau: number, n: number, spread: number): { t: number[]; x: number[][] } {
  const t: number[] = [];
  let now = t0;
  for (let e = 0; e < n; e++) {
    t.push(now);
    now += rng.uniform(0, spread * tau);
  }
  return { t, x: t.map(() => [rng.uniform(-1, 1)]) };
}

describe("the issue's cases (issue 12, item 2)", () => {
  it("shift 1e308: float and fixed compute the phase the reference does (they gave y 0.0765 where it is 0)", async () => {
    await expectEnginesMatch(tinyWith("shift", 0, 1e308), ISSUE_T, ISSUE_X.map((v) => [v]), "shift 1e308");
  });

  it("tau 1e-12 is refused at load by every path, naming the field and the accepted range", async () => {
    const model = tinyWith("tau", 0, 1e-12);
    const range = /layers\[0\]\.tau\[0\]: expected a period in \[2\^-20, 2\^42\] time units.*got 1e-12/;
    expect(rejection(() => parseModel(modelToJson(model), "m.json"), "bad-model").message).toMatch(range);
    for (const engine of ["reference", "float"] as const) {
      expect((await asyncRejection(() => createEngine(model, { engine }), "bad-model", `createEngine ${engine}`)).message).toMatch(range);
    }
    expect(rejection(() => quantize(model, [{ t: Float64Array.from(ISSUE_T), x: Float64Array.from(ISSUE_X) }]), "bad-model").message).toMatch(range);
  });
});

describe("each accepted range, from both sides", () => {
  // [field, value inside (at the boundary), value just outside]
  const BOUNDS: [name: string, field: "tau" | "rOn", inside: number, outside: number][] = [
    ["tau at 2^-20", "tau", 2 ** -20, 2 ** -20 * (1 - 2 ** -53)],
    ["tau at 2^42", "tau", 2 ** 42, 2 ** 42 * (1 + 2 ** -52)],
    ["r_on at 2^-16", "rOn", 2 ** -16, 2 ** -16 * (1 - 2 ** -53)],
  ];
  for (const [name, field, inside, outside] of BOUNDS) {
    it(`${name}: accepted, every engine matches the reference; just beyond, refused by the JSON reader and createEngine`, async () => {
      // unit 1 of the tiny model (tau 12, r_on 0.4) carries the value; the fixed engine needs an open window of
      // 4096 ticks at most 2^40 ticks per unit, so a tiny tau pairs with r_on 1 and a tiny r_on with a tau of 2^20
      const model = tinyWith(field, 1, inside);
      if (name === "tau at 2^-20") model.layers[0].rOn[1] = 1;
      if (name === "r_on at 2^-16") model.layers[0].tau[1] = 2 ** 20;
      const rng = new Rng(41);
      const { tau, shift, rOn } = model.layers[0];
      for (const t0 of [0, 1.7e12 + 0.25, -3.5e7]) {
        const events = eventsInWindows(rng, t0, tau[1], shift[1], rOn[1]);
        await expectEnginesMatch(model, events.t, events.x, `${name}, from t0 = ${t0}`);
      }
      await expectEnginesMatch(model, ISSUE_T, ISSUE_X.map((v) => [v]), `${name}, the issue's events`);

      const refused = tinyWith(field, 1, outside);
      const message = new RegExp(`layers\\[0\\]\\.${field}\\[1\\]: expected .* \\[2\\^-(20, 2\\^42|16, 1)\\]`);
      expect(rejection(() => parseModel(modelToJson(refused), "m.json"), "bad-model").message).toMatch(message);
      for (const engine of ["reference", "float"] as const) {
        expect((await asyncRejection(() => createEngine(refused, { engine }), "bad-model", `createEngine ${engine}`)).message).toMatch(message);
      }
    });
  }

  it("any finite shift: the largest, the smallest, subnormal and negative, at timestamps up to the largest double", async () => {
    for (const shift of [Number.MAX_VALUE, -Number.MAX_VALUE, 1e308, -1e300, 5e-324, -(2 ** -1000), 1.7e12 + 0.3]) {
      const model = tinyWith("shift", 2, shift);
      await expectEnginesMatch(model, ISSUE_T, ISSUE_X.map((v) => [v]), `shift ${shift}`);
      const rng = new Rng(7);
      for (const t0 of [Number.MAX_VALUE / 3, -Number.MAX_VALUE, 1e30 + 1e15, 2 ** -1000]) {
        // consecutive doubles near t0 are ulp(t0) apart: these streams are one event, or gaps of whole ulps
        const events = eventsAround(rng, t0, 40, 30, 0.3);
        await expectEnginesMatch(model, events.t, events.x, `shift ${shift}, from t0 = ${t0}`);
      }
    }
  });

  it("a .plsm outside the ranges is refused by both readers, naming the range; float and fixed files alike", async () => {
    const good = parseModelText(TINY, "tiny-model.json");
    const fixedBytes = quantize(good, [{ t: Float64Array.from(ISSUE_T), x: Float64Array.from(ISSUE_X) }], "tiny").bytes;
    const floatBytes = encodePlsm(good);
    for (const [kind, bytes] of [["fixed", fixedBytes], ["float", floatBytes]] as const) {
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const time = view.getUint32(64 + 28, true); // layer 0's time records (docs/plsm.md)
      for (const [what, edit, message] of [
        ["tau 1e-12", (v: DataView) => v.setFloat64(time, 1e-12, true), /unit 0: tau must be a period in \[2\^-20, 2\^42\] time units \(got 1e-12\)/],
        ["tau 2^43", (v: DataView) => v.setFloat64(time + 32, 2 ** 43, true), /unit 1: tau must be a period in \[2\^-20, 2\^42\]/],
        [
          "r_on below 2^-16",
          (v: DataView) => (kind === "fixed" ? v.setUint32(time + 64 + 24, 2 ** 15 - 1, true) : v.setFloat64(time + 64 + 16, 2 ** -17, true)),
          /unit 2: the open ratio r_on must be in \[2\^-16, 1\]/,
        ],
      ] as const) {
        const bad = resealed(bytes, edit);
        expect(rejection(() => decodePlsm(bad, "bad.plsm"), "bad-model", `decodePlsm, ${kind} ${what}`).message).toMatch(message);
        const loaded: LoadedModel = { format: "plsm", model: good, plsm: { kind: kind === "fixed" ? 1 : 2, model: good, bytes: bad, meta: {} }, source: "bad.plsm" };
        const error = await asyncRejection(() => createEngine(loaded, { engine: kind }), "bad-model", `wasm, ${kind} ${what}`);
        expect(error.message).toMatch(message);
      }
    }
  });

  it("the quantizer refuses an open window the fixed engine cannot give 4096 ticks (r_on tau below 2^-28), naming the unit", () => {
    const model = tinyWith("tau", 2, 2 ** -20);
    model.layers[0].rOn[2] = 2 ** -9; // a window of 2^-29 time units
    const error = rejection(() => quantize(model, [{ t: Float64Array.from(ISSUE_T), x: Float64Array.from(ISSUE_X) }], "m.json"), "bad-model");
    expect(error.message).toMatch(/^m\.json: layers\[0\]\.rOn\[2\] x tau\[2\]: the open window .* shorter than the 4096 ticks/);
    model.layers[0].rOn[2] = 2 ** -8; // 2^-28: exactly 4096 ticks at 2^40 per unit
    expect(quantize(model, [{ t: Float64Array.from(ISSUE_T), x: Float64Array.from(ISSUE_X) }], "m.json").plan.ticksLog2).toBe(40);
  });
});

describe("streams as long as the engines' clocks", () => {
  // r_on 0.05 makes k sensitive to the phase: 2 / r_on = 40 per period
  const model = randomModel(new Rng(2024), { inputSize: 1, hidden: [12], peephole: true, rOn: 0.05, outputs: 2, mode: "every", shiftMax: 50 });
  const calibration = eventsAround(new Rng(5), 0, 5, 400, 1);

  it("the fixed engine's phase stays exact to the end of its 2^62 ticks (a 64-bit step alone drifts 1/8 of a period there)", async () => {
    const { plan } = quantize(model, [{ t: Float64Array.from(calibration.t), x: Float64Array.from(calibration.x.flat()) }], "m");
    const end = 2 ** (62 - plan.ticksLog2); // time units the clock counts
    const rng = new Rng(9);
    for (const t0 of [0.52, 1.7e12 + 0.25]) {
      const t = [t0];
      for (const fraction of [0.25, 0.5, 0.75, 0.9, 0.99]) {
        let at = t0 + fraction * end;
        for (let k = 0; k < 12; k++) t.push((at += rng.uniform(0.1, 3)));
      }
      const x = t.map(() => [rng.uniform(-1, 1)]);
      await expectEnginesMatch(model, t, x, `fixed clock, t0 = ${t0}`, calibration);
    }
  });

  it("the float engine's phase stays exact to the end of its 2^62 keys of 2^-20 time units (an f64 advance drifted 2e-3 on y)", async () => {
    // short periods: after 2^42 time units a unit has turned 10^13 times, where f64 cycles keep 2^-9 of a period
    const fast = randomModel(new Rng(2024), { inputSize: 1, hidden: [12], peephole: true, rOn: 0.05, outputs: 2, mode: "every", shiftMax: 50, tauRange: [0.05, 0.5] });
    const end = 2 ** 42;
    const rng = new Rng(10);
    const t = [0.52];
    for (const fraction of [0.001, 0.3, 0.7, 0.999]) {
      let at = 0.52 + fraction * end;
      for (let k = 0; k < 40; k++) t.push((at += rng.uniform(0.01, 0.3)));
    }
    const x = t.map(() => [rng.uniform(-1, 1)]);
    const reference = run(await createEngine(fast, { engine: "reference" }), t, x);
    for (const simd of BUILDS) {
      const got = run(await createEngine(fast, { engine: "float", simd }), t, x);
      got.y.forEach((y, e) => {
        expect(Array.isArray(y), `event ${e} refused: ${y}`).toBe(true);
        (y as number[]).forEach((v, o) => expect(Math.abs(v - (reference.y[e] as number[])[o]), `simd ${simd}, event ${e}, y[${o}]`).toBeLessThan(1e-4));
      });
    }
  });
});

describe("the pieces of the exact phase in wasm (assembly/phase.ts) against the host's BigInt arithmetic", () => {
  it("the seed: within 2^-50 of a period for any finite t and s, tau across its range", async () => {
    const wasm = await WasmInstance.create("scalar");
    const rng = new Rng(99);
    const extremes = [0, Number.MAX_VALUE, -Number.MAX_VALUE, 1e308, 5e-324, -5e-324, 2 ** -1022, 1.7e12 + 0.25, -1e30, 2 ** 62 + 2 ** 10];
    for (let k = 0; k < 3000; k++) {
      const pick = () => (rng.next() < 0.3 ? extremes[Math.floor(rng.next() * extremes.length)] : (rng.next() < 0.5 ? -1 : 1) * 2 ** rng.uniform(-1074, 1023));
      const t = pick();
      const s = pick();
      const tau = 2 ** rng.uniform(-20, 42);
      const exact = new ExactPhase([tau], [s]).phase(t, 0);
      const seeded = wasm.exports.exactPhase(t, s, tau);
      expect(seeded >= 0 && seeded < 1, `exactPhase(${t}, ${s}, ${tau}) = ${seeded}`).toBe(true);
      const d = Math.abs(seeded - exact);
      expect(Math.min(d, 1 - d), `exactPhase(${t}, ${s}, ${tau}): ${seeded}, exact ${exact}`).toBeLessThan(2 ** -50);
    }
  });

  it("the Q0.96 step per tick: bit for bit the host's, for every ticksLog2 and tau across its range", async () => {
    const wasm = await WasmInstance.create("scalar");
    const rng = new Rng(100);
    for (let k = 0; k < 2000; k++) {
      const tau = k < 2 ? [2 ** -20, 2 ** 42][k] : 2 ** rng.uniform(-20, 42);
      const ticksLog2 = Math.floor(rng.uniform(0, 41));
      const host = phaseStep(tau, ticksLog2);
      expect(BigInt.asUintN(64, wasm.exports.phaseStep(tau, ticksLog2)), `step of tau ${tau} at 2^${ticksLog2}`).toBe(host.step);
      expect(wasm.exports.phaseStepLowBits() >>> 0, `low bits of tau ${tau} at 2^${ticksLog2}`).toBe(host.low);
      // and the step is what its definition says: 2^96 / (tau 2^ticksLog2) to within half a unit of the 96 bits
      const exact = 2 ** 96 / (tau * 2 ** ticksLog2);
      if (exact < 2 ** 96) expect(Math.abs(Number((host.step << 32n) + BigInt(host.low)) - exact)).toBeLessThanOrEqual(0.5 + exact * 2 ** -52);
    }
  });

  it("a file from before the step's low 32 bits were written (a 64-bit step, low bits 0) is still read", async () => {
    const good = parseModelText(TINY, "tiny-model.json");
    const bytes = quantize(good, [{ t: Float64Array.from(ISSUE_T), x: Float64Array.from(ISSUE_X) }], "tiny").bytes;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const time = view.getUint32(64 + 28, true);
    const ticksLog2 = view.getInt32(28, true);
    const old = resealed(bytes, (v) => {
      for (let j = 0; j < 3; j++) {
        v.setBigUint64(time + 32 * j + 16, phaseStep(good.layers[0].tau[j], ticksLog2).step64, true);
        v.setUint32(time + 32 * j + 28, 0, true);
      }
    });
    const engine = await createEngine(loadModelBytes(old, "old.plsm"), { engine: "fixed" });
    const stream = engine.createStream();
    stream.push(1, [0.5]);
    expect(stream.output().every(Number.isFinite)).toBe(true);
  });
});

/** A copy of a .plsm with `edit` applied and its checksum made right again, so the checks, not the CRC, catch it. */
function resealed(bytes: Uint8Array, edit: (v: DataView) => void): Uint8Array {
  const copy = bytes.slice();
  const v = new DataView(copy.buffer);
  edit(v);
  v.setUint32(copy.length - 4, crc32(copy, copy.length - 4), true);
  return copy;
}
