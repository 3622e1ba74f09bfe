// f64 to text exactly as JavaScript's String(number) writes it (ECMA-262 Number::toString with the recommended
// "closest, then even" choice, which V8 implements): the fewest significant digits that read back as the same
// double, the one nearest the double among those, and the same choice of plain or exponent notation. So the WASI
// command's NDJSON is byte-identical to `phasor run`'s, and every number round-trips.
//
// Digits come from Burger and Dybvig's free-format algorithm ("Printing Floating-Point Numbers Quickly and
// Accurately", PLDI 1996): exact arithmetic on r / s = v / 10^k and on the distances to the halfway points to
// the neighbouring doubles, m+ and m-. Numbers whose quantities fit 64 bits (most values of everyday size)
// run it in u64; the others in big integers (bignum.ts).

import { BIG_BYTES, bigAdd, bigCompare, bigCompareSum, bigCopy, bigMulAdd, bigMulPow5, bigSet, bigShiftLeft, bigSubtract } from "./bignum";

const r = memory.data(BIG_BYTES, 4);
const s = memory.data(BIG_BYTES, 4);
const mPlus = memory.data(BIG_BYTES, 4);
const mMinus = memory.data(BIG_BYTES, 4);
const twice = memory.data(BIG_BYTES, 4);

/** Room for the digits of one number: never more than 17. */
const digitBuffer = memory.data(24);
let digitCount = 0;
/** The value is 0.d1 d2 ... * 10^pointPosition. */
let pointPosition = 0;

/** Longest text formatNumber writes: "-1.2345678901234567e-308" is 24 characters. */
export const NUMBER_MAX_CHARS: i32 = 25;

/** Writes String(value) at out (at most NUMBER_MAX_CHARS bytes of ASCII) and returns the number of bytes. */
export function formatNumber(value: f64, out: usize): i32 {
  if (value != value) return ascii(out, "NaN");
  let at = out;
  if (value < 0) {
    store<u8>(at++, 45); // -
    value = -value;
  }
  if (value == 0) return ascii(out, "0"); // -0 too
  if (value == Infinity) return <i32>(at - out) + ascii(at, "Infinity");
  shortestDigits(value);
  return <i32>(at - out) + layout(at);
}

function ascii(out: usize, text: string): i32 {
  for (let i = 0; i < text.length; i++) store<u8>(out + <usize>i, <u8>text.charCodeAt(i));
  return text.length;
}

/** The digits and point position (Number::toString, steps 6 to 10). */
function layout(out: usize): i32 {
  const k = digitCount;
  const n = pointPosition;
  let at = out;
  if (k <= n && n <= 21) {
    at = copyDigits(at, 0, k);
    for (let i = k; i < n; i++) store<u8>(at++, 48);
  } else if (0 < n && n <= 21) {
    at = copyDigits(at, 0, n);
    store<u8>(at++, 46);
    at = copyDigits(at, n, k);
  } else if (-6 < n && n <= 0) {
    store<u8>(at++, 48);
    store<u8>(at++, 46);
    for (let i = n; i < 0; i++) store<u8>(at++, 48);
    at = copyDigits(at, 0, k);
  } else {
    at = copyDigits(at, 0, 1);
    if (k > 1) {
      store<u8>(at++, 46);
      at = copyDigits(at, 1, k);
    }
    store<u8>(at++, 101); // e
    let e = n - 1;
    store<u8>(at++, e < 0 ? 45 : 43);
    if (e < 0) e = -e;
    if (e >= 100) store<u8>(at++, <u8>(48 + e / 100));
    if (e >= 10) store<u8>(at++, <u8>(48 + (e / 10) % 10));
    store<u8>(at++, <u8>(48 + e % 10));
  }
  return <i32>(at - out);
}

function copyDigits(at: usize, from: i32, to: i32): usize {
  for (let i = from; i < to; i++) store<u8>(at++, 48 + load<u8>(digitBuffer + <usize>i));
  return at;
}

/** Appends digit d (0..10: a 10 carries into the digits before it). */
function emit(d: i32): void {
  if (d < 10) {
    store<u8>(digitBuffer + <usize>(digitCount++), <u8>d);
    return;
  }
  // d + 1 overflowed: 0.x9 + 0.01 style carry; trailing zeros are dropped (the digits never end in 0)
  let i = digitCount - 1;
  while (i >= 0 && load<u8>(digitBuffer + <usize>i) == 9) i--;
  if (i < 0) {
    store<u8>(digitBuffer, 1);
    digitCount = 1;
    pointPosition++;
  } else {
    store<u8>(digitBuffer + <usize>i, load<u8>(digitBuffer + <usize>i) + 1);
    digitCount = i + 1;
  }
}

