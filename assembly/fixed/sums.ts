// The fixed engine's multiply-accumulates, plstm.md section 1's "W x" and "U h" inside every gate: for each open
// unit, its four gate rows (i, f, g, o) of W times the layer input and of U times the previous h, as exact integer
// sums in i64, the same in every build and summation order. A W row's sum of |w_q| is bounded (contract/plsm.ts,
// ROW_L1_LIMIT) so that its W x is an exact i32 in any order; a U row only lane-chunk by lane-chunk
// (LANE_CHUNK_COLUMNS), so that the SIMD build's i32 lane sums are exact and U h is exact once they are added in
// i64. The quantizer gives U rows the finer formats this allows (docs/fixed-point.md, "U h in 64 bits").
//
// Without SIMD the vector stays in locals while the rows of every open unit pass over it, so that a multiply-
// accumulate is a weight's load and its address, the vector's local, a multiply and an add: 5 wasm operators (i64
// ones: an i64.load16_s or i64.load8_s widens the weight as it loads), which is what an interpreter on a device
// executes for it (docs/RESULTS.md, "Operators per event: how the builds sum"). Scalar: chunks of 32 columns, then
// of 8 (the two-page microcontroller inference builds: rows 16, then 8, at a time, below). SIMD (i32x4.dot_i16x8_s): chunks of up to
// 16 vectors of 8 columns, a unit's four rows side by side, each vector loaded once for the four; each lane's i32
// partial sum widened to i64 before lanes and chunks are added; a one-input layer of at most 128 units (the
// paper's model) sums W x and U h in one pass, adding the lanes in i32 where each U row is within ROW_L1_LIMIT.
// Both read the zero padding of rows and vector up to a multiple of 8, and nothing past it.
//
// The scalar library builds do U h, and W x where the input is wider than 8, two
// rows per multiply, the same 5 operators for two MACs: the matrix is copied once per model into row pairs
// (packRows), each column of a pair one i64 w_a + w_b 2^32, so that one i64 multiply by v_c adds w_a v_c to the low
// half and w_b v_c to the high half. Each half must be an exact i32 until the pair is split (A + B 2^32 is then
// within i64, and A its low 32 bits read as signed): W, and U where every row of the layer is within ROW_L1_LIMIT
// (Layer.uWithinRowLimit, decided at load), are split once, after the whole row (unpackPairs); other U is copied in
// lane order and split after each piece of a lane-chunk (lanePairSums). The copies cost twice the matrices' bytes.
// The microcontroller inference builds pair U where every row of the layer is within ROW_L1_LIMIT and init finds
// room for the copy in the arena (mcu.ts): only its 32-column chunks, each pair sum split and added to the row sums
// at once (unitRows), so that the last columns, 8 at a time from U itself, add to the same sums. Their 8 KB budget
// holds one written-out kernel of each width: 32 columns for the pairs, 16 and then 8 for rows (W x, and U where it
// is not paired; a second 32-column kernel, for rows, measured 658 bytes more than the budget leaves). The learning
// and one-page builds (MCU_PAIRED) sum rows as the library does, 32 columns then 8.
//
// A layer's weights are i16, or i8 where it has int8 weights (LAYER_INT8, the "16x8" scheme: int8 weights against
// the same int16 inputs and h, the same exact sums): the functions below are generic in the element (W, or T
// where the rows are read directly), the int8 instances read a row at half the stride and, in the SIMD build, widen
// 8 weights to i16x8 as they load (load8x8_s); the products and sums are the int16 engine's. The row pairs are
// packed from either.

import { LANE_CHUNK_COLUMNS } from "../contract/plsm";
import { FULL_BUILD, Layer, PAGE, RUNS_INT16, RUNS_INT8 } from "../model";

/** Bytes of one open unit's sums: W x of gate g (i, f, g, o) at 8 g, U h of gate g at U_SUMS + 8 g, i64 each. */
export const SUMS_BYTES: i32 = 64;
export const U_SUMS: i32 = 32;

/** Whether W x and U h may be summed from row pairs (packRows), copied on the heap: in every build without SIMD but
 * the microcontroller ones, whose arena holds their copies where it has room (MCU_PAIRED). */
export const PAIRED: bool = !ASC_FEATURE_SIMD && !isDefined(PHASOR_MCU);

/** Whether the microcontroller build sums U h's 32-column chunks from row pairs where init finds room for them in
 * the arena (mcu.ts, Layer.uPairs): the two-page inference modules. The learning one (mcu-learn.ts) keeps the rows'
 * 32-column chunks, which its budget holds beside its learning and the pairs' would not; so does the one-page build,
 * whose arena is there for models whose pairs would not fit it (the paper's). */
export const MCU_PAIRED: bool = isDefined(PHASOR_MCU) && !isDefined(PHASOR_LEARN) && !isDefined(PHASOR_MCU_PAGE);

/** Whether load decides Layer.uWithinRowLimit: for the builds that pair rows, and for the SIMD build, whose
 * one-input sums (oneColumnSimd) add a row's lanes in i32 where the whole row is within ROW_L1_LIMIT. */
export const ROW_LIMIT_TRACKED: bool = PAIRED || MCU_PAIRED || ASC_FEATURE_SIMD;

/** Gate g's W x, Q(wFrac + xFrac), from a unit's sums. */
@inline export function wSum(unitSums: usize, g: i32): i64 {
  return load<i64>(unitSums + (<usize>g << 3));
}

/** Gate g's U h, Q(uFrac + 15), from a unit's sums. */
@inline export function uSum(unitSums: usize, g: i32): i64 {
  return load<i64>(unitSums + U_SUMS + (<usize>g << 3));
}

/** Whether a layer's W is summed from row pairs: where the input is wider than 8 (narrowSums does the rest). */
@inline export function pairsW(L: Layer): bool {
  return PAIRED && L.inputPad > 8;
}

/** Whether a layer's U row pairs are split once, after the whole row: where each of its rows' sums is an exact i32
 * (else lanePairSums). */
@inline export function pairsU(L: Layer): bool {
  return PAIRED && L.uWithinRowLimit != 0;
}

/** Bytes of the row pairs (packRows) of `columns` columns of `units` units' rows: an i64 per column for each of
 * the two pairs of each unit. */
export function pairedBytes(units: i32, columns: i32): usize {
  return (<usize>units * <usize>columns) << 4;
}

/**
 * Copies the first `columns` columns of a layer's matrix (each of `units` units' rows i, f, g, o of `pad` weights,
 * unit-major: W or U; i8 in a layer with int8 weights, i16 otherwise) into `pairs` as each unit's row pairs (i, f)
 * and (g, o): `columns` i64 each, column c being w_a[c] + w_b[c] 2^32, at c, or with `lanes` at lanePosition(c,
 * pad). Returns `pairs`.
 */
