// The peephole LSTM candidate and the gated update of plstm.md section 1 for the rows of one time step, after
// the step's matrix product has left W x + U h + b in the gate rows; and its exact derivative for the backward
// pass. Four units per SIMD lane group, or one at a time in the scalar build, with the same operations in the
// same order in both (so both builds give the same floats). Padded units have zero weights and k = 0: they stay 0.

import { sigmoidScalar, sigmoidSimd, tanhScalar, tanhSimd } from "./activation";
import { Trainer, TrainLayer } from "./layout";
import { addRow, openInputGradient, openPreActivations } from "./sparse";

/**
 * Forward, step n: the gate rows become i, f, g, o; writes c~, tanh(c~), the new c and h, and copies h into the
 * previous-h columns of the next step's xh rows. A layer that skips closed units (L.sparse) computes here its
 * open units' pre-activations too, and only those units (sparse.ts); the others keep their state.
 */
export function cellForwardStep(tr: Trainer, L: TrainLayer, n: i32): void {
  const rows = load<i32>(tr.active + (<usize>n << 2));
  const start = load<i32>(tr.rowStart + (<usize>n << 2));
  const nextRows = load<i32>(tr.active + (<usize>(n + 1) << 2));
  const nextStart = load<i32>(tr.rowStart + (<usize>(n + 1) << 2));
  const previousStart = n > 0 ? load<i32>(tr.rowStart + (<usize>(n - 1) << 2)) : 0;
  const Hp = L.hiddenPad;
  const unitBytes = <usize>Hp << 2;
  const gateBytes = <usize>L.gateCols << 2;
  const xhBytes = <usize>L.kPad << 2;
  for (let r = 0; r < rows; r++) {
    const m = <usize>(start + r);
    const before = <usize>(previousStart + r);
    const cPrev = n > 0 ? L.cOut + before * unitBytes : tr.zeros;
    const hPrev = n > 0 ? L.hOut + before * unitBytes : tr.zeros;
    const hOut = L.hOut + m * unitBytes;
    const gates = L.gates + m * gateBytes;
    const at = m * unitBytes;
    if (L.sparse) {
      const open = L.openUnits + at;
      const count = load<i32>(L.openCount + (m << 2));
      memory.copy(L.cOut + at, cPrev, unitBytes);
      memory.copy(hOut, hPrev, unitBytes);
      openPreActivations(L, L.xh + m * xhBytes, gates, open, count);
      if (ASC_FEATURE_SIMD) {
        // four open units per lane group, the last group repeating the row's last open unit where it runs out:
        // every lane reads before any writes, so a repeated unit is written twice with the same values
        for (let q = 0; q < count; q += 4) {
          const last = count - 1;
          cellForwardSimd(L, unitBytes, gates, cPrev, hPrev, at, true, unitAt(open, q), unitAt(open, min(q + 1, last)), unitAt(open, min(q + 2, last)), unitAt(open, min(q + 3, last)));
        }
      } else {
        for (let q = 0; q < count; q++) cellForwardScalar(L, unitBytes, gates, cPrev, hPrev, at, load<i32>(open + (<usize>q << 2)));
      }
    } else if (ASC_FEATURE_SIMD) {
      for (let j = 0; j < Hp; j += 4) cellForwardSimd(L, unitBytes, gates, cPrev, hPrev, at, false, <usize>j << 2, 0, 0, 0);
    } else {
      for (let j = 0; j < Hp; j++) cellForwardScalar(L, unitBytes, gates, cPrev, hPrev, at, j);
    }
    if (r < nextRows) {
      memory.copy(L.xh + <usize>(nextStart + r) * xhBytes + (<usize>L.inputSize << 2), hOut, <usize>L.hiddenSize << 2);
    }
  }
}

/** The byte offset of open unit q of a row's list. */
@inline function unitAt(open: usize, q: i32): usize {
  return <usize>load<i32>(open + (<usize>q << 2)) << 2;
}

// The SIMD cell's four lanes are four units of a row: the adjacent units from byte offset u0 (gathered false), or
// the units at byte offsets u0 .. u3 (gathered: four open units of a row that skips closed ones). `gathered` is a
// constant at every call, so each use compiles to its one kind of access.

@inline function take(row: usize, gathered: bool, u0: usize, u1: usize, u2: usize, u3: usize): v128 {
  if (!gathered) return v128.load(row + u0);
  let v = f32x4.splat(load<f32>(row + u0));
  v = f32x4.replace_lane(v, 1, load<f32>(row + u1));
  v = f32x4.replace_lane(v, 2, load<f32>(row + u2));
  return f32x4.replace_lane(v, 3, load<f32>(row + u3));
}

