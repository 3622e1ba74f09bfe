// Events where only a few of many inputs are nonzero (one sensor of 64 fired) take a shortcut in the wasm engines:
// layer 0 reads only the nonzero columns. The shortcut must not change the results: they match the float64
// reference within plstm.md section 3's tolerances, the SIMD and scalar builds agree bit for bit, and in the
// fixed engine (exact integer sums) a sparse event gives the very bits of the same event computed densely.
import "../host/node.js";
import { describe, expect, it } from "vitest";
import { createEngine, loadModelBytes } from "../host/engine/create.js";
import type { Engine } from "../host/engine/engine.js";
import type { FloatModel } from "../host/model/model.js";
import { quantize } from "../host/model/quantize.js";
import { Rng, randomModel } from "./support/random.js";
import { calibrationStreams, firstDifference, maxAbs, maxAbsDiff, trace, type Trace, type WasmKind } from "./support/engines.js";

const I = 64;
const N = 1500;
const TOLERANCE: Record<WasmKind, { h: number; y: number }> = { float: { h: 1e-4, y: 1e-4 }, fixed: { h: 4e-3, y: 1e-2 } };

/**
 * N events at irregular times from an epoch timestamp; each has 1 to 3 nonzero inputs among `columns` (values in
 * [-1, 1]), except every 50th, which has none.
 */
function sparseEvents(seed: number, columns: number): { t: Float64Array; x: Float32Array } {
  const rng = new Rng(seed);
  const t = new Float64Array(N);
  const x = new Float32Array(N * I);
  let now = 1.7e12 + rng.uniform(0, 1e10);
  for (let e = 0; e < N; e++) {
    now += e ? rng.logUniform(0.006, 200) : 0;
    t[e] = now;
    if (e % 50 === 49) continue;
    const count = 1 + rng.int(3);
    for (let k = 0; k < count; k++) x[e * I + rng.int(columns)] = rng.uniform(-1, 1);
  }
  return { t, x };
}

async function engines(kind: WasmKind, model: FloatModel): Promise<{ simd: Engine; scalar: Engine }> {
  if (kind === "float") return { simd: await createEngine(model, { engine: "float", simd: "on" }), scalar: await createEngine(model, { engine: "float", simd: "off" }) };
  const loaded = loadModelBytes(quantize(model, calibrationStreams(71, I)).bytes, "sparse.plsm");
  return { simd: await createEngine(loaded, { engine: "fixed", simd: "on" }), scalar: await createEngine(loaded, { engine: "fixed", simd: "off" }) };
}

function expectSameTrace(a: Trace, b: Trace, what: string): void {
  const same = (p: Float64Array, q: Float64Array, part: string) => expect(firstDifference(p, q), `${what}: ${part}, first differing byte`).toBe(-1);
  same(a.y, b.y, "y");
  a.h.forEach((h, l) => same(h, b.h[l], `layer ${l} h`));
  a.c.forEach((c, l) => same(c, b.c[l], `layer ${l} c`));
}


describe.each(["fixed", "float"] as WasmKind[])("the %s engine on sparse events (I = 64, 1 to 3 nonzero inputs)", (kind) => {
  for (const hidden of [[32], [16, 7]]) {
    it(`H = [${hidden.join(", ")}]: within tolerance of the reference at every event, SIMD = scalar bit for bit`, async () => {
      const model = randomModel(new Rng(60 + hidden.length), { inputSize: I, hidden, peephole: true, rOn: 0.3, outputs: 3, mode: "every" });
      const events = sparseEvents(61 + hidden.length, I);
      const want = trace((await createEngine(model, { engine: "reference" })).createStream(), hidden, events.t, events.x);
      want.h.forEach((h, l) => expect(maxAbs(h), `reference layer ${l} h moves`).toBeGreaterThan(0.01));
      const { simd, scalar } = await engines(kind, model);
      const got = trace(simd.createStream(), hidden, events.t, events.x);
      got.h.forEach((h, l) => {
        const { max, at } = maxAbsDiff(h, want.h[l]);
        expect(max, `layer ${l} h, event ${Math.floor(at / hidden[l])}`).toBeLessThan(TOLERANCE[kind].h);
      });
      const { max, at } = maxAbsDiff(got.y, want.y);
      expect(max, `y, event ${Math.floor(at / 3)}`).toBeLessThan(TOLERANCE[kind].y);
      expectSameTrace(got, trace(scalar.createStream(), hidden, events.t, events.x), "SIMD vs scalar");
    });
  }

  it("a sparse event gives the result of the same event computed densely", async () => {
    // W is zero in columns 16..63: filling those columns with nonzero values changes nothing mathematically, but
    // makes every event dense (48 or more nonzero inputs of 64), so it takes the dense path
    const hidden = [24];
    const model = randomModel(new Rng(65), { inputSize: I, hidden, peephole: false, rOn: 0.3, outputs: 2, mode: "every" });
    const W = model.layers[0].W;
    for (let r = 0; r < 4 * hidden[0]; r++) W.fill(0, r * I + 16, (r + 1) * I);
    const sparse = sparseEvents(66, 16);
    const dense = { t: sparse.t, x: sparse.x.slice() };
    const fill = new Rng(67);
    for (let e = 0; e < N; e++) {
      // most events: every zero-weight column; some exactly at the edge of the shortcut (16 or 17 nonzero in all)
      const extra = e % 10 === 3 ? 16 : e % 10 === 7 ? 17 : 48;
      for (let k = 0; k < extra && k < 48; k++) dense.x[e * I + 16 + k] = fill.uniform(0.05, 1) * (fill.next() < 0.5 ? -1 : 1);
    }
    const { simd, scalar } = await engines(kind, model);
    const want = trace((await createEngine(model, { engine: "reference" })).createStream(), hidden, sparse.t, sparse.x);
    for (const engine of [simd, scalar]) {
      const a = engine.createStream();
      const b = engine.createStream();
      const got = { sparse: trace(a, hidden, sparse.t, sparse.x), dense: trace(b, hidden, dense.t, dense.x) };
      if (kind === "fixed") {
        // integer sums are exact: the two paths must agree to the bit
        expectSameTrace(got.sparse, got.dense, `${engine.simd ? "SIMD" : "scalar"}: sparse vs dense`);
        expect(firstDifference(a.snapshot(), b.snapshot()), "state bytes").toBe(-1);
      } else {
        // f32 sums in another order: equal to rounding
        expect(maxAbsDiff(got.sparse.h[0], got.dense.h[0]).max).toBeLessThan(1e-6);
        expect(maxAbsDiff(got.sparse.y, got.dense.y).max).toBeLessThan(1e-6);
      }
      expect(maxAbsDiff(got.sparse.h[0], want.h[0]).max).toBeLessThan(TOLERANCE[kind].h);
      expect(maxAbsDiff(got.dense.h[0], want.h[0]).max).toBeLessThan(TOLERANCE[kind].h);
    }
  });
});
