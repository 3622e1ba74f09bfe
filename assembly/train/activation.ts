// exp, the logistic function and tanh in f32 for the trainer, four lanes at a time (SIMD) and one at a time
// (scalar) with the same operations in the same order, so both builds compute the same floats. Mathf's versions
// cost several times more and are not vectorised; the gate nonlinearities are a large share of a training step.

// Cephes expf: exp(x) = 2^n exp(r) with n = round(x log2 e) and r = x - n ln 2 (ln 2 in two parts, so r is
// exact), exp(r) by a degree-7 polynomial. Relative error below 2e-7 on [-87, 87]; x is clamped there, so the
// result is a normal float in [1.6e-38, 6.1e37].
// Adding ROUND = 1.5 * 2^23 rounds x log2 e to an integer (ties to even, as `nearest`) and leaves n + 127 in the
// low bits of the sum, so 2^n is one integer add and shift away. The clamp is a plain compare-and-select
// (f32x4.pmax / pmin): wasm's min and max spend several instructions on NaN and -0 rules that do not matter here.
const EXP_MIN: f32 = -87.0;
const EXP_MAX: f32 = 87.0;
const ROUND: f32 = 12582912.0;
const LOG2E: f32 = 1.44269504088896341;
const LN2_HI: f32 = 0.693359375;
const LN2_LO: f32 = -2.12194440e-4;
const E0: f32 = 1.9875691500e-4;
const E1: f32 = 1.3981999507e-3;
const E2: f32 = 8.3334519073e-3;
const E3: f32 = 4.1665795894e-2;
const E4: f32 = 1.6666665459e-1;
const E5: f32 = 5.0000001201e-1;

// Cephes tanhf: below |x| = 0.625 an odd polynomial (relative error ~1e-7, no cancellation near 0), above it
// 1 - 2 / (exp(2|x|) + 1) with the sign of x (absolute error ~1e-7).
const TANH_SMALL: f32 = 0.625;
const T0: f32 = -5.70498872745e-3;
const T1: f32 = 2.06390887954e-2;
const T2: f32 = -5.37397155531e-2;
const T3: f32 = 1.33314422036e-1;
const T4: f32 = -3.33332819422e-1;

@inline export function expScalar(x: f32): f32 {
  x = select<f32>(EXP_MIN, x, x < EXP_MIN);
  x = select<f32>(EXP_MAX, x, EXP_MAX < x);
  const rounded = x * LOG2E + ROUND;
  const n = rounded - ROUND;
  const r = (x - n * LN2_HI) - n * LN2_LO;
  let p = E0 * r + E1;
  p = p * r + E2;
  p = p * r + E3;
  p = p * r + E4;
  p = p * r + E5;
  p = (p * (r * r) + r) + 1.0;
  return p * reinterpret<f32>((reinterpret<i32>(rounded) + 127) << 23);
}

@inline export function sigmoidScalar(x: f32): f32 {
  return 1.0 / (1.0 + expScalar(-x));
}

@inline export function tanhScalar(x: f32): f32 {
  const ax = abs<f32>(x);
  if (ax < TANH_SMALL) {
    const z = x * x;
    let p = T0 * z + T1;
    p = p * z + T2;
    p = p * z + T3;
    p = p * z + T4;
    return (p * z) * x + x;
  }
  const big: f32 = 1.0 - 2.0 / (expScalar(ax + ax) + 1.0);
  return x < 0 ? -big : big;
}

@inline export function expSimd(x: v128): v128 {
  x = f32x4.pmin(f32x4.pmax(x, f32x4.splat(EXP_MIN)), f32x4.splat(EXP_MAX));
  const rounded = f32x4.add(f32x4.mul(x, f32x4.splat(LOG2E)), f32x4.splat(ROUND));
  const n = f32x4.sub(rounded, f32x4.splat(ROUND));
  const r = f32x4.sub(f32x4.sub(x, f32x4.mul(n, f32x4.splat(LN2_HI))), f32x4.mul(n, f32x4.splat(LN2_LO)));
  let p = f32x4.add(f32x4.mul(f32x4.splat(E0), r), f32x4.splat(E1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(E2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(E3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(E4));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(E5));
  p = f32x4.add(f32x4.add(f32x4.mul(p, f32x4.mul(r, r)), r), f32x4.splat(1.0));
  const scale = i32x4.shl(i32x4.add(rounded, i32x4.splat(127)), 23);
  return f32x4.mul(p, scale);
}

@inline export function sigmoidSimd(x: v128): v128 {
  const one = f32x4.splat(1.0);
  return f32x4.div(one, f32x4.add(one, expSimd(f32x4.neg(x))));
}

@inline export function tanhSimd(x: v128): v128 {
  const ax = f32x4.abs(x);
  const z = f32x4.mul(x, x);
  let p = f32x4.add(f32x4.mul(f32x4.splat(T0), z), f32x4.splat(T1));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(T2));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(T3));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(T4));
  const small = f32x4.add(f32x4.mul(f32x4.mul(p, z), x), x);
  const one = f32x4.splat(1.0);
  const big = f32x4.sub(one, f32x4.div(f32x4.splat(2.0), f32x4.add(expSimd(f32x4.add(ax, ax)), one)));
  const signed = v128.or(big, v128.and(x, i32x4.splat(0x80000000)));
  return v128.bitselect(small, signed, f32x4.lt(ax, f32x4.splat(TANH_SMALL)));
}
