// The fixed engine's multiply-accumulates, plstm.md section 1's "W x" and "U h" inside every gate: for each open
// unit, its four gate rows (i, f, g, o) of W times the layer input and of U times the previous h, as exact i32
// sums. The quantizer bounds every row's sum of |w| (model.ts, ROW_L1_LIMIT) so no partial sum overflows, in any
// order: the SIMD and scalar builds, and the chunks below, give the same integers.
//
// The vector stays in locals while the rows of every open unit pass over it, so that a multiply-accumulate is a
// weight's load and its address, the vector's local, a multiply and an add: 5 wasm operators in the scalar build,
// which is what an interpreter on a device executes for it (README.md, "Operators per event"). Scalar: chunks of
// 32 columns, then of 8; SIMD (i32x4.dot_i16x8_s): chunks of up to 16 vectors of 8 columns. Both read the zero
// padding of rows and vector up to a multiple of 8, and nothing past it.
//
// Every function is generic in T, the weight element: i16, or i8 in a layer with int8 weights (LAYER_INT8, the
// "16x8" scheme: int8 weights against the same int16 inputs and h, the same exact i32 sums). The int8 instances read
// a row's weights at half the stride and, in the SIMD build, widen 8 of them to i16x8 as they load (load8x8_s); the
// products and sums are the int16 engine's.

import { FULL_BUILD, Layer, RUNS_INT16, RUNS_INT8 } from "../model";

/** Bytes of one open unit's sums: W x of gate g (i, f, g, o) at 4 g, U h of gate g at U_SUMS + 4 g, i32 each. */
export const SUMS_BYTES: i32 = 32;
export const U_SUMS: i32 = 16;

/**
 * W x and U h of the `open` units listed at `active` into sums (SUMS_BYTES each, in the order of the list): x is the
 * layer input (i16, padded with zeros); with `nnz` >= 0 only the columns listed at `cols` are nonzero and only
 * they are read.
 */
export function gateSums(L: Layer, st: usize, x: usize, cols: usize, nnz: i32, open: i32, sums: usize): void {
  if (open == 0) return;
  if (RUNS_INT8 && (!RUNS_INT16 || L.int8)) gateSumsOf<i8>(L, st, x, cols, nnz, open, sums);
  else gateSumsOf<i16>(L, st, x, cols, nnz, open, sums);
}

@inline function gateSumsOf<T>(L: Layer, st: usize, x: usize, cols: usize, nnz: i32, open: i32, sums: usize): void {
  const active = st + <usize>L.activeOff;
  // W x first: these store their sums and clear the U h ones, which rowSums adds to
  if (FULL_BUILD && nnz >= 0) sparseSums<T>(L.W, <usize>L.inputPad * sizeof<T>(), x, cols, nnz, active, open, sums);
  else if (L.inputSize == 1) oneColumnSums<T>(L.W, x, active, open, sums);
  else if (!ASC_FEATURE_SIMD && !isDefined(PHASOR_MCU) && L.inputPad == 8) narrowSums<T>(L.W, x, L.inputSize, active, open, sums);
  else {
    for (let out = sums, end = sums + <usize>open * SUMS_BYTES; out < end; out += 8) store<i64>(out, 0);
    rowSums<T>(L.W, <usize>L.inputPad * sizeof<T>(), x, L.inputSize, active, open, sums);
  }
  rowSums<T>(L.U, <usize>L.hiddenPad * sizeof<T>(), st + <usize>L.hOff, L.hiddenSize, active, open, sums + U_SUMS);
}

/**
 * Each open unit's 4 rows of `matrix` (unit-major: unit j's rows i, f, g, o from 4 j rowBytes, each rowBytes long)
 * times v[0..n), added to sums + SUMS_BYTES a + 4 g.
 */
