/** Small training problems shared by the trainer and guard suites. */
import type { TrainingSample } from "../../host/training/trainer.js";
import { Rng } from "./random.js";

/** Class 1 when the input is positive throughout, class 0 when negative; irregular times. */
export function signProblem(seed: number, count: number): TrainingSample[] {
  const rng = new Rng(seed);
  return Array.from({ length: count }, (_, s) => {
    const n = 8 + rng.int(13);
    const t = new Float64Array(n);
    let now = rng.uniform(0, 20);
    for (let e = 0; e < n; e++) {
      now += rng.uniform(0.2, 1.5);
      t[e] = now;
    }
    const sign = s % 2 === 0 ? 1 : -1;
    return { t, x: Float32Array.from({ length: n }, () => sign * rng.uniform(0.3, 1)), label: sign > 0 ? 1 : 0 };
  });
}
