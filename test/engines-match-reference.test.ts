// plstm.md section 3: the float wasm engine stays within 1e-4 of the float64 reference on h and y at every event, the
// fixed engine (quantized on calibration streams, then run on other streams of the same distribution) within 4e-3 on h
// and 1e-2 on y, and picks the same class on >= 99.5 % of classification sequences. Section 4: the fixed engine's
// openness k stays within 1e-3 of the exact k over streams lasting 2^40 ticks, at epoch timestamps. Every expected
// value comes from host/engine/reference.ts or host/engine/phase.ts (the oracle), never from the engine under test.
import "../host/node.js";
import { describe, expect, it } from "vitest";
import { createEngine } from "../host/engine/create.js";
import type { Engine } from "../host/engine/engine.js";
import type { FloatModel, LayerParams } from "../host/model/model.js";
import { exactPhase, timeGate } from "../host/engine/phase.js";
import { Rng, randomModel, randomStream, type RandomStream } from "./support/random.js";
import { calibrationStreams, maxAbs, maxAbsDiff, quantizedEngine, trace, type Trace } from "./support/engines.js";

interface Config {
  inputSize: number;
  hidden: number[];
  peephole: boolean;
  rOn: number;
}

// A covering set of I in {1, 3, 16, 64}, H in {1, 7, 32, 110} (in the first and the second layer), one and two
// layers, peepholes on and off, r_on in {0.05, 0.3, 1}: every value of every axis, not the whole product.
const CONFIGS: Config[] = [
  { inputSize: 1, hidden: [110], peephole: true, rOn: 0.05 },
  { inputSize: 64, hidden: [110], peephole: false, rOn: 0.3 },
  { inputSize: 3, hidden: [7, 32], peephole: true, rOn: 1 },
  { inputSize: 16, hidden: [32], peephole: true, rOn: 0.05 },
  { inputSize: 64, hidden: [1], peephole: false, rOn: 1 },
  { inputSize: 16, hidden: [110, 7], peephole: true, rOn: 0.05 },
  { inputSize: 3, hidden: [1, 110], peephole: false, rOn: 0.3 },
  { inputSize: 1, hidden: [7], peephole: false, rOn: 1 },
  { inputSize: 64, hidden: [32, 32], peephole: true, rOn: 0.3 },
];

const FLOAT_TOLERANCE = { h: 1e-4, y: 1e-4 };
const FIXED_TOLERANCE = { h: 4e-3, y: 1e-2 };
const EVENTS = 2000;

const nameOf = (c: Config) => `I=${c.inputSize} H=[${c.hidden.join(", ")}] peephole=${c.peephole} rOn=${c.rOn}`;

/**
 * Three fresh streams of 2,000 events with gaps log-uniform from 0.006 ms: to two minutes from t = 0 and from epoch
 * milliseconds, and to 50 ms (many events inside each open window) from epoch milliseconds.
 */
function testStreams(seed: number, inputSize: number): RandomStream[] {
  const rng = new Rng(seed);
  return [
    randomStream(rng, { n: EVENTS, inputSize, start: 0 }),
    randomStream(rng, { n: EVENTS, inputSize, start: "epoch" }),
    randomStream(rng, { n: EVENTS, inputSize, start: "epoch", maxGap: 50 }),
  ];
}
const STREAM_NAMES = ["zero-start", "epoch-start", "epoch-start dense"];

/** Checks every layer's h and the y of `got` against the reference's, event by event. */
function expectClose(got: Trace, want: Trace, hidden: number[], tolerance: { h: number; y: number }, what: string): void {
  hidden.forEach((H, l) => {
    const { max, at } = maxAbsDiff(got.h[l], want.h[l]);
    expect(max, `${what}: layer ${l} h, event ${Math.floor(at / H)} unit ${at % H}: ${got.h[l][at]} vs reference ${want.h[l][at]}`).toBeLessThan(tolerance.h);
  });
  const O = got.y.length / got.events;
  const { max, at } = maxAbsDiff(got.y, want.y);
  expect(max, `${what}: y, event ${Math.floor(at / O)} output ${at % O}: ${got.y[at]} vs reference ${want.y[at]}`).toBeLessThan(tolerance.y);
}

async function referenceTraces(model: FloatModel, streams: RandomStream[]): Promise<Trace[]> {
  const reference = await createEngine(model, { engine: "reference" });
  const hidden = model.layers.map((L) => L.hiddenSize);
  return streams.map((s) => trace(reference.createStream(), hidden, s.t, s.x));
}

