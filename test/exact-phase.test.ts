// host/engine/phase.ts computes phi = ((t - s) mod tau) / tau exactly on the float64 values and rounds once
// (plstm.md section 4). These tests hold it to an independent exact computation: every double is turned into a
// fraction num / 2^k by doubling it until it is an integer (doubling a double is exact), the phase is then an
// exact BigInt fraction, and the engine's answer must be the double nearest to it.
import { describe, expect, it } from "vitest";
import { ExactPhase, exactPhase, timeGate } from "../host/engine/phase.js";
import { Rng } from "./support/random.js";

interface Fraction {
  num: bigint;
  den: bigint; // > 0
}

function fractionOf(x: number): Fraction {
  let v = x;
  let k = 0n;
  while (!Number.isInteger(v)) {
    v *= 2;
    k += 1n;
  }
  return { num: BigInt(v), den: 1n << k };
}

/** floor(a / b) for b > 0 (BigInt division truncates toward zero) */
function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a < 0n && q * b !== a ? q - 1n : q;
}

/** the exact phase ((t - s) mod tau) / tau as a fraction in [0, 1) */
function truePhase(t: number, s: number, tau: number): Fraction {
  const T = fractionOf(t);
  const S = fractionOf(s);
  const P = fractionOf(tau);
  // (t - s) / tau = (T.num S.den - S.num T.den) P.den / (T.den S.den P.num)
  const num = (T.num * S.den - S.num * T.den) * P.den;
  const den = T.den * S.den * P.num;
  return { num: num - floorDiv(num, den) * den, den };
}

/** |x - f| as a fraction */
function distance(x: number, f: Fraction): Fraction {
  const X = fractionOf(x);
  const num = X.num * f.den - f.num * X.den;
  return { num: num < 0n ? -num : num, den: X.den * f.den };
}

function lessOrEqual(a: Fraction, b: Fraction): boolean {
  return a.num * b.den <= b.num * a.den;
}

const view = new DataView(new ArrayBuffer(8));
/** the doubles just below and just above x >= 0 */
function neighbours(x: number): [number, number] {
  if (x === 0) return [-Number.MIN_VALUE, Number.MIN_VALUE];
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  view.setBigUint64(0, bits - 1n);
  const below = view.getFloat64(0);
  view.setBigUint64(0, bits + 1n);
  return [below, view.getFloat64(0)];
}

/** true when phi is a double nearest to the exact phase (no other double is strictly closer) */
function isNearest(phi: number, t: number, s: number, tau: number): boolean {
  const exact = truePhase(t, s, tau);
  const d = distance(phi, exact);
  return neighbours(phi).every((other) => lessOrEqual(d, distance(other, exact)));
}

function expectNearest(t: number, s: number, tau: number): number {
  const phi = exactPhase(t, s, tau);
  expect(phi, `t=${t} s=${s} tau=${tau}`).toBeGreaterThanOrEqual(0);
  expect(phi, `t=${t} s=${s} tau=${tau}`).toBeLessThan(1);
  expect(isNearest(phi, t, s, tau), `phi=${phi} for t=${t} s=${s} tau=${tau} is not the nearest double`).toBe(true);
  return phi;
}

/** the exact phase as a double, good to ~1e-19: to measure how far other computations are off */
function approximately(f: Fraction): number {
  return Number((f.num << 64n) / f.den) / 2 ** 64;
}

