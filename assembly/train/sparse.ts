// The matrix products of a pass that skips the units whose time gate is closed (plstm.md section 1: a closed
// gate with no leak, k = 0, keeps the unit's c and h exactly), for cell.ts, which runs the open units' cell. Such
// a pass computes what the dense pass computes at alpha = 0, bit for bit, with only the open (row, unit) pairs:
// timeGateStep lists them per row, ascending.
//
// Why the bits agree: at k = 0 the dense pass writes c and h back unchanged, and its backward pass gives the
// closed pairs a gradient dz of exactly +-0, and moves their carries by +-0. Every sum below runs over the same
// indices in the same order as the dense product it replaces (the pre-activations over k, the gradient by xh
// over the gate columns, the weight gradient over the batch's rows), leaving out only those zero terms; adding
// +-0 to a sum never changes it (up to the sign of a zero). The open units' cell is cell.ts's, the same operations
// per unit as in the dense pass (four gathered units per SIMD lane group, or one at a time).
//
// Inference passes (alpha = 0) take this path always. Training passes take it when the trainer skips closed
// units (Trainer.skipClosed): that is training at alpha = 0, an approximation of the leak alpha = 1e-3 of
// plstm.md section 5, which moves a closed unit by about a thousandth of an open one's step.

import { Trainer, TrainLayer } from "./layout";

/**
 * W x + U h + b of the four gates of each of a row's `count` open units (the list `open`), into their gate
 * columns of the row at `gates`; the row's x, h, 1 are at `xh`.
 */
export function openPreActivations(L: TrainLayer, xh: usize, gates: usize, open: usize, count: i32): void {
  if (ASC_FEATURE_SIMD) {
    // four units at a time; the last group repeats the row's last open unit where it runs out (the same
    // values written twice), since a group costs what one unit alone costs
    for (let q = 0; q < count; q += 4) preActivationsOf4(L, xh, gates, open, q, count - 1);
  } else {
    for (let q = 0; q < count; q++) preActivationsOf1(L, xh, gates, load<i32>(open + (<usize>q << 2)));
  }
}

/**
 * W x + U h + b of the four gates of open units open[q .. q + 3] (open[last] in place of any past `last`), into
 * their gate columns: per unit one f32x4, a lane per gate, summed over k = 0 .. kUsed - 1 in order from 0, as the
 * dense product sums each element.
 */
@inline function preActivationsOf4(L: TrainLayer, xh: usize, gates: usize, open: usize, q: i32, last: i32): void {
  const K = L.kUsed;
  const unitBytes = <usize>K << 4;
  const j0 = load<i32>(open + (<usize>q << 2));
  const j1 = load<i32>(open + (<usize>min(q + 1, last) << 2));
  const j2 = load<i32>(open + (<usize>min(q + 2, last) << 2));
  const j3 = load<i32>(open + (<usize>min(q + 3, last) << 2));
  let w0 = L.wuUnit + <usize>j0 * unitBytes;
  let w1 = L.wuUnit + <usize>j1 * unitBytes;
  let w2 = L.wuUnit + <usize>j2 * unitBytes;
  let w3 = L.wuUnit + <usize>j3 * unitBytes;
  let z0 = f32x4.splat(0), z1 = f32x4.splat(0), z2 = f32x4.splat(0), z3 = f32x4.splat(0);
  let x = xh;
  for (let k = 0; k < K; k++) {
    const s = v128.load32_splat(x);
    z0 = f32x4.add(z0, f32x4.mul(s, v128.load(w0)));
    z1 = f32x4.add(z1, f32x4.mul(s, v128.load(w1)));
    z2 = f32x4.add(z2, f32x4.mul(s, v128.load(w2)));
    z3 = f32x4.add(z3, f32x4.mul(s, v128.load(w3)));
    x += 4;
    w0 += 16;
    w1 += 16;
    w2 += 16;
    w3 += 16;
  }
  storeGates(L, gates, j0, z0);
  storeGates(L, gates, j1, z1);
  storeGates(L, gates, j2, z2);
  storeGates(L, gates, j3, z3);
}

@inline function storeGates(L: TrainLayer, gates: usize, j: i32, z: v128): void {
  const unitBytes = <usize>L.hiddenPad << 2;
  const at = gates + (<usize>j << 2);
  store<f32>(at, f32x4.extract_lane(z, 0));
  store<f32>(at + unitBytes, f32x4.extract_lane(z, 1));
  store<f32>(at + 2 * unitBytes, f32x4.extract_lane(z, 2));
  store<f32>(at + 3 * unitBytes, f32x4.extract_lane(z, 3));
}