describe("the wasm engines match the float64 reference at every event (plstm.md section 3)", () => {
  CONFIGS.forEach((config, index) => {
    it(nameOf(config), async () => {
      const model = randomModel(new Rng(1000 + index), { ...config, outputs: 3, mode: "every" });
      const hidden = config.hidden;
      const streams = testStreams(2000 + index, config.inputSize);
      const want = await referenceTraces(model, streams);
      // the comparison means something only if the reference moves
      want.forEach((w) => w.h.forEach((h, l) => expect(maxAbs(h), `reference layer ${l} h`).toBeGreaterThan(0.01)));

      const float = await createEngine(model, { engine: "float" });
      // the fixed engine is calibrated on other streams than the ones it is checked on
      const { engine: fixed } = await quantizedEngine(model, calibrationStreams(3000 + index, config.inputSize));
      for (const [engine, tolerance] of [
        [float, FLOAT_TOLERANCE],
        [fixed, FIXED_TOLERANCE],
      ] as [Engine, typeof FLOAT_TOLERANCE][]) {
        streams.forEach((s, k) => {
          const got = trace(engine.createStream(), hidden, s.t, s.x);
          expectClose(got, want[k], hidden, tolerance, `${engine.kind} engine, ${STREAM_NAMES[k]} stream`);
        });
        engine.dispose();
      }
    });
  });
});

describe("classification: the final argmax agrees with the reference", () => {
  it("on >= 99.5 % of many short sequences, for the fixed and the float engine", async () => {
    const models: Config[] = [
      { inputSize: 3, hidden: [32], peephole: true, rOn: 0.05 },
      { inputSize: 64, hidden: [32], peephole: false, rOn: 1 },
      { inputSize: 16, hidden: [110], peephole: true, rOn: 0.3 },
    ];
    const SEQUENCES = 400;
    let total = 0;
    const agree = { float: 0, fixed: 0 };
    for (const [index, config] of models.entries()) {
      const rng = new Rng(4000 + index);
      const model = randomModel(rng, { ...config, outputs: 4, mode: "last" });
      const sequence = () => randomStream(rng, { n: 20 + rng.int(80), inputSize: config.inputSize, start: rng.next() < 0.5 ? "epoch" : rng.uniform(0, 1000), maxGap: 30 });
      const calibration = Array.from({ length: 40 }, sequence);
      const sequences = Array.from({ length: SEQUENCES }, sequence);
      // centre the outputs on the calibration sequences (as training would), so that every class occurs and the
      // answer follows h rather than a bias that makes one class win every time
      const uncentred = (await createEngine(model, { engine: "reference" })).createStream();
      const mean = new Float64Array(4);
      for (const s of calibration) {
        uncentred.reset();
        uncentred.pushBatch(s.t, s.x);
        uncentred.output().forEach((y, o) => (mean[o] += y / calibration.length));
      }
      mean.forEach((m, o) => (model.readout.d[o] -= m));
      // every engine, the reference too, runs the model as it was when the engine was made
      const reference = (await createEngine(model, { engine: "reference" })).createStream();
      const float = (await createEngine(model, { engine: "float" })).createStream();
      const fixed = (await quantizedEngine(model, calibration)).engine.createStream();
      const classes = new Array(4).fill(0);
      for (const s of sequences) {
        const label = (stream: typeof reference) => {
          stream.reset();
          stream.pushBatch(s.t, s.x);
          const y = stream.output();
          return y.indexOf(Math.max(...y));
        };
        const want = label(reference);
        classes[want]++;
        if (label(float) === want) agree.float++;
        if (label(fixed) === want) agree.fixed++;
        total++;
      }
      // the check means something only if the reference's answer depends on the sequence
      expect(Math.max(...classes), `${nameOf(config)}: reference classes ${classes}`).toBeLessThan(0.5 * SEQUENCES);
    }
    expect(agree.float / total, `float: ${agree.float} of ${total}`).toBeGreaterThanOrEqual(0.995);
    expect(agree.fixed / total, `fixed: ${agree.fixed} of ${total}`).toBeGreaterThanOrEqual(0.995);
  });
});

