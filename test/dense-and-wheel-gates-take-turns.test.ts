// The SIMD library build gates a fixed layer at each event either by a dense scan of every unit's phase or by the
// wheel (assembly/fixed/step.ts, gateIsDense: by the stream's mean gap so far); the scalar build always by the
// wheel. Both gates are exact, so the choice changes no bit. Here one stream's mean gap is driven across the
// choice's threshold again and again (runs of short gaps, then of long ones), so that the wheel takes over from
// dense events with the schedule its own last event left (stale: to the wheel, a long gap) and the dense scan from
// wheel events; y, h and c of every layer are compared with the scalar build's after every event, and a snapshot
// taken in the middle on either build restores on either and continues with the same outputs. The two builds'
// snapshots are the same bytes after dense events and after wheel events.
import "../host/node.js";
import { describe, expect, it } from "vitest";
import { createEngine, loadModelBytes } from "../host/engine/create.js";
import type { Stream } from "../host/engine/engine.js";
import type { WasmEngine } from "../host/engine/wasm.js";
import { quantize } from "../host/model/quantize.js";
import { calibrationStreams, expectSameBytes } from "./support/engines.js";
import { Rng, randomModel } from "./support/random.js";

/** The gaps' scale: the gate's threshold for these layers (at most 128 units: assembly/fixed/step.ts,
 * DENSE_DUE_FRACTION_SMALL) is a fiftieth of the units due an event, where the gaps below were chosen for a tenth
 * (session 16's, DENSE_DUE_FRACTION); scaled alike, the stream's mean gap crosses it as often as it crossed that. */
const GAPS = 0.02 / 0.1;

/** The stream block's address: WasmStream keeps it private, and only this test asks the module about it. */
const streamAddress = (s: Stream): number => (s as unknown as { ptr: number }).ptr;

/** y, then h and c of every layer. */
function outputsOf(s: Stream, layers: number): Float64Array[] {
  return [s.output(), ...Array.from({ length: layers }, (_, l) => [s.hidden(l), s.cell(l)]).flat()];
}

function expectSameOutputs(a: Stream, b: Stream, layers: number, what: string): void {
  expectSameBytes(a.output(), b.output(), `${what}: y`);
  for (let l = 0; l < layers; l++) {
    expectSameBytes(a.hidden(l), b.hidden(l), `${what}: layer ${l} h`);
    expectSameBytes(a.cell(l), b.cell(l), `${what}: layer ${l} c`);
  }
}

describe.each(["int16", "int8"] as const)("%s weights: the dense and wheel gates take turns on one stream", (weights) => {
  it("with the scalar build's outputs at every event, and snapshots that restore on either build", async () => {
    const rng = new Rng(weights === "int16" ? 1601 : 1602);
    const hidden = [70, 70];
    const tauRange: [number, number] = [5, 40];
    const model = randomModel(rng, { inputSize: 3, hidden, peephole: true, rOn: 0.1, outputs: 2, mode: "every", tauRange });
    // the layers' periods alike, so that both change gate at the same mean gap
    model.layers[1].tau.set(model.layers[0].tau);
    const bytes = quantize(model, calibrationStreams(16, 3, 2, 200), "turns", weights).bytes;
    const [simd, scalar] = (await Promise.all(
      (["on", "off"] as const).map((s) => createEngine(loadModelBytes(bytes, "turns.plsm"), { engine: "fixed", simd: s })),
    )) as WasmEngine[];
    const denseNext = (s: Stream, layer: number) => simd.wasm.exports.denseGateNext(simd.handle, streamAddress(s), layer);
    const [a, b] = [simd.createStream(), scalar.createStream()];
    const taken = hidden.map(() => ({ dense: 0, wheel: 0, turns: 0 }));
    const last: boolean[] = hidden.map(() => false);
    let t = 0;
    let long = true;
    let shortRun = 0;
    const snapshotsAfter = { dense: 0, wheel: 0 };
    const events: { t: number; x: Float32Array }[] = [];
    for (let e = 0; e < 1200; e++) {
      // long gaps (one or two of the shortest periods, now and then a few of the longest: the wheel then finds keys a lap
      // and more in the past) until the scan is next in every layer, then short ones until the wheel is, and up to 19
      // more on the wheel
      const dense = hidden.map((_, l) => denseNext(a, l) === 1);
      if (e > 0 && long && dense.every(Boolean)) [long, shortRun] = [false, rng.int(20)];
      else if (!long && dense.every((d) => !d) && shortRun-- <= 0) long = true;
      dense.forEach((d, l) => {
        taken[l][d ? "dense" : "wheel"]++;
        if (e > 0 && d !== last[l]) taken[l].turns++;
        last[l] = d;
      });
      t += GAPS * (long ? (rng.next() < 0.1 ? rng.uniform(2, 6) * tauRange[1] : rng.uniform(1, 2) * tauRange[0]) : rng.uniform(0, 0.04) * tauRange[0]);
      const x = Float32Array.from({ length: 3 }, () => rng.uniform(-1, 1));
      events.push({ t, x });
      a.push(t, x);
      b.push(t, x);
      expectSameOutputs(a, b, hidden.length, `event ${e}`);
      expect(a.stats(), `event ${e}: stats`).toEqual(b.stats());
      // the snapshots (the canonical schedule, assembly/stream.ts) are the same bytes whichever gate ran last; a
      // snapshot puts that schedule in the live stream too, so only now and then, to leave the wheel stale ones
      if (e % 11 === 0) {
        expectSameBytes(a.snapshot(), b.snapshot(), `event ${e} (${dense[0] ? "dense" : "wheel"}): snapshot`);
        snapshotsAfter[dense[0] ? "dense" : "wheel"]++;
      }
    }
    for (const [l, n] of taken.entries()) {
      expect(n.dense, `layer ${l}: dense events`).toBeGreaterThan(100);
      expect(n.wheel, `layer ${l}: wheel events`).toBeGreaterThan(100);
      expect(n.turns, `layer ${l}: changes of gate`).toBeGreaterThan(30);
    }
    expect(snapshotsAfter.dense, "snapshots after a dense event").toBeGreaterThan(10);
    expect(snapshotsAfter.wheel, "snapshots after a wheel event").toBeGreaterThan(10);

    // a snapshot in the middle, on either build, restored on either, continues as the stream it was taken from
    const half = events.length >> 1;
    const runs = [simd, scalar].map((engine) => {
      const s = engine.createStream();
      for (const ev of events.slice(0, half)) s.push(ev.t, ev.x);
      return s;
    });
    const snapshots = runs.map((s) => s.snapshot());
    expectSameBytes(snapshots[0], snapshots[1], "the builds' snapshots in the middle");
    for (const [from, saved] of snapshots.entries()) {
      for (const engine of [simd, scalar]) {
        const restored = engine.createStream();
        restored.restore(saved);
        for (const [k, ev] of events.slice(half).entries()) {
          restored.push(ev.t, ev.x);
          runs[from].push(ev.t, ev.x);
          expectSameOutputs(restored, runs[from], hidden.length, `${from === 0 ? "SIMD" : "scalar"} snapshot on ${engine.simd ? "SIMD" : "scalar"}, event ${half + k}`);
        }
        expectSameOutputs(restored, a, hidden.length, "at the end, the unbroken stream");
        // runs[from] goes on from the middle again for the next build
        runs[from].restore(saved);
      }
    }
  });
});