export function packRows(L: Layer, matrix: usize, units: i32, pad: i32, columns: i32, pairs: usize, lanes: bool): usize {
  return RUNS_INT8 && (!RUNS_INT16 || L.int8)
    ? packRowsOf<i8>(matrix, units, pad, columns, pairs, lanes)
    : packRowsOf<i16>(matrix, units, pad, columns, pairs, lanes);
}

function packRowsOf<T>(matrix: usize, units: i32, pad: i32, columns: i32, pairs: usize, lanes: bool): usize {
  const rowElements = <usize>pad;
  const pairCount = <usize>units << 1;
  for (let p: usize = 0; p < pairCount; p++) {
    const a = matrix + p * (rowElements << 1) * sizeof<T>();
    const out = pairs + p * (<usize>columns << 3);
    for (let c: usize = 0; c < <usize>columns; c++) {
      const at = lanes ? <usize>lanePosition(<i32>c, pad) : c;
      store<i64>(out + (at << 3), <i64>load<T>(a + c * sizeof<T>()) + (<i64>load<T>(a + (rowElements + c) * sizeof<T>()) << 32));
    }
  }
  return pairs;
}

/** Where column c of a row of `pad` columns goes in a lane-ordered pair (packRows with `lanes`): each 128-column
 * chunk's lane-chunks one after the other (lane l's columns c with c mod 8 in {2 l, 2 l + 1}, in order). */
function lanePosition(c: i32, pad: i32): i32 {
  const base = c & ~(LANE_CHUNK_COLUMNS - 1);
  const vectors = min(LANE_CHUNK_COLUMNS, pad - base) >> 3;
  return base + ((c >> 1) & 3) * 2 * vectors + (((c & (LANE_CHUNK_COLUMNS - 1)) >> 3) << 1) + (c & 1);
}

/**
 * W x and U h of the `open` units listed at `active` into sums (SUMS_BYTES each, in the order of the list): x is the
 * layer input (i16, padded with zeros); with `nnz` >= 0 only the columns listed at `cols` are nonzero and only
 * they are read.
 */
export function gateSums(L: Layer, st: usize, active: usize, x: usize, cols: usize, nnz: i32, open: i32, sums: usize): void {
  if (open == 0) return;
  if (RUNS_INT8 && (!RUNS_INT16 || L.int8)) gateSumsOf<i8>(L, st, active, x, cols, nnz, open, sums);
  else gateSumsOf<i16>(L, st, active, x, cols, nnz, open, sums);
}

/** gateSums for a layer whose weights are T (i16, or i8 with int8 weights). */
@inline function gateSumsOf<T>(L: Layer, st: usize, active: usize, x: usize, cols: usize, nnz: i32, open: i32, sums: usize): void {
  // W x first: these store their sums and zero the U h ones, which the U h sums add to (stores, not memory.fill,
  // which an interpreter, and wasmtime's fuel, charges per byte); the SIMD build's rowSums stores its first chunk,
  // so it zeroes nothing
  if (FULL_BUILD && nnz >= 0) sparseSums<T>(L.W, <usize>L.inputPad * sizeof<T>(), x, cols, nnz, active, open, sums);
  else if (ASC_FEATURE_SIMD && L.inputSize == 1 && L.hiddenPad <= LANE_CHUNK_COLUMNS) {
    oneColumnSimd<T>(L, x, st + <usize>L.hOff, active, open, sums);
    return;
  } else if (L.inputSize == 1) oneColumnSums<T>(L.W, x, active, open, sums);
  else if (!ASC_FEATURE_SIMD && !isDefined(PHASOR_MCU) && L.inputPad == 8) narrowSums<T>(L.W, x, L.inputSize, active, open, sums);
  else {
    if (!ASC_FEATURE_SIMD) for (let out = sums, end = sums + <usize>open * SUMS_BYTES; out < end; out += 16) zero16(out);
    if (pairsW(L)) {
      rowSums<i64, i64>(L.wPairs, <usize>L.inputPad << 3, x, L.inputSize, active, open, sums, 0);
      unpackPairs(sums, open);
    } else {
      rowSums<T, i64>(L.W, <usize>L.inputPad * sizeof<T>(), x, L.inputSize, active, open, sums, 0);
    }
  }
  const h = st + <usize>L.hOff;
  if (pairsU(L)) {
    rowSums<i64, i64>(L.uPairs, <usize>L.hiddenPad << 3, h, L.hiddenSize, active, open, sums + U_SUMS, 0);
    unpackPairs(sums + U_SUMS, open);
  } else if (PAIRED) {
    lanePairSums(L.uPairs, L.hiddenPad, h, active, open, sums + U_SUMS);
  } else {
    rowSums<T, i64>(L.U, <usize>L.hiddenPad * sizeof<T>(), h, L.hiddenSize, active, open, sums + U_SUMS, MCU_PAIRED ? L.uPairs : 0);
  }
}

/**
 * U h by row pairs where the rows are bounded only lane-chunk by lane-chunk (the scalar library builds): the pairs
 * are lane-ordered (packRows with `lanes`), and each piece of a lane-chunk (32, 8 or 2 of its columns) is one pair
 * sum A + B 2^32 with |A|, |B| < 2^31, split (as unpackPairs does) and added to the i64 row sums at once. `pad`
 * columns, each pair pad i64.
 */
function lanePairSums(pairs: usize, pad: i32, v: usize, active: usize, open: i32, sums: usize): void {
  const pairBytes = <usize>pad << 3;
  for (let base = 0; base < pad; base += LANE_CHUNK_COLUMNS) {
    const vectors = min(LANE_CHUNK_COLUMNS, pad - base) >> 3;
    for (let lane = 0; lane < 4; lane++) {
      // the lane-chunk's columns base + 2 lane + 8 m and the next, m < vectors, at base + 2 vectors lane + 2 m
      const column = base + 2 * lane;
      const at = base + 2 * vectors * lane;
      let m = 0;
      if (vectors == 16) {
        lanePiece32(pairs, pairBytes, v, column, at, active, open, sums);
        m = 16;
      }
      for (; m + 4 <= vectors; m += 4) lanePiece8(pairs, pairBytes, v, column + 8 * m, at + 2 * m, active, open, sums);
      for (; m < vectors; m++) lanePiece2(pairs, pairBytes, v, column + 8 * m, at + 2 * m, active, open, sums);
    }
  }
}

