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

@inline export function saturate32(v: i64): i32 {
  return v > 0x7fffffff ? 0x7fffffff : v < -0x7fffffff ? -0x7fffffff : <i32>v;
}

/** Narrows to Q0.15 activations: [-32767, 32767], symmetric so negation never overflows. */
@inline export function saturate16(v: i64): i32 {
  return v > 32767 ? 32767 : v < -32767 ? -32767 : <i32>v;
}