function rowSums<T>(matrix: usize, rowBytes: usize, v: usize, n: i32, active: usize, open: i32, sums: usize): void {
  if (ASC_FEATURE_SIMD) {
    const padded = <i32>(rowBytes / sizeof<T>());
    for (let from = 0; from < padded; from += 128) {
      const vectors = min(16, (padded - from) >> 3);
      chunkSimd<T>(matrix, rowBytes, v, from, vectors, active, open, sums);
    }
  } else {
    let from = 0;
    for (; from + 32 <= n; from += 32) chunk32<T>(matrix, rowBytes, v, from, active, open, sums);
    // the last columns 8 at a time, up to the row's padding (zero weights): never past the row's end
    for (; from < n; from += 8) chunk8<T>(matrix, rowBytes, v, from, active, open, sums);
  }
}

/** One row's 32 columns from `row` times v0..v31: one expression, 5 operators a term. Written out rather than as
 * four row8: a load's offset must be a constant (AS220), and an address added at run time costs operators. */
@inline function row32<T>(row: usize, v0: i32, v1: i32, v2: i32, v3: i32, v4: i32, v5: i32, v6: i32, v7: i32, v8: i32, v9: i32, v10: i32, v11: i32, v12: i32, v13: i32, v14: i32, v15: i32, v16: i32, v17: i32, v18: i32, v19: i32, v20: i32, v21: i32, v22: i32, v23: i32, v24: i32, v25: i32, v26: i32, v27: i32, v28: i32, v29: i32, v30: i32, v31: i32): i32 {
  return (
    <i32>load<T>(row, 0 * sizeof<T>()) * v0 +
    <i32>load<T>(row, 1 * sizeof<T>()) * v1 +
    <i32>load<T>(row, 2 * sizeof<T>()) * v2 +
    <i32>load<T>(row, 3 * sizeof<T>()) * v3 +
    <i32>load<T>(row, 4 * sizeof<T>()) * v4 +
    <i32>load<T>(row, 5 * sizeof<T>()) * v5 +
    <i32>load<T>(row, 6 * sizeof<T>()) * v6 +
    <i32>load<T>(row, 7 * sizeof<T>()) * v7 +
    <i32>load<T>(row, 8 * sizeof<T>()) * v8 +
    <i32>load<T>(row, 9 * sizeof<T>()) * v9 +
    <i32>load<T>(row, 10 * sizeof<T>()) * v10 +
    <i32>load<T>(row, 11 * sizeof<T>()) * v11 +
    <i32>load<T>(row, 12 * sizeof<T>()) * v12 +
    <i32>load<T>(row, 13 * sizeof<T>()) * v13 +
    <i32>load<T>(row, 14 * sizeof<T>()) * v14 +
    <i32>load<T>(row, 15 * sizeof<T>()) * v15 +
    <i32>load<T>(row, 16 * sizeof<T>()) * v16 +
    <i32>load<T>(row, 17 * sizeof<T>()) * v17 +
    <i32>load<T>(row, 18 * sizeof<T>()) * v18 +
    <i32>load<T>(row, 19 * sizeof<T>()) * v19 +
    <i32>load<T>(row, 20 * sizeof<T>()) * v20 +
    <i32>load<T>(row, 21 * sizeof<T>()) * v21 +
    <i32>load<T>(row, 22 * sizeof<T>()) * v22 +
    <i32>load<T>(row, 23 * sizeof<T>()) * v23 +
    <i32>load<T>(row, 24 * sizeof<T>()) * v24 +
    <i32>load<T>(row, 25 * sizeof<T>()) * v25 +
    <i32>load<T>(row, 26 * sizeof<T>()) * v26 +
    <i32>load<T>(row, 27 * sizeof<T>()) * v27 +
    <i32>load<T>(row, 28 * sizeof<T>()) * v28 +
    <i32>load<T>(row, 29 * sizeof<T>()) * v29 +
    <i32>load<T>(row, 30 * sizeof<T>()) * v30 +
    <i32>load<T>(row, 31 * sizeof<T>()) * v31
  );
}

/**
 * rowSums for the `columns` (32 or 8) columns of v from `from`, v in locals: the four rows of a unit one after the
 * other (in a loop in the microcontroller build, where the module's size counts). Inlined into chunk32 and chunk8,
 * where `columns` is a constant.
 */