@inline function put(row: usize, v: v128, gathered: bool, u0: usize, u1: usize, u2: usize, u3: usize): void {
  if (!gathered) {
    v128.store(row + u0, v);
    return;
  }
  store<f32>(row + u0, f32x4.extract_lane(v, 0));
  store<f32>(row + u1, f32x4.extract_lane(v, 1));
  store<f32>(row + u2, f32x4.extract_lane(v, 2));
  store<f32>(row + u3, f32x4.extract_lane(v, 3));
}

/** plstm.md section 1 for four units of one row (take, put); `at` is the row's byte offset in the unit-wide arrays. */
@inline function cellForwardSimd(
  L: TrainLayer, unitBytes: usize, gates: usize, cPrevRow: usize, hPrevRow: usize, at: usize, gathered: bool, u0: usize, u1: usize, u2: usize, u3: usize,
): void {
  const cPrev = take(cPrevRow, gathered, u0, u1, u2, u3);
  const hPrev = take(hPrevRow, gathered, u0, u1, u2, u3);
  const p = L.peep;
  // "i = sigma(W_i x + U_i h + p_i * c + b_i)", f likewise; "g = tanh(W_g x + U_g h + b_g)"
  const i = sigmoidSimd(f32x4.add(take(gates, gathered, u0, u1, u2, u3), f32x4.mul(take(p, gathered, u0, u1, u2, u3), cPrev)));
  const f = sigmoidSimd(f32x4.add(take(gates + unitBytes, gathered, u0, u1, u2, u3), f32x4.mul(take(p + unitBytes, gathered, u0, u1, u2, u3), cPrev)));
  const g = tanhSimd(take(gates + 2 * unitBytes, gathered, u0, u1, u2, u3));
  // "c~ = f * c + i * g"; the output peephole sees c~
  const cc = f32x4.add(f32x4.mul(f, cPrev), f32x4.mul(i, g));
  const o = sigmoidSimd(f32x4.add(take(gates + 3 * unitBytes, gathered, u0, u1, u2, u3), f32x4.mul(take(p + 2 * unitBytes, gathered, u0, u1, u2, u3), cc)));
  const tc = tanhSimd(cc);
  const hc = f32x4.mul(o, tc);
  // gated update "c <- k * c~ + (1 - k) * c", written c + k (c~ - c) so that k = 0 keeps c exactly
  const k = take(L.gateK + at, gathered, u0, u1, u2, u3);
  put(gates, i, gathered, u0, u1, u2, u3);
  put(gates + unitBytes, f, gathered, u0, u1, u2, u3);
  put(gates + 2 * unitBytes, g, gathered, u0, u1, u2, u3);
  put(gates + 3 * unitBytes, o, gathered, u0, u1, u2, u3);
  put(L.cand + at, cc, gathered, u0, u1, u2, u3);
  put(L.tanhCand + at, tc, gathered, u0, u1, u2, u3);
  put(L.cOut + at, f32x4.add(cPrev, f32x4.mul(k, f32x4.sub(cc, cPrev))), gathered, u0, u1, u2, u3);
  put(L.hOut + at, f32x4.add(hPrev, f32x4.mul(k, f32x4.sub(hc, hPrev))), gathered, u0, u1, u2, u3);
}

@inline function cellForwardScalar(L: TrainLayer, unitBytes: usize, gates: usize, cPrevRow: usize, hPrevRow: usize, at: usize, j: i32): void {
  const u = <usize>j << 2;
  const g0 = gates + u;
  const cPrev = load<f32>(cPrevRow + u);
  const hPrev = load<f32>(hPrevRow + u);
  const p = L.peep + u;
  const i = sigmoidScalar(load<f32>(g0) + load<f32>(p) * cPrev);
  const f = sigmoidScalar(load<f32>(g0 + unitBytes) + load<f32>(p + unitBytes) * cPrev);
  const g = tanhScalar(load<f32>(g0 + 2 * unitBytes));
  const cc = f * cPrev + i * g;
  const o = sigmoidScalar(load<f32>(g0 + 3 * unitBytes) + load<f32>(p + 2 * unitBytes) * cc);
  const tc = tanhScalar(cc);
  const hc = o * tc;
  const k = load<f32>(L.gateK + at + u);
  store<f32>(g0, i);
  store<f32>(g0 + unitBytes, f);
  store<f32>(g0 + 2 * unitBytes, g);
  store<f32>(g0 + 3 * unitBytes, o);
  store<f32>(L.cand + at + u, cc);
  store<f32>(L.tanhCand + at + u, tc);
  store<f32>(L.cOut + at + u, cPrev + k * (cc - cPrev));
  store<f32>(L.hOut + at + u, hPrev + k * (hc - hPrev));
}

