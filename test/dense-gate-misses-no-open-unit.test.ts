// assembly/fixed/step.ts, timeGateDense: the SIMD build's dense time gate takes as candidates the units whose
// approximate phi A (the phase's high word from the unit's base phase for the tick's high word and the products of
// its low word, one of them from high halves alone, and the low words' carries left out) passes A + CARRY_MAX <=
// min(2 half + CARRY_MAX - 1, 2^32 - 1), unsigned (taken as a signed compare of both plus 2^31), and confirms each
// with the exact phase. It misses no open unit only if phi - A = c is at most CARRY_MAX = 2^17 + 3 (the proof is
// CARRY_MAX's comment). Held here against the exact BigInt phase where the words carry most: all-ones words of the step and seed, the tick's words at 2^32 - 1, the clock's last ticks below
// 2^62, phases that wrap, r_on = 1 (the limit clamped to 2^32 - 1) and windows whose end is near the wrap. Then the
// engine itself at those extremes: a stream at the end of its clock, half of its units always open (r_on = 1), on
// the SIMD build (the scan: its mean gap is long) and the scalar one (the wheel), with the same outputs.
import "../host/node.js";
import { describe, expect, it } from "vitest";
import { createEngine, loadModelBytes } from "../host/engine/create.js";
import type { WasmEngine } from "../host/engine/wasm.js";
import type { Stream } from "../host/engine/engine.js";
import { quantize } from "../host/model/quantize.js";
import { calibrationStreams, expectSameBytes } from "./support/engines.js";
import { Rng, randomModel } from "./support/random.js";

const M32 = (1n << 32n) - 1n;
const M64 = (1n << 64n) - 1n;
const CARRY_MAX = (1n << 17n) + 3n;
/** A u32 read as i32. */
const signed = (u: bigint) => (u >= 0x80000000n ? u - (1n << 32n) : u);

/** The exact phase at tick T (Q0.64) of a unit with `seed` and Q0.96 step s2 s1 s0, as phaseAt computes it: seed +
 * floor(T step96 / 2^32) mod 2^64. */
const exactPhase = (seed: bigint, s2: bigint, s1: bigint, s0: bigint, T: bigint) => (seed + ((T * ((s2 << 64n) | (s1 << 32n) | s0)) >> 32n)) & M64;

/** The dense scan's A, as denseNonCandidates computes it in 32-bit lanes, from the unit's base phase B for the
 * tick's high word T1 (denseBases): hi32(B) + lo32(T0 s2) + (T0 >> 16)(s1 >> 16). */
function approximatePhi(seed: bigint, s2: bigint, s1: bigint, s0: bigint, T: bigint): bigint {
  const [T1, T0] = [T >> 32n, T & M32];
  const B = (seed + (((T1 << 32n) * ((s2 << 32n) | s1)) & M64) + T1 * s0) & M64;
  return ((B >> 32n) + ((T0 * s2) & M32) + (T0 >> 16n) * (s1 >> 16n)) & M32;
}

