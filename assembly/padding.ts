// Rounding sizes up, as every memory plan of the modules does: rows padded to 8 elements so that the SIMD
// kernels read whole vectors (the engines' weights and state, the trainer's matrices and their 4 x 8 tiles), and
// regions aligned to 16 bytes so that v128 loads and stores stay aligned (the engines' model and stream blocks,
// the microcontroller arena, the trainer's arena). host/model/plsm.ts pads the .plsm file's rows and sections by
// the same rules in TypeScript, which cannot share this code.

/** x rounded up to a multiple of 8 elements. */
@inline export function pad8(x: i32): i32 {
  return (x + 7) & ~7;
}

/** x (bytes, of any integer type) rounded up to a multiple of 16. */
@inline export function align16<T>(x: T): T {
  return (x + <T>15) & ~(<T>15);
}

/** x (bytes) rounded up to a multiple of 32: the fixed engine's gate sums, whose halves the microcontroller build
 * finds by their alignment (fixed/sums.ts). */
@inline export function align32<T>(x: T): T {
  return (x + <T>31) & ~(<T>31);
}
