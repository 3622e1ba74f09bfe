// The SIMD build's dense time gate (assembly/fixed/step.ts, timeGateDense) reads each unit's base phase, the part of
// its phase fixed by the stream's seeds and the tick's high 32 bits, from the stream's cache beside its block
// (layOutDenseBases), derived again when that high word moves on or the block changes under it (forgetDenseBases).
// A base left from another block or another high word would miss open units: outputs would differ from the scalar
// build's, which has no cache. Held here where that could happen: events whose ticks cross multiples of 2^32 often,
// several streams of one model taking turns, a stream restored from another's snapshot and a stream reset, each
// compared with the scalar build event by event. And a snapshot still holds the block alone.
import "../host/node.js";
import { describe, expect, it } from "vitest";
import { createEngine, loadModelBytes } from "../host/engine/create.js";
import type { Stream } from "../host/engine/engine.js";
import type { WasmEngine } from "../host/engine/wasm.js";
import { quantize } from "../host/model/quantize.js";
import { calibrationStreams, expectSameBytes } from "./support/engines.js";
import { Rng, randomModel } from "./support/random.js";

const streamAddress = (s: Stream): number => (s as unknown as { ptr: number }).ptr;

function expectSameOutputs(a: Stream, b: Stream, what: string): void {
  expectSameBytes(a.output(), b.output(), `${what}: y`);
  for (let l = 0; l < 2; l++) {
    expectSameBytes(a.hidden(l), b.hidden(l), `${what}: layer ${l} h`);
    expectSameBytes(a.cell(l), b.cell(l), `${what}: layer ${l} c`);
  }
}

/** A two-layer model on both builds, and the time units in which 2^32 ticks pass. */
async function bothBuilds(seed: number) {
  const rng = new Rng(seed);
  const model = randomModel(rng, { inputSize: 2, hidden: [45, 30], peephole: true, rOn: 0.08, outputs: 2, mode: "every", tauRange: [5, 40] });
  const q = quantize(model, calibrationStreams(seed, 2, 2, 200), "bases");
  const [simd, scalar] = (await Promise.all(
    (["on", "off"] as const).map((s) => createEngine(loadModelBytes(q.bytes, "bases.plsm"), { engine: "fixed", simd: s })),
  )) as WasmEngine[];
  return { rng, simd, scalar, lap: 2 ** (32 - q.plan.ticksLog2) };
}

describe("the dense time gate's base phases (assembly/fixed/step.ts, denseBases)", () => {
  it("follow the tick's high word as it moves on, in several streams of one model taking turns", async () => {
    const { rng, simd, scalar, lap } = await bothBuilds(1701);
    // three streams with their own origins (so their own seeds), each beside its twin on the scalar build
    const pairs = [0, 0.37, 5.5].map((origin) => ({ a: simd.createStream(), b: scalar.createStream(), t: origin, laps: new Set<number>() }));
    let dense = 0;
    for (let e = 0; e < 900; e++) {
      const p = pairs[rng.int(pairs.length)];
      dense += simd.wasm.exports.denseGateNext(simd.handle, streamAddress(p.a), 0);
      // gaps of a few periods up to more than a lap of 2^32 ticks: the high word stays for a few events, then moves on
      // by one or more
      p.t += rng.next() < 0.1 ? rng.uniform(1, 3) * lap : rng.uniform(0.02, 0.3) * lap;
      p.laps.add(Math.floor(p.t / lap));
      const x = Float32Array.from({ length: 2 }, () => rng.uniform(-1, 1));
      p.a.push(p.t, x);
      p.b.push(p.t, x);
      expectSameOutputs(p.a, p.b, `event ${e}`);
    }
    for (const p of pairs) {
      expect(p.a.stats()).toEqual(p.b.stats());
      expectSameBytes(p.a.snapshot(), p.b.snapshot(), "snapshot");
      expect(p.laps.size, "high words of the tick a stream went through").toBeGreaterThan(40);
    }
    expect(dense, "events the dense scan gated").toBeGreaterThan(800);
  });

  it("are derived again when a stream is restored from another's snapshot, or reset, within the same high word", async () => {
    const { rng, simd, scalar, lap } = await bothBuilds(1702);
    const x = () => Float32Array.from({ length: 2 }, () => rng.uniform(-1, 1));
    // two streams of different origins, both run within the tick's first high word (T < 2^32): the SIMD one's bases
    // are then those of its own seeds at high word 0, which the other's block, restored into it, does not have
    const [a, other] = [simd.createStream(), scalar.createStream()];
    let [ta, tb] = [0, 0.41];
    for (let e = 0; e < 30; e++) {
      ta += 0.01 * lap;
      tb += 0.01 * lap;
      const v = x();
      a.push(ta, v);
      other.push(tb, v);
    }
    expect(simd.wasm.exports.denseGateNext(simd.handle, streamAddress(a), 0), "the scan gates a's next event").toBe(1);
    /** 40 more events from t on, the same to both streams, their outputs compared after each. */
    const continueBoth = (s: Stream, twin: Stream, t: number, what: string) => {
      for (let e = 0; e < 40; e++) {
        t += 0.01 * lap;
        const v = x();
        s.push(t, v);
        twin.push(t, v);
        expectSameOutputs(s, twin, `${what}, event ${e}`);
      }
    };
    a.restore(other.snapshot());
    continueBoth(a, other, tb, "after the restore");
    // reset: the stream starts again from a new origin, its tick again within high word 0
    a.reset();
    continueBoth(a, scalar.createStream(), 0.93, "after the reset");
    expect(a.stats().unitUpdates).toBeGreaterThan(0);
  });

  it("are kept beside the block: counted per stream, left out of the snapshot", async () => {
    const { simd, scalar } = await bothBuilds(1703);
    const units = [45, 30];
    const bases = units.reduce((sum, H) => sum + 16 + 4 * 8 * Math.ceil(H / 8), 0);
    expect(simd.memory().stateBytesPerStream).toBe(scalar.memory().stateBytesPerStream + bases);
    expect(simd.createStream().snapshot().length).toBe(scalar.memory().stateBytesPerStream);
  });
});
