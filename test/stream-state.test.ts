// The stream contract of host/engine/engine.ts for the wasm engines (float and fixed): snapshots that restore exactly
// and are checked before they are trusted, reset, independent streams on one engine, pushBatch = push, inputs
// that are refused without touching the state (plstm.md section 4 for time going backwards, and its clamp
// policy), and the statistics that show closed units cost nothing and keep their state bit for bit (section 1).
import "../host/node.js";
import { describe, expect, it } from "vitest";
import { createEngine } from "../host/engine/create.js";
import type { Engine, Stream } from "../host/engine/engine.js";
import type { FloatModel } from "../host/model/model.js";
import { ExactPhase } from "../host/engine/phase.js";
import { Rng, randomModel, randomStream } from "./support/random.js";
import { firstDifference, maxAbsDiff, rejection, stateOf, trace, wasmEngine, type WasmKind } from "./support/engines.js";

const TOLERANCE: Record<WasmKind, { h: number; y: number }> = { float: { h: 1e-4, y: 1e-4 }, fixed: { h: 4e-3, y: 1e-2 } };

function expectSameBytes(a: ArrayBufferView, b: ArrayBufferView, what: string): void {
  const at = firstDifference(a, b);
  expect(at, `${what}: first differing byte ${at}`).toBe(-1);
}

function expectUntouched(stream: Stream, before: ReturnType<typeof stateOf>, what: string): void {
  const after = stateOf(stream);
  expectSameBytes(after.bytes, before.bytes, `${what}: state bytes`);
  expect(after.stats, `${what}: stats`).toEqual(before.stats);
}


/** The events of [from, to) of a stream as a batch. */
function slice(s: { t: Float64Array; x: Float32Array }, I: number, from: number, to: number) {
  return { t: s.t.subarray(from, to), x: s.x.subarray(from * I, to * I) };
}

/** Pushes events [from, to) of s as one batch. */
function pushRange(stream: Stream, s: { t: Float64Array; x: Float32Array }, from: number, to: number): void {
  const part = slice(s, stream.inputSize, from, to);
  stream.pushBatch(part.t, part.x);
}

const rng = new Rng(2024);
const MODEL = randomModel(rng, { inputSize: 3, hidden: [12, 8], peephole: true, rOn: 0.1, outputs: 2, mode: "every" });
const OTHER = randomModel(rng, { inputSize: 3, hidden: [12, 8], peephole: true, rOn: 0.1, outputs: 2, mode: "every" }); // same shape
const EVENTS = randomStream(rng, { n: 600, inputSize: 3, start: "epoch", maxGap: 50, sparsity: 0.3 });
const SECOND = randomStream(rng, { n: 600, inputSize: 3, start: 1000, maxGap: 50 });
const HIDDEN = MODEL.layers.map((L) => L.hiddenSize);
const I = 3;