function lanePiece32(pairs: usize, pairBytes: usize, v: usize, column: i32, at: i32, active: usize, open: i32, sums: usize): void {
  lanePiece(32, pairs, pairBytes, v, column, at, active, open, sums);
}

function lanePiece8(pairs: usize, pairBytes: usize, v: usize, column: i32, at: i32, active: usize, open: i32, sums: usize): void {
  lanePiece(8, pairs, pairBytes, v, column, at, active, open, sums);
}

function lanePiece2(pairs: usize, pairBytes: usize, v: usize, column: i32, at: i32, active: usize, open: i32, sums: usize): void {
  lanePiece(2, pairs, pairBytes, v, column, at, active, open, sums);
}

/**
 * `columns` (32, 8 or 2) columns of one lane-chunk: v at columns column + 8 m and column + 8 m + 1 (in locals), the
 * pairs' weights from position `at` on, one after the other; each open unit's two pair sums split into its four
 * U h sums. Inlined into lanePiece32, lanePiece8 and lanePiece2, where `columns` is a constant.
 */
@inline function lanePiece(columns: i32, pairs: usize, pairBytes: usize, v: usize, column: i32, at: i32, active: usize, open: i32, sums: usize): void {
  const vp = v + (<usize>column << 1);
  const v0 = <i64>load<i16>(vp, 0);
  const v1 = <i64>load<i16>(vp, 2);
  const v2 = columns >= 8 ? <i64>load<i16>(vp, 16) : <i64>0;
  const v3 = columns >= 8 ? <i64>load<i16>(vp, 18) : <i64>0;
  const v4 = columns >= 8 ? <i64>load<i16>(vp, 32) : <i64>0;
  const v5 = columns >= 8 ? <i64>load<i16>(vp, 34) : <i64>0;
  const v6 = columns >= 8 ? <i64>load<i16>(vp, 48) : <i64>0;
  const v7 = columns >= 8 ? <i64>load<i16>(vp, 50) : <i64>0;
  const v8 = columns == 32 ? <i64>load<i16>(vp, 64) : <i64>0;
  const v9 = columns == 32 ? <i64>load<i16>(vp, 66) : <i64>0;
  const v10 = columns == 32 ? <i64>load<i16>(vp, 80) : <i64>0;
  const v11 = columns == 32 ? <i64>load<i16>(vp, 82) : <i64>0;
  const v12 = columns == 32 ? <i64>load<i16>(vp, 96) : <i64>0;
  const v13 = columns == 32 ? <i64>load<i16>(vp, 98) : <i64>0;
  const v14 = columns == 32 ? <i64>load<i16>(vp, 112) : <i64>0;
  const v15 = columns == 32 ? <i64>load<i16>(vp, 114) : <i64>0;
  const v16 = columns == 32 ? <i64>load<i16>(vp, 128) : <i64>0;
  const v17 = columns == 32 ? <i64>load<i16>(vp, 130) : <i64>0;
  const v18 = columns == 32 ? <i64>load<i16>(vp, 144) : <i64>0;
  const v19 = columns == 32 ? <i64>load<i16>(vp, 146) : <i64>0;
  const v20 = columns == 32 ? <i64>load<i16>(vp, 160) : <i64>0;
  const v21 = columns == 32 ? <i64>load<i16>(vp, 162) : <i64>0;
  const v22 = columns == 32 ? <i64>load<i16>(vp, 176) : <i64>0;
  const v23 = columns == 32 ? <i64>load<i16>(vp, 178) : <i64>0;
  const v24 = columns == 32 ? <i64>load<i16>(vp, 192) : <i64>0;
  const v25 = columns == 32 ? <i64>load<i16>(vp, 194) : <i64>0;
  const v26 = columns == 32 ? <i64>load<i16>(vp, 208) : <i64>0;
  const v27 = columns == 32 ? <i64>load<i16>(vp, 210) : <i64>0;
  const v28 = columns == 32 ? <i64>load<i16>(vp, 224) : <i64>0;
  const v29 = columns == 32 ? <i64>load<i16>(vp, 226) : <i64>0;
  const v30 = columns == 32 ? <i64>load<i16>(vp, 240) : <i64>0;
  const v31 = columns == 32 ? <i64>load<i16>(vp, 242) : <i64>0;
  const unitBytes = pairBytes << 1;
  const start = <usize>at << 3;
  let out = sums;
  const end = sums + <usize>open * SUMS_BYTES;
  do {
    const row = pairs + <usize>load<i32>(active) * unitBytes + start;
    addPair(out, rowSum<i64, i64>(columns, row, v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12, v13, v14, v15, v16, v17, v18, v19, v20, v21, v22, v23, v24, v25, v26, v27, v28, v29, v30, v31));
    addPair(out + 16, rowSum<i64, i64>(columns, row + pairBytes, v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12, v13, v14, v15, v16, v17, v18, v19, v20, v21, v22, v23, v24, v25, v26, v27, v28, v29, v30, v31));
    out += SUMS_BYTES;
    active += 4;
  } while (out < end);
}

/** A pair sum A + B 2^32 (|A|, |B| < 2^31) added to the row sums at `at` (A) and at + 8 (B). */
@inline function addPair(at: usize, p: i64): void {
  const a = <i64><i32>p;
  store<i64>(at, load<i64>(at) + a);
  store<i64>(at, load<i64>(at, 8) + ((p - a) >> 32), 8);
}

/** A unit's U h sums before the first column (the SIMD build's rowSums stores its first chunk instead). */
@inline function startU(unitSums: usize): void {
  if (ASC_FEATURE_SIMD) return;
  zero16(unitSums + U_SUMS);
  zero16(unitSums + U_SUMS + 16);
}

/** 16 bytes of sums set to 0: one v128 store where there is SIMD. */
@inline function zero16(at: usize): void {
  if (ASC_FEATURE_SIMD) zero16Simd(at);
  else {
    store<i64>(at, 0);
    store<i64>(at, 0, 8);
  }
}

/**
 * Each open unit's two pair sums at `sums` + SUMS_BYTES a (+ 8 for the second pair), P = A + B 2^32 of rows A and B
 * (packRows), as the four row sums there, i64 each. |A| and |B| are below 2^31 (ROW_L1_LIMIT), so P is exact in
 * i64, A is its low 32 bits read as signed and B is (P - A) / 2^32.
 */
function unpackPairs(sums: usize, open: i32): void {
  for (let out = sums, end = sums + <usize>open * SUMS_BYTES; out < end; out += SUMS_BYTES) {
    const p0 = load<i64>(out);
    const p1 = load<i64>(out, 8);
    const a0 = <i64><i32>p0;
    const a1 = <i64><i32>p1;
    store<i64>(out, a0);
    store<i64>(out, (p0 - a0) >> 32, 8);
    store<i64>(out, a1, 16);
    store<i64>(out, (p1 - a1) >> 32, 24);
  }
}

