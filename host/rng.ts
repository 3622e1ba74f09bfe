/**
 * The project's one seeded PRNG: the built-in tasks (tasks.md) and the test fixtures draw from it, so that a seed
 * gives the same integer draws on every run, machine and JS engine (integer arithmetic only, no Math.random).
 * Draws that go through Math.log, Math.exp, Math.sin or Math.cos (logUniform, normal, the task signals) are the
 * same on every run of one JS engine, but not across engines: node 20 and Chromium 156 round those functions
 * differently in the last bit for a few percent of arguments. Cross-runtime tests therefore make the model and
 * events once and ship the bytes.
 * Browser-safe: no node import.
 */
import { PhasorError, givenText } from "./errors.js";

/** seeds are 32-bit: the largest one */
export const MAX_SEED = 0xffff_ffff;

/** xoshiro128** (Blackman and Vigna), seeded through splitmix32 so that small seeds give unrelated streams. */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spareNormal: number | null = null;

  /** seed: an integer in [0, MAX_SEED]; anything else would silently alias another seed */
  constructor(seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed > MAX_SEED) {
      throw new PhasorError("bad-args", `seed must be an integer in [0, ${MAX_SEED}], got ${givenText(seed)}`);
    }
    let x = seed >>> 0;
    const splitmix = () => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = splitmix();
    this.s1 = splitmix();
    this.s2 = splitmix();
    this.s3 = splitmix();
  }
  /** the next 32 random bits as an unsigned integer */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** uniform in [0, 1) with 53 random bits */
  next(): number {
    const hi = this.nextU32() >>> 5; // 27 bits
    const lo = this.nextU32() >>> 6; // 26 bits
    return (hi * 2 ** 26 + lo) / 2 ** 53;
  }

  /** uniform in [lo, hi) (or (hi, lo] when hi < lo), lo and hi finite */
  uniform(lo: number, hi: number): number {
    if (!(typeof lo === "number" && typeof hi === "number" && Number.isFinite(hi - lo))) drawRefused("uniform(lo, hi)", "finite numbers a finite distance apart", lo, hi);
    return lo + (hi - lo) * this.next();
  }

  /** log-uniform on [lo, hi], 0 < lo and hi finite */
  logUniform(lo: number, hi: number): number {
    if (!(typeof lo === "number" && typeof hi === "number" && lo > 0 && hi > 0 && Number.isFinite(lo) && Number.isFinite(hi))) {
      drawRefused("logUniform(lo, hi)", "finite numbers above 0", lo, hi);
    }
    return Math.exp(this.uniform(Math.log(lo), Math.log(hi)));
  }

  /** an integer in [0, n), n a whole number from 1 to 2^53 */
  int(n: number): number {
    if (!(typeof n === "number" && Number.isInteger(n) && n >= 1 && n <= 2 ** 53)) drawRefused("int(n)", "a whole number from 1 to 2^53", n);
    return Math.floor(this.next() * n);
  }

  /** standard normal (Box-Muller; the second value of each pair is kept for the next call) */
  normal(): number {
    if (this.spareNormal !== null) {
      const z = this.spareNormal;
      this.spareNormal = null;
      return z;
    }
    const u = 1 - this.next(); // (0, 1]: log(u) is finite
    const v = this.next();
    const radius = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = radius * Math.sin(2 * Math.PI * v);
    return radius * Math.cos(2 * Math.PI * v);
  }
}

/** A draw asked for with arguments it has no answer for (an int in [0, 0), a log of 0): refused, nothing drawn. */
function drawRefused(call: string, expected: string, ...given: unknown[]): never {
  throw new PhasorError("bad-args", `Rng.${call}: expected ${expected}, got ${given.map(givenText).join(", ")}`);
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