/** Fills digitBuffer, digitCount and pointPosition for a positive finite value. */
function shortestDigits(v: f64): void {
  const bits = reinterpret<u64>(v);
  const field = <i32>(bits >>> 52);
  const fraction = bits & 0xfffffffffffff;
  const f = field == 0 ? fraction : fraction | 0x10000000000000;
  const e = field == 0 ? -1074 : field - 1075;
  // Round half to even when reading decimals back: the halfway points belong to an even significand.
  const inclusive = (f & 1) == 0;
  // At a power of two the double below is twice as close as the one above.
  const lowerCloser = fraction == 0 && field > 1 ? 1 : 0;
  // An estimate of ceil(log10(v)) that is exact or one too small (v >= 2^(e + bits of f - 1)).
  const k = <i32>Math.ceil(<f64>(e + 63 - <i32>clz(f)) * 0.30102999566398114 - 1e-10);
  digitCount = 0;
  if (fitsU64(e, k)) smallDigits(f, e, lowerCloser, inclusive, k);
  else bigDigits(f, e, lowerCloser, inclusive, k);
}

/**
 * Whether the u64 path holds every quantity: it runs for e < 0 and k >= 0 (v from about 0.1 to 2^53), where
 * s = 2^(1 - e + lowerCloser) * 10^k, times 10 at the fix-up, is the largest number and 10 s must stay below
 * 2^63 (r < s and m+ < 10 s after each digit).
 */
function fitsU64(e: i32, k: i32): bool {
  return e < 0 && k >= 0 && <f64>(2 - e) + 3.33 * <f64>(k + 1) < 62;
}

/** Burger and Dybvig in u64 arithmetic, within the bounds fitsU64 checks. */
function smallDigits(f: u64, e: i32, lowerCloser: i32, inclusive: bool, k: i32): void {
  let r = f << (1 + lowerCloser);
  let s: u64 = (<u64>1) << (1 - e + lowerCloser);
  let mp: u64 = (<u64>1) << lowerCloser;
  let mm: u64 = 1;
  for (let i = 0; i < k; i++) s *= 10;
  if (inclusive ? r + mp >= s : r + mp > s) {
    s *= 10;
    k++;
  }
  pointPosition = k;
  while (true) {
    r *= 10;
    mp *= 10;
    mm *= 10;
    const d = <i32>(r / s);
    r %= s;
    const low = inclusive ? r <= mm : r < mm;
    const high = inclusive ? r + mp >= s : r + mp > s;
    if (!low && !high) {
      emit(d);
      continue;
    }
    if (low && !high) emit(d);
    else if (high && !low) emit(d + 1);
    else emit(2 * r < s ? d : 2 * r > s ? d + 1 : d + (d & 1));
    return;
  }
}

/** The same algorithm in big integers, for every double. */
function bigDigits(f: u64, e: i32, lowerCloser: i32, inclusive: bool, k: i32): void {
  bigSet(r, f);
  bigSet(s, 1);
  bigSet(mPlus, 1);
  bigSet(mMinus, 1);
  if (e >= 0) {
    bigShiftLeft(r, e + 1 + lowerCloser);
    bigShiftLeft(s, 1 + lowerCloser);
    bigShiftLeft(mPlus, e + lowerCloser);
    bigShiftLeft(mMinus, e);
  } else {
    bigShiftLeft(r, 1 + lowerCloser);
    bigShiftLeft(s, 1 - e + lowerCloser);
    bigShiftLeft(mPlus, lowerCloser);
  }
  if (k >= 0) {
    bigMulPow5(s, k);
    bigShiftLeft(s, k);
  } else {
    for (let i = 0; i < 3; i++) {
      const x = i == 0 ? r : i == 1 ? mPlus : mMinus;
      bigMulPow5(x, -k);
      bigShiftLeft(x, -k);
    }
  }
  if (reaches(bigCompareSum(r, mPlus, s), inclusive)) {
    bigMulAdd(s, 10, 0);
    k++;
  }
  pointPosition = k;
  while (true) {
    bigMulAdd(r, 10, 0);
    bigMulAdd(mPlus, 10, 0);
    bigMulAdd(mMinus, 10, 0);
    let d = 0;
    while (bigCompare(r, s) >= 0) {
      bigSubtract(r, s);
      d++;
    }
    const lowCompare = bigCompare(r, mMinus);
    const low = inclusive ? lowCompare <= 0 : lowCompare < 0;
    const high = reaches(bigCompareSum(r, mPlus, s), inclusive);
    if (!low && !high) {
      emit(d);
      continue;
    }
    if (low && !high) emit(d);
    else if (high && !low) emit(d + 1);
    else {
      bigCopy(twice, r);
      bigAdd(twice, r);
      const c = bigCompare(twice, s);
      emit(c < 0 ? d : c > 0 ? d + 1 : d + (d & 1));
    }
    return;
  }
}

/** Whether r + m+ reaches s: the upper bound of the rounding interval is at or past the next digit. */
@inline function reaches(sign: i32, inclusive: bool): bool {
  return inclusive ? sign >= 0 : sign > 0;
}