/**
 * Each open unit's 4 rows of `matrix` (unit-major: unit j's rows i, f, g, o from 4 j rowBytes, each rowBytes long)
 * times v[0..n), added to the i64 sums at sums + SUMS_BYTES a + 8 g (W = i16 or i8, A = i64; the SIMD build stores
 * them, at its first chunk). Or, in the scalar library builds, each open unit's 2 row pairs (packRows) into i64
 * pair sums at sums + SUMS_BYTES a + 8 p (W = i64, A = i64; rowBytes is then a pair's bytes; unpackPairs then
 * splits them). In the microcontroller builds `pairs`, when not 0, holds the same rows' first n & ~31 columns as
 * row pairs (packRows), the only 32-column chunks there; rows without them are summed 16 columns at a time.
 */
function rowSums<W, A>(matrix: usize, rowBytes: usize, v: usize, n: i32, active: usize, open: i32, sums: usize, pairs: usize): void {
  if (ASC_FEATURE_SIMD) {
    const padded = <i32>(rowBytes / sizeof<W>());
    for (let from = 0; from < padded; from += LANE_CHUNK_COLUMNS) {
      const vectors = min(16, (padded - from) >> 3);
      chunkSimd<W>(matrix, rowBytes, v, from, vectors, active, open, sums, false, 0, 0, false);
    }
  } else {
    let from = 0;
    if (!MCU_PAIRED) for (; from + 32 <= n; from += 32) chunk32<W, A>(matrix, rowBytes, v, from, active, open, sums);
    else if (pairs) for (const pairBytes = <usize>(n & ~31) << 3; from + 32 <= n; from += 32) chunk32<W, A>(pairs, pairBytes, v, from, active, open, sums);
    else for (; from + 16 <= n; from += 16) chunk16<W, A>(matrix, rowBytes, v, from, active, open, sums);
    // the library's scalar builds sum 9 to 16 of the last columns in one pass rather than two (each pass costs its
    // loop over the units: at H=110 V8 spent two thirds of a 32-column pass's time on the two 8-column ones); the
    // row's padding to a multiple of 8 holds the columns past n
    if (PAIRED && n - from > 8) {
      chunk16<W, A>(matrix, rowBytes, v, from, active, open, sums);
      from += 16;
    }
    // the last columns 8 at a time, up to the row's padding (zero weights): never past the row's end
    for (; from < n; from += 8) chunk8<W, A>(matrix, rowBytes, v, from, active, open, sums);
  }
}

/** One row's (or pair's) first `columns` (32 or 16) columns from `row` times v0..v31: one chain of adds, 5 operators
 * a term (the same exact i64 sum in any order). Written out rather than as row8s: a load's offset must be a constant
 * (AS220), and an address added at run time costs operators (7 more a row and chunk, measured). The 32 are one chain,
 * not the first 16 added to the next 16: Binaryen put the second 16 first, and V8 loaded their weights ahead of
 * the first 16 products and spilled them to the stack (a store and a load more a term). */
@inline function rowWide<W, A>(columns: i32, row: usize, v0: A, v1: A, v2: A, v3: A, v4: A, v5: A, v6: A, v7: A, v8: A, v9: A, v10: A, v11: A, v12: A, v13: A, v14: A, v15: A, v16: A, v17: A, v18: A, v19: A, v20: A, v21: A, v22: A, v23: A, v24: A, v25: A, v26: A, v27: A, v28: A, v29: A, v30: A, v31: A): A {
  const low =
    <A>load<W>(row, 0 * sizeof<W>()) * v0 +
    <A>load<W>(row, 1 * sizeof<W>()) * v1 +
    <A>load<W>(row, 2 * sizeof<W>()) * v2 +
    <A>load<W>(row, 3 * sizeof<W>()) * v3 +
    <A>load<W>(row, 4 * sizeof<W>()) * v4 +
    <A>load<W>(row, 5 * sizeof<W>()) * v5 +
    <A>load<W>(row, 6 * sizeof<W>()) * v6 +
    <A>load<W>(row, 7 * sizeof<W>()) * v7 +
    <A>load<W>(row, 8 * sizeof<W>()) * v8 +
    <A>load<W>(row, 9 * sizeof<W>()) * v9 +
    <A>load<W>(row, 10 * sizeof<W>()) * v10 +
    <A>load<W>(row, 11 * sizeof<W>()) * v11 +
    <A>load<W>(row, 12 * sizeof<W>()) * v12 +
    <A>load<W>(row, 13 * sizeof<W>()) * v13 +
    <A>load<W>(row, 14 * sizeof<W>()) * v14 +
    <A>load<W>(row, 15 * sizeof<W>()) * v15;
  if (columns != 32) return low;
  return (
    low +
    <A>load<W>(row, 16 * sizeof<W>()) * v16 +
    <A>load<W>(row, 17 * sizeof<W>()) * v17 +
    <A>load<W>(row, 18 * sizeof<W>()) * v18 +
    <A>load<W>(row, 19 * sizeof<W>()) * v19 +
    <A>load<W>(row, 20 * sizeof<W>()) * v20 +
    <A>load<W>(row, 21 * sizeof<W>()) * v21 +
    <A>load<W>(row, 22 * sizeof<W>()) * v22 +
    <A>load<W>(row, 23 * sizeof<W>()) * v23 +
    <A>load<W>(row, 24 * sizeof<W>()) * v24 +
    <A>load<W>(row, 25 * sizeof<W>()) * v25 +
    <A>load<W>(row, 26 * sizeof<W>()) * v26 +
    <A>load<W>(row, 27 * sizeof<W>()) * v27 +
    <A>load<W>(row, 28 * sizeof<W>()) * v28 +
    <A>load<W>(row, 29 * sizeof<W>()) * v29 +
    <A>load<W>(row, 30 * sizeof<W>()) * v30 +
    <A>load<W>(row, 31 * sizeof<W>()) * v31
  );
}

/**
 * rowSums for the `columns` (32, 16 or 8) columns of v from `from`, v in locals, a unit's rows (W = i16 or i8) or row
 * pairs (W = i64) one after the other, into i64 sums A: four rows or two pairs, 32 or 16 bytes of sums (in a loop
 * in the microcontroller builds, where the module's size counts: unitRows, 32 columns of row pairs or 16 or 8 of
 * rows). Inlined into chunk32, chunk16 (the microcontroller builds with pairs) and chunk8, where `columns` is a
 * constant.
 */
