// The trainer's one matrix product, C = A B in f32, for the three products of a training step: the forward
// pre-activations of a time step (rows = the batch), the backward gradient by a step's inputs, and the weight
// gradient over all rows of the batch (A transposed, read through its strides).
//
// Every element of C is a sum over k in increasing order, started from 0, in both builds: the SIMD path holds a
// 4-row x 8-column tile in eight f32x4 accumulators (each lane one element of C), the scalar path a 2 x 4 tile in
// sixteen f32 locals. The tiling differs, the arithmetic does not, so both builds give the same floats.

/**
 * C[rows x cols] = A[rows x K] B[K x cols]. Element (r, k) of A is at a + r * aRow + k * aCol (bytes);
 * B and C are row-major with row strides bRow and cRow (bytes, multiples of 16); cols is a multiple of 8.
 */
export function gemm(rows: i32, cols: i32, K: i32, a: usize, aRow: usize, aCol: usize, b: usize, bRow: usize, c: usize, cRow: usize): void {
  if (ASC_FEATURE_SIMD) {
    gemmSimd(rows, cols, K, a, aRow, aCol, b, bRow, c, cRow);
  } else {
    gemmScalar(rows, cols, K, a, aRow, aCol, b, bRow, c, cRow);
  }
}

@inline function gemmSimd(rows: i32, cols: i32, K: i32, a: usize, aRow: usize, aCol: usize, b: usize, bRow: usize, c: usize, cRow: usize): void {
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const aTile = a + <usize>r * aRow;
    const cTile = c + <usize>r * cRow;
    for (let col = 0; col < cols; col += 8) {
      let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
      let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
      let ap = aTile;
      let bp = b + (<usize>col << 2);
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
      const cp = cTile + (<usize>col << 2);
      v128.store(cp, c00);
      v128.store(cp, c01, 16);
      v128.store(cp + cRow, c10);
      v128.store(cp + cRow, c11, 16);
      v128.store(cp + 2 * cRow, c20);
      v128.store(cp + 2 * cRow, c21, 16);
      v128.store(cp + 3 * cRow, c30);
      v128.store(cp + 3 * cRow, c31, 16);
    }
  }
  for (; r < rows; r++) {
    const aRowStart = a + <usize>r * aRow;
    const cp0 = c + <usize>r * cRow;
    for (let col = 0; col < cols; col += 8) {
      let c0 = f32x4.splat(0), c1 = f32x4.splat(0);
      let ap = aRowStart;
      let bp = b + (<usize>col << 2);
      for (let k = 0; k < K; k++) {
        const s = v128.load32_splat(ap);
        c0 = f32x4.add(c0, f32x4.mul(s, v128.load(bp)));
        c1 = f32x4.add(c1, f32x4.mul(s, v128.load(bp, 16)));
        ap += aCol;
        bp += bRow;
      }
      const cp = cp0 + (<usize>col << 2);
      v128.store(cp, c0);
      v128.store(cp, c1, 16);
    }
  }
}

function gemmScalar(rows: i32, cols: i32, K: i32, a: usize, aRow: usize, aCol: usize, b: usize, bRow: usize, c: usize, cRow: usize): void {
  let r = 0;
  for (; r + 2 <= rows; r += 2) {
    const aTile = a + <usize>r * aRow;
    const cTile = c + <usize>r * cRow;
    for (let col = 0; col < cols; col += 4) {
      let c00: f32 = 0, c01: f32 = 0, c02: f32 = 0, c03: f32 = 0;
      let c10: f32 = 0, c11: f32 = 0, c12: f32 = 0, c13: f32 = 0;
      let ap = aTile;
      let bp = b + (<usize>col << 2);
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
      const cp = cTile + (<usize>col << 2);
      store<f32>(cp, c00);
      store<f32>(cp, c01, 4);
      store<f32>(cp, c02, 8);
      store<f32>(cp, c03, 12);
      store<f32>(cp + cRow, c10);
      store<f32>(cp + cRow, c11, 4);
      store<f32>(cp + cRow, c12, 8);
      store<f32>(cp + cRow, c13, 12);
    }
  }
  for (; r < rows; r++) {
    const aRowStart = a + <usize>r * aRow;
    const cp0 = c + <usize>r * cRow;
    for (let col = 0; col < cols; col += 4) {
      let c0: f32 = 0, c1: f32 = 0, c2: f32 = 0, c3: f32 = 0;
      let ap = aRowStart;
      let bp = b + (<usize>col << 2);
      for (let k = 0; k < K; k++) {
        const s = load<f32>(ap);
        c0 += s * load<f32>(bp);
        c1 += s * load<f32>(bp, 4);
        c2 += s * load<f32>(bp, 8);
        c3 += s * load<f32>(bp, 12);
        ap += aCol;
        bp += bRow;
      }
      const cp = cp0 + (<usize>col << 2);
      store<f32>(cp, c0);
      store<f32>(cp, c1, 4);
      store<f32>(cp, c2, 8);
      store<f32>(cp, c3, 12);
    }
  }
}
