// f32 dot products of the float engine, SIMD (f32x4) and scalar from one source. The scalar path keeps four
// partial sums in the same lanes and adds them in the same order as the SIMD path, so both builds give the
// same floats.

/** The four gate rows of one unit (n elements each, n a multiple of 8) times v; sums to out[0..3] (f32). */
export function dot4f(rows: usize, v: usize, n: i32, out: usize): void {
  const stride = <usize>n << 2;
  if (ASC_FEATURE_SIMD) {
    dot4fSimd(rows, stride, v, n, out);
  } else {
    for (let g = 0; g < 4; g++) store<f32>(out + (<usize>g << 2), dot1f(rows + <usize>g * stride, v, n));
  }
}

@inline function dot4fSimd(rows: usize, stride: usize, v: usize, n: i32, out: usize): void {
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  let a2 = f32x4.splat(0);
  let a3 = f32x4.splat(0);
  for (let i = 0; i < n; i += 4) {
    const off = <usize>i << 2;
    const x = v128.load(v + off);
    const r = rows + off;
    a0 = f32x4.add(a0, f32x4.mul(v128.load(r), x));
    a1 = f32x4.add(a1, f32x4.mul(v128.load(r + stride), x));
    a2 = f32x4.add(a2, f32x4.mul(v128.load(r + 2 * stride), x));
    a3 = f32x4.add(a3, f32x4.mul(v128.load(r + 3 * stride), x));
  }
  store<f32>(out, lanesSum(a0));
  store<f32>(out, lanesSum(a1), 4);
  store<f32>(out, lanesSum(a2), 8);
  store<f32>(out, lanesSum(a3), 12);
}

@inline function lanesSum(a: v128): f32 {
  return (f32x4.extract_lane(a, 0) + f32x4.extract_lane(a, 1)) + (f32x4.extract_lane(a, 2) + f32x4.extract_lane(a, 3));
}

/** One row of n elements (multiple of 4) times v, as four lane sums added pairwise. */
export function dot1f(row: usize, v: usize, n: i32): f32 {
  if (ASC_FEATURE_SIMD) return dot1fSimd(row, v, n);
  let s0: f32 = 0, s1: f32 = 0, s2: f32 = 0, s3: f32 = 0;
  for (let i = 0; i < n; i += 4) {
    const r = row + (<usize>i << 2);
    const x = v + (<usize>i << 2);
    s0 += load<f32>(r) * load<f32>(x);
    s1 += load<f32>(r, 4) * load<f32>(x, 4);
    s2 += load<f32>(r, 8) * load<f32>(x, 8);
    s3 += load<f32>(r, 12) * load<f32>(x, 12);
  }
  return (s0 + s1) + (s2 + s3);
}

@inline function dot1fSimd(row: usize, v: usize, n: i32): f32 {
  let a = f32x4.splat(0);
  for (let i = 0; i < n; i += 4) {
    const off = <usize>i << 2;
    a = f32x4.add(a, f32x4.mul(v128.load(row + off), v128.load(v + off)));
  }
  return lanesSum(a);
}

/** The four gate rows of one unit times a sparse v: only the `count` columns listed at cols (i32). */
export function dot4fSparse(rows: usize, n: i32, v: usize, cols: usize, count: i32, out: usize): void {
  const stride = <usize>n << 2;
  let s0: f32 = 0, s1: f32 = 0, s2: f32 = 0, s3: f32 = 0;
  for (let k = 0; k < count; k++) {
    const c = <usize>load<i32>(cols + (<usize>k << 2)) << 2;
    const x = load<f32>(v + c);
    const r = rows + c;
    s0 += load<f32>(r) * x;
    s1 += load<f32>(r + stride) * x;
    s2 += load<f32>(r + 2 * stride) * x;
    s3 += load<f32>(r + 3 * stride) * x;
  }
  store<f32>(out, s0);
  store<f32>(out, s1, 4);
  store<f32>(out, s2, 8);
  store<f32>(out, s3, 12);
}