describe("the dense time gate's candidates (assembly/fixed/step.ts, CARRY_MAX)", () => {
  it("phi - A mod 2^32 is within 0..CARRY_MAX, and every open unit is a candidate, at the extremes of every word", () => {
    const words = [0n, 1n, 2n, 0x7fffffffn, 0x80000000n, M32 - 2n, M32 - 1n, M32];
    const ticks = [1n, M32, 1n << 32n, (1n << 62n) - 1n, (1n << 62n) - 2n, ((1n << 62n) - 1n) & ~M32, (1n << 62n) - (1n << 32n) + M32 - 1n];
    const halves = [1n, 0x7fffffffn, 0x80000000n]; // r_on / 2 in Q0.32: the smallest, just below r_on = 1, and r_on = 1
    const seen = new Set<bigint>();
    let open = 0;
    for (const seedHigh of words) {
      for (const seedLow of [0n, 0x80000000n, M32]) {
        const seed = (seedHigh << 32n) | seedLow;
        for (const s2 of words) {
          for (const s1 of [0n, 0x80000000n, M32 - 1n, M32]) {
            for (const s0 of [0n, 0x80000000n, M32]) {
              for (const T of ticks) {
                const phi = exactPhase(seed, s2, s1, s0, T) >> 32n;
                const A = approximatePhi(seed, s2, s1, s0, T);
                const c = (phi - A) & M32;
                expect(c, `seed ${seed} step ${s2} ${s1} ${s0} T ${T}`).toBeLessThanOrEqual(CARRY_MAX);
                seen.add(c);
                for (const half of halves) {
                  const limit = 2n * half + CARRY_MAX - 1n < M32 ? 2n * half + CARRY_MAX - 1n : M32;
                  if (phi < 2n * half) {
                    open++;
                    expect((A + CARRY_MAX) & M32, `open unit missed: phi ${phi} half ${half}`).toBeLessThanOrEqual(limit);
                    // as the scan compares: (A + CARRY_MAX + 2^31) mod 2^32 > limit + 2^31, both as signed i32, marks a
                    // non-candidate
                    expect(signed((A + CARRY_MAX + 0x80000000n) & M32) > signed((limit + 0x80000000n) & M32), `open unit missed: phi ${phi}`).toBe(false);
                  }
                }
              }
            }
          }
        }
      }
    }
    // the extremes did reach the ends of the range, and open units were tested
    const reached = [...seen].sort((p, q) => (p < q ? -1 : 1));
    expect(reached[0]).toBe(0n);
    expect(reached[reached.length - 1]).toBeGreaterThan(1n << 16n);
    expect(open).toBeGreaterThan(1000);
  });

  it("at the window's edge: the last open phi, 2 half - 1, is a candidate", () => {
    // seed alone (T = 0, A = phi): the last open phi and the first closed one, for a small window and r_on near 1
    for (const half of [1n, 1000n, 0x7fffffffn]) {
      const limit = 2n * half + CARRY_MAX - 1n;
      for (const phi of [2n * half - 1n, 2n * half]) {
        const A = approximatePhi(phi << 32n, 0n, 0n, 0n, 0n);
        expect(A).toBe(phi);
        if (phi < 2n * half) expect(A + CARRY_MAX).toBeLessThanOrEqual(limit);
      }
    }
  });
});

describe("the dense time gate at the end of the clock, with units open all the time (r_on = 1)", () => {
  it("gives the scalar build's outputs, with those units updated at every event", async () => {
    const rng = new Rng(1603);
    const H = 37;
    const model = randomModel(rng, { inputSize: 2, hidden: [H], peephole: true, rOn: 0.5, outputs: 2, mode: "every", tauRange: [0.01, 1000] });
    // every other unit open all the time (its limit clamped to 2^32 - 1); the others close, so that the wheel wakes
    // units and the scan is taken (a layer open all the time never takes it: fixed/step.ts, gateIsDense)
    for (let j = 0; j < H; j += 2) model.layers[0].rOn[j] = 1;
    const bytes = quantize(model, calibrationStreams(17, 2, 2, 200), "clock-end").bytes;
    const [simd, scalar] = (await Promise.all(
      (["on", "off"] as const).map((s) => createEngine(loadModelBytes(bytes, "clock-end.plsm"), { engine: "fixed", simd: s })),
    )) as WasmEngine[];
    const [a, b] = [simd.createStream(), scalar.createStream()];
    const x = new Float32Array(2);
    a.push(0, x);
    b.push(0, x);
    // the last time the clock counts (2^62 ticks from the first event): the largest t a stream accepts
    let [lo, hi] = [1, 2 ** 80];
    for (let k = 0; k < 200 && lo < hi; k++) {
      const mid = (lo + hi) / 2;
      if (mid === lo || mid === hi) break;
      if (a.check(mid, x) === null) lo = mid;
      else hi = mid;
    }
    const end = lo;
    expect(a.check(end * (1 + 1e-12), x), "past the clock").not.toBeNull();
    const address = (s: Stream) => (s as unknown as { ptr: number }).ptr;
    let dense = 0;
    for (let e = 0; e < 200; e++) {
      // a jump to half the clock, then events in its last stretch
      const t = e === 0 ? end * 0.5 : end - (end * 1e-9 * (200 - e)) / 200;
      x[0] = rng.uniform(-1, 1);
      x[1] = rng.uniform(-1, 1);
      dense += simd.wasm.exports.denseGateNext(simd.handle, address(a), 0);
      a.push(t, x);
      b.push(t, x);
      expectSameBytes(a.output(), b.output(), `event ${e}: y`);
      expectSameBytes(a.hidden(0), b.hidden(0), `event ${e}: h`);
      expectSameBytes(a.cell(0), b.cell(0), `event ${e}: c`);
    }
    // all but the jump, before which the stream's mean gap was 0
    expect(dense, "events the dense scan gated").toBe(199);
    expect(a.stats()).toEqual(b.stats());
    expect(a.stats().unitUpdates).toBeGreaterThanOrEqual(201 * Math.ceil(H / 2));
  });
});