@inline function chunk<W, A>(columns: i32, matrix: usize, rowBytes: usize, v: usize, from: i32, active: usize, open: i32, sums: usize): void {
  const vp = v + (<usize>from << 1);
  const v0 = <A>load<i16>(vp, 0);
  const v1 = <A>load<i16>(vp, 2);
  const v2 = <A>load<i16>(vp, 4);
  const v3 = <A>load<i16>(vp, 6);
  const v4 = <A>load<i16>(vp, 8);
  const v5 = <A>load<i16>(vp, 10);
  const v6 = <A>load<i16>(vp, 12);
  const v7 = <A>load<i16>(vp, 14);
  const v8 = columns >= 16 ? <A>load<i16>(vp, 16) : <A>0;
  const v9 = columns >= 16 ? <A>load<i16>(vp, 18) : <A>0;
  const v10 = columns >= 16 ? <A>load<i16>(vp, 20) : <A>0;
  const v11 = columns >= 16 ? <A>load<i16>(vp, 22) : <A>0;
  const v12 = columns >= 16 ? <A>load<i16>(vp, 24) : <A>0;
  const v13 = columns >= 16 ? <A>load<i16>(vp, 26) : <A>0;
  const v14 = columns >= 16 ? <A>load<i16>(vp, 28) : <A>0;
  const v15 = columns >= 16 ? <A>load<i16>(vp, 30) : <A>0;
  const v16 = columns == 32 ? <A>load<i16>(vp, 32) : <A>0;
  const v17 = columns == 32 ? <A>load<i16>(vp, 34) : <A>0;
  const v18 = columns == 32 ? <A>load<i16>(vp, 36) : <A>0;
  const v19 = columns == 32 ? <A>load<i16>(vp, 38) : <A>0;
  const v20 = columns == 32 ? <A>load<i16>(vp, 40) : <A>0;
  const v21 = columns == 32 ? <A>load<i16>(vp, 42) : <A>0;
  const v22 = columns == 32 ? <A>load<i16>(vp, 44) : <A>0;
  const v23 = columns == 32 ? <A>load<i16>(vp, 46) : <A>0;
  const v24 = columns == 32 ? <A>load<i16>(vp, 48) : <A>0;
  const v25 = columns == 32 ? <A>load<i16>(vp, 50) : <A>0;
  const v26 = columns == 32 ? <A>load<i16>(vp, 52) : <A>0;
  const v27 = columns == 32 ? <A>load<i16>(vp, 54) : <A>0;
  const v28 = columns == 32 ? <A>load<i16>(vp, 56) : <A>0;
  const v29 = columns == 32 ? <A>load<i16>(vp, 58) : <A>0;
  const v30 = columns == 32 ? <A>load<i16>(vp, 60) : <A>0;
  const v31 = columns == 32 ? <A>load<i16>(vp, 62) : <A>0;
  let out = sums;
  const end = sums + <usize>open * SUMS_BYTES;
  if (isDefined(PHASOR_MCU)) {
    unitRows<W, A>(columns, MCU_PAIRED && columns == 32, matrix, rowBytes, from, active, out, end, v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12, v13, v14, v15, v16, v17, v18, v19, v20, v21, v22, v23, v24, v25, v26, v27, v28, v29, v30, v31);
    return;
  }
  const rowsPerUnit = sizeof<W>() == 8 ? 2 : 4;
  const unitBytes = rowBytes * rowsPerUnit;
  const start = <usize>from * sizeof<W>();
  do {
    let row = matrix + <usize>load<i32>(active) * unitBytes + start;
    store<A>(out, load<A>(out) + rowSum<W, A>(columns, row, v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12, v13, v14, v15, v16, v17, v18, v19, v20, v21, v22, v23, v24, v25, v26, v27, v28, v29, v30, v31));
    row += rowBytes;
    store<A>(out, load<A>(out, sizeof<A>()) + rowSum<W, A>(columns, row, v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12, v13, v14, v15, v16, v17, v18, v19, v20, v21, v22, v23, v24, v25, v26, v27, v28, v29, v30, v31), sizeof<A>());
    if (rowsPerUnit == 4) {
      row += rowBytes;
      store<A>(out, load<A>(out, 2 * sizeof<A>()) + rowSum<W, A>(columns, row, v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12, v13, v14, v15, v16, v17, v18, v19, v20, v21, v22, v23, v24, v25, v26, v27, v28, v29, v30, v31), 2 * sizeof<A>());
      row += rowBytes;
      store<A>(out, load<A>(out, 3 * sizeof<A>()) + rowSum<W, A>(columns, row, v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12, v13, v14, v15, v16, v17, v18, v19, v20, v21, v22, v23, v24, v25, v26, v27, v28, v29, v30, v31), 3 * sizeof<A>());
    }
    out += SUMS_BYTES;
    active += 4;
  } while (out < end);
}

/**
 * The microcontroller builds' loop of chunk: each open unit's four rows of W from `from` on (rowBytes apart), each
 * row's sum added to its sum; or with `pairs` its two row pairs (rowBytes a pair), each pair sum split into its two
 * rows' sums at once (addPair: the 32 columns of a row within ROW_L1_LIMIT sum to an exact i32). A unit's four W x
 * or U h sums are 32 bytes from a multiple of 32 (the scratch and sumsOff are 32-aligned, SUMS_BYTES and U_SUMS
 * multiples of 32): the inner loop ends when out reaches the next one.
 */
@inline function unitRows<W, A>(columns: i32, pairs: bool, matrix: usize, rowBytes: usize, from: i32, active: usize, out: usize, end: usize, v0: A, v1: A, v2: A, v3: A, v4: A, v5: A, v6: A, v7: A, v8: A, v9: A, v10: A, v11: A, v12: A, v13: A, v14: A, v15: A, v16: A, v17: A, v18: A, v19: A, v20: A, v21: A, v22: A, v23: A, v24: A, v25: A, v26: A, v27: A, v28: A, v29: A, v30: A, v31: A): void {
  const unitBytes = rowBytes << (pairs ? 1 : 2);
  const start = <usize>from << (pairs ? 3 : alignof<W>());
  do {
    let row = matrix + <usize>load<i32>(active) * unitBytes + start;
    do {
      if (pairs) {
        addPair(out, rowSum<i64, i64>(columns, row, v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12, v13, v14, v15, v16, v17, v18, v19, v20, v21, v22, v23, v24, v25, v26, v27, v28, v29, v30, v31));
        out += 16;
      } else {
        store<A>(out, load<A>(out) + rowSum<W, A>(columns, row, v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12, v13, v14, v15, v16, v17, v18, v19, v20, v21, v22, v23, v24, v25, v26, v27, v28, v29, v30, v31));
        out += sizeof<A>();
      }
      row += rowBytes;
    } while (out & 31);
    out += SUMS_BYTES - 32;
    active += 4;
  } while (out < end);
}

