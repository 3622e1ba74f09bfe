// Issue 12, item 3: one validation, the same answers from every engine. Whatever a caller hands a stream (t and x
// of any type, a batch of any arrays, options, a snapshot) and whatever model object it hands createEngine, the
// reference, the float engine and the fixed engine's SIMD and scalar builds answer alike: the same PhasorError
// (code, refusal, message) naming the field, never a TypeError or a RangeError, and the stream as it was; and a
// snapshot holding a state no stream could reach (NaN, h beyond its range, an inconsistent header) is refused.
import "../host/node.js";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { createEngine, loadModelBytes } from "../host/engine/create.js";
import type { Engine, Stream } from "../host/engine/engine.js";
import { PhasorError } from "../host/errors.js";
import { parseModelText, type FloatModel } from "../host/model/model.js";
import { quantize } from "../host/model/quantize.js";
import { asyncRejection, stateOf } from "./support/engines.js";

const TINY = readFileSync("examples/tiny-model.json", "utf8");
const tiny = (): FloatModel => parseModelText(TINY, "tiny-model.json");
const T = [0, 0.52, 2.48, 5.01, 7.5, 9.25];
const X = [0.31, 0.77, -0.2, 0.05, 0.4, -0.6];

const ENGINES = ["reference", "float (SIMD)", "fixed (SIMD)", "fixed (scalar)"] as const;
type Name = (typeof ENGINES)[number];

async function engine(name: Name, model = tiny()): Promise<Engine> {
  if (name === "reference") return createEngine(model, { engine: "reference" });
  if (name === "float (SIMD)") return createEngine(model, { engine: "float", simd: "on" });
  const q = quantize(model, [{ t: Float64Array.from(T), x: Float64Array.from(X) }], "tiny");
  return createEngine(loadModelBytes(q.bytes, "tiny.plsm"), { engine: "fixed", simd: name === "fixed (SIMD)" ? "on" : "off" });
}

/** A stream of the engine after the first three events. */
async function started(name: Name): Promise<Stream> {
  const stream = (await engine(name)).createStream();
  for (let e = 0; e < 3; e++) stream.push(T[e], [X[e]]);
  return stream;
}

/** What `action` threw, as something comparable across engines (or "accepted"). */
function outcome(action: () => unknown): unknown {
  try {
    const value = action();
    return value instanceof PhasorError ? { returned: [value.code, value.refusal, value.message] } : "accepted";
  } catch (err) {
    if (!(err instanceof PhasorError)) return { notAPhasorError: String(err) };
    return [err.code, err.refusal, err.message];
  }
}

/** The same action on a started stream of every engine: the same outcome from all four, and no state changed. */
async function sameFromEveryEngine(what: string, action: (s: Stream) => unknown): Promise<unknown> {
  const results: Partial<Record<Name, unknown>> = {};
  for (const name of ENGINES) {
    const stream = await started(name);
    const before = stateOf(stream);
    results[name] = outcome(() => action(stream));
    const after = stateOf(stream);
    if (results[name] !== "accepted") {
      expect(Buffer.from(after.bytes).equals(Buffer.from(before.bytes)), `${what}, ${name}: state changed`).toBe(true);
      expect(after.stats, `${what}, ${name}`).toEqual(before.stats);
    }
  }
  for (const name of ENGINES) expect(results[name], `${what}: ${name} against the reference`).toEqual(results.reference);
  return results.reference;
}