@inline function chunk<T>(columns: i32, matrix: usize, rowBytes: usize, v: usize, from: i32, active: usize, open: i32, sums: usize): void {
  const vp = v + (<usize>from << 1);
  const v0 = <i32>load<i16>(vp, 0);
  const v1 = <i32>load<i16>(vp, 2);
  const v2 = <i32>load<i16>(vp, 4);
  const v3 = <i32>load<i16>(vp, 6);
  const v4 = <i32>load<i16>(vp, 8);
  const v5 = <i32>load<i16>(vp, 10);
  const v6 = <i32>load<i16>(vp, 12);
  const v7 = <i32>load<i16>(vp, 14);
  const v8 = columns == 32 ? <i32>load<i16>(vp, 16) : 0;
  const v9 = columns == 32 ? <i32>load<i16>(vp, 18) : 0;
  const v10 = columns == 32 ? <i32>load<i16>(vp, 20) : 0;
  const v11 = columns == 32 ? <i32>load<i16>(vp, 22) : 0;
  const v12 = columns == 32 ? <i32>load<i16>(vp, 24) : 0;
  const v13 = columns == 32 ? <i32>load<i16>(vp, 26) : 0;
  const v14 = columns == 32 ? <i32>load<i16>(vp, 28) : 0;
  const v15 = columns == 32 ? <i32>load<i16>(vp, 30) : 0;
  const v16 = columns == 32 ? <i32>load<i16>(vp, 32) : 0;
  const v17 = columns == 32 ? <i32>load<i16>(vp, 34) : 0;
  const v18 = columns == 32 ? <i32>load<i16>(vp, 36) : 0;
  const v19 = columns == 32 ? <i32>load<i16>(vp, 38) : 0;
  const v20 = columns == 32 ? <i32>load<i16>(vp, 40) : 0;
  const v21 = columns == 32 ? <i32>load<i16>(vp, 42) : 0;
  const v22 = columns == 32 ? <i32>load<i16>(vp, 44) : 0;
  const v23 = columns == 32 ? <i32>load<i16>(vp, 46) : 0;
  const v24 = columns == 32 ? <i32>load<i16>(vp, 48) : 0;
  const v25 = columns == 32 ? <i32>load<i16>(vp, 50) : 0;
  const v26 = columns == 32 ? <i32>load<i16>(vp, 52) : 0;
  const v27 = columns == 32 ? <i32>load<i16>(vp, 54) : 0;
  const v28 = columns == 32 ? <i32>load<i16>(vp, 56) : 0;
  const v29 = columns == 32 ? <i32>load<i16>(vp, 58) : 0;
  const v30 = columns == 32 ? <i32>load<i16>(vp, 60) : 0;
  const v31 = columns == 32 ? <i32>load<i16>(vp, 62) : 0;
  const unitBytes = rowBytes << 2;
  const start = <usize>from * sizeof<T>();
  let out = sums;
  const end = sums + <usize>open * SUMS_BYTES;
  do {
    let row = matrix + <usize>load<i32>(active) * unitBytes + start;
    if (isDefined(PHASOR_MCU)) {
      // a unit's four sums are the 16-aligned bytes from out (the scratch and SUMS_BYTES keep them so): the loop
      // ends when out reaches the next multiple of 16
      do {
        store<i32>(out, load<i32>(out) + rowSum<T>(columns, row, v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12, v13, v14, v15, v16, v17, v18, v19, v20, v21, v22, v23, v24, v25, v26, v27, v28, v29, v30, v31));
        row += rowBytes;
        out += 4;
      } while (out & 15);
      out += SUMS_BYTES - 16;
    } else {
      store<i32>(out, load<i32>(out) + rowSum<T>(columns, row, v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12, v13, v14, v15, v16, v17, v18, v19, v20, v21, v22, v23, v24, v25, v26, v27, v28, v29, v30, v31));
      row += rowBytes;
      store<i32>(out, load<i32>(out, 4) + rowSum<T>(columns, row, v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12, v13, v14, v15, v16, v17, v18, v19, v20, v21, v22, v23, v24, v25, v26, v27, v28, v29, v30, v31), 4);
      row += rowBytes;
      store<i32>(out, load<i32>(out, 8) + rowSum<T>(columns, row, v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12, v13, v14, v15, v16, v17, v18, v19, v20, v21, v22, v23, v24, v25, v26, v27, v28, v29, v30, v31), 8);
      row += rowBytes;
      store<i32>(out, load<i32>(out, 12) + rowSum<T>(columns, row, v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12, v13, v14, v15, v16, v17, v18, v19, v20, v21, v22, v23, v24, v25, v26, v27, v28, v29, v30, v31), 12);
      out += SUMS_BYTES;
    }
    active += 4;
  } while (out < end);
}

