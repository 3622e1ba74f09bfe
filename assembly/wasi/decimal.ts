// JSON number text to f64, correctly rounded (round half to even), exactly as JavaScript's Number() and
// JSON.parse read it: the WASI command must see the same doubles `phasor run` sees.
//
// The common case is exact in f64 arithmetic (Clinger's fast path): at most 19 significant digits whose integer
// fits in 53 bits, times or divided by an exactly representable power of ten (10^0..10^22), is one correctly
// rounded operation. Everything else starts from a close f64 approximation and corrects it with exact big
// integer comparisons against the halfway points between neighbouring doubles (bignum.ts).

import { BIG_BYTES, bigCompare, bigCopy, bigMulAdd, bigMulPow5, bigSet, bigShiftLeft } from "./bignum";

/** Significant digits kept; any further nonzero digit only makes the value larger ("sticky"). A halfway point
 * between two doubles has at most 767 significant digits, so 800 decide every comparison. */
const MAX_DIGITS: i32 = 800;
const digits = memory.data(MAX_DIGITS);

const wholeDigits = memory.data(BIG_BYTES, 4);
const left = memory.data(BIG_BYTES, 4);
const right = memory.data(BIG_BYTES, 4);

/** 10^0 .. 10^22, each exact in f64. */
const POWERS = memory.data<f64>([
  1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19,
  1e20, 1e21, 1e22,
]);

@inline function power(e: i32): f64 {
  return load<f64>(POWERS + (<usize>e << 3));
}

const TWO_POW_53: u64 = 9007199254740992;

/** Where the last parseNumber stopped: after the number, or at the character that made the text malformed. */
export let numberEnd: usize = 0;

@inline function isDigit(c: u32): bool {
  return c - 48 < 10;
}

/**
 * Reads the JSON number (-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?) that starts at `start` and ends at or
 * before `end`, sets numberEnd after it, and returns its value; NaN (never a number's value) when the text is
 * not a JSON number, with numberEnd at the offending character.
 */
export function parseNumber(start: usize, end: usize): f64 {
  let p = start;
  const negative = p < end && load<u8>(p) == 45; // -
  if (negative) p++;
  let count = 0; // significant digits kept
  let sticky = false; // a nonzero digit was dropped beyond MAX_DIGITS
  let scale: i64 = 0; // value = digits * 10^(scale + exponent)
  if (p >= end || !isDigit(load<u8>(p))) return malformed(p);
  if (load<u8>(p) == 48) {
    p++;
  } else {
    while (p < end && isDigit(load<u8>(p))) {
      const d = <u32>load<u8>(p++) - 48;
      if (count < MAX_DIGITS) store<u8>(digits + <usize>(count++), <u8>d);
      else {
        scale++;
        if (d != 0) sticky = true;
      }
    }
  }
  if (p < end && load<u8>(p) == 46) { // .
    p++;
    if (p >= end || !isDigit(load<u8>(p))) return malformed(p);
    while (p < end && isDigit(load<u8>(p))) {
      const d = <u32>load<u8>(p++) - 48;
      if (count == 0 && d == 0) {
        scale--; // a leading zero of the fraction
      } else if (count < MAX_DIGITS) {
        store<u8>(digits + <usize>(count++), <u8>d);
        scale--;
      } else if (d != 0) {
        sticky = true;
      }
    }
  }
  let exponent: i64 = 0;
  if (p < end && (load<u8>(p) | 32) == 101) { // e or E
    p++;
    let exponentNegative = false;
    if (p < end && (load<u8>(p) == 43 || load<u8>(p) == 45)) exponentNegative = load<u8>(p++) == 45;
    if (p >= end || !isDigit(load<u8>(p))) return malformed(p);
    while (p < end && isDigit(load<u8>(p))) {
      // beyond 10^9 the value is 0 or infinite whatever the digits; stop growing so nothing overflows
      if (exponent < 1000000000) exponent = exponent * 10 + <i64>(load<u8>(p) - 48);
      p++;
    }
    if (exponentNegative) exponent = -exponent;
  }
  numberEnd = p;
  // Trailing zeros of the kept digits only move the exponent.
  while (count > 0 && load<u8>(digits + <usize>(count - 1)) == 0) {
    count--;
    scale++;
  }
  let value: f64;
  if (count == 0) value = 0;
  else value = magnitude(count, scale + exponent, sticky);
  return negative ? -value : value;
}