/** preActivationsOf4 for one unit j, in f32 scalars (the scalar build). */
@inline function preActivationsOf1(L: TrainLayer, xh: usize, gates: usize, j: i32): void {
  const K = L.kUsed;
  let w = L.wuUnit + <usize>j * (<usize>K << 4);
  let zi: f32 = 0, zf: f32 = 0, zg: f32 = 0, zo: f32 = 0;
  let x = xh;
  for (let k = 0; k < K; k++) {
    const s = load<f32>(x);
    zi += s * load<f32>(w);
    zf += s * load<f32>(w, 4);
    zg += s * load<f32>(w, 8);
    zo += s * load<f32>(w, 12);
    x += 4;
    w += 16;
  }
  const unitBytes = <usize>L.hiddenPad << 2;
  const at = gates + (<usize>j << 2);
  store<f32>(at, zi);
  store<f32>(at + unitBytes, zf);
  store<f32>(at + 2 * unitBytes, zg);
  store<f32>(at + 3 * unitBytes, zo);
}

/** to[0 .. n - 1] += from[0 .. n - 1] (n a multiple of 8) */
@inline export function addRow(to: usize, from: usize, n: i32): void {
  const bytes = <usize>n << 2;
  if (ASC_FEATURE_SIMD) {
    for (let at: usize = 0; at < bytes; at += 16) v128.store(to + at, f32x4.add(v128.load(to + at), v128.load(from + at)));
  } else {
    for (let at: usize = 0; at < bytes; at += 4) store<f32>(to + at, load<f32>(to + at) + load<f32>(from + at));
  }
}

/** dz [W | U | b] of one row: the sum over its open units' gate columns, in ascending column order. */
export function openInputGradient(L: TrainLayer, dz: usize, open: usize, count: i32, out: usize): void {
  const Hp = L.hiddenPad;
  const cols = L.kPad;
  const wuRow = <usize>L.kPad << 2;
  if (ASC_FEATURE_SIMD) {
    for (let col = 0; col < cols; col += 8) {
      let c0 = f32x4.splat(0), c1 = f32x4.splat(0);
      const panel = L.wu + (<usize>col << 2);
      for (let g = 0; g < 4; g++) {
        for (let q = 0; q < count; q++) {
          const gc = <usize>(g * Hp + load<i32>(open + (<usize>q << 2)));
          const s = v128.load32_splat(dz + (gc << 2));
          const w = panel + gc * wuRow;
          c0 = f32x4.add(c0, f32x4.mul(s, v128.load(w)));
          c1 = f32x4.add(c1, f32x4.mul(s, v128.load(w, 16)));
        }
      }
      v128.store(out + (<usize>col << 2), c0);
      v128.store(out + (<usize>col << 2), c1, 16);
    }
  } else {
    for (let col = 0; col < cols; col += 4) {
      let c0: f32 = 0, c1: f32 = 0, c2: f32 = 0, c3: f32 = 0;
      const panel = L.wu + (<usize>col << 2);
      for (let g = 0; g < 4; g++) {
        for (let q = 0; q < count; q++) {
          const gc = <usize>(g * Hp + load<i32>(open + (<usize>q << 2)));
          const s = load<f32>(dz + (gc << 2));
          const w = panel + gc * wuRow;
          c0 += s * load<f32>(w);
          c1 += s * load<f32>(w, 4);
          c2 += s * load<f32>(w, 8);
          c3 += s * load<f32>(w, 12);
        }
      }
      const o = out + (<usize>col << 2);
      store<f32>(o, c0);
      store<f32>(o, c1, 4);
      store<f32>(o, c2, 8);
      store<f32>(o, c3, 12);
    }
  }
}

/** d[W | U | b] = dz^T [x | h | 1] over the open pairs, row by row of the batch in ascending order (backwardLayer's product). */
export function openWeightGradient(tr: Trainer, L: TrainLayer): void {
  const Hp = L.hiddenPad;
  const unitBytes = <usize>Hp << 2;
  const gateBytes = <usize>L.gateCols << 2;
  const xhBytes = <usize>L.kPad << 2;
  const cols = L.kPad;
  memory.fill(L.dWU, 0, <usize>L.gateCols * xhBytes);
  for (let m = 0; m < tr.rows; m++) {
    const dz = L.gates + <usize>m * gateBytes;
    const xh = L.xh + <usize>m * xhBytes;
    const open = L.openUnits + <usize>m * unitBytes;
    const count = load<i32>(L.openCount + (<usize>m << 2));
    for (let q = 0; q < count; q++) {
      const j = load<i32>(open + (<usize>q << 2));
      for (let g = 0; g < 4; g++) {
        const gc = <usize>(g * Hp + j);
        const row = L.dWU + gc * xhBytes;
        if (ASC_FEATURE_SIMD) {
          const s = v128.load32_splat(dz + (gc << 2));
          for (let col = 0; col < cols; col += 4) {
            const at = <usize>col << 2;
            v128.store(row + at, f32x4.add(v128.load(row + at), f32x4.mul(s, v128.load(xh + at))));
          }
        } else {
          const s = load<f32>(dz + (gc << 2));
          for (let col = 0; col < cols; col++) {
            const at = <usize>col << 2;
            store<f32>(row + at, load<f32>(row + at) + s * load<f32>(xh + at));
          }
        }
      }
    }
  }
}