// [what, t, x, the refusal, a fragment of the message]
const EVENTS: [string, unknown, unknown, string, RegExp][] = [
  ["a string t (issue 12: float and fixed took it)", "5.5", [0.1], "notNumber", /^event at t=a string \("5\.5"\): t is a string \("5\.5"\), expected a number$/],
  ["a string x (issue 12: float and fixed took it)", 5.5, ["0.1"], "notNumber", /^event at t=5\.5: x\[0\] is a string \("0\.1"\), expected a number$/],
  ["x = [1e39] (issue 12: the reference took it)", 5.5, [1e39], "nonFinite", /^event at t=5\.5: x\[0\] is 1e\+39, not a finite 32-bit float \(beyond \+-3\.4e38\)/],
  ["x = [-1e39]", 5.5, [-1e39], "nonFinite", /x\[0\] is -1e\+39, not a finite 32-bit float/],
  ["a null x (issue 12: a TypeError)", 5.5, null, "notNumber", /^event at t=5\.5: x is null, expected an array of 1 numbers$/],
  ["a BigInt t (issue 12: a TypeError)", 5n, [0.1], "notNumber", /t is a bigint \(5n\), expected a number$/],
  ["an undefined x", 5.5, undefined, "notNumber", /x is undefined/],
  ["a number for x", 5.5, 0.1, "notNumber", /x is a number, expected an array of 1 numbers/],
  ["an object with a huge length for x", 5.5, { length: 2 ** 40 }, "wrongLength", /x has 1099511627776 numbers, expected 1/],
  ["a BigInt64Array x", 5.5, new BigInt64Array(1), "notNumber", /x\[0\] is a bigint/],
  ["a null input", 5.5, [null], "notNumber", /x\[0\] is null, expected a number/],
  ["an Infinity t", Infinity, [0.1], "nonFinite", /t is not a finite number/],
  ["a NaN input", 5.5, [NaN], "nonFinite", /x\[0\] is NaN, expected a finite number/],
  ["an empty x", 5.5, [], "wrongLength", /x has 0 numbers, expected 1 \(inputSize\)/],
  ["t earlier than the last event", 1, [0.1], "timeBackwards", /^event at t=1: earlier than the previous event at t=2\.48/],
];

describe.each(["push", "check"] as const)("%s refuses every bad event alike in every engine", (method) => {
  for (const [what, t, x, refusal, message] of EVENTS) {
    it(what, async () => {
      const answer = await sameFromEveryEngine(what, (s) => (s[method] as (t: unknown, x: unknown) => unknown)(t, x));
      const [code, got, text] = method === "check" ? (answer as { returned: [string, string, string] }).returned : (answer as [string, string, string]);
      expect(code).toBe("bad-input");
      expect(got).toBe(refusal);
      expect(text).toMatch(message);
    });
  }
});

// [what, t, x, y, h, the refusal (undefined: none), a fragment of the message]
const BATCHES: [string, unknown, unknown, unknown, unknown, string | undefined, RegExp][] = [
  ["a plain array of strings for t", ["6", "7"], new Float32Array(2), undefined, undefined, "notNumber", /^batch: t is an array of 2, expected a Float64Array$/],
  ["a plain array for x", new Float64Array([6, 7]), [0.1, 0.2], undefined, undefined, "notNumber", /^batch: x is an array of 2, expected a Float32Array or a Float64Array$/],
  ["a null x", new Float64Array([6, 7]), null, undefined, undefined, "notNumber", /x is null/],
  ["x one short", new Float64Array([6, 7]), new Float32Array(1), undefined, undefined, "wrongLength", /x has 1 numbers, expected 2 events x 1 \(inputSize\) = 2/],
  ["1e39 in a Float64Array x", new Float64Array([6, 7]), new Float64Array([0.1, 1e39]), undefined, undefined, "nonFinite", /^batch event 1 at t=7: x\[0\] is 1e\+39, not a finite 32-bit float/],
  ["NaN t in the middle", new Float64Array([6, NaN, 8]), new Float32Array(3), undefined, undefined, "nonFinite", /^batch event 1 at t=NaN: t is not a finite number$/],
  ["time going backwards in the batch", new Float64Array([6, 8, 7]), new Float32Array(3), undefined, undefined, "timeBackwards", /^batch event 2 at t=7: earlier than the previous event at t=8/],
  ["time going backwards from the stream", new Float64Array([2, 8]), new Float32Array(2), undefined, undefined, "timeBackwards", /^batch event 0 at t=2: earlier than the previous event at t=2\.48/],
  ["a y too short", new Float64Array([6, 7]), new Float32Array(2), new Float64Array(1), undefined, undefined, /y has room for 1 numbers, needs 2 events x 1 outputs = 2/],
  ["an h that is not a Float64Array", new Float64Array([6, 7]), new Float32Array(2), undefined, [0, 0, 0, 0, 0, 0], undefined, /h is an array of 6, expected a Float64Array or nothing/],
];