// Snapshots written before the dense gate (a gateway's state folder from the version before) hold the wheel's own
// schedule, not the canonical one: the raw stream block, as snapshot() copied it then. Both builds restore it and go
// on with the outputs of the unbroken stream, the SIMD build through dense and wheel events alike.
describe("a snapshot that holds the wheel's own schedule, as snapshots did before the dense gate", () => {
  it("restores on either build and continues as the stream it was taken from", async () => {
    const rng = new Rng(1603);
    const hidden = [70, 70];
    const tauRange: [number, number] = [5, 40];
    const model = randomModel(rng, { inputSize: 3, hidden, peephole: true, rOn: 0.1, outputs: 2, mode: "every", tauRange });
    const bytes = quantize(model, calibrationStreams(17, 3, 2, 200), "old", "int16").bytes;
    const [simd, scalar] = (await Promise.all(
      (["on", "off"] as const).map((s) => createEngine(loadModelBytes(bytes, "old.plsm"), { engine: "fixed", simd: s })),
    )) as WasmEngine[];
    // gaps short against the periods (the wheel), then long (the scan), after the snapshot
    let t = 0;
    const events = Array.from({ length: 900 }, (_, e) => {
      t += GAPS * (e < 300 || e >= 600 ? rng.uniform(0, 0.05) * tauRange[0] : rng.uniform(1, 2) * tauRange[0]);
      return { t, x: Float32Array.from({ length: 3 }, () => rng.uniform(-1, 1)) };
    });
    const unbroken = scalar.createStream();
    const taken = scalar.createStream();
    for (const ev of events.slice(0, 300)) {
      unbroken.push(ev.t, ev.x);
      taken.push(ev.t, ev.x);
    }
    const at = streamAddress(taken);
    const raw = scalar.wasm.u8.slice(at, at + scalar.streamBytes);
    // the wheel had units filed: its schedule is not the canonical one a snapshot now holds
    expect(raw).not.toEqual(taken.snapshot());
    // the unbroken stream's outputs after each later event
    const expected = events.slice(300).map((ev) => {
      unbroken.push(ev.t, ev.x);
      return outputsOf(unbroken, hidden.length);
    });
    let denseEvents = 0;
    for (const engine of [simd, scalar]) {
      const restored = engine.createStream();
      restored.restore(raw);
      for (const [k, ev] of events.slice(300).entries()) {
        if (engine === simd) denseEvents += simd.wasm.exports.denseGateNext(simd.handle, streamAddress(restored), 0);
        restored.push(ev.t, ev.x);
        const got = outputsOf(restored, hidden.length);
        for (const [n, values] of got.entries()) expectSameBytes(values, expected[k][n], `${engine.simd ? "SIMD" : "scalar"}, event ${300 + k}, output ${n}`);
      }
    }
    // the SIMD build took the wheel at the first of those events (the restored schedule's own), then the scan as the
    // stream's mean gap grew (544 of the 600 at this seed)
    expect(denseEvents).toBeGreaterThan(50);
    expect(denseEvents).toBeLessThan(580);
  });
});