function chunk32<W, A>(matrix: usize, rowBytes: usize, v: usize, from: i32, active: usize, open: i32, sums: usize): void {
  chunk<W, A>(32, matrix, rowBytes, v, from, active, open, sums);
}

function chunk16<W, A>(matrix: usize, rowBytes: usize, v: usize, from: i32, active: usize, open: i32, sums: usize): void {
  chunk<W, A>(16, matrix, rowBytes, v, from, active, open, sums);
}

function chunk8<W, A>(matrix: usize, rowBytes: usize, v: usize, from: i32, active: usize, open: i32, sums: usize): void {
  chunk<W, A>(8, matrix, rowBytes, v, from, active, open, sums);
}

/** One row's (or pair's) first `columns` (32, 16, 8 or 2) columns from `row` times v0..v31. The 16 share rowWide with
 * the 32: a function of their own, its parameters inlined, changed how the 32-column pairs kernel's locals are
 * allocated, 2 operators more a chunk (measured). */
@inline function rowSum<W, A>(columns: i32, row: usize, v0: A, v1: A, v2: A, v3: A, v4: A, v5: A, v6: A, v7: A, v8: A, v9: A, v10: A, v11: A, v12: A, v13: A, v14: A, v15: A, v16: A, v17: A, v18: A, v19: A, v20: A, v21: A, v22: A, v23: A, v24: A, v25: A, v26: A, v27: A, v28: A, v29: A, v30: A, v31: A): A {
  if (columns == 2) return <A>load<W>(row) * v0 + <A>load<W>(row, sizeof<W>()) * v1;
  return columns >= 16 ? rowWide<W, A>(columns, row, v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12, v13, v14, v15, v16, v17, v18, v19, v20, v21, v22, v23, v24, v25, v26, v27, v28, v29, v30, v31) : row8<W, A>(row, v0, v1, v2, v3, v4, v5, v6, v7);
}

/** 8 columns of a row (or pair) from `row` times v0..v7. */
@inline function row8<W, A>(row: usize, v0: A, v1: A, v2: A, v3: A, v4: A, v5: A, v6: A, v7: A): A {
  return (
    <A>load<W>(row, 0 * sizeof<W>()) * v0 +
    <A>load<W>(row, 1 * sizeof<W>()) * v1 +
    <A>load<W>(row, 2 * sizeof<W>()) * v2 +
    <A>load<W>(row, 3 * sizeof<W>()) * v3 +
    <A>load<W>(row, 4 * sizeof<W>()) * v4 +
    <A>load<W>(row, 5 * sizeof<W>()) * v5 +
    <A>load<W>(row, 6 * sizeof<W>()) * v6 +
    <A>load<W>(row, 7 * sizeof<W>()) * v7
  );
}

/** rowSums for a single column (one input): the W x sums, stored, and U h's zeroed. The rows are padded to 8
 * elements, except in the one-page build, whose init compacts the padding out (assembly/mcu.ts, compactRows). */
function oneColumnSums<T>(matrix: usize, v: usize, active: usize, open: i32, sums: usize): void {
  const v0 = <i64>load<i16>(v);
  let out = sums;
  const end = sums + <usize>open * SUMS_BYTES;
  do {
    const row = matrix + <usize>load<i32>(active) * ((PAGE ? 4 : 32) * sizeof<T>());
    store<i64>(out, <i64>load<T>(row) * v0);
    store<i64>(out, <i64>load<T>(row, (PAGE ? 1 : 8) * sizeof<T>()) * v0, 8);
    store<i64>(out, <i64>load<T>(row, (PAGE ? 2 : 16) * sizeof<T>()) * v0, 16);
    store<i64>(out, <i64>load<T>(row, (PAGE ? 3 : 24) * sizeof<T>()) * v0, 24);
    startU(out);
    out += SUMS_BYTES;
    active += 4;
  } while (out < end);
}

/**
 * rowSums for an input of at most 8 columns (rows padded to 8 elements), the W x sums, stored, and U h's zeroed:
 * column by column, the unit's four rows at fixed offsets.
 */
function narrowSums<T>(matrix: usize, v: usize, n: i32, active: usize, open: i32, sums: usize): void {
  let out = sums;
  const end = sums + <usize>open * SUMS_BYTES;
  do {
    let row = matrix + <usize>load<i32>(active) * (32 * sizeof<T>());
    const rowEnd = row + <usize>n * sizeof<T>();
    let at = v;
    let s0: i64 = 0, s1: i64 = 0, s2: i64 = 0, s3: i64 = 0;
    do {
      const x = <i64>load<i16>(at);
      s0 += <i64>load<T>(row) * x;
      s1 += <i64>load<T>(row, 8 * sizeof<T>()) * x;
      s2 += <i64>load<T>(row, 16 * sizeof<T>()) * x;
      s3 += <i64>load<T>(row, 24 * sizeof<T>()) * x;
      row += sizeof<T>();
      at += 2;
    } while (row < rowEnd);
    store<i64>(out, s0);
    store<i64>(out, s1, 8);
    store<i64>(out, s2, 16);
    store<i64>(out, s3, 24);
    startU(out);
    out += SUMS_BYTES;
    active += 4;
  } while (out < end);
}

/** rowSums for a sparse v, the W x sums, stored, and U h's zeroed: only the `count` columns listed at cols (i32)
 * are read. */
function sparseSums<T>(matrix: usize, rowBytes: usize, v: usize, cols: usize, count: i32, active: usize, open: i32, sums: usize): void {
  const unitBytes = rowBytes << 2;
  for (let a = 0; a < open; a++) {
    const rows = matrix + <usize>load<i32>(active + (<usize>a << 2)) * unitBytes;
    let s0: i64 = 0, s1: i64 = 0, s2: i64 = 0, s3: i64 = 0;
    for (let k = 0; k < count; k++) {
      const c = <usize>load<i32>(cols + (<usize>k << 2));
      const x = <i64>load<i16>(v + (c << 1));
      const r = rows + c * sizeof<T>();
      s0 += <i64>load<T>(r) * x;
      s1 += <i64>load<T>(r + rowBytes) * x;
      s2 += <i64>load<T>(r + 2 * rowBytes) * x;
      s3 += <i64>load<T>(r + 3 * rowBytes) * x;
    }
    const out = sums + <usize>a * SUMS_BYTES;
    store<i64>(out, s0);
    store<i64>(out, s1, 8);
    store<i64>(out, s2, 16);
    store<i64>(out, s3, 24);
    startU(out);
  }
}

