// theta (layout.ts) is the one authoritative copy of the parameters: the host, the optimizer and the stability
// guard all write it directly. Before every forward pass it is packed into the layouts the matrix products want,
// and after every backward pass the gradients are scattered back into theta's order. Both are O(parameters),
// negligible next to the O(parameters x events) of a pass.

import { R_ON_MAX, R_ON_MIN, TAU_MIN, Trainer, TrainLayer, layerOf } from "./layout";

/** Packs every layer's weights, peepholes and time-gate parameters, and the readout, from theta. */
export function packParameters(tr: Trainer): void {
  for (let n = 0; n < tr.layerCount; n++) packLayer(tr, layerOf(tr, n));
  const H = layerOf(tr, tr.layerCount - 1).hiddenSize;
  const Hp = tr.maxHiddenPad;
  for (let o = 0; o < tr.outputSize; o++) {
    const src = tr.theta + (<usize>(tr.offV + o * H) << 2);
    const dst = tr.vPad + (<usize>(o * Hp) << 2);
    for (let j = 0; j < H; j++) store<f32>(dst + (<usize>j << 2), load<f32>(src + (<usize>j << 2)));
    store<f32>(tr.dPad + (<usize>o << 2), load<f32>(tr.theta + (<usize>(tr.offD + o) << 2)));
  }
}

/**
 * Row r = gate * H + unit of [W | U | b] goes to column gate * Hp + unit of wuT (k-major) and to row
 * gate * Hp + unit of wu; padded units keep their zeros.
 */
function packLayer(tr: Trainer, L: TrainLayer): void {
  const I = L.inputSize;
  const H = L.hiddenSize;
  const Hp = L.hiddenPad;
  const G = <usize>L.gateCols;
  const Kp = <usize>L.kPad;
  const theta = tr.theta;
  for (let g = 0; g < 4; g++) {
    for (let j = 0; j < H; j++) {
      const r = g * H + j;
      const col = <usize>(g * Hp + j);
      const wuRow = L.wu + col * Kp * 4;
      // unit j's four gates side by side, k-major (layout.ts, wuUnit)
      const byUnit = L.wuUnit + ((<usize>j * <usize>L.kUsed * 4 + <usize>g) << 2);
      for (let k = 0; k < I; k++) {
        const w = load<f32>(theta + (<usize>(L.offW + r * I + k) << 2));
        store<f32>(L.wuT + (<usize>k * G + col) * 4, w);
        store<f32>(wuRow + (<usize>k << 2), w);
        store<f32>(byUnit + (<usize>k << 4), w);
      }
      for (let k = 0; k < H; k++) {
        const u = load<f32>(theta + (<usize>(L.offU + r * H + k) << 2));
        store<f32>(L.wuT + (<usize>(I + k) * G + col) * 4, u);
        store<f32>(wuRow + (<usize>(I + k) << 2), u);
        store<f32>(byUnit + (<usize>(I + k) << 4), u);
      }
      const bias = load<f32>(theta + (<usize>(L.offB + r) << 2));
      store<f32>(L.wuT + (<usize>(I + H) * G + col) * 4, bias);
      store<f32>(wuRow + (<usize>(I + H) << 2), bias);
      store<f32>(byUnit + (<usize>(I + H) << 4), bias);
    }
  }
  for (let j = 0; j < H; j++) {
    for (let p = 0; p < 3; p++) {
      const value: f32 = L.hasPeephole ? load<f32>(theta + (<usize>(L.offPeep + p * H + j) << 2)) : 0;
      store<f32>(L.peep + (<usize>(p * Hp + j) << 2), value);
    }
    const stored = <f64>load<f32>(theta + (<usize>(L.offTau + j) << 2));
    const tau = L.tauDirect ? stored : Math.exp(stored);
    store<f64>(L.tau + (<usize>j << 3), tau);
    store<f64>(L.invTau + (<usize>j << 3), 1.0 / tau);
    store<f64>(L.shift + (<usize>j << 3), <f64>load<f32>(theta + (<usize>(L.offShift + j) << 2)));
    if (L.trainsROn) store<f64>(L.rOn + (<usize>j << 3), <f64>load<f32>(theta + (<usize>(L.offROn + j) << 2)));
    store<f64>(L.twoOverROn + (<usize>j << 3), 2.0 / load<f64>(L.rOn + (<usize>j << 3)));
  }
}

