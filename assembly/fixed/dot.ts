// The fixed engine's only inner loops: dot products of i16 rows with an i16 vector, SIMD (i32x4.dot_i16x8_s)
// and scalar from one source, selected at compile time by ASC_FEATURE_SIMD. Both return the exact integer sum:
// the quantizer bounds every row's sum of |w| so no partial sum overflows i32 (model.ts ROW_L1_LIMIT), hence
// the two builds are bit-identical.

/** The four gate rows of one unit (i, f, g, o; each `n` elements, n a multiple of 8, 16-byte aligned) times v;
 * the four sums are written to out[0..3] (i32). */
export function dot4(rows: usize, v: usize, n: i32, out: usize): void {
  const stride = <usize>n << 1;
  if (ASC_FEATURE_SIMD) {
    dot4Simd(rows, stride, v, n, out);
  } else {
    let s0: i32 = 0, s1: i32 = 0, s2: i32 = 0, s3: i32 = 0;
    for (let i = 0; i < n; i++) {
      const x = <i32>load<i16>(v + (<usize>i << 1));
      const r = rows + (<usize>i << 1);
      s0 += <i32>load<i16>(r) * x;
      s1 += <i32>load<i16>(r + stride) * x;
      s2 += <i32>load<i16>(r + 2 * stride) * x;
      s3 += <i32>load<i16>(r + 3 * stride) * x;
    }
    store<i32>(out, s0);
    store<i32>(out, s1, 4);
    store<i32>(out, s2, 8);
    store<i32>(out, s3, 12);
  }
}

// v128 stays inside this helper, only reachable from SIMD branches (toolchain.md, AS103).
@inline function dot4Simd(rows: usize, stride: usize, v: usize, n: i32, out: usize): void {
  let a0 = i32x4.splat(0);
  let a1 = i32x4.splat(0);
  let a2 = i32x4.splat(0);
  let a3 = i32x4.splat(0);
  for (let i = 0; i < n; i += 8) {
    const off = <usize>i << 1;
    const x = v128.load(v + off);
    const r = rows + off;
    a0 = i32x4.add(a0, i32x4.dot_i16x8_s(v128.load(r), x));
    a1 = i32x4.add(a1, i32x4.dot_i16x8_s(v128.load(r + stride), x));
    a2 = i32x4.add(a2, i32x4.dot_i16x8_s(v128.load(r + 2 * stride), x));
    a3 = i32x4.add(a3, i32x4.dot_i16x8_s(v128.load(r + 3 * stride), x));
  }
  // Transpose-and-add: lane g of the result is the horizontal sum of a_g.
  const t01 = i32x4.add(v128.shuffle<i32>(a0, a1, 0, 4, 1, 5), v128.shuffle<i32>(a0, a1, 2, 6, 3, 7));
  const t23 = i32x4.add(v128.shuffle<i32>(a2, a3, 0, 4, 1, 5), v128.shuffle<i32>(a2, a3, 2, 6, 3, 7));
  v128.store(out, i32x4.add(v128.shuffle<i32>(t01, t23, 0, 1, 4, 5), v128.shuffle<i32>(t01, t23, 2, 3, 6, 7)));
}

/** One row of n elements (multiple of 8) times v. */
export function dot1(row: usize, v: usize, n: i32): i32 {
  if (ASC_FEATURE_SIMD) return dot1Simd(row, v, n);
  let s: i32 = 0;
  for (let i = 0; i < n; i++) s += <i32>load<i16>(row + (<usize>i << 1)) * <i32>load<i16>(v + (<usize>i << 1));
  return s;
}

@inline function dot1Simd(row: usize, v: usize, n: i32): i32 {
  let a = i32x4.splat(0);
  for (let i = 0; i < n; i += 8) {
    const off = <usize>i << 1;
    a = i32x4.add(a, i32x4.dot_i16x8_s(v128.load(row + off), v128.load(v + off)));
  }
  return i32x4.extract_lane(a, 0) + i32x4.extract_lane(a, 1) + i32x4.extract_lane(a, 2) + i32x4.extract_lane(a, 3);
}

/** The four gate rows of one unit times a sparse v: only the `count` columns listed at cols (i32). */
export function dot4Sparse(rows: usize, n: i32, v: usize, cols: usize, count: i32, out: usize): void {
  const stride = <usize>n << 1;
  let s0: i32 = 0, s1: i32 = 0, s2: i32 = 0, s3: i32 = 0;
  for (let k = 0; k < count; k++) {
    const c = <usize>load<i32>(cols + (<usize>k << 2)) << 1;
    const x = <i32>load<i16>(v + c);
    const r = rows + c;
    s0 += <i32>load<i16>(r) * x;
    s1 += <i32>load<i16>(r + stride) * x;
    s2 += <i32>load<i16>(r + 2 * stride) * x;
    s3 += <i32>load<i16>(r + 3 * stride) * x;
  }
  store<i32>(out, s0);
  store<i32>(out, s1, 4);
  store<i32>(out, s2, 8);
  store<i32>(out, s3, 12);
}
