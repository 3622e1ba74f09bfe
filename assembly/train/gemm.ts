// The trainer's one matrix product, C = A B in f32, for the three products of a training step: the forward
// pre-activations of a time step (rows = the batch), the backward gradient by a step's inputs, and the weight
// gradient over all rows of the batch (A transposed, read through its strides).
//
// Every element of C is a sum over k in increasing order, started from 0, in both builds: the SIMD path holds a
// 4-row x 8-column tile in eight f32x4 accumulators (each lane one element of C), the scalar path a 2 x 4 tile in
// sixteen f32 locals. The tiling differs, the arithmetic does not, so both builds give the same floats.
//
// The product is cache-blocked: k runs in chunks of K_CHUNK, and within a chunk the column blocks are the outer
// loop, so one column block's panel of B (K_CHUNK rows of 32 bytes) stays in L1 while every row tile of A passes
// over it. Without this the weight gradient (K = every row of the batch, ~2,200) streamed megabytes of A and B
// from L2 and beyond for each tile. C carries each element's partial sum from one chunk to the next as the f32
// the accumulator held, so the order of the sum over k, and so every bit of C, is the same as unblocked.

/** k per chunk: a chunk of a B panel is 4 KiB (16 KiB of cache lines when B's rows are far apart) */
const K_CHUNK = 128;

/**
 * C[rows x cols] = A[rows x K] B[K x cols], K >= 1. Element (r, k) of A is at a + r * aRow + k * aCol (bytes);
 * B and C are row-major with row strides bRow and cRow (bytes, multiples of 16); cols is a multiple of 8.
 */
export function gemm(rows: i32, cols: i32, K: i32, a: usize, aRow: usize, aCol: usize, b: usize, bRow: usize, c: usize, cRow: usize): void {
  for (let k0 = 0; k0 < K; k0 += K_CHUNK) {
    const k1 = min(K, k0 + K_CHUNK);
    const aChunk = a + <usize>k0 * aCol;
    const bChunk = b + <usize>k0 * bRow;
    if (ASC_FEATURE_SIMD) {
      gemmSimd(rows, cols, k1 - k0, k0 > 0, aChunk, aRow, aCol, bChunk, bRow, c, cRow);
    } else {
      gemmScalar(rows, cols, k1 - k0, k0 > 0, aChunk, aRow, aCol, bChunk, bRow, c, cRow);
    }
  }
}

/** One chunk of k: C = A B when `carry` is false, C += A B (C holding the earlier chunks' sums) when true. */
@inline function gemmSimd(rows: i32, cols: i32, K: i32, carry: bool, a: usize, aRow: usize, aCol: usize, b: usize, bRow: usize, c: usize, cRow: usize): void {
  const whole = rows & ~3;
  for (let col = 0; col < cols; col += 8) {
    const bPanel = b + (<usize>col << 2);
    const cPanel = c + (<usize>col << 2);
    for (let r = 0; r < whole; r += 4) {
      const cp = cPanel + <usize>r * cRow;
      let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
      let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
      if (carry) {
        c00 = v128.load(cp);
        c01 = v128.load(cp, 16);
        c10 = v128.load(cp + cRow);
        c11 = v128.load(cp + cRow, 16);
        c20 = v128.load(cp + 2 * cRow);
        c21 = v128.load(cp + 2 * cRow, 16);
        c30 = v128.load(cp + 3 * cRow);
        c31 = v128.load(cp + 3 * cRow, 16);
      }
      let ap = a + <usize>r * aRow;
      let bp = bPanel;
      for (let k = 0; k < K; k++) {
        const b0 = v128.load(bp);
        const b1 = v128.load(bp, 16);
        let s = v128.load32_splat(ap);
        c00 = f32x4.add(c00, f32x4.mul(s, b0));
        c01 = f32x4.add(c01, f32x4.mul(s, b1));
        s = v128.load32_splat(ap + aRow);
        c10 = f32x4.add(c10, f32x4.mul(s, b0));
        c11 = f32x4.add(c11, f32x4.mul(s, b1));
        s = v128.load32_splat(ap + 2 * aRow);
        c20 = f32x4.add(c20, f32x4.mul(s, b0));
        c21 = f32x4.add(c21, f32x4.mul(s, b1));
        s = v128.load32_splat(ap + 3 * aRow);
        c30 = f32x4.add(c30, f32x4.mul(s, b0));
        c31 = f32x4.add(c31, f32x4.mul(s, b1));
        ap += aCol;
        bp += bRow;
      }
      v128.store(cp, c00);
      v128.store(cp, c01, 16);
      v128.store(cp + cRow, c10);
      v128.store(cp + cRow, c11, 16);
      v128.store(cp + 2 * cRow, c20);
      v128.store(cp + 2 * cRow, c21, 16);
      v128.store(cp + 3 * cRow, c30);
      v128.store(cp + 3 * cRow, c31, 16);
    }
    for (let r = whole; r < rows; r++) {
      const cp = cPanel + <usize>r * cRow;
      let c0 = f32x4.splat(0), c1 = f32x4.splat(0);
      if (carry) {
        c0 = v128.load(cp);
        c1 = v128.load(cp, 16);
      }
      let ap = a + <usize>r * aRow;
      let bp = bPanel;
      for (let k = 0; k < K; k++) {
        const s = v128.load32_splat(ap);
        c0 = f32x4.add(c0, f32x4.mul(s, v128.load(bp)));
        c1 = f32x4.add(c1, f32x4.mul(s, v128.load(bp, 16)));
        ap += aCol;
        bp += bRow;
      }
      v128.store(cp, c0);
      v128.store(cp, c1, 16);
    }
  }
}

