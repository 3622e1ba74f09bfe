// Integer helpers of the fixed engine: rounding shifts and saturation (never wrap-around, plstm.md section 3).

/** Bound of what shiftRound returns for s < 0, so a sum of a few of its results cannot overflow i64. */
const SHIFT_LIMIT: i64 = <i64>1 << 60;

/** v * 2^-s rounded half up (s > 0), or v * 2^-s exactly for s <= 0 but saturated at +-2^60. Inlined at every
 * use, except in the microcontroller build (`--use PHASOR_MCU=1`), where one shared copy keeps the module small. */
@inline export function shiftRound(v: i64, s: i32): i64 {
  return isDefined(PHASOR_MCU) ? shiftRoundShared(v, s) : shiftRoundInline(v, s);
}

function shiftRoundShared(v: i64, s: i32): i64 {
  return shiftRoundInline(v, s);
}

@inline function shiftRoundInline(v: i64, s: i32): i64 {
  if (s > 0) return (v + (<i64>1 << (s - 1))) >> s;
  if (s == 0) return v;
  const n = min(-s, 60);
  const limit = SHIFT_LIMIT >> n;
  if (v >= limit) return SHIFT_LIMIT;
  if (v <= -limit) return -SHIFT_LIMIT;
  return v << n;
}

/**
 * shiftRound(v, s) for s in 1..32, from sMinus1 = s - 1, without forming v + 2^(s-1): ((v >> (s - 1)) + 1) >> 1.
 * Writing v = q 2^(s-1) + r with 0 <= r < 2^(s-1), that is floor((q + 1) / 2) = floor((v + 2^(s-1)) / 2^s).
 */
@inline export function shiftRoundFast(v: i64, sMinus1: i64): i64 {
  return ((v >> sMinus1) + 1) >> 1;
}

/** K of shiftRoundWide: it takes s down to -21, an input in Q0 against int8 weights in Q3 (fixed/step.ts, toQ24). */
export const WIDE_SHIFT = 22;

/**
 * shiftRound(v, s) for s in (1 - K)..32 and |v| < 2^(61 - K), K = WIDE_SHIFT, from sK = s - 1 + K, with no branch:
 * (((v << K) >> (s - 1 + K)) + 1) >> 1. v << K is v 2^K exactly (|v 2^K| < 2^61) and s - 1 + K is in 0..53, so
 * (v << K) >> (s - 1 + K) = floor(v 2^K / 2^(s - 1 + K)) = floor(v / 2^(s-1)). For s >= 1 that is v >> (s - 1), and
 * the rest is shiftRoundFast. For s <= 0 it is v 2^(1 - s) exactly, an even number, so adding 1 and halving gives
 * v 2^-s: shiftRound's exact left shift, which saturates only from |v 2^-s| = 2^60 on, and here |v 2^-s| <=
 * |v| 2^(K-1) < 2^60. It costs 2 operators more than shiftRoundFast (the i64.shl).
 */
@inline export function shiftRoundWide(v: i64, sK: i64): i64 {
  return (((v << WIDE_SHIFT) >> sK) + 1) >> 1;
}

@inline export function saturate32(v: i64): i32 {
  return v > 0x7fffffff ? 0x7fffffff : v < -0x7fffffff ? -0x7fffffff : <i32>v;
}

/** Narrows to Q0.15 activations: [-32767, 32767], symmetric so negation never overflows. */
@inline export function saturate16(v: i64): i32 {
  return v > 32767 ? 32767 : v < -32767 ? -32767 : <i32>v;
}