// v128 stays inside the helpers below, only reachable from SIMD branches (toolchain.md, AS103).

@inline function zero16Simd(at: usize): void {
  v128.store(at, i64x2.splat(0));
}

/** Two rows' i32x4 partial sums (lane l of a row sums its columns c with c mod 8 in {2 l, 2 l + 1}: an exact i32, a
 * lane-chunk of contract/plsm.ts) widened to i64 and added across lanes: lane 0 is row a's sum, lane 1 row b's. */
@inline function laneSums(a: v128, b: v128): v128 {
  const wa = i64x2.add(i64x2.extend_low_i32x4_s(a), i64x2.extend_high_i32x4_s(a));
  const wb = i64x2.add(i64x2.extend_low_i32x4_s(b), i64x2.extend_high_i32x4_s(b));
  return i64x2.add(v128.shuffle<i64>(wa, wb, 0, 2), v128.shuffle<i64>(wa, wb, 1, 3));
}

/** A unit's four rows' i32x4 partial sums added across lanes in i32, then widened to i64: lane g of the pair is
 * row g's sum, for rows 0 and 1 (`high` false) or 2 and 3. Exact only where each row's whole sum is an i32 (its sum
 * of |w_q| within ROW_L1_LIMIT, Layer.uWithinRowLimit): 12 x64 instructions a unit where laneSums takes 22. */
@inline function rowSumsExact(s0: v128, s1: v128, s2: v128, s3: v128): v128 {
  const a = i32x4.add(v128.shuffle<i32>(s0, s1, 0, 4, 1, 5), v128.shuffle<i32>(s0, s1, 2, 6, 3, 7));
  const b = i32x4.add(v128.shuffle<i32>(s2, s3, 0, 4, 1, 5), v128.shuffle<i32>(s2, s3, 2, 6, 3, 7));
  return i32x4.add(v128.shuffle<i32>(a, b, 0, 1, 4, 5), v128.shuffle<i32>(a, b, 2, 3, 6, 7));
}

/**
 * rowSums for `vectors` (1 to 16) vectors of 8 columns of v from `from`: each open unit's four rows side by side,
 * each vector of v loaded once for the four (i32x4 partial sums, one per row, the sum starting at the last vector
 * and falling through to the first; int8 weights widened to i16x8 as they load), stored in the sums by the first
 * chunk (`from` 0) and added to them by the next ones, so that nothing zeroes them first. With `oneColumn`
 * (oneColumnSimd) `sums` is the units' sums themselves: each unit's W x, its row of W at 8-element strides times
 * x[0], and its U h are stored, not added. One row at a time, with v's vectors in locals, V8 kept them in registers
 * only by spilling; and it computes a value used in several cases of the switch again in each (a multiply and three
 * adds a vector), so the next unit's row addresses are computed at the end of the loop, where they reach the switch
 * as the loop's variables (measured: docs/RESULTS.md, "The gate sums (session 10)").
 */