function chunk32<T>(matrix: usize, rowBytes: usize, v: usize, from: i32, active: usize, open: i32, sums: usize): void {
  chunk<T>(32, matrix, rowBytes, v, from, active, open, sums);
}

function chunk8<T>(matrix: usize, rowBytes: usize, v: usize, from: i32, active: usize, open: i32, sums: usize): void {
  chunk<T>(8, matrix, rowBytes, v, from, active, open, sums);
}

/** One row's first `columns` (32 or 8) columns from `row` times v0..v31. */
@inline function rowSum<T>(columns: i32, row: usize, v0: i32, v1: i32, v2: i32, v3: i32, v4: i32, v5: i32, v6: i32, v7: i32, v8: i32, v9: i32, v10: i32, v11: i32, v12: i32, v13: i32, v14: i32, v15: i32, v16: i32, v17: i32, v18: i32, v19: i32, v20: i32, v21: i32, v22: i32, v23: i32, v24: i32, v25: i32, v26: i32, v27: i32, v28: i32, v29: i32, v30: i32, v31: i32): i32 {
  return columns == 32 ? row32<T>(row, v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12, v13, v14, v15, v16, v17, v18, v19, v20, v21, v22, v23, v24, v25, v26, v27, v28, v29, v30, v31) : row8<T>(row, v0, v1, v2, v3, v4, v5, v6, v7);
}

/** 8 columns of a row from `row` times v0..v7. */
@inline function row8<T>(row: usize, v0: i32, v1: i32, v2: i32, v3: i32, v4: i32, v5: i32, v6: i32, v7: i32): i32 {
  return (
    <i32>load<T>(row) * v0 +
    <i32>load<T>(row, 1 * sizeof<T>()) * v1 +
    <i32>load<T>(row, 2 * sizeof<T>()) * v2 +
    <i32>load<T>(row, 3 * sizeof<T>()) * v3 +
    <i32>load<T>(row, 4 * sizeof<T>()) * v4 +
    <i32>load<T>(row, 5 * sizeof<T>()) * v5 +
    <i32>load<T>(row, 6 * sizeof<T>()) * v6 +
    <i32>load<T>(row, 7 * sizeof<T>()) * v7
  );
}

/** rowSums for a single column (one input, rows padded to 8 elements), the sums' first terms. */
function oneColumnSums<T>(matrix: usize, v: usize, active: usize, open: i32, sums: usize): void {
  const v0 = <i32>load<i16>(v);
  let out = sums;
  const end = sums + <usize>open * SUMS_BYTES;
  do {
    const row = matrix + <usize>load<i32>(active) * (32 * sizeof<T>());
    store<i32>(out, <i32>load<T>(row) * v0);
    store<i32>(out, <i32>load<T>(row, 8 * sizeof<T>()) * v0, 4);
    store<i32>(out, <i32>load<T>(row, 16 * sizeof<T>()) * v0, 8);
    store<i32>(out, <i32>load<T>(row, 24 * sizeof<T>()) * v0, 12);
    store<i64>(out, 0, U_SUMS);
    store<i64>(out, 0, U_SUMS + 8);
    out += SUMS_BYTES;
    active += 4;
  } while (out < end);
}

/**
 * rowSums for an input of at most 8 columns (rows padded to 8 elements), the sums' first terms: column by column,
 * the unit's four rows at fixed offsets.
 */
