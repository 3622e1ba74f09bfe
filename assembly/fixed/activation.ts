// tanh and sigmoid without floating point: linear interpolation in a static table of tanh on [0, 8].
// Input Q7.24 (i64, any value: beyond the table it saturates), output Q0.15.
// Error bound of tanhQ15: interpolation (1/128)^2 / 8 * max|tanh''| (0.770) = 5.9e-6, plus 1.5e-5 for the
// table's rounding and 1.5e-5 for the output's: |tanhQ15(x) / 2^15 - tanh(x)| < 4e-5 everywhere (beyond 8 it
// returns 32767, and 1 - tanh(8) = 2.3e-7; the table stops where its entries reach 32767, at 684 / 128 = 5.34,
// since interpolating between entries of 32767 gives 32767). sigmoidQ15 = (1 + tanh(x / 2)) / 2 has half that bound plus the
// 2^-25 of halving its input: < 3e-5.

import { TANH_SATURATED_INDEX, TANH_STEP_RATIO, tanhTable } from "./tanh-table";

/** Table step 1/128 = 2^-7, so the index is the input's bits above 2^(24-7). */
const INDEX_SHIFT: u32 = 17;
/** Where the table ends, in Q7.24: from its last entry (32767) on, tanhQ15 is 32767. */
const TABLE_END_Q24: u64 = <u64>TANH_SATURATED_INDEX << INDEX_SHIFT;
const FRACTION_MASK: u32 = (1 << INDEX_SHIFT) - 1;
/** Entries 0..TANH_SATURATED_INDEX. */
const TABLE_ENTRIES: i32 = TANH_SATURATED_INDEX + 1;

/** The microcontroller build's copy of the table, computed at init (fillTanhTable) rather than stored in the
 * module, which is 1.4 KB smaller so; the other builds use tanhTable(), static data. */
const COMPUTED_TABLE: usize = memory.data(TABLE_ENTRIES << 1, 2);

/**
 * Writes the table, round(tanh(i / 128) 2^15) capped at 32767, as the generator does but with tanh(i / 128) =
 * (1 - r^i) / (1 + r^i), r = exp(-2 / 128): tools/build/gen-tables.mjs (tanhTableByRecurrence) does these float64
 * operations too, and test/tanh-table-is-generated.test.ts holds them to the committed table.
 */
export function fillTanhTable(): void {
  let power: f64 = 1;
  for (let i = 0; i < TABLE_ENTRIES; i++) {
    store<i16>(COMPUTED_TABLE + (<usize>i << 1), <i16>min<f64>(32767, Math.floor(((1 - power) / (1 + power)) * 32768 + 0.5)));
    power *= TANH_STEP_RATIO;
  }
}

/** Inlined at every use, except in the microcontroller build (`--use PHASOR_MCU=1`): one shared copy there. */
@inline export function tanhQ15(xQ24: i64): i32 {
  return isDefined(PHASOR_MCU) ? tanhQ15Shared(xQ24) : tanhQ15Inline(xQ24);
}

function tanhQ15Shared(xQ24: i64): i32 {
  return tanhQ15Inline(xQ24);
}

/** Odd: tanh(|x|) from the table, its sign restored as (r ^ sign) - sign (sign 0 or -1). The inputs are sums of a
 * few Q7.24 terms, far from -2^63, so |x| never overflows. */
@inline function tanhQ15Inline(xQ24: i64): i32 {
  const sign = xQ24 >> 63;
  const sign32 = <i32>sign;
  const magnitude = <u64>((xQ24 ^ sign) - sign);
  let r: i32;
  if (magnitude >= TABLE_END_Q24) {
    r = 32767;
  } else {
    const bits = <u32>magnitude;
    // the entry's byte offset in the table: the index (bits >> 17) times 2
    const at = <usize>((bits >>> (INDEX_SHIFT - 1)) & ~1);
    let lo: i32, hi: i32;
    if (isDefined(PHASOR_MCU)) {
      lo = <i32>load<i16>(at, COMPUTED_TABLE);
      hi = <i32>load<i16>(at, COMPUTED_TABLE + 2);
    } else {
      const entry = tanhTable() + at;
      lo = <i32>load<i16>(entry);
      hi = <i32>load<i16>(entry, 2);
    }
    r = lo + (((hi - lo) * <i32>(bits & FRACTION_MASK) + (1 << (INDEX_SHIFT - 1))) >> INDEX_SHIFT);
  }
  return (r ^ sign32) - sign32;
}

@inline export function sigmoidQ15(xQ24: i64): i32 {
  return (32768 + tanhQ15(xQ24 >> 1)) >> 1;
}