@inline function chunkSimd<T>(matrix: usize, rowBytes: usize, v: usize, from: i32, vectors: i32, active: usize, open: i32, sums: usize, oneColumn: bool, W: usize, x: usize, rowExact: bool): void {
  const vp = v + (<usize>from << 1);
  const unitBytes = rowBytes << 2;
  const start = <usize>from * sizeof<T>();
  const x0 = oneColumn ? <i64>load<i16>(x) : 0;
  let out = sums;
  const end = sums + <usize>open * SUMS_BYTES;
  let r0 = matrix + <usize>load<i32>(active) * unitBytes + start;
  let r1 = r0 + rowBytes;
  let r2 = r1 + rowBytes;
  let r3 = r2 + rowBytes;
  let w = oneColumn ? W + <usize>load<i32>(active) * (32 * sizeof<T>()) : 0;
  while (true) {
    if (oneColumn) {
      store<i64>(out, <i64>load<T>(w) * x0);
      store<i64>(out, <i64>load<T>(w, 8 * sizeof<T>()) * x0, 8);
      store<i64>(out, <i64>load<T>(w, 16 * sizeof<T>()) * x0, 16);
      store<i64>(out, <i64>load<T>(w, 24 * sizeof<T>()) * x0, 24);
    }
    let s0 = i32x4.splat(0);
    let s1 = i32x4.splat(0);
    let s2 = i32x4.splat(0);
    let s3 = i32x4.splat(0);
    let h: v128;
    switch (vectors) {
    case 16:
      h = v128.load(vp, 240);
      s0 = i32x4.add(s0, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r0, 120) : v128.load(r0, 240), h));
      s1 = i32x4.add(s1, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r1, 120) : v128.load(r1, 240), h));
      s2 = i32x4.add(s2, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r2, 120) : v128.load(r2, 240), h));
      s3 = i32x4.add(s3, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r3, 120) : v128.load(r3, 240), h));
    case 15:
      h = v128.load(vp, 224);
      s0 = i32x4.add(s0, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r0, 112) : v128.load(r0, 224), h));
      s1 = i32x4.add(s1, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r1, 112) : v128.load(r1, 224), h));
      s2 = i32x4.add(s2, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r2, 112) : v128.load(r2, 224), h));
      s3 = i32x4.add(s3, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r3, 112) : v128.load(r3, 224), h));
    case 14:
      h = v128.load(vp, 208);
      s0 = i32x4.add(s0, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r0, 104) : v128.load(r0, 208), h));
      s1 = i32x4.add(s1, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r1, 104) : v128.load(r1, 208), h));
      s2 = i32x4.add(s2, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r2, 104) : v128.load(r2, 208), h));
      s3 = i32x4.add(s3, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r3, 104) : v128.load(r3, 208), h));
    case 13:
      h = v128.load(vp, 192);
      s0 = i32x4.add(s0, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r0, 96) : v128.load(r0, 192), h));
      s1 = i32x4.add(s1, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r1, 96) : v128.load(r1, 192), h));
      s2 = i32x4.add(s2, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r2, 96) : v128.load(r2, 192), h));
      s3 = i32x4.add(s3, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r3, 96) : v128.load(r3, 192), h));
    case 12:
      h = v128.load(vp, 176);
      s0 = i32x4.add(s0, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r0, 88) : v128.load(r0, 176), h));
      s1 = i32x4.add(s1, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r1, 88) : v128.load(r1, 176), h));
      s2 = i32x4.add(s2, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r2, 88) : v128.load(r2, 176), h));
      s3 = i32x4.add(s3, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r3, 88) : v128.load(r3, 176), h));
    case 11:
      h = v128.load(vp, 160);
      s0 = i32x4.add(s0, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r0, 80) : v128.load(r0, 160), h));
      s1 = i32x4.add(s1, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r1, 80) : v128.load(r1, 160), h));
      s2 = i32x4.add(s2, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r2, 80) : v128.load(r2, 160), h));
      s3 = i32x4.add(s3, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r3, 80) : v128.load(r3, 160), h));
    case 10:
      h = v128.load(vp, 144);
      s0 = i32x4.add(s0, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r0, 72) : v128.load(r0, 144), h));
      s1 = i32x4.add(s1, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r1, 72) : v128.load(r1, 144), h));
      s2 = i32x4.add(s2, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r2, 72) : v128.load(r2, 144), h));
      s3 = i32x4.add(s3, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r3, 72) : v128.load(r3, 144), h));
    case 9:
      h = v128.load(vp, 128);
      s0 = i32x4.add(s0, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r0, 64) : v128.load(r0, 128), h));
      s1 = i32x4.add(s1, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r1, 64) : v128.load(r1, 128), h));
      s2 = i32x4.add(s2, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r2, 64) : v128.load(r2, 128), h));
      s3 = i32x4.add(s3, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r3, 64) : v128.load(r3, 128), h));
    case 8:
      h = v128.load(vp, 112);
      s0 = i32x4.add(s0, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r0, 56) : v128.load(r0, 112), h));
      s1 = i32x4.add(s1, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r1, 56) : v128.load(r1, 112), h));
      s2 = i32x4.add(s2, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r2, 56) : v128.load(r2, 112), h));
      s3 = i32x4.add(s3, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r3, 56) : v128.load(r3, 112), h));
    case 7:
      h = v128.load(vp, 96);
      s0 = i32x4.add(s0, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r0, 48) : v128.load(r0, 96), h));
      s1 = i32x4.add(s1, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r1, 48) : v128.load(r1, 96), h));
      s2 = i32x4.add(s2, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r2, 48) : v128.load(r2, 96), h));
      s3 = i32x4.add(s3, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r3, 48) : v128.load(r3, 96), h));
    case 6:
      h = v128.load(vp, 80);
      s0 = i32x4.add(s0, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r0, 40) : v128.load(r0, 80), h));
      s1 = i32x4.add(s1, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r1, 40) : v128.load(r1, 80), h));
      s2 = i32x4.add(s2, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r2, 40) : v128.load(r2, 80), h));
      s3 = i32x4.add(s3, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r3, 40) : v128.load(r3, 80), h));
    case 5:
      h = v128.load(vp, 64);
      s0 = i32x4.add(s0, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r0, 32) : v128.load(r0, 64), h));
      s1 = i32x4.add(s1, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r1, 32) : v128.load(r1, 64), h));
      s2 = i32x4.add(s2, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r2, 32) : v128.load(r2, 64), h));
      s3 = i32x4.add(s3, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r3, 32) : v128.load(r3, 64), h));
    case 4:
      h = v128.load(vp, 48);
      s0 = i32x4.add(s0, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r0, 24) : v128.load(r0, 48), h));
      s1 = i32x4.add(s1, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r1, 24) : v128.load(r1, 48), h));
      s2 = i32x4.add(s2, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r2, 24) : v128.load(r2, 48), h));
      s3 = i32x4.add(s3, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r3, 24) : v128.load(r3, 48), h));
    case 3:
      h = v128.load(vp, 32);
      s0 = i32x4.add(s0, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r0, 16) : v128.load(r0, 32), h));
      s1 = i32x4.add(s1, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r1, 16) : v128.load(r1, 32), h));
      s2 = i32x4.add(s2, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r2, 16) : v128.load(r2, 32), h));
      s3 = i32x4.add(s3, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r3, 16) : v128.load(r3, 32), h));
    case 2:
      h = v128.load(vp, 16);
      s0 = i32x4.add(s0, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r0, 8) : v128.load(r0, 16), h));
      s1 = i32x4.add(s1, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r1, 8) : v128.load(r1, 16), h));
      s2 = i32x4.add(s2, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r2, 8) : v128.load(r2, 16), h));
      s3 = i32x4.add(s3, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r3, 8) : v128.load(r3, 16), h));
    case 1:
      h = v128.load(vp, 0);
      s0 = i32x4.add(s0, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r0, 0) : v128.load(r0, 0), h));
      s1 = i32x4.add(s1, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r1, 0) : v128.load(r1, 0), h));
      s2 = i32x4.add(s2, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r2, 0) : v128.load(r2, 0), h));
      s3 = i32x4.add(s3, i32x4.dot_i16x8_s(sizeof<T>() == 1 ? v128.load8x8_s(r3, 0) : v128.load(r3, 0), h));
    }
    if (oneColumn && rowExact) {
      const rows = rowSumsExact(s0, s1, s2, s3);
      v128.store(out, i64x2.extend_low_i32x4_s(rows), U_SUMS);
      v128.store(out, i64x2.extend_high_i32x4_s(rows), U_SUMS + 16);
    } else if (oneColumn) {
      v128.store(out, laneSums(s0, s1), U_SUMS);
      v128.store(out, laneSums(s2, s3), U_SUMS + 16);
    } else if (from == 0) {
      v128.store(out, laneSums(s0, s1));
      v128.store(out, laneSums(s2, s3), 16);
    } else {
      v128.store(out, i64x2.add(v128.load(out), laneSums(s0, s1)));
      v128.store(out, i64x2.add(v128.load(out, 16), laneSums(s2, s3)), 16);
    }
    out += SUMS_BYTES;
    if (out >= end) break;
    active += 4;
    const unit = <usize>load<i32>(active);
    r0 = matrix + unit * unitBytes + start;
    r1 = r0 + rowBytes;
    r2 = r1 + rowBytes;
    r3 = r2 + rowBytes;
    if (oneColumn) w = W + unit * (32 * sizeof<T>());
  }
}

/** gateSums in the SIMD build for one input and at most LANE_CHUNK_COLUMNS units (the paper's model, the streaming
 * benchmark's): each open unit's W x and U h in one pass, both stored, so that no sums are zeroed first, and the
 * units are listed once (oneColumnSums and then rowSums took two passes). */
function oneColumnSimd<T>(L: Layer, x: usize, h: usize, active: usize, open: i32, sums: usize): void {
  const rowBytes = <usize>L.hiddenPad * sizeof<T>();
  const vectors = L.hiddenPad >> 3;
  if (L.uWithinRowLimit) chunkSimd<T>(L.U, rowBytes, h, 0, vectors, active, open, sums, true, L.W, x, true);
  else chunkSimd<T>(L.U, rowBytes, h, 0, vectors, active, open, sums, true, L.W, x, false);
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