function narrowSums<T>(matrix: usize, v: usize, n: i32, active: usize, open: i32, sums: usize): void {
  let out = sums;
  const end = sums + <usize>open * SUMS_BYTES;
  do {
    let row = matrix + <usize>load<i32>(active) * (32 * sizeof<T>());
    const rowEnd = row + <usize>n * sizeof<T>();
    let at = v;
    let s0: i32 = 0, s1: i32 = 0, s2: i32 = 0, s3: i32 = 0;
    do {
      const x = <i32>load<i16>(at);
      s0 += <i32>load<T>(row) * x;
      s1 += <i32>load<T>(row, 8 * sizeof<T>()) * x;
      s2 += <i32>load<T>(row, 16 * sizeof<T>()) * x;
      s3 += <i32>load<T>(row, 24 * sizeof<T>()) * x;
      row += sizeof<T>();
      at += 2;
    } while (row < rowEnd);
    store<i32>(out, s0);
    store<i32>(out, s1, 4);
    store<i32>(out, s2, 8);
    store<i32>(out, s3, 12);
    store<i64>(out, 0, U_SUMS);
    store<i64>(out, 0, U_SUMS + 8);
    out += SUMS_BYTES;
    active += 4;
  } while (out < end);
}

/** rowSums for a sparse v: only the `count` columns listed at cols (i32) are read. */
function sparseSums<T>(matrix: usize, rowBytes: usize, v: usize, cols: usize, count: i32, active: usize, open: i32, sums: usize): void {
  const unitBytes = rowBytes << 2;
  for (let a = 0; a < open; a++) {
    const rows = matrix + <usize>load<i32>(active + (<usize>a << 2)) * unitBytes;
    let s0: i32 = 0, s1: i32 = 0, s2: i32 = 0, s3: i32 = 0;
    for (let k = 0; k < count; k++) {
      const c = <usize>load<i32>(cols + (<usize>k << 2));
      const x = <i32>load<i16>(v + (c << 1));
      const r = rows + c * sizeof<T>();
      s0 += <i32>load<T>(r) * x;
      s1 += <i32>load<T>(r + rowBytes) * x;
      s2 += <i32>load<T>(r + 2 * rowBytes) * x;
      s3 += <i32>load<T>(r + 3 * rowBytes) * x;
    }
    const out = sums + <usize>a * SUMS_BYTES;
    store<i32>(out, s0);
    store<i32>(out, s1, 4);
    store<i32>(out, s2, 8);
    store<i32>(out, s3, 12);
    store<i64>(out, 0, U_SUMS);
    store<i64>(out, 0, U_SUMS + 8);
  }
}

// v128 stays inside the helpers below, only reachable from SIMD branches (toolchain.md, AS103).

/** Four rows' i32x4 partial sums (a lane each of their dot products) added across lanes: lane g is row g's sum. */
@inline function laneSums(a0: v128, a1: v128, a2: v128, a3: v128): v128 {
  const t01 = i32x4.add(v128.shuffle<i32>(a0, a1, 0, 4, 1, 5), v128.shuffle<i32>(a0, a1, 2, 6, 3, 7));
  const t23 = i32x4.add(v128.shuffle<i32>(a2, a3, 0, 4, 1, 5), v128.shuffle<i32>(a2, a3, 2, 6, 3, 7));
  return i32x4.add(v128.shuffle<i32>(t01, t23, 0, 1, 4, 5), v128.shuffle<i32>(t01, t23, 2, 3, 6, 7));
}

/** One row's first `vectors` (1 to 16) vectors of 8 columns times v0..v15, as i32x4 partial sums: the sum starts at
 * the last vector and falls through to the first. int8 weights are widened to i16x8 as they load. */
