/**
 * The time gate of plstm.md section 1, with the phase computed exactly as section 4 asks.
 *
 * How the phase is exact: every finite double is an integer times a power of two, x = m * 2^e with |m| < 2^53.
 * Bringing t, s and tau to their smallest exponent E turns them into integers T, S, Tau (BigInt, no rounding),
 * so (t - s) mod tau is the integer R = (T - S) mod Tau (floor-mod, 0 <= R < Tau) times 2^E, and
 * phi = R / Tau exactly. The only rounding is the last step: R / Tau is rounded once, to nearest with ties to
 * even, to a float64 (an integer quotient with 53 significant bits plus a remainder comparison, then an exact
 * scaling by a power of two). So phi is the float64 nearest to the true phase of the three binary values.
 * The one exception keeps phi in [0, 1): a true phase within 2^-54 of 1 would round to 1.0 and is returned as
 * the largest double below 1 instead.
 *
 * Per unit, s and tau are decomposed once (ExactPhase); per event only t is decomposed.
 */
import { PhasorError, givenText } from "../errors.js";

/** 2^-n for n = 0..1074, each exact (halving a double is exact down to the smallest subnormal 2^-1074). */
const NEGATIVE_POWERS_OF_TWO = (() => {
  const table = new Float64Array(1075);
  let p = 1;
  for (let n = 0; n < table.length; n++) {
    table[n] = p;
    p /= 2;
  }
  return table;
})();

const ONE_BELOW_ONE = 1 - 2 ** -53;
const TWO_POW_53 = 1n << 53n;

const bits = new DataView(new ArrayBuffer(8));

/** x = mantissa * 2^exponent exactly, mantissa odd (or 0 with exponent 0); x must be finite. */
interface Dyadic {
  mantissa: bigint;
  exponent: number;
}

function toDyadic(x: number): Dyadic {
  if (x === 0) return { mantissa: 0n, exponent: 0 };
  bits.setFloat64(0, x);
  const hi = bits.getUint32(0);
  const lo = bits.getUint32(4);
  const biased = (hi >>> 20) & 0x7ff;
  let m = (hi & 0xfffff) * 2 ** 32 + lo; // the 52 stored bits, an exact integer in a double
  let e: number;
  if (biased === 0) {
    e = -1074; // subnormal: no hidden bit
  } else {
    m += 2 ** 52;
    e = biased - 1075;
  }
  // Dropping trailing zero bits keeps the integers small: timestamps like 1.7e12 ms become short BigInts.
  while (m % 2 === 0) {
    m /= 2;
    e += 1;
  }
  const mantissa = BigInt(m);
  return { mantissa: x < 0 ? -mantissa : mantissa, exponent: e };
}

function bitLength(x: bigint): number {
  const hex = x.toString(16);
  return (hex.length - 1) * 4 + (32 - Math.clz32(parseInt(hex[0], 16)));
}

/**
 * The float64 nearest to r / tau (ties to even) for integers 0 <= r < tau, where tau has tauBits bits.
 * The quotient q is taken with exactly 53 significant bits (fewer only when the result is subnormal); the
 * remainder decides the rounding.
 */
function roundQuotient(r: bigint, tau: bigint, tauBits: number): number {
  if (r === 0n) return 0;
  // 2^(rBits - tauBits - 1) < r / tau < 2^(rBits - tauBits + 1)
  const lowExponent = bitLength(r) - tauBits - 1;
  let ulpExponent = Math.max(lowExponent, -1022) - 52; // <= -53 because r / tau < 1
  const scaled = r << BigInt(-ulpExponent);
  let q = scaled / tau;
  const rest = scaled - q * tau;
  let roundUp: boolean;
  if (q >= TWO_POW_53) {
    // the true exponent was the higher one: q has 54 bits, the lowest of them is the rounding bit
    const half = (q & 1n) === 1n;
    q >>= 1n;
    ulpExponent += 1;
    roundUp = half && (rest !== 0n || (q & 1n) === 1n);
  } else {
    const twice = rest * 2n;
    roundUp = twice > tau || (twice === tau && (q & 1n) === 1n);
  }
  if (roundUp) q += 1n;
  // q <= 2^53 and q * 2^ulpExponent is a double, so this product is exact
  const phi = Number(q) * NEGATIVE_POWERS_OF_TWO[-ulpExponent];
  return phi < 1 ? phi : ONE_BELOW_ONE;
}

function checkFinite(what: string, x: number): void {
  if (typeof x !== "number" || !Number.isFinite(x)) throw new PhasorError("bad-args", `${what}: expected a finite number, got ${givenText(x)}`);
}

/**
 * Exact phases for a layer's units: s_j and tau_j are held as integers at a common exponent, decomposed once.
 */
export class ExactPhase {
  readonly units: number;
  /** per unit: s and tau as integers times 2^exponent[j] */
  private readonly shiftInt: bigint[] = [];
  private readonly tauInt: bigint[] = [];
  private readonly tauBits: number[] = [];
  private readonly exponent: number[] = [];