describe("the exact phase is the double nearest to ((t - s) mod tau) / tau", () => {
  it("on random moderate timestamps, shifts and periods", () => {
    const rng = new Rng(11);
    for (let n = 0; n < 2000; n++) expectNearest(rng.uniform(-1e6, 1e6), rng.uniform(0, 100), rng.logUniform(1e-3, 1e3));
  });

  it("on epoch-millisecond timestamps around 1.7e12", () => {
    const rng = new Rng(12);
    for (let n = 0; n < 2000; n++) {
      expectNearest(1.7e12 + rng.uniform(0, 1e10), rng.uniform(0, 100), rng.logUniform(Math.E, Math.E ** 3));
    }
  });

  it("before the shift (t < s): floor-mod keeps phi in [0, 1)", () => {
    const rng = new Rng(13);
    for (let n = 0; n < 500; n++) expectNearest(rng.uniform(0, 10), rng.uniform(50, 100), rng.logUniform(0.5, 20));
    expect(exactPhase(3, 50, 10)).toBe(0.3); // -47 mod 10 = 3
    expect(exactPhase(-1, 0, 4)).toBe(0.75);
  });

  it("exactly on a period boundary, also at t ~ 1.5e12 and below the shift", () => {
    expect(exactPhase(1.25 + 4 * 2.5, 1.25, 2.5)).toBe(0);
    expect(exactPhase(1.5e12, 0, 0.75)).toBe(0); // 1.5e12 = 2e12 periods of 0.75
    expect(exactPhase(2.5, 10, 2.5)).toBe(0); // three whole periods before the shift
    expect(exactPhase(1.5e12 + 0.375, 0, 0.75)).toBe(0.5); // half a period after a boundary
    expect(exactPhase(1.5e12 - 0.1875, 0, 0.75)).toBe(0.75);
  });

  it("with tiny periods, down to below the spacing of the timestamps", () => {
    const rng = new Rng(14);
    for (const tau of [1e-9, 3e-7, 2 ** -40, 7.3e-13]) {
      for (let n = 0; n < 200; n++) expectNearest(1.7e12 + rng.uniform(0, 1e9), rng.uniform(0, 100), tau);
    }
    expect(exactPhase(1.7e12 + 0.125, 0, 2 ** -40)).toBe(0); // t is a multiple of 2^-12, so of 2^-40
  });

  it("at the extremes of the double range", () => {
    expectNearest(1e-10, 0, 1e300); // a subnormal phase
    expectNearest(1e-300, 0, 1e300); // the phase underflows to 0
    expectNearest(1, 0, Number.MIN_VALUE);
    expectNearest(1e300, -1e-300, 3.3);
    expectNearest(-1e300, 1e-300, 7e-5);
    expectNearest(Number.MIN_VALUE, 0, 1);
    expect(exactPhase(Number.MIN_VALUE, 0, 1)).toBe(Number.MIN_VALUE);
  });

  it("stays below 1 when the true phase is within 2^-54 of 1", () => {
    expect(exactPhase(-(2 ** -60), 0, 1)).toBe(1 - 2 ** -53);
    expect(exactPhase(1.7e12 - 2 ** -12, 0, 1)).toBe(1 - 2 ** -12);
  });

  it("ExactPhase.phases agrees with phase unit by unit, and phaseFixed is floor(phi * 2^bits)", () => {
    const rng = new Rng(15);
    const tau = Float64Array.from({ length: 50 }, () => rng.logUniform(1e-2, 1e4));
    const shift = Float64Array.from({ length: 50 }, () => rng.uniform(-100, 100));
    const phase = new ExactPhase(tau, shift);
    const out = new Float64Array(50);
    for (let n = 0; n < 100; n++) {
      const t = n % 2 ? rng.uniform(-1e3, 1e3) : 1.7e12 + rng.uniform(0, 1e10);
      phase.phases(t, out);
      for (let j = 0; j < 50; j++) {
        expect(out[j]).toBe(phase.phase(t, j));
        expect(out[j]).toBe(exactPhase(t, shift[j], tau[j]));
        const exact = truePhase(t, shift[j], tau[j]);
        expect(phase.phaseFixed(t, j, 64)).toBe((exact.num << 64n) / exact.den);
      }
    }
  });

  it("rejects non-finite timestamps and periods that are not > 0", () => {
    expect(() => exactPhase(NaN, 0, 1)).toThrow(/t: expected a finite number/);
    expect(() => exactPhase(Infinity, 0, 1)).toThrow(/t: expected a finite number/);
    expect(() => new ExactPhase([0], [0])).toThrow(/tau\[0\]: expected > 0/);
    expect(() => new ExactPhase([1, -2], [0, 0])).toThrow(/tau\[1\]: expected > 0/);
  });
});

