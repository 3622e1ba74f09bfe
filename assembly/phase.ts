// The time-gate phase at a stream's first event, exact to a few units in the last place of tau whatever the
// size of t (plstm.md section 4). It runs once per unit when a stream starts, never per event: afterwards the
// engines advance the phase from this seed with time measured from the stream's own origin.

/** Reduction passes: enough for the largest finite double over the smallest positive one. */
const MAX_PASSES = 48;

// Veltkamp splitting constant for float64: 2^27 + 1.
const SPLITTER: f64 = 134217729.0;

/** The rounding error of a * b, given p = fl(a * b) (Dekker's TwoProduct without fused multiply-add). */
@inline function productError(a: f64, b: f64, p: f64): f64 {
  let t = SPLITTER * a;
  const aHi = t - (t - a);
  const aLo = a - aHi;
  t = SPLITTER * b;
  const bHi = t - (t - b);
  const bLo = b - bHi;
  return aLo * bLo - (((p - aHi * bHi) - aLo * bHi) - aHi * bLo);
}

/**
 * phi = ((t - s) mod tau) / tau in [0, 1), floor-mod. t - s is carried exactly as hi + lo (TwoSum); each
 * reduction subtracts q * tau carried exactly as a product plus its error, so the remainder is exact but for
 * the final two roundings of numbers smaller than tau.
 */
export function exactPhase(t: f64, s: f64, tau: f64): f64 {
  let hi = t - s;
  const bv = hi - t;
  let lo = (t - (hi - bv)) + (-s - bv);
  // Each pass shrinks the remainder by at least 2^-50 of its size: 3 passes reach [0, tau) for any timestamp
  // up to 2^100 periods, and MAX_PASSES whenever (t - s) / tau is a finite double.
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    if (hi >= 0 && hi < tau) break;
    const q = Math.floor(hi / tau);
    const p = q * tau;
    const pErr = productError(q, tau, p);
    // hi and p are within a factor of two of each other (or p is 0), so hi - p is exact (Sterbenz).
    const r = hi - p;
    const sum = r + (lo - pErr);
    lo = (lo - pErr) - (sum - r);
    hi = sum;
  }
  let r = hi + lo;
  if (r < 0) r += tau;
  if (r >= tau) r -= tau;
  const phi = r / tau;
  return phi >= 0.0 && phi < 1.0 ? phi : 0.0;
}