describe("pushBatch refuses every bad batch alike in every engine, before any of it runs", () => {
  for (const [what, t, x, y, h, refusal, message] of BATCHES) {
    it(what, async () => {
      const answer = (await sameFromEveryEngine(what, (s) => (s.pushBatch as (...a: unknown[]) => void)(t, x, y, h))) as [string, string, string];
      expect(answer[1]).toBe(refusal);
      expect(answer[2]).toMatch(message);
    });
  }

  it("and accepts the same good batch in every engine", async () => {
    expect(await sameFromEveryEngine("a good batch", (s) => s.pushBatch(new Float64Array([6, 7]), new Float64Array([0.1, -0.2]), new Float64Array(2)))).toBe("accepted");
  });
});

describe("stream options and snapshots of the wrong type", () => {
  it("a time policy that is neither reject nor clamp, or options that are not an object", async () => {
    for (const options of [{ timePolicy: "skip" }, { timePolicy: 1 }, "clamp", null]) {
      const answers = [];
      for (const name of ENGINES) {
        const e = await engine(name);
        answers.push(outcome(() => e.createStream(options as never)));
      }
      expect(answers[0]).toEqual(["bad-args", undefined, expect.stringMatching(/timePolicy must be "reject" or "clamp"|stream options: expected an object/)]);
      for (const answer of answers) expect(answer).toEqual(answers[0]);
    }
  });

  it("restore of something that is not bytes", async () => {
    for (const bad of [null, "snapshot", [1, 2, 3], new Float64Array(4)]) {
      const answer = await sameFromEveryEngine(`restore(${String(bad)})`, (s) => s.restore(bad as never));
      expect(answer).toEqual(["bad-input", undefined, expect.stringMatching(/^snapshot: expected a Uint8Array, got /)]);
    }
  });
});