  constructor(tau: ArrayLike<number>, shift: ArrayLike<number>) {
    // two numbers made a phase of no units (both lengths undefined), null a TypeError
    for (const [name, values] of [["tau", tau], ["shift", shift]] as const) {
      if (typeof values !== "object" || values === null || !Number.isInteger(values.length)) {
        throw new PhasorError("bad-args", `ExactPhase: ${name} must be an array of numbers, one per unit, got ${givenText(values)}`);
      }
    }
    if (tau.length !== shift.length) {
      throw new PhasorError("bad-args", `ExactPhase: ${tau.length} periods but ${shift.length} shifts`);
    }
    this.units = tau.length;
    for (let j = 0; j < tau.length; j++) {
      checkFinite(`tau[${j}]`, tau[j]);
      checkFinite(`shift[${j}]`, shift[j]);
      if (!(tau[j] > 0)) throw new PhasorError("bad-args", `tau[${j}]: expected > 0, got ${tau[j]}`);
      const s = toDyadic(shift[j]);
      const p = toDyadic(tau[j]);
      const e = s.mantissa === 0n ? p.exponent : Math.min(s.exponent, p.exponent);
      const tauInt = p.mantissa << BigInt(p.exponent - e);
      this.shiftInt.push(s.mantissa << BigInt(s.exponent - e));
      this.tauInt.push(tauInt);
      this.tauBits.push(bitLength(tauInt));
      this.exponent.push(e);
    }
  }

  /** phi_j(t) for every unit, into out (length units). */
  phases(t: number, out: Float64Array): void {
    checkFinite("t", t);
    if (!(out instanceof Float64Array) || out.length < this.units) {
      throw new PhasorError("bad-args", `ExactPhase.phases: out must be a Float64Array with room for ${this.units} phases, got ${out instanceof Float64Array ? `${out.length}` : String(out)}`);
    }
    const time = toDyadic(t);
    for (let j = 0; j < this.units; j++) out[j] = this.phaseOf(time, j);
  }

  /** phi_j(t) = ((t - s_j) mod tau_j) / tau_j, the float64 nearest to the exact value, in [0, 1). */
  phase(t: number, unit: number): number {
    checkFinite("t", t);
    this.checkUnit("ExactPhase.phase", unit);
    return this.phaseOf(toDyadic(t), unit);
  }

  /**
   * floor(phi_j(t) * 2^fractionBits) exactly: the seed of a fixed-point phase accumulator
   * (plstm.md section 4: a 64-bit accumulator takes fractionBits = 64).
   */
  phaseFixed(t: number, unit: number, fractionBits: number): bigint {
    checkFinite("t", t);
    this.checkUnit("ExactPhase.phaseFixed", unit);
    // a negative count would shift right, a fraction not at all (BigInt's RangeError): floor(phi 2^-3) is no seed
    if (typeof fractionBits !== "number" || !Number.isInteger(fractionBits) || fractionBits < 0 || fractionBits > 1024) {
      throw new PhasorError("bad-args", `ExactPhase.phaseFixed: fractionBits must be a whole number in 0..1024, got ${givenText(fractionBits)}`);
    }
    const { remainder, tau } = this.remainderOf(toDyadic(t), unit);
    return (remainder << BigInt(fractionBits)) / tau;
  }

  private checkUnit(where: string, unit: number): void {
    if (!Number.isInteger(unit) || unit < 0 || unit >= this.units) throw new PhasorError("bad-args", `${where}: unit ${givenText(unit)} does not exist, the units are 0..${this.units - 1}`);
  }

  private phaseOf(time: Dyadic, j: number): number {
    const { remainder, tau, tauBits } = this.remainderOf(time, j);
    return roundQuotient(remainder, tau, tauBits);
  }

  /** (T - S) mod Tau at the common exponent of t, s_j and tau_j: the phase is remainder / tau exactly. */
  private remainderOf(time: Dyadic, j: number): { remainder: bigint; tau: bigint; tauBits: number } {
    let t = time.mantissa;
    let s = this.shiftInt[j];
    let tau = this.tauInt[j];
    let tauBits = this.tauBits[j];
    const e = this.exponent[j];
    if (time.exponent >= e) {
      t <<= BigInt(time.exponent - e);
    } else {
      const up = e - time.exponent;
      s <<= BigInt(up);
      tau <<= BigInt(up);
      tauBits += up;
    }
    let remainder = (t - s) % tau; // BigInt % truncates toward zero: fix the sign for floor-mod
    if (remainder < 0n) remainder += tau;
    return { remainder, tau, tauBits };
  }
}

/** The exact phase of one unit; for one-off uses (tests, seeding). Engines hold an ExactPhase instead. */
export function exactPhase(t: number, shift: number, tau: number): number {
  return new ExactPhase([tau], [shift]).phase(t, 0);
}

/**
 * plstm.md section 1, "k_j = ...": the openness of the time gate at phase phi. 2 phi / r_on on the rising half
 * of the open window, 2 - 2 phi / r_on on the falling half, alpha * phi (the leak) while closed.
 */
export function timeGate(phi: number, rOn: number, alpha: number): number {
  // text compared as numbers ("0.1" gave 1), a phase of 1.5 or an r_on of 0 gave an openness no phase has
  if (!(typeof phi === "number" && phi >= 0 && phi < 1 && typeof rOn === "number" && rOn > 0 && rOn <= 1 && typeof alpha === "number" && alpha >= 0 && alpha < Infinity)) {
    throw new PhasorError("bad-args", `timeGate(phi, rOn, alpha): expected phi in [0, 1), rOn in (0, 1] and alpha a finite number >= 0, got ${[phi, rOn, alpha].map(givenText).join(", ")}`);
  }
  if (phi < rOn / 2) return (2 * phi) / rOn;
  if (phi < rOn) return 2 - (2 * phi) / rOn;
  return alpha * phi;
}