describe.each(["float", "fixed"] as WasmKind[])("%s engine streams", (kind) => {
  const engines = new Map<FloatModel, Promise<Engine>>();
  /** one engine per model and kind, created on first use (the fixed one quantized the same way every time) */
  const engineFor = (model: FloatModel) => {
    if (!engines.has(model)) engines.set(model, wasmEngine(kind, model));
    return engines.get(model)!;
  };

  describe("snapshot and restore", () => {
    it("restoring a snapshot reproduces the continuation bit for bit, on the same engine or another one of the model", async () => {
      const engine = await engineFor(MODEL);
      const first = engine.createStream();
      pushRange(first, EVENTS, 0, 300);
      const saved = first.snapshot();
      const savedStats = first.stats();
      const rest = slice(EVENTS, I, 300, 600);
      const want = trace(first, HIDDEN, rest.t, rest.x);

      const sameEngine = engine.createStream();
      pushRange(sameEngine, SECOND, 0, 50); // state restore must overwrite
      const otherEngine = (await wasmEngine(kind, MODEL)).createStream();
      for (const [name, target] of [
        ["same engine", sameEngine],
        ["another engine of the model", otherEngine],
      ] as [string, Stream][]) {
        target.restore(saved);
        expectSameBytes(target.snapshot(), saved, `${name}: restored state`);
        expect(target.stats()).toEqual(savedStats);
        const got = trace(target, HIDDEN, rest.t, rest.x);
        expectSameBytes(got.y, want.y, `${name}: y`);
        got.h.forEach((h, l) => expectSameBytes(h, want.h[l], `${name}: layer ${l} h`));
        got.c.forEach((c, l) => expectSameBytes(c, want.c[l], `${name}: layer ${l} c`));
        expectSameBytes(target.snapshot(), first.snapshot(), `${name}: final state`);
        expect(target.stats()).toEqual(first.stats());
      }
      // the restored stream remembers its last timestamp: time still may not go backwards
      const restored = engine.createStream();
      restored.restore(saved);
      const e = rejection(() => restored.push(EVENTS.t[299] - 1, [0, 0, 0]), "bad-input");
      expect(e.message).toMatch(/earlier|backwards/);
    });

    it("refuses a snapshot of another model, of the wrong length, of the other engine kind, and leaves the state untouched", async () => {
      const engine = await engineFor(MODEL);
      const stream = engine.createStream();
      pushRange(stream, EVENTS, 0, 100);
      const before = stateOf(stream);
      const good = stream.snapshot();

      const foreign = (await engineFor(OTHER)).createStream();
      pushRange(foreign, EVENTS, 0, 100);
      expect(foreign.snapshot().length, "the other model has the same shape, so its snapshots have the same length").toBe(good.length);
      expect(rejection(() => stream.restore(foreign.snapshot()), "bad-input").message).toMatch(/model/);
      expectUntouched(stream, before, "another model");

      const otherKind = (await wasmEngine(kind === "fixed" ? "float" : "fixed", MODEL)).createStream();
      pushRange(otherKind, EVENTS, 0, 100);
      rejection(() => stream.restore(otherKind.snapshot()), "bad-input");
      expectUntouched(stream, before, "the other engine kind");

      const longer = new Uint8Array(good.length + 16);
      longer.set(good);
      for (const [name, bytes] of [
        ["one byte short", good.subarray(0, good.length - 1)],
        ["half", good.subarray(0, good.length >> 1)],
        ["16 bytes too long", longer],
        ["empty", new Uint8Array(0)],
      ] as [string, Uint8Array][]) {
        expect(rejection(() => stream.restore(bytes), "bad-input").message, name).toMatch(/bytes|length|size/);
        expectUntouched(stream, before, name);
      }
    });

    it("refuses a snapshot whose unit schedule is corrupt (a unit listed twice, out of range, negative)", async () => {
      // one layer of 7 units: a fresh stream lists every unit once, 0..6 as consecutive i32, in its active list
      const model = randomModel(new Rng(31), { inputSize: 2, hidden: [7], peephole: false, rOn: 0.2, outputs: 1, mode: "every" });
      const engine = await engineFor(model);
      const fresh = engine.createStream().snapshot();
      const words = new Int32Array(fresh.buffer, fresh.byteOffset, fresh.byteLength >> 2);
      const found: number[] = [];
      for (let w = 0; w + 7 <= words.length; w++) if ([0, 1, 2, 3, 4, 5, 6].every((j, k) => words[w + k] === j)) found.push(w);
      expect(found, "the active list of a fresh stream (units 0..6 as i32) in its snapshot").toHaveLength(1);
      const at = found[0];

      const stream = engine.createStream();
      stream.pushBatch(new Float64Array([1, 2, 3.5]), new Float32Array([0.1, 0.2, -0.3, 0.4, 0.5, -0.6]));
      const before = stateOf(stream);
      stream.restore(fresh); // the untouched snapshot is fine
      expectSameBytes(stream.snapshot(), fresh, "fresh snapshot restored");
      stream.restore(before.bytes);
      for (const [name, word, value] of [
        ["unit 0 listed twice", 1, 0],
        ["unit 6 listed twice", 3, 6],
        ["unit index 7 of 7", 6, 7],
        ["unit index 1000", 2, 1000],
        ["unit index -5", 4, -5],
      ] as [string, number, number][]) {
        const bad = fresh.slice();
        new DataView(bad.buffer).setInt32(4 * (at + word), value, true);
        expect(rejection(() => stream.restore(bad), "bad-input").message, name).toMatch(/schedule|corrupt/);
        expectUntouched(stream, before, name);
      }
    });
  });

  it("reset gives a fresh stream: the same bytes, no time origin, the same results", async () => {
    const engine = await engineFor(MODEL);
    const fresh = engine.createStream();
    const used = engine.createStream();
    used.pushBatch(EVENTS.t, EVENTS.x);
    used.reset();
    expectSameBytes(used.snapshot(), fresh.snapshot(), "after reset");
    expect(used.stats()).toEqual({ events: 0, unitUpdates: 0, unitsSkipped: 0, inputsSaturated: 0 });
    HIDDEN.forEach((H, l) => {
      expect(Array.from(used.hidden(l))).toEqual(new Array(H).fill(0));
      expect(Array.from(used.cell(l))).toEqual(new Array(H).fill(0));
    });
    // SECOND starts long before the end of EVENTS: after reset that is no longer "earlier"
    const a = trace(used, HIDDEN, SECOND.t, SECOND.x);
    const b = trace(fresh, HIDDEN, SECOND.t, SECOND.x);
    expectSameBytes(a.y, b.y, "y after reset");
    expectSameBytes(used.snapshot(), fresh.snapshot(), "state after reset and the same events");
  });

  it("streams on one engine are independent: interleaved pushes give each stream's solo results", async () => {
    const engine = await engineFor(MODEL);
    const soloEngine = await wasmEngine(kind, MODEL);
    const solo = [EVENTS, SECOND].map((s) => trace(soloEngine.createStream(), HIDDEN, s.t, s.x));
    const streams = [engine.createStream(), engine.createStream()];
    const bystander = engine.createStream(); // created, fed, disposed in the middle
    bystander.push(0, [1, 1, 1]);
    const next = [0, 0];
    const mix = new Rng(5);
    const y = [new Float64Array(600 * 2), new Float64Array(600 * 2)];
    while (next[0] < 600 || next[1] < 600) {
      const k = next[0] >= 600 ? 1 : next[1] >= 600 ? 0 : mix.int(2);
      const s = k ? SECOND : EVENTS;
      const n = Math.min(600 - next[k], mix.next() < 0.5 ? 1 : 1 + mix.int(40));
      if (n === 1) {
        streams[k].push(s.t[next[k]], s.x.subarray(next[k] * I, next[k] * I + I));
        y[k].set(streams[k].output(), next[k] * 2);
      } else {
        const part = slice(s, I, next[k], next[k] + n);
        streams[k].pushBatch(part.t, part.x, y[k].subarray(next[k] * 2, (next[k] + n) * 2));
      }
      next[k] += n;
      if (next[0] > 300 && next[0] < 320) bystander.dispose();
    }
    for (const k of [0, 1]) {
      expectSameBytes(y[k], solo[k].y, `stream ${k}: y`);
      HIDDEN.forEach((H, l) => expectSameBytes(streams[k].hidden(l), solo[k].h[l].subarray(599 * H), `stream ${k}: final layer ${l} h`));
    }
  });

  it("pushBatch gives the bits of pushing event by event, in one batch or in pieces", async () => {
    const engine = await engineFor(MODEL);
    const one = trace(engine.createStream(), HIDDEN, EVENTS.t, EVENTS.x);
    const oneStream = engine.createStream();
    oneStream.pushBatch(EVENTS.t, EVENTS.x); // no outputs asked
    const H = HIDDEN[1];
    const y = new Float64Array(600 * 2);
    const h = new Float64Array(600 * H);
    const batch = engine.createStream();
    batch.pushBatch(EVENTS.t, EVENTS.x, y, h);
    expectSameBytes(y, one.y, "batch y");
    expectSameBytes(h, one.h[1], "batch h (last layer)");
    expectSameBytes(batch.snapshot(), oneStream.snapshot(), "state: with and without outputs");
    // pieces of random sizes (including empty ones), y only or h only
    const pieces = engine.createStream();
    const y2 = new Float64Array(600 * 2);
    const h2 = new Float64Array(600 * H);
    const cut = new Rng(8);
    for (let from = 0; from < 600; ) {
      const to = Math.min(600, from + cut.int(60));
      const part = slice(EVENTS, I, from, to);
      if (cut.next() < 0.5) pieces.pushBatch(part.t, part.x, y2.subarray(from * 2, to * 2));
      else pieces.pushBatch(part.t, part.x, undefined, h2.subarray(from * H, to * H));
      from = to;
    }
    expectSameBytes(pieces.snapshot(), batch.snapshot(), "state after pieces");
    expect(pieces.stats()).toEqual(batch.stats());
    expect(batch.stats().events).toBe(600);
  });

  describe("bad input is refused with a PhasorError and leaves the state byte-identical", () => {
    const cases: [string, (s: Stream) => void, RegExp][] = [
      ["x one short", (s) => s.push(2e12, [0.1, 0.2]), /x has 2 numbers.*\b3\b/],
      ["x one long", (s) => s.push(2e12, [0.1, 0.2, 0.3, 0.4]), /x has 4 numbers.*\b3\b/],
      ["x empty", (s) => s.push(2e12, []), /x has 0 numbers/],
      ["NaN in x", (s) => s.push(2e12, [0.1, NaN, 0.3]), /x\[1\].*(finite|NaN)/],
      ["Infinity in x", (s) => s.push(2e12, [0.1, 0.2, Infinity]), /x\[2\].*(finite|Infinity)/],
      ["-Infinity in x", (s) => s.push(2e12, [-Infinity, 0.2, 0.3]), /x\[0\].*(finite|Infinity)/],
      ["NaN t", (s) => s.push(NaN, [0.1, 0.2, 0.3]), /\bt\b.*finite/],
      ["Infinity t", (s) => s.push(Infinity, [0.1, 0.2, 0.3]), /\bt\b.*finite/],
      ["-Infinity t", (s) => s.push(-Infinity, [0.1, 0.2, 0.3]), /\bt\b.*finite/],
      ["t before the previous event", (s) => s.push(EVENTS.t[99] - 0.001, [0.1, 0.2, 0.3]), /earlier|backwards/],
      ["t long before the previous event", (s) => s.push(0, [0.1, 0.2, 0.3]), /earlier|backwards/],
      ["batch: x length", (s) => s.pushBatch(new Float64Array([2e12, 2e12 + 1]), new Float32Array(5)), /x has 5 numbers/],
      ["batch: y too small", (s) => s.pushBatch(new Float64Array([2e12]), new Float32Array(3), new Float64Array(1)), /\by\b/],
      ["batch: h too small", (s) => s.pushBatch(new Float64Array([2e12]), new Float32Array(3), undefined, new Float64Array(7)), /\bh\b/],
      ["batch: NaN in x of event 2", (s) => s.pushBatch(new Float64Array([2e12, 2e12 + 1, 2e12 + 2, 2e12 + 3]), Float32Array.from([0, 0, 0, 1, 1, 1, 1, NaN, 1, 2, 2, 2])), /event 2\b.*x\[1\]/],
      ["batch: NaN t of event 3", (s) => s.pushBatch(new Float64Array([2e12, 2e12 + 1, 2e12 + 2, NaN]), new Float32Array(12)), /event 3\b.*\bt\b.*finite/],
      ["batch: event 2 earlier than event 1", (s) => s.pushBatch(new Float64Array([2e12, 2e12 + 5, 2e12 + 4]), new Float32Array(9)), /event 2\b.*(earlier|backwards)/],
      ["batch: event 0 earlier than the stream", (s) => s.pushBatch(new Float64Array([EVENTS.t[99] - 1, 2e12]), new Float32Array(6)), /event 0\b.*(earlier|backwards)/],
    ];
    for (const [name, action, message] of cases) {
      it(name, async () => {
        const stream = (await engineFor(MODEL)).createStream();
        pushRange(stream, EVENTS, 0, 100);
        const before = stateOf(stream);
        expect(rejection(() => action(stream), "bad-input").message).toMatch(message);
        expectUntouched(stream, before, name);
        // and the stream goes on as if nothing had happened
        const control = (await engineFor(MODEL)).createStream();
        pushRange(control, EVENTS, 0, 101);
        stream.push(EVENTS.t[100], EVENTS.x.subarray(300, 303));
        expectSameBytes(stream.snapshot(), control.snapshot(), "the next good event");
      });
    }
  });

  it("clamp runs an earlier event at the previous timestamp, as the reference does", async () => {
    const engine = await engineFor(MODEL);
    const reference = await createEngine(MODEL, { engine: "reference" });
    // EVENTS with every fifth timestamp moved back before its predecessor (some before several predecessors)
    const t = EVENTS.t.slice();
    const back = new Rng(9);
    for (let e = 5; e < 600; e += 5) t[e] = t[e - 1] - back.logUniform(0.001, 200);
    const effective = t.slice();
    for (let e = 1; e < 600; e++) effective[e] = Math.max(effective[e - 1], t[e]);
    const clamped = engine.createStream({ timePolicy: "clamp" });
    const got = trace(clamped, HIDDEN, t, EVENTS.x);
    const want = trace(reference.createStream({ timePolicy: "clamp" }), HIDDEN, t, EVENTS.x);
    HIDDEN.forEach((_, l) => expect(maxAbsDiff(got.h[l], want.h[l]).max, `layer ${l} h`).toBeLessThan(TOLERANCE[kind].h));
    expect(maxAbsDiff(got.y, want.y).max, "y").toBeLessThan(TOLERANCE[kind].y);
    // exactly what the same engine does with the clamped times, under either policy and in a batch
    const explicit = engine.createStream();
    explicit.pushBatch(effective, EVENTS.x);
    expectSameBytes(clamped.snapshot(), explicit.snapshot(), "clamped vs explicit times");
    const batch = engine.createStream({ timePolicy: "clamp" });
    batch.pushBatch(t, EVENTS.x);
    expectSameBytes(batch.snapshot(), explicit.snapshot(), "clamped batch vs explicit times");
    // the reject policy refuses the same stream
    rejection(() => engine.createStream().pushBatch(t, EVENTS.x), "bad-input");
  });

  it("stats count open units only, as the reference does; at r_on = 0.05 about 5 % of units are updated; closed units keep h and c bit for bit", async () => {
    const model = randomModel(new Rng(41), { inputSize: 2, hidden: [110, 32], peephole: true, rOn: 0.05, outputs: 1, mode: "every" });
    const events = randomStream(new Rng(42), { n: 2000, inputSize: 2, start: "epoch" });
    const engine = await engineFor(model);
    const reference = (await createEngine(model, { engine: "reference" })).createStream();
    reference.pushBatch(events.t, events.x);
    // A phase this close to r_on or to a period boundary may be judged either way by an engine that rounds time:
    // the fixed engine to ticks (half a tick is at most 1.2e-4 r_on of a period), the float engine in f64.
    const margin = kind === "fixed" ? 2e-4 * 0.05 : 1e-7;
    const phases = model.layers.map((L) => new ExactPhase(L.tau, L.shift));
    const phi = model.layers.map((L) => new Float64Array(L.hiddenSize));
    const stream = engine.createStream();
    let open = 0;
    let unsure = 0;
    let closedSeen = 0;
    let openChanged = 0;
    for (let e = 0; e < 2000; e++) {
      const h = model.layers.map((_, l) => stream.hidden(l));
      const c = model.layers.map((_, l) => stream.cell(l));
      stream.push(events.t[e], events.x.subarray(2 * e, 2 * e + 2));
      model.layers.forEach((L, l) => {
        phases[l].phases(events.t[e], phi[l]);
        const h2 = stream.hidden(l);
        const c2 = stream.cell(l);
        for (let j = 0; j < L.hiddenSize; j++) {
          const p = phi[l][j];
          const isOpen = p < L.rOn[j];
          if (isOpen) open++;
          if (p < margin || p > 1 - margin || Math.abs(p - L.rOn[j]) < margin) {
            unsure++;
            continue;
          }
          if (isOpen) {
            if (!Object.is(h2[j], h[l][j]) || !Object.is(c2[j], c[l][j])) openChanged++;
            continue;
          }
          closedSeen++;
          expect(Object.is(h2[j], h[l][j]) && Object.is(c2[j], c[l][j]), `event ${e}, layer ${l}, unit ${j} is closed (phi ${p}) but changed`).toBe(true);
        }
      });
    }
    const units = 110 + 32;
    const stats = stream.stats();
    expect(reference.stats().unitUpdates, "the reference counts phi < r_on").toBe(open);
    expect(stats.events).toBe(2000);
    expect(unsure, "phases too close to call").toBeLessThan(open / 100);
    expect(Math.abs(stats.unitUpdates - open), `${stats.unitUpdates} updates, ${open} open by the exact phase, ${unsure} too close to call`).toBeLessThanOrEqual(unsure);
    expect(Math.abs(stats.unitsSkipped - (2000 * units - open)), "skipped against closed by the exact phase").toBeLessThanOrEqual(unsure);
    expect(stats.unitUpdates / (2000 * units)).toBeGreaterThan(0.04);
    expect(stats.unitUpdates / (2000 * units)).toBeLessThan(0.06);
    expect(closedSeen).toBeGreaterThan(0.9 * 2000 * units);
    expect(openChanged, "open units do get updated").toBeGreaterThan(open / 2);
  });
});