describe("models built in code are checked on every path (issue 12: createEngine with engine float skipped the check)", () => {
  it("hiddenSize 100000 (a DataView RangeError before) and a short U (\"non-finite weight\" before) name their field", async () => {
    const huge = tiny();
    huge.layers[0].hiddenSize = 100000;
    const short = tiny();
    short.layers[0].U = short.layers[0].U.subarray(3);
    for (const kind of ["reference", "float"] as const) {
      const a = await asyncRejection(() => createEngine(huge, { engine: kind }), "bad-model", `${kind}, hiddenSize 100000`);
      expect(a.message).toBe("model: layers[0].hiddenSize: expected a whole number from 1 to 65536, got 100000");
      const b = await asyncRejection(() => createEngine(short, { engine: kind }), "bad-model", `${kind}, a short U`);
      expect(b.message).toBe("model: layers[0].U: expected 36 numbers, got 33");
    }
  });

  it("whatever the object holds: missing arrays, strings, nulls and wrong types are named, never a TypeError", async () => {
    const cases: [string, (m: Record<string, any>) => void, RegExp][] = [
      ["no layers", (m) => delete m.layers, /model: layers: expected an array of 1 to 64 layers, got nothing \(missing\)/],
      ["a null layer", (m) => (m.layers[0] = null), /model: layers\[0\]: expected an object, got null/],
      ["no W", (m) => delete m.layers[0].W, /model: layers\[0\]\.W: expected 12 rows/],
      ["a string tau", (m) => (m.layers[0].tau = "5,12,40"), /model: layers\[0\]\.tau: expected 3 numbers \(hiddenSize\), got "5,12,40", not an array/],
      ["a tau of strings", (m) => (m.layers[0].tau = ["5", "12", "40"]), /model: layers\[0\]\.tau\[0\]: expected a finite number, got "5"/],
      ["no readout", (m) => delete m.readout, /model: readout: expected an object, got nothing \(missing\)/],
      ["a readout without outputSize", (m) => delete m.readout.outputSize, /model: readout\.outputSize: expected a whole number from 1 to 65536/],
      ["a layer inputSize that is not its input", (m) => (m.layers[0].inputSize = 2), /model: layers\[0\]\.inputSize: expected 1/],
      ["a BigInt inputSize", (m) => (m.inputSize = 1n), /model: inputSize: expected a whole number from 1 to 65536, got 1n/],
    ];
    for (const [what, edit, message] of cases) {
      for (const kind of ["reference", "float"] as const) {
        const model = tiny() as unknown as Record<string, any>;
        edit(model);
        const error = await asyncRejection(() => createEngine(model as FloatModel, { engine: kind }), "bad-model", `${kind}, ${what}`);
        expect(error.message, `${kind}, ${what}`).toMatch(message);
      }
    }
    for (const bad of [null, undefined, 42]) await asyncRejection(() => createEngine(bad as never, { engine: "float" }), "bad-args", `createEngine(${bad})`);
    for (const bad of [null, "float", { simd: "yes" }, { engine: "fast" }]) {
      await asyncRejection(() => createEngine(tiny(), bad as never), "bad-args", `createEngine options ${JSON.stringify(bad)}`);
    }
  });
});

