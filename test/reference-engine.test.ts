// The float64 reference engine computes plstm.md as written: checked here against hand computations of small
// cases, and for the stream contract of host/engine/engine.ts (validation before any state change, time order, clamp,
// snapshots, stats).
import { describe, expect, it } from "vitest";
import { createEngine } from "../host/engine/create.js";
import type { Stream } from "../host/engine/engine.js";
import { PhasorError } from "../host/errors.js";
import type { FloatModel } from "../host/model/model.js";
import { exactPhase, timeGate } from "../host/engine/phase.js";
import { ReferenceEngine } from "../host/engine/reference.js";
import { Rng, randomModel, randomStream } from "./support/random.js";

// One unit, two inputs: every parameter by name, so the hand computation below does not depend on the row layout.
const P = {
  wi: [0.3, -0.2], wf: [0.1, 0.4], wg: [-0.5, 0.6], wo: [0.2, 0.2],
  ui: 0.7, uf: -0.3, ug: 0.9, uo: 0.5,
  bi: 0.05, bf: 1.0, bg: -0.1, bo: 0.2,
  pi: 0.25, pf: -0.15, po: 0.35,
  v: [1.5, -2.0], d: [0.1, -0.3],
};

function oneUnitModel(gate: { tau: number; shift: number; rOn: number }, peephole = true): FloatModel {
  return {
    timeUnit: "ms",
    inputSize: 2,
    layers: [
      {
        inputSize: 2,
        hiddenSize: 1,
        W: new Float64Array([...P.wi, ...P.wf, ...P.wg, ...P.wo]),
        U: new Float64Array([P.ui, P.uf, P.ug, P.uo]),
        b: new Float64Array([P.bi, P.bf, P.bg, P.bo]),
        peephole: peephole ? { i: new Float64Array([P.pi]), f: new Float64Array([P.pf]), o: new Float64Array([P.po]) } : null,
        tau: new Float64Array([gate.tau]),
        shift: new Float64Array([gate.shift]),
        rOn: new Float64Array([gate.rOn]),
        alpha: 0.001,
      },
    ],
    readout: { mode: "every", outputSize: 2, V: new Float64Array(P.v), d: new Float64Array(P.d) },
  };
}

/** plstm.md section 1 for the unit above, written out by hand */
function handStep(k: number, x: number[], h: number, c: number, peephole = true): { h: number; c: number; cCandidate: number } {
  const sigma = (z: number) => 1 / (1 + Math.exp(-z));
  const [pi, pf, po] = peephole ? [P.pi, P.pf, P.po] : [0, 0, 0];
  const i = sigma(P.wi[0] * x[0] + P.wi[1] * x[1] + P.ui * h + pi * c + P.bi);
  const f = sigma(P.wf[0] * x[0] + P.wf[1] * x[1] + P.uf * h + pf * c + P.bf);
  const g = Math.tanh(P.wg[0] * x[0] + P.wg[1] * x[1] + P.ug * h + P.bg);
  const cCandidate = f * c + i * g;
  const o = sigma(P.wo[0] * x[0] + P.wo[1] * x[1] + P.uo * h + po * cCandidate + P.bo);
  const hCandidate = o * Math.tanh(cCandidate);
  return { h: k * hCandidate + (1 - k) * h, c: k * cCandidate + (1 - k) * c, cCandidate };
}

const close = (a: number, b: number) => expect(Math.abs(a - b), `${a} vs ${b}`).toBeLessThan(1e-14);

/** what push must leave alone when it rejects an event */
function stateOf(stream: Stream): { bytes: number[]; stats: object } {
  return { bytes: Array.from(stream.snapshot()), stats: stream.stats() };
}