/**
 * Writes the gradient of every group into grad in theta's order: [W | U | b] from dWU, the per-unit sums of
 * dUnit through the time-gate chain rule (plstm.md section 5: dphi/ds = -1/tau, dphi/dtau = -(t - s)/tau^2 and
 * dphi/d log tau = tau dphi/dtau = -(t - s)/tau; a trained r_on: the sum of dk times dk / d r_on), and the
 * readout's dV, dd.
 */
export function scatterGradient(tr: Trainer): void {
  const grad = tr.grad;
  for (let n = 0; n < tr.layerCount; n++) {
    const L = layerOf(tr, n);
    const I = L.inputSize;
    const H = L.hiddenSize;
    const Hp = L.hiddenPad;
    const Kp = <usize>L.kPad;
    for (let g = 0; g < 4; g++) {
      for (let j = 0; j < H; j++) {
        const r = g * H + j;
        const row = L.dWU + <usize>(g * Hp + j) * Kp * 4;
        for (let k = 0; k < I; k++) store<f32>(grad + (<usize>(L.offW + r * I + k) << 2), load<f32>(row + (<usize>k << 2)));
        for (let k = 0; k < H; k++) store<f32>(grad + (<usize>(L.offU + r * H + k) << 2), load<f32>(row + (<usize>(I + k) << 2)));
        store<f32>(grad + (<usize>(L.offB + r) << 2), load<f32>(row + (<usize>(I + H) << 2)));
      }
    }
    const hp4 = <usize>Hp << 2;
    for (let j = 0; j < H; j++) {
      const at = L.dUnit + (<usize>j << 2);
      if (L.hasPeephole) {
        for (let p = 0; p < 3; p++) store<f32>(grad + (<usize>(L.offPeep + p * H + j) << 2), load<f32>(at + <usize>p * hp4));
      }
      const sumDphi = <f64>load<f32>(at + 3 * hp4);
      const sumDphiCycles = <f64>load<f32>(at + 4 * hp4);
      store<f32>(grad + (<usize>(L.offShift + j) << 2), <f32>(-sumDphi * load<f64>(L.invTau + (<usize>j << 3))));
      const byTau = L.tauDirect ? -sumDphiCycles * load<f64>(L.invTau + (<usize>j << 3)) : -sumDphiCycles;
      store<f32>(grad + (<usize>(L.offTau + j) << 2), <f32>byTau);
      if (L.trainsROn) store<f32>(grad + (<usize>(L.offROn + j) << 2), load<f32>(at + 5 * hp4));
    }
  }
  const H = layerOf(tr, tr.layerCount - 1).hiddenSize;
  const Hp = tr.maxHiddenPad;
  for (let o = 0; o < tr.outputSize; o++) {
    for (let j = 0; j < H; j++) {
      store<f32>(grad + (<usize>(tr.offV + o * H + j) << 2), load<f32>(tr.dV + (<usize>(o * Hp + j) << 2)));
    }
    store<f32>(grad + (<usize>(tr.offD + o) << 2), load<f32>(tr.dD + (<usize>o << 2)));
  }
}

/**
 * Keeps the parameters that have a range inside it after an update: a trained r_on in [R_ON_MIN, R_ON_MAX], a
 * directly learned tau at TAU_MIN or above (plstm.md section 5). One compare per unit, the same in both builds.
 */
export function clipToRanges(tr: Trainer): void {
  const theta = tr.theta;
  for (let n = 0; n < tr.layerCount; n++) {
    const L = layerOf(tr, n);
    for (let j = 0; j < L.hiddenSize; j++) {
      if (L.trainsROn) {
        const at = theta + (<usize>(L.offROn + j) << 2);
        const r = load<f32>(at);
        store<f32>(at, r < R_ON_MIN ? R_ON_MIN : r > R_ON_MAX ? R_ON_MAX : r);
      }
      if (L.tauDirect) {
        const at = theta + (<usize>(L.offTau + j) << 2);
        const tau = load<f32>(at);
        store<f32>(at, tau < TAU_MIN ? TAU_MIN : tau);
      }
    }
  }
}