/**
 * Backward, step n: from the gradient by the new h (carried from step n + 1 plus dhExt) and by the new c
 * (carried), the gradient dz of the four pre-activations (written over the gate rows), the gradient by the
 * previous c (into dcCarry) and the part of the one by the previous h that bypasses the gates, (1 - k) dh (into
 * dhCarry; the caller adds U^T dz), and the per-unit sums for the peepholes and the time gate (dUnit). A layer
 * that skips closed units does so for its open units only, and leaves dz [W | U | b] of each row in tr.dxh (the
 * dense caller's product); a closed unit's carries pass on unchanged (k = 0: dc_prev = dc, dh_prev = dh).
 */
export function cellBackwardStep(tr: Trainer, L: TrainLayer, n: i32): void {
  const rows = load<i32>(tr.active + (<usize>n << 2));
  const start = load<i32>(tr.rowStart + (<usize>n << 2));
  const previousStart = n > 0 ? load<i32>(tr.rowStart + (<usize>(n - 1) << 2)) : 0;
  const Hp = L.hiddenPad;
  const unitBytes = <usize>Hp << 2;
  const gateBytes = <usize>L.gateCols << 2;
  const xhBytes = <usize>L.kPad << 2;
  for (let r = 0; r < rows; r++) {
    const m = <usize>(start + r);
    const before = <usize>(previousStart + r);
    const cPrev = n > 0 ? L.cOut + before * unitBytes : tr.zeros;
    const hPrev = n > 0 ? L.hOut + before * unitBytes : tr.zeros;
    const gates = L.gates + m * gateBytes;
    const at = m * unitBytes;
    const carry = <usize>r * unitBytes;
    if (L.sparse) {
      const open = L.openUnits + at;
      const count = load<i32>(L.openCount + (m << 2));
      // every unit's dh takes the gradient from outside first: a closed unit's carry is then dh itself, (1 - k) dh
      // at k = 0, and an open unit's cell adds zeros to it, which leaves the sum the dense pass forms
      addRow(tr.dhCarry + carry, L.dhExt + at, Hp);
      for (let q = 0; q < count; q++) cellBackwardScalar(tr, L, unitBytes, gates, cPrev, hPrev, at, carry, tr.zeros, load<i32>(open + (<usize>q << 2)));
      openInputGradient(L, gates, open, count, tr.dxh + <usize>r * xhBytes);
    } else if (ASC_FEATURE_SIMD) {
      for (let j = 0; j < Hp; j += 4) cellBackwardSimd(tr, L, unitBytes, gates, cPrev, hPrev, at, carry, j);
    } else {
      for (let j = 0; j < Hp; j++) cellBackwardScalar(tr, L, unitBytes, gates, cPrev, hPrev, at, carry, L.dhExt + at, j);
    }
  }
}

@inline function cellBackwardSimd(
  tr: Trainer, L: TrainLayer, unitBytes: usize, gates: usize, cPrevRow: usize, hPrevRow: usize, at: usize, carry: usize, j: i32,
): void {
  const u = <usize>j << 2;
  const g0 = gates + u;
  const one = f32x4.splat(1.0);
  const i = v128.load(g0);
  const f = v128.load(g0 + unitBytes);
  const g = v128.load(g0 + 2 * unitBytes);
  const o = v128.load(g0 + 3 * unitBytes);
  const cc = v128.load(L.cand + at + u);
  const tc = v128.load(L.tanhCand + at + u);
  const k = v128.load(L.gateK + at + u);
  const cPrev = v128.load(cPrevRow + u);
  const hPrev = v128.load(hPrevRow + u);
  const p = L.peep + u;
  const dh = f32x4.add(v128.load(tr.dhCarry + carry + u), v128.load(L.dhExt + at + u));
  const dc = v128.load(tr.dcCarry + carry + u);
  // c = c + k (c~ - c), h = h + k (h~ - h)
  const dk = f32x4.add(f32x4.mul(dh, f32x4.sub(f32x4.mul(o, tc), hPrev)), f32x4.mul(dc, f32x4.sub(cc, cPrev)));
  const dhc = f32x4.mul(k, dh);
  // h~ = o tanh(c~); o = sigma(... + p_o c~)
  let dcc = f32x4.add(f32x4.mul(k, dc), f32x4.mul(f32x4.mul(dhc, o), f32x4.sub(one, f32x4.mul(tc, tc))));
  const dzo = f32x4.mul(f32x4.mul(f32x4.mul(dhc, tc), o), f32x4.sub(one, o));
  dcc = f32x4.add(dcc, f32x4.mul(dzo, v128.load(p + 2 * unitBytes)));
  // c~ = f c + i g
  const dzi = f32x4.mul(f32x4.mul(f32x4.mul(dcc, g), i), f32x4.sub(one, i));
  const dzf = f32x4.mul(f32x4.mul(f32x4.mul(dcc, cPrev), f), f32x4.sub(one, f));
  const dzg = f32x4.mul(f32x4.mul(dcc, i), f32x4.sub(one, f32x4.mul(g, g)));
  const keep = f32x4.sub(one, k);
  const dcPrev = f32x4.add(
    f32x4.add(f32x4.add(f32x4.mul(keep, dc), f32x4.mul(dcc, f)), f32x4.mul(dzi, v128.load(p))),
    f32x4.mul(dzf, v128.load(p + unitBytes)),
  );
  v128.store(g0, dzi);
  v128.store(g0 + unitBytes, dzf);
  v128.store(g0 + 2 * unitBytes, dzg);
  v128.store(g0 + 3 * unitBytes, dzo);
  v128.store(tr.dcCarry + carry + u, dcPrev);
  v128.store(tr.dhCarry + carry + u, f32x4.mul(keep, dh));
  const dphi = f32x4.mul(dk, v128.load(L.slope + at + u));
  const sums = L.dUnit + u;
  v128.store(sums, f32x4.add(v128.load(sums), f32x4.mul(dzi, cPrev)));
  v128.store(sums + unitBytes, f32x4.add(v128.load(sums + unitBytes), f32x4.mul(dzf, cPrev)));
  v128.store(sums + 2 * unitBytes, f32x4.add(v128.load(sums + 2 * unitBytes), f32x4.mul(dzo, cc)));
  v128.store(sums + 3 * unitBytes, f32x4.add(v128.load(sums + 3 * unitBytes), dphi));
  v128.store(sums + 4 * unitBytes, f32x4.add(v128.load(sums + 4 * unitBytes), f32x4.mul(dphi, v128.load(L.cycles + at + u))));
  v128.store(sums + 5 * unitBytes, f32x4.add(v128.load(sums + 5 * unitBytes), f32x4.mul(dk, v128.load(L.ronSlope + at + u))));
}