describe("a snapshot holding a state no stream can reach is refused, in every engine", () => {
  /** The snapshot of a stream after the events, and the stream it came from. */
  async function snapshotOf(name: Name): Promise<{ stream: Stream; bytes: Uint8Array; engine: Engine }> {
    const e = await engine(name);
    const stream = e.createStream();
    T.forEach((t, k) => stream.push(t, [X[k]]));
    return { stream, bytes: stream.snapshot(), engine: e };
  }

  /** Restoring `bad` into a fresh stream must be refused and leave that stream as it was. */
  function expectRefused(e: Engine, bad: Uint8Array, what: string): void {
    const target = e.createStream();
    target.push(100, [0.5]);
    const before = stateOf(target);
    let error: unknown;
    try {
      target.restore(bad);
    } catch (err) {
      error = err;
    }
    expect(error, what).toBeInstanceOf(PhasorError);
    expect((error as PhasorError).code, what).toBe("bad-input");
    expect((error as PhasorError).message, what).toMatch(/^snapshot: /);
    expect(Buffer.from(stateOf(target).bytes).equals(Buffer.from(before.bytes)), `${what}: state changed`).toBe(true);
  }

  it("a float snapshot's byte 103 set to 0x7f (issue 12: restored, then y = NaN 33 events later)", async () => {
    const { bytes, engine: e } = await snapshotOf("float (SIMD)");
    const bad = bytes.slice();
    bad[103] = 0x7f;
    expectRefused(e, bad, "byte 103 = 0x7f");
    // the good snapshot goes back in and runs
    const stream = e.createStream();
    stream.restore(bytes);
    for (let k = 0; k < 40; k++) stream.push(20 + k, [0.3]);
    expect(stream.output().every(Number.isFinite)).toBe(true);
  });

  it("NaN, infinite or out-of-range h and c, in the float engine and the reference", async () => {
    for (const name of ["float (SIMD)", "reference"] as const) {
      const { bytes, engine: e } = await snapshotOf(name);
      const view = new DataView(bytes.buffer);
      const h = e.createStream().hidden();
      // find h[0] and c[0] in the bytes by value: the state is h then c, f32 (float) or f64 (reference)
      const width = name === "reference" ? 8 : 4;
      const read = (at: number) => (width === 8 ? view.getFloat64(at, true) : view.getFloat32(at, true));
      const sample = (await snapshotOf(name)).stream.hidden();
      let hAt = -1;
      for (let at = 0; at + width <= bytes.length; at += width) {
        if (read(at) === (width === 8 ? sample[0] : Math.fround(sample[0])) && read(at + width) === (width === 8 ? sample[1] : Math.fround(sample[1]))) {
          hAt = at;
          break;
        }
      }
      expect(hAt, `${name}: h found in the snapshot`).toBeGreaterThan(0);
      expect(h).toHaveLength(3);
      for (const value of [NaN, Infinity, -Infinity, 1.5, -2]) {
        const bad = bytes.slice();
        const v = new DataView(bad.buffer);
        if (width === 8) v.setFloat64(hAt + 8, value, true);
        else v.setFloat32(hAt + 4, value, true);
        expectRefused(e, bad, `${name}: h[1] = ${value}`);
      }
    }
  });

  it("the reference's counters and last time must agree", async () => {
    const { bytes, engine: e } = await snapshotOf("reference");
    const view = new DataView(bytes.buffer);
    // header: 7 u32 words for one layer (magic, version, sizes, the parameter checksum; 28 bytes, padded to 32); then
    // lastT, events, unitUpdates, unitsSkipped (f64)
    const at = 32;
    expect(view.getFloat64(at, true)).toBe(T[T.length - 1]);
    for (const [what, offset, value] of [
      ["lastT NaN after events", 0, NaN],
      ["events 2.5", 8, 2.5],
      ["events -1", 8, -1],
      ["unit updates beyond events x units", 16, 1e6],
    ] as const) {
      const bad = bytes.slice();
      new DataView(bad.buffer).setFloat64(at + offset, value, true);
      expectRefused(e, bad, what);
    }
  });

  it("the wasm engines' header: a time origin or last time that is not finite, or a wake key that is not the last time's", async () => {
    for (const name of ["float (SIMD)", "fixed (SIMD)", "fixed (scalar)"] as const) {
      const { bytes, engine: e } = await snapshotOf(name);
      // the stream header of assembly/model.ts: started i32 at 0, t0 f64 at 8, last t at 16, last key i64 at 24
      for (const [what, edit] of [
        ["t0 NaN", (v: DataView) => v.setFloat64(8, NaN, true)],
        ["last t Infinity", (v: DataView) => v.setFloat64(16, Infinity, true)],
        ["last t before t0", (v: DataView) => v.setFloat64(16, -1, true)],
        ["a wake key 1000 more than the last time's", (v: DataView) => v.setBigInt64(24, v.getBigInt64(24, true) + 1000n, true)],
        ["started 1 with no events", (v: DataView) => v.setBigInt64(32, 0n, true)],
      ] as const) {
        const bad = bytes.slice();
        edit(new DataView(bad.buffer));
        expectRefused(e, bad, `${name}: ${what}`);
      }
    }
  });

  it("a fixed snapshot whose h is -32768, outside the saturated range +-32767", async () => {
    for (const name of ["fixed (SIMD)", "fixed (scalar)"] as const) {
      const { bytes, engine: e, stream } = await snapshotOf(name);
      const h0 = Math.round(stream.hidden()[0] * 32768);
      const view = new DataView(bytes.buffer);
      let hAt = -1;
      for (let at = 64; at + 2 <= bytes.length; at += 2) {
        if (view.getInt16(at, true) === h0) {
          hAt = at;
          break;
        }
      }
      expect(hAt).toBeGreaterThan(0);
      const bad = bytes.slice();
      new DataView(bad.buffer).setInt16(hAt, -32768, true);
      expectRefused(e, bad, `${name}: h[0] = -32768`);
    }
  });
});