describe("the fixed engine's time gate over streams of 2^40 ticks (plstm.md section 4)", () => {
  /**
   * H units with no weights, so that h and c depend on the time gate alone: at a stream's first event x = 0 gives
   * g = tanh(0) = 0, so c~ = 0 and c = 0 whatever k is; at the next event x = 1 gives c~ = sigma(8) tanh(3) = C for
   * every unit (W_g = 3, b_i = 8; c was 0, so f does not matter), and the gated update leaves c = k C with the
   * k of that event. The cell thus shows k.
   */
  function gateProbe(tau: number[], shift: number[], rOn: number): FloatModel {
    const H = tau.length;
    const W = new Float64Array(4 * H);
    const b = new Float64Array(4 * H);
    for (let j = 0; j < H; j++) {
      W[2 * H + j] = 3; // g
      b[j] = 8; // i
    }
    const layer: LayerParams = {
      inputSize: 1,
      hiddenSize: H,
      W,
      U: new Float64Array(4 * H * H),
      b,
      peephole: null,
      tau: Float64Array.from(tau),
      shift: Float64Array.from(shift),
      rOn: new Float64Array(H).fill(rOn),
      alpha: 0,
    };
    return { timeUnit: "ms", inputSize: 1, layers: [layer], readout: { mode: "every", outputSize: 1, V: new Float64Array(H), d: new Float64Array(1) } };
  }
  const C = (1 / (1 + Math.exp(-8))) * Math.tanh(3);

  for (const rOn of [1, 0.05]) {
    it(`k within 1e-3 of the exact k after 2^20 .. 2^40 ticks, r_on = ${rOn}`, async () => {
      const rng = new Rng(rOn === 1 ? 11 : 12);
      const H = 64;
      const t0 = 1.7e12 + rng.uniform(0, 1e10);
      const tau = Array.from({ length: H }, () => rng.logUniform(1, 1000));
      // quantize once (the ticks per ms follow from tau and r_on, not from the shifts) to learn the tick size
      const probe = await quantizedEngine(gateProbe(tau, new Array(H).fill(0), rOn), [{ t: new Float64Array([0, 1]), x: new Float32Array([0, 1]) }]);
      const ticksPerMs = 2 ** probe.quantized.plan.ticksLog2;
      let checked = 0;
      let open = 0;
      for (const log2Ticks of [20, 30, 36, 39, 40]) {
        const t1 = t0 + 2 ** log2Ticks / ticksPerMs - rng.uniform(0, 1) / ticksPerMs; // within 2^log2Ticks ticks
        // shifts that put units inside their open window at t1 (phases spread over it) and, when r_on < 1, every
        // eighth unit a little (1e-3 .. 1e-2 of a period) past it
        const shift = tau.map((p, j) => t1 - p * (rOn < 1 && j % 8 === 7 ? rOn + 0.001 + 0.009 * rng.next() : rOn * rng.next()));
        const model = gateProbe(tau, shift, rOn);
        const { engine, quantized } = await quantizedEngine(model, [{ t: new Float64Array([0, 1]), x: new Float32Array([0, 1]) }]);
        expect(quantized.plan.ticksLog2).toBe(probe.quantized.plan.ticksLog2);
        const stream = engine.createStream();
        stream.push(t0, [0]);
        expect(Array.from(stream.cell()), "c after an event with g = 0").toEqual(new Array(H).fill(0));
        stream.push(t1, [1]);
        const c = stream.cell();
        // the exact k (host/engine/phase.ts) of the file's tau and shift (stored exactly) and r_on (as the file
        // rounds it)
        const layer = quantized.file.model.layers[0];
        for (let j = 0; j < H; j++) {
          const k = timeGate(exactPhase(t1, layer.shift[j], layer.tau[j]), layer.rOn[j], 0);
          if (k > 0) open++;
          if (k === 0) expect(c[j], `unit ${j} is closed at t1: c must stay 0`).toBe(0);
          expect(Math.abs(c[j] / C - k), `2^${log2Ticks} ticks, unit ${j} (tau ${tau[j]}): k from the cell ${c[j] / C}, exact ${k}`).toBeLessThan(1e-3);
          checked++;
        }
        engine.dispose();
      }
      expect(checked).toBe(5 * H);
      expect(open).toBeGreaterThan(4 * H);
    });
  }

  it("h and y stay within tolerance over 2,000 events spread across 2^40 ticks from an epoch timestamp", async () => {
    const rng = new Rng(13);
    const config: Config = { inputSize: 3, hidden: [32], peephole: true, rOn: 0.05 };
    const model = randomModel(rng, { ...config, outputs: 2, mode: "every" });
    const { engine: fixed, quantized } = await quantizedEngine(model, calibrationStreams(14, 3));
    const span = 2 ** 40 / 2 ** quantized.plan.ticksLog2; // 2^40 ticks, in ms
    // irregular gaps from 0.006 ms to minutes, and eight jumps that together make up the rest of the span
    const base = randomStream(rng, { n: EVENTS, inputSize: 3, start: "epoch" });
    const gaps = Array.from({ length: EVENTS }, (_, e) => (e ? base.t[e] - base.t[e - 1] : 0));
    const rest = span * (1 - 1e-6) - (base.t[EVENTS - 1] - base.t[0]); // the margin absorbs the rounding of the sums below
    expect(rest).toBeGreaterThan(0);
    for (let k = 0; k < 8; k++) gaps[1 + Math.floor(((EVENTS - 2) * (k + 0.5)) / 8)] += rest / 8;
    const t = new Float64Array(EVENTS);
    t[0] = base.t[0];
    for (let e = 1; e < EVENTS; e++) t[e] = t[e - 1] + gaps[e];
    expect((t[EVENTS - 1] - t[0]) * 2 ** quantized.plan.ticksLog2).toBeGreaterThan(0.999 * 2 ** 40);
    expect((t[EVENTS - 1] - t[0]) * 2 ** quantized.plan.ticksLog2).toBeLessThanOrEqual(2 ** 40);
    const [want] = await referenceTraces(model, [{ t, x: base.x }]);
    const float = await createEngine(model, { engine: "float" });
    expectClose(trace(fixed.createStream(), config.hidden, t, base.x), want, config.hidden, FIXED_TOLERANCE, "fixed engine over 2^40 ticks");
    expectClose(trace(float.createStream(), config.hidden, t, base.x), want, config.hidden, FLOAT_TOLERANCE, "float engine over 2^40 ticks");
  });
});
