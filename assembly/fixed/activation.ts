// tanh and sigmoid without floating point: linear interpolation in a static table of tanh on [0, 8].
// Input Q7.24 (i32), output Q0.15.
// Error bound of tanhQ15: interpolation (1/128)^2 / 8 * max|tanh''| (0.770) = 5.9e-6, plus 1.5e-5 for the
// table's rounding and 1.5e-5 for the output's: |tanhQ15(x) / 2^15 - tanh(x)| < 4e-5 everywhere (beyond 8 it
// returns 32767, and 1 - tanh(8) = 2.3e-7; the table stops where its entries reach 32767, at 684 / 128 = 5.34,
// since interpolating between entries of 32767 gives 32767). sigmoidQ15 = (1 + tanh(x / 2)) / 2 has half that bound plus the
// 2^-25 of halving its input: < 3e-5.

import { TANH_SATURATED_INDEX, TANH_TABLE } from "./tanh-table";

/** Table step 1/128 = 2^-7, so the index is the input's bits above 2^(24-7). */
const INDEX_SHIFT: u32 = 17;
/** Where the table ends, in Q7.24: from its last entry (32767) on, tanhQ15 is 32767. */
const TABLE_END_Q24: u32 = TANH_SATURATED_INDEX << INDEX_SHIFT;
const FRACTION_MASK: u32 = (1 << INDEX_SHIFT) - 1;

/** Inlined at every use, except in the microcontroller build (`--use PHASOR_MCU=1`): one shared copy there. */
@inline export function tanhQ15(xQ24: i32): i32 {
  return isDefined(PHASOR_MCU) ? tanhQ15Shared(xQ24) : tanhQ15Inline(xQ24);
}

function tanhQ15Shared(xQ24: i32): i32 {
  return tanhQ15Inline(xQ24);
}

@inline function tanhQ15Inline(xQ24: i32): i32 {
  const magnitude: u32 = xQ24 < 0 ? <u32>(-(<i64>xQ24)) : <u32>xQ24;
  let r: i32;
  if (magnitude >= TABLE_END_Q24) {
    r = 32767;
  } else {
    const index = magnitude >>> INDEX_SHIFT;
    const fraction = <i32>(magnitude & FRACTION_MASK);
    const lo = <i32>load<i16>(TANH_TABLE + (<usize>index << 1));
    const hi = <i32>load<i16>(TANH_TABLE + (<usize>index << 1), 2);
    r = lo + (((hi - lo) * fraction + (1 << (INDEX_SHIFT - 1))) >> INDEX_SHIFT);
  }
  return xQ24 < 0 ? -r : r;
}

@inline export function sigmoidQ15(xQ24: i32): i32 {
  return (32768 + tanhQ15(xQ24 >> 1)) >> 1;
}
