// One-layer models whose units have given periods and open ratios, every shift 0, and the fixed engine's phase
// arithmetic for them recomputed in BigInt, for the tests that check which units an event updates
// (closed-units-wake-on-time, passed-windows-are-filed-on-time). With every shift 0 and a stream's first event at
// t = 0 every seed is 0, so phase_j(T) = floor(T step_j / 2^32) mod 2^64 (step_j Q0.96, docs/fixed-point.md), open
// while phase_j(T) < r_on_j in Q0.64 (2 halfOn_j 2^32).
import { createEngine, loadModelBytes } from "../../host/engine/create.js";
import { halfOnOf, phaseStep } from "../../host/model/plsm.js";
import { quantize } from "../../host/model/quantize.js";
import { calibrationStreams } from "./engines.js";
import { Rng, randomModel } from "./random.js";

const TWO_64 = 1n << 64n;
export const TWO_96 = 1n << 96n;

export const ceilDiv = (a: bigint, b: bigint) => (a + b - 1n) / b;

/** The model of periods `tau` and open ratios `rOn`, quantized on calibration streams, and its units' phase
 * arithmetic in BigInt. */
export function unitsWithPeriods(seed: number, tau: number[], rOn: number[], name: string) {
  const model = randomModel(new Rng(seed), { inputSize: 1, hidden: [tau.length], peephole: true, rOn: 0.05, outputs: 2, mode: "last" });
  const L = model.layers[0];
  tau.forEach((period, j) => {
    L.tau[j] = period;
    L.shift[j] = 0;
    L.rOn[j] = rOn[j];
  });
  const quantized = quantize(model, calibrationStreams(5, 1), name);
  const ticksLog2 = quantized.plan.ticksLog2;
  /** each unit's step, Q0.96 */
  const steps = tau.map((period) => {
    const { step, low } = phaseStep(period, ticksLog2);
    return (step << 32n) | BigInt(low);
  });
  /** r_on in Q0.32, as the engine compares the phase's high 32 bits */
  const limits = rOn.map((r) => 2n * BigInt(halfOnOf(r)));
  return {
    quantized,
    ticksLog2,
    steps,
    limits,
    /** periods in ticks, floored */
    periods: steps.map((step) => TWO_96 / step),
    /** how many units are open at tick T */
    openAt: (T: bigint) => steps.filter((step, j) => ((T * step) >> 32n) % TWO_64 < limits[j] << 32n).length,
    /** the first tick at which unit j's phase has wrapped n times: T step >= n 2^96 */
    opening: (j: number, n: bigint) => ceilDiv(n * TWO_96, steps[j]),
    /**
     * One event at each of `ticks` (at exactly that tick's time) on the fixed engine, one stream: how many units
     * each event updated (the stream's stats). From event `restoreAt` on, the stream is one restored from a
     * snapshot of the stream so far.
     */
    async updatedAt(ticks: bigint[], simd: boolean, restoreAt = -1): Promise<number[]> {
      const engine = await createEngine(loadModelBytes(quantized.bytes, `${name}.plsm`), { engine: "fixed", simd: simd ? "on" : "off" });
      let stream = engine.createStream();
      const scale = 2 ** -ticksLog2;
      const updated: number[] = [];
      let before = 0;
      for (const [e, T] of ticks.entries()) {
        if (e === restoreAt) {
          const restored = engine.createStream();
          restored.restore(stream.snapshot());
          stream.dispose();
          stream = restored;
        }
        const t = Number(T) * scale;
        if (BigInt(t / scale) !== T) throw new Error(`tick ${T} has no exact time at 2^${ticksLog2} ticks a time unit`);
        stream.push(t, [Math.sin(e)]);
        const now = stream.stats().unitUpdates;
        updated.push(now - before);
        before = now;
      }
      engine.dispose();
      return updated;
    },
  };
}