function expectRejected(action: () => void, message: RegExp): void {
  let error: unknown;
  try {
    action();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(PhasorError);
  expect((error as PhasorError).code).toBe("bad-input");
  expect((error as PhasorError).message).toMatch(message);
}

describe("the reference engine computes plstm.md section 1", () => {
  it("with r_on = 1 the openness at a known phase is the formula's k", () => {
    const engine = new ReferenceEngine(oneUnitModel({ tau: 10, shift: 0, rOn: 1 }));
    for (const [t, k] of [
      [3, 0.6], // phi = 0.3, rising: 2 phi
      [8, 2 - 1.6], // phi = 0.8, falling: 2 - 2 phi
      [25, 1], // phi = 0.5: fully open
    ]) {
      const stream = engine.createStream();
      stream.push(t, [0.5, -1]);
      const fromZero = handStep(1, [0.5, -1], 0, 0);
      // from h = c = 0 the gated update is c = k c~
      close(stream.cell()[0] / fromZero.cCandidate, k);
      close(stream.cell()[0], handStep(k, [0.5, -1], 0, 0).c);
      expect(timeGate(exactPhase(t, 0, 10), 1, 0)).toBe(k);
    }
  });

  it("a one-unit model agrees with a hand computation, step by step", () => {
    const model = oneUnitModel({ tau: 4, shift: 1, rOn: 0.5 });
    const stream = new ReferenceEngine(model).createStream();
    const events: [number, number[], number][] = [
      [1.5, [0.5, -1], 0.5], // phi = 0.125 < r_on / 2: k = 2 * 0.125 / 0.5
      [6.2, [-0.3, 0.8], 2 - (2 * ((6.2 - 1 - 4) / 4)) / 0.5], // phi = 0.3: falling
      [8.0, [0.9, 0.9], 0], // phi = 0.75 >= r_on: closed
      [9.5, [0.1, 0.2], 0.5], // phi = 0.125 again, two periods later
    ];
    let h = 0;
    let c = 0;
    for (const [t, x, k] of events) {
      close(timeGate(exactPhase(t, 1, 4), 0.5, 0), k);
      ({ h, c } = handStep(timeGate(exactPhase(t, 1, 4), 0.5, 0), x, h, c));
      stream.push(t, x);
      close(stream.hidden()[0], h);
      close(stream.cell()[0], c);
      const y = stream.output();
      close(y[0], P.v[0] * h + P.d[0]);
      close(y[1], P.v[1] * h + P.d[1]);
    }
  });

  it("without peepholes the peephole terms are zero", () => {
    const stream = new ReferenceEngine(oneUnitModel({ tau: 4, shift: 0, rOn: 1 }, false)).createStream();
    stream.push(1, [0.5, -1]);
    stream.push(1.5, [0.2, 0.3]);
    const first = handStep(timeGate(0.25, 1, 0), [0.5, -1], 0, 0, false);
    const second = handStep(timeGate(0.375, 1, 0), [0.2, 0.3], first.h, first.c, false);
    close(stream.hidden()[0], second.h);
    close(stream.cell()[0], second.c);
  });

  it("with alpha = 0 a closed unit keeps h and c exactly; with the model's leak it does not", () => {
    const rng = new Rng(3);
    const model = randomModel(rng, { inputSize: 2, hidden: [30], peephole: true, rOn: 0.2, outputs: 1, mode: "every" });
    const { t, x } = randomStream(rng, { n: 300, inputSize: 2, maxGap: 20 });
    const layer = model.layers[0];
    for (const alpha of [undefined, "model"] as const) {
      const stream = new ReferenceEngine(model, { alpha }).createStream();
      let closedSeen = 0;
      let closedChanged = 0;
      for (let e = 0; e < t.length; e++) {
        const h = stream.hidden();
        const c = stream.cell();
        stream.push(t[e], x.subarray(2 * e, 2 * e + 2));
        const h2 = stream.hidden();
        const c2 = stream.cell();
        for (let j = 0; j < 30; j++) {
          if (exactPhase(t[e], layer.shift[j], layer.tau[j]) < layer.rOn[j]) continue;
          closedSeen++;
          if (!Object.is(h2[j], h[j]) || !Object.is(c2[j], c[j])) closedChanged++;
        }
      }
      expect(closedSeen).toBeGreaterThan(1000);
      if (alpha === undefined) expect(closedChanged).toBe(0);
      else expect(closedChanged).toBeGreaterThan(closedSeen / 2);
    }
  });

  it("rejects an alpha option that is not 'model' or a number >= 0", () => {
    const model = oneUnitModel({ tau: 4, shift: 0, rOn: 1 });
    expect(() => new ReferenceEngine(model, { alpha: -1 })).toThrow(/alpha/);
    expect(() => new ReferenceEngine(model, { alpha: NaN })).toThrow(/alpha/);
    expect(new ReferenceEngine(model, { alpha: 0.5 }).kind).toBe("reference");
  });
});

describe("reference streams", () => {
  const rng = new Rng(5);
  const model = randomModel(rng, { inputSize: 3, hidden: [12, 8], peephole: true, rOn: 0.1, outputs: 2, mode: "every" });
  const events = randomStream(rng, { n: 600, inputSize: 3, start: "epoch", maxGap: 50, sparsity: 0.3 });
  const engine = new ReferenceEngine(model);

  it("pushBatch gives the same bits as pushing event by event, with y and h after every event", () => {
    const one = engine.createStream();
    const batch = engine.createStream();
    const y = new Float64Array(600 * 2);
    const h = new Float64Array(600 * 8);
    batch.pushBatch(events.t, events.x, y, h);
    for (let e = 0; e < 600; e++) {
      one.push(events.t[e], events.x.subarray(3 * e, 3 * e + 3));
      expect(Array.from(y.subarray(2 * e, 2 * e + 2))).toEqual(Array.from(one.output()));
      expect(Array.from(h.subarray(8 * e, 8 * e + 8))).toEqual(Array.from(one.hidden()));
    }
    expect(batch.snapshot()).toEqual(one.snapshot());
  });

  it("snapshot and restore reproduce a run bit for bit, also on another engine of the same model", () => {
    const first = engine.createStream();
    first.pushBatch(events.t.subarray(0, 300), events.x.subarray(0, 900));
    const saved = first.snapshot();
    const rest = { t: events.t.subarray(300), x: events.x.subarray(900) };
    const yFirst = new Float64Array(300 * 2);
    first.pushBatch(rest.t, rest.x, yFirst);

    for (const target of [engine.createStream(), new ReferenceEngine(model).createStream()]) {
      target.push(0, [1, 1, 1]); // state that restore must overwrite
      target.restore(saved);
      expect(target.stats()).toEqual({ events: 300, unitUpdates: expect.any(Number), unitsSkipped: expect.any(Number), inputsSaturated: 0 });
      const yAgain = new Float64Array(300 * 2);
      target.pushBatch(rest.t, rest.x, yAgain);
      expect(Array.from(yAgain)).toEqual(Array.from(yFirst));
      expect(target.snapshot()).toEqual(first.snapshot());
      expect(target.stats()).toEqual(first.stats());
      // the restored last t still guards the time order
      expectRejected(() => target.push(events.t[300] - 1, [0, 0, 0]), /earlier than the previous event/);
    }
  });

  it("restore refuses a snapshot from an engine of another shape, or bytes that are not a snapshot", () => {
    const other = randomModel(new Rng(6), { inputSize: 3, hidden: [12, 9], peephole: true, rOn: 0.1, outputs: 2, mode: "every" });
    const foreign = new ReferenceEngine(other).createStream().snapshot();
    const stream = engine.createStream();
    stream.push(1, [0.5, 0.5, 0.5]);
    const before = stateOf(stream);
    expectRejected(() => stream.restore(foreign), /another shape.*hidden sizes \[12, 9\].*hidden sizes \[12, 8\]/);
    expectRejected(() => stream.restore(new Uint8Array(16)), /not a snapshot of a reference-engine stream/);
    expectRejected(() => stream.restore(stream.snapshot().subarray(0, 40)), /another shape/);
    expect(stateOf(stream)).toEqual(before);
  });

  it("rejects time going backwards, naming both timestamps, and leaves the state untouched", () => {
    const stream = engine.createStream();
    stream.push(10, [0.1, 0.2, 0.3]);
    stream.push(10, [0.1, 0.2, 0.3]); // equal timestamps are in order
    const before = stateOf(stream);
    expectRejected(() => stream.push(5, [0.1, 0.2, 0.3]), /^event at t=5: earlier than the previous event at t=10/);
    expect(stateOf(stream)).toEqual(before);
    // in a batch: the bad event is found before the good ones before it touch the state
    expectRejected(
      () => stream.pushBatch(new Float64Array([11, 12, 11.5]), new Float32Array(9)),
      /^batch event 2 at t=11\.5: earlier than the previous event at t=12/,
    );
    expectRejected(() => stream.pushBatch(new Float64Array([9]), new Float32Array(3)), /t=9: earlier than the previous event at t=10/);
    expect(stateOf(stream)).toEqual(before);
  });

  it("clamp runs a late event at the previous timestamp", () => {
    const clamped = engine.createStream({ timePolicy: "clamp" });
    const reference = engine.createStream();
    for (const s of [clamped, reference]) s.push(10, [0.1, 0.2, 0.3]);
    clamped.push(5, [0.4, -0.5, 0.6]);
    reference.push(10, [0.4, -0.5, 0.6]);
    expect(clamped.snapshot()).toEqual(reference.snapshot());
    clamped.pushBatch(new Float64Array([12, 11, 13]), new Float32Array([1, 0, 0, 0, 1, 0, 0, 0, 1]));
    reference.pushBatch(new Float64Array([12, 12, 13]), new Float32Array([1, 0, 0, 0, 1, 0, 0, 0, 1]));
    expect(clamped.snapshot()).toEqual(reference.snapshot());
    expect(() => engine.createStream({ timePolicy: "sort" as never })).toThrow(/timePolicy/);
  });

  it("rejects a wrong x length, a non-finite x or t, and leaves the state untouched", () => {
    const stream = engine.createStream();
    stream.push(1, [0.1, 0.2, 0.3]);
    const before = stateOf(stream);
    expectRejected(() => stream.push(2, [0.1, 0.2]), /^event at t=2: x has 2 numbers, expected 3 \(inputSize\)/);
    expectRejected(() => stream.push(2, [0.1, 0.2, 0.3, 0.4]), /x has 4 numbers, expected 3/);
    expectRejected(() => stream.push(2, [0.1, NaN, 0.3]), /^event at t=2: x\[1\] is NaN, expected a finite number/);
    expectRejected(() => stream.push(2, [0.1, 0.2, Infinity]), /x\[2\] is Infinity/);
    expectRejected(() => stream.push(NaN, [0.1, 0.2, 0.3]), /t is not a finite number/);
    expectRejected(() => stream.push(Infinity, [0.1, 0.2, 0.3]), /t is not a finite number/);
    expectRejected(() => stream.pushBatch(new Float64Array([2, 3]), new Float32Array([0, 0, 0, 0, NaN, 0])), /^batch event 1 at t=3: x\[1\] is NaN/);
    expectRejected(() => stream.pushBatch(new Float64Array([2, 3]), new Float32Array(5)), /^batch: x has 5 numbers, expected 2 events x 3/);
    expectRejected(() => stream.pushBatch(new Float64Array([2]), new Float32Array(3), new Float64Array(1)), /y has room for 1/);
    expectRejected(() => stream.pushBatch(new Float64Array([2]), new Float32Array(3), undefined, new Float64Array(7)), /h has room for 7/);
    expect(stateOf(stream)).toEqual(before);
  });

  it("stats count the (unit, event) pairs with an open gate, phi < r_on, over all layers", () => {
    const stream = engine.createStream();
    let open = 0;
    for (let e = 0; e < 200; e++) {
      for (const layer of model.layers) {
        for (let j = 0; j < layer.hiddenSize; j++) if (exactPhase(events.t[e], layer.shift[j], layer.tau[j]) < layer.rOn[j]) open++;
      }
    }
    stream.pushBatch(events.t.subarray(0, 200), events.x.subarray(0, 600));
    expect(open).toBeGreaterThan(0);
    expect(stream.stats()).toEqual({ events: 200, unitUpdates: open, unitsSkipped: 200 * 20 - open, inputsSaturated: 0 });
    stream.reset();
    expect(stream.stats()).toEqual({ events: 0, unitUpdates: 0, unitsSkipped: 0, inputsSaturated: 0 });
    expect(Array.from(stream.hidden(0))).toEqual(new Array(12).fill(0));
    stream.push(0, [0, 0, 0]); // after reset there is no previous timestamp
  });

  it("reports memory, layers and disposal", () => {
    const stream = engine.createStream();
    expect(stream.hiddenSize).toBe(8);
    expect(stream.hidden(0)).toHaveLength(12);
    expect(() => stream.hidden(2)).toThrow(/layer 2 does not exist/);
    const weights = 4 * 12 * (3 + 12) + 4 * 12 + 6 * 12 + 4 * 8 * (12 + 8) + 4 * 8 + 6 * 8 + 2 * 8 + 2;
    expect(engine.memory()).toEqual({ weightsBytes: 8 * weights, stateBytesPerStream: 8 * 2 * (12 + 8), scratchBytes: 8 * (3 + 3 * 20) });
    stream.dispose();
    expect(() => stream.push(1, [0, 0, 0])).toThrow(/after dispose/);
  });
});

describe("the reference engine through createEngine", () => {
  // its speed is measured by `phasor bench` (the "reference" row), not here
  it("runs 2,000 events of a 110-unit model, every unit updated at every event with r_on = 1", async () => {
    const rng = new Rng(7);
    const model = randomModel(rng, { inputSize: 1, hidden: [110], peephole: true, rOn: 1, outputs: 2, mode: "every" });
    const engine = await createEngine(model, { engine: "reference" });
    expect(engine.kind).toBe("reference");
    expect(engine.simd).toBe(false);
    const { t, x } = randomStream(rng, { n: 2000, inputSize: 1, start: "epoch" });
    const stream = engine.createStream();
    stream.pushBatch(t, x);
    expect(stream.stats().unitUpdates).toBe(2000 * 110);
    engine.dispose();
    expect(() => stream.output()).toThrow(/after dispose/);
  });
});