describe("plain float64 ((t - s) % tau) / tau is not exact, so the tests above would catch it", () => {
  const naive = (t: number, s: number, tau: number) => ((t - s) % tau) / tau;

  it("is off by far more than rounding at t ~ 1.7e12", () => {
    const rng = new Rng(21);
    let worst = 0;
    let wrong = 0;
    for (let n = 0; n < 1000; n++) {
      const t = 1.7e12 + rng.uniform(0, 1e10);
      const s = rng.uniform(0, 100);
      const tau = rng.logUniform(Math.E, Math.E ** 3);
      const phi = naive(t, s, tau);
      if (!isNearest(phi, t, s, tau)) wrong++;
      worst = Math.max(worst, Math.abs(phi - approximately(truePhase(t, s, tau))));
      expect(Math.abs(exactPhase(t, s, tau) - approximately(truePhase(t, s, tau)))).toBeLessThan(1e-16);
    }
    expect(wrong).toBeGreaterThan(900);
    expect(worst).toBeGreaterThan(1e-6); // plstm.md section 4: up to ~1e-4 ms in t - s, so ~1e-5 in phi
  });

  it("gives negative phases before the shift (fmod, not floor-mod)", () => {
    expect(naive(3, 50, 10)).toBeLessThan(0);
    expect(exactPhase(3, 50, 10)).toBeGreaterThanOrEqual(0);
  });
});

describe("the time gate k(phi, r_on, alpha) of plstm.md section 1", () => {
  it("rises on the first half of the open window, falls on the second, leaks while closed", () => {
    expect(timeGate(0, 0.5, 0)).toBe(0);
    expect(timeGate(0.125, 0.5, 0)).toBe(0.5);
    expect(timeGate(0.25, 0.5, 0)).toBe(1); // phi = r_on / 2 is on the falling piece: 2 - 1
    expect(timeGate(0.375, 0.5, 0)).toBe(0.5);
    expect(timeGate(0.5, 0.5, 0)).toBe(0); // closed from phi = r_on on
    expect(timeGate(0.75, 0.5, 0)).toBe(0);
    expect(timeGate(0.75, 0.5, 0.001)).toBe(0.001 * 0.75);
    expect(timeGate(0.3, 1, 0)).toBe(0.6);
    expect(timeGate(0.8, 1, 0)).toBe(2 - 1.6);
  });
});

describe("the wasm engines' phase seed (assembly/phase.ts, error-free float64 transformations)", () => {
  it("agrees with the exact BigInt phase to 1e-15, epoch milliseconds included", async () => {
    await import("../host/node.js");
    const { WasmInstance } = await import("../host/engine/wasm.js");
    const wasm = await WasmInstance.create("scalar");
    const rng = new Rng(4242);
    let worst = 0;
    for (let k = 0; k < 20_000; k++) {
      const tau = rng.logUniform(0.006, 1e5);
      const shift = rng.uniform(-1000, 1000);
      const t = k % 2 === 0 ? 1.7e12 + rng.uniform(0, 1e10) : rng.uniform(-1e4, 1e6);
      const exact = new ExactPhase([tau], [shift]).phase(t, 0);
      const seeded = wasm.exports.exactPhase(t, shift, tau);
      expect(seeded).toBeGreaterThanOrEqual(0);
      expect(seeded).toBeLessThan(1);
      // phases near 0 and 1 are the same point of the circle
      const d = Math.abs(seeded - exact);
      worst = Math.max(worst, Math.min(d, 1 - d));
    }
    expect(worst).toBeLessThan(1e-15);
  });
});