@inline function gemmScalar(rows: i32, cols: i32, K: i32, carry: bool, a: usize, aRow: usize, aCol: usize, b: usize, bRow: usize, c: usize, cRow: usize): void {
  const whole = rows & ~1;
  for (let col = 0; col < cols; col += 4) {
    const bPanel = b + (<usize>col << 2);
    const cPanel = c + (<usize>col << 2);
    for (let r = 0; r < whole; r += 2) {
      const cp = cPanel + <usize>r * cRow;
      let c00: f32 = 0, c01: f32 = 0, c02: f32 = 0, c03: f32 = 0;
      let c10: f32 = 0, c11: f32 = 0, c12: f32 = 0, c13: f32 = 0;
      if (carry) {
        c00 = load<f32>(cp);
        c01 = load<f32>(cp, 4);
        c02 = load<f32>(cp, 8);
        c03 = load<f32>(cp, 12);
        c10 = load<f32>(cp + cRow);
        c11 = load<f32>(cp + cRow, 4);
        c12 = load<f32>(cp + cRow, 8);
        c13 = load<f32>(cp + cRow, 12);
      }
      let ap = a + <usize>r * aRow;
      let bp = bPanel;
      for (let k = 0; k < K; k++) {
        const b0 = load<f32>(bp), b1 = load<f32>(bp, 4), b2 = load<f32>(bp, 8), b3 = load<f32>(bp, 12);
        let s = load<f32>(ap);
        c00 += s * b0;
        c01 += s * b1;
        c02 += s * b2;
        c03 += s * b3;
        s = load<f32>(ap + aRow);
        c10 += s * b0;
        c11 += s * b1;
        c12 += s * b2;
        c13 += s * b3;
        ap += aCol;
        bp += bRow;
      }
      store<f32>(cp, c00);
      store<f32>(cp, c01, 4);
      store<f32>(cp, c02, 8);
      store<f32>(cp, c03, 12);
      store<f32>(cp + cRow, c10);
      store<f32>(cp + cRow, c11, 4);
      store<f32>(cp + cRow, c12, 8);
      store<f32>(cp + cRow, c13, 12);
    }
    for (let r = whole; r < rows; r++) {
      const cp = cPanel + <usize>r * cRow;
      let c0: f32 = 0, c1: f32 = 0, c2: f32 = 0, c3: f32 = 0;
      if (carry) {
        c0 = load<f32>(cp);
        c1 = load<f32>(cp, 4);
        c2 = load<f32>(cp, 8);
        c3 = load<f32>(cp, 12);
      }
      let ap = a + <usize>r * aRow;
      let bp = bPanel;
      for (let k = 0; k < K; k++) {
        const s = load<f32>(ap);
        c0 += s * load<f32>(bp);
        c1 += s * load<f32>(bp, 4);
        c2 += s * load<f32>(bp, 8);
        c3 += s * load<f32>(bp, 12);
        ap += aCol;
        bp += bRow;
      }
      store<f32>(cp, c0);
      store<f32>(cp, c1, 4);
      store<f32>(cp, c2, 8);
      store<f32>(cp, c3, 12);
    }
  }
}