/** cellBackwardSimd for unit j; `outside` is the row's gradient from outside the layer (dhExt's row, or zeros). */
@inline function cellBackwardScalar(
  tr: Trainer, L: TrainLayer, unitBytes: usize, gates: usize, cPrevRow: usize, hPrevRow: usize, at: usize, carry: usize, outside: usize, j: i32,
): void {
  const u = <usize>j << 2;
  const g0 = gates + u;
  const i = load<f32>(g0);
  const f = load<f32>(g0 + unitBytes);
  const g = load<f32>(g0 + 2 * unitBytes);
  const o = load<f32>(g0 + 3 * unitBytes);
  const cc = load<f32>(L.cand + at + u);
  const tc = load<f32>(L.tanhCand + at + u);
  const k = load<f32>(L.gateK + at + u);
  const cPrev = load<f32>(cPrevRow + u);
  const hPrev = load<f32>(hPrevRow + u);
  const p = L.peep + u;
  const dh = load<f32>(tr.dhCarry + carry + u) + load<f32>(outside + u);
  const dc = load<f32>(tr.dcCarry + carry + u);
  const dk = dh * (o * tc - hPrev) + dc * (cc - cPrev);
  const dhc = k * dh;
  let dcc = k * dc + (dhc * o) * (1.0 - tc * tc);
  const dzo = ((dhc * tc) * o) * (1.0 - o);
  dcc = dcc + dzo * load<f32>(p + 2 * unitBytes);
  const dzi = ((dcc * g) * i) * (1.0 - i);
  const dzf = ((dcc * cPrev) * f) * (1.0 - f);
  const dzg = (dcc * i) * (1.0 - g * g);
  const keep: f32 = 1.0 - k;
  const dcPrev = ((keep * dc + dcc * f) + dzi * load<f32>(p)) + dzf * load<f32>(p + unitBytes);
  store<f32>(g0, dzi);
  store<f32>(g0 + unitBytes, dzf);
  store<f32>(g0 + 2 * unitBytes, dzg);
  store<f32>(g0 + 3 * unitBytes, dzo);
  store<f32>(tr.dcCarry + carry + u, dcPrev);
  store<f32>(tr.dhCarry + carry + u, keep * dh);
  const dphi = dk * load<f32>(L.slope + at + u);
  const sums = L.dUnit + u;
  store<f32>(sums, load<f32>(sums) + dzi * cPrev);
  store<f32>(sums + unitBytes, load<f32>(sums + unitBytes) + dzf * cPrev);
  store<f32>(sums + 2 * unitBytes, load<f32>(sums + 2 * unitBytes) + dzo * cc);
  store<f32>(sums + 3 * unitBytes, load<f32>(sums + 3 * unitBytes) + dphi);
  store<f32>(sums + 4 * unitBytes, load<f32>(sums + 4 * unitBytes) + dphi * load<f32>(L.cycles + at + u));
  store<f32>(sums + 5 * unitBytes, load<f32>(sums + 5 * unitBytes) + dk * load<f32>(L.ronSlope + at + u));
}
