// One update of theta from grad: SGD with heavy-ball momentum (v <- beta v + g; theta <- theta - lr s v) or Adam
// (Kingma and Ba, with bias correction; its step also times s), after optional clipping of the gradient to a
// global norm. s is the parameter's own learning-rate multiplier (lrScale, 1 unless the host sets it). The step
// scale multiplies the learning rate of this step only: the stability guard caps it per batch. The gradient is
// read, never changed, so it stays the plain batch gradient for whoever reads it next. After the update the
// parameters with a range (a trained r_on, a directly learned tau) are clipped back into it.

import { OPTIMIZER_ADAM, Trainer } from "./layout";
import { clipToRanges } from "./params";

/** Applies one update; returns the gradient's global norm (before clipping). */
export function applyStep(tr: Trainer, scale: f64): f64 {
  const P = tr.paramCount;
  const grad = tr.grad;
  let squares: f64 = 0;
  for (let i = 0; i < P; i++) {
    const g = <f64>load<f32>(grad + (<usize>i << 2));
    squares += g * g;
  }
  const norm = Math.sqrt(squares);
  tr.lastGradNorm = norm;
  const clip = <f32>(tr.clipNorm > 0 && norm > tr.clipNorm ? tr.clipNorm / norm : 1.0);
  tr.stepCount++;
  if (tr.optimizer == OPTIMIZER_ADAM) {
    const t = <f64>tr.stepCount;
    // theta -= lr m / (1 - beta1^t) / (sqrt(v / (1 - beta2^t)) + eps)
    const stepSize = <f32>((tr.lr * scale) / (1.0 - Math.pow(tr.beta1, t)));
    const vScale = <f32>(1.0 / (1.0 - Math.pow(tr.beta2, t)));
    adamUpdate(tr, clip, stepSize, vScale);
  } else {
    momentumUpdate(tr, clip, <f32>(tr.lr * scale));
  }
  clipToRanges(tr);
  return norm;
}

function momentumUpdate(tr: Trainer, clip: f32, lr: f32): void {
  const beta = <f32>tr.beta1;
  const P = tr.paramCount;
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const vBeta = f32x4.splat(beta);
    const vClip = f32x4.splat(clip);
    const vLr = f32x4.splat(lr);
    for (; i + 4 <= P; i += 4) {
      const at = <usize>i << 2;
      const v = f32x4.add(f32x4.mul(vBeta, v128.load(tr.moment1 + at)), f32x4.mul(vClip, v128.load(tr.grad + at)));
      v128.store(tr.moment1 + at, v);
      const step = f32x4.mul(f32x4.mul(vLr, v128.load(tr.lrScale + at)), v);
      v128.store(tr.theta + at, f32x4.sub(v128.load(tr.theta + at), step));
    }
  }
  for (; i < P; i++) {
    const at = <usize>i << 2;
    const v = beta * load<f32>(tr.moment1 + at) + clip * load<f32>(tr.grad + at);
    store<f32>(tr.moment1 + at, v);
    store<f32>(tr.theta + at, load<f32>(tr.theta + at) - lr * load<f32>(tr.lrScale + at) * v);
  }
}

function adamUpdate(tr: Trainer, clip: f32, stepSize: f32, vScale: f32): void {
  const b1 = <f32>tr.beta1;
  const b2 = <f32>tr.beta2;
  const c1: f32 = 1.0 - b1;
  const c2: f32 = 1.0 - b2;
  const eps = <f32>tr.epsilon;
  const P = tr.paramCount;
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i + 4 <= P; i += 4) {
      const at = <usize>i << 2;
      const g = f32x4.mul(f32x4.splat(clip), v128.load(tr.grad + at));
      const m = f32x4.add(f32x4.mul(f32x4.splat(b1), v128.load(tr.moment1 + at)), f32x4.mul(f32x4.splat(c1), g));
      const v = f32x4.add(f32x4.mul(f32x4.splat(b2), v128.load(tr.moment2 + at)), f32x4.mul(f32x4.splat(c2), f32x4.mul(g, g)));
      v128.store(tr.moment1 + at, m);
      v128.store(tr.moment2 + at, v);
      const denominator = f32x4.add(f32x4.sqrt(f32x4.mul(v, f32x4.splat(vScale))), f32x4.splat(eps));
      const step = f32x4.mul(f32x4.splat(stepSize), v128.load(tr.lrScale + at));
      v128.store(tr.theta + at, f32x4.sub(v128.load(tr.theta + at), f32x4.div(f32x4.mul(step, m), denominator)));
    }
  }
  for (; i < P; i++) {
    const at = <usize>i << 2;
    const g = clip * load<f32>(tr.grad + at);
    const m = b1 * load<f32>(tr.moment1 + at) + c1 * g;
    const v = b2 * load<f32>(tr.moment2 + at) + c2 * (g * g);
    store<f32>(tr.moment1 + at, m);
    store<f32>(tr.moment2 + at, v);
    store<f32>(tr.theta + at, load<f32>(tr.theta + at) - (stepSize * load<f32>(tr.lrScale + at) * m) / (Mathf.sqrt(v * vScale) + eps));
  }
}
