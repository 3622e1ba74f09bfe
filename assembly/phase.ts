// The time gate's phase where it must be exact (plstm.md section 4): the phase at a stream's first event, the seed
// the engines advance from, and the phase advance per tick of the integer phase accumulators. Both run once (per
// unit per stream, per unit per model), never per event.

/**
 * phi = ((t - s) mod tau) / tau in [0, 1), floor-mod, for any finite t and s and any normal tau > 0, within a few
 * units in the last place of tau (2^-51 of a period).
 * The remainder x - n tau (|x - n tau| < tau) of two doubles is a multiple of the smaller of ulp(x) and ulp(tau),
 * so it fits in 53 bits: truncatedRemainder is exact. So t and s are reduced separately and exactly, whatever
 * their size (epoch milliseconds, or 1e308); the only roundings are then their difference, in (-2 tau, 2 tau), by
 * at most ulp(tau), the division and bringing the phase into [0, 1).
 */
export function exactPhase(t: f64, s: f64, tau: f64): f64 {
  const cycles = (truncatedRemainder(t, tau) - truncatedRemainder(s, tau)) / tau;
  const phi = cycles - Math.floor(cycles);
  // a phase within rounding below 0 comes out as 1: it stands for the phase 0
  return phi < 1.0 ? phi : 0.0;
}

/**
 * x - trunc(x / y) y for finite x and normal y > 0, exactly: C's fmod, as binary long division on doubles. d runs
 * through y 2^k from the k that gives it x's exponent down to k = 0; r = |x| starts below 2 d and each step keeps
 * it so, subtracting d where d <= r < 2 d, which is exact (Sterbenz's lemma), as are the halvings of d (y 2^k is a
 * normal double for every k here). Written here rather than taken from AssemblyScript's `%`, and in doubles
 * rather than on the significands' bits, to keep the microcontroller build small.
 */
function truncatedRemainder(x: f64, y: f64): f64 {
  const by = reinterpret<u64>(y);
  let shift = <i32>(reinterpret<u64>(x) >>> 52) & 0x7ff;
  shift -= <i32>(by >>> 52);
  // |x| < 2^(ey - 1023) <= y, subnormal x included: nothing to take away
  if (shift < 0) return x;
  let r = abs(x);
  let d = reinterpret<f64>(by + (<u64>shift << 52));
  // counted, so that it ends whatever the bits (a non-finite x, which no caller passes, gives NaN or x)
  do {
    if (r >= d) r -= d;
    d *= 0.5;
  } while (--shift >= 0);
  return copysign(r, x);
}

/** Low 32 bits of the last phaseStep (the high 64 bits are its result). */
export let phaseStepLow: u32 = 0;
/** The last phaseStep's step rounded to 64 bits instead (Q0.64, half up), as .plsm files held it before the low
 * 32 bits were written. */
export let phaseStep64: u64 = 0;

/**
 * The phase advance per tick of a unit of period tau at 2^ticksLog2 ticks per time unit, as a Q0.96 fraction of a
 * period: round(2^96 / (tau 2^ticksLog2)) mod 2^96, rounded half up, from tau's exact binary value by long
 * division. Returns the high 64 bits (the Q0.64 step); the low 32 are in phaseStepLow. Only the step modulo 2^96
 * matters: a whole number of periods per tick does not move the phase. tau must be a positive normal double.
 */
export function phaseStep(tau: f64, ticksLog2: i32): u64 {
  const bits = reinterpret<u64>(tau);
  const m = (bits & 0xfffffffffffff) | 0x10000000000000; // tau = m 2^e, 2^52 <= m < 2^53
  const e = <i32>(bits >>> 52) - 1075;
  // 2^96 / (m 2^(e + ticksLog2)) = 2^k / m
  const k = 96 - e - ticksLog2;
  if (k < 0) {
    phaseStepLow = 0;
    phaseStep64 = 0;
    return 0;
  }
  // quotient bits come in one at a time below the bit of 2^k; r < m < 2^53, so 2 r never overflows
  let r: u64 = 1;
  let qHi: u64 = 0; // bits 32..95 of the quotient (those above are dropped: mod 2^96)
  let qLo: u64 = 0; // bits 0..31
  for (let i = 0; i < k; i++) {
    r <<= 1;
    const bit: u64 = r >= m ? 1 : 0;
    if (bit) r -= m;
    qHi = (qHi << 1) | (qLo >>> 31);
    qLo = ((qLo << 1) | bit) & 0xffffffff;
  }
  // to 64 bits, half up: the fraction below them, (qLo + r / m) / 2^32, is at least a half iff qLo >= 2^31
  phaseStep64 = qHi + (qLo >= 0x80000000 ? 1 : 0);
  // to 96 bits, half up: the remainder is at least half the divisor
  if (r << 1 >= m) {
    qLo += 1;
    if (qLo > 0xffffffff) {
      qLo = 0;
      qHi += 1;
    }
  }
  phaseStepLow = <u32>qLo;
  return qHi;
}