@inline function rowSimd<T>(row: usize, vectors: i32, v0: v128, v1: v128, v2: v128, v3: v128, v4: v128, v5: v128, v6: v128, v7: v128, v8: v128, v9: v128, v10: v128, v11: v128, v12: v128, v13: v128, v14: v128, v15: v128): v128 {
  let s = i32x4.splat(0);
  switch (vectors) {
    case 16:
      s = i32x4.add(s, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(row, 120) : v128.load(row, 240), v15));
    case 15:
      s = i32x4.add(s, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(row, 112) : v128.load(row, 224), v14));
    case 14:
      s = i32x4.add(s, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(row, 104) : v128.load(row, 208), v13));
    case 13:
      s = i32x4.add(s, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(row, 96) : v128.load(row, 192), v12));
    case 12:
      s = i32x4.add(s, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(row, 88) : v128.load(row, 176), v11));
    case 11:
      s = i32x4.add(s, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(row, 80) : v128.load(row, 160), v10));
    case 10:
      s = i32x4.add(s, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(row, 72) : v128.load(row, 144), v9));
    case 9:
      s = i32x4.add(s, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(row, 64) : v128.load(row, 128), v8));
    case 8:
      s = i32x4.add(s, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(row, 56) : v128.load(row, 112), v7));
    case 7:
      s = i32x4.add(s, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(row, 48) : v128.load(row, 96), v6));
    case 6:
      s = i32x4.add(s, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(row, 40) : v128.load(row, 80), v5));
    case 5:
      s = i32x4.add(s, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(row, 32) : v128.load(row, 64), v4));
    case 4:
      s = i32x4.add(s, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(row, 24) : v128.load(row, 48), v3));
    case 3:
      s = i32x4.add(s, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(row, 16) : v128.load(row, 32), v2));
    case 2:
      s = i32x4.add(s, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(row, 8) : v128.load(row, 16), v1));
    case 1:
      s = i32x4.add(s, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(row, 0) : v128.load(row, 0), v0));
  }
  return s;
}

/** rowSums for `vectors` (1 to 16) vectors of 8 columns of v from `from`: v in locals, the four rows of a unit at
 * once. */
@inline function chunkSimd<T>(matrix: usize, rowBytes: usize, v: usize, from: i32, vectors: i32, active: usize, open: i32, sums: usize): void {
  const vp = v + (<usize>from << 1);
  let v0 = i32x4.splat(0);
  let v1 = i32x4.splat(0);
  let v2 = i32x4.splat(0);
  let v3 = i32x4.splat(0);
  let v4 = i32x4.splat(0);
  let v5 = i32x4.splat(0);
  let v6 = i32x4.splat(0);
  let v7 = i32x4.splat(0);
  let v8 = i32x4.splat(0);
  let v9 = i32x4.splat(0);
  let v10 = i32x4.splat(0);
  let v11 = i32x4.splat(0);
  let v12 = i32x4.splat(0);
  let v13 = i32x4.splat(0);
  let v14 = i32x4.splat(0);
  let v15 = i32x4.splat(0);
  switch (vectors) {
    case 16:
      v15 = v128.load(vp, 240);
    case 15:
      v14 = v128.load(vp, 224);
    case 14:
      v13 = v128.load(vp, 208);
    case 13:
      v12 = v128.load(vp, 192);
    case 12:
      v11 = v128.load(vp, 176);
    case 11:
      v10 = v128.load(vp, 160);
    case 10:
      v9 = v128.load(vp, 144);
    case 9:
      v8 = v128.load(vp, 128);
    case 8:
      v7 = v128.load(vp, 112);
    case 7:
      v6 = v128.load(vp, 96);
    case 6:
      v5 = v128.load(vp, 80);
    case 5:
      v4 = v128.load(vp, 64);
    case 4:
      v3 = v128.load(vp, 48);
    case 3:
      v2 = v128.load(vp, 32);
    case 2:
      v1 = v128.load(vp, 16);
    case 1:
      v0 = v128.load(vp, 0);
  }
  const unitBytes = rowBytes << 2;
  const start = <usize>from * sizeof<T>();
  let out = sums;
  const end = sums + <usize>open * SUMS_BYTES;
  do {
    const row = matrix + <usize>load<i32>(active) * unitBytes + start;
    const s = laneSums(
      rowSimd<T>(row, vectors, v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12, v13, v14, v15),
      rowSimd<T>(row + rowBytes, vectors, v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12, v13, v14, v15),
      rowSimd<T>(row + 2 * rowBytes, vectors, v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12, v13, v14, v15),
      rowSimd<T>(row + 3 * rowBytes, vectors, v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12, v13, v14, v15),
    );
    v128.store(out, i32x4.add(v128.load(out), s));
    out += SUMS_BYTES;
    active += 4;
  } while (out < end);
}

/** One row of n elements (a multiple of 8) times v: the readout's y = V h. */
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