function malformed(at: usize): f64 {
  numberEnd = at;
  return NaN;
}

/** digits[0..count) * 10^e (plus a little when sticky), correctly rounded; count >= 1, no trailing zero. */
function magnitude(count: i32, e64: i64, sticky: bool): f64 {
  const sciExp = e64 + <i64>count - 1; // the value lies in [10^sciExp, 10^(sciExp + 1))
  if (sciExp > 309) return Infinity;
  if (sciExp < -326) return 0;
  const e = <i32>e64;
  const head = min(count, 19);
  let w: u64 = 0;
  for (let i = 0; i < head; i++) w = w * 10 + <u64>load<u8>(digits + <usize>i);
  if (!sticky && head == count && w <= TWO_POW_53) {
    if (e >= 0 && e <= 22) return <f64>w * power(e);
    if (e < 0 && e >= -22) return <f64>w / power(-e);
    if (e > 22 && e <= 22 + 15) {
      // move part of the power into the integer while it stays exact
      let shifted = w;
      let k = e - 22;
      while (k > 0 && shifted <= TWO_POW_53 / 10) {
        shifted *= 10;
        k--;
      }
      if (k == 0) return <f64>shifted * 1e22;
    }
  }
  return corrected(approximate(w, e + (count - head)), count, e, sticky);
}

/** w * 10^e in f64 operations, a few units in the last place from the exact value; finite. */
function approximate(w: u64, e: i32): f64 {
  let z = <f64>w;
  while (e > 22) {
    z *= 1e22;
    e -= 22;
  }
  while (e < -22) {
    z /= 1e22;
    e += 22;
  }
  z = e >= 0 ? z * power(e) : z / power(-e);
  return isFinite(z) ? z : f64.MAX_VALUE;
}

/**
 * Moves z, one double at a time, to the double nearest digits * 10^e: up while the value lies above z's
 * upper halfway point, otherwise down while it lies below the lower one; a value exactly halfway goes to the
 * neighbour with an even significand.
 */
function corrected(z: f64, count: i32, e: i32, sticky: bool): f64 {
  bigSet(wholeDigits, 0);
  for (let i = 0; i < count; i++) bigMulAdd(wholeDigits, 10, load<u8>(digits + <usize>i));
  let moved = false;
  while (true) {
    const bits = reinterpret<u64>(z);
    const c = compareHalfway(bits, true, e, sticky);
    if (c < 0 || (c == 0 && (bits & 1) == 0)) break;
    z = reinterpret<f64>(bits + 1);
    moved = true;
    if (!isFinite(z)) return z;
  }
  if (moved) return z;
  let bits = reinterpret<u64>(z);
  while (bits != 0) {
    const c = compareHalfway(bits, false, e, sticky);
    if (c > 0 || (c == 0 && (bits & 1) == 0)) break;
    bits--;
  }
  return reinterpret<f64>(bits);
}

/**
 * The sign of (wholeDigits * 10^e, plus a little when sticky) minus the halfway point above (upper) or below
 * the positive finite double with these bits. Halfway points are odd * 2^p: above m * 2^q it is
 * (2m + 1) * 2^(q - 1); below, (2m - 1) * 2^(q - 1), or (4m - 1) * 2^(q - 2) when m * 2^q is a power of two
 * whose lower neighbour is closer.
 */
function compareHalfway(bits: u64, upper: bool, e: i32, sticky: bool): i32 {
  const field = <i32>(bits >>> 52);
  const fraction = bits & 0xfffffffffffff;
  const m = field == 0 ? fraction : fraction | 0x10000000000000;
  const q = field == 0 ? -1074 : field - 1075;
  let odd: u64;
  let p: i32;
  if (upper) {
    odd = 2 * m + 1;
    p = q - 1;
  } else if (fraction == 0 && field > 1) {
    odd = 4 * m - 1;
    p = q - 2;
  } else {
    odd = 2 * m - 1;
    p = q - 1;
  }
  // digits * 5^e * 2^e against odd * 2^p, every factor moved to the side where its exponent is positive
  bigCopy(left, wholeDigits);
  bigSet(right, odd);
  if (e >= 0) bigMulPow5(left, e);
  else bigMulPow5(right, -e);
  const twos = e - p; // left carries 2^twos relative to right
  if (twos > 0) bigShiftLeft(left, twos);
  else bigShiftLeft(right, -twos);
  const c = bigCompare(left, right);
  return c == 0 && sticky ? 1 : c;
}
