// Integer helpers of the fixed engine: rounding shifts and saturation (never wrap-around, plstm.md section 3).

/** v * 2^-s rounded half up (s > 0), or v * 2^-s exactly (s <= 0, kept in i64). */
@inline export function shiftRound(v: i64, s: i32): i64 {
  if (s > 0) return (v + (<i64>1 << (s - 1))) >> s;
  return v << (-s);
}

@inline export function saturate32(v: i64): i32 {
  return v > 0x7fffffff ? 0x7fffffff : v < -0x7fffffff ? -0x7fffffff : <i32>v;
}

/** Narrows to Q0.15 activations: [-32767, 32767], symmetric so negation never overflows. */
@inline export function saturate16(v: i64): i32 {
  return v > 32767 ? 32767 : v < -32767 ? -32767 : <i32>v;
}
